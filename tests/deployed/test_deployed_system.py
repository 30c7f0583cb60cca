"""Conversations through what Terraform provisioned on the emulator: the API Gateway WebSocket API,
its REQUEST authorizer and routes, the Lambda functions running from the deployed packages with the
environment Terraform wrote, the DynamoDB table, the secret, and PostgreSQL behind the pooler.

The client is a real WebSocket client on the emulator's data plane; its token comes from the
emulator's Cognito user pool, as a browser's would come from Cognito in AWS."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

pytestmark = [pytest.mark.deployed, pytest.mark.timeout(900)]

EMAIL = "aarav.anderson9752@example.com"
PROCESSED = "#W3220203"  # Aarav's processed order
PENDING = "#W9300146"  # Aarav's pending order, cancelled below
WAIT_S = 60  # a cold function imports LangGraph and the agent: bounded, generous waits


def _aws(deployed, service):
    return boto3.client(
        service, endpoint_url=deployed.emulator.url, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip


@pytest.fixture(scope="module")
def token(deployed) -> str:
    """An ID token of a customer of the emulator's Cognito user pool (its audience: the app client)."""
    cognito = _aws(deployed, "cognito-idp")
    pool, client = deployed.outputs["user_pool_id"], deployed.outputs["user_pool_client_id"]
    username, password = f"customer-{uuid.uuid4().hex[:6]}", "Correct-horse-42!"
    cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
    result = cognito.initiate_auth(
        ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": password}
    )
    return result["AuthenticationResult"]["IdToken"]


def _open(deployed, token):
    return connect(f"{deployed.websocket_url}?token={token}", open_timeout=WAIT_S, max_size=None)


def _send(ws, session, text, message_id=None, **extra):
    message_id = message_id or str(uuid.uuid4())
    ws.send(json.dumps({"action": "sendMessage", "sessionId": session, "messageId": message_id, "text": text, **extra}))
    return message_id


def _until(ws, kinds=("done", "error"), timeout=WAIT_S):
    frames = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
        frames.append(frame)
        if frame.get("type") in kinds:
            return frames
    raise AssertionError(f"no {kinds} frame within {timeout}s: {frames}")


def _message(frames):
    return next(f for f in frames if f.get("type") == "message")


def test_the_migrate_function_loaded_the_data_on_apply(deployed):
    assert deployed.sql("SELECT count(*) FROM users")[0][0] == 500
    assert deployed.sql("SELECT count(*) FROM orders")[0][0] == 1000


