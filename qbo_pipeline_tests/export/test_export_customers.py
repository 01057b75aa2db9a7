"""Customers end to end against the sandbox: create, skip unchanged, update, link existing."""

from __future__ import annotations

import pytest

from qbo_pipeline.transform.payload import Payload, source_ref
from qbo_pipeline_tests.export.export_helpers import connected_company


def customer(sid: str, name: str, email: str | None = None, parent: str | None = None, **fields) -> Payload:
    body = {"DisplayName": name, **fields}
    lookup = {"DisplayName": name}
    if email:
        body["PrimaryEmailAddr"] = {"Address": email}
        lookup["PrimaryEmailAddr"] = email
    if parent:
        body.update(Job=True, ParentRef=source_ref("Customer", parent))
    return Payload("Customer", sid, body, lookup=lookup)


@pytest.fixture
def qbo(sandbox_server, tmp_path):
    return connected_company(sandbox_server, tmp_path)


def test_create_then_skip_unchanged_then_sparse_update(qbo):
    payloads = [customer(f"C{i}", f"Export Test Customer {i}", f"c{i}@example.com") for i in range(40)]
    payloads.append(customer("J1", "Export Test Job", parent="C1"))
    first = qbo.engine().export(payloads)
    assert first.counts["created"] == 41 and first.counts["failed"] == 0, first.as_dict()
    assert first.write_requests >= 2  # batches plus singles
    by_name = {c["DisplayName"]: c for c in qbo.records("Customer")}
    job = by_name["Export Test Job"]
    link = qbo.ledger.get_link("demo", "Customer", "C1")
    assert job["ParentRef"]["value"] == link["qbo_id"] and link["status"] == "exported"

    second = qbo.engine().export(payloads)
    assert second.write_requests == 0 and second.counts["skipped"] == 41 and second.counts["created"] == 0

    changed = list(payloads)
    changed[3] = customer("C3", "Export Test Customer 3", "c3@example.com", Notes="VIP")
    third = qbo.engine().export(changed)
    assert third.counts["updated"] == 1 and third.write_requests == 1
    record = qbo.client.read("Customer", qbo.ledger.get_link("demo", "Customer", "C3")["qbo_id"])
    assert record["Notes"] == "VIP" and record["PrimaryEmailAddr"]["Address"] == "c3@example.com"
    assert len([c for c in qbo.records("Customer") if c["DisplayName"].startswith("Export Test")]) == 41


def test_existing_customers_are_linked_not_duplicated(qbo):
    by_name = qbo.client.create("Customer", {"DisplayName": "Already There"})
    by_email = qbo.client.create("Customer", {"DisplayName": "Old Name", "PrimaryEmailAddr": {"Address": "x@y.io"}})
    inactive = qbo.client.create("Customer", {"DisplayName": "Sleeping"})
    qbo.client.update("Customer", {"Id": inactive["Id"], "SyncToken": inactive["SyncToken"], "Active": False})
    report = qbo.engine().export([
        customer("A", "Already There"), customer("B", "New Name", "x@y.io"), customer("S", "Sleeping", Active=True),
    ])
    assert report.counts["linked"] == 3 and report.counts["created"] == 0, report.as_dict()
    assert qbo.ledger.get_link("demo", "Customer", "A")["qbo_id"] == by_name["Id"]
    assert qbo.ledger.get_link("demo", "Customer", "B")["qbo_id"] == by_email["Id"]
    assert qbo.client.read("Customer", inactive["Id"])["Active"] is True
    names = [c["DisplayName"] for c in qbo.records("Customer")]
    assert names.count("Already There") == 1 and "New Name" in names


def test_manual_link_is_respected(qbo):
    existing = qbo.client.create("Customer", {"DisplayName": "Linked By Hand"})
    qbo.ledger.link("demo", "Customer", "M1", existing["Id"])
    report = qbo.engine().export([customer("M1", "Linked By Hand", Notes="from source")])
    assert report.counts["updated"] == 1 and report.counts["created"] == 0
    assert qbo.client.read("Customer", existing["Id"])["Notes"] == "from source"


def test_dry_run_plans_without_writing(qbo):
    report = qbo.engine().export([customer("D1", "Dry Run Customer")], dry_run=True)
    assert report.plan is not None and report.plan.steps[0].action == "create"
    assert report.write_requests == 0 and qbo.ledger.get_link("demo", "Customer", "D1") is None
    assert "Dry Run Customer" not in [c["DisplayName"] for c in qbo.records("Customer")]
