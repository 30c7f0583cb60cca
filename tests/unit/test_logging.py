"""One logging system (order_agent.logs): a library module's record, emitted while a Lambda handler
runs, is Powertools JSON on stdout with the invocation's correlation id and the service name from
POWERTOOLS_SERVICE_NAME.

Each case runs in a fresh interpreter, as a Lambda process starts: loggers read the service name
when they are created (at import), and Powertools writes to the stdout of that moment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIBRARY_MODULES = ["agent/service.py", "tools/runner.py", "edge/auth.py", "tracing.py"]
PACKAGE = ROOT / "layers/agent/src/order_agent"

PRELUDE = """
import importlib.util, json, sys
from types import SimpleNamespace

def load(path):
    spec = importlib.util.spec_from_file_location("handler_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

context = SimpleNamespace(
    function_name="order-agent-test-fn",
    memory_limit_in_mb=512,
    invoked_function_arn="arn:aws:lambda:eu-west-1:123456789012:function:order-agent-test-fn",
    aws_request_id="lambda-request-1",
)
"""


def _run(script: str, **env: str) -> list[dict[str, Any]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script)],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _authorizer_event(request_id: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev/$connect",
        "headers": {},
        "queryStringParameters": {},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "requestId": request_id,
                           "connectionId": "CvJ7aeLyoAMCJhQ=", "apiId": "abc123", "stage": "dev"},
    }  # fmt: skip


def test_a_library_warning_in_the_authorizer_is_json_with_the_correlation_id_and_service():
    records = _run(
        f"""
        handler = load("lambdas/authorizer/handler.py")
        handler.handler({_authorizer_event("apigw-request-7")!r}, context)
        """,
        POWERTOOLS_SERVICE_NAME="shop-assistant-prod",
        AUTH_MODE="none",
    )
    (warning,) = [r for r in records if r["level"] == "WARNING"]
    assert warning["message"].startswith("AUTH_MODE=none")  # order_agent.edge.auth's own warning
    assert warning["service"] == "shop-assistant-prod"
    assert warning["correlation_id"] == "apigw-request-7"
    assert warning["function_request_id"] == "lambda-request-1"
    assert all(r["service"] == "shop-assistant-prod" for r in records)


def test_a_library_warning_in_the_message_handler_carries_that_invocations_correlation_id():
    # The message function's process imports the agent (its library loggers) before the handler's
    # logger exists; records still reach the handler's Powertools handler, and a second invocation
    # carries its own correlation id, not the first one's.
    records = _run(
        """
        handler = load("lambdas/message/handler.py")
        from order_agent import tracing
        from order_agent.edge import handlers
        from order_agent.settings import Settings

        def down(trace):
            raise RuntimeError("trace queue down")

        tracing.serialize = down

        class Edge:
            def message(self, event):
                handoff = tracing.TraceHandoff(Settings(trace_queue_url="http://queue.invalid/traces"))
                handoff.send(SimpleNamespace(session_id=event["body"]))
                return {"statusCode": 200}

        handlers.use_edge(Edge())
        for request_id in ("apigw-request-1", "apigw-request-2"):
            event = {"body": "session-" + request_id, "requestContext": {"requestId": request_id}}
            handler.handler(event, context)
        """,
        POWERTOOLS_SERVICE_NAME="shop-assistant-dev",
    )
    warnings = [r for r in records if r["level"] == "WARNING"]
    assert [w["correlation_id"] for w in warnings] == ["apigw-request-1", "apigw-request-2"]
    assert all(w["service"] == "shop-assistant-dev" for w in warnings)
    assert "not handed off: trace queue down" in warnings[0]["message"]
    assert warnings[0]["function_name"] == "order-agent-test-fn" and "cold_start" in warnings[0]


def test_without_a_service_name_in_the_environment_the_local_default_is_used():
    records = _run(
        f"""
        handler = load("lambdas/authorizer/handler.py")
        handler.handler({_authorizer_event("apigw-request-9")!r}, None)  # a local call: no Lambda context
        """,
        AUTH_MODE="none",
    )
    assert records and all(r["service"] == "order-agent" for r in records)
    assert all(r["correlation_id"] == "apigw-request-9" for r in records)


@pytest.mark.parametrize("module", LIBRARY_MODULES)
def test_library_modules_log_through_a_powertools_child_logger(module: str):
    text = (PACKAGE / module).read_text(encoding="utf-8")
    assert "logger = Logger(service=service_name(), child=True)" in text
    assert "logging.getLogger" not in text


def test_no_logger_hard_codes_the_service_name():
    sources = [*ROOT.glob("lambdas/*/handler.py"), *PACKAGE.rglob("*.py")]
    offenders = [str(p.relative_to(ROOT)) for p in sources if 'Logger(service="' in p.read_text(encoding="utf-8")]
    assert offenders == []
