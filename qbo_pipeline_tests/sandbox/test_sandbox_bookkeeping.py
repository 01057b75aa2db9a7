"""The bookkeeping entities, sales tax, multicurrency and Preferences over HTTP, as QBO answers them.

One sandbox per module (each test makes its own records); tests that switch a company-wide preference
on (multicurrency is one-way) get a sandbox of their own.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from qbo_pipeline_tests.fixtures_sandbox import (
    sample_company_client,
    sample_refs,
    served_sample_company,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with served_sample_company(tmp_path_factory.mktemp("books")) as served:
        yield served


@pytest.fixture
def qbo(server):
    with sample_company_client(*server) as client:
        yield client


@pytest.fixture
def refs(qbo):
    return sample_refs(qbo)


def _name(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def _ok(response: httpx.Response, entity: str) -> dict:
    assert response.status_code == 200, response.text
    return response.json()[entity]


def _create(qbo, entity, body, **params):
    return _ok(qbo.post(f"/{entity.lower()}", json=body, params={"minorversion": 75, **params}), entity)


def _fault(response: httpx.Response) -> dict:
    assert response.status_code == 400, response.text
    return response.json()["Fault"]["Error"][0]


def _account(qbo, account_type, subtype=None):
    body = {"Name": _name(account_type), "AccountType": account_type}
    if subtype:
        body["AccountSubType"] = subtype
    return _create(qbo, "Account", body)


def _item_line(refs, amount, qty=None, price=None, tax="NON", item="Design"):
    detail = {"ItemRef": {"value": refs["Item"][item]}, "TaxCodeRef": {"value": tax}}
    if qty is not None:
        detail["Qty"] = qty
    if price is not None:
        detail["UnitPrice"] = price
    return {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


def _customer(qbo):
    return _create(qbo, "Customer", {"DisplayName": _name("Customer")})


def _vendor(qbo):
    return _create(qbo, "Vendor", {"DisplayName": _name("Vendor")})


# ------------------------------------------------------------------ arithmetic over HTTP
def test_line_amount_check_is_decimal_half_up_with_qbos_fault(qbo, refs):
    customer = _customer(qbo)
    good = _create(qbo, "Invoice", {"CustomerRef": {"value": customer["Id"]},
                                    "Line": [_item_line(refs, 1861.08, 128.35, 14.5)]})
    assert good["TotalAmt"] == 1861.08 and good["Line"][0]["SalesItemLineDetail"]["Qty"] == 128.35
    refused = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]},
                                         "Line": [_item_line(refs, 1861.07, 128.35, 14.5)]})
    assert _fault(refused) == {"Message": "Amount calculation incorrect in the request.",
                               "Detail": "Amount is not equal to UnitPrice * Qty. Supplied value:1,861.07",
                               "code": "6070", "element": "Line.Amount"}


def test_sales_tax_is_computed_line_by_line_from_the_transaction_tax_code(qbo, refs):
    customer = _customer(qbo)
    lines = [_item_line(refs, 1.59, 1, 1.59, "TAX") for _ in range(3)] + [_item_line(refs, 50, tax="NON")]
    invoice = _create(qbo, "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": lines,
                                       "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "2"}}})
    detail = invoice["TxnTaxDetail"]
    assert detail["TotalTax"] == 0.39  # 3 x round(0.1272) = 0.39, where 4.77 x 8% = 0.38
    assert detail["TaxLine"][0]["TaxLineDetail"]["TaxRateRef"]["value"] == "1"
    assert detail["TaxLine"][0]["TaxLineDetail"]["NetAmountTaxable"] == 4.77
    assert invoice["TotalAmt"] == 55.16 and invoice["Balance"] == invoice["TotalAmt"]


def test_tax_after_discount_and_the_override_paths(qbo, refs):
    customer = _customer(qbo)
    base = {"CustomerRef": {"value": customer["Id"]}, "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "2"}},
            "Line": [_item_line(refs, 100, 2, 50, "TAX"),
                     {"Amount": 10, "DetailType": "DiscountLineDetail",
                      "DiscountLineDetail": {"PercentBased": False}}]}
    after = _create(qbo, "Invoice", {**base, "ApplyTaxAfterDiscount": True})
    before = _create(qbo, "Invoice", {**base, "ApplyTaxAfterDiscount": False})
    assert (after["TxnTaxDetail"]["TotalTax"], after["TotalAmt"]) == (7.2, 97.2)
    assert (before["TxnTaxDetail"]["TotalTax"], before["TotalAmt"]) == (8.0, 98.0)
    given = _create(qbo, "Invoice", {**base, "TxnTaxDetail": {"TxnTaxCodeRef": {"value": "2"}, "TotalTax": 7.77}})
    assert given["TxnTaxDetail"]["TotalTax"] == 7.77 and given["TotalAmt"] == 97.77
    assert given["TxnTaxDetail"]["TaxLine"][0]["Amount"] == 7.77
    by_line = _create(qbo, "Invoice", {**base, "TxnTaxDetail": {"TaxLine": [
        {"Amount": 4.4, "DetailType": "TaxLineDetail",
         "TaxLineDetail": {"TaxRateRef": {"value": "1"}, "PercentBased": True, "TaxPercent": 8}}]}})
    assert by_line["TxnTaxDetail"]["TotalTax"] == 4.4 and by_line["TotalAmt"] == 94.4
    # a sparse update that does not send TxnTaxDetail recomputes; one that sends it keeps the given tax
    changed = _create(qbo, "Invoice", {"Id": given["Id"], "SyncToken": given["SyncToken"], "sparse": True,
                                       "PrivateNote": "recomputed"})
    assert changed["TxnTaxDetail"]["TotalTax"] == 8.0


def test_line_tax_codes_must_be_tax_or_non_and_a_discount_needs_an_amount(qbo, refs):
    customer = _customer(qbo)
    bad = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]},
                                     "Line": [_item_line(refs, 10, tax="2")]})
    assert _fault(bad)["code"] == "6100"
    no_amount = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "Line": [
        _item_line(refs, 10), {"DetailType": "DiscountLineDetail", "DiscountLineDetail": {"PercentBased": True}}]})
    assert _fault(no_amount)["code"] == "6090"


def test_a_foreign_currency_is_refused_while_multicurrency_is_off(qbo, refs):
    refused = qbo.post("/customer", json={"DisplayName": _name("Euro"), "CurrencyRef": {"value": "EUR"}})
    assert _fault(refused)["code"] == "6000" and "Multicurrency is not enabled" in _fault(refused)["Detail"]
    customer = _customer(qbo)
    invoice = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "CurrencyRef": {"value": "EUR"},
                                         "Line": [_item_line(refs, 10)]})
    assert _fault(invoice)["element"] == "CurrencyRef"
    usd = _create(qbo, "Invoice", {"CustomerRef": {"value": customer["Id"]}, "CurrencyRef": {"value": "USD"},
                                   "Line": [_item_line(refs, 10)]})
    assert usd["CurrencyRef"] == {"value": "USD", "name": "United States Dollar"}
    assert "HomeTotalAmt" not in usd and "ExchangeRate" not in usd


def test_multicurrency_on_gives_exchange_rates_and_home_amounts(sandbox_unlimited):
    with sandbox_unlimited.client() as qbo:
        refs = sample_refs(qbo)
        prefs = _ok(qbo.get("/preferences"), "Preferences")
        on = _create(qbo, "Preferences", {"SyncToken": prefs["SyncToken"], "sparse": True,
                                          "CurrencyPrefs": {"MultiCurrencyEnabled": True}})
        assert on["CurrencyPrefs"] == {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "USD"}}
        off = qbo.post("/preferences", json={"SyncToken": on["SyncToken"], "sparse": True,
                                             "CurrencyPrefs": {"MultiCurrencyEnabled": False}})
        assert _fault(off)["code"] == "6000"
        rate = _create(qbo, "ExchangeRate", {"SourceCurrencyCode": "EUR", "Rate": 1.1, "AsOfDate": "2026-01-15"})
        assert rate["TargetCurrencyCode"] == "USD" and rate["SyncToken"] == "0"
        got = qbo.get("/exchangerate", params={"sourcecurrencycode": "EUR", "asofdate": "2026-02-01"})
        assert _ok(got, "ExchangeRate")["Rate"] == 1.1
        euro = _create(qbo, "Customer", {"DisplayName": "Euro Customer", "CurrencyRef": {"value": "EUR"}})
        assert euro["CurrencyRef"] == {"value": "EUR", "name": "Euro"}
        changed = qbo.post("/customer", json={"Id": euro["Id"], "SyncToken": euro["SyncToken"], "sparse": True,
                                              "CurrencyRef": {"value": "GBP"}})
        assert _fault(changed)["code"] == "6000"
        invoice = _create(qbo, "Invoice", {"CustomerRef": {"value": euro["Id"]}, "TxnDate": "2026-02-01",
                                           "Line": [_item_line(refs, 100.01)]})
        assert invoice["CurrencyRef"]["value"] == "EUR" and invoice["ExchangeRate"] == 1.1
        assert invoice["TotalAmt"] == 100.01 and invoice["HomeTotalAmt"] == 110.01
        given = _create(qbo, "Invoice", {"CustomerRef": {"value": euro["Id"]}, "ExchangeRate": 1.085,
                                         "Line": [_item_line(refs, 100.01)]})
        assert given["HomeTotalAmt"] == 108.51
        mismatch = qbo.post("/invoice", json={"CustomerRef": {"value": euro["Id"]}, "CurrencyRef": {"value": "USD"},
                                              "Line": [_item_line(refs, 1)]})
        assert _fault(mismatch)["element"] == "CurrencyRef"
        paid = _create(qbo, "Payment", {"CustomerRef": {"value": euro["Id"]}, "TotalAmt": 100.01, "Line": [
            {"Amount": 100.01, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]})
        assert paid["CurrencyRef"]["value"] == "EUR" and paid["ExchangeRate"] == 1.1
        assert _ok(qbo.get(f"/invoice/{invoice['Id']}"), "Invoice")["Balance"] == 0.0
        rows = qbo.get("/query", params={"query": "select * from ExchangeRate where SourceCurrencyCode = 'EUR'"})
        assert [r["Rate"] for r in rows.json()["QueryResponse"]["ExchangeRate"]] == [1.1]


# ------------------------------------------------------------------ preferences, links, quirks
def test_preferences_have_every_section_and_update_sparsely(qbo):
    prefs = _ok(qbo.get("/preferences"), "Preferences")
    for section in ("AccountingInfoPrefs", "ProductAndServicesPrefs", "SalesFormsPrefs", "EmailMessagesPrefs",
                    "VendorAndPurchasesPrefs", "TimeTrackingPrefs", "TaxPrefs", "CurrencyPrefs", "ReportPrefs",
                    "OtherPrefs"):
        assert isinstance(prefs[section], dict), section
    assert prefs["ProductAndServicesPrefs"]["ForPurchase"] is True
    assert prefs["EmailMessagesPrefs"]["EstimateMessage"]["Subject"]
    updated = _create(qbo, "Preferences", {"SyncToken": prefs["SyncToken"], "sparse": True,
                                           "EmailMessagesPrefs": {"EstimateMessage": {"Subject": "Your estimate"}},
                                           "ProductAndServicesPrefs": {"ForPurchase": False}})
    assert updated["EmailMessagesPrefs"]["EstimateMessage"]["Subject"] == "Your estimate"
    assert updated["EmailMessagesPrefs"]["EstimateMessage"]["Message"] == \
        prefs["EmailMessagesPrefs"]["EstimateMessage"]["Message"]
    assert updated["ProductAndServicesPrefs"]["ForSales"] is True
    assert updated["SalesFormsPrefs"] == prefs["SalesFormsPrefs"]
    restored = _create(qbo, "Preferences", {"SyncToken": updated["SyncToken"], "sparse": True,
                                            "ProductAndServicesPrefs": {"ForPurchase": True}})
    assert restored["ProductAndServicesPrefs"]["ForPurchase"] is True


def test_include_invoice_link_returns_the_invoice_page(qbo, refs, server):
    customer = _customer(qbo)
    invoice = _create(qbo, "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [_item_line(refs, 5)]},
                      include="invoiceLink")
    link = invoice["InvoiceLink"]
    assert link.startswith(server[0]) and f"txnId={invoice['Id']}" in link
    read = _ok(qbo.get(f"/invoice/{invoice['Id']}", params={"include": "invoiceLink"}), "Invoice")
    assert read["InvoiceLink"] == link
    assert "InvoiceLink" not in _ok(qbo.get(f"/invoice/{invoice['Id']}"), "Invoice")
    page = httpx.get(link)
    assert page.status_code == 200 and customer["DisplayName"].split()[0] in page.text


def test_tax_code_queries_ignore_maxresults(qbo):
    answer = qbo.get("/query", params={"query": "select * from TaxCode maxresults 1"}).json()["QueryResponse"]
    assert len(answer["TaxCode"]) >= 3
    items = qbo.get("/query", params={"query": "select * from Item maxresults 1"}).json()["QueryResponse"]
    assert len(items["Item"]) == 1


# ------------------------------------------------------------------ receipts and deposits
def test_sales_receipt_to_undeposited_funds_deposited_then_locked(qbo, refs):
    receipt = _create(qbo, "SalesReceipt", {"Line": [_item_line(refs, 30, 2, 15)]})
    assert receipt["DepositToAccountRef"]["value"] == refs["Account"]["Undeposited Funds"]
    assert receipt["TotalAmt"] == 30.0 and receipt["Balance"] == 0.0 and receipt["DocNumber"]
    checking = refs["Account"]["Checking"]
    mismatch = qbo.post("/deposit", json={"DepositToAccountRef": {"value": checking}, "Line": [
        {"Amount": 29, "LinkedTxn": [{"TxnId": receipt["Id"], "TxnType": "SalesReceipt", "TxnLineId": "0"}]}]})
    assert _fault(mismatch)["code"] == "6000"
    deposit = _create(qbo, "Deposit", {"DepositToAccountRef": {"value": checking}, "Line": [
        {"Amount": 30, "LinkedTxn": [{"TxnId": receipt["Id"], "TxnType": "SalesReceipt", "TxnLineId": "0"}]}]})
    assert deposit["TotalAmt"] == 30.0
    twice = qbo.post("/deposit", json={"DepositToAccountRef": {"value": checking}, "Line": [
        {"Amount": 30, "LinkedTxn": [{"TxnId": receipt["Id"], "TxnType": "SalesReceipt"}]}]})
    assert "already been deposited" in _fault(twice)["Detail"]
    void = qbo.post("/salesreceipt", params={"operation": "update", "include": "void"},
                    json={"Id": receipt["Id"], "SyncToken": receipt["SyncToken"], "sparse": True})
    assert _fault(void)["code"] == "6540"
    deleted = qbo.post("/deposit", params={"operation": "delete"},
                       json={"Id": deposit["Id"], "SyncToken": deposit["SyncToken"]})
    assert deleted.json()["Deposit"]["status"] == "Deleted"
    voided = _ok(qbo.post("/salesreceipt", params={"operation": "update", "include": "void"},
                          json={"Id": receipt["Id"], "SyncToken": receipt["SyncToken"], "sparse": True}),
                 "SalesReceipt")
    assert voided["TotalAmt"] == 0.0 and voided["PrivateNote"].startswith("Voided")


def test_deposit_of_a_payment_and_a_direct_line(qbo, refs):
    customer = _customer(qbo)
    invoice = _create(qbo, "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [_item_line(refs, 80)]})
    payment = _create(qbo, "Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 80, "Line": [
        {"Amount": 80, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]})
    income = refs["Account"]["Services"]
    deposit = _create(qbo, "Deposit", {"DepositToAccountRef": {"value": refs["Account"]["Checking"]}, "Line": [
        {"Amount": 80, "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment"}]},
        {"Amount": 12.5, "DetailType": "DepositLineDetail", "DepositLineDetail": {"AccountRef": {"value": income}}}]})
    assert deposit["TotalAmt"] == 92.5 and deposit["Line"][1]["DepositLineDetail"]["AccountRef"]["value"] == income
    locked = qbo.post("/payment", params={"operation": "delete"},
                      json={"Id": payment["Id"], "SyncToken": payment["SyncToken"]})
    assert _fault(locked)["code"] == "6540"
    to_undeposited = qbo.post("/deposit", json={"DepositToAccountRef": {"value": refs["Account"]["Undeposited Funds"]},
                                                "Line": [{"Amount": 1, "DepositLineDetail": {
                                                    "AccountRef": {"value": income}}}]})
    assert _fault(to_undeposited)["element"] == "DepositToAccountRef"
    assert _fault(qbo.post("/deposit", json={"Line": []}))["code"] == "2020"


# ------------------------------------------------------------------ payables
def test_bill_and_bill_payment_keep_balances(qbo, refs):
    vendor = _vendor(qbo)
    expense = _account(qbo, "Expense", "Travel")
    bill = _create(qbo, "Bill", {"VendorRef": {"value": vendor["Id"]}, "TxnDate": "2026-03-01",
                                 "SalesTermRef": {"value": refs["Term"]["Net 30"]}, "Line": [
        {"Amount": 120, "DetailType": "AccountBasedExpenseLineDetail",
         "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}},
        {"Amount": 45, "DetailType": "ItemBasedExpenseLineDetail",
         "ItemBasedExpenseLineDetail": {"ItemRef": {"value": refs["Item"]["Design"]}, "Qty": 3,
                                        "UnitPrice": 15}}]})
    assert bill["TotalAmt"] == 165.0 and bill["Balance"] == 165.0 and bill["DueDate"] == "2026-03-31"
    assert bill["APAccountRef"]["value"] == refs["Account"]["Accounts Payable (A/P)"]
    assert _ok(qbo.get(f"/vendor/{vendor['Id']}"), "Vendor")["Balance"] == 165.0
    credit = _create(qbo, "VendorCredit", {"VendorRef": {"value": vendor["Id"]}, "Line": [
        {"Amount": 15, "DetailType": "AccountBasedExpenseLineDetail",
         "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}}]})
    assert _ok(qbo.get(f"/vendor/{vendor['Id']}"), "Vendor")["Balance"] == 150.0
    checking = refs["Account"]["Checking"]
    over = qbo.post("/billpayment", json={"VendorRef": {"value": vendor["Id"]}, "PayType": "Check",
                                          "CheckPayment": {"BankAccountRef": {"value": checking}}, "TotalAmt": 500,
                                          "Line": [{"Amount": 200, "LinkedTxn": [{"TxnId": bill["Id"],
                                                                                  "TxnType": "Bill"}]}]})
    assert _fault(over)["element"] == "Line.Amount"
    payment = _create(qbo, "BillPayment", {
        "VendorRef": {"value": vendor["Id"]}, "PayType": "Check", "TotalAmt": 100,
        "CheckPayment": {"BankAccountRef": {"value": checking}},
        "Line": [{"Amount": 115, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]},
                 {"Amount": 15, "LinkedTxn": [{"TxnId": credit["Id"], "TxnType": "VendorCredit"}]}]})
    paid = _ok(qbo.get(f"/bill/{bill['Id']}"), "Bill")
    assert paid["Balance"] == 50.0 and {"TxnId": payment["Id"], "TxnType": "BillPayment"} in paid["LinkedTxn"]
    assert _ok(qbo.get(f"/vendor/{vendor['Id']}"), "Vendor")["Balance"] == 50.0
    refused = qbo.post("/bill", params={"operation": "delete"}, json={"Id": bill["Id"], "SyncToken": paid["SyncToken"]})
    assert _fault(refused)["code"] == "6000"
    voided = _ok(qbo.post("/billpayment", params={"operation": "update", "include": "void"},
                          json={"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True}),
                 "BillPayment")
    assert voided["TotalAmt"] == 0.0
    assert _ok(qbo.get(f"/bill/{bill['Id']}"), "Bill")["Balance"] == 165.0
    assert _ok(qbo.get(f"/vendor/{vendor['Id']}"), "Vendor")["Balance"] == 150.0


def test_purchase_needs_a_paying_account_of_its_payment_type(qbo, refs):
    expense = _account(qbo, "Expense", "Travel")
    card = _account(qbo, "Credit Card", "CreditCard")
    line = {"Amount": 42.5, "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}}
    wrong = qbo.post("/purchase", json={"PaymentType": "CreditCard", "AccountRef": {"value": refs["Account"]["Checking"]},
                                        "Line": [line]})
    assert _fault(wrong)["element"] == "AccountRef"
    assert _fault(qbo.post("/purchase", json={"AccountRef": {"value": card["Id"]}, "Line": [line]}))["code"] == "2020"
    vendor = _vendor(qbo)
    purchase = _create(qbo, "Purchase", {"PaymentType": "CreditCard", "AccountRef": {"value": card["Id"]},
                                         "EntityRef": {"value": vendor["Id"], "type": "Vendor"}, "Line": [line]})
    assert purchase["TotalAmt"] == 42.5 and purchase["EntityRef"]["type"] == "Vendor"
    item_line = {"Amount": 40, "DetailType": "ItemBasedExpenseLineDetail",
                 "ItemBasedExpenseLineDetail": {"ItemRef": {"value": refs["Item"]["Design"]}, "Qty": 3,
                                                "UnitPrice": 13.33}}
    assert _fault(qbo.post("/purchase", json={"PaymentType": "Cash", "AccountRef": {"value": refs["Account"]["Checking"]},
                                              "Line": [item_line]}))["code"] == "6070"
    order = _create(qbo, "PurchaseOrder", {"VendorRef": {"value": vendor["Id"]}, "Line": [line]})
    assert order["POStatus"] == "Open" and order["TotalAmt"] == 42.5


def test_journal_entries_must_balance_and_name_ar_customers(qbo, refs):
    expense = _account(qbo, "Expense", "Travel")
    checking = refs["Account"]["Checking"]

    def line(posting, account, amount, **extra):
        return {"Amount": amount, "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {"PostingType": posting, "AccountRef": {"value": account}, **extra}}

    unbalanced = qbo.post("/journalentry", json={"Line": [line("Debit", expense["Id"], 100),
                                                          line("Credit", checking, 99.99)]})
    assert _fault(unbalanced)["code"] == "6000" and "out of balance" in _fault(unbalanced)["Detail"]
    ar = refs["Account"]["Accounts Receivable (A/R)"]
    unnamed = qbo.post("/journalentry", json={"Line": [line("Debit", ar, 10), line("Credit", checking, 10)]})
    assert "Accounts Receivable" in _fault(unnamed)["Detail"]
    customer = _customer(qbo)
    entry = _create(qbo, "JournalEntry", {"Line": [
        line("Debit", ar, 10, Entity={"Type": "Customer", "EntityRef": {"value": customer["Id"]}}),
        line("Credit", checking, 10)]})
    assert entry["TotalAmt"] == 10.0 and entry["Adjustment"] is False
    gone = qbo.post("/journalentry", params={"operation": "delete"},
                    json={"Id": entry["Id"], "SyncToken": entry["SyncToken"]})
    assert gone.json()["JournalEntry"]["status"] == "Deleted"


# ------------------------------------------------------------------ lists
def test_classes_and_locations_are_name_lists(qbo):
    name = _name("Class")
    parent = _create(qbo, "Class", {"Name": name})
    child = _create(qbo, "Class", {"Name": "East", "ParentRef": {"value": parent["Id"]}})
    assert child["FullyQualifiedName"] == f"{name}:East" and child["SubClass"] is True
    assert _fault(qbo.post("/class", json={"Name": name.upper()}))["code"] == "6240"
    _create(qbo, "Class", {"Id": child["Id"], "SyncToken": child["SyncToken"], "sparse": True, "Active": False})
    active = qbo.get("/query", params={"query": f"select * from Class where Name = '{name}'"}).json()
    assert [c["Id"] for c in active["QueryResponse"]["Class"]] == [parent["Id"]]
    hidden = qbo.get("/query", params={"query": "select * from Class where Name = 'East'"}).json()
    assert hidden["QueryResponse"] == {}
    location = _create(qbo, "Department", {"Name": _name("Store")})
    assert location["SubDepartment"] is False and location["Active"] is True
    deleted = qbo.post("/class", params={"operation": "delete"}, json={"Id": parent["Id"], "SyncToken": "0"})
    assert deleted.status_code == 400


def test_tax_agency_time_activity_budget_estimate(qbo, refs):
    agency = _create(qbo, "TaxAgency", {"DisplayName": _name("Board of Equalization")})
    assert agency["TaxTrackedOnSales"] is True
    assert qbo.post("/taxagency", json={"Id": agency["Id"], "SyncToken": "0", "DisplayName": "x"}).status_code == 400
    employee = _create(qbo, "Employee", {"DisplayName": _name("Emily")})
    missing = qbo.post("/timeactivity", json={"NameOf": "Employee", "EmployeeRef": {"value": employee["Id"]}})
    assert _fault(missing)["code"] == "2020"
    time = _create(qbo, "TimeActivity", {"NameOf": "Employee", "EmployeeRef": {"value": employee["Id"]}, "Hours": 2,
                                         "Minutes": 30, "ItemRef": {"value": refs["Item"]["Hours"]}})
    assert time["BillableStatus"] == "NotBillable" and time["TxnDate"]
    budget = _create(qbo, "Budget", {"Name": _name("Budget"), "StartDate": "2026-01-01", "EndDate": "2026-12-31",
                                     "BudgetDetail": [{"BudgetDate": "2026-01-01", "Amount": 100,
                                                       "AccountRef": {"value": refs["Account"]["Services"]}}]})
    assert budget["BudgetType"] == "ProfitAndLoss" and budget["BudgetDetail"][0]["Amount"] == 100.0
    customer = _customer(qbo)
    estimate = _create(qbo, "Estimate", {"CustomerRef": {"value": customer["Id"]}, "Line": [_item_line(refs, 75, 1, 75)]})
    assert estimate["TxnStatus"] == "Pending" and estimate["TotalAmt"] == 75.0 and "Balance" not in estimate
    assert _ok(qbo.get(f"/customer/{customer['Id']}"), "Customer")["Balance"] == 0.0


def test_attachable_json_and_multipart_upload(qbo, refs, server):
    customer = _customer(qbo)
    invoice = _create(qbo, "Invoice", {"CustomerRef": {"value": customer["Id"]}, "Line": [_item_line(refs, 9)]})
    note = _create(qbo, "Attachable", {"Note": "Signed copy to follow",
                                       "AttachableRef": [{"EntityRef": {"type": "Invoice", "value": invoice["Id"]}}]})
    assert note["AttachableRef"][0]["IncludeOnSend"] is False
    unsupported = qbo.post("/attachable", json={"Note": "x", "AttachableRef": [
        {"EntityRef": {"type": "TaxCode", "value": "TAX"}}]})
    assert _fault(unsupported)["code"] == "6050"
    metadata = {"AttachableRef": [{"EntityRef": {"type": "Invoice", "value": invoice["Id"]}}],
                "FileName": "receipt.txt", "ContentType": "text/plain"}
    files = {"file_metadata_0": ("attachment.json", json.dumps(metadata), "application/json"),
             "file_content_0": ("receipt.txt", b"paid in full", "text/plain")}
    uploaded = qbo.post("/upload", files=files)
    assert uploaded.status_code == 200, uploaded.text
    attachable = uploaded.json()["AttachableResponse"][0]["Attachable"]
    assert attachable["FileName"] == "receipt.txt" and attachable["Size"] == 12
    assert httpx.get(attachable["TempDownloadUri"]).content == b"paid in full"
    found = qbo.get("/query", params={"query": "select * from Attachable where AttachableRef.EntityRef.Type = "
                                               f"'invoice' and AttachableRef.EntityRef.value = '{invoice['Id']}'"})
    assert {a["Id"] for a in found.json()["QueryResponse"]["Attachable"]} == {note["Id"], attachable["Id"]}


# ------------------------------------------------------------------ batch and CDC
def test_new_entities_in_batch_and_cdc(qbo, refs):
    vendor = _vendor(qbo)
    expense = _account(qbo, "Expense", "Travel")
    employee = _create(qbo, "Employee", {"DisplayName": _name("Ed")})
    answer = qbo.post("/batch", json={"BatchItemRequest": [
        {"bId": "1", "operation": "create", "Bill": {"VendorRef": {"value": vendor["Id"]}, "Line": [
            {"Amount": 5, "DetailType": "AccountBasedExpenseLineDetail",
             "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}}]}},
        {"bId": "2", "operation": "create", "Class": {"Name": _name("Batch class")}},
        {"bId": "3", "operation": "create", "JournalEntry": {"Line": []}},
        {"bId": "4", "Query": "select * from Bill maxresults 1"},
        {"bId": "5", "operation": "create", "TimeActivity": {"NameOf": "Employee",
                                                             "EmployeeRef": {"value": employee["Id"]}, "Hours": 1}},
    ]}).json()["BatchItemResponse"]
    by_id = {item["bId"]: item for item in answer}
    assert by_id["1"]["Bill"]["TotalAmt"] == 5.0 and "Class" in by_id["2"]
    assert by_id["3"]["Fault"]["Error"][0]["code"] == "2020"
    assert by_id["4"]["QueryResponse"]["Bill"]
    since = by_id["1"]["Bill"]["MetaData"]["CreateTime"]
    cdc = qbo.get("/cdc", params={"entities": "Bill,Class", "changedSince": since}).json()
    kinds = {key for part in cdc["CDCResponse"][0]["QueryResponse"] for key in part if key[0].isupper()}
    assert kinds == {"Bill", "Class"}
    refused = qbo.get("/cdc", params={"entities": "TimeActivity", "changedSince": since})
    assert refused.status_code == 400


def test_a_payment_in_a_foreign_currency_is_refused_not_stored_as_usd(qbo):
    customer = _customer(qbo)
    refused = qbo.post("/payment", json={"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 10,
                                         "CurrencyRef": {"value": "EUR"}})
    assert _fault(refused)["element"] == "CurrencyRef"
    payment = _create(qbo, "Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 10})
    assert payment["CurrencyRef"]["value"] == "USD" and payment["UnappliedAmt"] == 10.0
