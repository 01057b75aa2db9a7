"""`qbo-pipeline quarantine` and the quarantined column of `status`: the latest state of each
source row in the ledger, not one run's entries, so they agree with the run summary."""

from __future__ import annotations

import csv
import io
import time

from qbo_pipeline_tests.operator.operator_helpers import OperatorEnv


def _record_two_incremental_runs(env: OperatorEnv) -> None:
    """Run 1 reads the whole history and quarantines three invoices and a customer; run 2 reads
    one changed day and quarantines one more invoice; I000002 was fixed and exported since."""
    ledger = env.ledger()
    try:
        ledger.add_quarantine([
            {"run_id": "run-1", "company": "demo", "entity": "invoices", "source_id": "I000001",
             "reason": "invoice I000001: line 2 quantity is negative", "data": {"check": "quantity_positive"}},
            {"run_id": "run-1", "company": "demo", "entity": "invoices", "source_id": "I000001",
             "reason": "invoice I000001: currency EUR differs from its customer's", "data": {"check": "currency_mismatch"}},
            {"run_id": "run-1", "company": "demo", "entity": "invoices", "source_id": "I000002",
             "reason": "invoice I000002: total does not match its lines", "data": {"check": "totals"}},
            {"run_id": "run-1", "company": "demo", "entity": "customers", "source_id": "C00009",
             "reason": "customer C00009: display name is empty", "data": {"check": "display_name"}},
            {"run_id": "run-1", "company": "demo", "entity": "invoices", "source_id": "I000004", "kind": "normalisation",
             "reason": "DocNumber shortened", "data": {}},
        ])
        time.sleep(0.01)
        ledger.save_links("demo", [{"entity": "Invoice", "source_id": "I000002", "qbo_id": "77", "status": "exported"}])
        time.sleep(0.01)
        ledger.add_quarantine([
            {"run_id": "run-2", "company": "demo", "entity": "invoices", "source_id": "I000003",
             "reason": "invoice I000003: customer C09999 does not exist", "data": {"check": "customer_exists"}},
        ])
    finally:
        ledger.dispose()


def test_status_counts_every_row_quarantined_now_not_the_last_runs(operator_env: OperatorEnv) -> None:
    _record_two_incremental_runs(operator_env)
    code, status = operator_env.invoke_json("status", "--no-source")
    assert code == 0
    assert status["entities"]["Invoice"]["quarantined"] == 2  # I000001 and I000003 (not only run-2's one)
    assert status["entities"]["Customer"]["quarantined"] == 1
    code, listing = operator_env.invoke_json("quarantine")
    assert code == 0 and listing["total"] == 3 and listing["by_entity"] == {"Customer": 1, "Invoice": 2}
    first = next(r for r in listing["rows"] if r["source_id"] == "I000001")
    assert first["checks"] == ["quantity_positive", "currency_mismatch"] and len(first["reasons"]) == 2
    assert all(r["source_id"] != "I000002" for r in listing["rows"])  # exported after it was fixed


def test_quarantine_filters_and_csv(operator_env: OperatorEnv) -> None:
    _record_two_incremental_runs(operator_env)
    _, invoices = operator_env.invoke_json("quarantine", "--entity", "invoices")
    assert [r["source_id"] for r in invoices["rows"]] == ["I000001", "I000003"]
    _, by_reason = operator_env.invoke_json("quarantine", "--reason", "DOES NOT EXIST")
    assert [r["source_id"] for r in by_reason["rows"]] == ["I000003"]
    _, by_check = operator_env.invoke_json("quarantine", "--check", "display_name")
    assert [r["source_id"] for r in by_check["rows"]] == ["C00009"]
    result = operator_env.invoke("quarantine", "--csv", "-")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert result.exit_code == 0 and [r["source_id"] for r in rows] == ["C00009", "I000001", "I000003"]
    assert rows[1]["reasons"].count(";") == 1 and rows[1]["run_id"] == "run-1"
    human = operator_env.invoke("quarantine")
    assert "3 quarantined row(s): Customer 1, Invoice 2" in human.stdout
    assert operator_env.invoke("quarantine", "--entity", "vendor").exit_code == 2
