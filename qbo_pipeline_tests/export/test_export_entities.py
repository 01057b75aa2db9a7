"""Every entity and reference kind against the sandbox, removals, accounts and blocked records."""

from __future__ import annotations

import pytest

from qbo_pipeline.transform.payload import Payload, named_ref, source_ref
from qbo_pipeline_tests.export.export_helpers import connected_company


def customer(sid, name, **fields):
    return Payload("Customer", sid, {"DisplayName": name, **fields}, lookup={"DisplayName": name})


def item(sid, name, action="upsert", income="Services"):
    body = {"Name": name, "Type": "Service", "UnitPrice": 10.0, "IncomeAccountRef": named_ref("Account", income)}
    return Payload("Item", sid, body, action=action, lookup={"Name": name})


def invoice(sid, cust, amount=100.0, item_ref=None, action="upsert", date="2025-03-01"):
    body = {"CustomerRef": source_ref("Customer", cust), "DocNumber": f"T-{sid}", "TxnDate": date,
            "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": item_ref or named_ref("Item", "Billing"),
                                              "TaxCodeRef": named_ref("TaxCode", "NON")}}]}
    return Payload("Invoice", sid, body, action=action, lookup={"DocNumber": f"T-{sid}"}, txn_date=date)


def payment(sid, cust, applied: dict[str, float], total, action="upsert", date="2025-03-05"):
    body = {"CustomerRef": source_ref("Customer", cust), "TotalAmt": total, "TxnDate": date,
            "DepositToAccountRef": named_ref("Account", "Undeposited Funds"),
            "PaymentMethodRef": named_ref("PaymentMethod", "Wire"),
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": source_ref("Invoice", inv, as_id=True),
                                                       "TxnType": "Invoice"}]} for inv, amount in applied.items()]}
    return Payload("Payment", sid, body, action=action, txn_date=date)


@pytest.fixture
def qbo(sandbox_server, tmp_path):
    return connected_company(sandbox_server, tmp_path)


