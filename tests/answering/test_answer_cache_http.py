"""The answer cache over HTTP: a hit keeps its conversation whole, a moved corpus stores nothing."""

import threading

import httpx

from tests.answering.conftest import UpstreamMonitor
from tests.answering.test_ask_http import ask_json
from tests.jobs import wait_for_job

QUESTION = "How do bees make honey?"
FOLLOW_UP = "Can you say more about that?"


def _upload(client: httpx.Client, name: str, text: str) -> str:
    response = client.post("/v1/documents", files=[("files", (name, text.encode(), "text/plain"))])
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["jobs"][0]["id"], timeout=60)
    assert job["status"] == "done", job
    return str(job["document_id"])


def test_a_follow_up_after_an_answer_cache_hit_goes_on_over_the_same_documents(
    client: httpx.Client,
):
    called = ask_json(client, QUESTION)
    called_follow_up = ask_json(client, FOLLOW_UP, conversation_id=called["conversation_id"])
    hit = ask_json(client, QUESTION)
    assert hit["answer_cached"] is True
    assert hit["conversation_id"] != called["conversation_id"]

    follow_up = ask_json(client, FOLLOW_UP, conversation_id=hit["conversation_id"])
    answered_over = {s["chunk_id"] for s in called["sources"]}
    # Grounded as if the conversation had opened with the call: the same documents block...
    assert {s["chunk_id"] for s in follow_up["sources"]} >= answered_over
    assert follow_up["sources"][: len(answered_over)] == called["sources"]
    assert follow_up["sources"] == called_follow_up["sources"]
    # ...in the same bytes, so it reads what the answering call wrote to the cache.
    assert called["usage"]["cache_creation_input_tokens"] > 0
    assert (
        follow_up["usage"]["cache_read_input_tokens"]
        >= (called["usage"]["cache_creation_input_tokens"])
    )


def test_an_answer_is_not_kept_when_the_corpus_changed_during_its_call(
    client: httpx.Client, monitor: UpstreamMonitor
):
    monitor.gate.clear()
    answered: list[dict] = []
    asking = threading.Thread(target=lambda: answered.append(ask_json(client, QUESTION)))
    asking.start()
    try:
        monitor.wait_for_requests(1)
        # While Claude answers, a document arrives and leaves again: the corpus version moves
        # away and back, so a stored answer would be served under the version it started on.
        document_id = _upload(client, "harbours.txt", "Harbour pilots guide ships into port. " * 20)
        assert client.delete(f"/v1/documents/{document_id}").status_code in (200, 204)
    finally:
        monitor.gate.set()
        asking.join(60)
    assert [a["answer_cached"] for a in answered] == [False]

    again = ask_json(client, QUESTION)
    assert again["answer_cached"] is False
    assert again["usage"]["output_tokens"] > 0
    assert ask_json(client, QUESTION)["answer_cached"] is True
