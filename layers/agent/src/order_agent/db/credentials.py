"""Where the database connection string comes from: DATABASE_URL locally; in AWS a Secrets Manager
secret (read at connect time, so a new password needs no redeploy) and the RDS Proxy endpoint,
always over TLS with the server certificate verified.

Which secret: the agent's functions get the application role's own secret (DATABASE_SECRET_ARN),
which only they, the migrate function and the proxy may read; the migrate function alone gets the
RDS-managed master secret. The application role's secret is created empty by Terraform; `migrate`
fills it on its first run (`app_credentials`) and sets that password on the role
(order_agent.db.roles), so the password is never in Terraform's state or plan.

TLS: with DATABASE_SSLMODE `verify-full` (the default) or `verify-ca`, libpq checks the server's
certificate against `RDS_CA_BUNDLE`, shipped in this package: the Amazon RDS certificate
authorities (for connections to an instance) and the Amazon Trust Services roots that RDS Proxy's
certificates chain to. `verify-full` also checks the host name, which for RDS Proxy is the proxy
endpoint itself. Locally the pooler speaks no TLS: DATABASE_SSLMODE=disable.
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
import uuid
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from order_agent.settings import Settings

# Provenance and refresh: scripts/rds_ca_bundle.py.
RDS_CA_BUNDLE = Path(str(resources.files("order_agent.db") / "certs" / "rds-ca-bundle.pem"))

# The application role's password: URL-safe, 256 bits.
_PASSWORD_BYTES = 32


# Fixed per secret: concurrent first runs of migrate write the same version (PutSecretValue is
# idempotent for one token and one value; a second value under the token is refused).
def _first_version_token(secret_arn: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"order-agent:app-role-secret:first:{secret_arn}"))


def database_url(settings: Settings) -> str:
    if not (settings.database_secret_arn and settings.database_host):
        return settings.database_url
    import boto3  # only in AWS, where the runtime provides it

    response = boto3.client("secretsmanager").get_secret_value(
        SecretId=settings.database_secret_arn, VersionStage="AWSCURRENT"
    )
    secret = json.loads(response["SecretString"])
    return url_for(settings, secret["username"], secret["password"])


def url_for(settings: Settings, username: str, password: str) -> str:
    """The libpq URL to DATABASE_HOST as this user; `sslrootcert` is the packaged bundle when the
    TLS mode verifies the certificate."""
    user, password = quote(username, safe=""), quote(password, safe="")
    host, name = settings.database_host, quote(settings.database_name, safe="")
    port, sslmode = settings.database_port, settings.database_sslmode
    url = f"postgresql://{user}:{password}@{host}:{port}/{name}?sslmode={sslmode}"
    if sslmode in ("verify-ca", "verify-full"):
        url += f"&sslrootcert={quote(str(RDS_CA_BUNDLE), safe='/')}"
    return url


def app_credentials(client: Any, secret_arn: str, username: str) -> str:
    """The application role's password from its secret (`client`: a boto3 Secrets Manager client).

    A secret with no value yet (Terraform creates it empty) gets one: `username`, a new random
    password and `engine`, as RDS Proxy and the functions read it, and `trace_user_key`, the
    deployment's key for the pseudonymous user key in traces (`trace_user_key`; rotation keeps it).
    A secret naming another user is an error: the role and the secret must agree."""
    try:
        secret = json.loads(client.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
    except client.exceptions.ResourceNotFoundException:
        secret = None  # the secret exists (Terraform made it) but has no AWSCURRENT value yet
    if secret is None or not secret.get("password"):
        password, trace_key = secrets.token_urlsafe(_PASSWORD_BYTES), secrets.token_urlsafe(_PASSWORD_BYTES)
        value = json.dumps(
            {"username": username, "password": password, "engine": "postgres", "trace_user_key": trace_key}
        )
        # a concurrent run may have written the first version: then it is read below
        with contextlib.suppress(client.exceptions.ResourceExistsException):
            client.put_secret_value(
                SecretId=secret_arn, ClientRequestToken=_first_version_token(secret_arn), SecretString=value
            )
        secret = json.loads(client.get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"])
    if secret.get("username") != username:
        raise ValueError(f"the secret {secret_arn} is for user {secret.get('username')!r}, not the role {username!r}")
    return secret["password"]


# Without a secret (local runs, tests): a fixed, public key, so the user key is only a pseudonym
# against casual reading there, where the data is synthetic.
LOCAL_TRACE_USER_KEY = b"order-agent:local-trace-user-key"


@functools.cache
def _secret_trace_key(secret_arn: str) -> bytes | None:
    import boto3  # only in AWS, where the runtime provides it

    secret = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=secret_arn, VersionStage="AWSCURRENT")["SecretString"]
    )
    key = secret.get("trace_user_key")
    return key.encode() if key else None


def trace_user_key(settings: Settings) -> bytes:
    """The HMAC key of the user key in traces: `trace_user_key` from the application role's secret
    (per deployment, never in a trace, the environment or Terraform's state), read once per process;
    `LOCAL_TRACE_USER_KEY` without one."""
    if settings.database_secret_arn and settings.database_host:
        return _secret_trace_key(settings.database_secret_arn) or LOCAL_TRACE_USER_KEY
    return LOCAL_TRACE_USER_KEY
