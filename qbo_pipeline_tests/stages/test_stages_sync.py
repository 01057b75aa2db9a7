"""The stage API against a real sandbox: one engine run per export, incremental by change,
and a first export that never fails a valid record because of how it was split."""

from __future__ import annotations

from datetime import date

import pytest

from qbo_pipeline.stages import SyncMode, SyncRequest, SyncResult, Window, pending_changes, sync_company
from qbo_pipeline_tests.stages.stages_helpers import YEARS, build_history, session_for, touch


def _accounted(result: SyncResult) -> None:
    for name, counts in result.entities.items():
        assert counts.accounted == counts.read, (name, counts)


def _plain(value) -> bool:
    """Only exact str/int/... inside: Dagster's serialiser refuses enums (StrEnum included) in metadata."""
    if isinstance(value, dict):
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return not (isinstance(value, str) and type(value) is not str)


def _qbo(session, entity: str) -> list[dict]:
    """The company's records of ``entity`` that a client wrote (the sandbox's sample company has Ids below 1000)."""
    where = "Active IN (true, false)" if entity in ("Customer", "Item") else None
    return [r for r in session.client.query_all(entity, where) if int(r["Id"]) >= 1000]


def _dormant_in_qbo(session, history) -> dict:
    link = session.ledger.get_link("demo", "Customer", history.dormant)
    assert link is not None and link["qbo_id"]
    return next(c for c in _qbo(session, "Customer") if c["Id"] == link["qbo_id"])


def test_one_full_run_exports_a_multi_year_history_with_a_dormant_customer(sandbox_unlimited, tmp_path):
    history = build_history(tmp_path / "source.db")
    session = session_for(sandbox_unlimited, tmp_path, history.url)

    result = sync_company(session.config, SyncRequest("demo", SyncMode.FULL), session)

    _accounted(result)
    totals = result.totals()
    assert totals["failed"] == 0
    assert totals["blocked"] == 0
    assert totals["quarantined"] == 0
    assert result.entities["invoices"].created == len(history.invoices)
    assert result.entities["payments"].created == len(history.payments)
    assert result.entities["customers"].deactivated == 1  # the dormant one, after its invoices
    assert len(_qbo(session, "Invoice")) == len(history.invoices)
    assert _dormant_in_qbo(session, history)["Active"] is False
    assert result.cursor_after is not None
    assert session.ledger.source_cursor("demo") == result.cursor_after
    assert _plain(result.report.as_dict())
    assert _plain([r.as_dict() for r in result.report.results])
    assert _plain([c.as_dict() for c in result.entities.values()])


def test_a_first_export_split_into_windows_exports_every_valid_record(sandbox_unlimited, tmp_path):
    history = build_history(tmp_path / "source.db")
    session = session_for(sandbox_unlimited, tmp_path, history.url)
    windows = [Window(date(YEARS[0], 1, 1), date(YEARS[1], 1, 1), open_start=True),
               Window(date(YEARS[1], 1, 1), date(YEARS[2], 1, 1)),
               Window(date(YEARS[2], 1, 1), date(YEARS[2] + 1, 1, 1), open_end=True)]

    results = [sync_company(session.config, SyncRequest("demo", SyncMode.FULL, window=w), session) for w in windows]

    for result in results:
        _accounted(result)
        assert result.totals()["failed"] == 0, result.report.results
        assert result.totals()["blocked"] == 0, result.report.results
        assert result.cursor_after is None  # a window does not move the cursor
    # the dormant customer stays active while later invoices still need it, and is deactivated by the last window
    first = results[0]
    assert ("Customer", history.dormant) in first.still_needed
    assert first.entities["customers"].deactivated == 0
    assert results[-1].entities["customers"].deactivated == 1
    assert sum(r.entities["invoices"].created for r in results) == len(history.invoices)
    assert len(_qbo(session, "Invoice")) == len(history.invoices)
    assert _dormant_in_qbo(session, history)["Active"] is False


def test_windows_exported_newest_first_make_the_dormant_customer_active_again_for_older_invoices(
        sandbox_unlimited, tmp_path):
    history = build_history(tmp_path / "source.db")
    session = session_for(sandbox_unlimited, tmp_path, history.url)
    newest = Window(date(YEARS[2], 1, 1), date(YEARS[2] + 1, 1, 1), open_end=True)
    older = Window(date(YEARS[0], 1, 1), date(YEARS[2], 1, 1), open_start=True)

    last = sync_company(session.config, SyncRequest("demo", SyncMode.FULL, window=newest), session)
    assert last.entities["customers"].deactivated == 1
    again = sync_company(session.config, SyncRequest("demo", SyncMode.FULL, window=older), session)

    assert again.totals()["failed"] == 0, again.report.results
    assert again.totals()["blocked"] == 0
    assert again.entities["invoices"].created == len(history.invoices) - len(YEARS[2:]) * 4
    assert len(_qbo(session, "Invoice")) == len(history.invoices)
    assert _dormant_in_qbo(session, history)["Active"] is False


