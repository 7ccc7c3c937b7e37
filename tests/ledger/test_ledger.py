"""The ledger on SQLite and on a real PostgreSQL server: rows, sums, savings, never a lost call."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from rag.cache_planner import CacheMark
from rag.errors import LedgerUnavailable
from rag.ledger import Ledger, database_url
from rag.pricing import default_price_table
from rag.prompt import LayeredPrompt, build_prompt, prefix_boundaries
from rag.types import CacheLayer, CallRecord, Chunk, Feature, Usage

HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)
PREFIXES = {CacheLayer.SYSTEM: 1_000, CacheLayer.DOCUMENTS: 5_000}


def call(
    minute: float = 0,
    *,
    feature: Feature = Feature.ASK,
    model: str = "claude-sonnet-4-6",
    started_at: datetime | None = None,
    **usage: int,
) -> CallRecord:
    return CallRecord(
        feature=feature,
        model=model,
        usage=Usage(**usage),
        started_at=started_at or HOUR_AGO + timedelta(minutes=minute),
        latency_ms=800.0,
        time_to_first_token_ms=120.0,
        request_id=f"req_{minute}",
        conversation_id="conv-1",
        layer_prefix_tokens=PREFIXES,
    )


def test_summary_sums_tokens_and_money_by_feature_and_model(ledger: Ledger) -> None:
    ledger.record(
        call(0, input_tokens=1_000, cache_creation_5m_input_tokens=5_000, output_tokens=300)
    )
    ledger.record(call(1, input_tokens=40, cache_read_input_tokens=5_000, output_tokens=200))
    ledger.record(
        call(2, feature=Feature.ROUTE, model="claude-haiku-4-5", input_tokens=600, output_tokens=10)
    )

    summary = ledger.summary()

    totals = summary.totals
    assert totals.calls == 3
    assert totals.input_tokens == 1_640
    assert totals.cache_creation_input_tokens == 5_000
    assert totals.cache_read_input_tokens == 5_000
    assert totals.output_tokens == 510
    # sonnet: 1000*3 + 5000*3.75 + 300*15 = 26,250; 40*3 + 5000*0.3 + 200*15 = 4,620
    # haiku: 600*1 + 10*5 = 650 (micro-dollars)
    assert totals.cost_usd == pytest.approx(0.031520)
    # sonnet without cache: 6000*3 + 4500 = 22,500; 5040*3 + 3000 = 18,120; haiku 650
    assert totals.cost_without_cache_usd == pytest.approx(0.041270)
    assert totals.saved_usd == pytest.approx(0.041270 - 0.031520)
    assert set(summary.groups["feature"]) == {"ask", "route"}
    assert summary.groups["feature"]["ask"].calls == 2
    assert summary.groups["model"]["claude-haiku-4-5"].cost_usd == pytest.approx(0.000650)


def test_two_hundred_concurrent_records_give_two_hundred_rows(ledger: Ledger) -> None:
    start = threading.Barrier(200)

    def record_one(index: int) -> None:
        start.wait()
        ledger.record(call(index / 10, input_tokens=10, output_tokens=index))

    threads = [threading.Thread(target=record_one, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    totals = ledger.summary().totals
    assert totals.calls == 200
    assert totals.output_tokens == sum(range(200))
    assert ledger.requests(limit=1)[1] == 200


def test_a_call_recorded_as_the_process_stops_is_kept(ledger_url: str) -> None:
    first = Ledger.open(ledger_url)
    # A stream cut short: its usage so far is recorded, then the service shuts down at once.
    first.record(call(0, input_tokens=500, output_tokens=7))
    first.close()

    reopened = Ledger.open(ledger_url)
    try:
        rows, total = reopened.requests()
        assert total == 1
        assert rows[0].output_tokens == 7
    finally:
        reopened.close()


def test_record_returns_while_the_database_is_locked(tmp_path: Path) -> None:
    url = database_url(tmp_path, None)
    ledger = Ledger.open(url)
    blocker = create_engine(url, isolation_level="AUTOCOMMIT").connect()
    blocker.exec_driver_sql("BEGIN EXCLUSIVE")
    try:
        ledger.record(call(0, input_tokens=1, output_tokens=1))
        # record() came back with the database locked; the row waits in the queue.
        with pytest.raises(LedgerUnavailable, match="1 ledger rows not written"):
            ledger.flush(timeout_seconds=0.2)
    finally:
        blocker.exec_driver_sql("ROLLBACK")
        blocker.close()
    assert ledger.summary().totals.calls == 1
    ledger.close()


def test_write_read_back_is_not_wasted_and_write_never_read_is(ledger: Ledger) -> None:
    ledger.record(call(0, input_tokens=50, cache_creation_5m_input_tokens=5_000))
    ledger.record(call(2, input_tokens=50, cache_read_input_tokens=5_000))
    # A second write on another model that nothing reads within its five minutes.
    ledger.record(
        call(10, model="claude-haiku-4-5", input_tokens=50, cache_creation_5m_input_tokens=4_096)
    )

    wasted = ledger.summary().wasted_writes
    assert wasted.calls == 1
    assert wasted.tokens == 4_096
    assert wasted.usd == pytest.approx(4_096 * 0.25 / 1e6)  # haiku's write premium
    rows, _ = ledger.requests()
    by_request = {row.request_id: row for row in rows}
    assert by_request["req_0"].cache_write_read_back_tokens == 5_000
    assert by_request["req_0"].saved_usd == pytest.approx(-5_000 * 0.75 / 1e6)
    assert by_request["req_2"].saved_usd == pytest.approx(5_000 * 2.7 / 1e6)


def test_a_read_recorded_before_the_write_it_read_still_counts(ledger: Ledger) -> None:
    # The reading call finished first: its row arrives before the writer's.
    ledger.record(call(1, input_tokens=50, cache_read_input_tokens=5_000))
    ledger.record(call(0, input_tokens=50, cache_creation_5m_input_tokens=4_000))

    assert ledger.summary().wasted_writes.tokens == 0


def test_layer_hit_is_inferred_from_the_prefix_lengths(ledger: Ledger) -> None:
    ledger.record(call(0, cache_read_input_tokens=1_000, cache_creation_5m_input_tokens=4_000))
    ledger.record(call(1, cache_read_input_tokens=5_000))
    ledger.record(call(2, input_tokens=6_000))

    layers = {row.request_id: row.layer_hit for row in ledger.requests()[0]}
    assert layers == {"req_0": "system", "req_1": "documents", "req_2": "none"}
    stats = {s.layer: s for s in ledger.layer_stats()}
    assert (stats["system"].hits, stats["system"].eligible_calls) == (2, 3)
    assert (stats["documents"].hits, stats["documents"].eligible_calls) == (1, 3)
    assert stats["documents"].saved_usd == pytest.approx(4_000 * 2.7 / 1e6 - 4_000 * 0.75 / 1e6)


def test_answer_cache_hit_records_the_cost_it_avoided(ledger: Ledger) -> None:
    avoided = Usage(input_tokens=100, cache_read_input_tokens=5_000, output_tokens=200)
    ledger.record(
        CallRecord(
            feature=Feature.ASK,
            model="claude-sonnet-4-6",
            usage=Usage(),
            started_at=HOUR_AGO,
            latency_ms=3.0,
            layer_hit=CacheLayer.ANSWER,
            avoided_usage=avoided,
        )
    )

    totals = ledger.summary().totals
    assert totals.cost_usd == 0
    assert totals.answer_cache_hits == 1
    assert totals.avoided_cost_usd == pytest.approx((300 + 1_500 + 3_000) / 1e6)
    assert totals.saved_usd == pytest.approx((5_100 * 3 + 3_000) / 1e6)
    answer = next(s for s in ledger.layer_stats() if s.layer == "answer")
    assert (answer.hits, answer.eligible_calls) == (1, 1)


def test_miss_reasons_carry_the_tokens_and_money_lost(ledger: Ledger) -> None:
    for minute in (0, 1):
        ledger.record(
            CallRecord(
                feature=Feature.ASK,
                model="claude-sonnet-4-6",
                usage=Usage(input_tokens=3_000),
                started_at=HOUR_AGO + timedelta(minutes=minute),
                latency_ms=1.0,
                cache_miss_reason="system_changed",
                cache_missed_input_tokens=3_000,
            )
        )

    (reason,) = ledger.miss_reasons()
    assert (reason.reason, reason.calls, reason.missed_tokens) == ("system_changed", 2, 6_000)
    assert reason.lost_usd == pytest.approx(2 * 3_000 * 2.7 / 1e6)


def test_unpriced_calls_are_counted_apart_never_as_zero(ledger: Ledger) -> None:
    ledger.record(call(0, model="claude-mythos-5", input_tokens=1_000, output_tokens=10))
    ledger.record(call(1, input_tokens=1_000))

    summary = ledger.summary()
    assert summary.totals.unpriced_calls == 1
    assert summary.totals.cost_usd == pytest.approx(0.003)
    (row,) = ledger.requests(model="claude-mythos-5")[0]
    assert (row.price_source, row.cost_usd, row.saved_usd) == ("unpriced", None, None)


def test_since_until_and_grouping_by_day(ledger: Ledger) -> None:
    two_days_ago = datetime(2026, 11, 1, 12, tzinfo=UTC)
    ledger.record(call(started_at=two_days_ago, input_tokens=1))
    ledger.record(call(started_at=two_days_ago + timedelta(days=1), input_tokens=2))
    ledger.record(call(started_at=two_days_ago + timedelta(days=1, hours=1), input_tokens=4))

    days = ledger.summary(group_by=["day"]).groups["day"]
    assert {day: sums.input_tokens for day, sums in days.items()} == {
        "2026-11-01": 1,
        "2026-11-02": 6,
    }
    window = ledger.summary(
        since=two_days_ago + timedelta(hours=1), until=two_days_ago + timedelta(days=1, minutes=30)
    )
    assert window.totals.input_tokens == 2


def test_requests_are_paged_newest_first_or_by_cost(ledger: Ledger) -> None:
    for minute in range(5):
        ledger.record(call(minute, input_tokens=1_000 * (5 - minute)))

    first, total = ledger.requests(limit=2)
    second, _ = ledger.requests(limit=2, offset=2)
    assert total == 5
    assert [row.request_id for row in first + second] == ["req_4", "req_3", "req_2", "req_1"]
    priciest, _ = ledger.requests(limit=1, most_expensive=True)
    assert priciest[0].request_id == "req_0"


def test_migrations_run_once_and_reopening_keeps_the_rows(ledger_url: str) -> None:
    first = Ledger.open(ledger_url)
    first.record(call(0, input_tokens=1))
    first.close()
    second = Ledger.open(ledger_url)
    second.close()

    engine = create_engine(ledger_url)
    try:
        assert {"ledger_calls", "strata_ledger_version"} <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM ledger_calls")).scalar() == 1
    finally:
        engine.dispose()


def test_routing_to_a_cheaper_model_records_what_it_saved(ledger: Ledger) -> None:
    ledger.record(
        CallRecord(
            feature=Feature.ASK,
            model="claude-haiku-4-5",
            usage=Usage(input_tokens=1_000, output_tokens=100),
            started_at=HOUR_AGO,
            latency_ms=1.0,
            routed_from_model="claude-sonnet-4-6",
        )
    )

    totals = ledger.summary().totals
    # sonnet 1000 * 3 + 100 * 15 = 4,500; haiku 1000 * 1 + 100 * 5 = 1,500 (micro-dollars)
    assert totals.routing_saved_usd == pytest.approx(0.003)
    assert totals.routed_calls == 1
    (row,) = ledger.requests()[0]
    assert row.routed_from_model == "claude-sonnet-4-6"


def _prompt_call(minute: float, prompt: LayeredPrompt, **usage: int) -> CallRecord:
    return replace(
        call(minute, model="claude-sonnet-5-5", **usage),
        request_id=f"req_{minute}",
        prefix_fingerprints=tuple(prefix_boundaries(prompt)),
    )


def _documents_prompt(name: str) -> LayeredPrompt:
    chunks = [
        Chunk(f"{name}-{i}", name, f"{name}.md", name, f"{name} text {i} " * 200, (), i, 0, 0)
        for i in range(3)
    ]
    return build_prompt(chunks, [], "q?", {CacheLayer.DOCUMENTS: CacheMark()})


def test_a_write_is_read_back_only_by_a_read_of_the_same_prefix(ledger: Ledger) -> None:
    unread, other = _documents_prompt("alpha"), _documents_prompt("beta")
    unread_tokens = unread.layer_prefix_tokens[CacheLayer.DOCUMENTS]
    other_tokens = other.layer_prefix_tokens[CacheLayer.DOCUMENTS]
    # alpha's block is written and never asked for again; beta's is written and read, with a
    # read longer than alpha's write on the same model within its TTL.
    ledger.record(
        _prompt_call(0, unread, input_tokens=9, cache_creation_5m_input_tokens=unread_tokens)
    )
    ledger.record(
        _prompt_call(1, other, input_tokens=9, cache_creation_5m_input_tokens=other_tokens)
    )
    ledger.record(_prompt_call(2, other, input_tokens=9, cache_read_input_tokens=other_tokens))

    wasted = ledger.summary().wasted_writes
    assert wasted.calls == 1
    assert wasted.tokens == unread_tokens
    rates = default_price_table().rates_for("claude-sonnet-5-5")
    assert rates is not None
    premium = float(rates.cache_write_5m_per_mtok - rates.input_per_mtok)
    assert wasted.usd == pytest.approx(unread_tokens * premium / 1e6)
    rows, _ = ledger.requests()
    by_request = {row.request_id: row for row in rows}
    assert by_request["req_0"].cache_write_read_back_tokens == 0
    assert by_request["req_1"].cache_write_read_back_tokens == other_tokens

    # A later read of alpha's prefix, within the TTL, is credited to alpha's write.
    ledger.record(_prompt_call(3, unread, input_tokens=9, cache_read_input_tokens=unread_tokens))
    assert ledger.summary().wasted_writes.tokens == 0
