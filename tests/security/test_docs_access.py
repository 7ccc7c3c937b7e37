"""The API documentation needs a key when keys are configured, and Basic opens only the docs."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.security.conftest import KEYS, assert_error_shape, bearer

DOC_PATHS = ["/openapi.json", "/docs", "/redoc"]


def _basic(password: str) -> dict[str, str]:
    token = base64.b64encode(f"anyone:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


@pytest.mark.parametrize("path", DOC_PATHS)
def test_the_documentation_is_refused_without_a_key(anonymous: httpx.Client, path: str) -> None:
    missing = anonymous.get(path)
    assert_error_shape(missing, 401, "unauthenticated")
    # A browser asks for the key, then sends it again when the page loads the document.
    assert missing.headers["www-authenticate"].startswith("Basic ")
    assert "/v1/" not in missing.text
    wrong_bearer = {"authorization": f"Bearer {KEYS['viewer']}x"}
    for wrong in (wrong_bearer, _basic(KEYS["viewer"] + "x")):
        assert_error_shape(anonymous.get(path, headers=wrong), 401, "unauthenticated")


@pytest.mark.parametrize("path", DOC_PATHS)
def test_any_key_opens_the_documentation_as_bearer_or_basic(
    anonymous: httpx.Client, path: str
) -> None:
    for headers in (bearer("viewer"), _basic(KEYS["viewer"])):
        response = anonymous.get(path, headers=headers)
        assert response.status_code == 200, response.text
    document = anonymous.get("/openapi.json", headers=bearer("viewer")).json()
    assert "/v1/ask" in document["paths"]


def test_basic_credentials_open_nothing_but_the_documentation(anonymous: httpx.Client) -> None:
    response = anonymous.get("/v1/usage/summary", headers=_basic(KEYS["admin"]))
    assert_error_shape(response, 401, "unauthenticated")


def test_without_keys_the_documentation_stays_open(http: httpx.Client) -> None:
    # No-key mode serves loopback only, where every caller is already an admin.
    for path in DOC_PATHS:
        assert http.get(path).status_code == 200
