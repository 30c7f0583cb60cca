"""Traces in a real MLflow tracking server (started here), read back through the MLflow client, the
way they travel in AWS: the message function hands each turn's trace to an SQS queue (the test
emulator's), the trace forwarder (run here in-process, as its event source mapping would) rebuilds it
in MLflow. One trace per turn with AGENT, TOOL and CHAT_MODEL spans, token usage and cost, session
grouping, redaction of personal data — and conversations that go on, with no MLflow call, while the
server is down, whose traces all arrive once it is back (through the dead-letter queue and a replay
for those that kept failing)."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from mlflow import MlflowClient
from mlflow.entities import SpanStatusCode

from order_agent.agent.service import Agent
from order_agent.model.base import Usage
from order_agent.settings import Settings
from order_agent.tools import ToolRunner
from order_agent.trace_forwarder import TraceForwarder, replay_dead_letters
from order_agent.tracing import SQS_BODY_LIMIT, Redactor, SpanRecord, trace_client, user_key
from order_agent_dev.local.aws import create_trace_queue, free_port
from order_agent_dev.providers.scripted import ScriptedProvider

EMAIL = "aarav.anderson9752@example.com"
CUSTOMER = "aarav_anderson_8794"
PENDING = "#W9300146"
GIFT_CARD = "gift_card_7245904"
MODEL_ID = "us.anthropic.claude-sonnet-4-6"
USAGE = {"inputTokens": 120, "outputTokens": 40, "cacheReadInputTokens": 2000, "cacheWriteInputTokens": 300}

SCRIPT = [
    {"text": "Happy to help. What is the email on your account?", "usage": USAGE, "model_id": MODEL_ID},
    {"tool_use": {"name": "find_user_id_by_email", "input": {"email": EMAIL}}, "usage": USAGE, "model_id": MODEL_ID},
    {"tool_use": {"name": "get_user_details", "input": {"user_id": CUSTOMER}}, "usage": USAGE, "model_id": MODEL_ID},
    {"tool_use": {"name": "get_order_details", "input": {"order_id": PENDING}}, "usage": USAGE, "model_id": MODEL_ID},
    {"text": f"Aarav, order {PENDING} is pending. I will cancel it and refund $153.23 to {GIFT_CARD}. Go ahead?",
     "tool_use": {"name": "cancel_pending_order", "input": {"order_id": PENDING, "reason": "no longer needed"}},
     "usage": USAGE, "model_id": MODEL_ID},
    {"expect": {"stage": "resolution"}, "text": "Done: the order is cancelled. Anything else?", "usage": USAGE,
     "model_id": MODEL_ID},
]  # fmt: skip


@pytest.fixture
def traced(agent_settings, mlflow_server, tau_fresh):
    """A conversation factory with tracing through a trace queue of its own (its own MLflow experiment
    per test). Failed messages come back at once (visibility timeout 0) and go to the dead-letter
    queue after their second receive."""
    name = f"test-traces-{uuid.uuid4().hex[:8]}"
    queue_url, dead_letter_url = create_trace_queue(agent_settings, name, max_receive_count=2, visibility_timeout_s=0)
    options = {"trace_queue_url": queue_url, "mlflow_tracking_uri": mlflow_server.url, "mlflow_experiment_name": name}

    def make(**settings):
        settings = agent_settings.model_copy(update={**options, **settings})
        model = ScriptedProvider(SCRIPT, first_token_delay_s=0.005)
        return Agent(settings, model=model, runner=ToolRunner(tau_fresh, settings)), f"test-{uuid.uuid4()}"

    make.queue_url, make.dead_letter_url, make.mlflow_url = queue_url, dead_letter_url, mlflow_server.url
    return make


def _deliver(settings, queue_url, tracking_uri=None):
    """The forwarder's run over the queue; the MLflow traces it delivered, in the order of their turns."""
    if tracking_uri:
        settings = settings.model_copy(update={"mlflow_tracking_uri": tracking_uri})
    result = TraceForwarder(settings).drain(queue_url)
    client = MlflowClient(tracking_uri=settings.mlflow_tracking_uri)
    traces = [client.get_trace(trace_id) for trace_id in result.delivered]
    return sorted(traces, key=lambda t: min(s.start_time_ns for s in t.data.spans)), result


def _converse(agent, session):
    outcomes = []
    for text in ["I'd like to cancel an order", f"It's {EMAIL}, order {PENDING}", "yes"]:
        outcome = agent.handle_message(session, text, lambda event: None)
        assert outcome.done is not None, outcome.error
        assert outcome.handoff.error is None and outcome.handoff.message_id, outcome.handoff
        outcomes.append(outcome)
    return outcomes


