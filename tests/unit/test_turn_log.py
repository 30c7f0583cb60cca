"""The per-turn "turn" log record of the message function, and its contract with the metric filters
and Logs Insights queries of terraform/modules/observability (the dashboard's turns, tokens and cost)."""

from __future__ import annotations

import re
from pathlib import Path

from order_agent.agent.events import Done, ErrorEvent
from order_agent.agent.service import TurnOutcome
from order_agent.edge.handlers import turn_record

OBSERVABILITY = Path(__file__).resolve().parents[2] / "terraform/modules/observability/main.tf"


def _answered() -> TurnOutcome:
    done = Done(
        model_calls=2,
        tool_rounds=1,
        tool_calls=1,
        usage={"inputTokens": 1200, "outputTokens": 80, "cacheReadInputTokens": 900, "cacheWriteInputTokens": 0},
    )
    return TurnOutcome(final=None, done=done, error=None, cost_usd=0.0051, conversation_cost_usd=0.0123)


def test_an_answered_turn_records_its_tokens_and_cost():
    record = turn_record("s-1", "m-1", _answered(), 1234.567)
    assert record["outcome"] == "answered" and record["error_code"] is None
    assert (record["model_calls"], record["tool_calls"]) == (2, 1)
    assert (record["input_tokens"], record["output_tokens"], record["cache_read_tokens"]) == (1200, 80, 900)
    assert (record["cost_usd"], record["conversation_cost_usd"], record["duration_ms"]) == (0.0051, 0.0123, 1234.6)


def test_a_failed_turn_records_its_error_code_and_no_usage():
    outcome = TurnOutcome(final=None, done=None, error=ErrorEvent(code="busy", message="wait", retryable=True))
    record = turn_record("s-1", "m-2", outcome, 3.0)
    assert record["outcome"] == "error" and record["error_code"] == "busy"
    assert record["input_tokens"] == record["output_tokens"] == record["model_calls"] == 0
    assert record["cost_usd"] is None


def test_the_record_carries_no_customer_text():
    assert not {"text", "email", "name", "customer_id", "user_id"} & turn_record("s", "m", _answered(), 1).keys()


def test_the_observability_module_reads_fields_the_record_has():
    text = OBSERVABILITY.read_text(encoding="utf-8")
    fields = set(re.findall(r"\$\.(\w+)", text))  # metric filter patterns and values
    assert {"message", "cost_usd", "input_tokens", "output_tokens"} <= fields
    assert fields - {"message"} <= turn_record("s", "m", _answered(), 1).keys()
    assert '$.message = \\"turn\\"' in text or '$.message = "turn"' in text


def test_the_handoff_module_reads_fields_the_record_has():
    """Its alarm counts turn records whose handoff event could not be published."""
    text = (OBSERVABILITY.parents[1] / "handoff" / "main.tf").read_text(encoding="utf-8")
    fields = set(re.findall(r"\$\.(\w+)", text))
    assert fields == {"message", "handoff_published"}
    assert turn_record("s", "m", _answered(), 1)["handoff_published"] is None  # no handoff in this turn
    published = TurnOutcome(final=None, done=None, error=None, handoff_published=False)
    assert turn_record("s", "m", published, 1)["handoff_published"] is False
