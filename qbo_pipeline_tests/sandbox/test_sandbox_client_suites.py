"""What the real client libraries' own suites found missing (issue 15): Intuit's sample Ids, transfers,
credit card payments, sales-form PDFs and sends, the default item, QBO's line and account order, and
the sample company's bookkeeping records. Over HTTP against one sandbox per module.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest

from qbo_pipeline.sandbox.sample import (
    BILLS,
    CLASSES,
    DEPARTMENTS,
    ESTIMATES,
    PURCHASES,
    SALES_RECEIPTS,
)
from qbo_pipeline_tests.fixtures_sandbox import (
    sample_company_client,
    sample_refs,
    served_sample_company,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with served_sample_company(tmp_path_factory.mktemp("suites")) as served:
        yield served


@pytest.fixture
def qbo(server):
    with sample_company_client(*server) as client:
        yield client


@pytest.fixture
def refs(qbo):
    found = sample_refs(qbo)
    customers = qbo.get("/query", params={"query": "select * from Customer maxresults 1000"}).json()
    found["Customer"] = {c["DisplayName"]: c["Id"] for c in customers["QueryResponse"]["Customer"]}
    return found


def _ok(response: httpx.Response, entity: str) -> dict:
    assert response.status_code == 200, response.text
    return response.json()[entity]


def _create(qbo, entity, body, **params):
    return _ok(qbo.post(f"/{entity.lower()}", json=body, params={"minorversion": 75, **params}), entity)


def _fault(response: httpx.Response) -> dict:
    assert response.status_code == 400, response.text
    return response.json()["Fault"]["Error"][0]


def _rows(qbo, statement: str, entity: str) -> list[dict]:
    return qbo.get("/query", params={"query": statement}).json()["QueryResponse"].get(entity, [])


def test_sample_accounts_and_items_have_intuits_ids(qbo):
    """Code written against Intuit's sandbox names records by Id: python-quickbooks books bills to
    account 1, estimates Pest Control (item 10) with a discount to account 86, purchases on Visa (42)."""
    for entity, expected in (("account", {"1": "Services", "4": "Undeposited Funds", "33": "Accounts Payable (A/P)",
                                          "35": "Checking", "41": "Mastercard", "42": "Visa",
                                          "79": "Sales of Product Income", "84": "Accounts Receivable (A/R)",
                                          "86": "Discounts given"}),
                             ("item", {"1": "Services", "3": "Concrete", "5": "Rock Fountain", "10": "Pest Control"})):
        for record_id, name in expected.items():
            record = _ok(qbo.get(f"/{entity}/{record_id}"), entity.capitalize())
            assert record["Name"] == name
    assert _ok(qbo.get("/account/42"), "Account")["AccountType"] == "Credit Card"


def test_accounts_list_by_name_without_orderby(qbo):
    names = [a["Name"] for a in _rows(qbo, "select * from Account maxresults 1000", "Account")]
    assert names == sorted(names, key=str.lower) and names[0] == "Accounts Payable (A/P)"
    ids = [int(c["Id"]) for c in _rows(qbo, "select * from Customer maxresults 1000", "Customer")]
    assert ids == sorted(ids)  # other lists keep Id order
    assets = _rows(qbo, "select * from Account where Classification = 'Asset' maxresults 2", "Account")
    assert [a["Name"] for a in assets] == ["Accounts Receivable (A/R)", "Checking"]


def test_item_line_without_item_gets_services_and_subtotal_precedes_the_discount(qbo, refs):
    customer = refs["Customer"]["Cool Cars"]
    estimate = _create(qbo, "Estimate", {"CustomerRef": {"value": customer}, "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": 35.0,
         "SalesItemLineDetail": {"ItemRef": {"value": "10"}, "Qty": 1, "UnitPrice": 35}},
        {"DetailType": "DiscountLineDetail", "Amount": 3.5,
         "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10,
                                "DiscountAccountRef": {"value": "86"}}}]})
    assert [line["DetailType"] for line in estimate["Line"]] == [
        "SalesItemLineDetail", "SubTotalLineDetail", "DiscountLineDetail"]
    assert estimate["Line"][2]["Amount"] == 3.5 and estimate["TotalAmt"] == 31.5
    receipt = _create(qbo, "SalesReceipt", {"Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": 14, "SalesItemLineDetail": {"UnitPrice": 14, "Qty": 1}}]})
    assert receipt["Line"][0]["SalesItemLineDetail"]["ItemRef"] == {"value": "1", "name": "Services"}
    assert receipt["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    # an item that is named must still exist
    assert _fault(qbo.post("/salesreceipt", json={"Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": 14,
         "SalesItemLineDetail": {"ItemRef": {"value": "424242"}}}]}))["code"] == "2500"


def test_transfer_between_balance_sheet_accounts(qbo, refs):
    checking, savings = refs["Account"]["Checking"], refs["Account"]["Savings"]
    transfer = _create(qbo, "Transfer", {"FromAccountRef": {"value": checking}, "ToAccountRef": {"value": savings},
                                         "Amount": 100, "TxnDate": "2024-02-02"})
    assert transfer["Amount"] == 100.0 and transfer["ToAccountRef"] == {"value": savings, "name": "Savings"}
    updated = _create(qbo, "Transfer", {**transfer, "Amount": 101})
    assert updated["SyncToken"] == "1" and updated["Amount"] == 101.0
    assert _fault(qbo.post("/transfer", json={"FromAccountRef": {"value": checking},
                                              "Amount": 5}))["element"] == "ToAccountRef"
    same = _fault(qbo.post("/transfer", json={"FromAccountRef": {"value": checking},
                                              "ToAccountRef": {"value": checking}, "Amount": 5}))
    assert same["code"] == "6000"
    income = _fault(qbo.post("/transfer", json={"FromAccountRef": {"value": checking},
                                                "ToAccountRef": {"value": refs["Account"]["Services"]},
                                                "Amount": 5}))
    assert income["code"] == "6000" and income["element"] == "ToAccountRef"
    report = qbo.get("/reports/TrialBalance", params={"start_date": "2024-02-01", "end_date": "2024-02-28"}).json()
    cells = {row["ColData"][0]["value"]: row["ColData"][1:] for row in report["Rows"]["Row"] if "ColData" in row}
    assert cells["Savings"][0]["value"] != "" and cells["Checking"][1]["value"] != ""
    deleted = qbo.post("/transfer", params={"operation": "delete"},
                       json={"Id": updated["Id"], "SyncToken": updated["SyncToken"]})
    assert _ok(deleted, "Transfer")["status"] == "Deleted"


def test_credit_card_payment_pays_a_card_from_a_bank(qbo, refs):
    card, bank = refs["Account"]["Mastercard"], refs["Account"]["Checking"]
    # QBO's JSON names the entity CreditCardPaymentTxn (its endpoint and query name: CreditCardPayment)
    answer = qbo.post("/creditcardpayment", json={"CreditCardAccountRef": {"value": card},
                                                  "BankAccountRef": {"value": bank}, "Amount": 100})
    payment = _ok(answer, "CreditCardPaymentTxn")
    assert payment["Amount"] == 100.0 and payment["TxnDate"]
    assert _ok(qbo.get(f"/creditcardpayment/{payment['Id']}"), "CreditCardPaymentTxn")["Id"] == payment["Id"]
    assert _rows(qbo, f"select * from CreditCardPayment where Id = '{payment['Id']}'", "CreditCardPaymentTxn")
    wrapped = qbo.post("/creditcardpayment", json={"CreditCardPaymentTxn": {**payment, "Amount": 90}})
    assert _ok(wrapped, "CreditCardPaymentTxn")["Amount"] == 90.0
    batch = qbo.post("/batch", json={"BatchItemRequest": [{"bId": "1", "operation": "create", "CreditCardPaymentTxn": {
        "CreditCardAccountRef": {"value": card}, "BankAccountRef": {"value": bank}, "Amount": 5}}]}).json()
    assert batch["BatchItemResponse"][0]["CreditCardPaymentTxn"]["Amount"] == 5.0
    swapped = _fault(qbo.post("/creditcardpayment", json={"CreditCardAccountRef": {"value": bank},
                                                          "BankAccountRef": {"value": card}, "Amount": 100}))
    assert swapped["code"] == "6000" and swapped["element"] == "CreditCardAccountRef"
    assert _fault(qbo.post("/creditcardpayment", json={"CreditCardAccountRef": {"value": card},
                                                       "BankAccountRef": {"value": bank}}))["code"] == "2020"


def test_sales_form_pdf_and_send(qbo, refs):
    invoice = _create(qbo, "Invoice", {"CustomerRef": {"value": refs["Customer"]["Cool Cars"]}, "Line": [
        {"DetailType": "SalesItemLineDetail", "Amount": 70,
         "SalesItemLineDetail": {"ItemRef": {"value": "10"}, "Qty": 2, "UnitPrice": 35}}]})
    pdf = qbo.get(f"/invoice/{invoice['Id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-1.4") and pdf.content.rstrip().endswith(b"%%EOF")
    assert b"70.00" in pdf.content
    assert qbo.get("/invoice/424242/pdf").json()["Fault"]["Error"][0]["code"] == "610"
    sent = _ok(qbo.post(f"/invoice/{invoice['Id']}/send", params={"sendTo": "books@example.com"}), "Invoice")
    assert sent["EmailStatus"] == "EmailSent" and sent["DeliveryInfo"]["DeliveryType"] == "Email"
    assert sent["BillEmail"] == {"Address": "books@example.com"}
    assert int(sent["SyncToken"]) == int(invoice["SyncToken"]) + 1
    assert _fault(qbo.post(f"/invoice/{invoice['Id']}/send", params={"sendTo": "nobody"}))["element"] == "sendTo"


def _money(cell: dict) -> Decimal:
    return Decimal(cell["value"] or "0")


def test_sample_company_keeps_books_that_balance(qbo):
    """The sample's bookkeeping records exist, are sample records, and every report still balances."""
    counts = {}
    for entity in ("Class", "Department", "Bill", "BillPayment", "Purchase", "SalesReceipt", "Deposit", "Estimate",
                   "Transfer", "CreditCardPayment"):
        key = "CreditCardPaymentTxn" if entity == "CreditCardPayment" else entity
        rows = [r for r in _rows(qbo, f"select * from {entity} maxresults 1000", key) if int(r["Id"]) < 1000]
        counts[entity] = len(rows)
    assert counts["Class"] == len(CLASSES) and counts["Department"] == len(DEPARTMENTS)
    assert counts["Bill"] == len(BILLS) and counts["Purchase"] == len(PURCHASES)
    assert counts["SalesReceipt"] == len(SALES_RECEIPTS) and counts["Estimate"] == len(ESTIMATES)
    assert counts["Deposit"] == 1 and counts["BillPayment"] >= 1
    assert counts["Transfer"] == 1 and counts["CreditCardPayment"] == 1
    sample_bills = [b for b in _rows(qbo, "select * from Bill maxresults 1000", "Bill") if int(b["Id"]) < 1000]
    assert any(b["Balance"] == 0 for b in sample_bills) and any(b["Balance"] > 0 for b in sample_bills)
    trial = qbo.get("/reports/TrialBalance", params={"date_macro": "All"}).json()
    total = trial["Rows"]["Row"][-1]["Summary"]["ColData"]
    assert _money(total[1]) == _money(total[2]) > 0
    sheet = qbo.get("/reports/BalanceSheet", params={"date_macro": "All"}).json()
    sections = {row.get("group"): row for row in sheet["Rows"]["Row"]}
    assets = _money(sections["TotalAssets"]["Summary"]["ColData"][1])
    claims = _money(sections["TotalLiabilitiesAndEquity"]["Summary"]["ColData"][1])
    assert assets == claims and assets > 0
    payables = qbo.get("/reports/AgedPayables").json()
    assert _money(payables["Rows"]["Row"][-1]["Summary"]["ColData"][-1]) == Decimal("556.23")


def test_new_record_ids_start_at_1000(qbo, refs):
    name = f"Suites {uuid.uuid4().hex[:8]}"
    assert int(_create(qbo, "Class", {"Name": name})["Id"]) >= 1000
