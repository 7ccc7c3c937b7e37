"""The poller survives restarts: a batch is collected by the next process, and recorded once."""

import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.batches.conftest import ALL_CHUNKS, QUESTIONS, asked, batch_rows, recorded, submit


def test_a_batch_submitted_before_a_restart_is_collected_after_it_and_recorded_once(
    settings_for: Callable[..., Settings], corpus_home: Path
):
    # The first process never polls again after start-up: it stops with the batch unseen.
    with (
        serve_in_thread(create_app(settings_for(batch_poll_seconds=3600))) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        batch = submit(http, {"questions": asked(QUESTIONS), "top_k": ALL_CHUNKS})
        assert http.get(f"/v1/batches/{batch['id']}").json()["status"] == "in_progress"

    with (
        serve_in_thread(create_app(settings_for())) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        assert recorded(http, batch["id"])["request_counts"]["succeeded"] == len(QUESTIONS)
        first_rows = batch_rows(http)
    assert len(first_rows) == len(QUESTIONS)

    # A process killed after its ledger rows were written but before it marked the batch
    # recorded leaves exactly this state behind.
    with sqlite3.connect(corpus_home / "strata.sqlite3") as db:
        db.execute("UPDATE batches SET recorded = 0 WHERE id = ?", (batch["id"],))

    with (
        serve_in_thread(create_app(settings_for())) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        recorded(http, batch["id"])
        rows = batch_rows(http)
        results = http.get(f"/v1/batches/{batch['id']}/results").json()["results"]
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in first_rows)
    assert len({r["request_id"] for r in rows}) == len(QUESTIONS)
    assert [r["status"] for r in results] == ["succeeded"] * len(QUESTIONS)


def test_a_batch_the_api_no_longer_knows_does_not_hold_up_the_others(
    settings_for: Callable[..., Settings],
):
    # The emulator keeps batches per API key: after the key changes, the old batch is a 404.
    with (
        serve_in_thread(
            create_app(settings_for(anthropic_api_key="old-key", batch_poll_seconds=3600))
        ) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        lost = submit(http, {"questions": asked(QUESTIONS[:1]), "top_k": ALL_CHUNKS})

    with (
        serve_in_thread(create_app(settings_for(anthropic_api_key="new-key"))) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        kept = submit(http, {"questions": asked(QUESTIONS[:1]), "top_k": ALL_CHUNKS})
        assert recorded(http, kept["id"])["status"] == "ended"
        assert http.get(f"/v1/batches/{lost['id']}").json()["status"] == "in_progress"
        assert len(batch_rows(http)) == 1
