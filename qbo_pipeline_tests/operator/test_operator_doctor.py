"""`qbo-pipeline doctor` against a real sandbox company, and its rules as a pure function."""

from __future__ import annotations

import time

import dagster as dg

from qbo_pipeline.company_checks import (
    ERROR,
    OK,
    WARNING,
    CompanyFacts,
    doctor_findings,
)
from qbo_pipeline.config import load_config
from qbo_pipeline.defs.checks import build_doctor_check
from qbo_pipeline.defs.resources import PipelineResource
from qbo_pipeline_tests.operator.operator_helpers import OperatorEnv


def _by_check(data: dict) -> dict[str, dict]:
    return {f["check"]: f for f in data["findings"]}


def _good_preferences(env: OperatorEnv, **extra: dict) -> None:
    prefs = {"SalesFormsPrefs": {"CustomTxnNumbers": True, "AutoApplyCredit": False}, **extra}
    env.sandbox.admin("POST", f"companies/{env.sandbox.realm}/preferences", prefs)


def test_doctor_flags_the_sample_company_settings_with_their_fix(connected_env: OperatorEnv) -> None:
    code, data = connected_env.invoke_json("doctor")
    assert code == 1 and data["ok"] is False
    found = _by_check(data)
    # the local sandbox has no settings pages: the fix names the command that sets them
    assert found["custom_txn_numbers"]["severity"] == ERROR and "`qbo-pipeline run`" in found["custom_txn_numbers"]["fix"]
    assert found["auto_apply_credits"]["severity"] == ERROR and "`qbo-pipeline run`" in found["auto_apply_credits"]["fix"]
    assert found["connection"]["severity"] == OK and data["connection"]["status"] == "connected"
    assert found["refresh_token"]["severity"] == OK and found["minor_version"]["message"].startswith("requests pin minorversion=75")
    # the demo has one EUR invoice for a USD customer: quarantined, so only a warning
    assert found["currencies"]["severity"] == WARNING and "EUR" in found["currencies"]["message"]
    assert set(data["counts"]) == {"ok", "warning", "error"} and data["counts"]["error"] == 2


def test_doctor_passes_once_fixed_and_warns_about_a_closed_period(connected_env: OperatorEnv) -> None:
    _good_preferences(connected_env, AccountingInfoPrefs={"BookCloseDate": "2024-06-30"})
    result = connected_env.invoke("doctor")
    assert result.exit_code == 0, result.output
    assert "[WARN] book_close_date: the books are closed through 2024-06-30" in result.stdout
    assert "fix: move the closing date before 2024-01-01" in result.stdout
    assert "0 error(s)" in result.stdout


def test_doctor_checks_mapped_tax_codes_and_foreign_customers(connected_env: OperatorEnv) -> None:
    _good_preferences(connected_env)
    text = connected_env.config_path.read_text() + "taxes:\n  mode: mapped\n  map: {S: California, R: Reduced}\n"
    connected_env.config_path.write_text(text)
    ledger_source = connected_env.root / "source.db"
    import sqlite3

    with sqlite3.connect(ledger_source) as db:
        db.execute("update customers set currency = 'CAD' where id = (select min(id) from customers)")
    code, data = connected_env.invoke_json("doctor", "--only", "tax_codes", "--only", "currencies")
    found = _by_check(data)
    assert code == 1 and set(found) == {"tax_codes", "currencies"}
    assert "missing: Reduced" in found["tax_codes"]["message"] and "California" in found["tax_codes"]["fix"]
    assert any(f["severity"] == ERROR and "CAD" in f["message"] and "multicurrency is off" in f["message"]
               for f in data["findings"] if f["check"] == "currencies")


def test_doctor_without_a_connection_exits_3(operator_env: OperatorEnv) -> None:
    code, data = operator_env.invoke_json("doctor")
    assert code == 3
    assert _by_check(data)["connection"]["severity"] == ERROR
    assert "qbo-pipeline connect" in _by_check(data)["connection"]["fix"]


