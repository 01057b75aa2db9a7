"""The export through Dagster, end to end: demo source -> sandbox over HTTP, in a real instance."""

from __future__ import annotations

import dagster as dg

from qbo_pipeline.defs.reports import SYNC_REPORTS_KEY
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.runner import export_once
from qbo_pipeline.source.demo import mutate_demo_db
from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline_tests.defs.conftest import latest_check


def _meta(instance: dg.DagsterInstance, *path: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(list(path)))
    assert event is not None, f"{'/'.join(path)} was never materialized"
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def test_first_run_exports_demo_and_quarantines_bad_rows_without_blocking_others(pipeline):
    summary = export_once(pipeline.config(), "demo")
    assert [r["status"] for r in summary.runs] == ["SUCCESS"]
    instance = pipeline.instance()

    customers = _meta(instance, "demo", "qbo_customers")
    assert customers["created"] > 0 and customers["failed"] == 0
    in_qbo = pipeline.query("select * from Customer where Active in (true, false) maxresults 1000")
    ledger = Ledger(pipeline.config().ledger.url)
    linked = ledger.links("demo", "Customer")
    ledger.dispose()
    assert {str(link["qbo_id"]) for link in linked.values()} <= {c["Id"] for c in in_qbo}
    assert len(linked) == customers["created"]

    # the demo has invalid customers: they are quarantined with a reason, the rest exported
    validated = _meta(instance, "demo", "validated_customers")
    assert validated["quarantined"] > 0 and validated["valid"] > 0
    assert "|" in validated["quarantine"]  # a markdown table of the quarantined rows with reasons
    invoices = _meta(instance, "demo", "qbo_invoices")
    assert invoices["created"] > 0
    payments = _meta(instance, "demo", "qbo_payments")
    assert payments["created"] > 0

    # the company pre-flight (qbo-pipeline doctor) ran beside the export, with its findings
    preflight = latest_check(instance, ["demo", "qbo_customers"], "qbo_company_preflight")
    findings = preflight.metadata["findings"].value
    assert "| connection | ok |" in findings  # connected through OAuth just before
    assert preflight.passed == (preflight.metadata["errors"].value + preflight.metadata["warnings"].value == 0)

    # the sync report reached the ledger and the sync_reports view
    report_event = instance.get_latest_materialization_event(SYNC_REPORTS_KEY)
    assert report_event is not None
    assert report_event.asset_materialization.metadata["created"].value == sum(
        summary.entities[name]["created"] for name in summary.entities
    )


def test_second_run_of_unchanged_source_writes_nothing(pipeline):
    export_once(pipeline.config(), "demo")
    writes_before = pipeline.writes()
    summary = export_once(pipeline.config(), "demo")
    assert pipeline.writes() == writes_before
    totals = {k: sum(e.get(k, 0) for e in summary.entities.values()) for k in ("created", "updated", "write_requests")}
    assert totals == {"created": 0, "updated": 0, "write_requests": 0}
    # a full re-run of every day converges too: idempotent partitions
    summary = export_once(pipeline.config(), "demo", full=True)
    assert pipeline.writes() == writes_before
    assert sum(e.get("unchanged", 0) for e in summary.entities.values()) > 0


def test_incremental_run_exports_only_what_changed(pipeline):
    export_once(pipeline.config(), "demo")
    writes_before = pipeline.writes()
    changes = mutate_demo_db(pipeline.source_url, seed=3, new=2, edits=2)
    summary = export_once(pipeline.config(), "demo")
    assert all(r["status"] == "SUCCESS" for r in summary.runs)
    totals = {k: sum(e.get(k, 0) for e in summary.entities.values()) for k in ("created", "updated")}
    assert totals["created"] + totals["updated"] > 0
    assert pipeline.writes() > writes_before
    # a third run with nothing new is again a no-op
    writes_after = pipeline.writes()
    export_once(pipeline.config(), "demo")
    assert pipeline.writes() == writes_after
    assert changes["created"] or changes["edited"]


def test_dry_run_plans_without_writing(pipeline):
    writes_before = pipeline.writes()
    summary = export_once(pipeline.config(), "demo", dry_run=True)
    assert all(r["status"] == "SUCCESS" for r in summary.runs)
    assert pipeline.writes() == writes_before == 0
    plan = _meta(pipeline.instance(), "demo", "qbo_customers")
    assert plan["dry_run"] is True
    assert "create" in plan["plan"]


def test_reconciliation_check_fails_when_quickbooks_differs(pipeline):
    export_once(pipeline.config(), "demo")
    ledger = Ledger(pipeline.config().ledger.url)
    linked = {str(link["qbo_id"]) for link in ledger.links("demo", "Invoice").values() if link.get("qbo_id")}
    ledger.dispose()
    unpaid = [i for i in pipeline.query("select * from Invoice maxresults 1000")
              if i["Id"] in linked and float(i["Balance"]) == float(i["TotalAmt"]) > 0]
    assert unpaid, "the demo should leave some exported invoices unpaid"
    # someone deletes an exported invoice in QuickBooks behind the pipeline's back
    record = unpaid[0]
    with pipeline.sandbox.client() as client:
        client.post("/invoice", params={"operation": "delete"}, json={"Id": record["Id"], "SyncToken": record["SyncToken"]}).raise_for_status()
    export_once(pipeline.config(), "demo", full=True)
    evaluation = latest_check(pipeline.instance(), ["demo", "qbo_invoices"], "reconciliation")
    assert evaluation.passed is False
    assert "missing in QuickBooks" in evaluation.metadata["mismatches"].value
    # the same check passes when QuickBooks holds what was exported
    export_once(pipeline.config(), "demo", full=True)
    assert latest_check(pipeline.instance(), ["demo", "qbo_payments"], "reconciliation").passed is True
    with SourceReader(pipeline.source_url) as reader:
        assert reader.count("invoices") > 0


