"""Per-company request limiter: stay at QBO's published ceiling, never over it.

QBO counts per realm: 500 requests/min (batches included), 10/s, 10 in flight, 40 batch
requests/min. One limiter per company enforces all four at once with sliding windows
(the time of each admitted request is remembered) and a semaphore for concurrency.
A small hand-written implementation is used because the limiter must admit a request
only when *every* window has room and hold a concurrency slot for its duration; the
libraries we looked at (pyrate-limiter) handle windows but not the in-flight count, and
combining two blocking primitives makes fairness and 429 pauses awkward.

``time_scale`` shrinks every window (10 = a minute lasts 6 s), to match a sandbox run
with ``--time-scale``; a 429 pauses the whole company via ``pause``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ITEMS_PER_BATCH = 30


@dataclass(frozen=True)
class Limits:
    """QBO's published per-realm limits."""

    per_minute: int = 500
    per_second: int = 10
    concurrent: int = 10
    batches_per_minute: int = 40
    items_per_batch: int = ITEMS_PER_BATCH

    @property
    def writes_per_minute_ceiling(self) -> int:
        """Most records one company can write per minute: full batches plus the remaining singles."""
        return self.batches_per_minute * self.items_per_batch + (self.per_minute - self.batches_per_minute)


class _Window:
    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.times: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[0] + self.seconds - now


class RateLimiter:
    """Blocks callers until a request fits every QBO limit of one company."""

    def __init__(self, limits: Limits | None = None, *, time_scale: float = 1.0, margin: float = 0.01,
                 skew: float = 0.03) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.limits = limits or Limits()
        self.time_scale = time_scale
        # windows a little longer than QBO's: requests admitted together can reach QBO bunched
        # (network, event loop), so a relative margin plus a fixed skew in seconds
        pad = 1.0 + margin
        minute, second = 60.0 / time_scale * pad + skew, 1.0 / time_scale * pad + skew
        self._all = [_Window(self.limits.per_minute, minute), _Window(self.limits.per_second, second)]
        self._batch = _Window(self.limits.batches_per_minute, minute)
        self._slots = threading.BoundedSemaphore(self.limits.concurrent)
        self._cond = threading.Condition()
        self._paused_until = 0.0
        self._reservations: deque[float] = deque()  # batch places claimed, not yet admitted
        self._throttles: deque[float] = deque()
        self._second = second
        self._minute = minute
        # Requests spaced evenly instead of 10 at the start of each second: QBO (and the sandbox)
        # count a sliding window, where a burst plus a little network jitter becomes an 11th
        # request and a 429 that pauses the company. The average rate allowed is unchanged.
        self._spacing = second / self.limits.per_second
        self._last_admit = float("-inf")
        self.admitted = 0
        self.admitted_batches = 0
        self.throttled = 0

    def _wait_time(self, batch: bool, now: float) -> float:
        windows = self._all + ([self._batch] if batch else [])
        spacing = self._last_admit + self._spacing - now
        return max([self._paused_until - now, spacing] + [w.wait_time(now) for w in windows])

    def _admit(self, batch: bool) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                delay = self._wait_time(batch, now)
                if delay <= 0:
                    self._last_admit = now
                    for window in self._all:
                        window.times.append(now)
                    if batch:
                        self._batch.times.append(now)
                        if self._reservations:
                            self._reservations.popleft()
                        self.admitted_batches += 1
                    self.admitted += 1
                    return
                self._cond.wait(delay)

    def _free_batches(self, now: float) -> int:
        self._batch.wait_time(now)  # drops expired marks
        while self._reservations and self._reservations[0] <= now - self._minute:
            self._reservations.popleft()  # a claim never used (its request failed before sending)
        return self.limits.batches_per_minute - len(self._batch.times) - len(self._reservations)

    def batch_room(self) -> bool:
        """Whether a batch request could go now without waiting on the batch window."""
        with self._cond:
            now = time.monotonic()
            return self._free_batches(now) > 0 and self._paused_until <= now

    def reserve_batch(self) -> bool:
        """Claim room for one batch in the batch window (consumed when the batch is admitted).

        Lets a caller choose between a batch and a single request without several threads
        all picking a batch for the last free place and then waiting a minute for it.
        """
        with self._cond:
            now = time.monotonic()
            if self._free_batches(now) <= 0:
                return False
            self._reservations.append(now)
            return True

    def cancel_batch_reservation(self) -> None:
        with self._cond:
            if self._reservations:
                self._reservations.pop()
            self._cond.notify_all()

    def throttle_pause(self) -> float:
        """How long to pause after a 429: one second-window, doubling after the third 429 in a minute.

        With the windows kept, a 429 comes from requests reaching QBO bunched, so a short pause
        suffices; many (another client on the same company) back off towards QBO's "wait 60 seconds".
        """
        with self._cond:
            now = time.monotonic()
            while self._throttles and self._throttles[0] <= now - self._minute:
                self._throttles.popleft()
            self._throttles.append(now)
            self.throttled += 1
            return min(self._second * 2 ** max(0, len(self._throttles) - 3), self._minute)

    @contextmanager
    def slot(self, *, batch: bool = False) -> Iterator[None]:
        """Hold one request's place: concurrency slot plus a mark in each window."""
        self._slots.acquire()
        try:
            self._admit(batch)
            yield
        finally:
            self._slots.release()

    def pause(self, seconds: float) -> None:
        """Stop admitting requests for ``seconds`` (QBO said 429: wait before retrying)."""
        with self._cond:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            self._cond.notify_all()


_registry: dict[tuple[str, float], RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(realm_id: str, *, time_scale: float = 1.0) -> RateLimiter:
    """The process-wide limiter of one company (realm), shared by every client that talks to it."""
    with _registry_lock:
        key = (realm_id, time_scale)
        if key not in _registry:
            _registry[key] = RateLimiter(time_scale=time_scale)
        return _registry[key]
