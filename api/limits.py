"""Per-key limits on answers in flight and daily spend, and checks of request sizes."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from api.deps import Caller, ServicesDep, UserCaller
from rag.errors import BudgetExceeded, LimitExceeded, OverLimit
from rag.settings import Settings

# An answer stream lasts seconds; asking the client to come back sooner only adds load.
STREAM_RETRY_AFTER_SECONDS = 2


class StreamLimiter:
    """Counts the answer streams each key holds open and refuses one more than allowed."""

    def __init__(self, max_per_key: int) -> None:
        self.max_per_key = max_per_key
        self._open: Counter[str] = Counter()

    def open_streams(self, key_id: str) -> int:
        """How many streams key_id holds open now."""
        return self._open[key_id]

    @asynccontextmanager
    async def hold(self, key_id: str) -> AsyncIterator[None]:
        """Hold one stream slot for key_id until the block ends; LimitExceeded if none left."""
        # No await between the check and the increment: the event loop cannot interleave them.
        if self._open[key_id] >= self.max_per_key:
            raise LimitExceeded(
                f"this key already has {self.max_per_key} answers in progress; "
                "wait for one to finish",
                retry_after_seconds=STREAM_RETRY_AFTER_SECONDS,
            )
        self._open[key_id] += 1
        try:
            yield
        finally:
            self._open[key_id] -= 1
            if not self._open[key_id]:
                del self._open[key_id]


def install_stream_limiter(app: FastAPI, settings: Settings) -> None:
    """Give the app its one stream limiter, shared by every request of this process."""
    app.state.stream_limiter = StreamLimiter(settings.max_streams_per_key)


async def within_budget(caller: UserCaller, services: ServicesDep) -> Caller:
    """A user-role caller whose key has not spent its daily budget (BudgetExceeded if it has).

    What the key spent is read from the ledger: calls since UTC midnight, priced. Answers in
    flight are not in it yet, so a key may pass its budget by what those cost.
    """
    budget = caller.daily_budget_usd
    if budget is None:
        return caller
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    resets = midnight + timedelta(days=1)
    spent = await asyncio.to_thread(services.ledger.spent_since, caller.key_id, midnight)
    if spent >= budget:
        raise BudgetExceeded(
            f"this key has spent ${spent:.2f} of its ${budget:.2f} daily budget; it resets "
            f"at {resets:%Y-%m-%dT%H:%M:%SZ} (UTC midnight)",
            retry_after_seconds=math.ceil((resets - now).total_seconds()),
        )
    return caller


BudgetedCaller = Annotated[Caller, Depends(within_budget)]


async def hold_stream_slot(request: Request, caller: BudgetedCaller) -> AsyncIterator[Caller]:
    """A user-role caller holding one of their key's stream slots until the response ends."""
    limiter: StreamLimiter = request.app.state.stream_limiter
    async with limiter.hold(caller.key_id):
        yield caller


# scope="request": the slot is released after the response (the whole SSE stream) is sent.
StreamingCaller = Annotated[Caller, Depends(hold_stream_slot, scope="request")]


def check_request_limits(
    settings: Settings,
    *,
    question: str | None = None,
    top_k: int | None = None,
    max_tokens: int | None = None,
) -> None:
    """Raise OverLimit (422) when a question, top_k or max_tokens exceeds its configured limit."""
    if question is not None and len(question) > settings.max_question_chars:
        raise OverLimit(
            f"question is {len(question)} characters; the limit is {settings.max_question_chars}"
        )
    if top_k is not None and top_k > settings.max_top_k:
        raise OverLimit(f"top_k is {top_k}; the limit is {settings.max_top_k}")
    if max_tokens is not None and max_tokens > settings.max_answer_tokens_limit:
        raise OverLimit(
            f"max_tokens is {max_tokens}; the limit is {settings.max_answer_tokens_limit}"
        )
