"""Migration aid: the canonical tables and the pandera contracts are the same as on main.

The column factory of ``source/model.py`` and the shared pandera bases of ``schemas/`` were
introduced without changing a column. ``schema_snapshot_main.json`` was written once from
main (``/work/main/.venv/bin/python qbo_pipeline_tests/source/test_source_schema_unchanged.py
--write``): every table's columns with type, nullability, default and comment, the DDL
for SQLite and PostgreSQL, and every pandera column with dtype, checks, messages and
description, in order. This test compares the branch against it.

One difference is intended and edited into the snapshot: on main the currency check of every
transaction but the first one validated in the process was named ``_currency`` (pandera keeps a
shared base check's ``name`` once); it is ``currency_code`` everywhere now
(test_shared_checks_keep_their_name_on_every_entity_whichever_is_validated_first).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

SNAPSHOT = Path(__file__).with_name("schema_snapshot_main.json")


def _tables() -> dict[str, Any]:
    from qbo_pipeline.source import model

    out: dict[str, Any] = {}
    for name, table in model.metadata.tables.items():
        out[name] = {
            "columns": [{
                "name": c.name, "key": c.key, "type": repr(c.type), "nullable": c.nullable,
                "primary_key": c.primary_key, "autoincrement": str(c.autoincrement),
                "default": None if c.default is None else repr(c.default.arg),
                "server_default": None if c.server_default is None else repr(c.server_default),
                "comment": c.comment, "index": c.index, "unique": c.unique,
            } for c in table.columns],
            "ddl_sqlite": str(CreateTable(table).compile(dialect=sqlite.dialect())),
            "ddl_postgresql": str(CreateTable(table).compile(dialect=postgresql.dialect())),
        }
    out["_registry"] = {
        "entities": [[e.name, e.table.name, e.txn_date_column, e.parent, e.columns] for e in model.ENTITIES.values()],
        "money": model.MONEY_COLUMNS,
        "optional": {k: list(v) for k, v in model.OPTIONAL_COLUMNS.items()},
        "canonical_values": [[list(k), list(v)] for k, v in model.CANONICAL_VALUES.items()],
        "parent_keys": model.BOOKKEEPING_PARENT_KEYS,
    }
    return out


def _check(check: Any) -> dict[str, Any]:
    return {"name": check.name, "error": None if check.error is None else str(check.error),
            "statistics": repr(check.statistics), "ignore_na": check.ignore_na,
            "element_wise": check.element_wise, "groups": repr(check.groups)}


def _contracts() -> dict[str, Any]:
    from qbo_pipeline.schemas import column_schema
    from qbo_pipeline.schemas.models import MODELS as BILLING
    from qbo_pipeline.schemas.validation import MODELS

    out: dict[str, Any] = {}
    for entity, contract in MODELS.items():
        schema = contract.to_schema()
        out[entity] = {
            "model": contract.__name__, "doc": contract.__doc__, "schema_name": schema.name,
            "strict": schema.strict, "coerce": schema.coerce, "ordered": schema.ordered,
            "unique": repr(schema.unique), "frame_checks": [_check(c) for c in schema.checks],
            "columns": [{
                "name": name, "dtype": str(col.dtype), "nullable": col.nullable, "unique": col.unique,
                "coerce": col.coerce, "required": col.required, "regex": col.regex,
                "description": col.description, "title": col.title, "checks": [_check(c) for c in col.checks],
            } for name, col in schema.columns.items()],
        }
        if entity in BILLING:
            out[entity]["column_schema"] = column_schema(entity)
    return out


def snapshot() -> dict[str, Any]:
    """What the branch must keep: tables and contracts, JSON-ready."""
    return json.loads(json.dumps({"tables": _tables(), "contracts": _contracts()}, default=str))


def test_tables_are_the_same_as_on_main():
    expected = json.loads(SNAPSHOT.read_text())["tables"]
    actual = snapshot()["tables"]
    assert list(actual) == list(expected)
    for name in expected:
        assert actual[name] == expected[name], name


def test_contracts_are_the_same_as_on_main():
    expected = json.loads(SNAPSHOT.read_text())["contracts"]
    actual = snapshot()["contracts"]
    assert list(actual) == list(expected)
    for entity in expected:
        assert actual[entity] == expected[entity], entity


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    SNAPSHOT.write_text(json.dumps(snapshot(), indent=1, sort_keys=False) + "\n")