def _spans(trace, span_type):
    return [span for span in trace.data.spans if span.span_type == span_type]


def test_every_turn_is_one_trace_with_its_spans_usage_cost_and_session(traced, mlflow_server):
    agent, session = traced()
    outcomes = _converse(agent, session)
    traces, _ = _deliver(agent.settings, traced.queue_url)
    assert len({t.info.trace_id for t in traces}) == 3
    client = MlflowClient(tracking_uri=mlflow_server.url)

    # the session groups the conversation; the customer is named once verified
    experiment = client.get_experiment_by_name(agent.settings.mlflow_experiment_name)
    found = client.search_traces(
        locations=[experiment.experiment_id], filter_string=f"metadata.`mlflow.trace.session` = '{session}'"
    )
    assert {t.info.trace_id for t in found} == {t.info.trace_id for t in traces}
    # the user is a pseudonymous key (an HMAC of the τ user id), never the id, which spells the name
    key = user_key(agent.settings, CUSTOMER)
    assert re.fullmatch(r"u_[0-9a-f]{32}", key)
    assert [t.info.trace_metadata.get("mlflow.trace.user") for t in traces] == [None, key, key]
    assert all(t.info.tags["prompt_version"].startswith("prompts-") for t in traces)
    assert traces[1].info.tags["user_key"] == key and "customer_id" not in traces[1].info.tags

    # turn 2: the node, its tools (in order, the write as a dry run) and one model call per round
    second = traces[1]
    root = next(s for s in second.data.spans if s.parent_id is None)
    assert (root.name, root.span_type) == ("turn", "AGENT")
    nodes = sorted((s for s in _spans(second, "AGENT") if s.parent_id == root.span_id), key=lambda s: s.start_time_ns)
    # one span per node visit: a model call, then the reads it asked for, three times; the fourth
    # call proposes the write, and the proposal waits for the customer
    assert [n.name for n in nodes] == ["call_model", "run_reads"] * 3 + ["call_model", "propose_write",
                                                                         "order_confirmation"]  # fmt: skip
    assert nodes[-1].attributes["interrupted"] == "GraphInterrupt"  # waits, not fails
    assert nodes[-1].status.status_code == SpanStatusCode.OK
    tools = sorted(_spans(second, "TOOL"), key=lambda s: s.start_time_ns)
    assert [t.name for t in tools] == ["find_user_id_by_email", "get_user_details", "get_order_details",
                                       "cancel_pending_order"]  # fmt: skip
    tool_nodes = [n.span_id for n in nodes if n.name in ("run_reads", "propose_write")]
    assert [t.parent_id for t in tools] == tool_nodes  # each visit runs the tool its call asked for
    assert tools[-1].inputs["dry_run"] is True and tools[-1].outputs["ok"] is True
    models = _spans(second, "CHAT_MODEL")
    assert len(models) == outcomes[1].done.model_calls == 4
    assert {m.parent_id for m in models} == {n.span_id for n in nodes if n.name == "call_model"}

    # each model call: usage with the cache, stop reason, model id, latency, first token, cost
    call = models[0]
    assert call.attributes["mlflow.chat.tokenUsage"] == {
        "input_tokens": 120, "output_tokens": 40, "total_tokens": 160,
        "cache_read_input_tokens": 2000, "cache_creation_input_tokens": 300,
    }  # fmt: skip
    assert call.attributes["mlflow.llm.model"] == MODEL_ID
    assert call.attributes["stop_reason"] == "tool_use"
    assert call.attributes["latency_ms"] >= 0
    price = agent.settings.price_of(MODEL_ID)
    usage = Usage(120, 40, 2000, 300)
    one_call = sum(usage.cost_usd(price))
    assert call.attributes["mlflow.llm.cost"]["total_cost"] == pytest.approx(one_call)
    texts = [m for m in models if m.outputs["content"] and "text" in m.outputs["content"][0]]
    assert texts and all(m.attributes["time_to_first_token_ms"] > 0 for m in texts)
    assert all(m.attributes["time_to_first_token_ms"] is None for m in models if m not in texts)

    # cost per turn and per conversation
    assert outcomes[1].cost_usd == pytest.approx(4 * one_call)
    assert float(second.info.tags["turn_cost_usd"]) == pytest.approx(4 * one_call, abs=1e-6)
    assert outcomes[2].conversation_cost_usd == pytest.approx(6 * one_call)
    assert float(traces[2].info.tags["conversation_cost_usd"]) == pytest.approx(6 * one_call, abs=1e-6)

    # turn 3: the confirmation resumes the waiting node, then the write runs for real
    third = traces[2]
    assert [s.name for s in _spans(third, "TOOL")] == ["cancel_pending_order"]
    assert _spans(third, "TOOL")[0].inputs["dry_run"] is False
    visits = sorted((s for s in _spans(third, "AGENT") if s.parent_id is not None), key=lambda s: s.start_time_ns)
    assert [s.name for s in visits] == ["order_confirmation", "resolution", "call_model"]
    for outcome in outcomes:
        print(f"trace hand-off: {outcome.handoff.duration_ms:.0f} ms, {outcome.handoff.size_bytes} bytes")


