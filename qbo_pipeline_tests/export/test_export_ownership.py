"""Adoption only when provably ours: a QBO transaction with our number is linked only when it is ours.

Against the real HTTP sandbox: a person's invoice with the same number for another
customer is never overwritten, and the source invoice fails with a true hint.
"""

from __future__ import annotations

import pytest

from qbo_pipeline.export.ownership import NUMBER_TAKEN, is_ours, payload_total
from qbo_pipeline.transform.payload import Payload, named_ref, ownership_marker, source_ref, with_marker
from qbo_pipeline_tests.export.export_helpers import connected_company


def customer(sid, name):
    return Payload("Customer", sid, {"DisplayName": name}, lookup={"DisplayName": name})


def invoice(sid, cust, number, amount, date="2025-03-01"):
    body = {"CustomerRef": source_ref("Customer", cust), "DocNumber": number, "TxnDate": date,
            "PrivateNote": with_marker(None, "Invoice", sid),
            "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": named_ref("Item", "Billing"),
                                              "TaxCodeRef": named_ref("TaxCode", "NON")}}]}
    return Payload("Invoice", sid, body, lookup={"DocNumber": number}, txn_date=date)


def by_hand(qbo, cust_id, number, amount, date="2025-03-01", note=None):
    item_id = qbo.client.find("Item", "Name", "Hours")[0]["Id"]
    body = {"CustomerRef": {"value": cust_id}, "DocNumber": number, "TxnDate": date,
            "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": item_id}}}]}
    if note:
        body["PrivateNote"] = note
    return qbo.client.create("Invoice", body)


@pytest.fixture
def qbo(sandbox_server, tmp_path):
    return connected_company(sandbox_server, tmp_path)


def test_a_persons_invoice_with_our_number_for_another_customer_is_untouched(qbo):
    qbo.engine().export([customer("C1", "Owner One"), customer("C2", "Owner Two")])
    other = qbo.ledger.get_link("demo", "Customer", "C2")["qbo_id"]
    theirs = by_hand(qbo, other, "INV-500", 5.00)
    report = qbo.engine().export([customer("C1", "Owner One"), invoice("I1", "C1", "INV-500", 200.00)])
    assert report.counts["failed"] == 1 and report.counts["created"] == 0 and report.counts["linked"] == 0
    (result,) = [r for r in report.results if r.entity == "Invoice"]
    assert NUMBER_TAKEN in result.message and f"Invoice {theirs['Id']}" in result.hint
    assert "link the existing" not in result.hint.lower()
    after = qbo.client.read("Invoice", theirs["Id"])
    assert (after["TotalAmt"], after["CustomerRef"]["value"], after["SyncToken"]) == (5.0, other, theirs["SyncToken"])
    assert len(qbo.client.find("Invoice", "DocNumber", "INV-500")) == 1
    link = qbo.ledger.get_link("demo", "Invoice", "I1")
    assert link["status"] == "failed" and not link.get("qbo_id")


def test_our_own_invoice_whose_response_was_lost_is_adopted_by_its_marker(qbo):
    qbo.engine().export([customer("C1", "Marker One")])
    cust = qbo.ledger.get_link("demo", "Customer", "C1")["qbo_id"]
    lost = by_hand(qbo, cust, "INV-7", 1.00, date="2024-12-31", note=ownership_marker("Invoice", "I7"))
    report = qbo.engine().export([customer("C1", "Marker One"), invoice("I7", "C1", "INV-7", 70.00)])
    assert report.counts["linked"] == 1 and report.counts["failed"] == 0
    assert qbo.ledger.get_link("demo", "Invoice", "I7")["qbo_id"] == lost["Id"]
    assert qbo.client.read("Invoice", lost["Id"])["TotalAmt"] == 70.0


def test_a_marker_for_another_source_record_is_not_ours():
    payload = {"CustomerRef": {"value": "5"}, "TxnDate": "2025-01-01", "PrivateNote": with_marker("x", "Invoice", "1"),
               "Line": [{"Amount": 10.0, "DetailType": "SalesItemLineDetail"}]}
    existing = {"CustomerRef": {"value": "5"}, "TxnDate": "2025-01-01", "TotalAmt": 10.0,
                "PrivateNote": ownership_marker("Invoice", "2")}
    assert not is_ours(existing, payload)
    assert is_ours({**existing, "PrivateNote": "typed by hand"}, payload)  # same customer, date, total
    assert not is_ours({**existing, "PrivateNote": None, "TotalAmt": 10.01}, payload)
    assert not is_ours({**existing, "PrivateNote": None, "TxnDate": "2025-01-02"}, payload)


def test_payload_total_counts_discounts_and_tax_we_set():
    body = {"Line": [{"Amount": 100.0, "DetailType": "SalesItemLineDetail"},
                     {"Amount": 50.0, "DetailType": "SalesItemLineDetail"},
                     {"DetailType": "DiscountLineDetail", "Amount": 15.0,
                      "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10}}],
            "TxnTaxDetail": {"TotalTax": 10.8}}
    assert str(payload_total(body)) == "145.80"
