"""Hostile input: the committed corpus ``data/hostile_rows.jsonl`` against the whole pipeline.

Each case adds rows to a real SQLite source (beside a small valid demo) with wrong types,
broken encodings, 100,000-character strings, SQL and markup injection, NaN and infinity,
negative and future values and unknown references. Every case says what must become of it:
``quarantine`` (with a reason written as a sentence, not a stack trace), ``export`` (the
text is legal data and must reach QBO verbatim, which shows it was escaped, not executed) or
``blocked`` (a child of a quarantined parent: kept out of QBO with its parent's reason).
Cases marked ``gap`` are known weaknesses, kept as strict expected failures naming their
owner, so the day one is fixed the test says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from qbo_pipeline.export.engine import ExportEngine
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.source.demo import init_demo_db
from qbo_pipeline.stages import parent_quarantine_reasons
from qbo_pipeline.transform.payload import QBO_ENTITY_FOR_SOURCE
from qbo_pipeline_tests.reliability.reliability_helpers import (
    Actual,
    Expected,
    assert_books_right,
    baseline_ids,
    connect,
    exportable,
    insert_corpus,
    load_corpus,
    open_client,
    run_stages,
)

CASES = load_corpus()
SOUND = [c for c in CASES if not c.gap]
GAPS = [c for c in CASES if c.gap]
STACK_TRACE = re.compile(r"Traceback|File \"|Error\(|Exception|\bat 0x|<class ", re.IGNORECASE)


def _source(tmp_path: Path, cases) -> str:
    path = tmp_path / "source.db"
    init_demo_db(f"sqlite:///{path}", scale=0.005, seed=7)
    insert_corpus(path, cases)
    return f"sqlite:///{path}"


def _quarantine_reasons(stages) -> dict[tuple[str, str], list[str]]:
    reasons: dict[tuple[str, str], list[str]] = {}
    for row in stages.quarantine:
        reasons.setdefault((row["entity"], str(row["source_id"])), []).append(row["reason"])
    return reasons


def test_corpus_covers_the_kinds_the_issue_names():
    text = " ".join(c.case for c in CASES).lower()
    for kind in ("utf-8", "wrong type", "100,000", "sql", "markup", "nan", "infinit", "negative", "future", "unknown"):
        assert kind in text, kind
    assert len(CASES) >= 30


def _is_sentence(reason: Any) -> bool:
    return isinstance(reason, str) and reason.endswith(".") and 10 < len(reason) < 600 and not STACK_TRACE.search(reason)


def case_problems(case, reasons: dict[tuple[str, str], list[str]], exported: set[tuple[str, str]],
                  blocked: dict[tuple[str, str], str] | None = None) -> list[str]:
    """What is wrong with how the pipeline treated one case (empty: it behaved).

    ``reasons``: quarantine reasons by (table, source id); ``exported``: the (QBO entity, source id)
    payloads that would be written; ``blocked``: the engine's messages for records it held back."""
    entity, source_id = case.record
    key = (QBO_ENTITY_FOR_SOURCE[entity], source_id)
    found = reasons.get((entity, source_id), [])
    wrong = []
    if case.expect == "export":
        if found or key not in exported:
            wrong.append(f"{case.case}: should be exported, quarantined for {found}")
        return wrong
    held_back = (blocked or {}).get(key)
    if case.expect == "quarantine" and (not found or key in exported):
        return [f"{case.case}: not quarantined (reasons {found}, exported {key in exported})"]
    if case.expect == "blocked" and not found and not held_back:
        return [f"{case.case}: neither quarantined nor blocked (exported {key in exported})"]
    texts = found + ([held_back] if held_back else [])
    for reason in found:
        if not _is_sentence(reason):
            wrong.append(f"{case.case}: reason is not a sentence: {reason!r}")
    if case.reason_contains and not any(re.search(case.reason_contains, t, re.IGNORECASE) for t in texts):
        wrong.append(f"{case.case}: no reason matches /{case.reason_contains}/: {texts}")
    if case.max_reasons and len(found) > case.max_reasons:
        wrong.append(f"{case.case}: {len(found)} reasons, want at most {case.max_reasons} (one clear reason): {found}")
    if case.reason_of:
        table, parent_id = case.reason_of.split(":", 1)
        parent = [r.rstrip(".") for r in reasons.get((table, parent_id), [])]
        if not parent:
            wrong.append(f"{case.case}: the parent {case.reason_of} is not quarantined")
        elif not any(p.lower() in t.lower() for p in parent for t in texts):
            wrong.append(f"{case.case}: the reason does not carry the parent's ({parent}): {texts}")
    return wrong