def test_a_change_in_the_far_past_reads_and_plans_only_that_record_and_what_it_needs(sandbox_unlimited, tmp_path):
    history = build_history(tmp_path / "source.db")
    session = session_for(sandbox_unlimited, tmp_path, history.url)
    first = sync_company(session.config, SyncRequest("demo"), session)  # no cursor yet: everything
    assert first.entities["invoices"].read == len(history.invoices)

    assert not pending_changes(session.config, "demo", session.ledger).has_changes
    idle = sync_company(session.config, SyncRequest("demo"), session)
    assert sum(c.read for c in idle.entities.values()) == 0
    assert idle.report.write_requests == 0

    touch(history.url, "invoices", history.old_invoice, memo="corrected in 2026")
    pending = pending_changes(session.config, "demo", session.ledger)
    assert pending.changed == ("invoices",)

    result = sync_company(session.config, SyncRequest("demo"), session)

    _accounted(result)
    counts = result.entities
    # the changed invoice, and the newest one before the cursor: reads start WATERMARK_OVERLAP early
    newest = max(history.invoices, key=lambda i: history.invoices[i])
    read = set(result.validations["invoices"].valid["invoices"]["id"])
    assert read == {history.old_invoice, newest}
    assert counts["invoices"].updated == 1
    assert counts["invoices"].unchanged == 1
    assert counts["customers"].read == 2  # their customers, for the reference checks (unchanged: no write)
    assert counts["customers"].unchanged == 2
    assert counts["products"].read == 1
    assert counts["payments"].read == 0  # a payment points at the invoice, not the other way round
    planned = result.report.counts
    assert planned["updated"] == 1
    assert sum(planned.values()) == 1 + len(result.report.skipped_steps)  # nothing else was written
    assert len(result.report.skipped_steps) == 4  # the other invoice, two customers, the item: unchanged
    assert result.report.write_requests == 1
    assert not pending_changes(session.config, "demo", session.ledger).has_changes


def test_a_changed_payment_brings_the_invoices_it_applies_to(sandbox_unlimited, tmp_path):
    history = build_history(tmp_path / "source.db")
    session = session_for(sandbox_unlimited, tmp_path, history.url)
    sync_company(session.config, SyncRequest("demo"), session)
    touch(history.url, "payments", history.payment, memo="bank reference added")

    result = sync_company(session.config, SyncRequest("demo"), session)

    assert result.entities["payments"].updated == 1
    assert result.entities["payments"].read <= 2  # the changed one (+ the newest before the cursor)
    # the invoices the payments apply to, read and planned (unchanged: no write)
    assert history.old_invoice in set(result.validations["invoices"].valid["invoices"]["id"])
    assert result.entities["invoices"].read == result.entities["invoices"].unchanged == result.entities["payments"].read
    assert result.report.write_requests == 1


def test_dry_run_plans_without_writing_or_moving_the_cursor(sandbox_unlimited, tmp_path):
    history = build_history(tmp_path / "source.db")
    session = session_for(sandbox_unlimited, tmp_path, history.url)

    result = sync_company(session.config, SyncRequest("demo", dry_run=True), session)

    assert result.plan is not None
    assert _plain([step.as_dict() for step in result.plan.steps])
    assert _plain(result.report.as_dict())
    assert result.entities["invoices"].created == len(history.invoices)
    assert result.report.write_requests == 0
    assert result.cursor_after is None
    assert session.ledger.source_cursor("demo") is None


def test_a_payment_of_a_quarantined_invoice_is_blocked_with_the_invoice_s_reason(sandbox_unlimited, tmp_path):
    history = build_history(tmp_path / "source.db", quarantined_invoice=True)
    session = session_for(sandbox_unlimited, tmp_path, history.url)

    result = sync_company(session.config, SyncRequest("demo"), session)

    _accounted(result)
    assert result.entities["invoices"].quarantined == 1
    blocked = [r for r in result.report.results if r.outcome == "blocked"]
    assert len(blocked) == 1
    assert blocked[0].entity == "Payment"
    assert " is quarantined: " in blocked[0].message
    assert "not in QBO" not in blocked[0].message
    assert "due" in blocked[0].message.lower()


@pytest.mark.parametrize("mode", [SyncMode.INCREMENTAL, SyncMode.FULL])
def test_a_second_run_writes_nothing_when_nothing_changed(sandbox_unlimited, tmp_path, mode):
    history = build_history(tmp_path / "source.db")
    session = session_for(sandbox_unlimited, tmp_path, history.url)
    sync_company(session.config, SyncRequest("demo"), session)

    again = sync_company(session.config, SyncRequest("demo", mode), session)

    assert again.report.write_requests == 0
    _accounted(again)
    if mode is SyncMode.FULL:
        assert again.entities["invoices"].unchanged == len(history.invoices)
