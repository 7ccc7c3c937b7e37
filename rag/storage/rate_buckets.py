"""Per-key token buckets in the shared database, so every replica spends from the same bucket.

A bucket holds up to `capacity` requests and refills at `capacity` per minute; a request takes
one. The read and the write happen in one write transaction (a row lock on PostgreSQL, the
write lock on SQLite), so two replicas never both take the last token.
"""

from __future__ import annotations

import math
import time

from sqlalchemy import select, update

from rag.storage.database import Database, insert_if_absent
from rag.storage.tables import rate_buckets


class RateBuckets:
    """Takes requests from each key's bucket."""

    def __init__(self, database: Database, per_minute: int) -> None:
        self._database = database
        self.per_minute = per_minute

    def take(self, owner_key: str) -> float:
        """Take one request for owner_key: 0 if it may go now, else seconds until it may."""
        capacity = float(self.per_minute)
        per_ms = capacity / 60_000
        now_ms = int(time.time() * 1000)
        with self._database.writing() as connection:
            insert_if_absent(
                connection,
                rate_buckets,
                {"owner_key": owner_key, "tokens": capacity, "updated_epoch_ms": now_ms},
            )
            stored, updated_ms = connection.execute(
                select(rate_buckets.c.tokens, rate_buckets.c.updated_epoch_ms)
                .where(rate_buckets.c.owner_key == owner_key)
                .with_for_update()
            ).one()
            tokens = min(capacity, float(stored) + max(0, now_ms - int(updated_ms)) * per_ms)
            taken = tokens >= 1
            connection.execute(
                update(rate_buckets)
                .where(rate_buckets.c.owner_key == owner_key)
                .values(tokens=tokens - 1 if taken else tokens, updated_epoch_ms=now_ms)
            )
        if taken:
            return 0.0
        return math.ceil((1 - tokens) / per_ms) / 1000
