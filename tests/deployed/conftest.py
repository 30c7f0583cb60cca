"""The whole Terraform system applied to the emulator (ministack) for the tests in this folder.

Once per test module: the Lambda packages are built for the emulator's interpreter, ministack starts
on a free loopback port, an empty database with a role of its own is made on the test PostgreSQL
behind a PgBouncer of its own (the RDS Proxy stand-in), and `terraform/envs/local` is applied with
auth_mode = jwt, the local MLflow server and the offline model. The migrate function that Terraform
invokes loads the τ retail data. The emulator persists its state, as in `make dev`, so the last test
can restart it. At the end the emulator is stopped (with all it holds) and the database dropped.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from order_agent_dev.local.emulator import Ministack
from order_agent_dev.local.pooler import PgBouncerNotInstalled, Pooler
from order_agent_dev.local.system import ExternalDatabase, LocalSystem
from order_agent_dev.local.terraform import TerraformUnavailable

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Deployed:
    system: LocalSystem
    emulator: Ministack
    outputs: dict[str, Any]
    database_url: str  # straight to the server, for the tests' own checks

    @property
    def websocket_url(self) -> str:
        return self.outputs["websocket_url"]

    def sql(self, query: str, *args: Any) -> list[tuple]:
        with psycopg2.connect(self.database_url) as conn, conn.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall()


def _database_of_its_own(server_url: str) -> tuple[str, str, str]:
    """A role and a database it owns, standing in for the RDS master user (CREATEROLE, not superuser):
    migrate creates the application role with it and sets the agent's timeouts on that role."""
    role, password = f"deployed_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    conn = psycopg2.connect(server_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN CREATEROLE PASSWORD %s", (password,))
        cur.execute(f"CREATE DATABASE {role} OWNER {role}")
    conn.close()
    dsn = psycopg2.extensions.parse_dsn(server_url)
    dsn.update(user=role, password=password, dbname=role)
    return role, password, psycopg2.extensions.make_dsn(**dsn)


def _drop(server_url: str, role: str, app_role: str) -> None:
    conn = psycopg2.connect(server_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {role} WITH (FORCE)")
        cur.execute(f"DROP ROLE IF EXISTS {app_role}")
        cur.execute(f"DROP ROLE IF EXISTS {role}")
    conn.close()


@pytest.fixture(scope="module")
def emulator(ministack_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ministack]:
    """Here the emulator saves its state when stopped, as `make dev` runs it, so a test can restart it."""
    server = Ministack.start(
        venv_dir=ministack_venv, requirements=ROOT / "requirements" / "emulator.txt",
        state_dir=tmp_path_factory.mktemp("ministack"), persist=True,
    )  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def deployed(emulator, postgres_server_url, mlflow_server, tmp_path_factory) -> Iterator[Deployed]:
    role, password, role_url = _database_of_its_own(postgres_server_url)
    # The functions connect as the application role, which migrate creates; the pooler lists it.
    name = f"t{uuid.uuid4().hex[:8]}"
    app_role, app_password = f"{name}_app", secrets.token_urlsafe(16)
    pooler = None
    try:
        try:
            pooler = Pooler(
                role_url, tmp_path_factory.mktemp("pgbouncer"), password=password, users={app_role: app_password}
            )
        except PgBouncerNotInstalled as exc:
            pytest.skip(f"the deployed system needs the RDS Proxy stand-in: {exc}")
        database = ExternalDatabase(
            "127.0.0.1", pooler.port, pooler.user, pooler.password, name=role,
            app_username=app_role, app_password=app_password,
        )  # fmt: skip
        try:
            system = LocalSystem(
                ROOT, tmp_path_factory.mktemp("terraform"), emulator, database,
                name=name, auth_mode="jwt", dataset="tau-retail",
                mlflow_tracking_uri=mlflow_server.url,
            )  # fmt: skip
        except TerraformUnavailable as exc:
            pytest.skip(f"terraform/envs/local cannot be applied here: {exc}")
        system.build_packages()
        outputs = system.apply()
        # No `terraform destroy` at the end (it took 2 to 3 minutes): the emulator is this module's own and
        # is stopped with everything it holds, its state directory is temporary, and the database is
        # dropped below. (make dev never destroys either; LocalSystem.destroy has its unit test.)
        yield Deployed(system, emulator, outputs, role_url)
        print(f"\ndeployed system timings: {', '.join(f'{k} {v:.0f}' for k, v in system.timings.items())}")
    finally:
        if pooler is not None:
            pooler.stop()
        _drop(postgres_server_url, role, app_role)
