"""Canonical frames from plain rows: every column present, conventions applied.

Handy wherever rows are written by hand (tests, examples, the Dagster layer's fakes):
missing columns get the model's default (``active`` True, ``deleted`` False, ``line_no`` 1,
``updated_at`` now) or stay empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from qbo_pipeline.schemas.conform import conform
from qbo_pipeline.source.model import ENTITIES

DEFAULT_UPDATED_AT = pd.Timestamp("2024-06-01 12:00:00")


def make_frame(table: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A conformed canonical frame of ``table`` built from partial row dicts."""
    columns = ENTITIES[table].columns
    rows = [dict(r) for r in rows]
    for row in rows:
        row.setdefault("updated_at", DEFAULT_UPDATED_AT)
    frame = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    frame = frame.astype({c: object for c in columns if frame[c].isna().all()})
    if "updated_at" in frame:
        frame["updated_at"] = pd.to_datetime(frame["updated_at"])
    conformed, _ = conform(table, frame)
    return conformed
