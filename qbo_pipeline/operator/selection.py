"""Export selected records now: the path `qbo-pipeline sync` and `failed retry` share.

The selected source rows are extracted by id, together with every parent QuickBooks does
not have yet (an invoice's customer and items, a payment's invoices, a sub-customer's
parent), then validated, transformed and exported through the same stages and engine as a
full run, so a record exported this way is indistinguishable from one a run exported.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.entities import REGISTRY, for_table
from qbo_pipeline.sync import (
    FAMILIES,
    known_source_ids,
    open_company,
    reader_for,
    record_quarantine,
    transform_context,
    transform_valid,
    validate_frames,
)

log = logging.getLogger("qbo_pipeline.operator.selection")

SOURCE_ENTITY_FOR_QBO = {e.qbo_entity: e.name for e in REGISTRY}
# children before parents (the registry in reverse export order), so parents found on the way are read in a later pass
_PARENT_SCAN_ORDER = tuple(e.name for e in reversed(REGISTRY))
# source entity -> (table, column, the source entity that column points at)
_PARENT_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    e.name: tuple((r.table, r.column, r.entity) for r in e.references) for e in REGISTRY
}


class SelectionError(ValueError):
    """Selected ids the source does not have."""


@dataclass
class SelectedExport:
    """What exporting a selection did: the engine's report plus what never reached it."""

    requested: dict[str, list[str]]
    parents: dict[str, list[str]] = field(default_factory=dict)  # added because QBO lacks them
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    report: Any = None

    @property
    def failed(self) -> bool:
        counts = self.report.counts if self.report is not None else {}
        return bool(counts.get("failed") or counts.get("blocked") or self.quarantined or
                    (self.report is not None and self.report.status == "stopped"))

    def as_dict(self) -> dict[str, Any]:
        report = self.report.as_dict() if self.report is not None else None
        if report is not None:
            report.pop("plan", None)
        return {"requested": self.requested, "parents_added": self.parents, "quarantined": self.quarantined,
                "skipped": self.skipped, "report": report,
                "results": [r.as_dict() for r in self.report.results] if self.report is not None else []}


def _ids(frame: pd.DataFrame, column: str) -> set[str]:
    if frame is None or frame.empty or column not in frame:
        return set()
    return {str(v) for v in frame[column].dropna() if str(v)}


def collect_selection(reader: Any, wanted: Mapping[str, Iterable[str]], in_qbo: set[tuple[str, str]]
                      ) -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, pd.DataFrame]]:
    """The source ids to export (selected + parents QBO lacks), the parents added, and their frames.

    ``in_qbo`` holds ``(source entity, source id)`` of records QuickBooks already has.
    """
    selected = {entity: {str(i) for i in ids} for entity, ids in wanted.items() if ids}
    for entity in selected:
        if entity not in FAMILIES:
            raise SelectionError(f"unknown source entity {entity!r}")
    added: dict[str, set[str]] = {}
    frames: dict[str, pd.DataFrame] = {}
    read: dict[str, set[str]] = {}
    changed = True
    while changed:  # parents of parents (a sub-customer's parent, a refund's payment's invoices...)
        changed = False
        for entity in _PARENT_SCAN_ORDER:
            todo = selected.get(entity, set()) - read.get(entity, set())
            if not todo:
                continue
            for table in FAMILIES[entity]:
                part = reader.read(table, ids=sorted(todo))
                frames[table] = part if table not in frames else pd.concat([frames[table], part], ignore_index=True)
            read.setdefault(entity, set()).update(todo)
            changed = True
            found = _ids(frames[entity], "id")
            missing = todo - found
            if missing and entity in wanted and missing & {str(i) for i in wanted[entity]}:
                raise SelectionError(f"not in the source: {entity} {', '.join(sorted(missing))}")
            for table, column, parent in _PARENT_COLUMNS[entity]:
                key = "id" if table == entity else _parent_key(table)
                rows = frames[table][frames[table][key].astype(str).isin(todo)] if table in frames else None
                for parent_id in _ids(rows, column):
                    if (parent, parent_id) in in_qbo or parent_id in selected.get(parent, set()):
                        continue
                    selected.setdefault(parent, set()).add(parent_id)
                    added.setdefault(parent, set()).add(parent_id)
    return selected, added, frames


def _parent_key(table: str) -> str:
    child = for_table(table).child
    assert child is not None and child[0] == table, table
    return child[1]


def export_selected(config: PipelineConfig, company_key: str, wanted: Mapping[str, Iterable[str]], *,
                    dry_run: bool = False, reset_attempts: bool = False) -> SelectedExport:
    """Export these source records (``{"invoices": ["INV-1"], ...}``) and the parents QBO lacks, now."""
    from qbo_pipeline.ledger import Ledger

    requested = {entity: sorted({str(i) for i in ids}) for entity, ids in wanted.items() if ids}
    outcome = SelectedExport(requested=requested)
    ledger = Ledger(config.ledger.url)
    try:
        links = ledger.links(company_key)
    finally:
        ledger.dispose()
    in_qbo = {(SOURCE_ENTITY_FOR_QBO.get(entity, entity), source_id) for (entity, source_id), link in links.items()
              if link.get("qbo_id") and link.get("status") not in ("deleted", "voided")}
    with reader_for(config, company_key) as reader:
        selected, added, frames = collect_selection(reader, requested, in_qbo)
        known = known_source_ids(reader)
    outcome.parents = {entity: sorted(ids) for entity, ids in added.items()}
    entities = [e.name for e in REGISTRY if e.name in selected]
    validated = validate_frames(entities, frames, known, config)
    run_id = f"operator-{uuid.uuid4().hex[:12]}"
    for entity in entities:
        quarantine = validated[entity].quarantine
        if quarantine is not None and not quarantine.empty:
            record_quarantine(config, company_key, run_id, quarantine)
            for row in quarantine.drop_duplicates(["entity", "source_id", "reason"]).to_dict("records"):
                outcome.quarantined.append({"entity": row.get("entity"), "source_id": str(row.get("source_id")),
                                            "reason": row.get("reason")})
    context = transform_context(config, company_key, entities, validated=validated)
    transformed = transform_valid(entities, validated, config, **context)
    payloads = [p for entity in entities for p in transformed[entity].payloads]
    for entity in entities:
        skipped = transformed[entity].skipped
        if skipped is not None and len(skipped):
            for row in skipped.to_dict("records"):
                outcome.skipped.append({"entity": entity, "source_id": str(row.get("source_id")),
                                        "rule": row.get("rule"), "reason": row.get("reason")})
    if reset_attempts:  # an operator's retry gets the full number of attempts again
        _reset_attempts(config, company_key, payloads, links)
    log.info("exporting %d selected record(s) of company %s (%s)", len(payloads), company_key,
             ", ".join(f"{e} {len(selected[e])}" for e in entities))
    with open_company(config, company_key) as session:
        outcome.report = session.export(payloads, dry_run=dry_run, run_id=run_id)
    return outcome


def _reset_attempts(config: PipelineConfig, company_key: str, payloads: list[Any],
                    links: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
    from qbo_pipeline.ledger import Ledger

    updates = [{"entity": p.entity, "source_id": p.source_id, "attempts": 0}
               for p in payloads if (links.get((p.entity, p.source_id)) or {}).get("attempts")]
    if not updates:
        return
    ledger = Ledger(config.ledger.url)
    try:
        ledger.save_links(company_key, updates)
    finally:
        ledger.dispose()
