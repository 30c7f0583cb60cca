"""scripts/build_layers.py without the network: deterministic zips, what is left out of the layer, the ELF guard."""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import stat
import sys
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("build_layers", ROOT / "scripts/build_layers.py")
build_layers = importlib.util.module_from_spec(_spec)
sys.modules["build_layers"] = build_layers  # dataclasses look their module up while the class is created
_spec.loader.exec_module(build_layers)

TREE = {
    "python/pkg/__init__.py": b"from .mod import VALUE\n",
    "python/pkg/mod.py": b"VALUE = 1\n",
    "python/pkg/__pycache__/mod.cpython-313.pyc": b"\xf3\r\r\n\x03\x00\x00\x00bytecode",
    "python/pkg-1.0.dist-info/entry_points.txt": b"[console_scripts]\npkg = pkg:main\n",
    "python/zeta.py": b"",
    "python/a.so": b"\x7fELF not really",
}


def make_tree(root: Path, files: dict[str, bytes], order: list[str] | None = None) -> Path:
    for name in order or list(files):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
    return root


def zip_tree(root: Path, dest: Path) -> str:
    build_layers.write_deterministic_zip(build_layers.tree_files(root), dest)
    return hashlib.sha256(dest.read_bytes()).hexdigest()


# -- deterministic zips --------------------------------------------------------------------------------------


def test_same_files_give_the_same_hash(tmp_path):
    first = make_tree(tmp_path / "one", TREE)
    second = make_tree(tmp_path / "two", TREE, order=sorted(TREE, reverse=True))  # created in another order
    assert zip_tree(first, tmp_path / "one.zip") == zip_tree(second, tmp_path / "two.zip")


def test_mtimes_and_permissions_on_disk_do_not_change_the_hash(tmp_path):
    first = make_tree(tmp_path / "one", TREE)
    second = make_tree(tmp_path / "two", TREE)
    for i, path in enumerate(sorted(p for p in second.rglob("*") if p.is_file())):
        os.utime(path, (1_000_000_000 + i, 1_700_000_000 + i * 7))
        path.chmod([0o600, 0o755, 0o444, 0o640][i % 4])
    (second / "python/pkg").chmod(0o700)
    assert zip_tree(first, tmp_path / "one.zip") == zip_tree(second, tmp_path / "two.zip")


def test_a_content_change_changes_the_hash(tmp_path):
    first = make_tree(tmp_path / "one", TREE)
    second = make_tree(tmp_path / "two", {**TREE, "python/pkg/mod.py": b"VALUE = 2\n"})
    assert zip_tree(first, tmp_path / "one.zip") != zip_tree(second, tmp_path / "two.zip")


def test_a_renamed_or_added_file_changes_the_hash(tmp_path):
    base = zip_tree(make_tree(tmp_path / "base", TREE), tmp_path / "base.zip")
    added = zip_tree(make_tree(tmp_path / "added", {**TREE, "python/new.py": b""}), tmp_path / "added.zip")
    renamed_tree = {("python/zeta2.py" if k == "python/zeta.py" else k): v for k, v in TREE.items()}
    renamed = zip_tree(make_tree(tmp_path / "renamed", renamed_tree), tmp_path / "renamed.zip")
    assert len({base, added, renamed}) == 3


def test_entries_are_sorted_with_directories_and_fixed_metadata(tmp_path):
    dest = tmp_path / "layer.zip"
    zip_tree(make_tree(tmp_path / "tree", TREE), dest)
    with zipfile.ZipFile(dest) as zf:
        infos = zf.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert names[0] == "python/"
        assert "python/pkg/__pycache__/" in names  # bytecode and .dist-info are kept as they are
        assert names.index("python/pkg/") < names.index("python/pkg/__init__.py")
        for info in infos:
            mode = info.external_attr >> 16
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.extra == b""
            assert info.create_system == 3
            if info.is_dir():
                assert mode == stat.S_IFDIR | 0o755
            else:
                assert mode == stat.S_IFREG | 0o644
                assert info.compress_type == zipfile.ZIP_DEFLATED
                assert zf.read(info) == TREE[info.filename]


