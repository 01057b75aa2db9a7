"""`sync`, `link`, `unlink` and `unlock` through the real command line, against the sandbox and the ledger."""

from __future__ import annotations

from datetime import timedelta

from qbo_pipeline.ledger import utcnow
from qbo_pipeline_tests.operator.operator_helpers import OperatorEnv


def _link(env: OperatorEnv, entity: str, source_id: str) -> dict | None:
    ledger = env.ledger()
    try:
        return ledger.get_link("demo", entity, source_id)
    finally:
        ledger.dispose()


def test_sync_exports_an_invoice_with_its_customer_chain_and_items(connected_env: OperatorEnv) -> None:
    # I000005 is billed to sub-customer C00010, whose parent C00009 has the parent C00008
    code, data = connected_env.invoke_json("sync", "--invoice", "I000005")
    assert code == 0, data
    assert data["requested"] == {"invoices": ["I000005"]}
    assert data["parents_added"]["customers"] == ["C00008", "C00009", "C00010"]
    assert data["parents_added"]["products"]  # the invoice's items
    outcomes = {(r["entity"], r["source_id"]): r["outcome"] for r in data["results"]}
    assert outcomes[("Invoice", "I000005")] == "created"
    assert all(outcomes[("Customer", c)] == "created" for c in ("C00008", "C00009", "C00010"))
    invoice = _link(connected_env, "Invoice", "I000005")
    customer = _link(connected_env, "Customer", "C00010")
    with connected_env.sandbox.client() as qbo:
        record = qbo.get(f"/invoice/{invoice['qbo_id']}").json()["Invoice"]
    assert record["CustomerRef"]["value"] == customer["qbo_id"]

    # a second sync of the same invoice: unchanged, nothing written; parents now come from the ledger
    code, again = connected_env.invoke_json("sync", "--invoice", "I000005")
    assert code == 0 and again["parents_added"] == {} and again["report"]["write_requests"] == 0
    assert again["report"]["counts"]["skipped"] == 1


def test_sync_refuses_ids_the_source_lacks_and_needs_a_selection(connected_env: OperatorEnv) -> None:
    result = connected_env.invoke("sync", "--invoice", "NOPE-1")
    assert result.exit_code == 2 and "not in the source: invoices NOPE-1" in result.stderr
    result = connected_env.invoke("sync")
    assert result.exit_code == 2 and "name at least one record" in result.stderr


def test_sync_reports_quarantined_rows_with_exit_1(connected_env: OperatorEnv) -> None:
    import sqlite3

    with sqlite3.connect(connected_env.root / "source.db") as db:
        invalid = db.execute("select id from invoices where memo like 'INVALID:%negative quantity%'").fetchone()[0]
    code, data = connected_env.invoke_json("sync", "--invoice", invalid)
    assert code == 1
    assert {q["source_id"] for q in data["quarantined"]} == {invalid}
    assert any("quantity" in q["reason"] for q in data["quarantined"])
    assert not any(r["source_id"] == invalid for r in data["results"])  # never sent to QuickBooks


def test_link_checks_the_record_exists_then_links_and_unlinks(connected_env: OperatorEnv) -> None:
    with connected_env.sandbox.client() as qbo:
        customers = qbo.get("/query", params={"query": "select * from Customer"}).json()["QueryResponse"]["Customer"]
    target = customers[0]
    result = connected_env.invoke("link", "customer", "C00001", "999999")
    assert result.exit_code == 1 and "no Customer with Id 999999" in result.stderr
    assert _link(connected_env, "Customer", "C00001") is None

    code, data = connected_env.invoke_json("link", "customer", "C00001", target["Id"])
    assert code == 0 and data["status"] == "linked" and data["name"] == target["DisplayName"]
    assert data["app_url"].endswith(f"/app/customerdetail?nameId={target['Id']}")
    link = _link(connected_env, "Customer", "C00001")
    assert link["qbo_id"] == target["Id"] and link["manual"] and link["status"] == "linked"

    # another source row cannot silently share that QBO record
    result = connected_env.invoke("link", "customers", "C00002", target["Id"])
    assert result.exit_code == 1 and "already linked to source row(s) C00001" in result.stderr

    # the next export updates the linked record instead of creating a new one
    code, synced = connected_env.invoke_json("sync", "--customer", "C00001")
    assert code == 0 and [r["outcome"] for r in synced["results"]] == ["updated"]
    assert _link(connected_env, "Customer", "C00001")["qbo_id"] == target["Id"]

    code, data = connected_env.invoke_json("unlink", "customer", "C00001")
    assert code == 0 and data["qbo_id"] == target["Id"]
    assert _link(connected_env, "Customer", "C00001") is None
    assert connected_env.invoke("unlink", "customer", "C00001").exit_code == 1
    assert connected_env.invoke("link", "widget", "C1", "1").exit_code == 2