def test_connecting_without_a_valid_token_is_refused(deployed, token):
    for query in ("", "?token=not-a-jwt", f"?token={token[:-4]}AAAA"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{deployed.websocket_url}{query}", open_timeout=WAIT_S).close()
        # The authorizer raises "Unauthorized": API Gateway answers 401, ministack 500 (README: the
        # emulator's differences). Either way the connection is refused.
        assert refused.value.response.status_code in (401, 500)


def _ask_order_status(deployed, token, *then: str) -> tuple[str, list[dict]]:
    """One conversation: the session id, and the answers to the customer's email and to each of `then`."""
    session = f"status-{uuid.uuid4()}"
    with _open(deployed, token) as ws:
        _send(ws, session, f"Where is my order {PROCESSED}?")
        first = _until(ws)
        assert first[0]["type"] == "ack" and first[-1]["type"] == "done", first
        answers = []
        for text in (EMAIL, *then):
            _send(ws, session, text)
            answers.append(_message(_until(ws)))
        return session, answers


def _handoff_events(deployed, wait_s: float) -> list[dict]:
    """What arrives in the handoff inbox queue (envs/local turns it on) within wait_s."""
    sqs, url = _aws(deployed, "sqs"), deployed.outputs["handoff_inbox_queue_url"]
    events, deadline = [], time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return events


def test_order_status_then_a_handoff_reaches_the_inbox_once(deployed, token):
    session, (answer, handed) = _ask_order_status(deployed, token, "Let me talk to a real person please")
    assert "processed" in answer["text"].lower()
    assert answer["modelProvider"] == "offline"
    # The message function published the handoff on the bus Terraform made, with the permission and
    # environment Terraform gave it; the rule delivered it to the inbox, once.
    assert handed["stage"] == "handed_off" and "support team" in handed["text"], handed
    events = _handoff_events(deployed, 10)
    assert len(events) == 1, events
    detail = events[0]["detail"]
    assert (events[0]["source"], events[0]["detail-type"]) == ("order-agent", "Conversation handed off")
    assert detail["session_id"] == session and detail["customer_id"] is not None
    assert detail["transcript"]["dynamodb_table"] == deployed.outputs["checkpoint_table_name"]
    assert detail["reference"] in handed["text"] and EMAIL not in detail["summary"]


def test_every_turns_trace_reaches_mlflow_through_the_queue_and_the_forwarder(deployed, token, mlflow_server):
    """The message function hands each trace to the trace queue Terraform made; the emulator's event
    source mapping runs the trace forwarder from its own layers, which writes them to MLflow."""
    from mlflow import MlflowClient

    session, _ = _ask_order_status(deployed, token)  # two turns
    client, found, deadline = MlflowClient(tracking_uri=mlflow_server.url), [], time.monotonic() + WAIT_S
    while len(found) < 2 and time.monotonic() < deadline:  # the mapping batches for up to 5 s
        experiment = client.get_experiment_by_name("order-agent")
        if experiment is not None:
            found = client.search_traces(
                locations=[experiment.experiment_id], filter_string=f"metadata.`mlflow.trace.session` = '{session}'"
            )
        if len(found) < 2:
            time.sleep(1)
    assert len(found) == 2, found
    assert all(t.info.tags["session_id"] == session for t in found)
    assert any(s.span_type == "TOOL" for t in found for s in t.data.spans)
    assert EMAIL not in json.dumps([[s.inputs, s.outputs] for t in found for s in t.data.spans], default=str)


def test_cancel_with_yes_drop_mid_stream_and_resume_writes_once(deployed, token):
    session = f"cancel-{uuid.uuid4()}"
    assert deployed.sql("SELECT status FROM orders WHERE order_id = %s", PENDING) == [("pending",)]
    with _open(deployed, token) as ws:
        _send(ws, session, "I want to cancel an order")
        _until(ws)
        _send(ws, session, EMAIL)
        _until(ws)
        _send(ws, session, f"{PENDING}, I don't need it anymore")
        proposal = _message(_until(ws))
        assert proposal["stage"] == "order_confirmation", proposal
        yes = proposal["quickReplies"][0]
        yes_id = _send(ws, session, yes["text"], confirmHash=yes["confirmHash"])
        seen = []  # the client drops after the first frame of the confirmed turn
        while not any(f.get("type") in ("typing", "delta", "message") for f in seen):
            seen.append(json.loads(ws.recv(timeout=WAIT_S)))
    last_seq = max((f["seq"] for f in seen if f.get("seq") is not None), default=proposal["seq"])
    with _open(deployed, token) as ws:
        ws.send(json.dumps({"action": "resume", "sessionId": session, "lastSeq": last_seq}))
        frames = []  # the turn may still run: its rest comes here, before or after the session frame
        deadline = time.monotonic() + WAIT_S
        while not {"done", "session"} <= {f.get("type") for f in frames} and time.monotonic() < deadline:
            frames.append(json.loads(ws.recv(timeout=WAIT_S)))
        report = _message(frames)
        assert report["seq"] > last_seq and "cancel" in report["text"].lower(), frames
        # The same Yes again (a client retry): acknowledged as a duplicate, nothing runs twice.
        _send(ws, session, yes["text"], message_id=yes_id, confirmHash=yes["confirmHash"])
        retry = _until(ws, kinds=("ack",))
        assert retry[-1]["duplicate"] is True
    assert deployed.sql("SELECT status FROM orders WHERE order_id = %s", PENDING) == [("cancelled",)]
    writes = deployed.sql("SELECT tool_name FROM tool_writes WHERE session_id = %s", session)
    assert writes == [("cancel_pending_order",)]
    table = deployed.outputs["checkpoint_table_name"]
    turns = _aws(deployed, "dynamodb").query(
        TableName=table, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": f"MSG_{session}"}}
    )["Items"]
    assert [item["SK"]["S"] for item in turns].count(yes_id) == 1
    assert len(turns) == 4  # one record per message id: four turns, the retry recorded nothing new


def test_the_functions_connect_as_the_application_role(deployed):
    """After the conversations above: the message function reads the application role's own secret (not
    the master's), and the database sessions it opened through the pooler are that role's, with the
    timeouts migrate set on it."""
    message = _aws(deployed, "lambda").get_function_configuration(
        FunctionName=deployed.outputs["function_names"]["message"]
    )
    env = message["Environment"]["Variables"]
    secret = json.loads(
        _aws(deployed, "secretsmanager").get_secret_value(SecretId=env["DATABASE_SECRET_ARN"])["SecretString"]
    )
    app_role = secret["username"]
    assert app_role.endswith("_app") and secret["trace_user_key"] and env["DATABASE_SSLMODE"] == "disable"
    ((master,),) = deployed.sql("SELECT current_user")
    assert app_role != master
    sessions = deployed.sql(
        "SELECT usename, count(*) FROM pg_stat_activity WHERE datname = current_database() GROUP BY usename"
    )
    assert app_role in dict(sessions), sessions  # the pooler's server connections for the functions
    ((settings,),) = deployed.sql(
        """SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
           JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = %s AND d.datname = current_database()""",
        app_role,
    )
    assert any(entry.startswith("statement_timeout=") for entry in settings)
    ((can_read_migrations,),) = deployed.sql("SELECT has_table_privilege(%s, 'schema_migrations', 'SELECT')", app_role)
    assert can_read_migrations is False


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("not json", "invalid_json"),
        (json.dumps({"action": "dance"}), "unknown_action"),
        (json.dumps({"action": "sendMessage", "sessionId": "s1"}), "invalid_message"),
        (json.dumps({"action": "sendMessage", "sessionId": "s1", "messageId": "m1", "text": "x" * 4001}), "text_too_long"),
        # Over 32 KB: API Gateway closes with 1009, ministack delivers it; the handler refuses it either way.
        (json.dumps({"action": "sendMessage", "sessionId": "s1", "messageId": "m1", "text": "é" * 20000}), "frame_too_large"),
    ],
)  # fmt: skip
def test_bad_frames_get_the_documented_error(deployed, token, payload, code):
    with _open(deployed, token) as ws:
        ws.send(payload)
        frame = json.loads(ws.recv(timeout=WAIT_S))
        assert (frame["type"], frame["code"], frame["retryable"]) == ("error", code, False), frame
        ws.send(json.dumps({"action": "ping"}))  # the connection is still usable
        assert json.loads(ws.recv(timeout=WAIT_S)) == {"type": "pong"}


