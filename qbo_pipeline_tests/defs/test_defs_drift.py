"""Drift as the operator meets it on the run path: a person edits an exported invoice in QuickBooks.

Real throughout: the demo source in SQLite, the sandbox over HTTP (the person's edit is a plain
QBO API update), the export through the Dagster job in a temporary instance, and
`qbo-pipeline status` as a process. The next run must hold the edited invoice, say so in the
sync report (ledger and ``sync_reports`` metadata) and fail the ``no_open_drift`` asset check
(WARN); `status` shows the count per entity and the hint, and exits 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg

from qbo_pipeline.defs.assets import DRIFT_CHECK, SYNC_REPORTS
from qbo_pipeline.drift import HELD_RULE
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.runner import export_once
from qbo_pipeline_tests.defs.conftest import latest_check
from qbo_pipeline_tests.stages.stages_helpers import touch

COMMAND = str(Path(sys.executable).with_name("qbo-pipeline"))


def _status(pipeline) -> tuple[int, str, dict]:
    text = subprocess.run([COMMAND, "status", "--no-source"], env=pipeline.env(), capture_output=True, text=True)
    data = subprocess.run([COMMAND, "status", "--no-source", "--json"], env=pipeline.env(), capture_output=True,
                          text=True)
    assert text.returncode == data.returncode, (text.stderr, data.stderr)
    return text.returncode, text.stdout, json.loads(data.stdout)


def _exported_invoice(pipeline) -> tuple[str, str]:
    ledger = Ledger(pipeline.config().ledger.url)
    try:
        links = ledger.links("demo")
    finally:
        ledger.dispose()
    source_id, link = next((sid, link) for (entity, sid), link in sorted(links.items())
                           if entity == "Invoice" and link.get("status") == "exported" and link.get("qbo_id"))
    return source_id, str(link["qbo_id"])


def test_a_persons_edit_is_held_reported_by_status_report_and_asset_check(pipeline):
    first = export_once(pipeline.config(), "demo")
    assert first.status == "SUCCESS", first.error
    assert first.report["drift"]["open"] == 0 and first.report["drift"]["new"] == 0
    check = latest_check(pipeline.instance(), ["sync_reports"], DRIFT_CHECK)
    assert check.passed and check.severity == dg.AssetCheckSeverity.WARN
    code, text, data = _status(pipeline)
    assert data["drift"]["open"] == 0 and "drift: none open" in text

    # a bookkeeper changes the invoice's private note in QuickBooks (a plain API update, as the UI does)
    source_id, qbo_id = _exported_invoice(pipeline)
    with pipeline.sandbox.client() as http:
        invoice = http.get(f"/invoice/{qbo_id}").json()["Invoice"]
        answer = http.post("/invoice", json={"Id": qbo_id, "SyncToken": invoice["SyncToken"], "sparse": True,
                                             "PrivateNote": "corrected by the bookkeeper"})
        assert answer.status_code == 200, answer.text
    # ... and the billing system changes the same invoice
    touch(pipeline.source_url, "invoices", source_id, memo="changed in the billing system")

    second = export_once(pipeline.config(), "demo")
    assert second.status == "SUCCESS", second.error
    drift = second.report["drift"]
    assert (drift["new"], drift["open"], drift["open_by_entity"]) == (1, 1, {"Invoice": 1})
    assert drift["checked"] >= 1 and drift["error"] is None
    assert second.report["entities"]["invoices"]["skipped"].get(HELD_RULE) == 1
    metadata = pipeline.instance().get_latest_materialization_event(SYNC_REPORTS).asset_materialization.metadata
    assert metadata["drift_open"].value == 1 and metadata["drift_new"].value == 1
    assert "qbo-pipeline drift list" in metadata["report"].value
    check = latest_check(pipeline.instance(), ["sync_reports"], DRIFT_CHECK)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["open"].value == 1 and check.metadata["open_by_entity"].value == {"Invoice": 1}
    with pipeline.sandbox.client() as http:
        kept = http.get(f"/invoice/{qbo_id}").json()["Invoice"]
    assert kept["PrivateNote"] == "corrected by the bookkeeper"  # not overwritten

    code, text, data = _status(pipeline)
    assert code == 1
    assert data["drift"]["open"] == 1 and data["entities"]["Invoice"]["drift"] == 1
    assert "drift: 1 record(s) changed or deleted in QuickBooks by a person are held (Invoice 1)" in text
    assert "`qbo-pipeline drift list`" in text

    # the operator approves: the next run writes the source's values, and everything is green again
    approve = subprocess.run([COMMAND, "drift", "overwrite", "--entity", "invoice", source_id], env=pipeline.env(),
                             capture_output=True, text=True)
    assert approve.returncode == 0, approve.stderr
    third = export_once(pipeline.config(), "demo")
    assert third.status == "SUCCESS", third.error
    assert third.report["entities"]["invoices"]["updated"] >= 1
    assert third.report["drift"]["open"] == 0
    assert latest_check(pipeline.instance(), ["sync_reports"], DRIFT_CHECK).passed
    code, _, data = _status(pipeline)
    assert data["drift"]["open"] == 0 and data["entities"]["Invoice"]["drift"] == 0
