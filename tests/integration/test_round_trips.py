"""SQL round trips per tool call, counted as `make bench` counts them (each statement, the BEGIN
psycopg2 sends before a transaction's first one, COMMIT/ROLLBACK): a confirmed write at most 5,
its dry run at most 3, a read 1. Counts, not times. What a write returns is what the database
holds after it, and its dry run previews exactly that."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from order_agent.db.dataset import export_dataset
from order_agent.db.pool import Database
from order_agent.tools import ToolRunner
from order_agent.tools.registry import REGISTRY, ToolKind

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from perf_common import Recorder, counting_connection_class  # scripts/ is not a package: on the path above

from .support.demo_calls import ANA, WRITE_CALLS

REFUSED = {  # a rule refuses each: the order is not in the status the write needs
    "cancel_pending_order": {"order_id": "#W1000002", "reason": "no longer needed"},
    "return_delivered_order_items": {"order_id": "#W1000001", "item_ids": ["8100000011"],
                                     "payment_method_id": "gift_card_1001002"},
}  # fmt: skip


@pytest.fixture
def counted(demo_db, demo_settings):
    """A runner whose connections count round trips: `counted(...)` runs a tool, returns (result, trips)."""
    recorder = Recorder()
    db = Database(demo_settings, connection_factory=counting_connection_class(recorder))
    runner = ToolRunner(db, demo_settings)

    def run(ctx, name, arguments, **options):
        with recorder.turn(name) as record:
            result = runner.run(ctx, name, arguments, **options)
        return result, record.counts["sql"]

    yield run
    db.close()


def _document(runner, ctx, name, arguments):
    read = ("get_user_details", {"user_id": ANA}) if name == "modify_user_address" else (
        "get_order_details", {"order_id": arguments["order_id"]})  # fmt: skip
    return runner.run(ctx, *read).content


def test_every_write_is_covered():
    assert set(WRITE_CALLS) == {name for name, d in REGISTRY.items() if d.kind is ToolKind.WRITE}


@pytest.mark.parametrize("name", WRITE_CALLS)
def test_a_write_costs_at_most_5_round_trips_and_its_dry_run_1(name, counted, runner, demo_db, new_ctx):
    ctx = new_ctx(ANA)
    before = export_dataset(demo_db)
    preview, dry_run_trips = counted(ctx, name, WRITE_CALLS[name], dry_run=True)
    assert preview.ok, preview.error_message
    assert export_dataset(demo_db) == before  # the dry run runs outside a transaction: it must change nothing
    result, write_trips = counted(ctx, name, WRITE_CALLS[name], idempotency_key="confirmed")
    assert result.ok, result.error_message
    retried, retry_trips = counted(ctx, name, WRITE_CALLS[name], idempotency_key="confirmed")
    assert retried.replayed and retried.content == result.content
    assert (dry_run_trips, write_trips, retry_trips) == (1, 5, 4)  # the retry: BEGIN, claim, earlier result, COMMIT
    assert result.content == preview.content == _document(runner, ctx, name, WRITE_CALLS[name])


@pytest.mark.parametrize("name", REFUSED)
def test_a_refused_write_and_its_dry_run_cost_no_more(name, counted, new_ctx):
    ctx = new_ctx(ANA)
    refused, dry_run_trips = counted(ctx, name, REFUSED[name], dry_run=True)
    assert not refused.ok and refused.error_code == "invalid_request"
    refused, write_trips = counted(ctx, name, REFUSED[name])
    assert not refused.ok and refused.error_code == "invalid_request"
    assert (dry_run_trips, write_trips) == (1, 4)  # BEGIN, claim and lock, read, ROLLBACK


def test_a_handoff_and_a_read_cost_4_and_1(counted, new_ctx):
    ctx = new_ctx(ANA)
    assert counted(ctx, "transfer_to_human_agents", {"summary": "help"})[1] == 4
    assert counted(ctx, "get_order_details", {"order_id": "#W1000001"})[1] == 1
