"""Multicurrency against a live sandbox: a foreign currency is refused up front (quarantined with the
setting to change) when the company has multicurrency off, and booked with the source's exchange rate
(or QBO's rate for the date) when it is on, the home-currency totals checked to the cent."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from qbo_pipeline.schemas.currency import SETTING
from qbo_pipeline.stages import SyncMode, SyncRequest, sync_company
from qbo_pipeline_tests.canonical_source import canonical_source
from qbo_pipeline_tests.stages.stages_helpers import session_for

STAMP = datetime(2026, 5, 1, 9)
DAY = date(2026, 5, 1)


def _customer(cid: str, name: str, currency: str) -> dict:
    return {"id": cid, "display_name": name, "company_name": name, "email": f"{cid.lower()}@example.com",
            "active": True, "deleted": False, "currency": currency, "updated_at": STAMP}


def _receipt(rid: str, customer: str, currency: str, rate: float | None, amount: float) -> tuple[dict, dict]:
    head = {"id": rid, "number": rid, "customer_id": customer, "date": DAY, "currency": currency,
            "exchange_rate": rate, "method": "Visa", "deposit_account": None, "tip": None, "deleted": False,
            "updated_at": STAMP}
    line = {"id": f"{rid}-1", "receipt_id": rid, "line_no": 1, "product_id": "P1", "description": "Widget",
            "quantity": 1.0, "unit_price": amount, "amount": amount, "tax_code": "NON", "updated_at": STAMP}
    return head, line


def _source(path) -> str:
    receipts = [_receipt("SR-EUR-1", "C-EUR", "EUR", 1.1, 199.99), _receipt("SR-EUR-2", "C-EUR", "EUR", None, 10.05),
                _receipt("SR-USD-1", "C-USD", "USD", None, 50.0)]
    rows = {
        "customers": [_customer("C-EUR", "Berlin GmbH", "EUR"), _customer("C-USD", "Austin LLC", "USD")],
        "products": [{"id": "P1", "name": "Widget", "type": "service", "unit_price": 10.0, "taxable": False,
                      "active": True, "deleted": False, "updated_at": STAMP}],
        "sales_receipts": [h for h, _ in receipts],
        "sales_receipt_lines": [line for _, line in receipts],
    }
    return canonical_source(f"sqlite:///{path}", rows)


def test_multicurrency_off_quarantines_foreign_records_naming_the_setting(sandbox_unlimited, tmp_path):
    session = session_for(sandbox_unlimited, tmp_path, _source(tmp_path / "s.db"))

    result = sync_company(session.config, SyncRequest("demo", SyncMode.FULL), session)

    q = result.quarantine
    refused = q[q["check"] == "multicurrency_off"]
    assert set(zip(refused["entity"], refused["source_id"], strict=True)) == {
        ("customers", "C-EUR"), ("sales_receipts", "SR-EUR-1"), ("sales_receipts", "SR-EUR-2")}
    assert all(SETTING in r and "EUR" in r for r in refused["reason"])
    assert result.entities["sales_receipts"].quarantined == 2
    assert result.entities["sales_receipts"].created == 1
    assert result.totals()["failed"] == 0
    receipts = [r for r in session.client.query_all("SalesReceipt") if int(r["Id"]) >= 1000]  # not the sample's
    assert [r["DocNumber"] for r in receipts] == ["SR-USD-1"]
    assert {c["DisplayName"] for c in session.client.query_all("Customer")} >= {"Austin LLC"}
    assert "Berlin GmbH" not in {c["DisplayName"] for c in session.client.query_all("Customer")}
    # recorded for `qbo-pipeline status` / the quarantine report
    assert session.ledger.quarantine_reasons("demo", [("sales_receipts", "SR-EUR-1")])


def test_multicurrency_on_books_the_source_rate_or_qbos_and_home_totals_match(sandbox_unlimited, tmp_path):
    session = session_for(sandbox_unlimited, tmp_path, _source(tmp_path / "s.db"))
    prefs = session.client.preferences()
    session.client.request("POST", "preferences", json={
        "SyncToken": prefs["SyncToken"], "sparse": True, "CurrencyPrefs": {"MultiCurrencyEnabled": True}})

    result = sync_company(session.config, SyncRequest("demo", SyncMode.FULL), session)

    assert result.totals()["quarantined"] == 0 and result.totals()["failed"] == 0
    by_number = {r["DocNumber"]: r for r in session.client.query_all("SalesReceipt")}
    eur = by_number["SR-EUR-1"]
    assert eur["CurrencyRef"]["value"] == "EUR" and Decimal(str(eur["ExchangeRate"])) == Decimal("1.1")
    feed = by_number["SR-EUR-2"]  # no rate in the source: QBO's rate for the date
    assert Decimal(str(feed["ExchangeRate"])) == Decimal("1.08")
    for receipt, total in ((eur, Decimal("199.99")), (feed, Decimal("10.05"))):
        assert Decimal(str(receipt["TotalAmt"])) == total
        home = (total * Decimal(str(receipt["ExchangeRate"]))).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert Decimal(str(receipt["HomeTotalAmt"])) == home
    customer = next(c for c in session.client.query_all("Customer") if c["DisplayName"] == "Berlin GmbH")
    assert customer["CurrencyRef"]["value"] == "EUR"