def test_entry_names_include_every_parent_directory_once():
    assert build_layers.zip_entry_names(["b/c/d.py", "a.py", "b/e.py"]) == ["a.py", "b/", "b/c/", "b/c/d.py", "b/e.py"]


def test_package_reports_sizes_and_hash(tmp_path):
    tree = make_tree(tmp_path / "tree", TREE)
    artifact = build_layers.package(build_layers.tree_files(tree), tmp_path / "layer-x.zip", "layer")
    assert artifact.unzipped == sum(len(v) for v in TREE.values())
    assert artifact.zipped == (tmp_path / "layer-x.zip").stat().st_size
    assert artifact.sha256 == hashlib.sha256((tmp_path / "layer-x.zip").read_bytes()).hexdigest()


def _artifact(name: str, kind: str, mib: float) -> build_layers.Artifact:
    return build_layers.Artifact(name, kind, int(mib * build_layers.MIB), 1, "a" * 64)


ARTIFACTS = [
    _artifact("layer-deps.zip", "layer", 50),
    _artifact("layer-auth.zip", "layer", 14),
    _artifact("layer-tracing.zip", "layer", 21),
    _artifact("layer-agent.zip", "layer", 1),
    _artifact("function-message.zip", "function", 2),
    _artifact("function-authorizer.zip", "function", 0),
    _artifact("function-trace_forwarder.zip", "function", 0),
]


def test_each_function_counts_its_own_layers_and_the_message_function_has_the_budget(capsys):
    sizes = build_layers.size_summary(ARTIFACTS, 60)
    assert sizes["functions_mib"] == {"authorizer": 65, "message": 53, "trace_forwarder": 72}
    assert sizes["message_function_mib"] == 53 and sizes["largest_function_with_layers_mib"] == 72
    assert build_layers.print_report(ARTIFACTS, 53)  # the message function's 53 MiB, not the 86 of all layers
    out = capsys.readouterr().out
    assert "message                          53.0 MiB  deps, agent" in out
    assert "trace_forwarder                  72.0 MiB  deps, tracing, agent" in out
    assert not build_layers.print_report(ARTIFACTS, 52)
    assert "OVER BUDGET" in capsys.readouterr().out


def test_no_mlflow_and_no_cryptography_in_the_message_functions_layers():
    assert build_layers.function_layers("message") == ("deps", "agent")
    environment = build_layers.marker_environment("arm64", "3.13")
    _, layers = build_layers.layer_requirements(environment)
    deps = {p.name for p in layers["deps"]}
    assert not deps & {"mlflow-tracing", "sagemaker-mlflow", "opentelemetry-sdk", "protobuf", "cryptography", "cffi"}
    assert {"mlflow-tracing", "sagemaker-mlflow"} <= {p.name for p in layers["tracing"]}
    assert {p.name for p in layers["auth"]} == {"cryptography", "cffi", "pycparser"}
    assert "tracing" in build_layers.function_layers("trace_forwarder")
    assert "auth" in build_layers.function_layers("authorizer")


def test_the_development_layer_is_reported_outside_the_budget(capsys):
    layers = [_artifact("layer-deps.zip", "layer", 60), _artifact("layer-dev-providers.zip", "dev-layer", 50)]
    layers.append(_artifact("function-message.zip", "function", 0))
    assert build_layers.print_report(layers, 60)
    out = capsys.readouterr().out
    assert "layer-dev-providers.zip" in out
    assert "message function + layers: 60.0 MiB" in out
    assert "development layer (the emulator's only, outside the budget): 50.00 MiB" in out
    assert build_layers.size_summary(layers, 60)["dev_layers_mib"] == 50


def test_the_providers_layer_is_the_message_functions_outside_the_budget_but_inside_the_lambda_limit(capsys):
    artifacts = [*ARTIFACTS, _artifact("layer-providers.zip", "provider-layer", 15)]
    assert build_layers.print_report(artifacts, 53)  # the default deployment's budget holds
    assert "model providers' layer (selected by --providers, outside the budget): 15.0 MiB" in capsys.readouterr().out
    sizes = build_layers.size_summary(artifacts, 53)
    assert sizes["message_function_mib"] == 53 and sizes["functions_mib"]["message"] == 68
    assert sizes["largest_function_with_layers_mib"] == 72  # the trace forwarder's: the authorizer gets no SDK


