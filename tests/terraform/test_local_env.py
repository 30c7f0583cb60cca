"""terraform/envs/local applied to the emulator, one conversation through the real handlers on the
resources it made, then destroyed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest
from websockets.sync.client import connect

from order_agent.agent.service import Agent
from order_agent.local.stack import start_gateway
from order_agent.local.terraform import LocalTerraform, TerraformUnavailable
from order_agent.model.offline import OfflineProvider
from order_agent.tools import ToolRunner

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def local_env(aws_endpoint, tmp_path, monkeypatch):
    try:
        terraform = LocalTerraform(ROOT / "terraform" / "envs" / "local", tmp_path, aws_endpoint)
    except TerraformUnavailable as exc:
        pytest.skip(f"terraform/envs/local cannot be applied here: {exc}")
    monkeypatch.setenv("TF_VAR_name", f"tftest-{uuid.uuid4().hex[:8]}")
    outputs = terraform.apply()
    yield outputs
    terraform.destroy()
    tables = boto3.client("dynamodb", endpoint_url=aws_endpoint, region_name="us-east-1").list_tables()["TableNames"]
    assert outputs["checkpoint_table_name"] not in tables, "destroy left the table behind"


def test_a_conversation_runs_on_the_resources_terraform_made(local_env, agent_settings, tau_fresh, aws_endpoint):
    settings = agent_settings.model_copy(update={
        "checkpoint_table": local_env["checkpoint_table_name"],
        "checkpoint_bucket": local_env["checkpoint_bucket_name"],
        "model_provider": "offline",
    })  # fmt: skip
    agent = Agent(settings, model=OfflineProvider(settings), runner=ToolRunner(tau_fresh, settings))
    gateway, _ = start_gateway(settings, ROOT / "lambdas", agent=agent)
    session = f"tf-{uuid.uuid4()}"
    try:
        with connect(gateway.url) as ws:
            for text in ("Where is my order #W3220203?", "aarav.anderson9752@example.com"):
                ws.send(json.dumps({"action": "sendMessage", "sessionId": session, "messageId": str(uuid.uuid4()),
                                    "text": text}))  # fmt: skip
                frames = []
                while not frames or frames[-1]["type"] not in {"done", "error"}:
                    frames.append(json.loads(ws.recv(timeout=30)))
    finally:
        gateway.stop()
    assert frames[-1]["type"] == "done"
    assert "processed" in next(f for f in frames if f["type"] == "message")["text"]
    dynamodb = boto3.client("dynamodb", endpoint_url=aws_endpoint, region_name="us-east-1")
    items = dynamodb.scan(TableName=settings.checkpoint_table)["Items"]
    assert any(item["PK"]["S"].startswith("CHECKPOINT_") for item in items)  # the agent's state is in that table
