"""SyncTokens are read fresh before changes: one write per update, even after edits in QuickBooks."""

from __future__ import annotations

from qbo_pipeline.transform.payload import Payload
from qbo_pipeline_tests.export.export_helpers import connected_company


def _customer(sid: str, name: str, **fields) -> Payload:
    body = {"DisplayName": name, **fields}
    return Payload("Customer", sid, body, lookup={"DisplayName": name})


def test_update_after_an_edit_in_quickbooks_costs_one_write(sandbox_server, tmp_path):
    qbo = connected_company(sandbox_server, tmp_path)
    qbo.engine().export([_customer("T1", "Token One"), _customer("T2", "Token Two")])
    for sid in ("T1", "T2"):  # someone edits both in the QBO UI: the ledger's SyncTokens are now stale
        qbo_id = qbo.ledger.get_link("demo", "Customer", sid)["qbo_id"]
        record = qbo.client.read("Customer", qbo_id)
        qbo.client.update("Customer", {"Id": qbo_id, "SyncToken": record["SyncToken"], "Notes": "edited in QBO"})
    writes = qbo.client.write_requests
    report = qbo.engine(use_batches=False).export(
        [_customer("T1", "Token One", CompanyName="New Co"), _customer("T2", "Token Two", CompanyName="New Co")]
    )
    assert report.counts["updated"] == 2 and report.counts["failed"] == 0
    assert qbo.client.write_requests - writes == 2  # no 5010 round trip
    for sid in ("T1", "T2"):
        record = qbo.client.read("Customer", qbo.ledger.get_link("demo", "Customer", sid)["qbo_id"])
        assert record["CompanyName"] == "New Co" and record["Notes"] == "edited in QBO"
