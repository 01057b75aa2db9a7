"""Drift: records the pipeline wrote that a person changed or deleted in QuickBooks since.

A bookkeeper fixes an invoice's date in QBO, or deletes a duplicate payment; the next source
change must not silently put the old values back. Each sync of a company first reads QBO's
change feed (CDC) since the last pass (bounded: QBO keeps 30 days and answers at most 1000
records per entity, so a truncated feed advances the cursor only as far as it read), and for
every record the pipeline wrote whose SyncToken moved it compares what the pipeline wrote
(the stored payload) with what QBO holds now. A record whose written fields differ, or that
was deleted, becomes a finding in the ledger (``drift`` table; ``qbo-pipeline drift list``).

While a finding is open, the export holds that record (skipped by the rule ``drift_held``):
the operator decides, either ``qbo-pipeline drift overwrite`` (the next run writes the
source's values over the person's edit) or fixing the source / QBO and ``drift clear``. A
SyncToken that moved for QBO's own reasons (an invoice's balance after a payment) is not
drift: the written fields are unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from qbo_pipeline.qbo.errors import QboError
from qbo_pipeline.transform.payload import Payload, is_ref

log = logging.getLogger("qbo_pipeline.drift")

CDC_LOOKBACK = timedelta(days=30)  # QBO's change feed keeps 30 days
CDC_MAX_OBJECTS = 1000  # QBO answers at most this many changed records per request
OVERLAP = timedelta(minutes=5)  # re-read a little: a change stamped just before the last pass ended
HELD_RULE = "drift_held"
SKIPPED_KEYS = {"Id", "SyncToken", "sparse", "domain", "MetaData"}
NAME_FIELDS = ("DisplayName", "Name")


class DriftKind(StrEnum):
    EDITED = "edited"
    DELETED = "deleted"


class DriftStatus(StrEnum):
    OPEN = "open"  # the export holds the record
    OVERWRITE = "overwrite"  # the operator approved writing the source's values again


@dataclass(frozen=True)
class DriftFinding:
    entity: str
    source_id: str
    qbo_id: str
    kind: DriftKind
    fields: tuple[str, ...]
    our_sync_token: str | None
    qbo_sync_token: str | None
    qbo_updated_at: str | None

    def as_row(self) -> dict[str, Any]:
        return {"entity": self.entity, "source_id": self.source_id, "qbo_id": self.qbo_id, "kind": str(self.kind),
                "fields": list(self.fields), "our_sync_token": self.our_sync_token,
                "qbo_sync_token": self.qbo_sync_token, "qbo_updated_at": self.qbo_updated_at}


@dataclass(frozen=True)
class DriftReport:
    """One drift pass: the window read, what changed in QBO, and the findings (for an asset check)."""

    company: str
    since: datetime | None
    until: datetime | None
    changed: int = 0  # records of the feed the pipeline wrote
    findings: tuple[DriftFinding, ...] = ()
    truncated: tuple[str, ...] = ()  # entities whose feed hit QBO's 1000-record cap (the rest comes next pass)
    gap: bool = False  # the last pass is older than QBO's 30 days: changes in between cannot be seen
    error: str | None = None
    open_findings: int = 0  # findings still open in the ledger after this pass (older ones included)
    open_by_entity: Mapping[str, int] = field(default_factory=dict)  # QBO entity -> open findings

    @property
    def passed(self) -> bool:
        """No open drift and the feed was read: what an asset check asserts."""
        return self.error is None and self.open_findings == 0

    @property
    def description(self) -> str:
        """One sentence for an asset check or a sync report."""
        if self.error:
            return f"The change feed could not be read ({self.error}); drift is unknown."
        if self.open_findings:
            return (f"{self.open_findings} record(s) the pipeline wrote were changed or deleted in QuickBooks by a "
                    f"person and are held: `qbo-pipeline drift list`.")
        return f"No record the pipeline wrote was changed in QuickBooks ({self.changed} checked)."

    def counts(self) -> dict[str, Any]:
        """The pass in numbers, as a sync report keeps them: records checked, new findings, open ones."""
        return {"checked": self.changed, "new": len(self.findings), "open": self.open_findings,
                "open_by_entity": dict(sorted(self.open_by_entity.items())), "truncated": list(self.truncated),
                "gap": self.gap, "error": self.error}

    def as_dict(self) -> dict[str, Any]:
        return {"company": self.company, "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None, "changed": self.changed,
                "findings": [f.as_row() for f in self.findings], "truncated": list(self.truncated),
                "gap": self.gap, "error": self.error, "open_findings": self.open_findings,
                "open_by_entity": dict(self.open_by_entity), "passed": self.passed}


def _cents(value: Any) -> int | None:
    try:
        return round(float(value) * 100)
    except (TypeError, ValueError):
        return None


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return bool(ours) == bool(theirs) if theirs is not None else ours is False
    if isinstance(ours, int | float) and not isinstance(ours, bool):
        return _cents(ours) == _cents(theirs)
    return str(ours).strip() == str(theirs if theirs is not None else "").strip()


def _line_amounts(lines: Any) -> list[int]:
    if not isinstance(lines, list):
        return []
    return sorted(c for line in lines if isinstance(line, dict) and line.get("DetailType") != "SubTotalLineDetail"
                  and (c := _cents(line.get("Amount"))) is not None)


def changed_fields(body: Mapping[str, Any], record: Mapping[str, Any], name: str | None = None) -> list[str]:
    """The fields the pipeline wrote (``body``, placeholders kept) whose value in QBO (``record``) differs.

    Scalars at the top and one level down (addresses, e-mail) are compared, money to the cent;
    lines by their amounts; references are not (their Ids are QBO's). A name is compared with the
    name the pipeline recorded (it may have been renamed on a duplicate)."""
    out = []
    for key, ours in body.items():
        if key in SKIPPED_KEYS or is_ref(ours):
            continue
        theirs = record.get(key)
        if key == "Line":
            if _line_amounts(ours) != _line_amounts(theirs):
                out.append("Line")
        elif key in NAME_FIELDS and name:
            if not _same(name, theirs):
                out.append(key)
        elif isinstance(ours, dict):
            inner = theirs if isinstance(theirs, dict) else {}
            out += [f"{key}.{k}" for k, v in ours.items()
                    if not is_ref(v) and not isinstance(v, dict | list) and not _same(v, inner.get(k))]
        elif not isinstance(ours, list) and not _same(ours, theirs):
            out.append(key)
    return out


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return _as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def detect_drift(session: Any, *, entities: Iterable[str] | None = None, now: datetime | None = None,
                 run_id: str | None = None) -> DriftReport:
    """One bounded CDC pass for ``session``'s company; findings and the cursor go to the ledger."""
    from qbo_pipeline.entities import REGISTRY

    company, ledger, client = session.company_key, session.ledger, session.client
    until = _as_utc(now or datetime.now(UTC))
    cursor = ledger.drift_cursor(company)
    oldest = until - CDC_LOOKBACK + timedelta(minutes=1)
    since = _as_utc(cursor) - OVERLAP if cursor is not None else oldest
    gap = cursor is not None and since < oldest
    since = max(since, oldest)
    wanted = list(entities) if entities is not None else [e.qbo_entity for e in REGISTRY]
    findings: list[DriftFinding] = []
    truncated: list[str] = []
    reached = until
    changed = 0
    try:
        for entity in wanted:  # one request per entity: QBO's 1000-record cap applies per request
            records = client.cdc([entity], since.isoformat()).get(entity, [])
            if len(records) >= CDC_MAX_OBJECTS:
                truncated.append(entity)
                last = _parse(records[-1].get("MetaData", {}).get("LastUpdatedTime"))
                if last is not None:
                    reached = min(reached, last)
            links = ledger.links_by_qbo_id(company, entity, [r["Id"] for r in records if r.get("Id")])
            for record in records:
                link = links.get(str(record.get("Id")))
                if link is None:
                    continue  # not the pipeline's record
                changed += 1
                deleted = str(record.get("status", "")).lower() == "deleted"
                if deleted and link.get("status") in ("deleted", "voided"):
                    continue  # the pipeline removed it itself
                if not deleted and str(record.get("SyncToken")) == str(link.get("sync_token")):
                    continue  # unchanged since the pipeline's own write
                fields = [] if deleted else changed_fields(link.get("body") or {}, record, link.get("name"))
                if not deleted and not fields:
                    continue  # QBO moved the SyncToken itself (a balance, a link): nothing a person changed
                findings.append(DriftFinding(
                    entity, str(link["source_id"]), str(record["Id"]), DriftKind.DELETED if deleted else DriftKind.EDITED,
                    tuple(fields), link.get("sync_token"), record.get("SyncToken"),
                    record.get("MetaData", {}).get("LastUpdatedTime")))
    except QboError as exc:
        log.warning("%s: drift pass failed (%s); the export goes on without it", company, exc)
        by_entity = open_drift(ledger, company)
        return DriftReport(company, since, None, changed, tuple(findings), tuple(truncated), gap, str(exc),
                           sum(by_entity.values()), by_entity)
    known = {(f["entity"], f["source_id"]): f for f in ledger.drift(company)}

    def seen(f: DriftFinding) -> bool:  # the same change found by an earlier pass keeps its status
        before = known.get((f.entity, f.source_id))
        return before is not None and before["kind"] == f.kind and before["qbo_sync_token"] == f.qbo_sync_token

    new = [f for f in findings if not seen(f)]
    if new:
        ledger.record_drift(company, [f.as_row() for f in new], run_id=run_id)
        log.warning("%s: %d record(s) changed in QuickBooks by a person since the pipeline wrote them: %s",
                    company, len(findings), ", ".join(f"{f.entity} {f.source_id} ({f.kind})" for f in findings[:5]))
    ledger.advance_drift_cursor(company, reached.replace(tzinfo=None), run_id=run_id)
    by_entity = open_drift(ledger, company)
    return DriftReport(company, since, reached, changed, tuple(findings), tuple(truncated), gap, None,
                       sum(by_entity.values()), by_entity)


def open_drift(ledger: Any, company: str) -> dict[str, int]:
    """QBO entity -> findings still open (held until the operator decides), for status and asset checks."""
    out: dict[str, int] = {}
    for finding in ledger.drift(company, status=DriftStatus.OPEN):
        out[finding["entity"]] = out.get(finding["entity"], 0) + 1
    return out


@dataclass
class Held:
    """Payloads kept out of this export because a person changed their QBO record (by registry entity)."""

    reasons: dict[tuple[str, str], str] = field(default_factory=dict)
    approved: set[tuple[str, str]] = field(default_factory=set)  # overwrites the operator approved


def hold_drifted(company: str, ledger: Any, payloads: list[Payload]) -> tuple[list[Payload], Held]:
    """The payloads to export, without those whose QBO record has open drift and that this run would write."""
    held = Held()
    findings = {(f["entity"], f["source_id"]): f for f in ledger.drift(company)}
    if not findings:
        return payloads, held
    touched = [p for p in payloads if (p.entity, p.source_id) in findings]
    links = ledger.links_for(company, {(p.entity, p.source_id) for p in touched})
    keep: list[Payload] = []
    for payload in payloads:
        key = (payload.entity, payload.source_id)
        finding = findings.get(key)
        if finding is None:
            keep.append(payload)
            continue
        if finding["status"] == DriftStatus.OVERWRITE:
            held.approved.add(key)
            keep.append(payload)
            continue
        link = links.get(key) or {}
        writes = finding["kind"] == DriftKind.DELETED or link.get("payload_hash") != payload.hash
        if not writes:
            keep.append(payload)  # the source did not change: nothing would be written over the edit
            continue
        what = "deleted" if finding["kind"] == DriftKind.DELETED else \
            f"edited ({', '.join(finding.get('fields') or []) or 'fields'})"
        held.reasons[key] = (f"{what} in QuickBooks by a person since the pipeline wrote it; held so the edit is "
                             f"not overwritten: `qbo-pipeline drift overwrite --entity {payload.entity} "
                             f"{payload.source_id}` to write the source's values")
    return keep, held

