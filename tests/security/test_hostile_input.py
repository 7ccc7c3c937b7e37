"""Hostile file names and malformed or oversized bodies: the right 4xx, the common shape."""

from __future__ import annotations

import unicodedata

import httpx
import pytest

from rag.settings import Settings
from tests.security.conftest import assert_error_shape

BOUNDARY = "strata-hostile-boundary"

HOSTILE_NAMES = [
    "../../escaped-dotdot.txt",
    "..\\..\\escaped-backslash.txt",
    "/etc/escaped-absolute.txt",
    "C:\\Windows\\escaped-drive.txt",
    "nul\x00byte.txt",
    "line\r\nbreak.txt",
    "\u202etxt.exe",
    "<script>alert(1)</script>.txt",
    "." * 3,
    "n" * 5000 + ".txt",
]


def _multipart(parts: list[tuple[bytes, bytes]]) -> bytes:
    """A raw multipart body, so the file names reach the server exactly as written."""
    body = b""
    for filename, content in parts:
        body += (
            f"--{BOUNDARY}\r\n".encode()
            + b'Content-Disposition: form-data; name="files"; filename="'
            + filename
            + b'"\r\nContent-Type: text/plain\r\n\r\n'
            + content
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


def _upload(http: httpx.Client, body: bytes) -> httpx.Response:
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    return http.post("/v1/documents", content=body, headers={"content-type": content_type})


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_a_hostile_file_name_is_only_ever_a_label(
    admin: httpx.Client, keyed_settings: Settings, name: str
) -> None:
    content = f"A note uploaded as {name[:40]!r}. It talks about hostile names.".encode()
    response = _upload(admin, _multipart([(name.encode(), content)]))
    if response.status_code != 202:
        # Refused (a name that leaves no usable type): a 4xx that does not echo the raw name.
        assert response.status_code in (400, 415), response.text
        assert_error_shape(response, response.status_code)
        assert name not in response.json()["error"]["message"]
        return
    (job,) = response.json()["jobs"]
    label = job["filename"]
    assert "/" not in label
    assert "\\" not in label
    assert not any(unicodedata.category(ch).startswith("C") for ch in label)
    assert not label.startswith(".")
    assert 0 < len(label) <= 200
    assert admin.get(f"/v1/jobs/{job['id']}").json()["filename"] == label
    home = keyed_settings.home.resolve()
    escaped = [p for p in home.parent.parent.rglob("escaped*") if home not in p.resolve().parents]
    assert escaped == []


def test_an_upload_may_be_larger_than_the_json_limit(admin: httpx.Client) -> None:
    # 100 KiB: over the 64 KiB JSON limit, under the 256 KiB upload limit.
    text = b"Uploads have their own limit. " * (100 * 1024 // 30)
    response = _upload(admin, _multipart([(b"large-but-allowed.txt", text)]))
    assert response.status_code == 202, response.text


def test_a_file_over_the_upload_limit_is_refused(admin: httpx.Client) -> None:
    response = _upload(admin, _multipart([(b"too-big.txt", b"x" * (300 * 1024))]))
    assert_error_shape(response, 413, "too_large")


def test_more_files_than_allowed_are_refused(admin: httpx.Client) -> None:
    parts = [(f"n{i}.txt".encode(), f"note number {i}".encode()) for i in range(3)]
    response = _upload(admin, _multipart(parts))
    assert 400 <= response.status_code < 500
    assert_error_shape(response, response.status_code)
    assert "at most 2" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=", None),
        (b"not multipart at all", None),
        (b'{"files": []}', "application/json"),
    ],
    ids=["truncated", "garbage", "json"],
)
def test_a_malformed_upload_gets_a_4xx_and_leaves_nothing_behind(
    admin: httpx.Client, keyed_settings: Settings, body: bytes, content_type: str | None
) -> None:
    headers = {"content-type": content_type or f"multipart/form-data; boundary={BOUNDARY}"}
    response = admin.post("/v1/documents", content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert_error_shape(response, response.status_code)
    assert list(keyed_settings.home.rglob("*.part")) == []


def _file_part(name: bytes, headers: bytes, content: bytes) -> bytes:
    disposition = b'Content-Disposition: form-data; name="files"; filename="' + name + b'"\r\n'
    return f"--{BOUNDARY}\r\n".encode() + disposition + headers + b"\r\n" + content + b"\r\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            _file_part(b"many.txt", b"".join(b"X-Filler-%d: y\r\n" % i for i in range(40)), b"a"),
            "Maximum header count exceeded",
        ),
        (
            _file_part(b"long.txt", b"X-Filler: " + b"y" * 20_000 + b"\r\n", b"a"),
            "Maximum header size exceeded",
        ),
        (
            b"".join(
                f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=f{i}\r\n\r\nv\r\n".encode()
                for i in range(200)
            ),
            "too many parts",
        ),
    ],
    ids=["header-count", "header-size", "part-count"],
)
def test_multipart_part_headers_and_parts_are_capped(
    admin: httpx.Client, keyed_settings: Settings, body: bytes, message: str
) -> None:
    good = _file_part(b"kept-after-hostile-parts.txt", b"", b"A note that still gets in.")
    response = _upload(admin, good + body + f"--{BOUNDARY}--\r\n".encode())
    assert_error_shape(response, 400, "invalid_input")
    assert message in response.json()["error"]["message"]
    assert list(keyed_settings.home.rglob("*.part")) == []
    # The server is alive and takes the same file sent properly.
    retry = _upload(admin, good + f"--{BOUNDARY}--\r\n".encode())
    assert retry.status_code == 202, retry.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/search", b"{not json"),
        ("/v1/search", b"[1, 2, 3]"),
        ("/v1/search", b'{"query": 42, "top_k": "many"}'),
        ("/v1/search", b'{"query": "ok", "unexpected": true}'),
        ("/v1/ask", b'{"question": ""}'),
        ("/v1/ask", b"\xff\xfe\x00garbage"),
    ],
    ids=["broken", "array", "types", "extra", "empty", "binary"],
)
def test_a_malformed_json_body_is_a_422(admin: httpx.Client, path: str, body: bytes) -> None:
    response = admin.post(path, content=body, headers={"content-type": "application/json"})
    assert_error_shape(response, 422, "invalid_input")


@pytest.mark.parametrize(
    ("path", "fields", "limit"),
    [
        ("/v1/search", {"query": "q" * 4001}, "4000"),
        ("/v1/ask", {"question": "q" * 4001, "stream": False}, "4000"),
        ("/v1/search", {"query": "ok", "top_k": 51}, "50"),
        ("/v1/ask", {"question": "ok", "top_k": 51, "stream": False}, "50"),
    ],
    ids=["query", "question", "search-top-k", "ask-top-k"],
)
def test_a_field_over_its_limit_is_a_422_naming_the_limit(
    admin: httpx.Client, path: str, fields: dict[str, object], limit: str
) -> None:
    response = admin.post(path, json=fields)
    assert_error_shape(response, 422)
    assert limit in response.json()["error"]["message"]


def test_published_limits_match_the_settings(admin: httpx.Client) -> None:
    schemas = admin.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["SearchRequest"]["properties"]["query"]["maxLength"] == 4000
    assert schemas["SearchRequest"]["properties"]["top_k"]["maximum"] == 50
