"""Message Batches: requests queued per API key and answered in the background.

As documented: `request_counts` stay at `processing` until the whole batch ends; results
are JSONL, one object per line ending in a bare newline; invalid `params` come back as
`errored` lines, not as a create-time 400; cancelling ends the batch with the unprocessed
requests `canceled`; a request not started within 24 hours (on the cache clock) is
`expired`; `results_url` points at this emulator.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from api.emulator.errors import ApiError, error_body, invalid
from api.emulator.messages import MessagesEngine

MAX_REQUESTS = 100_000
EXPIRY_SECONDS = 24 * 3600
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_RESULT_TYPES = ("succeeded", "errored", "canceled", "expired")


def _rfc3339(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


@dataclass(slots=True)
class Batch:
    """One batch and the results it has gathered so far."""

    id: str
    api_key: str
    version: str
    requests: list[tuple[str, Any]]
    created_at: datetime
    created_clock_seconds: float
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    cancel_initiated_at: datetime | None = None
    ended_at: datetime | None = None
    results_url: str | None = None

    def as_json(self) -> dict[str, Any]:
        counts = dict.fromkeys(("processing", *_RESULT_TYPES), 0)
        if self.ended_at is None:
            counts["processing"] = len(self.requests)
        else:
            for result in self.results.values():
                counts[result["type"]] += 1
        if self.ended_at is not None:
            status = "ended"
        else:
            status = "canceling" if self.cancel_initiated_at else "in_progress"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "ended_at": _rfc3339(self.ended_at),
            "created_at": _rfc3339(self.created_at),
            "expires_at": _rfc3339(self.created_at + timedelta(seconds=EXPIRY_SECONDS)),
            "cancel_initiated_at": _rfc3339(self.cancel_initiated_at),
            "archived_at": None,
            "results_url": self.results_url,
        }


def _parse_requests(body: Any) -> list[tuple[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("requests"), list):
        raise invalid("requests: Field required")
    for field_name in body:
        if field_name != "requests":
            raise invalid(f"{field_name}: Extra inputs are not permitted")
    requests = body["requests"]
    if not requests:
        raise invalid("requests: List should have at least 1 item after validation, not 0")
    if len(requests) > MAX_REQUESTS:
        raise ApiError(413, f"A batch may hold at most {MAX_REQUESTS} requests.")
    parsed: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(requests):
        custom_id = item.get("custom_id") if isinstance(item, dict) else None
        if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
            raise invalid(
                f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )
        if custom_id in seen:
            raise invalid(f"requests.{i}.custom_id: custom_id '{custom_id}' is not unique")
        if "params" not in item:
            raise invalid(f"requests.{i}.params: Field required")
        seen.add(custom_id)
        parsed.append((custom_id, item["params"]))
    return parsed


class BatchQueue:
    """Batches per API key, newest first, each processed by a background task."""

    def __init__(
        self, engine: MessagesEngine, ttft_seconds: float, tokens_per_second: float
    ) -> None:
        self._engine = engine
        self._ttft_seconds = ttft_seconds
        self._tokens_per_second = tokens_per_second
        self._batches: dict[str, Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()

    def create(self, api_key: str, version: str, body: Any, base_url: str) -> Batch:
        """Queue a batch and start answering it in the background."""
        batch = Batch(
            id=self._engine.ids.batch(),
            api_key=api_key,
            version=version,
            requests=_parse_requests(body),
            created_at=datetime.now(UTC),
            created_clock_seconds=self._engine.clock.now(),
        )
        with self._lock:
            self._batches[batch.id] = batch
        task = asyncio.get_running_loop().create_task(self._process(batch, base_url.rstrip("/")))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return batch

    def get(self, api_key: str, batch_id: str) -> Batch:
        """The caller's batch, or 404."""
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or batch.api_key != api_key:
            raise ApiError(404, f"message_batch_id: {batch_id} not found")
        return batch

    def listed(self, api_key: str) -> list[Batch]:
        """The caller's batches, newest first."""
        with self._lock:
            mine = [b for b in self._batches.values() if b.api_key == api_key]
        return mine[::-1]

    def cancel(self, api_key: str, batch_id: str) -> Batch:
        """Ask a batch to stop; requests not yet answered end as `canceled`."""
        batch = self.get(api_key, batch_id)
        if batch.ended_at is None and batch.cancel_initiated_at is None:
            batch.cancel_initiated_at = datetime.now(UTC)
        return batch

    def delete(self, api_key: str, batch_id: str) -> None:
        """Forget an ended batch; one still processing must be canceled first."""
        batch = self.get(api_key, batch_id)
        if batch.ended_at is None:
            raise invalid(f"Message batch {batch_id} is still processing; cancel it first.")
        with self._lock:
            del self._batches[batch_id]

    def results_jsonl(self, api_key: str, batch_id: str) -> bytes:
        """One JSON object per line, each ending in a bare newline, no blank lines."""
        batch = self.get(api_key, batch_id)
        if batch.ended_at is None:
            raise invalid(f"Message batch {batch_id} has not finished processing.")
        lines = (
            json.dumps({"custom_id": custom_id, "result": batch.results[custom_id]}) + "\n"
            for custom_id, _ in batch.requests
        )
        return "".join(lines).encode()

    async def _process(self, batch: Batch, base_url: str) -> None:
        for custom_id, params in batch.requests:
            batch.results[custom_id] = await self._answer(batch, params)
        batch.results_url = f"{base_url}/v1/messages/batches/{batch.id}/results"
        batch.ended_at = datetime.now(UTC)

    async def _answer(self, batch: Batch, params: Any) -> dict[str, Any]:
        if batch.cancel_initiated_at is not None:
            return {"type": "canceled"}
        if self._engine.clock.now() - batch.created_clock_seconds > EXPIRY_SECONDS:
            return {"type": "expired"}
        try:
            if isinstance(params, dict) and params.get("stream"):
                raise invalid("stream: batch requests cannot be streamed")
            prepared = self._engine.prepare(params, batch.version, batch.api_key, "batch")
        except ApiError as error:
            return {"type": "errored", "error": error_body(error, None)}
        await asyncio.sleep(self._ttft_seconds)
        self._engine.begin(prepared)
        await asyncio.sleep(prepared.usage["output_tokens"] / self._tokens_per_second)
        return {"type": "succeeded", "message": prepared.message}