def test_unlock_clears_a_stuck_lock_and_refuses_a_fresh_one(operator_env: OperatorEnv) -> None:
    ledger = operator_env.ledger()
    try:
        assert operator_env.invoke_json("unlock") == (0, {"ok": True, "company": "demo", "cleared": False, "lock": {
            "state": "free", "owner": None, "acquired_at": None, "age_seconds": None, "run_status": None}})
        ledger.start_run("demo", "r-fresh")
        assert ledger.acquire_export_lock("demo", "run r-fresh")
        code, data = operator_env.invoke_json("unlock")
        assert code == 1 and data["lock"]["state"] == "running" and not data["cleared"]
        assert "may still be running" in data["error"]
        assert ledger.export_lock("demo") is not None

        code, data = operator_env.invoke_json("unlock", "--force")
        assert code == 0 and data["cleared"] and ledger.export_lock("demo") is None
        assert ledger.runs("demo")[0]["status"] == "stopped"

        # a lock older than --stuck-after is cleared without --force
        t = ledger.tables["export_locks"]
        with ledger.begin() as conn:
            conn.execute(t.insert().values(company="demo", owner="host-1 pid 42", acquired_at=utcnow() - timedelta(hours=3)))
        result = operator_env.invoke("unlock")
        assert result.exit_code == 0 and "held by host-1 pid 42 for 3h00m (stuck)" in result.stdout
        assert ledger.export_lock("demo") is None
    finally:
        ledger.dispose()


def test_sync_while_another_export_holds_the_lock_is_refused(connected_env: OperatorEnv) -> None:
    ledger = connected_env.ledger()
    try:
        ledger.start_run("demo", "r-busy")
        assert ledger.acquire_export_lock("demo", "run r-busy")
    finally:
        ledger.dispose()
    result = connected_env.invoke("sync", "--customer", "C00001")
    assert result.exit_code == 1
    assert "being exported by run r-busy" in result.stderr and "`qbo-pipeline unlock`" in result.stderr
    assert _link(connected_env, "Customer", "C00001") is None


def test_sync_dry_run_prints_the_plan_with_field_diffs(connected_env: OperatorEnv) -> None:
    import sqlalchemy as sa

    code, _ = connected_env.invoke_json("sync", "--customer", "C00001")
    assert code == 0
    engine = sa.create_engine(connected_env.source_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE customers SET email = 'new.address@example.com' WHERE id = 'C00001'"))
    engine.dispose()
    code, data = connected_env.invoke_json("sync", "--customer", "C00001", "--dry-run")
    assert code == 0 and data["dry_run"] is True
    step = next(s for s in data["plan"] if s["entity"] == "Customer" and s["source_id"] == "C00001")
    assert step["action"] == "update" and step["qbo_id"]
    change = next(d for d in step["diff"] if d["new"] == "new.address@example.com")
    assert change["field"] == "PrimaryEmailAddr.Address" and change["old"] != change["new"]
    human = connected_env.invoke("sync", "--customer", "C00001", "--dry-run")
    assert "would update     Customer C00001" in human.stdout
    assert "PrimaryEmailAddr.Address: " in human.stdout and "-> 'new.address@example.com'" in human.stdout
