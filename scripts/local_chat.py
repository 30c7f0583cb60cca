"""Chat with the agent in the terminal against local services, until `make dev` arrives.

Starts (or reuses) the local PostgreSQL in .local/postgres and loads the τ retail data set if
the database is empty, starts an AWS emulator (moto) on a free loopback port for this run's
conversation state, and opens `order-agent chat`. MODEL_PROVIDER picks the model (default:
offline). Extra arguments go to `order-agent chat`, e.g. `--message "hi" --message "bye"`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from order_agent.db.dataset import count_dataset, load_dataset, read_dataset
from order_agent.db.migrate import migrate
from order_agent.db.pool import get_database
from order_agent.settings import get_settings
from order_agent_dev.cli import main as cli_main
from order_agent_dev.local.aws import LocalAws, create_conversation_store
from order_agent_dev.local.postgres import EmbeddedPostgres


def main() -> int:
    os.environ.setdefault("DATABASE_URL", EmbeddedPostgres(Path(".local/postgres"), keep_running=True).url)
    for key, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}.items():
        os.environ.setdefault(key, value)
    aws = LocalAws()
    os.environ["AWS_ENDPOINT_URL"] = aws.url
    get_settings.cache_clear()
    settings = get_settings()
    try:
        create_conversation_store(settings)
        db = get_database(settings)
        migrate(db)
        if count_dataset(db).users == 0:
            print(load_dataset(db, read_dataset("tau-retail", settings)), file=sys.stderr)
        return cli_main(["chat", *sys.argv[1:]])
    finally:
        aws.stop()


if __name__ == "__main__":
    sys.exit(main())
