"""Error policies and fault injection against the sandbox: every record lands exactly once."""

from __future__ import annotations

import logging
import threading

import pytest

from qbo_pipeline.export.engine import ExportStopped
from qbo_pipeline.qbo.errors import NeedsReconnectError
from qbo_pipeline.transform.payload import Payload, named_ref, source_ref
from qbo_pipeline_tests.export.export_helpers import connected_company


def customer(sid, name, **fields):
    return Payload("Customer", sid, {"DisplayName": name, **fields}, lookup={"DisplayName": name})


def invoice(sid, cust, date="2025-03-01"):
    body = {"CustomerRef": source_ref("Customer", cust), "DocNumber": f"P-{sid}", "TxnDate": date,
            "Line": [{"Amount": 10.0, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": named_ref("Item", "Hours")}}]}
    return Payload("Invoice", sid, body, lookup={"DocNumber": f"P-{sid}"}, txn_date=date)


def many(n: int, prefix: str = "F") -> list[Payload]:
    return [customer(f"{prefix}{i}", f"Fault Customer {prefix}{i}") for i in range(n)]


@pytest.fixture
def qbo(sandbox_server, tmp_path):
    return connected_company(sandbox_server, tmp_path)


def _names(qbo, prefix: str = "Fault Customer") -> list[str]:
    return [c["DisplayName"] for c in qbo.records("Customer") if c["DisplayName"].startswith(prefix)]


def test_stale_sync_token_is_read_again_and_retried_once(qbo):
    qbo.engine().export([customer("S1", "Stale One")])
    qbo_id = qbo.ledger.get_link("demo", "Customer", "S1")["qbo_id"]
    record = qbo.client.read("Customer", qbo_id)
    qbo.client.update("Customer", {"Id": qbo_id, "SyncToken": record["SyncToken"], "Notes": "edited in QBO"})
    report = qbo.engine().export([customer("S1", "Stale One", CompanyName="Changed Co")])
    assert report.counts["updated"] == 1 and report.counts["failed"] == 0, report.as_dict()
    record = qbo.client.read("Customer", qbo_id)
    assert record["CompanyName"] == "Changed Co" and record["Notes"] == "edited in QBO"
    assert qbo.ledger.get_link("demo", "Customer", "S1")["sync_token"] == record["SyncToken"]


def test_duplicate_name_held_by_a_vendor_is_renamed_deterministically(qbo):
    qbo.client.create("Vendor", {"DisplayName": "Shared Name"})
    report = qbo.engine().export([customer("V7", "Shared Name"), customer("V8", "Fresh Name")])
    assert report.counts["created"] == 2 and report.counts["failed"] == 0, report.as_dict()
    link = qbo.ledger.get_link("demo", "Customer", "V7")
    assert qbo.client.read("Customer", link["qbo_id"])["DisplayName"] == "Shared Name (V7)"


def test_one_name_at_a_time_is_retried_with_jitter(qbo):
    qbo.sandbox.admin("POST", "faults", {"one_name_at_a_time": 0.3, "seed": 7})
    report = qbo.engine().export(many(60))
    assert report.counts["created"] == 60 and report.counts["failed"] == 0, report.as_dict()
    assert qbo.sandbox.admin("GET", "faults/stats").get("one_name_at_a_time", 0) > 0
    assert sorted(_names(qbo)) == sorted(f"Fault Customer F{i}" for i in range(60))


def test_throttles_and_server_errors_are_retried_without_duplicates(qbo):
    qbo.sandbox.admin("POST", "faults", {"rate_429": 0.15, "rate_500": 0.1, "rate_503": 0.1, "seed": 3})
    payloads = many(90) + [invoice(f"I{i}", f"F{i}") for i in range(30)]
    report = qbo.engine().export(payloads)
    assert report.counts["created"] == 120 and report.counts["failed"] == 0, report.as_dict()
    stats = qbo.sandbox.admin("GET", "faults/stats")
    assert stats.get("rate_429", 0) + stats.get("rate_500", 0) + stats.get("rate_503", 0) > 0
    assert len(_names(qbo)) == 90
    assert len(qbo.client.query_all("Invoice", "DocNumber LIKE 'P-%'")) == 30


def test_connection_closed_after_commit_replays_instead_of_duplicating(qbo):
    qbo.sandbox.admin("POST", "faults", {"close_after_commit": 0.5, "seed": 1})
    client = qbo.new_client(timeout=5)
    engine = qbo.engine()
    engine.client = client
    report = engine.export(many(90, "K"))
    assert report.counts["created"] == 90 and report.counts["failed"] == 0, report.as_dict()
    stats, requests = qbo.sandbox.admin("GET", "faults/stats"), qbo.sandbox.admin("GET", "requests")
    assert stats.get("close_after_commit", 0) > 0, (stats, requests, qbo.sandbox.admin("GET", "faults"))
    assert requests[qbo.realm].get("replayed", 0) > 0
    assert sorted(_names(qbo, "Fault Customer K")) == sorted(f"Fault Customer K{i}" for i in range(90))
    assert qbo.ledger.pending_outbox("demo") == {}


def test_lost_outcome_is_looked_up_on_the_next_run(qbo):
    """A create sent, committed in QBO, but the run died before recording it: the next run links it."""
    payload = customer("L1", "Lost Answer")
    created = qbo.client.create("Customer", {"DisplayName": "Lost Answer"}, request_id="lost-rid-1")
    qbo.ledger.outbox_add("demo", [{"entity": "Customer", "source_id": "L1", "request_id": "lost-rid-1",
                                    "operation": "create"}])
    report = qbo.engine().export([payload])
    assert report.counts["linked"] == 1 and report.counts["created"] == 0
    assert qbo.ledger.get_link("demo", "Customer", "L1")["qbo_id"] == created["Id"]
    assert _names(qbo, "Lost Answer") == ["Lost Answer"]


def test_access_token_expiring_mid_run_is_refreshed_once(qbo, caplog):
    # one request at a time (10/s): the token expires in the sandbox while the run is under way
    timer = threading.Timer(1.0, lambda: qbo.sandbox.admin("POST", "tokens/expire", {}))
    timer.start()
    with caplog.at_level(logging.DEBUG, logger="qbo_pipeline"):
        report = qbo.engine(use_batches=False).export(many(30, "T"))
    timer.join()
    assert report.counts["created"] == 30 and report.counts["failed"] == 0, report.as_dict()
    assert qbo.vault.refresh_count == 1
    assert "refreshing the access token" in caplog.text
    secret = qbo.vault.access_token(qbo.company)
    assert secret not in caplog.text and "Bearer ey" not in caplog.text


def test_revoked_connection_stops_the_run_and_marks_it(qbo):
    qbo.sandbox.admin("POST", "tokens/revoke", {})
    with pytest.raises(ExportStopped) as caught:
        qbo.engine().export(many(40, "R") + [invoice("IR", "R1")])
    stopped = caught.value
    assert isinstance(stopped.cause, NeedsReconnectError) and "reconnect" in stopped.hint
    assert stopped.report.status == "stopped" and stopped.report.counts["not_attempted"] >= 40
    assert stopped.report.counts["created"] == 0
    assert qbo.ledger.connection("demo")["status"] == "needs_reconnect"
    run = qbo.ledger.runs("demo")[0]
    assert run["status"] == "stopped" and "reconnect" in run["message"]
    assert qbo.ledger.export_lock("demo") is None


def test_closed_period_is_skipped_with_a_hint(qbo):
    qbo.sandbox.admin("POST", f"companies/{qbo.realm}/preferences",
                      {"AccountingInfoPrefs": {"BookCloseDate": "2025-01-31"}})
    report = qbo.engine().export([customer("CP", "Closed Period Co"), invoice("OLD", "CP", "2025-01-15"),
                                  invoice("NEW", "CP", "2025-02-15")])
    results = {r.source_id: r for r in report.results}
    assert results["NEW"].outcome == "created"
    assert results["OLD"].outcome == "skipped" and "closed" in results["OLD"].message.lower()
    assert "closing date" in results["OLD"].hint
    assert qbo.client.find("Invoice", "DocNumber", "P-OLD") == []


def test_export_lock_prevents_two_runs(qbo):
    qbo.ledger.acquire_export_lock("demo", "another run")
    from qbo_pipeline.ledger import ExportLockedError

    with pytest.raises(ExportLockedError, match="another run"):
        qbo.engine().export([customer("X", "Locked")])
    assert qbo.ledger.clear_export_lock("demo")
    assert qbo.engine().export([customer("X", "Locked")]).counts["created"] == 1
