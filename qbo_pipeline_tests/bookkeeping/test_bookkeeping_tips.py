"""A tip on a payment against a live sandbox: the invoice is paid, the tip lands on the tips item
(a SalesReceipt next to the payment), nothing is left as unapplied credit, and the day adds up."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from qbo_pipeline.source.demo import _write
from qbo_pipeline.stages import SyncMode, SyncRequest, sync_company
from qbo_pipeline_tests.stages.stages_helpers import session_for

STAMP = datetime(2026, 5, 1, 9)


def test_a_tip_on_a_payment_lands_on_the_tips_item(sandbox_unlimited, tmp_path):
    rows = {
        "customers": [{"id": "C1", "display_name": "Table 7", "email": "t7@example.com", "active": True,
                       "deleted": False, "currency": "USD", "updated_at": STAMP}],
        "products": [{"id": "P1", "name": "Dinner", "type": "service", "unit_price": 84.2, "taxable": False,
                      "active": True, "deleted": False, "updated_at": STAMP}],
        "invoices": [{"id": "I1", "number": "CHK-7", "customer_id": "C1", "status": "paid",
                      "issue_date": date(2026, 4, 30), "currency": "USD", "deleted": False, "updated_at": STAMP}],
        "invoice_lines": [{"id": "I1-1", "invoice_id": "I1", "line_no": 1, "product_id": "P1", "quantity": 1.0,
                           "unit_price": 84.2, "amount": 84.2, "tax_code": "NON", "updated_at": STAMP}],
        "payments": [{"id": "PAY1", "customer_id": "C1", "date": date(2026, 4, 30), "amount": 100.0, "tip": 15.8,
                      "method": "Visa", "currency": "USD", "deleted": False, "updated_at": STAMP}],
        "payment_applications": [{"id": "PAY1-A", "payment_id": "PAY1", "invoice_id": "I1", "amount": 84.2,
                                  "updated_at": STAMP}],
    }
    url = f"sqlite:///{tmp_path / 's.db'}"
    engine = sa.create_engine(url)
    _write(engine, rows)
    engine.dispose()
    session = session_for(sandbox_unlimited, tmp_path, url)

    result = sync_company(session.config, SyncRequest("demo", SyncMode.FULL), session)

    counts = result.entities["payments"]
    assert counts.read == counts.created == counts.accounted == 1, counts
    payment = session.client.read("Payment", session.ledger.get_link("demo", "Payment", "PAY1")["qbo_id"])
    assert payment["TotalAmt"] == 84.2 and payment.get("UnappliedAmt", 0) == 0
    tip = session.client.read("SalesReceipt", session.ledger.get_link("demo", "SalesReceipt", "tip:PAY1")["qbo_id"])
    assert tip["TotalAmt"] == 15.8
    item = session.client.read("Item", tip["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"])
    assert item["Name"] == session.config.options.tip_item
    assert round(payment["TotalAmt"] + tip["TotalAmt"], 2) == 100.0  # what reached Undeposited Funds
    invoice = session.client.read("Invoice", session.ledger.get_link("demo", "Invoice", "I1")["qbo_id"])
    assert invoice["Balance"] == 0