def _serialised(trace) -> str:
    return json.dumps([{"inputs": s.inputs, "outputs": s.outputs} for s in trace.data.spans], default=str)


# Email, names, address, zip, payment method, and the τ customer id (aarav_anderson_8794), which spells the
# name: the trace names the customer by a pseudonymous key instead.
PERSONAL = [EMAIL, "Aarav", "Anderson", "931 Maple Drive", "Philadelphia", "19031", GIFT_CARD, CUSTOMER]


def test_personal_data_is_redacted_before_the_handoff(traced, mlflow_server):
    agent, session = traced()
    outcomes = _converse(agent, session)
    queued = _peek(agent.settings, traced.queue_url)
    traces, _ = _deliver(agent.settings, traced.queue_url)
    exported = queued + "".join(_serialised(t) for t in traces)
    exported += json.dumps([[t.info.tags, t.info.trace_metadata] for t in traces], default=str)
    recorded = json.dumps([[s.inputs, s.outputs] for o in outcomes for s in o.trace.root.walk()], default=str)
    for value in PERSONAL:
        assert value in recorded, f"{value} is not in this conversation: the test proves nothing"
        assert value not in exported, f"{value} reached MLflow"
    assert "[EMAIL]" in exported and "[PAYMENT_METHOD]" in exported and "[REDACTED]" in exported
    assert user_key(agent.settings, CUSTOMER) in exported  # where the user id was: the tool's result and input
    assert PENDING in exported  # order ids are not personal data: the trace stays readable


def _peek(settings, queue_url) -> str:
    """The queue's message bodies, left on the queue (visibility timeout 0): what the hand-off sent."""
    sqs = trace_client("sqs", settings.aws_region, settings.aws_endpoint_url)
    received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    return "".join(m["Body"] for m in received)


def test_redaction_can_be_switched_off(traced, mlflow_server):
    agent, session = traced(trace_redact_pii=False)
    _converse(agent, session)
    traces, _ = _deliver(agent.settings, traced.queue_url)
    exported = "".join(_serialised(t) for t in traces)
    for value in PERSONAL:
        assert value in exported


def test_the_user_key_is_keyed_per_deployment(monkeypatch, aws_endpoint):
    """An HMAC with the deployment's key from the application role's secret: stable within a deployment,
    different in another, and not the plain hash anyone could compute from a guessed name."""
    import hashlib

    import boto3

    from order_agent.db import credentials

    local = Settings()
    assert user_key(local, CUSTOMER) == user_key(local, CUSTOMER) != user_key(local, "other_user_1234")
    assert hashlib.sha256(CUSTOMER.encode()).hexdigest()[:32] not in user_key(local, CUSTOMER)

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws_endpoint)
    client = boto3.client("secretsmanager", endpoint_url=aws_endpoint, region_name="us-east-1")
    keys = []
    for deployment in ("a", "b"):
        arn = client.create_secret(Name=f"trace-key-{deployment}-{uuid.uuid4().hex[:6]}")["ARN"]
        credentials.app_credentials(client, arn, "order_agent_app")  # as migrate does on the first apply
        deployed = Settings(database_secret_arn=arn, database_host="proxy.example")
        keys.append(user_key(deployed, CUSTOMER))
    assert keys[0] != keys[1] and user_key(local, CUSTOMER) not in keys


def test_free_text_is_redacted_with_what_the_turn_revealed():
    said = SpanRecord("turn", "AGENT", inputs={"text": "I'm yusuf rossi, zip 19122, card paypal_7644869"})
    looked_up = SpanRecord(
        "find_user_id_by_name_zip", "TOOL", {"arguments": {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}}
    )
    redact = Redactor([said, looked_up])
    assert redact(said.inputs) == {"text": "I'm [REDACTED] [REDACTED], zip [REDACTED], card [PAYMENT_METHOD]"}
    assert redact(looked_up.inputs)["arguments"] == {"first_name": "[REDACTED]", "last_name": "[REDACTED]",
                                                     "zip": "[REDACTED]"}  # fmt: skip
    # a name the customer types before any look-up reveals it
    assert Redactor([])("Hi, I'm Ana Lopez, cancel my order") == "Hi, I'm [NAME], cancel my order"
    assert Redactor([])("Hola, me llamo María José Pérez") == "Hola, me llamo [NAME]"
    assert Redactor([])("I'm not sure where order #W1 is") == "I'm not sure where order #W1 is"
    methods = {"payment_methods": {"credit_card_1": {"brand": "visa"}, "credit_card_2": {"brand": "amex"}}}
    assert len(redact(methods)["payment_methods"]) == 2  # two ids, two entries