def test_a_manifest_without_kinds_reads_the_development_layer_by_its_name(tmp_path):
    artifact = {"unzipped": 1, "zipped": 1, "sha256": "0" * 64}
    names = ["layer-agent.zip", "layer-dev-providers.zip", "function-message.zip"]
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": dict.fromkeys(names, artifact)}))
    manifest, artifacts = build_layers.read_manifest(tmp_path)
    assert {a.name: a.kind for a in artifacts} == {
        "layer-agent.zip": "layer",
        "layer-dev-providers.zip": "dev-layer",
        "function-message.zip": "function",
    }
    assert manifest["functions"] == {"message": ["agent"]}  # then every function had every layer


# -- production apart from development -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "development"),
    [
        ("order_agent_dev/__init__.py", True),
        ("order_agent_dev/providers/offline.py", True),
        ("order_agent/local/gateway.py", True),
        ("order_agent/evals/__pycache__/scenarios.cpython-313.pyc", True),
        ("order_agent/cli.py", True),
        ("order_agent/__pycache__/cli.cpython-313.pyc", True),
        ("order_agent/model/offline.py", True),
        ("order_agent/model/scripted.py", True),
        ("order_agent/model/bedrock.py", False),
        ("order_agent/model/__pycache__/bedrock.cpython-313.pyc", False),
        ("order_agent/data/demo.json", False),
        ("order_agent-0.1.0.dist-info/RECORD", False),
        ("langgraph/cli.py", False),  # other packages may name a module so
    ],
)
def test_development_modules(path, development):
    assert build_layers.development_modules([path]) == ([path] if development else [])


@pytest.fixture(scope="module")
def agent_layer(tmp_path_factory) -> dict[str, Path]:
    """The order_agent layer as `make layers` builds it (a wheel of layers/agent, unpacked), without bytecode."""
    work = tmp_path_factory.mktemp("agent-layer")
    build_layers.build_agent(work / "python", work)
    return build_layers.tree_files(work / "python")


def test_the_production_layer_holds_no_development_module(agent_layer):
    assert build_layers.development_modules(agent_layer) == []
    assert not {path.split("/", 1)[0] for path in agent_layer} - {"order_agent", "order_agent-0.1.0.dist-info"}
    # what runs in AWS is there: the handlers' package, the Bedrock provider, migrations, data sets, prompts
    for path in [
        "order_agent/edge/handlers.py",
        "order_agent/model/bedrock.py",
        "order_agent/db/dataset.py",
        "order_agent/db/migrations/0001_orders_domain.sql",
        "order_agent/data/demo.json",
        "order_agent/agent/prompts/common.md",
    ]:
        assert path in agent_layer
    entry_points = agent_layer.get("order_agent-0.1.0.dist-info/entry_points.txt")
    assert entry_points is None or "order_agent_dev" not in entry_points.read_text()


def test_the_build_refuses_a_development_module_in_the_production_layer(tmp_path, monkeypatch):
    source = tmp_path / "root"
    shutil.copytree(ROOT / "layers/agent", source / "layers/agent", ignore=shutil.ignore_patterns("*.egg-info"))
    (source / "layers/agent/src/order_agent/cli.py").write_text("def main(): ...\n")
    monkeypatch.setattr(build_layers, "ROOT", source)
    with pytest.raises(RuntimeError, match=r"development modules in the order_agent layer: order_agent/cli\.py"):
        build_layers.build_agent(tmp_path / "python", tmp_path)


def test_the_dev_providers_layer_holds_the_providers_alone():
    files = build_layers.dev_providers_files()
    assert sorted(files) == [
        "order_agent_dev/__init__.py",
        "order_agent_dev/providers/__init__.py",
        "order_agent_dev/providers/offline.py",
        "order_agent_dev/providers/scripted.py",
    ]
    # what they import is in the layers beside them: order_agent, the deps layer, the standard library
    for name, path in files.items():
        for module in _imported_modules(path):
            assert module.startswith("order_agent_dev.providers") or not module.startswith("order_agent_dev"), name


