"""TEMPORARY: the stage API of the brief (entities.REGISTRY, stages.sync_company) over today's sync.py.

Lets the Dagster layer be written against the contract before core12's ``stages.py`` lands;
deleted when it does. Every run reads the whole source (no change-driven extraction here).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from qbo_pipeline import sync
from qbo_pipeline.export.lifecycle import split_deactivations


class SyncMode(StrEnum):
    INCREMENTAL = "incremental"
    FULL = "full"


@dataclass(frozen=True)
class Entity:
    name: str
    asset_name: str
    qbo_entity: str
    depends_on: tuple[str, ...] = ()


REGISTRY = (
    Entity("customers", "qbo_customers", "Customer"),
    Entity("products", "qbo_items", "Item"),
    Entity("invoices", "qbo_invoices", "Invoice", ("customers", "products")),
    Entity("credits", "qbo_credit_memos", "CreditMemo", ("invoices",)),
    Entity("payments", "qbo_payments", "Payment", ("invoices", "credits")),
    Entity("refunds", "qbo_refund_receipts", "RefundReceipt", ("payments",)),
)
Window = sync.Window
CompanySession = sync.CompanySession
open_company = sync.open_company


@dataclass(frozen=True)
class SyncRequest:
    company: str
    mode: SyncMode = SyncMode.INCREMENTAL
    window: Any = None
    dry_run: bool = False
    run_id: str | None = None


@dataclass(frozen=True)
class EntityCounts:
    read: int = 0
    quarantined: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    deactivated: int = 0
    failed: int = 0
    blocked: int = 0
    write_requests: int = 0


@dataclass(frozen=True)
class PendingChanges:
    company: str
    cursor: str | None
    source_cursor: str

    @property
    def has_changes(self) -> bool:
        return self.cursor != self.source_cursor


@dataclass(frozen=True)
class SyncResult:
    company: str
    request: SyncRequest
    entities: dict[str, EntityCounts]
    cursor_before: str | None
    cursor_after: str | None
    plan: Any
    stage_seconds: dict[str, float]
    report: Any


def _source_cursor(config: Any, company: str) -> str:
    with sync.reader_for(config, company) as reader:
        marks = {e.name: reader.watermark(e.name) for e in REGISTRY}
    text = json.dumps({k: v.isoformat() if v else None for k, v in marks.items()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _ledger_cursor(ledger: Any, company: str) -> str | None:
    for report in ledger.reports(company, limit=50):
        body = report.get("report") or {}
        if body.get("kind") == "adapter_cursor":
            return body["cursor"]
    return None


def pending_changes(config: Any, company: str, ledger: Any) -> PendingChanges:
    return PendingChanges(company, _ledger_cursor(ledger, company), _source_cursor(config, company))


def sync_company(config: Any, request: SyncRequest, session: Any, progress: Callable[[str], None] | None = None) -> SyncResult:
    say = progress or (lambda _m: None)
    seconds: dict[str, float] = {}
    company = request.company
    before = _ledger_cursor(session.ledger, company)
    after = _source_cursor(config, company)
    names = [e.name for e in REGISTRY]
    started = time.monotonic()
    with sync.reader_for(config, company) as reader:
        frames = sync.extract_frames(reader, names, request.window)
        known = sync.known_source_ids(reader)
        currencies = sync.customer_currencies(reader)
        seconds["extract"] = time.monotonic() - started
        say(f"extract: {sum(len(f) for f in frames.values())} rows")
        started = time.monotonic()
        validated = sync.validate_frames(names, frames, known, config, currencies=currencies)
        for result in validated.values():
            sync.record_quarantine(config, company, request.run_id or "", result.quarantine)
        seconds["validate"] = time.monotonic() - started
        say("validate: " + ", ".join(f"{n} {len(v.quarantine)} quarantined" for n, v in validated.items()))
        started = time.monotonic()
        values = sync.transform_context(config, company, names, validated=validated)
        transformed = sync.transform_valid(names, validated, config, **values)
        seconds["transform"] = time.monotonic() - started
        payloads = []
        at_end = []
        for name in names:
            found = transformed[name].payloads
            if name in ("customers", "products"):
                entity = "Customer" if name == "customers" else "Item"
                now, later = split_deactivations(
                    found, session.ledger.links(company, entity), needed=lambda: sync.referenced_names(reader)
                )
                payloads += now
                sent = {(p.entity, p.source_id) for p in now}
                at_end += [p for p in later if (p.entity, p.source_id) not in sent]
            else:
                payloads += found
    say(f"transform: {len(payloads) + len(at_end)} payloads")
    started = time.monotonic()
    report = session.export(payloads + at_end, dry_run=request.dry_run, run_id=request.run_id)
    seconds["export"] = time.monotonic() - started
    say(f"export: {report.status}, {report.write_requests} write requests")
    by_entity: dict[str, dict[str, int]] = {}
    for record in report.results:
        by_entity.setdefault(record.entity, {}).setdefault(record.outcome, 0)
        by_entity[record.entity][record.outcome] += 1
    entities = {}
    for e in REGISTRY:
        outcomes = by_entity.get(e.qbo_entity, {})
        tables = [t for t in frames if t == e.name]
        read = sum(len(frames[t]) for t in tables)
        quarantined = len(validated[e.name].quarantine)
        skipped_rows = transformed[e.name].skipped
        skipped = skipped_rows["rule"].value_counts().to_dict() if "rule" in skipped_rows else {}
        touched = sum(outcomes.get(k, 0) for k in ("created", "updated", "failed", "blocked", "deactivated", "voided", "deleted"))
        entities[e.name] = EntityCounts(
            read=read, quarantined=quarantined, skipped={str(k): int(v) for k, v in skipped.items()},
            created=outcomes.get("created", 0), updated=outcomes.get("updated", 0),
            unchanged=max(0, read - quarantined - sum(skipped.values()) - touched),
            removed=outcomes.get("voided", 0) + outcomes.get("deleted", 0), deactivated=outcomes.get("deactivated", 0),
            failed=outcomes.get("failed", 0), blocked=outcomes.get("blocked", 0),
        )
    if not request.dry_run and report.status in ("ok", "partial"):
        session.ledger.save_report(company, f"cursor:{request.run_id}", {"kind": "adapter_cursor", "cursor": after})
    return SyncResult(company, request, entities, before, after, report.plan, seconds, report)