def test_while_mlflow_is_down_turns_make_no_mlflow_call_and_every_trace_arrives_later(traced, monkeypatch):
    import mlflow
    import requests

    calls = []  # MLflow's REST client speaks through requests; nothing else in a turn does
    for owner, name in [(requests.Session, "request"), (mlflow, "start_span_no_context")]:
        original = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda *a, _o=original, _n=name, **k: calls.append(_n) or _o(*a, **k))
    agent, session = traced(mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    outcomes = _converse(agent, session)
    with agent.runner.db.transaction() as cur:
        cur.execute("SELECT status FROM orders WHERE order_id = %s", (PENDING,))
        assert cur.fetchone()["status"] == "cancelled"
    assert outcomes[-1].final.stage == "resolution"
    assert calls == []  # the turns handed their traces off and made no MLflow call

    traces, down = _deliver(agent.settings, traced.queue_url)  # the forwarder, while MLflow is down
    assert (traces, down.failed) == ([], 3)
    monkeypatch.undo()
    traces, back = _deliver(agent.settings, traced.queue_url, tracking_uri=traced.mlflow_url)
    assert back.failed == 0 and len(traces) == 3
    assert [t.info.trace_metadata["mlflow.trace.session"] for t in traces] == [session] * 3
    assert [len(_spans(t, "TOOL")) for t in traces] == [0, 4, 1]


def test_traces_that_keep_failing_go_to_the_dead_letter_queue_and_a_replay_delivers_them(traced):
    agent, session = traced(mlflow_tracking_uri=f"http://127.0.0.1:{free_port()}")
    assert agent.handle_message(session, "I'd like to cancel an order", lambda event: None).handoff.message_id
    for _ in range(2):  # maxReceiveCount 2: two failed deliveries
        assert _deliver(agent.settings, traced.queue_url)[1].failed == 1
    assert _deliver(agent.settings, traced.queue_url)[1].failed == 0  # the third receive moved it away
    sqs = trace_client("sqs", agent.settings.aws_region, agent.settings.aws_endpoint_url)
    assert replay_dead_letters(sqs, traced.dead_letter_url, traced.queue_url) == 1
    traces, result = _deliver(agent.settings, traced.queue_url, tracking_uri=traced.mlflow_url)
    assert len(traces) == 1 and result.failed == 0
    assert traces[0].info.trace_metadata["mlflow.trace.session"] == session


def test_a_batch_reports_only_the_messages_it_could_not_deliver(traced):
    agent, session = traced()
    agent.handle_message(session, "I'd like to cancel an order", lambda event: None)
    sqs = trace_client("sqs", agent.settings.aws_region, agent.settings.aws_endpoint_url)
    message = sqs.receive_message(QueueUrl=traced.queue_url)["Messages"][0]
    event = {"Records": [{"messageId": "good", "body": message["Body"]}, {"messageId": "bad", "body": '{"format": 0}'}]}
    assert TraceForwarder(agent.settings).handle_batch(event) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}


def test_a_trace_over_the_message_limit_travels_through_s3(traced, monkeypatch):
    monkeypatch.setattr("order_agent.tracing.SQS_BODY_LIMIT", 100)
    agent, session = traced(trace_bucket=f"test-traces-{uuid.uuid4().hex[:8]}")
    create_trace_queue(agent.settings, "unused")  # creates the bucket
    outcome = agent.handle_message(session, "I'd like to cancel an order", lambda event: None)
    assert outcome.handoff.s3_key and outcome.handoff.size_bytes > 100
    assert json.loads(_peek(agent.settings, traced.queue_url))["s3"]["key"] == outcome.handoff.s3_key
    traces, _ = _deliver(agent.settings, traced.queue_url)
    assert [t.info.trace_metadata["mlflow.trace.session"] for t in traces] == [session]
    assert SQS_BODY_LIMIT == 256 * 1024


def test_tracing_off_records_nothing(agent_settings, tau_fresh):
    assert Settings().trace_queue_url is None  # the default: no tracing
    agent = Agent(agent_settings, model=ScriptedProvider(SCRIPT[:1]), runner=ToolRunner(tau_fresh, agent_settings))
    outcome = agent.handle_message(f"test-{uuid.uuid4()}", "hello", lambda event: None)
    assert outcome.trace is None and outcome.handoff is None
