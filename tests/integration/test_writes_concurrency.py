"""Writes under retries, races and outages: applied exactly once, and failures stay structured."""

from __future__ import annotations

import threading
import time

import pytest

from order_agent.db.dataset import export_dataset
from order_agent.db.migrate import apply_role_timeouts
from order_agent.db.pool import Database
from order_agent.settings import Settings
from order_agent.tools import ConversationContext, ToolRunner

BEN = "ben_okafor_1002"
CANCEL = {"order_id": "#W1000004", "reason": "no longer needed"}


def _refunds(db):
    with db.transaction() as cur:
        cur.execute(
            "SELECT count(*) AS n FROM order_payments WHERE order_id = '#W1000004' AND transaction_type = 'refund'"
        )
        refunds = cur.fetchone()["n"]
        cur.execute("SELECT balance FROM payment_methods WHERE payment_method_id = 'gift_card_1002002'")
        return refunds, float(cur.fetchone()["balance"])


def _race(callables):
    """Run the callables at the same moment on their own threads; return their results."""
    barrier = threading.Barrier(len(callables))
    results = [None] * len(callables)

    def run(i, fn):
        barrier.wait(timeout=30)
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(callables)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_conversations_cancelling_the_same_order_at_once(demo_db, demo_settings):
    # Separate pools: two Lambda processes, two connections, one order.
    pools = [Database(demo_settings), Database(demo_settings)]
    try:
        runners = [ToolRunner(pool, demo_settings) for pool in pools]
        contexts = [ConversationContext(session_id=f"race-{i}", customer_id=BEN) for i in range(2)]
        results = _race([lambda i=i: runners[i].run(contexts[i], "cancel_pending_order", CANCEL) for i in range(2)])
    finally:
        for pool in pools:
            pool.close()
    assert sorted(r.ok for r in results) == [False, True]
    loser = next(r for r in results if not r.ok)
    assert loser.error_message == "Non-pending order cannot be cancelled"
    assert _refunds(demo_db) == (1, pytest.approx(10 + 36.8))


def test_a_retried_write_returns_the_first_result_and_changes_nothing(runner, demo_db, new_ctx):
    ctx = new_ctx(BEN)
    first = runner.run(ctx, "cancel_pending_order", CANCEL, idempotency_key="msg-42")
    after_first = export_dataset(demo_db)
    retry = runner.run(ctx, "cancel_pending_order", CANCEL, idempotency_key="msg-42")
    assert first.ok and retry.ok
    assert (first.replayed, retry.replayed) == (False, True)
    assert retry.content == first.content
    assert export_dataset(demo_db) == after_first
    assert _refunds(demo_db) == (1, pytest.approx(46.8))


def _order_city(db):
    with db.transaction() as cur:
        cur.execute("SELECT city FROM orders WHERE order_id = '#W1000004'")
        return cur.fetchone()["city"]


def test_without_a_key_a_retry_from_the_saved_state_is_recognised(runner, demo_db, new_ctx):
    ctx = new_ctx(BEN)
    saved = ctx.model_copy()  # the conversation state persisted before the write
    address = {"order_id": "#W1000004", "address1": "1 A St", "address2": "", "city": "Albany", "state": "NY",
               "country": "USA", "zip": "12207"}  # fmt: skip
    first = runner.run(ctx, "modify_pending_order_address", address)
    retry = runner.run(saved, "modify_pending_order_address", address)  # e.g. a Lambda retry after a crash
    assert (first.replayed, retry.replayed) == (False, True)
    assert retry.content == first.content
    with demo_db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM tool_writes WHERE session_id = %s", (ctx.session_id,))
        assert cur.fetchone()["n"] == 1


