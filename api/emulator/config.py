"""The emulator's knobs: pacing, faults, seed and the speed of its cache clock."""

from __future__ import annotations

from dataclasses import dataclass

MAX_REQUEST_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Settings of one emulator instance; the defaults keep tests fast and fault-free.

    Attributes:
        ttft_ms: Delay before a response begins (time to first token), in milliseconds.
        tokens_per_second: Output pacing of streams and of whole responses.
        fault_rate: Probability that a Messages request fails with a random fault.
        seed: Seed of every random choice (faults, ids), so a run can be replayed.
        time_scale: How many times faster than real time the cache clock runs.
        max_request_bytes: Bodies above this size are refused with 413.
        context_window_tokens: When set, every model's context window is this many tokens
            (at most its own): a small window lets a test reach the limit with little text.
    """

    ttft_ms: float = 0.0
    tokens_per_second: float = 20_000.0
    fault_rate: float = 0.0
    seed: int = 0
    time_scale: float = 1.0
    max_request_bytes: int = MAX_REQUEST_BYTES
    context_window_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.ttft_ms < 0:
            raise ValueError("ttft_ms must be >= 0")
        if self.tokens_per_second <= 0:
            raise ValueError("tokens_per_second must be > 0")
        if not 0 <= self.fault_rate <= 1:
            raise ValueError("fault_rate must be between 0 and 1")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if self.max_request_bytes <= 0:
            raise ValueError("max_request_bytes must be > 0")
        if self.context_window_tokens is not None and self.context_window_tokens <= 0:
            raise ValueError("context_window_tokens must be > 0")
