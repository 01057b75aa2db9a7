"""Batch (30 items, per-item faults, void), CDC (30 days, deleted objects), requestid replay, minorversion."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qbo_pipeline.sandbox.clock import ManualClock
from qbo_pipeline_tests.fixtures_sandbox import fault_code, sample_refs


@pytest.fixture
def qbo(sandbox_unlimited):
    with sandbox_unlimited.client() as client:
        yield client


def _invoice_body(refs, customer_id, amount=10.0):
    return {"CustomerRef": {"value": customer_id}, "Line": [
        {"Amount": amount, "DetailType": "SalesItemLineDetail",
         "SalesItemLineDetail": {"ItemRef": {"value": refs["Item"]["Design"]}}}]}


def test_batch_mixed_operations_with_per_item_fault(qbo):
    refs = sample_refs(qbo)
    customer = qbo.post("/customer", json={"DisplayName": "Batcher"}).json()["Customer"]
    invoice = qbo.post("/invoice", json=_invoice_body(refs, customer["Id"])).json()["Invoice"]
    doomed = qbo.post("/invoice", json=_invoice_body(refs, customer["Id"])).json()["Invoice"]
    payment = qbo.post("/payment", json={"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 5.0}).json()["Payment"]
    answer = qbo.post("/batch", json={"BatchItemRequest": [
        {"bId": "b1", "operation": "create", "Customer": {"DisplayName": "Batch New"}},
        {"bId": "b2", "operation": "create", "Customer": {"DisplayName": "Batcher"}},
        {"bId": "b3", "operation": "update", "Invoice": {"Id": invoice["Id"], "SyncToken": "0", "sparse": True,
                                                         "PrivateNote": "batched"}},
        {"bId": "b4", "Query": "select * from Customer where DisplayName = 'Batcher'"},
        {"bId": "b5", "operation": "delete", "Invoice": {"Id": doomed["Id"], "SyncToken": "0"}},
        {"bId": "b6", "operation": "update", "optionsData": "void",
         "Payment": {"Id": payment["Id"], "SyncToken": "0", "sparse": True}},
    ]})
    assert answer.status_code == 200
    items = {item["bId"]: item for item in answer.json()["BatchItemResponse"]}
    assert items["b1"]["Customer"]["DisplayName"] == "Batch New"
    assert items["b2"]["Fault"]["Error"][0]["code"] == "6240"
    assert items["b3"]["Invoice"]["PrivateNote"] == "batched"
    assert items["b4"]["QueryResponse"]["Customer"][0]["Id"] == customer["Id"]
    assert items["b5"]["Invoice"]["status"] == "Deleted"
    assert items["b6"]["Payment"]["PrivateNote"].startswith("Voided")


def test_batch_over_30_items_is_1040(qbo):
    items = [{"bId": str(i), "Query": "select * from Term"} for i in range(31)]
    answer = qbo.post("/batch", json={"BatchItemRequest": items})
    assert answer.status_code == 400 and fault_code(answer) == "1040"


def test_requestid_replays_the_original_response_single_and_batch(qbo, sandbox_unlimited):
    first = qbo.post("/customer", params={"requestid": "req-42"}, json={"DisplayName": "Once"})
    second = qbo.post("/customer", params={"requestid": "req-42"}, json={"DisplayName": "Once"})
    assert second.status_code == 200 and second.json() == first.json()
    # a failing original replays its fault too
    dup = qbo.post("/customer", params={"requestid": "req-43"}, json={"DisplayName": "Once"})
    assert fault_code(dup) == "6240"
    assert qbo.post("/customer", params={"requestid": "req-43"}, json={"DisplayName": "Other"}).json() == dup.json()
    body = {"BatchItemRequest": [{"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch once"}}]}
    one = qbo.post("/batch", params={"requestid": "batch-1"}, json=body)
    two = qbo.post("/batch", params={"requestid": "batch-1"}, json=body)
    assert one.json() == two.json()
    count = qbo.get("/query", params={"query": "select count(*) from Customer where DisplayName = 'Batch once'"})
    assert count.json()["QueryResponse"]["totalCount"] == 1
    too_long = qbo.post("/customer", params={"requestid": "x" * 51}, json={"DisplayName": "Long"})
    assert fault_code(too_long) == "6000"
    assert sandbox_unlimited.admin("GET", "/requests")[sandbox_unlimited.realm]["replayed"] == 3


def test_minorversion_below_75_is_served(qbo):
    for version in ("4", "65", "75", "999"):
        assert qbo.get("/preferences", params={"minorversion": version}).status_code == 200


def test_cdc_returns_changes_and_deleted_objects(sandbox_factory):
    clock = ManualClock()
    server = sandbox_factory(enforce_limits=False, clock=clock)
    with server.client() as qbo:
        refs = sample_refs(qbo)
        since = (clock.now() + timedelta(seconds=1)).isoformat()
        clock.advance(5)
        customer = qbo.post("/customer", json={"DisplayName": "Changed"}).json()["Customer"]
        invoice = qbo.post("/invoice", json=_invoice_body(refs, customer["Id"])).json()["Invoice"]
        qbo.post("/invoice", params={"operation": "delete"}, json={"Id": invoice["Id"], "SyncToken": "0"})
        answer = qbo.get("/cdc", params={"entities": "Customer,Invoice,Item", "changedSince": since})
        assert answer.status_code == 200, answer.text
        responses = answer.json()["CDCResponse"][0]["QueryResponse"]
        customers = next(r for r in responses if "Customer" in r)["Customer"]
        assert [c["Id"] for c in customers] == [customer["Id"]]
        invoices = next(r for r in responses if "Invoice" in r)["Invoice"]
        assert invoices == [{"status": "Deleted", "domain": "QBO", "Id": invoice["Id"],
                             "MetaData": invoices[0]["MetaData"]}]
        assert {} in responses  # no Item changed
        too_old = qbo.get("/cdc", params={"entities": "Customer",
                                          "changedSince": (clock.now() - timedelta(days=31)).isoformat()})
        assert too_old.status_code == 400
        assert fault_code(qbo.get("/cdc", params={"entities": "TaxCode", "changedSince": since})) == "4001"
