"""pandera contracts of the canonical entities, and quarantine of the rows that break them.

``validate(entity, frames, known_ids=..., config=...)`` returns the valid frames and a
quarantine with one row per failure and a sentence a bookkeeper understands.
``column_schema(entity)`` describes the columns for Dagster (no dagster import here: the
Dagster layer wraps the dicts in ``TableSchema``).
"""

from __future__ import annotations

from typing import Any

from qbo_pipeline.schemas.conform import SchemaMismatchError
from qbo_pipeline.schemas.models import MODELS
from qbo_pipeline.schemas.validation import (
    QUARANTINE_COLUMNS,
    ValidationResult,
    quarantined_ids,
    validate,
)

__all__ = [
    "MODELS",
    "QUARANTINE_COLUMNS",
    "SchemaMismatchError",
    "ValidationResult",
    "column_schema",
    "quarantined_ids",
    "validate",
]


def column_schema(entity: str) -> list[dict[str, Any]]:
    """Columns of a canonical table as ``{name, type, description, nullable}`` dicts.

    Meant for Dagster's ``dagster/column_schema`` metadata:
    ``TableSchema(columns=[TableColumn(**c) ...])`` once ``nullable`` is turned into a constraint.
    """
    if entity not in MODELS:
        raise ValueError(f"unknown entity {entity!r}; expected one of {', '.join(MODELS)}")
    schema = MODELS[entity].to_schema()
    out = []
    for name, column in schema.columns.items():
        checks = [str(c.name) for c in column.checks if c.name]
        description = column.description or ""
        if checks:
            description = f"{description} Checks: {', '.join(checks)}.".strip()
        out.append({
            "name": name,
            "type": "str" if str(column.dtype).startswith("string") else str(column.dtype),
            "description": description,
            "nullable": bool(column.nullable),
        })
    return out
