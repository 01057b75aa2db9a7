"""Regressions for weaknesses the reliability work found, once their owners fixed them.

The dormant customer: a customer inactive in the source used to be never created in QBO, so
its invoices and payments were blocked and missing from the books (6 invoices and 5
payments at demo scale 0.02). Now it is created, its history exported, then deactivated
(or kept active with a reported hint when QBO refuses because of its open balance).
"""

from __future__ import annotations

from qbo_pipeline.export.engine import ExportEngine
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.source.demo import init_demo_db
from qbo_pipeline_tests.reliability.reliability_helpers import (
    Actual,
    Expected,
    assert_books_right,
    baseline_ids,
    connect,
    open_client,
    run_stages,
)


def test_history_of_an_inactive_customer_reaches_quickbooks(tmp_path, sandbox_unlimited):
    source_url = f"sqlite:///{tmp_path}/source.db"
    init_demo_db(source_url, scale=0.02, seed=42)
    setup = connect(tmp_path, source_url, sandbox_unlimited.url)
    stages = run_stages(setup.config())
    expected = Expected(stages.payloads)
    dormant = [p for p in expected.needed_inactive if p.entity == "Customer"]
    assert dormant, "the demo has an inactive customer with invoices and payments"

    ledger = Ledger(setup.ledger_url)
    client = open_client(setup, ledger)
    try:
        baseline = baseline_ids(client)
        report = ExportEngine(client, ledger, setup.config(), "demo").export(stages.payloads)
        blocked = [r for r in report.results if r.outcome in ("blocked", "failed")]
        assert not blocked, f"{len(blocked)} records blocked or failed, e.g. {blocked[0].message}"
        actual = Actual(client, baseline, expected)
        assert_books_right(expected, actual)
        by_name = {r["DisplayName"]: r for r in actual.records["Customer"]}
        for payload in dormant:
            record = by_name[payload.body["DisplayName"]]
            # created for its history, then made inactive; QBO keeps a name with an open balance
            # active (6220), which the engine reports with a hint instead of failing
            if record["Active"]:
                assert float(record.get("Balance") or 0) != 0, record
                kept = [r for r in report.results if r.source_id == payload.source_id and r.action == "deactivate"]
                assert kept and kept[0].outcome == "skipped" and "balance" in (kept[0].message or ""), kept
            invoices = [i for i in actual.records["Invoice"] if i["CustomerRef"]["value"] == record["Id"]]
            assert invoices, "the dormant customer's invoices are in the books"
    finally:
        client.close()
        ledger.dispose()
