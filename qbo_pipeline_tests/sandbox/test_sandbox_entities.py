"""Entity behaviour per Intuit's reference: customers and jobs, items, accounts, lists, sales forms, payments."""

from __future__ import annotations

import pytest

from qbo_pipeline_tests.fixtures_sandbox import fault_code, sample_refs


@pytest.fixture
def qbo(sandbox_unlimited):
    with sandbox_unlimited.client() as client:
        yield client


@pytest.fixture
def refs(qbo):
    return sample_refs(qbo)


def _create(qbo, entity, body, **params):
    answer = qbo.post(f"/{entity.lower()}", json=body, params={"minorversion": 75, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()[entity]


def _customer(qbo, name="Acme"):
    return _create(qbo, "Customer", {"DisplayName": name})


def _invoice(qbo, refs, customer_id, lines=None, **extra):
    lines = lines or [{"Amount": 100.0, "DetailType": "SalesItemLineDetail",
                       "SalesItemLineDetail": {"ItemRef": {"value": refs["Item"]["Design"]}, "Qty": 2,
                                               "UnitPrice": 50}}]
    return _create(qbo, "Invoice", {"CustomerRef": {"value": customer_id}, "Line": lines, **extra})


def test_sample_company_has_the_accounts_and_lists_of_intuits_sandbox(refs):
    for name in ("Undeposited Funds", "Sales of Product Income", "Services", "Inventory Asset",
                 "Cost of Goods Sold", "Accounts Receivable (A/R)", "Checking"):
        assert name in refs["Account"]
    assert refs["Term"] and refs["PaymentMethod"] and refs["Item"]


def test_sub_customer_is_a_job_with_a_qualified_name(qbo):
    parent = _customer(qbo, "Parent Co")
    job = _create(qbo, "Customer", {"DisplayName": "Kitchen", "Job": True, "ParentRef": {"value": parent["Id"]}})
    assert job["FullyQualifiedName"] == "Parent Co:Kitchen" and job["Level"] == 1
    assert job["ParentRef"] == {"value": parent["Id"], "name": "Parent Co"}
    renamed = _create(qbo, "Customer", {"Id": parent["Id"], "SyncToken": parent["SyncToken"], "sparse": True,
                                        "DisplayName": "Parent Inc"})
    assert renamed["SyncToken"] == "1"
    assert qbo.get(f"/customer/{job['Id']}").json()["Customer"]["FullyQualifiedName"] == "Parent Inc:Kitchen"


def test_display_name_is_unique_across_customers_and_vendors_inactive_included(qbo):
    customer = _customer(qbo, "Shared Name")
    vendor = qbo.post("/vendor", json={"DisplayName": "shared name"})
    assert vendor.status_code == 400 and fault_code(vendor) == "6240"
    _create(qbo, "Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    again = qbo.post("/customer", json={"DisplayName": "Shared Name"})
    assert fault_code(again) == "6240"
    assert "customer, vendor or employee" in again.json()["Fault"]["Error"][0]["Detail"]


def test_full_update_clears_fields_left_out_and_sparse_keeps_them(qbo):
    customer = _create(qbo, "Customer", {"DisplayName": "Full", "CompanyName": "Full Ltd", "Notes": "n"})
    full = _create(qbo, "Customer", {"Id": customer["Id"], "SyncToken": "0", "DisplayName": "Full"})
    assert "CompanyName" not in full and "Notes" not in full and full["SyncToken"] == "1"


def test_customers_are_deactivated_not_deleted(qbo):
    customer = _customer(qbo)
    delete = qbo.post("/customer", params={"operation": "delete"}, json={"Id": customer["Id"], "SyncToken": "0"})
    assert delete.status_code == 400
    inactive = _create(qbo, "Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    assert inactive["Active"] is False
    listed = qbo.get("/query", params={"query": "select * from Customer"}).json()["QueryResponse"]["Customer"]
    assert customer["Id"] not in [c["Id"] for c in listed]


def test_service_item_needs_an_income_account(qbo, refs):
    missing = qbo.post("/item", json={"Name": "Consulting", "Type": "Service"})
    assert fault_code(missing) == "2020" and missing.json()["Fault"]["Error"][0]["element"] == "IncomeAccountRef"
    item = _create(qbo, "Item", {"Name": "Consulting", "Type": "Service", "UnitPrice": 90,
                                 "IncomeAccountRef": {"value": refs["Account"]["Services"]}})
    assert item["IncomeAccountRef"]["name"] == "Services" and item["Active"] is True
    duplicate = qbo.post("/item", json={"Name": "consulting", "Type": "NonInventory",
                                        "IncomeAccountRef": {"value": refs["Account"]["Services"]}})
    assert fault_code(duplicate) == "6240"


def test_inventory_item_account_rules(qbo, refs):
    accounts = refs["Account"]
    base = {"Name": "Widget", "Type": "Inventory", "TrackQtyOnHand": True, "QtyOnHand": 10,
            "InvStartDate": "2026-01-01", "IncomeAccountRef": {"value": accounts["Sales of Product Income"]},
            "ExpenseAccountRef": {"value": accounts["Cost of Goods Sold"]},
            "AssetAccountRef": {"value": accounts["Inventory Asset"]}}
    no_asset = qbo.post("/item", json={k: v for k, v in base.items() if k != "AssetAccountRef"})
    assert fault_code(no_asset) == "2020"
    wrong_asset = qbo.post("/item", json={**base, "AssetAccountRef": {"value": accounts["Checking"]}})
    assert fault_code(wrong_asset) == "6000"
    item = _create(qbo, "Item", base)
    assert item["QtyOnHand"] == 10 and item["TrackQtyOnHand"] is True
    change = qbo.post("/item", json={"Id": item["Id"], "SyncToken": "0", "sparse": True, "Type": "Service"})
    assert fault_code(change) == "6000"


def test_account_name_rules(qbo):
    account = _create(qbo, "Account", {"Name": "Petty Cash", "AccountType": "Bank"})
    assert account["Classification"] == "Asset"
    assert fault_code(qbo.post("/account", json={"Name": "Petty Cash", "AccountType": "Bank"})) == "6240"
    assert fault_code(qbo.post("/account", json={"Name": "A:B", "AccountType": "Bank"})) == "6000"
    assert fault_code(qbo.post("/account", json={"Name": "No type"})) == "6010"


def test_tax_codes_and_rates_are_read_only(qbo):
    codes = qbo.get("/query", params={"query": "select * from TaxCode"}).json()["QueryResponse"]["TaxCode"]
    assert {"TAX", "NON"} <= {c["Name"] for c in codes}
    rate = qbo.get("/taxrate/1").json()["TaxRate"]
    assert rate["RateValue"] == 8.0
    assert qbo.post("/taxcode", json={"Name": "X"}).status_code == 400


def test_payment_methods_and_terms(qbo):
    method = _create(qbo, "PaymentMethod", {"Name": "Wire"})
    assert method["Type"] == "NON_CREDIT_CARD"
    term = _create(qbo, "Term", {"Name": "Net 45", "DueDays": 45})
    assert term["DueDays"] == 45
    assert fault_code(qbo.post("/term", json={"Name": "Net 45", "DueDays": 45})) == "6240"


def test_company_info_and_preferences(qbo, sandbox_unlimited):
    info = qbo.get(f"/companyinfo/{sandbox_unlimited.realm}").json()["CompanyInfo"]
    assert info["CompanyName"]
    prefs = qbo.get("/preferences").json()["Preferences"]
    updated = _create(qbo, "Preferences", {"SyncToken": prefs["SyncToken"], "sparse": True,
                                           "SalesFormsPrefs": {**prefs["SalesFormsPrefs"], "CustomTxnNumbers": True}})
    assert updated["SalesFormsPrefs"]["CustomTxnNumbers"] is True


def test_invoice_totals_lines_and_balance(qbo, refs):
    customer = _customer(qbo)
    design = refs["Item"]["Design"]
    invoice = _invoice(qbo, refs, customer["Id"], lines=[
        {"Amount": 150.0, "DetailType": "SalesItemLineDetail",
         "SalesItemLineDetail": {"ItemRef": {"value": design}, "Qty": 2, "UnitPrice": 75}},
        {"Amount": 50.0, "DetailType": "SalesItemLineDetail", "Description": "extra",
         "SalesItemLineDetail": {"ItemRef": {"value": design}}},
        {"DetailType": "DescriptionOnly", "Description": "Thanks!", "Amount": 999},
        {"DetailType": "DiscountLineDetail", "Amount": 0,
         "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10}},
    ], TxnDate="2026-03-01", SalesTermRef={"value": refs["Term"]["Net 30"]})
    assert invoice["TotalAmt"] == 180.0 and invoice["Balance"] == 180.0
    assert invoice["DueDate"] == "2026-03-31"
    kinds = [line["DetailType"] for line in invoice["Line"]]
    # the subtotal closes the item lines, before the transaction's discount (Intuit's Estimate example)
    assert kinds == ["SalesItemLineDetail", "SalesItemLineDetail", "DescriptionOnly", "SubTotalLineDetail",
                     "DiscountLineDetail"]
    assert invoice["Line"][3]["Amount"] == 200.0
    assert invoice["Line"][2]["Amount"] == 0.0 and invoice["Line"][4]["Amount"] == 20.0
    assert invoice["DocNumber"] and invoice["CustomerRef"]["name"] == "Acme"
    assert qbo.get(f"/customer/{customer['Id']}").json()["Customer"]["Balance"] == 180.0


def test_payment_applies_to_invoice_and_credit_memo_and_defaults_to_undeposited_funds(qbo, refs):
    customer = _customer(qbo)
    invoice = _invoice(qbo, refs, customer["Id"])
    memo = _create(qbo, "CreditMemo", {"CustomerRef": {"value": customer["Id"]}, "Line": [
        {"Amount": 30.0, "DetailType": "SalesItemLineDetail",
         "SalesItemLineDetail": {"ItemRef": {"value": refs["Item"]["Design"]}}}]})
    assert memo["RemainingCredit"] == 30.0
    payment = _create(qbo, "Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 60.0, "Line": [
        {"Amount": 90.0, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]},
        {"Amount": 30.0, "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]}]})
    assert payment["DepositToAccountRef"]["name"] == "Undeposited Funds"
    assert payment["UnappliedAmt"] == 0.0
    paid = qbo.get(f"/invoice/{invoice['Id']}").json()["Invoice"]
    assert paid["Balance"] == 10.0 and {"TxnId": payment["Id"], "TxnType": "Payment"} in paid["LinkedTxn"]
    assert paid["SyncToken"] == "1"
    assert qbo.get(f"/creditmemo/{memo['Id']}").json()["CreditMemo"]["Balance"] == 0.0
    assert qbo.get(f"/customer/{customer['Id']}").json()["Customer"]["Balance"] == 10.0
    too_much = qbo.post("/payment", json={"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 50.0, "Line": [
        {"Amount": 50.0, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]})
    assert fault_code(too_much) == "6000"
    deleted = qbo.post("/payment", params={"operation": "delete"},
                       json={"Id": payment["Id"], "SyncToken": payment["SyncToken"]})
    assert deleted.json()["Payment"] == {"status": "Deleted", "domain": "QBO", "Id": payment["Id"]}
    assert qbo.get(f"/invoice/{invoice['Id']}").json()["Invoice"]["Balance"] == 100.0


def test_unapplied_payment_is_a_credit(qbo):
    customer = _customer(qbo)
    payment = _create(qbo, "Payment", {"TotalAmt": 25.0, "CustomerRef": {"value": customer["Id"]}})
    assert payment["UnappliedAmt"] == 25.0
    assert qbo.get(f"/customer/{customer['Id']}").json()["Customer"]["Balance"] == -25.0


def test_void_invoice_and_payment(qbo, refs):
    customer = _customer(qbo)
    invoice = _invoice(qbo, refs, customer["Id"], PrivateNote="first")
    payment = _create(qbo, "Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 40.0, "Line": [
        {"Amount": 40.0, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]})
    refused = qbo.post("/invoice", params={"operation": "void"}, json={"Id": invoice["Id"], "SyncToken": "1"})
    assert fault_code(refused) == "6000"
    voided_payment = qbo.post("/payment", params={"operation": "update", "include": "void"},
                              json={"Id": payment["Id"], "SyncToken": "0", "sparse": True}).json()["Payment"]
    assert voided_payment["TotalAmt"] == 0.0 and voided_payment["PrivateNote"].startswith("Voided")
    current = qbo.get(f"/invoice/{invoice['Id']}").json()["Invoice"]
    assert current["Balance"] == 100.0
    voided = qbo.post("/invoice", params={"operation": "void"},
                      json={"Id": invoice["Id"], "SyncToken": current["SyncToken"]}).json()["Invoice"]
    assert voided["TotalAmt"] == 0.0 and voided["Balance"] == 0.0
    assert voided["PrivateNote"].startswith("Voided")


def test_delete_invoice_then_read_is_610(qbo, refs):
    customer = _customer(qbo)
    invoice = _invoice(qbo, refs, customer["Id"])
    qbo.post("/invoice", params={"operation": "delete"}, json={"Id": invoice["Id"], "SyncToken": "0"})
    gone = qbo.get(f"/invoice/{invoice['Id']}")
    assert gone.status_code == 400 and fault_code(gone) == "610"


def test_refund_receipt_needs_a_deposit_account(qbo, refs):
    customer = _customer(qbo)
    line = {"Amount": 20.0, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": refs["Item"]["Design"]}}}
    missing = qbo.post("/refundreceipt", json={"CustomerRef": {"value": customer["Id"]}, "Line": [line]})
    assert fault_code(missing) == "2020"
    refund = _create(qbo, "RefundReceipt", {"CustomerRef": {"value": customer["Id"]}, "Line": [line],
                                            "DepositToAccountRef": {"value": refs["Account"]["Checking"]}})
    assert refund["TotalAmt"] == 20.0


def test_custom_transaction_numbers_and_auto_numbering(qbo, refs, sandbox_unlimited):
    customer = _customer(qbo)
    first = _invoice(qbo, refs, customer["Id"])
    second = _invoice(qbo, refs, customer["Id"])
    assert int(second["DocNumber"]) == int(first["DocNumber"]) + 1
    sandbox_unlimited.admin("POST", f"/companies/{sandbox_unlimited.realm}/preferences",
                         {"SalesFormsPrefs": {"CustomTxnNumbers": True}})
    third = _invoice(qbo, refs, customer["Id"])
    assert "DocNumber" not in third


def test_auto_apply_credits_uses_open_credit_memos_on_new_invoices(qbo, refs):
    customer = _customer(qbo)
    _create(qbo, "CreditMemo", {"CustomerRef": {"value": customer["Id"]}, "Line": [
        {"Amount": 25.0, "DetailType": "SalesItemLineDetail",
         "SalesItemLineDetail": {"ItemRef": {"value": refs["Item"]["Design"]}}}]})
    invoice = _invoice(qbo, refs, customer["Id"])
    assert invoice["Balance"] == 75.0
