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


def test_canonical_tables_give_their_tax_as_billed_and_an_older_database_reads_it_as_empty(tmp_path):
    """The identity mapping reads the columns added later (tax as billed) where the database has
    them, so a user's canonical tables never lose billed tax; a database without them still reads."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    init_demo_db(url, scale=0.01, today=date(2026, 6, 15))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        line_id = conn.execute(sa.text("SELECT id FROM sales_receipt_lines ORDER BY id LIMIT 1")).scalar_one()
        conn.execute(sa.text("UPDATE sales_receipt_lines SET tax_amount = 1.23 WHERE id = :i"), {"i": line_id})
        conn.execute(sa.text("UPDATE invoice_lines SET tax_amount = 0.5"))
    with SourceReader(url) as reader:
        lines = reader.read("sales_receipt_lines")
        assert float(lines.set_index("id").loc[line_id, "tax_amount"]) == 1.23
        assert (reader.read("invoice_lines")["tax_amount"] == 0.5).all()
    with engine.begin() as conn:  # as made by a version before sales_receipt_lines.tax_amount
        conn.execute(sa.text("ALTER TABLE sales_receipt_lines DROP COLUMN tax_amount"))
    engine.dispose()
    with SourceReader(url) as reader:
        lines = reader.read("sales_receipt_lines")
        assert len(lines) > 0 and lines["tax_amount"].isna().all()
