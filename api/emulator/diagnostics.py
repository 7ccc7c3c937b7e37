"""Cache diagnostics: compare a request with the one that produced `previous_message_id`.

For every request that carries a `diagnostics` object a fingerprint (hashes and token counts,
never content) is kept under the response id, per API key. The next request names that id;
the first divergence is reported as `model_changed` (model or speed), `tools_changed`,
`system_changed`, `unavailable` (thinking or tool_choice changed) or `messages_changed`, each
with `cache_missed_input_tokens`: the previous prompt's tokens after the common prefix, which
could have been read from cache had the prefix matched. No divergence gives
`diagnostics: null`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from api.emulator.prompt import Prompt

MAX_FINGERPRINTS = 10_000


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What is kept of a request: hashes and token counts only."""

    model: str
    tools_hash: str
    system_hash: str
    settings_hash: str
    prefix_hashes: tuple[str, ...]
    prefix_tokens: tuple[int, ...]
    total_tokens: int

    @classmethod
    def of(cls, prompt: Prompt) -> Fingerprint:
        return cls(
            f"{prompt.model_id}/{prompt.speed}",
            prompt.tools_hash,
            prompt.system_hash,
            prompt.settings_hash,
            tuple(p.prefix_hash for p in prompt.positions),
            tuple(p.prefix_tokens for p in prompt.positions),
            prompt.total_tokens,
        )


def _common_tokens(previous: Fingerprint, current: Fingerprint) -> int:
    common = 0
    for i, (before, now) in enumerate(
        zip(previous.prefix_hashes, current.prefix_hashes, strict=False)
    ):
        if before != now:
            break
        common = previous.prefix_tokens[i]
    return common


def compare(previous: Fingerprint | None, current: Fingerprint) -> dict[str, Any] | None:
    """The response's `diagnostics` object for a request that named a previous message."""
    if previous is None:
        return {"cache_miss_reason": {"type": "previous_message_not_found"}}
    if previous.model != current.model:
        reason = "model_changed"
    elif previous.tools_hash != current.tools_hash:
        reason = "tools_changed"
    elif previous.system_hash != current.system_hash:
        reason = "system_changed"
    elif previous.settings_hash != current.settings_hash:
        return {"cache_miss_reason": {"type": "unavailable"}}
    elif previous.prefix_hashes == current.prefix_hashes[: len(previous.prefix_hashes)]:
        return None
    else:
        reason = "messages_changed"
    missed = previous.total_tokens - _common_tokens(previous, current)
    return {"cache_miss_reason": {"type": reason, "cache_missed_input_tokens": missed}}


class FingerprintStore:
    """Fingerprints by (API key, message id), oldest dropped first."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, str], Fingerprint] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, api_key: str, message_id: str) -> Fingerprint | None:
        with self._lock:
            return self._items.get((api_key, message_id))

    def put(self, api_key: str, message_id: str, fingerprint: Fingerprint) -> None:
        with self._lock:
            self._items[(api_key, message_id)] = fingerprint
            while len(self._items) > MAX_FINGERPRINTS:
                self._items.popitem(last=False)
