"""Clocks for the sandbox: the wall clock in production, a hand-driven one in tests.

Token expiry, refresh-token rotation grace, MetaData times and CDC look-back all read the
clock, so tests can jump an hour ahead instead of waiting for it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SystemClock:
    """The real time (UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that only moves when told to; rate-limit windows follow it too."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        if self._now.tzinfo is None:
            self._now = self._now.replace(tzinfo=UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward by ``seconds`` and return the new time."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._elapsed += seconds
            return self._now


class AdjustableClock(SystemClock):
    """The wall clock plus an offset that the admin endpoint can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self.offset += seconds
        return self.now()
