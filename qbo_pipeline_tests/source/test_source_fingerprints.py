"""Tables without a modification stamp stay incremental: content fingerprints kept in the ledger."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from qbo_pipeline.ledger import Ledger
from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline.source.mapping import parse_mapping

MAPPING = {"entities": {
    "invoices": {"table": "bills", "watermark": "changed", "columns": {
        "id": "id", "customer_id": "client", "number": "num", "status": {"value": "sent"}, "issue_date": "billed"}},
    "invoice_lines": {"table": "bill_lines", "watermark": "none", "columns": {
        "id": "id", "invoice_id": "bill", "amount": "amount"}},
    "payments": {"table": "receipts", "watermark": "none", "columns": {
        "id": "id", "customer_id": "client", "date": "paid", "amount": "amount"}},
}}


def source(tmp_path):
    url = f"sqlite:///{tmp_path}/stamps.db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bills (id INTEGER, client INTEGER, num TEXT, billed TEXT, changed TEXT)")
        conn.exec_driver_sql("CREATE TABLE bill_lines (id INTEGER, bill INTEGER, amount NUMERIC)")
        conn.exec_driver_sql("CREATE TABLE receipts (id INTEGER, client INTEGER, paid TEXT, amount NUMERIC)")
        conn.exec_driver_sql("INSERT INTO bills VALUES (1, 1, 'B1', '2024-01-02', '2024-01-02 10:00:00'), "
                             "(2, 1, 'B2', '2024-01-03', '2024-01-03 10:00:00')")
        conn.exec_driver_sql("INSERT INTO bill_lines VALUES (10, 1, 5), (11, 1, 6), (20, 2, 7)")
        conn.exec_driver_sql("INSERT INTO receipts VALUES (60, 1, '2024-01-05', 11), (132, 1, '2024-01-06', 7)")
    return url, engine


def test_stampless_rows_are_found_when_edited_back_dated_added_or_removed(tmp_path):
    url, engine = source(tmp_path)
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    reader = SourceReader(url, parse_mapping(MAPPING, "stamps.yaml"))
    first = reader.changed_rows("payments", None, {"payments": ledger.fingerprints("demo", "payments")})
    assert sorted(first.rows["id"]) == ["132", "60"] and first.removed == {"payments": set()}
    ledger.save_fingerprints("demo", "payments", first.fingerprints["payments"])

    cursor = datetime(2024, 2, 1)
    again = reader.changed_rows("payments", cursor, {"payments": ledger.fingerprints("demo", "payments")})
    assert again.rows.empty and again.fingerprints == {"payments": {}}  # nothing changed: nothing read back

    with engine.begin() as conn:  # back-dated edit, a new row, a deleted row: no stamp tells of any
        conn.exec_driver_sql("UPDATE receipts SET paid = '2023-12-31' WHERE id = 60")
        conn.exec_driver_sql("INSERT INTO receipts VALUES (7, 1, '2024-01-07', 1)")
        conn.exec_driver_sql("DELETE FROM receipts WHERE id = 132")
    later = reader.changed_rows("payments", cursor, {"payments": ledger.fingerprints("demo", "payments")})
    assert sorted(later.rows["id"]) == ["60", "7"] and later.removed == {"payments": {"132"}}
    ledger.save_fingerprints("demo", "payments", later.fingerprints["payments"], later.removed["payments"])
    assert set(ledger.fingerprints("demo", "payments")) == {"60", "7"}
    reader.close()


def test_a_stamped_invoice_changes_when_an_unstamped_line_changes(tmp_path):
    url, engine = source(tmp_path)
    reader = SourceReader(url, parse_mapping(MAPPING, "stamps.yaml"))
    first = reader.changed_rows("invoices", None, {})
    assert sorted(first.rows["id"]) == ["1", "2"] and len(first.children) == 3
    prints = first.fingerprints
    cursor = datetime(2024, 2, 1)
    assert reader.changed_rows("invoices", cursor, prints).rows.empty
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE bill_lines SET amount = 8 WHERE id = 20")
    changed = reader.changed_rows("invoices", cursor, prints)
    assert list(changed.rows["id"]) == ["2"] and list(changed.children["id"]) == ["20"]
    assert changed.children["amount"].iloc[0] == 8.0
    reader.close()
