"""Drift against a live sandbox: a person edits an exported invoice and deletes an exported sales
receipt in QBO; the next sync's CDC pass finds both (and not the invoice whose SyncToken QBO moved
itself when a payment was applied), holds them instead of overwriting, and writes the source's values
only once the operator approves."""

from __future__ import annotations

import json
from datetime import date, datetime

import yaml
from click.testing import CliRunner

from qbo_pipeline.cli import main
from qbo_pipeline.drift import HELD_RULE, DriftKind, changed_fields
from qbo_pipeline.stages import SyncRequest, sync_company
from qbo_pipeline_tests.canonical_source import canonical_source
from qbo_pipeline_tests.stages.stages_helpers import session_for, touch

STAMP = datetime(2026, 5, 1, 9)


def _invoice(iid: str) -> tuple[dict, dict]:
    head = {"id": iid, "number": f"INV-{iid}", "customer_id": "C1", "status": "sent", "issue_date": date(2026, 4, 1),
            "currency": "USD", "memo": "as billed", "deleted": False, "updated_at": STAMP}
    line = {"id": f"{iid}-1", "invoice_id": iid, "line_no": 1, "product_id": "P1", "quantity": 2.0,
            "unit_price": 50.0, "amount": 100.0, "tax_code": "NON", "updated_at": STAMP}
    return head, line


def _source(path) -> str:
    invoices = [_invoice("I1"), _invoice("I2")]
    rows = {
        "customers": [{"id": "C1", "display_name": "Drift Co", "email": "c1@example.com", "active": True,
                       "deleted": False, "currency": "USD", "updated_at": STAMP}],
        "products": [{"id": "P1", "name": "Consulting", "type": "service", "unit_price": 50.0, "taxable": False,
                      "active": True, "deleted": False, "updated_at": STAMP}],
        "invoices": [h for h, _ in invoices],
        "invoice_lines": [line for _, line in invoices],
        "payments": [{"id": "PAY2", "customer_id": "C1", "date": date(2026, 4, 10), "amount": 40.0,
                      "currency": "USD", "deleted": False, "updated_at": STAMP}],
        "payment_applications": [{"id": "PAY2-A", "payment_id": "PAY2", "invoice_id": "I2", "amount": 40.0,
                                  "updated_at": STAMP}],
        "sales_receipts": [{"id": "SR1", "number": "WEB-1", "customer_id": "C1", "date": date(2026, 4, 2),
                            "currency": "USD", "deleted": False, "updated_at": STAMP}],
        "sales_receipt_lines": [{"id": "SR1-1", "receipt_id": "SR1", "line_no": 1, "product_id": "P1",
                                 "quantity": 1.0, "unit_price": 50.0, "amount": 50.0, "tax_code": "NON",
                                 "updated_at": STAMP}],
    }
    return canonical_source(f"sqlite:///{path}", rows)


def _qbo(session, entity: str, source_id: str) -> dict:
    return session.client.read(entity, session.ledger.get_link("demo", entity, source_id)["qbo_id"])


