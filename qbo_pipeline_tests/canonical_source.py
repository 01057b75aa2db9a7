"""A small canonical source database for a test: exactly the rows the test names."""

from __future__ import annotations

from qbo_pipeline.source import model
from qbo_pipeline.source.examples import write_database


def canonical_source(url: str, rows: dict[str, list[dict]]) -> str:
    """``url`` with the canonical tables created and holding ``rows`` (table -> row dicts) only."""
    write_database(url, model.metadata, rows)
    return url
