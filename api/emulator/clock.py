"""The cache clock: monotonic seconds, run `time_scale` times faster, and movable by tests."""

from __future__ import annotations

import threading
import time


class ScaledClock:
    """Seconds since start, scaled; `advance` jumps ahead, as if time had passed."""

    def __init__(self, time_scale: float = 1.0) -> None:
        self._time_scale = time_scale
        self._started = time.monotonic()
        self._offset_seconds = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            elapsed = time.monotonic() - self._started
            return elapsed * self._time_scale + self._offset_seconds

    def advance(self, seconds: float) -> None:
        """Move the clock forward by seconds of emulated time."""
        with self._lock:
            self._offset_seconds += seconds