def test_a_persons_edits_are_found_held_and_overwritten_only_when_approved(sandbox_unlimited, tmp_path):
    url = _source(tmp_path / "s.db")
    session = session_for(sandbox_unlimited, tmp_path, url)
    first = sync_company(session.config, SyncRequest("demo"), session)
    assert first.totals()["failed"] == 0 and first.drift is not None and first.drift.findings == ()

    # a bookkeeper changes invoice I1's date and note, and deletes the sales receipt
    invoice = _qbo(session, "Invoice", "I1")
    session.client.update("Invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"],
                                      "TxnDate": "2026-04-03", "PrivateNote": "fixed by Anna"})
    receipt = _qbo(session, "SalesReceipt", "SR1")
    session.client.delete("SalesReceipt", receipt["Id"], receipt["SyncToken"])
    # ... and the source changes the same records
    touch(url, "invoices", "I1", memo="as billed, v2")
    touch(url, "sales_receipts", "SR1", memo="paid by card")
    touch(url, "invoices", "I2", memo="unrelated change")

    second = sync_company(session.config, SyncRequest("demo"), session)

    found = {(f.entity, f.source_id): f for f in second.drift.findings}
    assert set(found) == {("Invoice", "I1"), ("SalesReceipt", "SR1")}  # not I2, whose token QBO moved itself
    assert found[("Invoice", "I1")].kind is DriftKind.EDITED
    assert set(found[("Invoice", "I1")].fields) == {"TxnDate", "PrivateNote"}
    assert found[("SalesReceipt", "SR1")].kind is DriftKind.DELETED
    assert not second.drift.passed and second.drift.open_findings == 2
    assert "2 record(s)" in second.drift.description and second.drift.as_dict()["passed"] is False
    assert second.entities["invoices"].skipped == {HELD_RULE: 1}
    assert second.entities["invoices"].updated == 1  # I2 is written as usual
    assert second.entities["sales_receipts"].skipped == {HELD_RULE: 1}
    kept = _qbo(session, "Invoice", "I1")
    assert (kept["TxnDate"], kept["PrivateNote"]) == ("2026-04-03", "fixed by Anna")
    assert {(d["entity"], d["source_id"], d["status"]) for d in session.ledger.drift("demo")} == {
        ("Invoice", "I1", "open"), ("SalesReceipt", "SR1", "open")}

    # a run without approval still holds it; the operator approves the invoice overwrite
    assert sync_company(session.config, SyncRequest("demo"), session).totals()["updated"] == 0
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text(yaml.safe_dump(session.config.model_dump(mode="json")))
    listed = CliRunner().invoke(main, ["drift", "list", "--json", "--config", str(config_file)])
    assert listed.exit_code == 1, listed.output  # open drift
    assert {f["source_id"] for f in json.loads(listed.stdout)["findings"]} == {"I1", "SR1"}
    approved = CliRunner().invoke(main, ["drift", "overwrite", "--entity", "invoice", "I1", "--config",
                                         str(config_file)])
    assert approved.exit_code == 0, approved.output
    third = sync_company(session.config, SyncRequest("demo"), session)

    assert third.entities["invoices"].updated == 1
    written = _qbo(session, "Invoice", "I1")
    # the source's note, then the pipeline's ownership marker on its own line
    assert (written["TxnDate"], written["PrivateNote"].splitlines()[0]) == ("2026-04-01", "as billed, v2")
    assert [(d["entity"], d["source_id"]) for d in session.ledger.drift("demo")] == [("SalesReceipt", "SR1")]


def test_changed_fields_compares_what_the_pipeline_wrote():
    body = {"CustomerRef": {"$ref": {"kind": "source"}}, "TxnDate": "2026-04-01", "DocNumber": "A1",
            "BillAddr": {"Line1": "1 Main St"}, "Line": [{"Amount": 100.0, "DetailType": "SalesItemLineDetail"}],
            "DisplayName": "Drift Co"}
    same = {"CustomerRef": {"value": "9"}, "TxnDate": "2026-04-01", "DocNumber": "A1", "Balance": 60.0,
            "BillAddr": {"Line1": "1 Main St", "Id": "4"}, "DisplayName": "Drift Co (2)",
            "Line": [{"Amount": 100.0, "DetailType": "SalesItemLineDetail"},
                     {"Amount": 100.0, "DetailType": "SubTotalLineDetail"}]}
    assert changed_fields(body, same, name="Drift Co (2)") == []
    edited = {**same, "DocNumber": "A1-x", "BillAddr": {"Line1": "2 Side St"},
              "Line": [{"Amount": 90.0, "DetailType": "SalesItemLineDetail"}]}
    assert changed_fields(body, edited, name="Drift Co (2)") == ["DocNumber", "BillAddr.Line1", "Line"]
