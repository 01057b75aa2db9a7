"""`qbo-pipeline status` (per entity, runs, lock) and `status --record` through the real command line."""

from __future__ import annotations

from datetime import timedelta

import yaml

from qbo_pipeline.ledger import utcnow
from qbo_pipeline_tests.operator.operator_helpers import OperatorEnv


def test_status_counts_synced_and_needs_sync_as_a_run_would(connected_env: OperatorEnv) -> None:
    code, before = connected_env.invoke_json("status", "--since", "3650")
    assert code == 0
    customers, invoices = before["entities"]["Customer"], before["entities"]["Invoice"]
    assert customers["synced"] == 0 and customers["needs_sync"] > 5
    assert invoices["needs_sync"] > 50  # every valid, non-draft invoice of the last ten years
    assert before["needs_sync_scope"] == {"master_data": "all", "transactions_days": 3650}
    assert before["export_lock"]["state"] == "free" and before["runs"] == []
    assert before["connection"]["status"] == "connected"

    assert connected_env.invoke("sync", "--invoice", "I000008").exit_code == 0
    code, after = connected_env.invoke_json("status", "--since", "3650")
    assert code == 0
    assert after["entities"]["Invoice"]["synced"] == 1
    assert after["entities"]["Invoice"]["needs_sync"] == invoices["needs_sync"] - 1
    assert after["entities"]["Customer"]["needs_sync"] == customers["needs_sync"] - 1
    assert after["runs"][0]["status"] == "ok" and after["runs"][0]["counts"]["created"] >= 2

    # transactions outside --since are not evaluated; --no-source reads the ledger only
    code, ledger_only = connected_env.invoke_json("status", "--no-source")
    assert ledger_only["entities"]["Invoice"] | {"by_status": None} == {
        "synced": 1, "needs_sync": None, "failed": 0, "blocked": 0, "quarantined": 0, "ignored": 0, "skipped": 0, "drift": 0,
        "by_status": None}
    text = connected_env.invoke("status", "--since", "0").stdout
    assert "needs sync: customers and items only (--since 0)" in text and "Invoice" in text


def test_status_shows_failures_quarantine_and_a_stuck_lock_with_exit_1(connected_env: OperatorEnv) -> None:
    data = yaml.safe_load(connected_env.config_path.read_text())
    data["taxes"] = {"mode": "mapped", "map": dict.fromkeys(("CITY", "STATE", "TAX", "NON"), "Nope"), "default_code": "Nope"}
    connected_env.config_path.write_text(yaml.safe_dump(data))
    assert connected_env.invoke("sync", "--invoice", "I000008").exit_code == 1
    assert connected_env.invoke("sync", "--invoice", "I000101").exit_code == 1  # quarantined (negative quantity)
    code, status = connected_env.invoke_json("status", "--no-source")
    assert code == 1
    assert status["entities"]["Invoice"]["failed"] == 1 and status["entities"]["Invoice"]["quarantined"] == 1

    ledger = connected_env.ledger()
    try:
        t = ledger.tables["export_locks"]
        with ledger.begin() as conn:
            conn.execute(t.insert().values(company="demo", owner="run dead", acquired_at=utcnow() - timedelta(hours=2)))
    finally:
        ledger.dispose()
    result = connected_env.invoke("status", "--no-source")
    assert result.exit_code == 1
    assert "export lock: stuck — held by run dead for 2h00m; clear it with `qbo-pipeline unlock`" in result.stdout


def test_status_record_shows_history_and_the_quickbooks_link(connected_env: OperatorEnv) -> None:
    assert connected_env.invoke("sync", "--invoice", "I000008").exit_code == 0
    code, data = connected_env.invoke_json("status", "--record", "invoice", "I000008")
    assert code == 0 and data["entity"] == "Invoice" and data["link"]["status"] == "exported"
    qbo_id = data["link"]["qbo_id"]
    assert [(h["action"], h["outcome"], h["qbo_id"]) for h in data["history"]] == [("create", "created", qbo_id)]
    assert data["app_url"] == f"{connected_env.sandbox.url}/app/invoice?txnId={qbo_id}"
    text = connected_env.invoke("status", "--record", "Invoice", "I000008").stdout
    assert f"View in QuickBooks: {data['app_url']}" in text and "create" in text

    result = connected_env.invoke("status", "--record", "invoice", "NOPE")
    assert result.exit_code == 1 and "not in the ledger" in result.stderr


def test_last_runs_count_source_rows_as_the_run_summary_does() -> None:
    """A run's line in `status` sums its sync report's per-entity rows (the columns of the run's own
    table), not the engine's documents, which include companions such as credit applications."""
    from qbo_pipeline.operator.status import source_rows

    report = {"entities": {
        "invoices": {"read": 10, "quarantined": 1, "skipped": {"draft": 2, "before_sync_start": 1}, "created": 6,
                     "updated": 0, "unchanged": 0, "failed": 0, "blocked": 0, "write_requests": 2},
        "payments": {"read": 5, "quarantined": 0, "skipped": {}, "created": 3, "updated": 1, "failed": 1,
                     "blocked": 0, "write_requests": 1}}}
    assert source_rows(report) == {"read": 15, "created": 9, "updated": 1, "quarantined": 1, "skipped": 3,
                                   "failed": 1}
    assert source_rows(None) is None and source_rows({"entities": {}}) is None
