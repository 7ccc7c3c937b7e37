"""Each role on each route, over real HTTP; the route table comes from the app itself."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.deps import at_least
from api.errors import api_routes, required_role
from rag.settings import Role
from tests.security.conftest import KEYS, assert_error_shape, bearer, keyed_settings_in

# Routes anyone may call: the probes, and the dashboard page that then asks for a key.
OPEN_PATHS = {"/healthz", "/readyz", "/dashboard"}

# SPEC section 7: admin uploads and deletes, user asks and searches, viewer reads usage.
SPEC_ROLES: dict[tuple[str, str], Role] = {
    ("POST", "/v1/documents"): "admin",
    ("DELETE", "/v1/documents/{document_id}"): "admin",
    ("POST", "/v1/ask"): "user",
    ("POST", "/v1/search"): "user",
    ("POST", "/v1/batches"): "user",
    ("GET", "/v1/usage/summary"): "viewer",
    ("GET", "/v1/usage/requests"): "viewer",
}


def _route_table() -> list[tuple[str, str, Role | None]]:
    # Building the app runs no lifespan: nothing is opened under this home.
    app = create_app(keyed_settings_in(Path("/nonexistent/strata-route-table")))
    return sorted(
        (method, route.path_format, required_role(route))
        for route in api_routes(app)
        for method in route.methods or ()
        if method != "HEAD"
    )


ROUTES = _route_table()
PROTECTED = [(method, path, role) for method, path, role in ROUTES if path not in OPEN_PATHS]
ROLES: tuple[Role, ...] = ("viewer", "user", "admin")


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "does-not-exist", path)


def _ids(routes: list[tuple[str, str, Role | None]]) -> list[str]:
    return [f"{method} {path}" for method, path, _ in routes]


def test_the_route_table_sees_the_routes_of_included_routers() -> None:
    assert ("GET", "/healthz", None) in ROUTES


@pytest.mark.parametrize(("method", "path", "role"), ROUTES, ids=_ids(ROUTES))
def test_every_route_but_the_open_ones_needs_a_role(
    method: str, path: str, role: Role | None
) -> None:
    if path in OPEN_PATHS:
        assert role is None, f"{method} {path} should be open"
    else:
        assert role is not None, f"{method} {path} is reachable without an API key"


@pytest.mark.parametrize(("method", "path", "role"), ROUTES, ids=_ids(ROUTES))
def test_routes_named_in_the_spec_need_the_spec_role(
    method: str, path: str, role: Role | None
) -> None:
    expected = SPEC_ROLES.get((method, path))
    if expected is None and path.startswith("/v1/usage/"):
        expected = "viewer"
    if expected is not None:
        assert role == expected


@pytest.mark.parametrize(("method", "path", "role"), PROTECTED, ids=_ids(PROTECTED))
def test_a_missing_or_unknown_key_is_refused(
    anonymous: httpx.Client, method: str, path: str, role: Role | None
) -> None:
    missing = anonymous.request(method, _url(path))
    assert_error_shape(missing, 401, "unauthenticated")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["error"]["message"]
    unknown = anonymous.request(
        method, _url(path), headers={"authorization": f"Bearer {KEYS['admin']}x"}
    )
    assert_error_shape(unknown, 401, "unauthenticated")


@pytest.mark.parametrize("caller", ROLES)
@pytest.mark.parametrize(("method", "path", "role"), PROTECTED, ids=_ids(PROTECTED))
def test_each_role_gets_exactly_what_it_may(
    anonymous: httpx.Client, caller: Role, method: str, path: str, role: Role | None
) -> None:
    assert role is not None
    # No body: an allowed caller gets past auth and fails validation (422) or lookup (404).
    response = anonymous.request(method, _url(path), headers=bearer(caller))
    if at_least(caller, role):
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        assert_error_shape(response, 403, "forbidden")
        assert role in response.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_the_probes_answer_without_a_key(anonymous: httpx.Client, path: str) -> None:
    assert anonymous.get(path).status_code == 200


def test_a_key_is_never_echoed_back(anonymous: httpx.Client) -> None:
    wrong = "Bearer guessed-secret-that-must-not-echo"
    for method, path, _ in PROTECTED:
        response = anonymous.request(method, _url(path), headers={"authorization": wrong})
        assert "guessed-secret" not in response.text


@pytest.mark.parametrize("name", ["key", "api_key", "token", "access_token"])
def test_a_key_in_the_url_is_not_accepted(anonymous: httpx.Client, name: str) -> None:
    # URLs end up in logs, histories and referrers; keys travel only in the header.
    response = anonymous.get("/v1/usage/summary", params={name: KEYS["admin"]})
    assert_error_shape(response, 401, "unauthenticated")
