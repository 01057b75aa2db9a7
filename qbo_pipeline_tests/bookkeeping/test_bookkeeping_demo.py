"""The demo source produces valid rows of every bookkeeping table, and an older demo database (built
before these tables) is completed instead of failing the canonical mapping."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from qbo_pipeline.config import load_config
from qbo_pipeline.source import model
from qbo_pipeline.source.demo import add_missing_tables, init_demo_db
from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline.stages import validate_changes

BOOKKEEPING = ("sales_receipts", "sales_receipt_lines", "deposits", "deposit_lines", "expenses", "bills",
               "journal_entries", "journal_entry_lines")


def test_demo_bookkeeping_rows_are_all_valid(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    counts = init_demo_db(url, scale=0.01, today=date(2026, 6, 15))
    assert all(counts[t] > 0 for t in BOOKKEEPING), counts
    config = load_config(overrides={"source": {"url": url}})
    with SourceReader(url) as reader:
        frames = {t: reader.read(t) for t in model.ENTITIES}
    results = validate_changes(config, frames)
    for name in ("sales_receipts", "deposits", "expenses", "bills", "journal_entries"):
        assert results[name].quarantine.empty, results[name].quarantine.to_dict("records")
    trust = frames["deposits"][frames["deposits"]["bank_kind"] == "trust"]
    assert len(trust) == 1
    assert set(frames["journal_entries"]["purpose"]) == {"write_off", "transfer"}
    assert frames["expenses"]["billable"].any() and frames["sales_receipts"]["tip"].notna().any()


def test_an_older_demo_database_gets_the_new_tables_empty(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    model.metadata.create_all(engine, tables=[model.metadata.tables[t] for t in model.ENTITIES
                                              if t not in BOOKKEEPING])
    engine.dispose()
    add_missing_tables(url)
    with SourceReader(url) as reader:
        assert all(reader.read(t).empty for t in BOOKKEEPING)
