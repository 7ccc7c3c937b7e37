"""One connection to a running Strata server: JSON calls and answer streams over httpx2.

Every failure (refused connection, timeout, an error status) becomes a ServerError whose
message is one line for the terminal, naming the server and, for an error status, what the
server said.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import httpx2

# Answers stream for as long as Claude writes; only the wait for a connection is short.
_TIMEOUT = httpx2.Timeout(300.0, connect=10.0)


class ServerError(Exception):
    """Talking to the server failed; the message is one line for the terminal.

    status is the server's error status, if it answered; reason what it said.
    """

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason or message


class ServerClient:
    """A client of the server at url, sending api_key (when given) as a bearer token."""

    def __init__(self, url: str, api_key: str | None) -> None:
        self.url = url.rstrip("/")
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        # A plain-http server needs no TLS: skip loading the certificate store, a good part of
        # a command's start-up. Requests never leave base_url (redirects are not followed).
        plain = self.url.startswith("http://")
        self._http = httpx2.Client(
            base_url=self.url, headers=headers, timeout=_TIMEOUT, verify=not plain
        )

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._http.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON body of GET path."""
        with self._failures():
            response = self._http.get(path, params=params)
        return self._json(response)

    def post(
        self, path: str, body: dict[str, Any] | None = None, files: list[Any] | None = None
    ) -> Any:
        """The JSON body of POST path with a JSON body, or with multipart files."""
        with self._failures():
            response = self._http.post(path, json=body, files=files)
        return self._json(response)

    @contextmanager
    def events(self, path: str, body: dict[str, Any]) -> Iterator[Iterator[tuple[str, Any]]]:
        """The server-sent events of POST path as (event name, decoded data), as they come."""
        with self._failures(), self._http.sse(path, method="POST", json=body) as source:
            response = source.response
            if not response.is_success:
                response.read()
                self._json(response)
            yield ((event.event, json.loads(event.data)) for event in source)

    def _json(self, response: httpx2.Response) -> Any:
        if response.is_success:
            return response.json()
        raise self._refusal(response)

    def _refusal(self, response: httpx2.Response) -> ServerError:
        status = response.status_code
        try:
            message = str(response.json()["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = response.reason_phrase or "no reason given"
        message = " ".join(message.split())
        hint = ""
        if status == 401:
            hint = "; set STRATA_API_KEY to one of the server's keys"
        elif status == 429 and "retry-after" in response.headers:
            hint = f"; retry after {response.headers['retry-after']} s"
        return ServerError(
            f"the server at {self.url} answered {status}: {message}{hint}", status, message
        )

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except httpx2.ConnectError as exc:
            raise ServerError(
                f"cannot reach a Strata server at {self.url} ({_reason(exc)}); "
                "is `strata serve` running there?"
            ) from None
        except httpx2.TimeoutException:
            raise ServerError(f"the server at {self.url} did not answer in time") from None
        except httpx2.HTTPError as exc:
            raise ServerError(f"the connection to {self.url} failed: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    reason = str(exc).split("] ", 1)[-1] if str(exc) else type(exc).__name__
    return " ".join(reason.split()) or type(exc).__name__
