"""Two `strata serve` processes behave as one service: whatever one did, the other knows."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx

from tests.replicas.conftest import Cluster
from tests.replicas.processes import Replica, wait_until

TOPICS = [
    "lighthouse",
    "sourdough",
    "glacier",
    "violin",
    "orchard",
    "volcano",
    "harbour",
    "comet",
    "beehive",
    "canyon",
    "tapestry",
    "monsoon",
    "lantern",
    "coral",
    "windmill",
    "falcon",
    "quarry",
    "meadow",
    "compass",
    "igloo",
]


def _file(topic: str) -> tuple[str, bytes, str]:
    # Long enough that the documents block of a few of them is worth caching.
    sentences = [f"Note {n} on the {topic}: it was studied again in season {n}." for n in range(60)]
    text = f"# The {topic}\n\n" + " ".join(sentences)
    return (f"{topic}.md", text.encode(), "text/markdown")


def _upload(http: httpx.Client, topics: list[str]) -> list[dict[str, Any]]:
    response = http.post("/v1/documents", files=[("files", _file(t)) for t in topics])
    assert response.status_code == 202, response.text
    jobs: list[dict[str, Any]] = response.json()["jobs"]
    assert [job["status"] for job in jobs] == ["queued"] * len(topics)
    return jobs


def _ended(http: httpx.Client, job_ids: list[str]) -> bool:
    statuses = [http.get(f"/v1/jobs/{job_id}").json()["status"] for job_id in job_ids]
    return all(status in ("done", "failed") for status in statuses)


def _ask(http: httpx.Client, question: str, **options: object) -> dict[str, Any]:
    response = http.post("/v1/ask", json={"question": question, "stream": False, **options})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_an_upload_on_one_replica_is_ingested_and_searchable_from_the_other(
    cluster: Cluster,
) -> None:
    a, b = cluster.replicas
    jobs = _upload(a.http, TOPICS[:4])
    ids = [job["id"] for job in jobs]
    wait_until(lambda: _ended(b.http, ids), 300, "jobs seen ended from the other replica")
    assert {b.http.get(f"/v1/jobs/{i}").json()["status"] for i in ids} == {"done"}

    hits = b.http.post("/v1/search", json={"query": "glacier notes", "top_k": 3}).json()
    assert hits["results"][0]["source"] == "glacier.md"
    documents = b.http.get("/v1/documents").json()
    assert a.http.get("/v1/documents").json() == documents
    assert sorted(d["source"] for d in documents["documents"]) == sorted(
        f"{t}.md" for t in TOPICS[:4]
    )


def test_an_answer_cached_by_one_replica_is_served_by_the_other(cluster: Cluster) -> None:
    a, b = cluster.replicas
    calls = len(cluster.emulator.usages())
    first = _ask(a.http, "What do the lighthouse notes say?")
    again = _ask(b.http, "what do the lighthouse notes say")
    assert (first["answer_cached"], again["answer_cached"]) == (False, True)
    assert again["answer"] == first["answer"]
    assert len(cluster.emulator.usages()) == calls + 1


def test_the_same_question_on_both_replicas_at_once_pays_claude_once(cluster: Cluster) -> None:
    calls = len(cluster.emulator.usages())
    answers: list[dict[str, Any]] = []

    def ask(replica_index: int) -> None:
        answers.append(
            _ask(cluster.replicas[replica_index].http, "Where was the sourdough studied?")
        )

    threads = [threading.Thread(target=ask, args=(n % 2,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4
    assert len(cluster.emulator.usages()) == calls + 1
    assert sorted(a["answer_cached"] for a in answers) == [False, True, True, True]
    assert len({a["answer"] for a in answers}) == 1


def _dry_run_layers(http: httpx.Client, question: str, conversation: str) -> dict[str, Any]:
    """The layers a dry run of question in conversation reports, by name."""
    body = {"question": question, "conversation_id": conversation, "dry_run": True, "top_k": 12}
    response = http.post("/v1/ask", json=body)
    assert response.status_code == 200, response.text
    return {layer["layer"]: layer for layer in response.json()["layers"]}


def _conversation(http: httpx.Client, questions: list[str]) -> str:
    """A conversation of one turn per question; its id."""
    conversation = _ask(http, questions[0], top_k=12)["conversation_id"]
    for question in questions[1:]:
        _ask(http, question, conversation_id=conversation, top_k=12)
    return str(conversation)


def _follow_up_marked(http: httpx.Client, conversation: str) -> bool:
    """Whether a follow-up in conversation would mark its conversation layer, cold."""
    layers = _dry_run_layers(http, "And what else do they say?", conversation)
    return bool(layers["conversation"]["marked"])


def _learn_that_follow_ups_come_back(learn_on: Replica, check_on: Replica) -> None:
    """Three-turn conversations on learn_on until check_on marks a first follow-up's layer.

    The conversation layer is first used by a second turn; a third turn brings it back.
    """
    probe = _ask(check_on.http, f"What do the glacier notes say? ({uuid.uuid4().hex})", top_k=12)
    for _ in range(8):
        if _follow_up_marked(check_on.http, probe["conversation_id"]):
            return
        topic = uuid.uuid4().hex
        _conversation(
            learn_on.http,
            [f"What do the lighthouse notes say? ({topic})", "Say more.", "And the last note?"],
        )
    raise AssertionError("the other replica never learned that follow-ups come back")


def test_reuse_learned_on_one_replica_lets_the_other_mark_a_cold_layer(cluster: Cluster) -> None:
    a, b = cluster.replicas
    probe = _ask(b.http, "What do the glacier notes say, in one line?", top_k=12)
    # Two-turn conversations on b until a first follow-up is not worth a cold write there:
    # its layer is never used again.
    for n in range(8):
        if not _follow_up_marked(b.http, probe["conversation_id"]):
            break
        _conversation(b.http, [f"What do the comet notes say? ({n})", "Say more."])
    else:
        raise AssertionError("follow-ups still marked after eight two-turn conversations")
    # Only conversations on a that do come back can change b's mind.
    _learn_that_follow_ups_come_back(learn_on=a, check_on=b)


def test_a_conversation_continued_on_the_other_replica_keeps_its_mark_and_reads_the_cache(
    cluster: Cluster,
) -> None:
    a, b = cluster.replicas
    _learn_that_follow_ups_come_back(learn_on=a, check_on=b)
    first = _ask(a.http, "What do the violin notes say?", top_k=12)
    conversation = first["conversation_id"]
    second = _ask(
        b.http, "What do the violin notes say, in short?", conversation_id=conversation, top_k=12
    )
    assert second["usage"]["cache_creation_input_tokens"] > 0
    # Learned reuse wrote the conversation layer on its first use (b), and nothing suggests
    # a third: a marks it again only because b's mark is live, as it knows from the database.
    follow_up = _dry_run_layers(a.http, "What do the violin notes say, once more?", conversation)
    assert follow_up["conversation"]["marked"]
    third = _ask(
        a.http, "What do the violin notes say, once more?", conversation_id=conversation, top_k=12
    )
    written_through_turn_two = (
        second["usage"]["cache_read_input_tokens"] + second["usage"]["cache_creation_input_tokens"]
    )
    # Byte for byte the prefix replica b wrote: the turns and chunks came from the database.
    assert third["usage"]["cache_read_input_tokens"] >= written_through_turn_two
    assert third["usage"]["layer_hit"] == "conversation"


def test_both_replicas_report_one_ledger(cluster: Cluster) -> None:
    a, b = cluster.replicas
    summary_a = a.http.get("/v1/usage/summary").json()
    summary_b = b.http.get("/v1/usage/summary").json()
    assert summary_a == summary_b
    assert summary_a["calls"] >= len(cluster.emulator.usages())


def test_a_replica_killed_after_accepting_an_upload_leaves_every_job_to_the_other(
    cluster: Cluster,
) -> None:
    a, b = cluster.replicas
    before = {d["source"] for d in b.http.get("/v1/documents").json()["documents"]}
    topics = TOPICS
    jobs = _upload(a.http, topics)
    a.kill()

    ids = [job["id"] for job in jobs]
    wait_until(lambda: _ended(b.http, ids), 600, "every job finished by the surviving replica")
    assert {b.http.get(f"/v1/jobs/{i}").json()["status"] for i in ids} == {"done"}
    documents = b.http.get("/v1/documents").json()["documents"]
    sources = [d["source"] for d in documents]
    # Nothing missing, nothing doubled: each file once, done, with its chunks in the store.
    assert sorted(sources) == sorted({f"{t}.md" for t in topics} | before)
    assert {d["status"] for d in documents} == {"done"}
    for document in documents:
        shown = b.http.get(f"/v1/documents/{document['document_id']}").json()
        chunk_ids = [c["chunk_id"] for c in shown["chunks"]]
        assert len(chunk_ids) == len(set(chunk_ids)) == document["chunk_count"]