def test_full_chain_with_refs_accounts_and_removals(qbo):
    credit = Payload("CreditMemo", "CR1", {
        "CustomerRef": source_ref("Customer", "C1"), "TxnDate": "2025-03-02", "DocNumber": "CM-1",
        "Line": [{"Amount": 5.0, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": named_ref("Item", "Credit")}}]},
        lookup={"DocNumber": "CM-1"}, txn_date="2025-03-02")
    refund = Payload("RefundReceipt", "R1", {
        "CustomerRef": source_ref("Customer", "C1"), "TxnDate": "2025-03-06",
        "DepositToAccountRef": named_ref("Account", "Checking"),
        "Line": [{"Amount": 7.0, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": named_ref("Item", "Credit")}}]}, txn_date="2025-03-06")
    payloads = [
        customer("C1", "Chain Customer"), customer("C2", "Second Customer"),
        item("P1", "Consulting hour", income="Consulting income"),  # missing: created as Income (its field)
        invoice("I1", "C1", 100.0, item_ref=source_ref("Item", "P1")), invoice("I2", "C2", 50.0),
        payment("PAY1", "C1", {"I1": 100.0}, 100.0), credit, refund,
    ]
    report = qbo.engine().export(payloads)
    assert report.counts["failed"] == 0 and report.counts["blocked"] == 0, report.as_dict()
    assert report.counts["created"] == len(payloads)
    created = {(e, n) for e, n, _ in report.created_refs}
    assert {("Account", "Consulting income"), ("Item", "Billing"), ("Item", "Credit"), ("PaymentMethod", "Wire")} <= created
    links = qbo.ledger.links("demo")
    inv = qbo.client.read("Invoice", links[("Invoice", "I1")]["qbo_id"])
    assert inv["CustomerRef"]["value"] == links[("Customer", "C1")]["qbo_id"]
    assert inv["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] == links[("Item", "P1")]["qbo_id"]
    pay = qbo.client.read("Payment", links[("Payment", "PAY1")]["qbo_id"])
    assert pay["Line"][0]["LinkedTxn"][0]["TxnId"] == inv["Id"]

    # the source voids I1 (its payment no longer applies), deletes I2, drops the item and C2
    removals = [
        customer("C1", "Chain Customer"), customer("C2", "Second Customer"),
        item("P1", "Consulting hour", action="deactivate", income="Consulting income"),
        invoice("I1", "C1", 100.0, item_ref=source_ref("Item", "P1"), action="void"),
        invoice("I2", "C2", 50.0, action="delete"),
        payment("PAY1", "C1", {}, 100.0), credit, refund,
    ]
    removals[1] = Payload("Customer", "C2", {"DisplayName": "Second Customer"}, action="deactivate")
    second = qbo.engine().export(removals)
    assert second.counts["failed"] == 0, second.as_dict()
    assert (second.counts["voided"], second.counts["deleted"], second.counts["deactivated"]) == (1, 1, 2)
    assert second.counts["updated"] == 1  # the payment, before the void
    assert qbo.client.read("Invoice", inv["Id"])["TotalAmt"] == 0
    assert qbo.ledger.get_link("demo", "Invoice", "I2")["status"] == "deleted"
    assert qbo.client.read("Item", links[("Item", "P1")]["qbo_id"])["Active"] is False
    assert qbo.client.read("Customer", links[("Customer", "C2")]["qbo_id"])["Active"] is False
    third = qbo.engine().export(removals)
    assert third.write_requests == 0


def test_account_name_taken_by_another_type_gets_a_suffix(qbo):
    # "Checking" is a Bank account in the sample company; an Income account of that name gets " 1"
    report = qbo.engine().export([item("P9", "Thing", income="Checking")])
    assert report.counts["created"] == 1, report.as_dict()
    accounts = {a["Name"]: a for a in qbo.records("Account")}
    assert accounts["Checking 1"]["AccountType"] == "Income" and accounts["Checking"]["AccountType"] == "Bank"
    record = qbo.client.read("Item", qbo.ledger.get_link("demo", "Item", "P9")["qbo_id"])
    assert record["IncomeAccountRef"]["value"] == accounts["Checking 1"]["Id"]


def test_validation_failure_blocks_children_and_others_go_on(qbo):
    bad = customer("BAD", "Bad:Name")  # ':' is not allowed in names
    payloads = [bad, customer("OK", "Good Name"), invoice("IB", "BAD"), invoice("IG", "OK")]
    report = qbo.engine().export(payloads)
    results = {r.source_id: r for r in report.results}
    assert results["BAD"].outcome == "failed" and results["BAD"].error_code and results["BAD"].hint
    assert results["IB"].outcome == "blocked" and "Customer BAD" in results["IB"].message
    assert results["OK"].outcome == "created" and results["IG"].outcome == "created"
    failed = {r["source_id"]: r for r in qbo.ledger.failed_records("demo")}
    assert failed["BAD"]["status"] == "failed" and failed["IB"]["status"] == "blocked"
    assert report.status == "partial"


def test_existing_invoice_found_by_doc_number(qbo):
    report = qbo.engine().export([customer("C1", "Doc Customer")])
    cust_id = qbo.ledger.get_link("demo", "Customer", "C1")["qbo_id"]
    item_id = qbo.client.find("Item", "Name", "Hours")[0]["Id"]
    # the same customer, date and total: the same invoice typed by hand (see test_export_ownership.py)
    existing = qbo.client.create("Invoice", {"CustomerRef": {"value": cust_id}, "DocNumber": "T-X1",
                                             "TxnDate": "2025-03-01",
                                             "Line": [{"Amount": 100.0, "DetailType": "SalesItemLineDetail",
                                                       "SalesItemLineDetail": {"ItemRef": {"value": item_id}}}]})
    report = qbo.engine().export([customer("C1", "Doc Customer"), invoice("X1", "C1", 100.0)])
    assert report.counts["linked"] == 1 and report.counts["created"] == 0, report.as_dict()
    assert qbo.ledger.get_link("demo", "Invoice", "X1")["qbo_id"] == existing["Id"]
    assert len(qbo.client.find("Invoice", "DocNumber", "T-X1")) == 1


def test_voiding_a_paid_invoice_fails_with_the_unapply_hint(qbo):
    qbo.engine().export([customer("C1", "Paid Customer"), invoice("I1", "C1", 40.0),
                         payment("PAY1", "C1", {"I1": 40.0}, 40.0)])
    report = qbo.engine().export([invoice("I1", "C1", 40.0, action="void")])  # the payment still applies
    result = next(r for r in report.results if r.source_id == "I1")
    assert result.outcome == "failed" and "payment" in result.hint and "unapply" in result.hint
    assert qbo.ledger.get_link("demo", "Invoice", "I1")["status"] == "failed"
    assert qbo.ledger.get_link("demo", "Invoice", "I1")["qbo_id"]  # still linked: the void is retried later


def test_inactive_customer_is_created_for_its_history_then_deactivated(qbo):
    dormant = Payload("Customer", "D1", {"DisplayName": "Dormant Co", "Active": False}, action="deactivate",
                      lookup={"DisplayName": "Dormant Co"})
    payloads = [dormant, invoice("ID1", "D1", 30.0), payment("PD1", "D1", {"ID1": 30.0}, 30.0)]
    report = qbo.engine().export(payloads)
    assert report.counts["blocked"] == 0 and report.counts["failed"] == 0, report.as_dict()
    assert report.counts["created"] == 3 and report.counts["deactivated"] == 1
    link = qbo.ledger.get_link("demo", "Customer", "D1")
    assert link["status"] == "deactivated"
    assert qbo.client.read("Customer", link["qbo_id"])["Active"] is False
    inv = qbo.client.read("Invoice", qbo.ledger.get_link("demo", "Invoice", "ID1")["qbo_id"])
    assert inv["CustomerRef"]["value"] == link["qbo_id"] and inv["Balance"] == 0
    assert qbo.engine().export(payloads).write_requests == 0
    # without records that need it, a never-exported inactive customer is still not created
    alone = Payload("Customer", "D2", {"DisplayName": "Never Needed", "Active": False}, action="deactivate")
    assert qbo.engine().export([alone]).counts["created"] == 0
