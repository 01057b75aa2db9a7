"""A source table without a modification stamp stays incremental through the sync (the run path).

Many invoicing applications stamp invoices and clients but not products or payments (mapped with
``watermark: none``). The sync must find an edit there without a stamp telling of it (content
fingerprints kept in the ledger), write it, and read nothing of those tables back when nothing
changed. Real SQLite source, real HTTP sandbox, ``stages.sync_company`` as `qbo-pipeline run` calls it.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import sqlalchemy as sa
import yaml

from qbo_pipeline.stages import SyncRequest, sync_company
from qbo_pipeline_tests.canonical_source import canonical_source
from qbo_pipeline_tests.stages.stages_helpers import session_for

STAMP = datetime(2026, 5, 1, 9)

MAPPING = {"name": "stampless", "entities": {
    "customers": {"table": "customers", "watermark": "updated_at",
                  "columns": {c: c for c in ("id", "display_name", "active", "currency")}},
    "products": {"table": "products", "watermark": "none",
                 "columns": {c: c for c in ("id", "name", "type", "unit_price", "taxable", "active")}},
    "invoices": {"table": "invoices", "watermark": "updated_at",
                 "columns": {c: c for c in ("id", "number", "customer_id", "status", "issue_date", "currency")}},
    "invoice_lines": {"table": "invoice_lines", "watermark": "updated_at", "columns": {
        c: c for c in ("id", "invoice_id", "line_no", "product_id", "quantity", "unit_price", "amount", "tax_code")}},
    "payments": {"table": "payments", "watermark": "none",
                 "columns": {c: c for c in ("id", "customer_id", "date", "amount", "currency")}},
    "payment_applications": {"table": "payment_applications", "watermark": "none",
                             "columns": {c: c for c in ("id", "payment_id", "invoice_id", "amount")}},
}}


def _source(tmp_path) -> str:
    rows = {
        "customers": [{"id": "C1", "display_name": "Stampless Co", "active": True, "deleted": False,
                       "currency": "USD", "updated_at": STAMP}],
        "products": [{"id": "P1", "name": "Support plan", "type": "service", "unit_price": 50.0, "taxable": False,
                      "active": True, "deleted": False, "updated_at": STAMP}],
        "invoices": [{"id": "I1", "number": "S-1", "customer_id": "C1", "status": "sent",
                      "issue_date": date(2026, 4, 1), "currency": "USD", "deleted": False, "updated_at": STAMP}],
        "invoice_lines": [{"id": "I1-1", "invoice_id": "I1", "line_no": 1, "product_id": "P1", "quantity": 2.0,
                           "unit_price": 50.0, "amount": 100.0, "tax_code": "NON", "updated_at": STAMP}],
        "payments": [{"id": "PAY1", "customer_id": "C1", "date": date(2026, 4, 10), "amount": 40.0,
                      "currency": "USD", "deleted": False, "updated_at": STAMP}],
        "payment_applications": [{"id": "PAY1-A", "payment_id": "PAY1", "invoice_id": "I1", "amount": 40.0,
                                  "updated_at": STAMP}],
    }
    return canonical_source(f"sqlite:///{tmp_path}/stampless.db", rows)


def _edit_without_stamp(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_an_edit_in_a_stampless_table_is_exported_and_nothing_else_is_read(sandbox_unlimited, tmp_path):
    url = _source(tmp_path)
    mapping = tmp_path / "stampless.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING))
    session = session_for(sandbox_unlimited, tmp_path, url)
    source = session.config.source.model_copy(update={"mapping": str(mapping)})
    session = dataclasses.replace(session, config=session.config.model_copy(update={"source": source}))

    first = sync_company(session.config, SyncRequest("demo"), session)
    assert first.totals()["failed"] == 0
    assert first.entities["payments"].created == 1 and first.entities["products"].created == 1
    assert session.ledger.fingerprints("demo", "payments")  # kept for the next run

    quiet = sync_company(session.config, SyncRequest("demo"), session)
    assert quiet.entities["payments"].read == 0 and quiet.entities["products"].read == 0
    assert quiet.report.write_requests == 0

    # the billing application changes a payment and a price: no stamp moves
    _edit_without_stamp(url, "UPDATE payments SET amount = 60 WHERE id = 'PAY1'")
    _edit_without_stamp(url, "UPDATE payment_applications SET amount = 60 WHERE id = 'PAY1-A'")
    _edit_without_stamp(url, "UPDATE products SET unit_price = 55 WHERE id = 'P1'")

    changed = sync_company(session.config, SyncRequest("demo"), session)
    assert changed.totals()["failed"] == 0
    assert (changed.entities["payments"].read, changed.entities["payments"].updated) == (1, 1)
    assert (changed.entities["products"].read, changed.entities["products"].updated) == (1, 1)
    assert changed.entities["invoices"].read <= 1  # only what the payment points at, never rewritten
    assert changed.entities["invoices"].updated == 0
    payment = session.client.read("Payment", session.ledger.get_link("demo", "Payment", "PAY1")["qbo_id"])
    assert float(payment["TotalAmt"]) == 60.0
    item = session.client.read("Item", session.ledger.get_link("demo", "Item", "P1")["qbo_id"])
    assert float(item["UnitPrice"]) == 55.0

    after = sync_company(session.config, SyncRequest("demo"), session)
    assert after.entities["payments"].read == 0 and after.report.write_requests == 0