def test_without_a_key_a_later_identical_request_is_a_new_write(runner, demo_db, new_ctx):
    # "ship it to Albany" - "no, to Buffalo" - "sorry, Albany after all": the third must apply.
    ctx = new_ctx(BEN)
    albany = {"order_id": "#W1000004", "address1": "1 A St", "address2": "", "city": "Albany", "state": "NY",
              "country": "USA", "zip": "12207"}  # fmt: skip
    buffalo = {**albany, "city": "Buffalo", "zip": "14201"}
    for arguments in (albany, buffalo, albany):
        result = runner.run(ctx, "modify_pending_order_address", arguments)
        assert result.ok and not result.replayed
        assert _order_city(demo_db) == arguments["city"]
    assert ctx.write_count == 3


def test_the_same_key_sent_twice_at_once_applies_once(demo_db, demo_settings):
    pools = [Database(demo_settings), Database(demo_settings)]
    try:
        ctx = ConversationContext(session_id="dup", customer_id=BEN)
        results = _race([
            lambda p=p: ToolRunner(p, demo_settings).run(ctx.model_copy(), "cancel_pending_order", CANCEL,
                                                          idempotency_key="dup-1")
            for p in pools
        ])  # fmt: skip
    finally:
        for pool in pools:
            pool.close()
    assert all(r.ok for r in results)
    assert sorted(r.replayed for r in results) == [False, True]
    assert _refunds(demo_db) == (1, pytest.approx(46.8))


def test_a_key_reused_for_another_action_is_refused(runner, demo_db, new_ctx):
    ctx = new_ctx(BEN)
    assert runner.run(ctx, "cancel_pending_order", CANCEL, idempotency_key="k").ok
    before = export_dataset(demo_db)
    other = runner.run(ctx, "modify_pending_order_payment", {"order_id": "#W1000004",
                                                              "payment_method_id": "paypal_1002001"},
                       idempotency_key="k")  # fmt: skip
    assert other.error_code == "idempotency_conflict"
    # nor can another conversation read the stored result through the key
    stranger = runner.run(new_ctx(BEN), "cancel_pending_order", CANCEL, idempotency_key="k")
    assert stranger.error_code == "idempotency_conflict" and stranger.content is None
    assert export_dataset(demo_db) == before


def test_a_failed_write_leaves_no_key_behind(runner, demo_db, new_ctx):
    ctx = new_ctx(BEN)
    bad = {"order_id": "#W1000005", "reason": "no longer needed"}  # already cancelled
    assert runner.run(ctx, "cancel_pending_order", bad, idempotency_key="k2").error_code == "invalid_request"
    with demo_db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM tool_writes")
        assert cur.fetchone()["n"] == 0


def test_a_database_outage_is_a_retryable_tool_error(tmp_path):
    settings = Settings(database_url=f"postgresql://postgres@/postgres?host={tmp_path}", db_connect_timeout_s=1)
    runner = ToolRunner(Database(settings), settings)
    ctx = ConversationContext(session_id="outage", customer_id=BEN)
    for name, arguments in [("get_order_details", {"order_id": "#W1000004"}), ("cancel_pending_order", CANCEL),
                            ("find_user_id_by_email", {"email": "ben.okafor@example.com"})]:  # fmt: skip
        result = runner.run(ctx, name, arguments)
        assert (result.ok, result.error_code, result.retryable) == (False, "unavailable", True)
    assert ctx.customer_id == BEN  # nothing about the conversation changed


def test_connections_killed_by_the_server_are_replaced(runner, demo_db, new_ctx):
    ctx = new_ctx(BEN)
    assert runner.run(ctx, "get_order_details", {"order_id": "#W1000004"}).ok
    with demo_db.transaction() as cur:  # a failover or a restart: every other connection dies
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    result = runner.run(ctx, "get_order_details", {"order_id": "#W1000004"})
    assert result.ok, result.error_message


