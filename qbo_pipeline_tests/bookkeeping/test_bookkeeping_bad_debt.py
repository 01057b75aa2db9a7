"""Bad debt through the stage API (``sync_company``, the path `qbo-pipeline run` and the assets share)
against a live sandbox: a closed invoice left unpaid gets a bad-debt credit memo on the bad-debt item,
the item books to the configured ``accounts.bad_debt`` expense account, and the invoice closes."""

from __future__ import annotations

from datetime import date, datetime

from qbo_pipeline.config import load_config
from qbo_pipeline.stages import SyncMode, SyncRequest, sync_company
from qbo_pipeline_tests.canonical_source import canonical_source
from qbo_pipeline_tests.stages.stages_helpers import session_for

STAMP = datetime(2026, 5, 1, 9)


def _source(path) -> str:
    rows = {
        "customers": [{"id": "C1", "display_name": "Gone Bust Ltd", "email": "c1@example.com", "active": True,
                       "deleted": False, "currency": "USD", "updated_at": STAMP}],
        "products": [{"id": "P1", "name": "Consulting", "type": "service", "unit_price": 100.0, "taxable": False,
                      "active": True, "deleted": False, "updated_at": STAMP}],
        "invoices": [{"id": "I1", "number": "INV-1", "customer_id": "C1", "status": "closed",
                      "issue_date": date(2026, 3, 1), "due_date": date(2026, 3, 31), "currency": "USD",
                      "deleted": False, "updated_at": STAMP}],
        "invoice_lines": [{"id": "I1-1", "invoice_id": "I1", "line_no": 1, "product_id": "P1", "quantity": 1.0,
                           "unit_price": 100.0, "amount": 100.0, "tax_code": "NON", "updated_at": STAMP}],
        "payments": [{"id": "PAY1", "customer_id": "C1", "date": date(2026, 3, 20), "amount": 60.0,
                      "currency": "USD", "deleted": False, "updated_at": STAMP}],
        "payment_applications": [{"id": "PAY1-A1", "payment_id": "PAY1", "invoice_id": "I1", "amount": 60.0,
                                  "updated_at": STAMP}],
    }
    return canonical_source(f"sqlite:///{path}", rows)


def test_closed_unpaid_invoice_is_written_off_to_the_bad_debt_account(sandbox_unlimited, tmp_path):
    session = session_for(sandbox_unlimited, tmp_path, _source(tmp_path / "s.db"))
    config = load_config(overrides={**session.config.model_dump(mode="json"),
                                    "options": {**session.config.options.model_dump(mode="json"),
                                                "write_off_closed_unpaid": True},
                                    "accounts": {"bad_debt": "Uncollectible accounts"}})
    session.config = config
    session.engine.config = config

    result = sync_company(config, SyncRequest("demo", SyncMode.FULL), session)

    assert result.totals()["failed"] == 0 and result.totals()["blocked"] == 0, result.report.results
    memo_link = session.ledger.get_link("demo", "CreditMemo", "bad_debt:I1")
    memo = session.client.read("CreditMemo", memo_link["qbo_id"])
    assert memo["TotalAmt"] == 40.0
    item = session.client.read("Item", memo["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"])
    assert item["Name"] == config.options.bad_debt_item
    account = session.client.read("Account", item["IncomeAccountRef"]["value"])
    assert (account["Name"], account["AccountType"], account["AccountSubType"]) == \
        ("Uncollectible accounts", "Expense", "BadDebts")
    invoice = session.client.read("Invoice", session.ledger.get_link("demo", "Invoice", "I1")["qbo_id"])
    assert invoice["Balance"] == 0.0
