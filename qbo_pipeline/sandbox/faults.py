"""Injected faults: random 429/500/503, latency, lost responses after commit, 6000 and stale SyncTokens.

Set at start (``create_app(faults=...)``, ``serve --fault-...``) or at run time through
``POST /admin/faults``. A ``seed`` makes a run reproducible.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class FaultSettings:
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    latency_ms: float = 0.0
    close_after_commit: float = 0.0
    one_name_at_a_time: float = 0.0
    stale_sync_token: float = 0.0
    seed: int | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None, base: FaultSettings | None = None) -> FaultSettings:
        """Settings from a (possibly partial) dict; unknown keys or out-of-range rates are errors."""
        merged = asdict(base or cls())
        known = {f.name for f in fields(cls)}
        for key, value in (values or {}).items():
            if key not in known:
                raise ValueError(f"unknown fault setting {key!r}; known: {sorted(known)}")
            if key == "seed":
                merged[key] = None if value is None else int(value)
                continue
            number = float(value)
            if key != "latency_ms" and not 0.0 <= number <= 1.0:
                raise ValueError(f"{key} is a probability between 0 and 1, got {value!r}")
            if number < 0:
                raise ValueError(f"{key} must not be negative")
            merged[key] = number
        return cls(**merged)


class FaultInjector:
    """Draws faults from the settings and counts what it injected."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self.stats: dict[str, int] = {}
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        self.settings = settings
        self.random = random.Random(settings.seed)

    def draw(self, name: str) -> bool:
        rate = getattr(self.settings, name)
        if rate <= 0.0 or self.random.random() >= rate:
            return False
        self.stats[name] = self.stats.get(name, 0) + 1
        return True

    def count(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self.settings)
