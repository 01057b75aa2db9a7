"""Intuit's per-company throttles: 500 requests/min (batches included), 10/s, 10 concurrent, 40 batches/min.

``time_scale`` K shrinks every window K times (a minute lasts 60/K s) so benchmarks can run
at the real ratios in less time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

PER_MINUTE = 500
PER_SECOND = 10
CONCURRENT = 10
BATCHES_PER_MINUTE = 40
BATCH_ITEMS = 30


@dataclass
class _Windows:
    minute: deque = field(default_factory=deque)
    second: deque = field(default_factory=deque)
    batch_minute: deque = field(default_factory=deque)
    in_flight: int = 0


class RateLimiter:
    """Sliding windows per realm; ``admit`` says which limit a request would break, if any."""

    def __init__(self, monotonic: Callable[[], float], time_scale: float = 1.0, enabled: bool = True) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.monotonic = monotonic
        self.minute = 60.0 / time_scale
        self.second = 1.0 / time_scale
        self.enabled = enabled
        self._realms: dict[str, _Windows] = {}

    def admit(self, realm: str, is_batch: bool) -> str | None:
        """Record the request and return None, or return the name of the limit it exceeds."""
        windows = self._realms.setdefault(realm, _Windows())
        if not self.enabled:
            windows.in_flight += 1
            return None
        now = self.monotonic()
        for queue, span in ((windows.minute, self.minute), (windows.second, self.second),
                            (windows.batch_minute, self.minute)):
            while queue and queue[0] <= now - span:
                queue.popleft()
        if windows.in_flight >= CONCURRENT:
            return "concurrent"
        if len(windows.second) >= PER_SECOND:
            return "per_second"
        if len(windows.minute) >= PER_MINUTE:
            return "per_minute"
        if is_batch and len(windows.batch_minute) >= BATCHES_PER_MINUTE:
            return "batch_per_minute"
        windows.minute.append(now)
        windows.second.append(now)
        if is_batch:
            windows.batch_minute.append(now)
        windows.in_flight += 1
        return None

    def release(self, realm: str) -> None:
        windows = self._realms.get(realm)
        if windows and windows.in_flight > 0:
            windows.in_flight -= 1

    def reset(self) -> None:
        for windows in self._realms.values():
            windows.minute.clear()
            windows.second.clear()
            windows.batch_minute.clear()