def test_hostile_rows_are_quarantined_with_reasons_and_the_rest_exported(tmp_path, sandbox_unlimited, record_property):
    source_url = _source(tmp_path, SOUND)
    setup = connect(tmp_path, source_url, sandbox_unlimited.url)
    config = setup.config()
    stages = run_stages(config)
    reasons = _quarantine_reasons(stages)
    exported = {(p.entity, p.source_id) for p in stages.payloads}

    ledger = Ledger(setup.ledger_url)
    client = open_client(setup, ledger)
    try:
        baseline = baseline_ids(client)
        report = ExportEngine(client, ledger, config, "demo").export(
            stages.payloads, quarantined=parent_quarantine_reasons("demo", stages.validated, stages.payloads, ledger))
        blocked = {(r.entity, r.source_id): str(r.message or "") for r in report.results if r.outcome == "blocked"}
        wrong = [problem for case in SOUND for problem in case_problems(case, reasons, exported, blocked)]
        wrong += [f"{r.entity} {r.source_id} refused by QBO: {r.message}" for r in report.results if r.outcome == "failed"]
        assert not wrong, "\n".join(wrong)
        record_property("hostile_cases", len(SOUND))

        payloads, _ = exportable(stages.payloads)
        expected = Expected(payloads)
        actual = Actual(client, baseline, expected)
        assert_books_right(expected, actual)

        # the injection and markup strings are in QBO verbatim (escaped on the way, never run)
        names = {r["DisplayName"] for r in actual.records["Customer"]}
        assert "Robert'); DROP TABLE customers;--" in names
        assert "<script>alert('x')</script> & <b>Co</b>" in names
        assert "O'Brien \\\\ Sons \"Quoted\"" in names
        assert "<img src=x onerror=alert(1)>" in {r["Name"] for r in actual.records["Item"]}
        long_name = [n for n in names if n.startswith("ZZZZ")]
        assert len(long_name) == 1 and len(long_name[0]) <= 500
        found = client.find("Customer", "DisplayName", "Robert'); DROP TABLE customers;--")
        assert len(found) == 1  # the query language escapes the quote too
    finally:
        client.close()
        ledger.dispose()


def _gap_params():
    return [pytest.param(c, id=c.case, marks=pytest.mark.xfail(strict=True, reason=f"{c.owner or 'unowned'}: {c.gap}"))
            for c in GAPS]


@pytest.fixture(scope="module")
def gap_outcome(tmp_path_factory):
    """All known gaps beside the sound cases (which hold their parent rows), run once through the
    stages and the engine: (quarantine reasons, exported keys, blocked messages)."""
    from qbo_pipeline.local import local_sandbox

    tmp_path = tmp_path_factory.mktemp("gaps")
    with local_sandbox(tmp_path / "sandbox.sqlite3", extra_args=("--no-limits",)) as url:
        setup = connect(tmp_path, _source(tmp_path, [*SOUND, *GAPS]), url)
        config = setup.config()
        stages = run_stages(config)
        ledger = Ledger(setup.ledger_url)
        client = open_client(setup, ledger)
        try:
            # as the stage API does: blocked children name their quarantined parent's reason
            report = ExportEngine(client, ledger, config, "demo").export(
                stages.payloads, quarantined=parent_quarantine_reasons("demo", stages.validated, stages.payloads, ledger))
        finally:
            client.close()
            ledger.dispose()
    blocked = {(r.entity, r.source_id): str(r.message or "") for r in report.results if r.outcome == "blocked"}
    return _quarantine_reasons(stages), {(p.entity, p.source_id) for p in stages.payloads}, blocked


@pytest.mark.parametrize("case", _gap_params())
def test_known_gap_cases_behave_as_required(case, gap_outcome):
    """Each known gap, judged on its own; an expected failure naming its owner until the pipeline
    does what the case requires."""
    problems = case_problems(case, *gap_outcome)
    assert not problems, "\n".join(problems)
