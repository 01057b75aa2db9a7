"""The canonical tables say what docs/canonical-model.md says, and a column name means one thing.

The tables are built from a column factory (``source/model.py``); a slip there (a block added to
the wrong table, a wrong type passed) would silently change what every source is mapped onto.
These tests hold the column lists to the documented ones (in order), the pandera contracts to the
tables, and every column name to one SQL type and default across all tables.
"""

from __future__ import annotations

import re
from pathlib import Path

from qbo_pipeline.schemas.validation import MODELS
from qbo_pipeline.source import model

DOC = Path(__file__).resolve().parents[2] / "docs" / "canonical-model.md"


def _documented() -> dict[str, list[str]]:
    rows = re.findall(r"^\| `(\w+)` \| ([a-z_0-9, ]+) \|", DOC.read_text(), re.M)
    return {table: [c.strip() for c in columns.split(",")] for table, columns in rows}


def test_every_table_has_the_documented_columns_in_order():
    documented = _documented()
    assert set(documented) == set(model.ENTITIES)
    for name, entity in model.ENTITIES.items():
        assert entity.columns == documented[name], name


def test_every_table_has_a_contract_for_exactly_its_columns():
    for name, entity in model.ENTITIES.items():
        assert set(MODELS[name].to_schema().columns) == set(entity.columns), name


def test_a_column_name_has_one_type_and_default_in_every_table():
    seen: dict[str, tuple[str, str, object]] = {}
    for table in model.metadata.tables.values():
        for column in table.columns:
            shape = (repr(column.type), None if column.default is None else column.default.arg)
            first = seen.setdefault(column.name, (table.name, *shape))
            assert shape == first[1:], f"{table.name}.{column.name} is {shape}, {first[0]}.{column.name} is {first[1:]}"
    assert seen["id"][1] == "String(length=64)" and seen["updated_at"][1] == "DateTime()"
    assert all(model.metadata.tables[t].c.updated_at.nullable is False for t in model.ENTITIES)
    assert all(not model.metadata.tables[t].c.deleted.nullable for t in model.ENTITIES
               if "deleted" in model.metadata.tables[t].c)