# Last in this module: it restarts the emulator the tests above share.
def test_a_restarted_emulator_keeps_the_system_and_the_next_apply_changes_little(deployed, token):
    """What a second `make dev` does: the emulator comes back with what it saved, Terraform's state
        still describes it, the apply that follows only adjusts, the conversations are still there and the
    chat answers as before."""
    table = deployed.outputs["checkpoint_table_name"]

    def conversation_items() -> int:
        return _aws(deployed, "dynamodb").scan(TableName=table, Select="COUNT")["Count"]

    before = conversation_items()
    assert before > 0  # the conversations of the tests above
    deployed.emulator.restart()
    assert deployed.emulator.restored
    assert deployed.system.is_deployed()
    outputs = deployed.system.apply(fresh=False)
    assert outputs["websocket_url"] == deployed.websocket_url
    print(f"\napply after the restart: {deployed.system.timings['apply_s']:.0f} s")
    log = deployed.system.terraform.last_apply_log
    # ministack's read-back makes a few attributes differ (README): updates in place, never new functions.
    assert "aws_lambda_function" not in "".join(line for line in log.splitlines() if "will be created" in line)
    _, (answer,) = _ask_order_status(deployed, token)  # its token was issued before the restart: the pool kept its keys
    assert "processed" in answer["text"].lower()
    assert conversation_items() > before  # the earlier conversations survived; this one was added
