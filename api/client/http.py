"""One connection to a running Strata server: JSON calls and answer streams over http.client.

The standard library's HTTP client, because a client command's start-up is mostly imports: an
HTTP library (with its pool, its TLS defaults and its models) costs more than the rest of the
command. Every failure (refused connection, timeout, an error status) becomes a ServerError
whose message is one line for the terminal, naming the server and, for an error status, what
the server said.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

# Answers stream for as long as Claude writes; only the wait for a connection is short.
_CONNECT_SECONDS = 10.0
_READ_SECONDS = 300.0
# What a connection the server closed while idle raises on its next request: sent again once.
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
# A file name in a form: quotes, backslashes and control characters (but escape) escaped, as
# browsers and the httpx family escape them (the server cleans the name of the rest).
_FORM_ESCAPES = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}


class ServerError(Exception):
    """Talking to the server failed; the message is one line for the terminal.

    status is the server's error status, if it answered; reason what it said.
    """

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason or message


class ServerClient:
    """A client of the server at url, sending api_key (when given) as a bearer token.

    One kept-alive connection; requests never leave url (redirects are not followed).
    """

    def __init__(self, url: str, api_key: str | None) -> None:
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        try:
            port = parts.port
        except ValueError as exc:  # a port that is not a number from 0 to 65535
            raise ServerError(f"{self.url} is not a server URL: {exc}") from None
        self._port = port or (443 if self._https else 80)
        self._prefix = parts.path
        if api_key and not _sendable(api_key):
            # http.client would refuse the header with the key in its message: say it without.
            raise ServerError(
                "STRATA_API_KEY cannot be sent: it holds a line break, a control character "
                "or a character a header cannot carry (a key file saved with CRLF line endings?)"
            )
        self._headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._connection: http.client.HTTPConnection | None = None

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            self._connection.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON body of GET path."""
        query = f"?{urlencode(params)}" if params else ""
        return self._json(self._request("GET", path + query))

    def post(
        self, path: str, body: dict[str, Any] | None = None, file: tuple[str, bytes] | None = None
    ) -> Any:
        """The JSON body of POST path with a JSON body, or with one file (name, bytes)."""
        if file is not None:
            content, content_type = _multipart("files", *file)
        else:
            content, content_type = json.dumps(body).encode(), "application/json"
        return self._json(self._request("POST", path, content, {"content-type": content_type}))

    @contextmanager
    def events(self, path: str, body: dict[str, Any]) -> Iterator[Iterator[tuple[str, Any]]]:
        """The server-sent events of POST path as (event name, decoded data), as they come."""
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "cache-control": "no-store",
        }
        response = self._request("POST", path, json.dumps(body).encode(), headers)
        if response.status >= 300:
            self._json(response)
        yield self._events(response)

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> http.client.HTTPResponse:
        headers = headers or {}
        with self._failures():
            kept = self._connection
            if kept is not None and kept.sock is not None:
                try:
                    return self._exchange(kept, method, path, body, headers)
                except _STALE:
                    kept.close()
            self._connection = self._connect()
            return self._exchange(self._connection, method, path, body, headers)

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
    ) -> http.client.HTTPResponse:
        connection.request(method, self._prefix + path, body, self._headers | dict(headers))
        return connection.getresponse()

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        connection = kind(self._host, self._port, timeout=_CONNECT_SECONDS)
        try:
            connection.connect()
        except TimeoutError:
            raise  # _failures says it: the server did not answer in time
        except OSError as exc:
            raise ServerError(
                f"cannot reach a Strata server at {self.url} ({_reason(exc)}); "
                "is `strata serve` running there?"
            ) from None
        if connection.sock is not None:
            connection.sock.settimeout(_READ_SECONDS)
        return connection

    def _json(self, response: http.client.HTTPResponse) -> Any:
        with self._failures():
            data = response.read()
        if response.status < 300:
            return json.loads(data)
        raise self._refusal(response, data)

    def _refusal(self, response: http.client.HTTPResponse, data: bytes) -> ServerError:
        status = response.status
        try:
            message = str(json.loads(data)["error"]["message"])
        except (ValueError, KeyError, TypeError):
            message = response.reason or "no reason given"
        message = " ".join(message.split())
        hint = ""
        retry_after = response.getheader("retry-after")
        if status == 401:
            hint = "; set STRATA_API_KEY to one of the server's keys"
        elif status == 429 and retry_after is not None:
            hint = f"; retry after {retry_after} s"
        return ServerError(
            f"the server at {self.url} answered {status}: {message}{hint}", status, message
        )

    def _events(self, response: http.client.HTTPResponse) -> Iterator[tuple[str, Any]]:
        """An event stream's events, read line by line (comments, ids and retries ignored)."""
        name = "message"
        data: list[str] = []
        while True:
            with self._failures():
                raw = response.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    yield name, json.loads("\n".join(data))
                name, data = "message", []
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)

    @contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except TimeoutError:
            raise ServerError(f"the server at {self.url} did not answer in time") from None
        except (OSError, http.client.HTTPException) as exc:
            raise ServerError(f"the connection to {self.url} failed: {_reason(exc)}") from None


def _multipart(field: str, name: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body of one file, and its content type."""
    boundary = os.urandom(16).hex()
    quoted = "".join(_FORM_ESCAPES.get(ch, ch) for ch in name)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{quoted}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    )
    body = head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _sendable(api_key: str) -> bool:
    """Whether api_key can go in a header as it is: printable, and Latin-1 as HTTP sends it."""
    try:
        api_key.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return api_key.isprintable()


def _reason(exc: Exception) -> str:
    reason = str(exc).split("] ", 1)[-1] if str(exc) else type(exc).__name__
    return " ".join(reason.split()) or type(exc).__name__