def test_a_thread_waits_for_a_pooled_connection_instead_of_failing(demo_db, demo_settings, new_ctx):
    # Threads of one process share the pool (the local gateway's handlers, like concurrent
    # Lambdas): when all connections are out, a tool call waits for one to come back. psycopg2's
    # own pool raised PoolError at once, which the customer saw as "the order database is busy".
    settings = demo_settings.model_copy(update={"db_pool_max": 1, "db_pool_wait_s": 30})
    db = Database(settings)
    runner = ToolRunner(db, settings)
    results = []
    try:
        with db.connection():  # the only connection is taken
            waiting = threading.Thread(
                target=lambda: results.append(runner.run(new_ctx(BEN), "get_order_details", {"order_id": "#W1000004"}))
            )
            waiting.start()
            time.sleep(0.5)  # the tool call is now waiting for the connection (not a timing assertion)
            assert not results
        waiting.join(30)
        assert [(r.ok, r.error_code) for r in results] == [(True, None)]
    finally:
        db.close()


def test_an_exhausted_pool_is_a_retryable_busy_error(demo_db, demo_settings, new_ctx):
    settings = demo_settings.model_copy(update={"db_pool_max": 1, "db_pool_wait_s": 0.2})
    db = Database(settings)
    runner = ToolRunner(db, settings)
    try:
        with db.connection():  # the only connection is taken
            result = runner.run(new_ctx(BEN), "get_order_details", {"order_id": "#W1000004"})
        assert (result.ok, result.error_code, result.retryable) == (False, "busy", True)
        assert runner.run(new_ctx(BEN), "get_order_details", {"order_id": "#W1000004"}).ok
    finally:
        db.close()


def test_a_lock_held_too_long_is_a_retryable_busy_error(demo_db, demo_settings, new_ctx):
    settings = demo_settings.model_copy(update={"db_lock_timeout_ms": 200})
    runner = ToolRunner(Database(settings), settings)
    apply_role_timeouts(runner.db)  # the role's lock_timeout, as migrate sets it: 200 ms from now on
    try:
        with demo_db.transaction() as cur:
            cur.execute("SELECT 1 FROM orders WHERE order_id = '#W1000004' FOR UPDATE")  # someone else's long write
            result = runner.run(new_ctx(BEN), "cancel_pending_order", CANCEL)
    finally:
        runner.db.close()
        apply_role_timeouts(demo_db)  # back to the session's settings
    assert (result.ok, result.error_code, result.retryable) == (False, "busy", True)
    assert _refunds(demo_db) == (0, pytest.approx(10.0))


def test_a_write_that_waited_for_the_order_checks_what_the_other_write_committed(demo_db, demo_settings, new_ctx):
    # The write reads the order in a statement after the one that locks it: a payment another
    # write added while this one waited is seen, and the rule "exactly one payment" refuses.
    runner = ToolRunner(Database(demo_settings), demo_settings)
    outcome = {}
    waiter = threading.Thread(
        target=lambda: outcome.update(result=runner.run(new_ctx("ana_lima_1001"), "modify_pending_order_payment",
                                                        {"order_id": "#W1000001",
                                                         "payment_method_id": "gift_card_1001002"}))
    )  # fmt: skip
    try:
        with demo_db.transaction() as cur:
            cur.execute("SELECT 1 FROM orders WHERE order_id = '#W1000001' FOR UPDATE")
            cur.execute(
                """INSERT INTO order_payments (order_id, position, user_id, transaction_type, amount, payment_method_id)
                   VALUES ('#W1000001', 1, 'ana_lima_1001', 'payment', 1, 'credit_card_1001001')"""
            )
            waiter.start()
            with demo_db.connection() as watcher:
                watcher.autocommit = True
                with watcher.cursor() as look:
                    for _ in range(200):  # until the write waits for this transaction's lock
                        look.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                        if look.fetchone()[0]:
                            break
                        time.sleep(0.02)
                    else:
                        pytest.fail("the write never waited for the lock")
        waiter.join(timeout=30)
    finally:
        runner.db.close()
    assert outcome["result"].error_message == "There should be exactly one payment for a pending order"
