"""Identifiers shaped like the API's (`msg_01…`, `toolu_01…`, `req_011C…`), from a seeded source."""

from __future__ import annotations

import random
import threading

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class IdFactory:
    """Unique ids in the API's formats; the sequence is fixed by the seed."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(f"ids:{seed}")
        self._lock = threading.Lock()

    def _tail(self, length: int) -> str:
        with self._lock:
            return "".join(self._random.choice(_ALPHABET) for _ in range(length))

    def message(self) -> str:
        return "msg_01" + self._tail(22)

    def tool_use(self) -> str:
        return "toolu_01" + self._tail(22)

    def request(self) -> str:
        return "req_011C" + self._tail(20)

    def batch(self) -> str:
        return "msgbatch_01" + self._tail(22)
