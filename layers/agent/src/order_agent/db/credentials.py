"""Where the database connection string comes from: DATABASE_URL locally; in AWS the RDS-managed
master secret (read at connect time, so RDS's password rotation needs no redeploy) and the RDS
Proxy endpoint, always over TLS."""

from __future__ import annotations

import json
from urllib.parse import quote

from order_agent.settings import Settings


def database_url(settings: Settings) -> str:
    if not (settings.database_secret_arn and settings.database_host):
        return settings.database_url
    import boto3  # only in AWS, where the runtime provides it

    response = boto3.client("secretsmanager").get_secret_value(SecretId=settings.database_secret_arn)
    secret = json.loads(response["SecretString"])
    user, password = quote(secret["username"], safe=""), quote(secret["password"], safe="")
    host, name = settings.database_host, quote(settings.database_name, safe="")
    port, sslmode = settings.database_port, settings.database_sslmode
    return f"postgresql://{user}:{password}@{host}:{port}/{name}?sslmode={sslmode}"