def _imported_modules(path: Path) -> set[str]:
    """Absolute imports: `import a.b` gives a.b, `from a.b import c` gives a.b."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


# -- declared dependencies -----------------------------------------------------------------------------------

PACKAGES = {  # distribution's pyproject -> (its import package, the locks its pins come from)
    "layers/agent/pyproject.toml": (
        "order_agent",
        ["requirements/runtime.txt", "requirements/layer-tracing.txt", "requirements/providers.txt"],
    ),
    "layers/dev/pyproject.toml": ("order_agent_dev", ["requirements/runtime.txt", "requirements/dev.txt"]),
}


def _project(pyproject: str) -> dict:
    return tomllib.loads((ROOT / pyproject).read_text())["project"]


def _declared(project: dict) -> list[Requirement]:
    extras = [req for reqs in project.get("optional-dependencies", {}).values() for req in reqs]
    return [Requirement(req) for req in [*project["dependencies"], *extras]]


def _locked(locks: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for lock in locks:
        for line in (ROOT / lock).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                name, version = line.split(";", 1)[0].split("==")
                pins[build_layers.canonical_name(name)] = version.strip()
    return pins


@pytest.mark.parametrize("pyproject", sorted(PACKAGES))
def test_declared_ranges_admit_the_locked_pins(pyproject):
    project, (_, locks) = _project(pyproject), PACKAGES[pyproject]
    pins = _locked(locks)
    own = {build_layers.canonical_name(_project(p)["name"]) for p in PACKAGES}
    for req in _declared(project):
        name = build_layers.canonical_name(req.name)
        if name in own:
            continue
        assert name in pins, f"{pyproject}: {req} is pinned in none of {locks}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{pyproject}: {req} excludes {pins[name]}"


# Modules the Lambda Python runtimes provide, imported only when present (SnapStart's runtime hooks).
LAMBDA_RUNTIME_MODULES = {"snapshot_restore_py"}


@pytest.mark.parametrize("pyproject", sorted(PACKAGES))
def test_every_imported_distribution_is_declared(pyproject):
    """Each third-party package the code imports comes from a declared distribution (the development package may
    rely on what the production package declares)."""
    package, _ = PACKAGES[pyproject]
    declared = {build_layers.canonical_name(req.name) for req in _declared(_project(pyproject))}
    if package != "order_agent":
        declared |= {
            build_layers.canonical_name(req.name) for req in _declared(_project("layers/agent/pyproject.toml"))
        }
    distributions = importlib.metadata.packages_distributions()
    source = ROOT / next(p for p in PACKAGES if PACKAGES[p][0] == package).replace("pyproject.toml", "src") / package
    imported = {m.split(".", 1)[0] for path in source.rglob("*.py") for m in _imported_modules(path)}
    third_party = sorted(
        m
        for m in imported
        if m not in sys.stdlib_module_names and not m.startswith("order_agent") and m not in LAMBDA_RUNTIME_MODULES
    )
    assert third_party
    for module in third_party:
        providers = {build_layers.canonical_name(d) for d in distributions.get(module, [])}
        assert providers & declared, f"{pyproject}: `import {module}` (from {sorted(providers)}) is not declared"


# -- what goes into the layer --------------------------------------------------------------------------------


def pins(text: str, arch: str = "arm64", python: str = "3.13") -> list:
    environment = build_layers.marker_environment(arch, python)
    return build_layers.parse_pins(textwrap.dedent(text).splitlines(), "test.txt", environment)


def test_exclusions_match_any_spelling_of_a_name():
    locked = pins(
        """
        # a comment
        Boto3==1.44.5
        python_dateutil==2.9.0.post0
        pyasn1_modules==0.4.2  # inline comment
        PyJWT==2.15.1
        cryptography==50.0.2
        cffi==2.1.1
        """
    )
    excluded = {**build_layers.RUNTIME_PROVIDED, **build_layers.NOT_IMPORTED}
    kept, dropped = build_layers.split_pins(locked, excluded)
    assert [p.name for p in kept] == ["pyjwt", "cryptography", "cffi"]
    assert [p.name for p in dropped] == ["boto3", "python-dateutil", "pyasn1-modules"]
    assert build_layers.stale_exclusions(locked, {"boto3": "", "Not_There": ""}) == ["Not_There"]


def test_the_authorizers_crypto_is_never_excluded():
    excluded = {build_layers.canonical_name(n) for n in [*build_layers.RUNTIME_PROVIDED, *build_layers.NOT_IMPORTED]}
    assert not excluded & {"cryptography", "cffi", "pyjwt"}
    _, layers = build_layers.layer_requirements(build_layers.marker_environment("arm64", "3.13"))
    assert "pyjwt" in {p.name for p in layers["deps"]} and "cryptography" in {p.name for p in layers["auth"]}


def test_markers_are_judged_for_the_target_not_this_host():
    text = """
        only-arm==1.0; platform_machine == "aarch64"
        only-x86==1.0; platform_machine == "x86_64"
        only-old==1.0; python_version < "3.13"
        """
    assert [p.name for p in pins(text, "arm64", "3.13")] == ["only-arm"]
    assert [p.name for p in pins(text, "x86_64", "3.12")] == ["only-x86", "only-old"]


@pytest.mark.parametrize(
    "line", ["requests>=2", "requests", "requests==2.0,<3", "-r other.txt", "pkg @ https://x/y.whl"]
)
def test_only_exact_pins_are_accepted(line):
    with pytest.raises(ValueError):
        pins(line)


def test_a_package_pinned_differently_in_two_locks_is_an_error():
    same = build_layers.merge_pins(pins("pydantic==2.14.3"), pins("Pydantic==2.14.3"))
    assert [p.name for p in same] == ["pydantic"]
    with pytest.raises(ValueError, match="pinned twice"):
        build_layers.merge_pins(pins("pydantic==2.14.3"), pins("pydantic==2.14.4"))


def test_the_real_locks_build_the_intended_layer():
    environment = build_layers.marker_environment("arm64", "3.13")
    locked = build_layers.merge_pins(
        *(build_layers.parse_pins(p.read_text().splitlines(), p.name, environment) for p in build_layers.REQUIREMENTS)
    )
    excluded = {**build_layers.RUNTIME_PROVIDED, **build_layers.NOT_IMPORTED}
    assert build_layers.stale_exclusions(locked, excluded) == []
    kept, _ = build_layers.split_pins(locked, excluded)
    kept_names = {p.name for p in kept}
    assert {
        "mlflow-tracing",
        "sagemaker-mlflow",
        "importlib-metadata",
        "langgraph",
        "cryptography",
        "cffi",
    } <= kept_names
    assert not kept_names & {"mlflow", "mlflow-skinny", "boto3", "botocore", "databricks-sdk"}


def test_a_selected_providers_sdk_joins_the_deps_layer_and_only_then():
    environment = build_layers.marker_environment("arm64", "3.13")
    assert build_layers.provider_pins([], environment) == []
    assert build_layers.provider_pins(["openai"], environment) == []  # httpx, already in runtime.txt
    selected = build_layers.provider_pins(["anthropic"], environment)
    assert {pin.name for pin in selected} == {"anthropic", "jiter"}
    locked = [
        build_layers.parse_pins(p.read_text().splitlines(), p.name, environment) for p in build_layers.REQUIREMENTS
    ]
    merged = {pin.name for pin in build_layers.merge_pins(*locked, selected)}  # no package pinned two ways
    assert {"anthropic", "jiter", "httpx2", "opentelemetry-api"} <= merged
    assert "anthropic" not in {pin.name for pin in build_layers.merge_pins(*locked)}
    with pytest.raises(ValueError, match=r"unknown provider.*known: anthropic, openai"):
        build_layers.provider_pins(["antropic"], environment)


@pytest.mark.parametrize(
    ("path", "pruned"),
    [
        ("zstandard/_cffi.cpython-313-aarch64-linux-gnu.so", True),
        ("zstandard/backend_cffi.py", True),
        ("zstandard/backend_c.cpython-313-aarch64-linux-gnu.so", False),
        ("zstandard/__init__.py", False),
        ("bin/langgraph", True),
        ("mlflow/protos/service_pb2.pyi", True),
        ("mlflow/protos/service_pb2.py", False),
        ("mlflow/__pycache__/__init__.cpython-313.pyc", False),
        ("mlflow_tracing-3.17.2.dist-info/entry_points.txt", False),
        ("aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js", True),
        ("aws_lambda_powertools/event_handler/openapi/swagger_ui/html.py", False),
        ("cffi/_cffi_backend.so", False),
        ("langsmith/sandbox/__init__.py", True),
        ("langsmith/integrations/otel/processor.py", True),
        ("langsmith/wrappers/_openai.py", True),
        ("langsmith/run_helpers.py", False),
        ("langsmith/types/run.py", False),
        ("aws_lambda_powertools/utilities/data_classes/__init__.py", True),
        ("aws_lambda_powertools/utilities/idempotency/base.py", True),
        ("aws_lambda_powertools/utilities/parser/models/apigw_websocket.py", False),
        ("aws_lambda_powertools/utilities/jmespath_utils/__init__.py", False),
        ("aws_lambda_powertools/utilities/__init__.py", False),
        ("somepkg/bin/tool", False),
    ],
)
def test_pruned_files(path, pruned):
    assert (build_layers.pruned_reason(path) is not None) is pruned


def test_prune_removes_files_and_emptied_directories(tmp_path):
    root = make_tree(
        tmp_path,
        {"zstandard/_cffi.cpython-313-x86_64-linux-gnu.so": b"x" * 10, "zstandard/__init__.py": b"", "bin/tool": b"ab"},
    )
    removed = build_layers.prune(root)
    assert sum(removed.values()) == 12
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["zstandard", "zstandard/__init__.py"]


def test_platform_tags_prefer_manylinux2014_and_stop_at_the_runtimes_glibc():
    tags = build_layers.platform_tags("arm64")
    assert tags[0] == "manylinux2014_aarch64"
    assert "manylinux_2_28_aarch64" in tags
    assert tags[-1] == "manylinux_2_34_aarch64"
    assert all(tag.endswith("_x86_64") for tag in build_layers.platform_tags("x86_64"))


# -- the strip guard -----------------------------------------------------------------------------------------


def real_elf(tmp_path: Path) -> Path:
    source = Path(sys.executable).resolve()
    if build_layers.loaded_image(source.read_bytes()) is None:
        pytest.skip("this interpreter is not a 64-bit little-endian ELF")
    return Path(shutil.copy(source, tmp_path / "lib.so"))


def fake_strip(tmp_path: Path, body: str) -> str:
    tool = tmp_path / "fake-strip"
    tool.write_text(f"#!{sys.executable}\nimport sys\npath = sys.argv[-1]\n{body}\n")
    tool.chmod(0o755)
    return str(tool)


def test_strip_keeps_a_result_whose_loaded_segments_are_unchanged(tmp_path):
    lib = real_elf(tmp_path)
    size = lib.stat().st_size
    appended = fake_strip(tmp_path, "open(path, 'ab').write(b'trailing, never loaded')")
    assert build_layers.strip_native(lib, appended) is None
    assert lib.stat().st_size > size


def test_strip_is_undone_when_it_changes_a_loaded_segment(tmp_path):
    lib = real_elf(tmp_path)
    original = lib.read_bytes()
    image = build_layers.loaded_image(original)
    offset, filesz = next((entry[2], entry[4]) for entry in reversed(image) if entry[0] == 1 and entry[4] > 64)
    offset += filesz // 2  # the middle of the last PT_LOAD with content
    corrupt = fake_strip(tmp_path, f"f = open(path, 'r+b'); f.seek({offset}); f.write(b'XXXX'); f.close()")
    assert build_layers.strip_native(lib, corrupt) == "stripping changed the loaded segments"
    assert lib.read_bytes() == original


def test_loaded_image_ignores_non_elf_files():
    assert build_layers.loaded_image(b"#!/bin/sh\n") is None
