"""Salvage over quarantine: optional fields dropped and reported; what QBO cannot hold quarantined once."""

from __future__ import annotations

from qbo_pipeline.config import load_config
from qbo_pipeline.schemas import validate
from qbo_pipeline.schemas.frames import make_frame
from qbo_pipeline.transform import build_payloads

CONFIG = load_config()


def test_invalid_email_and_placeholder_phone_are_dropped_and_reported_not_the_customer():
    frame = make_frame("customers", [
        {"id": "60", "display_name": "Same", "email": "not-an-email", "phone": "n/a"},
        {"id": "132", "display_name": "Same", "email": "ok@example.com", "phone": "+1 555 0100"},
        {"id": "7", "display_name": "Evil\u202eexe.txt"},
    ])
    result = validate("customers", {"customers": frame})
    assert result.quarantine.empty
    built = build_payloads("customers", result.valid, CONFIG)
    bodies = {p.source_id: p.body for p in built.payloads}
    assert "PrimaryEmailAddr" not in bodies["60"] and "PrimaryPhone" not in bodies["60"]
    assert bodies["132"]["PrimaryEmailAddr"] == {"Address": "ok@example.com"}
    assert bodies["60"]["DisplayName"] == "Same"  # numeric id order: 60 before 132 keeps the name
    assert bodies["132"]["DisplayName"] != "Same"
    assert bodies["7"]["DisplayName"] == "Evilexe.txt"  # the right-to-left override is removed
    report = built.normalisations
    dropped = report[report["rule"] == "invalid_dropped"]
    assert set(zip(dropped["source_id"], dropped["field"], dropped["original"], strict=True)) == {
        ("60", "PrimaryEmailAddr.Address", "not-an-email"), ("60", "PrimaryPhone.FreeFormNumber", "n/a")}
    assert ("7", "name_characters") in set(zip(report["source_id"], report["rule"], strict=True))


def test_amounts_qbo_cannot_hold_old_dates_and_negative_payments_have_one_reason_each():
    invoices = make_frame("invoices", [
        {"id": "1", "number": "A1", "customer_id": "C1", "status": "sent", "issue_date": "2024-03-01"},
        {"id": "2", "number": "A2", "customer_id": "C1", "status": "sent", "issue_date": "1900-01-01"},
    ])
    lines = make_frame("invoice_lines", [
        {"id": "L1", "invoice_id": "1", "quantity": 1, "unit_price": 1e15, "amount": 1e15},
        {"id": "L2", "invoice_id": "2", "quantity": 1, "unit_price": 5, "amount": 5},
    ])
    result = validate("invoices", {"invoices": invoices, "invoice_lines": lines}, known_ids={"customers": {"C1"}})
    checks = result.quarantine.groupby("source_id")["check"].apply(set).to_dict()
    assert checks == {"1": {"amount_too_large"}, "2": {"date_too_old"}}
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert reasons["1"] == ("Line 1 has an amount of 1000000000000000, more than QuickBooks can hold "
                            "(at most 10 digits before the decimal point).")

    payments = make_frame("payments", [{"id": "P1", "customer_id": "C1", "date": "2024-03-02", "amount": -20.0}])
    apps = make_frame("payment_applications", [{"id": "A1", "payment_id": "P1", "invoice_id": "1", "amount": 5.0}])
    result = validate("payments", {"payments": payments, "payment_applications": apps},
                      known_ids={"customers": {"C1"}, "invoices": {"1"}})
    (reason,) = result.quarantine["reason"]
    assert reason == "The payment has a negative amount (-20)."
