"""The failed-record queue through the real command line: a payment whose invoice names a tax
code QuickBooks lacks fails (invoice) and waits (payment, blocked); fixing the configuration
and retrying exports both."""

from __future__ import annotations

import csv
import io

import pytest
import yaml

from qbo_pipeline_tests.operator.operator_helpers import OperatorEnv

CODES = ("CITY", "STATE", "TAX", "NON")


def _set_tax_code(env: OperatorEnv, code: str) -> None:
    data = yaml.safe_load(env.config_path.read_text())
    data["taxes"] = {"mode": "mapped", "map": dict.fromkeys(CODES, code), "default_code": code}
    env.config_path.write_text(yaml.safe_dump(data))


@pytest.fixture
def failing_env(connected_env: OperatorEnv) -> OperatorEnv:
    """PAY000002 applies to invoice I000008; with tax code "Nope" the invoice fails and the payment is blocked."""
    _set_tax_code(connected_env, "Nope")
    code, data = connected_env.invoke_json("sync", "--payment", "PAY000002")
    assert code == 1
    outcomes = {(r["entity"], r["source_id"]): r["outcome"] for r in data["results"]}
    assert outcomes[("Invoice", "I000008")] == "failed" and outcomes[("Payment", "PAY000002")] == "blocked"
    return connected_env


def test_list_groups_failures_by_kind_with_the_hint(failing_env: OperatorEnv) -> None:
    code, data = failing_env.invoke_json("failed", "list")
    assert code == 1 and data["total"] == 2
    groups = {g["kind"]: g for g in data["groups"]}
    assert set(groups) == {"missing_reference", "blocked"}
    missing = groups["missing_reference"]
    assert missing["hint"] == "Fix the configuration or create the entry in QBO."
    assert [(r["entity"], r["source_id"]) for r in missing["records"]] == [("Invoice", "I000008")]
    assert "Nope" in missing["records"][0]["last_error"]
    assert "Fix Invoice I000008 first" in groups["blocked"]["hint"]
    text = failing_env.invoke("failed", "list").stdout
    assert "missing_reference (1) — Fix the configuration" in text and "Payment PAY000002" in text


def test_retry_after_the_fix_exports_the_failed_and_the_blocked(failing_env: OperatorEnv) -> None:
    _set_tax_code(failing_env, "NON")
    code, data = failing_env.invoke_json("failed", "retry", "--all")
    assert code == 0, data
    outcomes = {(r["entity"], r["source_id"]): r["outcome"] for r in data["results"]}
    assert outcomes == {("Invoice", "I000008"): "created", ("Payment", "PAY000002"): "created"}
    assert failing_env.invoke_json("failed", "list") == (0, {"company": "demo", "queue": "failed", "total": 0,
                                                              "groups": []})


def test_retry_of_one_record_that_still_fails_exits_1(failing_env: OperatorEnv) -> None:
    code, data = failing_env.invoke_json("failed", "retry", "--entity", "invoice", "I000008")
    assert code == 1 and [r["outcome"] for r in data["results"]] == ["failed"]
    assert failing_env.invoke("failed", "retry").exit_code == 2  # nothing selected
    result = failing_env.invoke("failed", "retry", "--entity", "invoice", "I000999")
    assert result.exit_code == 1 and "not in the failed queue: Invoice I000999" in result.stderr


def test_ignore_and_clear_take_records_out_of_the_queue(failing_env: OperatorEnv) -> None:
    code, data = failing_env.invoke_json("failed", "ignore", "--kind", "blocked")
    assert code == 0 and data["ignored"] == [{"entity": "Payment", "source_id": "PAY000002"}]
    assert failing_env.invoke_json("failed", "list")[1]["total"] == 1
    code, ignored = failing_env.invoke_json("failed", "list", "--ignored")
    assert code == 0 and ignored["groups"][0]["records"][0]["source_id"] == "PAY000002"

    code, data = failing_env.invoke_json("failed", "clear", "--entity", "invoice", "I000008")
    assert code == 0 and data["cleared"] == [{"entity": "Invoice", "source_id": "I000008", "qbo_id": None}]
    assert failing_env.invoke_json("failed", "list")[1]["total"] == 0
    ledger = failing_env.ledger()
    try:
        assert ledger.get_link("demo", "Invoice", "I000008") is None  # starts afresh
        assert ledger.get_link("demo", "Payment", "PAY000002")["status"] == "ignored"
    finally:
        ledger.dispose()
    # clear --ignored puts an ignored record back (never in QBO: the next run starts it afresh)
    code, data = failing_env.invoke_json("failed", "clear", "--ignored", "--entity", "payment", "PAY000002")
    assert code == 0 and data["cleared"] == [{"entity": "Payment", "source_id": "PAY000002", "qbo_id": None}]
    assert failing_env.invoke_json("failed", "list", "--ignored")[1]["total"] == 0


def test_export_csv_writes_one_row_per_queued_record(failing_env: OperatorEnv, tmp_path) -> None:
    result = failing_env.invoke("failed", "export-csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["entity"], r["source_id"], r["status"], r["kind"]) for r in rows] == [
        ("Invoice", "I000008", "failed", "missing_reference"), ("Payment", "PAY000002", "blocked", "blocked")]
    assert rows[0]["hint"] and rows[0]["company"] == "demo"
    target = tmp_path / "queue.csv"
    result = failing_env.invoke("failed", "export-csv", "-o", str(target))
    assert result.exit_code == 0 and "wrote 2 record(s)" in result.stderr
    assert len(list(csv.DictReader(target.open()))) == 2
