"""Rotation of the application role's password: the four steps Secrets Manager invokes a rotation
function with, run by the migrate function (it holds the master credentials and reaches the proxy).

Single-user rotation, as AWS's own rotation templates do it for one user:

1. `createSecret`: a new random password, stored as the version `ClientRequestToken` with the
   label AWSPENDING (nothing else changes);
2. `setSecret`: that password becomes the role's (`ALTER ROLE`, as a SCRAM verifier);
3. `testSecret`: the role exists and may log in. Not a login with the new password: the function
   reaches the database only through RDS Proxy, which authenticates clients against the
   secret's AWSCURRENT version, so such a login fails by design until step 4;
4. `finishSecret`: the pending version becomes AWSCURRENT.

Between steps 2 and 4 (seconds) a new connection made with the old password fails; connections
already open (the proxy's pool to the database, the functions' pools to the proxy) are not
affected, and the functions read the secret again and retry once when a connection fails.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from psycopg2 import sql

from order_agent.db.pool import Database
from order_agent.db.roles import scram_verifier

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
_PASSWORD_BYTES = 32


class RotationError(RuntimeError):
    pass


def is_rotation_event(event: dict[str, Any]) -> bool:
    return event.get("Step") in STEPS and "SecretId" in event and "ClientRequestToken" in event


def rotate(client: Any, master: Callable[[], Database], event: dict[str, Any]) -> str:
    """Run one step; `master` gives a Database connected as the master user (only the steps that
    need it call it). The role is the secret's `username`, which must be an application role (no
    SUPERUSER, CREATEROLE or CREATEDB, not the master). Returns what was done."""
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    described = client.describe_secret(SecretId=arn)
    if not described.get("RotationEnabled"):
        raise RotationError(f"rotation is not enabled for {arn}")
    stages = described.get("VersionIdsToStages", {})
    if token not in stages:
        raise RotationError(f"version {token} of {arn} does not exist")
    if "AWSCURRENT" in stages[token]:
        return "already current"
    if "AWSPENDING" not in stages[token]:
        raise RotationError(f"version {token} of {arn} is not pending rotation")

    if step == "createSecret":
        current = _value(client, arn, stage="AWSCURRENT")
        if not current.get("username"):
            raise RotationError(f"the secret {arn} names no user")
        try:
            _value(client, arn, version=token, stage="AWSPENDING")
            return "pending version exists"
        except client.exceptions.ResourceNotFoundException:
            pending = {**current, "password": secrets.token_urlsafe(_PASSWORD_BYTES)}
            client.put_secret_value(
                SecretId=arn, ClientRequestToken=token, SecretString=json.dumps(pending), VersionStages=["AWSPENDING"]
            )
            return "pending version created"

    if step == "setSecret":
        pending = _value(client, arn, version=token, stage="AWSPENDING")
        app_role = pending["username"]
        db = master()
        with db.connection() as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    """SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolname = current_user
                         FROM pg_roles WHERE rolname = %s""",
                    (app_role,),
                )
                row = cur.fetchone()
                if row is None or row[0]:
                    raise RotationError(f"{app_role!r} is not an application role; its password is not changed")
                cur.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(app_role)),
                    (scram_verifier(conn, app_role, pending["password"]),),
                )
        return "password set"

    if step == "testSecret":
        app_role = _value(client, arn, version=token, stage="AWSPENDING")["username"]
        db = master()
        with db.transaction() as cur:
            cur.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (app_role,))
            row = cur.fetchone()
        if not (row and row["rolcanlogin"]):
            raise RotationError(f"role {app_role!r} is missing or cannot log in")
        return "role can log in"

    # finishSecret
    current_version = next(v for v, labels in stages.items() if "AWSCURRENT" in labels)
    client.update_secret_version_stage(
        SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current_version
    )
    return "pending version is current"


def _value(client: Any, arn: str, *, stage: str, version: str | None = None) -> dict[str, Any]:
    arguments = {"SecretId": arn, "VersionStage": stage} | ({"VersionId": version} if version else {})
    return json.loads(client.get_secret_value(**arguments)["SecretString"])