def test_refresh_token_expiry_rules() -> None:
    config = load_config()
    now = time.time()
    base = {"status": "connected", "realm_id": "1", "access_expires_in": -5}
    soon = doctor_findings(CompanyFacts({**base, "refresh_expires_at": now + 3 * 86400}, now=now), config,
                           only=("refresh_token", "access_token"))
    assert [(f.check, f.severity) for f in soon] == [("access_token", OK), ("refresh_token", WARNING)]
    assert "expires in 3 day(s)" in soon[1].message
    hard = doctor_findings(CompanyFacts({**base, "refresh_expires_at": now + 90 * 86400,
                                         "refresh_hard_expires_at": now - 1}, now=now), config, only=("refresh_token",))
    assert hard[0].severity == ERROR
    gone = doctor_findings(CompanyFacts({"status": "needs_reconnect", "message": "invalid_grant"}, now=now), config)
    assert gone[0].severity == ERROR and "reconnect" in gone[0].fix
    assert {f.check for f in gone} == {"connection", "minor_version"}  # nothing else is knowable


def test_doctor_as_a_dagster_asset_check(connected_env: OperatorEnv) -> None:
    @dg.asset(key=["demo", "qbo_customers"])
    def qbo_customers() -> None:
        return None

    check = build_doctor_check("demo", dg.AssetKey(["demo", "qbo_customers"]))
    result = dg.materialize([qbo_customers, check], resources={"pipeline": PipelineResource(
        config_path=str(connected_env.config_path))}, raise_on_error=False)
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 1
    evaluation = evaluations[0]
    assert evaluation.check_name == "qbo_company_preflight" and evaluation.passed is False
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["errors"].value == 2
    assert "custom_txn_numbers" in evaluation.metadata["findings"].value


def test_doctor_after_quickbooks_revoked_the_grant_says_reconnect(connected_env: OperatorEnv) -> None:
    connected_env.sandbox.admin("POST", "tokens/revoke", {"realm": connected_env.sandbox.realm})
    connected_env.sandbox.admin("POST", "tokens/expire", {"realm": connected_env.sandbox.realm})
    code, data = connected_env.invoke_json("doctor", "--no-source")
    assert code == 3 and data["connection"]["status"] == "needs_reconnect"
    connection = _by_check(data)["connection"]
    assert connection["severity"] == ERROR and "qbo-pipeline connect" in connection["fix"]


def test_the_local_company_is_set_up_as_the_docs_ask_so_the_demo_passes_doctor(connected_env) -> None:
    """`run`/`ui` set the embedded sandbox company's preferences through the QBO API (a sparse
    Preferences update, as any client would); the pre-flight then finds nothing to fix there."""
    from qbo_pipeline.operator.local_company import set_up_local_company

    code, before = connected_env.invoke_json("doctor", "--only", "custom_txn_numbers", "--only", "auto_apply_credits")
    assert code == 1  # the sample company ships like a new QBO company: numbers off, auto-apply on
    assert all("`qbo-pipeline run`" in f["fix"] and "Settings" not in f["fix"] for f in before["findings"]
               if f["severity"] == "error")  # the local sandbox has no settings menus
    assert set_up_local_company(connected_env.config(), "demo") == {"CustomTxnNumbers": True, "AutoApplyCredit": False}
    assert set_up_local_company(connected_env.config(), "demo") == {}  # once only
    code, report = connected_env.invoke_json("doctor", "--only", "custom_txn_numbers", "--only", "auto_apply_credits")
    assert code == 0 and {f["severity"] for f in report["findings"]} == {"ok"}
    code, report = connected_env.invoke_json("doctor")  # the whole pre-flight of the demo
    assert code == 0 and report["counts"]["error"] == 0, report["findings"]


def test_preference_fixes_name_quickbooks_menus_for_intuit_companies(connected_env: OperatorEnv) -> None:
    from qbo_pipeline.company_checks import CompanyFacts, doctor_findings

    prefs = {"SalesFormsPrefs": {"CustomTxnNumbers": False, "AutoApplyCredit": True}}
    facts = CompanyFacts(connection={"status": "connected", "realm_id": "1", "access_expires_in": 3600,
                                     "refresh_expires_at": 2e9},
                         preferences=prefs, environment="production")
    found = {f.check: f for f in doctor_findings(facts, connected_env.config())}
    assert "Custom transaction numbers: On" in found["custom_txn_numbers"].fix
    assert "Automatically apply credits: Off" in found["auto_apply_credits"].fix
