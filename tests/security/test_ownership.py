"""Keys own their conversations, batches and jobs: another key is told they do not exist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.serving import serve_in_thread
from tests.security.conftest import assert_error_shape, keyed_settings_in

KEYS = {
    "alice": "alice-secret-0123456789",
    "bob": "bob-secret-0123456789ab",
    "admin": "admin-secret-0123456789",
    "viewer": "viewer-secret-0123456789",
}
ROLES = {"alice": "user", "bob": "user", "admin": "admin", "viewer": "viewer"}


def _as(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {KEYS[name]}"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("owners") / "home"


@pytest.fixture(scope="module")
def url(home: Path) -> Iterator[str]:
    keys = ",".join(f"{KEYS[name]}:{role}" for name, role in ROLES.items())
    settings = keyed_settings_in(home, api_keys=keys, batch_poll_seconds=0.2)
    with serve_in_thread(create_app(settings)) as served:
        yield served


@pytest.fixture
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client


def _ask(http: httpx.Client, who: str, conversation_id: str | None = None) -> httpx.Response:
    body = {"question": "What do the documents say?", "stream": False}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    return http.post("/v1/ask", json=body, headers=_as(who))


def test_another_key_cannot_continue_a_conversation_but_its_owner_and_an_admin_can(
    http: httpx.Client,
) -> None:
    first = _ask(http, "alice")
    assert first.status_code == 200, first.text
    conversation_id = first.json()["conversation_id"]

    planted = _ask(http, "bob", conversation_id)
    assert_error_shape(planted, 404, "not_found")
    unknown = _ask(http, "bob", "conv_" + "0" * 32)
    # The same answer as for an id that was never made: ownership cannot be probed.
    assert planted.json()["error"]["message"].replace(conversation_id, "X") == unknown.json()[
        "error"
    ]["message"].replace("conv_" + "0" * 32, "X")

    assert _ask(http, "alice", conversation_id).status_code == 200
    assert _ask(http, "admin", conversation_id).status_code == 200
    assert http.get("/healthz").status_code == 200


def test_another_key_cannot_see_read_or_cancel_a_batch(http: httpx.Client) -> None:
    submitted = http.post(
        "/v1/batches", json={"questions": [{"question": "Anything?"}]}, headers=_as("alice")
    )
    assert submitted.status_code == 202, submitted.text
    batch_id = submitted.json()["id"]
    for method, path in [
        ("GET", f"/v1/batches/{batch_id}"),
        ("GET", f"/v1/batches/{batch_id}/results"),
        ("POST", f"/v1/batches/{batch_id}/cancel"),
    ]:
        assert_error_shape(http.request(method, path, headers=_as("bob")), 404, "not_found")
    assert http.get(f"/v1/batches/{batch_id}", headers=_as("alice")).status_code == 200
    seen_by_admin = http.get(f"/v1/batches/{batch_id}", headers=_as("admin"))
    assert seen_by_admin.status_code == 200
    # Bob's cancel did nothing: the batch goes on for its owner.
    assert seen_by_admin.json()["status"] != "canceling"


def test_a_job_is_visible_to_the_key_that_uploaded_it_only(http: httpx.Client) -> None:
    files = [("files", ("owned.txt", b"A note only the uploader follows.", "text/plain"))]
    uploaded = http.post("/v1/documents", files=files, headers=_as("admin"))
    assert uploaded.status_code == 202, uploaded.text
    job_id = uploaded.json()["jobs"][0]["id"]
    assert_error_shape(http.get(f"/v1/jobs/{job_id}", headers=_as("viewer")), 404, "not_found")
    assert http.get(f"/v1/jobs/{job_id}", headers=_as("admin")).status_code == 200


def test_usage_rows_show_conversation_ids_to_admins_only(http: httpx.Client) -> None:
    conversation_id = _ask(http, "alice").json()["conversation_id"]

    def conversation_ids(who: str) -> set[str]:
        response = http.get("/v1/usage/requests", params={"limit": 200}, headers=_as(who))
        assert response.status_code == 200, response.text
        return {row["conversation_id"] for row in response.json()["requests"]} - {None}

    assert conversation_id in conversation_ids("admin")
    hidden = conversation_ids("viewer")
    assert hidden, "the viewer still sees which calls belong together"
    assert all(value.startswith("h_") for value in hidden)
    assert not any(value.startswith("conv_") for value in hidden | conversation_ids("alice"))
    # A hash does not open the conversation.
    for value in hidden:
        assert _ask(http, "alice", value).status_code == 404


def test_keys_are_stored_only_as_keyed_hashes(http: httpx.Client, home: Path) -> None:
    assert _ask(http, "alice").status_code == 200
    stored = b"".join(path.read_bytes() for path in home.rglob("*") if path.is_file())
    for secret in KEYS.values():
        assert secret.encode() not in stored