def test_command_line_backfill_runs_ranges_of_days_not_one_run_per_day(pipeline):
    from datetime import date, timedelta

    from qbo_pipeline.runner import chunk_range, export_days

    assert chunk_range("2026-01-01", "2026-03-31", 31) == [
        ("2026-01-01", "2026-01-31"), ("2026-02-01", "2026-03-03"), ("2026-03-04", "2026-03-31")]
    first, last = date.today() - timedelta(days=4), date.today() - timedelta(days=1)
    summary = export_days(pipeline.config(), "demo", first, last)
    assert len(summary.runs) == 1 and summary.runs[0]["status"] == "SUCCESS"
    assert summary.runs[0]["range"] == f"{first.isoformat()}..{last.isoformat()}"
    materialized = pipeline.instance().get_materialized_partitions(dg.AssetKey(["demo", "qbo_payments"]))
    assert materialized == {(first + timedelta(days=i)).isoformat() for i in range(4)}


def test_inactive_customers_history_reaches_quickbooks_then_they_are_deactivated(pipeline):
    import sqlalchemy as sa

    engine = sa.create_engine(pipeline.source_url)
    with engine.begin() as conn:
        # a customer who left: inactive in the source, with paid and unpaid history
        dormant = conn.execute(sa.text(
            "select c.id from customers c join invoices i on i.customer_id = c.id "
            "where c.active = 1 and c.deleted = 0 and c.parent_id is null and i.status in ('paid', 'sent') "
            "group by c.id order by count(*) desc limit 1")).scalar_one()
        conn.execute(sa.text("update customers set active = 0 where id = :id"), {"id": dormant})
    engine.dispose()
    summary = export_once(pipeline.config(), "demo")
    assert all(r["status"] == "SUCCESS" for r in summary.runs)
    ledger = Ledger(pipeline.config().ledger.url)
    link = ledger.get_link("demo", "Customer", dormant)
    invoices = [lk for (entity, _), lk in ledger.links("demo", "Invoice").items() if lk.get("qbo_id")]
    ledger.dispose()
    assert link and link["qbo_id"], "the inactive customer was created so its history could point at it"
    with pipeline.sandbox.client() as client:
        customer = client.get(f"/customer/{link['qbo_id']}").json()["Customer"]
    mine = pipeline.query(f"select * from Invoice where CustomerRef = '{link['qbo_id']}' maxresults 1000")
    assert mine, "its invoices are in QuickBooks"
    assert {i["Id"] for i in mine} <= {str(lk["qbo_id"]) for lk in invoices}
    # deactivated after its transactions, or kept active (and said so) while it owes money
    if float(customer.get("Balance", 0)) == 0:
        assert customer["Active"] is False and link["status"] == "deactivated"
    else:
        assert customer["Active"] is True and link["status"] == "kept_active"
    # nothing is retried and nothing written on the next run
    writes = pipeline.writes()
    export_once(pipeline.config(), "demo")
    assert pipeline.writes() == writes


def test_paid_invoice_voided_in_the_source_is_voided_in_one_run(pipeline):
    from datetime import datetime, timedelta

    import sqlalchemy as sa

    export_once(pipeline.config(), "demo")
    ledger = Ledger(pipeline.config().ledger.url)
    exported = {sid for (_, sid), lk in ledger.links("demo", "Invoice").items() if lk.get("status") == "exported"}
    engine = sa.create_engine(pipeline.source_url)
    later = datetime.now() + timedelta(minutes=10)
    with engine.begin() as conn:
        rows = conn.execute(sa.text(
            "select a.invoice_id, min(a.payment_id) from payment_applications a join invoices i on i.id = a.invoice_id "
            "where i.status = 'paid' and not exists (select 1 from credits c where c.invoice_id = i.id) "
            "group by a.invoice_id having count(*) = 1")).all()
        invoice_id, payment_id = next((i, p) for i, p in rows if i in exported)
        # the billing system voids the invoice and unapplies the payment that paid it
        conn.execute(sa.text("update invoices set status = 'void', updated_at = :t where id = :i"), {"t": later, "i": invoice_id})
        conn.execute(sa.text("delete from payment_applications where invoice_id = :i"), {"i": invoice_id})
        conn.execute(sa.text("update payments set updated_at = :t where id = :p"), {"t": later, "p": payment_id})
    engine.dispose()
    summary = export_once(pipeline.config(), "demo")
    assert all(r["status"] == "SUCCESS" for r in summary.runs)
    assert sum(e.get("failed", 0) for e in summary.entities.values()) == 0
    link = ledger.get_link("demo", "Invoice", invoice_id)
    ledger.dispose()
    assert link["status"] == "voided"
    with pipeline.sandbox.client() as client:
        voided = client.get(f"/invoice/{link['qbo_id']}").json()["Invoice"]
    assert float(voided["TotalAmt"]) == 0
