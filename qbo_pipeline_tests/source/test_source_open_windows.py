"""Open-ended windows: the first daily partition also reads undated rows, the last every later date."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from qbo_pipeline.source.extract import SourceReader


def test_open_windows_cover_every_row_exactly_once(fresh_demo_db_url):
    engine = sa.create_engine(fresh_demo_db_url)
    with engine.begin() as conn:
        # a billing system that lost an invoice's date: it must still be read (and quarantined)
        conn.execute(sa.text("update invoices set issue_date = NULL where id = (select min(id) from invoices)"))
    engine.dispose()
    cut = date(2026, 1, 1)
    with SourceReader(fresh_demo_db_url) as reader:
        every = set(reader.read("invoices")["id"])
        before = set(reader.read("invoices", window=(None, cut))["id"])
        after = set(reader.read("invoices", window=(cut, None))["id"])
        closed = set(reader.read("invoices", window=(date(1900, 1, 1), cut))["id"])
        undated = before - closed
        lines = reader.read("invoice_lines", window=(None, cut))
    assert before | after == every and not before & after
    assert len(undated) == 1  # only the open start takes the undated row
    assert set(lines["invoice_id"]) <= before and undated <= set(lines["invoice_id"])
