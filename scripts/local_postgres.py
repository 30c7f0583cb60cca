"""Start, stop or locate the local development PostgreSQL (an embedded server, no root needed).

python scripts/local_postgres.py start [--data-dir .local/postgres]   # prints DATABASE_URL
python scripts/local_postgres.py stop  [--data-dir .local/postgres]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from order_agent_dev.local.postgres import EmbeddedPostgres


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--data-dir", type=Path, default=Path(".local/postgres"))
    args = parser.parse_args()
    if args.action == "stop":
        if not (args.data_dir / "postmaster.pid").exists():
            print(f"no server running on {args.data_dir}", file=sys.stderr)
            return 0
        EmbeddedPostgres(args.data_dir, keep_running=True).stop()
        print(f"stopped the server on {args.data_dir}", file=sys.stderr)
        return 0
    print(EmbeddedPostgres(args.data_dir, keep_running=True).url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
