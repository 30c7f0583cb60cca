"""Fixtures of the integration tests: the application role the tools connect as in AWS (test_tools,
test_app_role), and for the tests that drive the WebSocket edge (test_edge, test_faults,
test_security) a gateway running the handler files in lambdas/ around a scripted model, and a JWT
issuer for the $connect authorizer."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import jwt
import psycopg2.extensions
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from order_agent.agent.service import Agent
from order_agent.db.migrate import migrate
from order_agent.db.pool import Database
from order_agent.edge.auth import clear_jwks_cache
from order_agent.edge.handlers import Edge, use_edge
from order_agent.settings import Settings
from order_agent.tools import ToolRunner
from order_agent_dev.local.pooler import PgBouncerNotInstalled, Pooler
from order_agent_dev.local.stack import start_gateway
from order_agent_dev.providers.scripted import ScriptedProvider

from .support.edge import LAMBDAS, wait_idle
from .support.roles import drop_role


@dataclass(frozen=True)
class AppRole:
    """The application role on the demo database, as `migrate` leaves it, and how the tools reach it."""

    name: str
    password: str
    settings: Settings  # database_url: as this role, through the pooler where pgbouncer is installed
    via_pooler: bool
    db: Database


@pytest.fixture(scope="session")
def app_role(postgres_server_url, _demo_db, demo_settings, tmp_path_factory) -> Iterator[AppRole]:
    """The role the agent's functions connect as, reached through PgBouncer listing it as RDS Proxy is given
    its secret. Without pgbouncer, straight to the server (the tools still run as the role)."""
    name, password = f"app_test_{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    migrate(_demo_db, app_role=name, app_password=password)
    dsn = psycopg2.extensions.parse_dsn(demo_settings.database_url)
    try:
        pooler = Pooler(postgres_server_url, tmp_path_factory.mktemp("pgbouncer-app"), users={name: password})
        url = f"postgresql://{name}:{password}@127.0.0.1:{pooler.port}/{dsn['dbname']}?sslmode=disable"
    except PgBouncerNotInstalled:
        pooler = None
        url = psycopg2.extensions.make_dsn(**{**dsn, "user": name, "password": password})
    settings = demo_settings.model_copy(update={"database_url": url})
    db = Database(settings)
    try:
        yield AppRole(name, password, settings, pooler is not None, db)
    finally:
        db.close()
        if pooler is not None:
            pooler.stop()
        drop_role(_demo_db, name)


@pytest.fixture
def app_runner(demo_db, app_role) -> ToolRunner:
    """The tools as the functions run them: connected as the application role (the demo data restored)."""
    return ToolRunner(app_role.db, app_role.settings)


@pytest.fixture(scope="module")
def _module_edge(agent_settings, tau_db):
    """One gateway and one agent (its graph compiled once) for the module; `edge` gives each test its model."""
    agent = Agent(agent_settings, model=ScriptedProvider([]), runner=ToolRunner(tau_db, agent_settings))
    gateway, edge_settings = start_gateway(agent_settings, LAMBDAS, agent=agent)
    yield gateway, agent, edge_settings
    gateway.stop()


@pytest.fixture
def edge(_module_edge, agent_settings, tau_fresh):
    """A gateway around a scripted model: `edge(steps, **model_pace)` → (gateway, model). The module's
    gateway, with this test's model; with an `authorizer` (the gateway's own), a gateway of its own."""
    shared, agent, edge_settings = _module_edge
    routes = dict(shared.config.routes)  # a test may wrap a handler: the next one gets the originals
    started = []

    def start(steps, authorizer=None, **pace):
        model = ScriptedProvider(steps, **pace)
        if authorizer is not None:
            own = Agent(agent_settings, model=model, runner=ToolRunner(tau_fresh, agent_settings))
            gateway, _ = start_gateway(agent_settings, LAMBDAS, agent=own, authorizer=authorizer)
            started.append(gateway)
            return gateway, model
        agent.model = model
        use_edge(Edge(edge_settings, agent=agent))  # the handlers' edge: another gateway may have been started since
        return shared, model

    yield start
    for gateway in started:
        gateway.stop()
    wait_idle(shared)
    shared.config.routes.clear()
    shared.config.routes.update(routes)


@pytest.fixture
def jwt_issuer():
    """A signing key and a JWKS served on loopback, as a Cognito user pool would publish it."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "test-key", "alg": "RS256", "use": "sig"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    clear_jwks_cache()
    issuer = "https://issuer.test/pool"

    def token(**claims):
        payload = {"sub": "customer-1", "iss": issuer, "aud": "chat-client", "exp": int(time.time()) + 300, **claims}
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "test-key"})

    yield {"url": f"http://127.0.0.1:{server.server_port}/jwks.json", "issuer": issuer, "token": token}
    server.shutdown()
    server.server_close()
    clear_jwks_cache()
