"""Fixtures of the integration tests that drive the WebSocket edge (test_edge, test_faults,
test_security): a gateway running the handler files in lambdas/ around a scripted model, and a
JWT issuer for the $connect authorizer."""

from __future__ import annotations

import json
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from order_agent.agent.service import Agent
from order_agent.edge.auth import clear_jwks_cache
from order_agent.edge.handlers import Edge, use_edge
from order_agent.tools import ToolRunner
from order_agent_dev.local.stack import start_gateway
from order_agent_dev.providers.scripted import ScriptedProvider

from .support.edge import LAMBDAS, wait_idle


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
