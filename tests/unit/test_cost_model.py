"""scripts/cost_model.py on known inputs: what AWS bills per frame, request unit, millisecond and token,
the sizing arithmetic, the Terraform defaults it reads, and the docs' tables that come from its price file."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("cost_model", ROOT / "scripts/cost_model.py")
cost_model = importlib.util.module_from_spec(_spec)
sys.modules["cost_model"] = cost_model  # dataclasses look their module up while the class is created
_spec.loader.exec_module(cost_model)

BOOK = cost_model.load_prices()
DEPLOYMENT = cost_model.Deployment(
    architecture="arm64",
    memory_mb={"connect": 256, "disconnect": 256, "message": 1024, "authorizer": 256},
    reserved_concurrency={"connect": 25, "disconnect": 10, "message": 100, "authorizer": 25},
    account_concurrency=1000,
    proxy_max_connections_percent=90,
    db_pool_min=1,
)
GB_SECOND = 0.0000133334
SONNET = {"input": 3.0, "output": 15.0, "cache_read": 0.30, "cache_write": 3.75}  # DEFAULT_MODEL_PRICES


def usage(**overrides):
    values = dict(
        turns=2,
        handler_s=1.0,
        trace_export_s=0.2,
        trace_bytes=4096,
        model_calls=2,
        input_tokens=3000,
        cacheable_prefix_tokens=2000,
        output_tokens=120,
        messages_in=2,
        messages_out=10,
        bytes_out=5000,
        read_units=3,
        write_units=20,
    )
    return cost_model.ConversationUsage(**{**values, **overrides})


# -- what one request, frame or millisecond is billed as ---------------------------------------------------


@pytest.mark.parametrize(("size", "messages"), [(0, 1), (120, 1), (32 * 1024, 1), (32 * 1024 + 1, 2), (65 * 1024, 3)])
def test_a_frame_is_billed_per_started_32_kb(size, messages):
    assert cost_model.websocket_messages(size) == messages


@pytest.mark.parametrize(("size", "requests"), [(1, 1), (64 * 1024, 1), (64 * 1024 + 1, 2), (256 * 1024, 4)])
def test_an_sqs_message_is_billed_per_started_64_kb(size, requests):
    assert cost_model.sqs_requests(size) == requests


def test_lambda_duration_is_rounded_up_to_the_millisecond():
    assert cost_model.billed_seconds(0.0101) == 0.011
    assert cost_model.billed_seconds(0.05) == 0.05


def test_item_size_counts_names_and_values_typed_or_plain():
    typed = {"PK": {"S": "abc"}, "n": {"N": "12345"}, "ok": {"BOOL": True}, "blob": {"B": b"\x00" * 10}}
    # PK 2 + 3; n 1 + (5 digits // 2 + 1); ok 2 + 1; blob 4 + 10
    assert cost_model.item_size(typed) == 5 + 4 + 3 + 14
    assert cost_model.item_size({"PK": "abc", "n": 12345, "ok": True, "blob": b"\x00" * 10}) == 5 + 4 + 3 + 14
    assert cost_model.item_size({"m": {"M": {"a": {"S": "xy"}}}}) == 1 + 3 + 1 + 1 + 2


def _item(size: int) -> dict:
    return {"PK": {"S": "k"}, "data": {"B": b"x" * (size - 7)}}  # 2 + 1 + 4 + (size - 7) bytes


def test_reads_are_4_kb_units_halved_when_eventually_consistent():
    units = cost_model.dynamodb_request_units
    assert units("GetItem", {"ConsistentRead": True}, {"Item": _item(5000)}) == (2, 0)
    assert units("GetItem", {}, {"Item": _item(5000)}) == (1, 0)
    assert units("GetItem", {}, {}) == (0.5, 0)  # a miss still costs the minimum
    # a Query rounds the sum of what it read, not each item
    assert units("Query", {"ConsistentRead": True}, {"Items": [_item(1500)] * 3}) == (2, 0)
    assert units("TransactGetItems", {}, {"Responses": [{"Item": _item(100)}]}) == (2, 0)


def test_writes_are_1_kb_units_per_item_and_transactions_cost_twice():
    units = cost_model.dynamodb_request_units
    assert units("PutItem", {"Item": _item(1024)}, {}) == (0, 1)
    assert units("PutItem", {"Item": _item(1025)}, {}) == (0, 2)
    batch = {"RequestItems": {"t": [{"PutRequest": {"Item": _item(2500)}}, {"DeleteRequest": {"Key": {}}}]}}
    assert units("BatchWriteItem", batch, {}) == (0, 3 + 1)
    transaction = {"TransactItems": [{"Put": {"Item": _item(100)}}, {"Update": {"Key": {"PK": {"S": "k"}}}}]}
    assert units("TransactWriteItems", transaction, {}) == (0, 2 + 2)
    assert units("UpdateItem", {"Key": {"PK": {"S": "k"}}, "ExpressionAttributeValues": {":v": {"N": "1"}}}, {}) == (
        0,
        1,
    )
    assert units("DescribeTable", {}, {}) == (0, 0)


# -- Bedrock ----------------------------------------------------------------------------------------------


def test_cache_reads_are_priced_at_the_cache_read_price():
    assumptions = cost_model.Assumptions(bedrock_model_id="global.anthropic.claude-sonnet-4-6")
    # 2 calls, a 1,000-token prefix each: the first writes it, the second reads it
    assert cost_model.bedrock_tokens(usage(), caching=True) == {
        "input": 1000,
        "cache_write": 1000,
        "cache_read": 1000,
        "output": 120,
    }
    cached = cost_model.bedrock_cost(usage(), BOOK, assumptions, caching=True)
    expected = (1000 * SONNET["input"] + 1000 * SONNET["cache_write"] + 1000 * SONNET["cache_read"]) / 1e6
    assert cached == pytest.approx(expected + 120 * SONNET["output"] / 1e6)
    uncached = cost_model.bedrock_cost(usage(), BOOK, assumptions, caching=False)
    assert uncached == pytest.approx((3000 * SONNET["input"] + 120 * SONNET["output"]) / 1e6)


def test_a_geographic_inference_profile_costs_the_premium_over_the_global_price():
    us = cost_model.bedrock_cost(usage(), BOOK, cost_model.Assumptions(), caching=False)
    global_ = cost_model.bedrock_cost(
        usage(), BOOK, cost_model.Assumptions(bedrock_model_id="global.anthropic.claude-sonnet-4-6"), caching=False
    )
    assert us == pytest.approx(global_ * BOOK.prices["bedrock_geographic_premium"].usd)


# -- a conversation ---------------------------------------------------------------------------------------


def test_a_conversation_is_priced_line_by_line():
    assumptions = cost_model.Assumptions(model_first_token_s=1.0, model_output_tokens_per_s=60, think_time_s=20)
    cost = cost_model.conversation_cost(usage(trace_handoff_s=0.02), BOOK, DEPLOYMENT, assumptions)
    lines = cost["lines_usd"]
    # handler 1.0 s minus the 0.02 s hand-off, plus the model: 2 calls x 1 s + 120 tokens at 60 a second
    assert cost["quantities"]["message_function_s"] == pytest.approx(0.98 + 4.0)
    assert lines["lambda_message_gb_seconds"] == pytest.approx(4.98 * 1 * GB_SECOND)
    assert lines["lambda_other_functions_gb_seconds"] == pytest.approx(3 * 0.05 * 0.25 * GB_SECOND)
    assert lines["lambda_requests"] == pytest.approx((2 + 3) * 0.20 / 1e6)
    assert lines["websocket_messages"] == pytest.approx(12 * 1.00 / 1e6)
    # open for the handler's 1.0 s, the model's 4.0 s and 2 think times: 45 s, billed as one minute
    assert cost["quantities"]["connection_minutes"] == 1
    assert lines["websocket_connection_minutes"] == pytest.approx(0.25 / 1e6)
    assert lines["dynamodb_request_units"] == pytest.approx(3 * 0.125 / 1e6 + (20 + 2) * 0.625 / 1e6)
    # the hand-off's share of the message function, the queue, the forwarder (0.2 s at 256 MB), the MLflow endpoint
    sqs = 2 * (1 + 2 / 10) * 0.40 / 1e6
    forwarder = 0.2 * 0.25 * GB_SECOND + 2 / 10 * 0.20 / 1e6
    assert lines["trace_pipeline"] == pytest.approx(0.02 * GB_SECOND + sqs + forwarder + 4096 / 1024**3 * 0.01)
    assert cost["usd"] == pytest.approx(sum(lines.values()))
    assert cost["usd_without_prompt_caching"] > cost["usd"]


def test_the_connection_is_billed_per_started_minute():
    longer = cost_model.conversation_cost(usage(turns=3), BOOK, DEPLOYMENT, cost_model.Assumptions(think_time_s=20))
    assert longer["quantities"]["connection_minutes"] == 2  # 65 s


def test_the_trace_pipeline_is_a_switch():
    sync = cost_model.trace_pipeline_cost(usage(), BOOK, DEPLOYMENT, cost_model.Assumptions(), "sync-mlflow")
    queued = cost_model.trace_pipeline_cost(usage(), BOOK, DEPLOYMENT, cost_model.Assumptions(), "sqs-forwarder")
    assert sync["message_function_s"] == 0.2 and queued["message_function_s"] == pytest.approx(2 * 0.01)
    measured = cost_model.trace_pipeline_cost(
        usage(trace_handoff_s=0.006), BOOK, DEPLOYMENT, cost_model.Assumptions(), "sqs-forwarder"
    )
    assert measured["message_function_s"] == 0.006  # the bench's measured hand-off, when there is one
    # 2 SendMessage + 2 x (receive + delete) / batch of 10; the forwarder at 256 MB for the export's time
    sqs = 2 * (1 + 2 / 10) * 0.40 / 1e6
    forwarder = 0.2 * 0.25 * GB_SECOND + 2 / 10 * 0.20 / 1e6
    handoff = 2 * 0.01 * GB_SECOND
    assert queued["usd"] == pytest.approx(sqs + forwarder + handoff + 4096 / 1024**3 * 0.01)
    with pytest.raises(ValueError, match="unknown trace pipeline"):
        cost_model.trace_pipeline_cost(usage(), BOOK, DEPLOYMENT, cost_model.Assumptions(), "kinesis")


def test_without_tracing_the_export_is_assumed():
    assumptions = cost_model.Assumptions(trace_export_s_unmeasured=0.3)
    cost = cost_model.trace_pipeline_cost(
        usage(trace_export_s=None, trace_bytes=None), BOOK, DEPLOYMENT, assumptions, "sync-mlflow"
    )
    assert cost["message_function_s"] == pytest.approx(0.6)


# -- sizing -----------------------------------------------------------------------------------------------


def test_sizing_spreads_each_conversation_over_its_length_and_names_what_binds_first():
    assumptions = cost_model.Assumptions(model_first_token_s=1.0, model_output_tokens_per_s=60, think_time_s=20)
    sizing = cost_model.sizing({"a": usage(trace_handoff_s=0.02)}, BOOK, DEPLOYMENT, assumptions, sizes=(10, 1000))
    seconds = 45.0  # as in test_a_conversation_is_priced_line_by_line
    busy = 4.98 + 0.02  # the message function, the hand-off included
    assert sizing["conversation"]["seconds"] == seconds
    assert sizing["10"]["message_function_concurrency"]["value"] == pytest.approx(round(10 * busy / seconds, 2))
    assert sizing["1000"]["message_function_concurrency"]["utilization"] == pytest.approx(
        round(1000 * busy / seconds / 100, 3)
    )
    # quota tokens: uncached input + cache write + 5 x output, per minute of conversation
    quota_tokens = 1000 + 1000 + 5 * 120
    assert sizing["10"]["bedrock_tokens_per_minute"]["value"] == pytest.approx(
        round(10 * quota_tokens * 60 / seconds, 2)
    )
    assert sizing["binds_at_conversations"]["bedrock_tokens_per_minute"] == int(200_000 / (quota_tokens * 60 / seconds))
    assert sizing["binds_first"]["metric"] == "bedrock_tokens_per_minute"
    # the RPM quota may no longer be enforced: shown, never named as the one that binds
    assert sizing["quotas"]["bedrock_requests_per_minute"]["enforced"] is False


def test_sizing_averages_the_suite_conversations_in_equal_parts():
    mix = cost_model.ConversationUsage.mean([usage(turns=2), usage(turns=4, trace_export_s=None)])
    assert mix.turns == 3 and mix.trace_export_s is None  # not measured in one: not measured


# -- the inputs it reads ------------------------------------------------------------------------------------


def test_memory_architecture_and_concurrency_come_from_the_terraform_defaults():
    deployment = cost_model.deployment_from_terraform()
    assert deployment.architecture in ("arm64", "x86_64")
    assert set(deployment.memory_mb) == {"connect", "disconnect", "message", "authorizer"}
    assert deployment.memory_mb["message"] >= 128 and deployment.reserved_concurrency["message"] > 0
    assert deployment.account_concurrency >= 10 and 0 < deployment.proxy_max_connections_percent <= 100
    assert f"lambda_gb_second_{deployment.architecture}" in BOOK.prices


def test_every_price_says_where_it_comes_from_and_assumptions_say_so():
    for price in [*BOOK.prices.values(), *BOOK.quotas.values()]:
        assert price.source, price.key
    for price in BOOK.prices.values():
        assert price.assumption == ("**assumption**" in price.source), price.key


@pytest.mark.parametrize(
    ("doc", "table"),
    [
        ("docs/performance.md", cost_model.price_table(BOOK, "conversation")),
        ("docs/performance.md", cost_model.quota_table(BOOK)),
        ("docs/idle-cost.md", cost_model.price_table(BOOK, "idle")),
    ],
)
def test_the_docs_show_the_price_file(doc, table):
    assert table in (ROOT / doc).read_text(), f"run `python scripts/cost_model.py --tables` and update {doc}"


def test_a_price_is_written_with_every_significant_decimal():
    price = replace(BOOK.prices["lambda_gb_second_arm64"])
    assert price.text() == "US$0.0000133334 per GB-second"
    assert BOOK.prices["lambda_request"].text() == "US$0.20 per 1M requests"
