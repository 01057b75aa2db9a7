"""The ledger on SQLite and PostgreSQL: links, outbox, runs, reports, locks."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from qbo_pipeline.ledger import ExportLockedError, Ledger

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def _pg_available() -> bool:
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        store = Ledger(f"sqlite:///{tmp_path}/ledger.db")
        yield store
        store.dispose()
        return
    if not _pg_available():
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL}")
    schema = f"ledger_test_{uuid.uuid4().hex[:8]}"
    store = Ledger(PG_URL, schema=schema, prefix="t_")
    try:
        yield store
    finally:
        with store.engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        store.dispose()


def test_links_upsert_counts_and_failed(ledger):
    ledger.save_links("co", [
        {"entity": "Customer", "source_id": "1", "qbo_id": "10", "status": "exported", "sync_token": "0",
         "body": {"DisplayName": "A"}},
        {"entity": "Customer", "source_id": "2", "status": "failed", "last_error": "QBO validation", "attempts": 1},
        {"entity": "Invoice", "source_id": "I1", "status": "blocked", "last_error": "parent Customer 2"},
    ])
    ledger.save_links("co", [{"entity": "Customer", "source_id": "1", "sync_token": "1"}])
    link = ledger.get_link("co", "Customer", "1")
    assert (link["qbo_id"], link["sync_token"], link["body"]) == ("10", "1", {"DisplayName": "A"})
    assert ledger.status_counts("co") == {"Customer": {"exported": 1, "failed": 1}, "Invoice": {"blocked": 1}}
    assert [r["source_id"] for r in ledger.failed_records("co")] == ["2", "I1"]
    assert ledger.links("other") == {}


def test_manual_link_and_unlink(ledger):
    ledger.link("co", "Customer", "7", "99", name="Acme")
    link = ledger.get_link("co", "Customer", "7")
    assert link["manual"] and link["status"] == "linked" and link["qbo_id"] == "99"
    with pytest.raises(ValueError):
        ledger.link("co", "Customer", "8", " ")
    assert ledger.unlink("co", "Customer", "7") and ledger.get_link("co", "Customer", "7") is None


def test_outbox_pending_until_finished(ledger):
    ledger.outbox_add("co", [{"entity": "Customer", "source_id": "1", "request_id": "r1", "operation": "create"},
                             {"entity": "Customer", "source_id": "2", "request_id": "r2", "operation": "create"}])
    assert set(ledger.pending_outbox("co")) == {("Customer", "1"), ("Customer", "2")}
    ledger.outbox_finish(["r1"], "done")
    assert set(ledger.pending_outbox("co")) == {("Customer", "2")}
    assert ledger.pending_outbox("co")[("Customer", "2")]["request_id"] == "r2"


def test_runs_results_history_reports_quarantine(ledger):
    ledger.start_run("co", "run1")
    ledger.add_results("co", "run1", [{"entity": "Customer", "source_id": "1", "action": "create",
                                       "outcome": "created", "qbo_id": "10"}])
    ledger.finish_run("run1", status="ok", counts={"created": 1}, write_requests=1)
    run = ledger.runs("co")[0]
    assert run["status"] == "ok" and run["counts"] == {"created": 1} and run["finished_at"] is not None
    assert [h["outcome"] for h in ledger.record_history("co", "Customer", "1")] == ["created"]
    ledger.save_report("co", "run1", {"counts": {"created": 1}})
    assert ledger.reports("co")[0]["report"] == {"counts": {"created": 1}}
    ledger.add_quarantine([{"run_id": "run1", "company": "co", "entity": "customers", "source_id": "9",
                            "reason": "email: not an address", "data": {"email": "x"}}])
    assert ledger.quarantined(run_id="run1")[0]["reason"] == "email: not an address"


def test_export_lock_one_holder_visible_and_clearable(ledger):
    assert ledger.acquire_export_lock("co", "run A")
    assert not ledger.acquire_export_lock("co", "run B")
    assert ledger.export_lock("co")["owner"] == "run A"
    with pytest.raises(ExportLockedError, match="run A"), ledger.export_locked("co", "run B"):
        pass
    assert ledger.clear_export_lock("co") and ledger.export_lock("co") is None
    with ledger.export_locked("co", "run C"):
        assert ledger.export_lock("co")["owner"].startswith("run C [pid ")  # the holder process is named
    assert ledger.export_lock("co") is None


def test_source_cursor_is_stored_per_company_and_table(ledger):
    from datetime import datetime

    assert ledger.source_cursor("co") is None
    first = {"customers": datetime(2026, 1, 1, 9), "invoices": None}
    ledger.advance_source_cursor("co", first, run_id="r1")
    assert ledger.source_cursor("co") == first
    later = {"customers": datetime(2026, 1, 1, 9), "invoices": datetime(2026, 2, 1, 10, 30)}
    ledger.advance_source_cursor("co", later, run_id="r2")
    assert ledger.source_cursor("co") == later
    assert ledger.source_cursor("other") is None
    ledger.reset_source_cursor("co")
    assert ledger.source_cursor("co") is None


def test_what_an_incremental_sync_reads_again_and_the_links_it_needs(ledger):
    ledger.save_links("co", [
        {"entity": "Customer", "source_id": "1", "qbo_id": "10", "status": "exported", "name": "Acme"},
        {"entity": "Customer", "source_id": "2", "status": "failed"},
        {"entity": "Invoice", "source_id": "I1", "status": "blocked"},
        {"entity": "Invoice", "source_id": "I2", "qbo_id": "5", "status": "exported"},
    ])
    ledger.outbox_add("co", [{"entity": "Payment", "source_id": "P1", "request_id": "rid-1", "operation": "create"}])
    assert ledger.unsettled("co") == {"Customer": {"2"}, "Invoice": {"I1"}, "Payment": {"P1"}}
    links = ledger.links_for("co", [("Customer", "1"), ("Invoice", "I2"), ("Invoice", "missing")])
    assert set(links) == {("Customer", "1"), ("Invoice", "I2")}
    assert ledger.qbo_ids("co", "Customer") == {"10"}
    assert ledger.claimed_names("co", "Customer") == {"acme": "1"}


def test_quarantine_reasons_are_the_latest_per_record(ledger):
    ledger.add_quarantine([
        {"company": "co", "run_id": "r1", "entity": "invoices", "source_id": "17", "reason": "old reason"},
        {"company": "co", "run_id": "r2", "entity": "invoices", "source_id": "17", "reason": "due date before issue"},
        {"company": "co", "run_id": "r2", "entity": "invoices", "source_id": "18", "reason": "x", "kind": "normalisation"},
    ])
    assert ledger.quarantine_reasons("co", [("invoices", "17"), ("invoices", "18")]) == {
        ("invoices", "17"): "due date before issue"}


def test_token_rows_are_versioned(ledger):
    assert ledger.token_row("co") is None
    values = {"realm_id": "9", "ciphertext": "c1", "access_expires_at": 1.0, "refresh_expires_at": None}
    ledger.save_token_row("co", values)
    assert ledger.token_row("co")["version"] == 1
    ledger.save_token_row("co", {**values, "ciphertext": "c2"})  # reconnect: replaced, next version
    assert (ledger.token_row("co")["ciphertext"], ledger.token_row("co")["version"]) == ("c2", 2)
    with ledger.begin() as conn:  # a refresh: read locked, write the next version in one transaction
        row = ledger.token_row("co", conn, for_update=True)
        ledger.save_token_row("co", {**values, "ciphertext": "c3"}, conn, version=row["version"] + 1)
    assert (ledger.token_row("co")["ciphertext"], ledger.token_row("co")["version"]) == ("c3", 3)
    assert ledger.delete_token_row("co") is True
    assert ledger.delete_token_row("co") is False


def test_runs_a_killed_process_left_running_are_stopped_except_the_live_one(ledger):
    ledger.start_run("demo", "killed")
    ledger.start_run("demo", "live")
    ledger.start_run("other", "elsewhere")
    assert ledger.stop_abandoned_runs("demo", keep="live", message="its process ended (killed)") == ["killed"]
    status = {r["run_id"]: r["status"] for r in ledger.runs()}
    assert status == {"killed": "stopped", "live": "running", "elsewhere": "running"}
