"""The upload path end to end: real HTTP, the real app on uvicorn, real Chroma, the real model."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.ingest.conftest import (
    SAMPLE,
    docx_bytes,
    encrypted_pdf_bytes,
    pdf_bytes,
    zip_bomb_docx_bytes,
)
from tests.jobs import wait_for_job

ADMIN = {"Authorization": "Bearer admin-secret-0123456789"}
VIEWER = {"Authorization": "Bearer viewer-secret-0123456789"}
MAX_UPLOAD_BYTES = 400_000


def _settings(home: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        home=home,
        api_keys="admin-secret-0123456789:admin,viewer-secret-0123456789:viewer",
        max_upload_bytes=MAX_UPLOAD_BYTES,
        _env_file=None,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("http") / "home"


@pytest.fixture(scope="module")
def http(home: Path) -> Iterator[httpx.Client]:
    with (
        serve_in_thread(create_app(_settings(home))) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield client


def _upload(http: httpx.Client, *files: tuple[str, bytes, str]) -> httpx.Response:
    return http.post("/v1/documents", files=[("files", f) for f in files], headers=ADMIN)


def _finished(http: httpx.Client, job_id: str, timeout_seconds: float = 120) -> dict[str, Any]:
    return wait_for_job(http, job_id, timeout_seconds, ADMIN)


def _documents(http: httpx.Client) -> list[dict[str, Any]]:
    response = http.get("/v1/documents", headers=VIEWER)
    assert response.status_code == 200
    documents: list[dict[str, Any]] = response.json()["documents"]
    return documents


def test_the_service_is_ready_only_with_the_model_loaded(http: httpx.Client) -> None:
    checks = http.get("/readyz").json()["checks"]

    assert checks["embedder"] is True
    assert checks["jobs"] is True


def test_uploaded_files_become_documents_that_can_be_read_and_deleted(
    http: httpx.Client,
) -> None:
    pdf = pdf_bytes([[("Heading1", "Owls"), ("BodyText", "Snowy owls live in the Arctic.")]])
    response = _upload(
        http,
        ("zen.txt", (SAMPLE / "zen-of-python.txt").read_bytes(), "text/plain"),
        ("owls.pdf", pdf, "application/pdf"),
        ("owls.docx", docx_bytes(), "application/octet-stream"),
    )

    assert response.status_code == 202
    jobs = response.json()["jobs"]
    assert [(j["filename"], j["status"]) for j in jobs] == [
        ("zen.txt", "queued"),
        ("owls.pdf", "queued"),
        ("owls.docx", "queued"),
    ]
    finished = [_finished(http, job["id"]) for job in jobs]
    assert [job["status"] for job in finished] == ["done", "done", "done"]

    listed = {d["document_id"]: d for d in _documents(http)}
    pdf_id = finished[1]["document_id"]
    assert listed[pdf_id]["source"] == "owls.pdf"
    assert listed[pdf_id]["status"] == "done"
    detail = http.get(f"/v1/documents/{pdf_id}", headers=VIEWER).json()
    assert detail["chunk_count"] == len(detail["chunks"]) > 0
    assert "Snowy owls live in the Arctic." in detail["chunks"][0]["text"]
    assert detail["chunks"][0]["page"] == 1

    deleted = http.delete(f"/v1/documents/{pdf_id}", headers=ADMIN)
    assert deleted.status_code == 200
    assert deleted.json() == {"document_id": pdf_id, "deleted_chunks": detail["chunk_count"]}
    assert http.get(f"/v1/documents/{pdf_id}", headers=VIEWER).status_code == 404
    assert http.delete(f"/v1/documents/{pdf_id}", headers=ADMIN).status_code == 404
    assert pdf_id not in {d["document_id"] for d in _documents(http)}


@pytest.mark.parametrize(
    ("name", "data", "status", "kind", "message"),
    [
        ("empty.txt", b"", 422, "empty_document", "empty"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, 415, "unsupported_document", "readable"),
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 64, 415, "unsupported_document", "readable"),
        ("report.pdf", b"Plain words pretending.", 415, "unsupported_document", "bytes are text"),
        ("broken.pdf", b"%PDF-1.4\nno objects", 415, "unsupported_document", "readable PDF"),
        ("locked.pdf", encrypted_pdf_bytes(), 415, "unsupported_document", "encrypted"),
        ("bomb.docx", zip_bomb_docx_bytes(), 413, "too_large", "zip bomb"),
        ("big.txt", b"word " * (MAX_UPLOAD_BYTES // 4), 413, "too_large", "upload limit"),
        ("program.exe", b"MZ\x90\0\3\0\0\0", 415, "unsupported_document", "not supported"),
    ],
)
def test_a_bad_file_gets_a_clear_4xx_and_nothing_is_kept(
    http: httpx.Client, home: Path, name: str, data: bytes, status: int, kind: str, message: str
) -> None:
    before = _documents(http)

    response = _upload(http, (name, data, "application/octet-stream"))

    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == kind
    assert message in error["message"]
    assert _documents(http) == before
    assert not [p for p in (home / "uploads").iterdir() if p.suffix == ".part"]


def test_a_failing_file_in_a_batch_does_not_fail_the_others(http: httpx.Client) -> None:
    good = b"# Herons\n\nHerons wade in shallow water to hunt fish."
    response = _upload(
        http,
        ("herons.md", good, "text/markdown"),
        ("empty.md", b"", "text/markdown"),
        ("herons-copy.md", good, "text/markdown"),
        ("herons.md", b"Other content, same name.", "text/markdown"),
    )

    assert response.status_code == 202
    jobs = response.json()["jobs"]
    assert [j["status"] for j in jobs] == ["queued", "failed", "failed", "failed"]
    assert "empty" in jobs[1]["error"]
    assert "duplicates herons.md" in jobs[2]["error"]
    assert "duplicates herons.md" in jobs[3]["error"]
    assert _finished(http, jobs[1]["id"])["status"] == "failed"
    assert _finished(http, jobs[0]["id"])["status"] == "done"
    assert "herons.md" in {d["source"] for d in _documents(http)}


def test_file_names_with_path_tricks_are_sanitised_and_stay_inside_home(
    http: httpx.Client, home: Path
) -> None:
    # Built by hand: a client library would percent-encode the control characters.
    raw_name = "../../escape\x07\u202e.md".encode()
    body = (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="'
        + raw_name
        + b'"\r\nContent-Type: text/markdown\r\n\r\n# Escape\n\nNothing escapes.\r\n--b--\r\n'
    )
    response = http.post(
        "/v1/documents",
        content=body,
        headers={**ADMIN, "content-type": "multipart/form-data; boundary=b"},
    )

    assert response.status_code == 202
    job = _finished(http, response.json()["jobs"][0]["id"])
    assert job["filename"] == "escape.md"
    assert job["status"] == "done"
    assert not (home.parent.parent / "escape.md").exists()
    assert not list(home.parent.rglob("escape*"))


def test_a_request_over_the_total_limit_is_refused_before_it_is_read(http: httpx.Client) -> None:
    # A raw socket: the declared length is far over the limit and the body never comes.
    url = httpx.URL(str(http.base_url))
    with socket.create_connection((url.host, url.port or 80), timeout=30) as connection:
        connection.sendall(
            b"POST /v1/documents HTTP/1.1\r\nHost: test\r\n"
            b"Authorization: Bearer admin-secret-0123456789\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            + f"Content-Length: {50 * MAX_UPLOAD_BYTES}\r\n\r\n".encode()
            + b"--b\r\n"
        )
        status_line = connection.recv(4096).split(b"\r\n", 1)[0]

    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"


def test_uploads_need_the_admin_role_and_reads_the_viewer_role(http: httpx.Client) -> None:
    files = [("files", ("a.txt", b"Some text.", "text/plain"))]

    assert http.post("/v1/documents", files=files).status_code == 401
    assert http.post("/v1/documents", files=files, headers=VIEWER).status_code == 403
    assert http.delete("/v1/documents/anything", headers=VIEWER).status_code == 403
    assert http.get("/v1/documents", headers=VIEWER).status_code == 200
    assert http.get("/v1/jobs/job_unknown", headers=VIEWER).status_code == 404


def test_job_status_survives_a_restart(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        job_id = _upload(client, ("kept.txt", b"Kept across restarts.", "text/plain")).json()[
            "jobs"
        ][0]["id"]
        document_id = _finished(client, job_id)["document_id"]

    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        job = client.get(f"/v1/jobs/{job_id}", headers=ADMIN).json()
        assert job["status"] == "done"
        assert job["document_id"] == document_id
        assert document_id in {d["document_id"] for d in _documents(client)}
