"""The stage API: one sync of one company, costing what changed.

``sync_company`` is the whole export of a company, the one the Dagster assets, the command
line and the benchmarks all call: extract -> validate -> transform -> plan -> export, in
**one engine run** (name lists, transactions, removals, deactivations last), then the
ledger's source cursor advances. ``pending_changes`` is the cheap question a sensor asks
every tick: did anything change in the source since that cursor?

Why incremental by change, not by transaction date: a working day touches a few records
spread over years of history. Reading by change time (``updated_at`` after the cursor)
reads those records and what they need (their customers and items, the invoices a changed
payment applies to, records the last run left failed), whatever dates they carry; a FULL
sync reads everything and still writes only what differs (the planner compares hashes).
An optional transaction-date ``window`` restricts a FULL sync for a historical backfill.

Nothing here imports Dagster: the orchestration layer only wires these calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.drift import HELD_RULE, DriftReport, detect_drift, hold_drifted, open_drift
from qbo_pipeline.entities import REGISTRY, Entity, EntityKind, by_qbo_entity, derive_records
from qbo_pipeline.entities import entity as lookup
from qbo_pipeline.export.engine import ExportEngine, ExportReport
from qbo_pipeline.export.planner import BLOCKED, CREATE, DEACTIVATE, DELETE, SKIP, UPDATE, VOID, Plan
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.qbo.auth import TokenVault
from qbo_pipeline.qbo.client import QboClient
from qbo_pipeline.qbo.errors import QboError
from qbo_pipeline.schemas import ValidationResult, quarantined_ids
from qbo_pipeline.schemas.currency import CurrencySettings, refuse_foreign_currencies
from qbo_pipeline.source.extract import SourceReader, empty_frame
from qbo_pipeline.sync import Window, reader_for, record_quarantine, transform_context
from qbo_pipeline.transform import TransformContext, TransformResult
from qbo_pipeline.transform.credit_memos import APPLY_PREFIX
from qbo_pipeline.transform.invoices import APPLY_NOTE_PREFIX
from qbo_pipeline.transform.payload import Payload
from qbo_pipeline.transform.product_names import is_derived
from qbo_pipeline.transform.rules import SKIPPED_COLUMNS
from qbo_pipeline.transform.sales_receipts import SUMMARY_PREFIX
from qbo_pipeline.transform.tips import TIP_PREFIX

log = logging.getLogger("qbo_pipeline.stages")

Cursor = dict[str, datetime | None]
"""Source watermarks by canonical parent table: the latest ``updated_at`` an export read up to."""
Fingerprints = dict[str, tuple[dict[str, str], set[str]]]
"""Per stamp-less canonical table: the new or changed content fingerprints a sync read, and the ids gone."""


class SyncMode(StrEnum):
    INCREMENTAL = "incremental"  # only what changed since the ledger's cursor (everything the first time)
    FULL = "full"  # everything (still no writes for unchanged records)


# -- the company session ------------------------------------------------------------------


class NotConnectedError(RuntimeError):
    """The company has no QuickBooks connection yet."""


@dataclass
class CompanySession:
    """An open connection to one company: ledger, token vault, QBO client and export engine."""

    config: PipelineConfig
    company_key: str
    ledger: Ledger
    vault: TokenVault
    client: QboClient
    engine: ExportEngine

    @property
    def company(self) -> Any:
        return self.config.company(self.company_key)

    def export(self, payloads: list[Payload], *, dry_run: bool = False, run_id: str | None = None,
               **planning: Any) -> ExportReport:
        return self.engine.export(payloads, dry_run=dry_run, run_id=run_id, **planning)

    def app_url(self, entity: str, qbo_id: str) -> str:
        """The "View in QuickBooks" link of a record (the sandbox's own pages in local mode)."""
        from qbo_pipeline.qbo.environments import app_url

        return app_url(self.company.environment, self.company.base_url, entity, qbo_id)


def open_vault(config: PipelineConfig, ledger: Ledger) -> TokenVault:
    """The token vault of this pipeline (key from QBO_PIPELINE_TOKEN_KEY, or a local key file in local mode)."""
    from qbo_pipeline.config import state_dir
    from qbo_pipeline.qbo.auth import load_key

    environment = "local" if all(c.environment == "local" for c in config.companies) else "production"
    key = load_key(environment=environment, state_dir=state_dir())
    return TokenVault(ledger, key, lock_dir=state_dir() / "locks")


@contextlib.contextmanager
def open_company(
    config: PipelineConfig,
    company_key: str,
    *,
    ledger: Ledger | None = None,
    client_secret: str | None = None,
    time_scale: float = 1.0,
) -> Iterator[CompanySession]:
    """Open vault, client and engine for one company (and the ledger, unless an open one is handed in:
    the caller then keeps it open for the whole run), and close what was opened here afterwards."""
    from qbo_pipeline.qbo.auth import OAuthApp
    from qbo_pipeline.qbo.environments import api_base_url
    from qbo_pipeline.qbo.limits import limiter_for

    company = config.company(company_key)
    own_ledger = ledger is None
    ledger = ledger if ledger is not None else Ledger(config.ledger.url)
    client = None
    try:
        vault = open_vault(config, ledger)
        app = OAuthApp.from_company(company, client_secret=client_secret)
        vault.register_app(company_key, app)
        realm_id = company.realm_id or vault.realm_id(company_key)
        if not realm_id:
            raise NotConnectedError(
                f"company {company_key!r} is not connected to QuickBooks: run `qbo-pipeline connect --company {company_key}`"
            )
        client = QboClient(
            api_base_url(company.environment, company.base_url),
            realm_id,
            vault.token_source(company),
            # one limiter per QBO company (realm) in this process: QBO counts per realm, so consecutive
            # runs and every client of that company share its windows
            limiter=limiter_for(str(realm_id), time_scale=time_scale),
            time_scale=time_scale,
        )
        engine = ExportEngine(client, ledger, config, company_key)
        yield CompanySession(config, company_key, ledger, vault, client, engine)
    finally:
        if client is not None:
            client.close()
        if own_ledger:
            ledger.dispose()


# -- what changed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingChanges:
    """What a sensor needs: which entities moved in the source since the ledger's cursor."""

    company: str
    cursor: Cursor | None  # None: no export finished yet
    watermarks: Cursor  # the source now
    changed: tuple[str, ...]  # registry entities whose watermark moved (all with data, without a cursor)

    @property
    def has_changes(self) -> bool:
        return bool(self.changed)

    @property
    def token(self) -> str:
        """Stable for one state of the source: a run key, so a tick evaluated twice starts one run."""
        text = json.dumps({k: v.isoformat() if v else None for k, v in sorted(self.watermarks.items())})
        return hashlib.sha256(f"{self.company}|{text}".encode()).hexdigest()[:16]


def source_watermarks(reader: SourceReader) -> Cursor:
    """The latest ``updated_at`` of every registry entity (its child table included)."""
    return {e.table: reader.watermark(e.name) for e in REGISTRY}


def _moved(spec: Entity, watermarks: Cursor, cursor: Cursor | None) -> bool:
    now = watermarks.get(spec.table)
    if now is None:
        return False
    if cursor is None or spec.table not in cursor:
        return True
    before = cursor[spec.table]
    return before is None or now > before


def pending_changes(config: PipelineConfig, company: str, ledger: Ledger) -> PendingChanges:
    """Did the company's source change since its last finished export? One max() query per table."""
    cursor = ledger.source_cursor(company)
    with reader_for(config, company) as reader:
        watermarks = source_watermarks(reader)
    changed = tuple(e.name for e in REGISTRY if _moved(e, watermarks, cursor))
    return PendingChanges(company, cursor, watermarks, changed)


def pending_changes_many(
    config: PipelineConfig, companies: list[str], ledger: Ledger
) -> dict[str, PendingChanges | Exception]:
    """:func:`pending_changes` of many companies (a sensor tick): each distinct source's watermarks are
    read once, so 1,000 companies of one billing database cost one set of max() queries plus one
    cursor read each. A company whose source cannot be read gets its exception, the others go on."""
    sources: dict[tuple[str, str], Cursor | Exception] = {}
    out: dict[str, PendingChanges | Exception] = {}
    for company in companies:
        try:
            source = config.company(company).source or config.source
            key = (source.url, repr(source.mapping))
            if key not in sources:
                try:
                    with reader_for(config, company) as reader:
                        sources[key] = source_watermarks(reader)
                except Exception as exc:  # noqa: BLE001 - reported per company by the caller
                    sources[key] = exc
            watermarks = sources[key]
            if isinstance(watermarks, Exception):
                raise watermarks
            cursor = ledger.source_cursor(company)
            out[company] = PendingChanges(company, cursor, watermarks,
                                          tuple(e.name for e in REGISTRY if _moved(e, watermarks, cursor)))
        except Exception as exc:  # noqa: BLE001
            out[company] = exc
    return out


# -- the sync -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncRequest:
    company: str
    mode: SyncMode = SyncMode.INCREMENTAL  # INCREMENTAL: only what changed since the ledger cursor
    window: Window | None = None  # optional transaction-date window (historical backfill)
    dry_run: bool = False
    run_id: str | None = None


@dataclass(frozen=True)
class EntityCounts:
    """One registry entity's source rows (parent table), every row in exactly one column."""

    read: int = 0
    quarantined: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # by rule or plan reason
    created: int = 0
    updated: int = 0  # linked to an existing QBO record counts here too
    unchanged: int = 0
    removed: int = 0  # voided or deleted
    deactivated: int = 0
    failed: int = 0
    blocked: int = 0
    not_attempted: int = 0  # the run stopped (QBO refused the connection) before it
    write_requests: int = 0
    derived: int = 0  # records made from other rows, not source rows (products of a name template) written

    @property
    def accounted(self) -> int:
        """Rows accounted for; equals ``read`` (the product's promise that no row disappears)."""
        return (self.quarantined + sum(self.skipped.values()) + self.created + self.updated + self.unchanged
                + self.removed + self.deactivated + self.failed + self.blocked + self.not_attempted)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "skipped": dict(self.skipped)}


@dataclass(frozen=True)
class SyncResult:
    company: str
    request: SyncRequest
    entities: dict[str, EntityCounts]
    cursor_before: Cursor | None
    cursor_after: Cursor | None  # None: not advanced (dry run, window, stopped)
    plan: Plan | None  # dry run: creates/updates with field diffs
    stage_seconds: dict[str, float]
    report: ExportReport
    validations: dict[str, ValidationResult] = field(default_factory=dict, repr=False)
    transforms: dict[str, TransformResult] = field(default_factory=dict, repr=False)
    still_needed: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    drift: DriftReport | None = None  # the run's CDC pass: records a person changed in QBO since (issue 14)

    @property
    def quarantine(self) -> pd.DataFrame:
        parts = [v.quarantine for v in self.validations.values() if v.quarantine is not None and len(v.quarantine)]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for counts in self.entities.values():
            for key, value in counts.as_dict().items():
                if key == "skipped":
                    out["skipped"] = out.get("skipped", 0) + sum(value.values())
                else:
                    out[key] = out.get(key, 0) + value
        return out


class _Timer:
    def __init__(self, progress: Callable[[str], None] | None) -> None:
        self.seconds: dict[str, float] = {}
        self.progress = progress

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - started

    def say(self, message: str) -> None:
        log.info(message)
        if self.progress is not None:
            self.progress(message)


def sync_company(
    config: PipelineConfig,
    request: SyncRequest,
    session: CompanySession,
    progress: Callable[[str], None] | None = None,
) -> SyncResult:
    """Export what changed in one company's source (see the module docstring) in one engine run."""
    company = request.company
    ledger = session.ledger
    run_id = request.run_id or f"sync-{uuid.uuid4().hex[:12]}"
    timer = _Timer(progress)
    cursor_before = ledger.source_cursor(company)
    with reader_for(config, company) as reader:
        with timer.stage("extract"):
            watermarks = source_watermarks(reader)  # before reading: a row written meanwhile is read next time
            fingerprints: Fingerprints = {}
            frames = extract_changes(reader, request, cursor_before, watermarks, ledger, fingerprints)
            complete_summary_days(reader, frames, config)
        timer.say(f"{company}: read " + ", ".join(f"{e.name} {_count(frames, e)}" for e in REGISTRY))
        with timer.stage("validate"):
            validations = validate_changes(config, frames)
            validations = refuse_foreign_currencies(validations, company_currencies(session), frames)
        with timer.stage("transform"):
            transforms = transform_changes(config, company, validations, ledger, reader)
        with timer.stage("drift"):
            drift = detect_drift(session, run_id=run_id)
            hold_drifted_records(company, ledger, transforms)
        payloads = [p for e in REGISTRY for p in transforms[e.name].payloads]
        with timer.stage("plan"):
            quarantined = parent_quarantine_reasons(company, validations, payloads, ledger)
            still_needed = names_still_needed(reader, request.window, payloads, ledger, company)
    if not request.dry_run:
        for result in validations.values():
            record_quarantine(config, company, run_id, result.quarantine, ledger=ledger)
    timer.say(f"{company}: {'planning' if request.dry_run else 'exporting'} {len(payloads)} payload(s) in one run")
    with timer.stage("export"):
        report = session.engine.export(payloads, dry_run=request.dry_run, run_id=run_id,
                                       quarantined=quarantined, skipped=skipped_by_rule(transforms),
                                       still_needed=still_needed)
    if not request.dry_run:
        written = {(r.entity, r.source_id) for r in report.results if r.outcome in ("created", "updated", "linked")}
        ledger.clear_drift(company, {(f["entity"], f["source_id"]) for f in ledger.drift(company, status="overwrite")}
                           & written)
    cursor_after = None
    if not request.dry_run and request.window is None and report.status != "stopped":
        ledger.advance_source_cursor(company, watermarks, run_id=run_id)
        for table, (prints, removed) in fingerprints.items():  # stamp-less tables: what this run exported
            ledger.save_fingerprints(company, table, prints, removed)
        cursor_after = watermarks
    counts = entity_counts(frames, validations, transforms, report)
    timer.say(f"{company}: export {report.status}: " + ", ".join(
        f"{k} {v}" for k, v in _sum(counts).items() if v and k not in ("read", "write_requests")))
    return SyncResult(company, request, counts, cursor_before, cursor_after, report.plan, timer.seconds, report,
                      validations, transforms, still_needed, drift)


def drift_of(result: SyncResult) -> DriftReport:
    """The run's drift pass (what the export's asset check asserts): a report whose ``passed`` is
    False while a person's QBO edit is held, or when QBO's change feed could not be read."""
    if result.drift is not None:
        return result.drift
    return DriftReport(result.company, None, None, error="no drift pass ran in this sync")


def company_findings(config: PipelineConfig, company: str) -> list[Any]:
    """The pre-flight findings of one company (``qbo-pipeline doctor``'s checks: connection, token
    expiry, the QBO settings an export needs), for the Dagster asset check ``qbo_company_preflight``."""
    from qbo_pipeline.company_checks import doctor_findings, gather_facts

    return doctor_findings(gather_facts(config, company), config)


def company_currencies(session: CompanySession) -> CurrencySettings:
    """The company's multicurrency setting and home currency, read once per run from its Preferences.
    An unreadable Preferences is assumed to allow what the source sends: QBO itself then refuses a
    foreign currency record by record (and an auth failure stops the export run as it always does)."""
    home = session.config.options.home_currency
    try:
        return CurrencySettings.from_preferences(session.client.preferences(), home)
    except QboError as exc:
        log.warning("%s: reading Preferences failed (%s); foreign currencies are not checked up front",
                    session.company_key, exc)
        return CurrencySettings(True, home)


def hold_drifted_records(company: str, ledger: Ledger, transforms: Mapping[str, TransformResult]) -> None:
    """Take the payloads a person's QBO edit holds (open drift) out of this run, as rows skipped by the
    rule ``drift_held`` of the entity that built them."""
    payloads = [p for result in transforms.values() for p in result.payloads]
    _, held = hold_drifted(company, ledger, payloads)
    if not held.reasons:
        return
    for name, result in transforms.items():
        out = [p for p in result.payloads if (p.entity, p.source_id) in held.reasons]
        if not out:
            continue
        result.payloads = [p for p in result.payloads if (p.entity, p.source_id) not in held.reasons]
        rows = pd.DataFrame([(name, p.source_id, HELD_RULE, held.reasons[(p.entity, p.source_id)]) for p in out],
                            columns=SKIPPED_COLUMNS)
        result.skipped = pd.concat([result.skipped, rows], ignore_index=True) if len(result.skipped) else rows


def _count(frames: Mapping[str, pd.DataFrame], spec: Entity) -> int:
    frame = frames.get(spec.table)
    return 0 if frame is None else int(frame["id"].nunique())


def _sum(counts: Mapping[str, EntityCounts]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in counts.values():
        for key, value in c.as_dict().items():
            out[key] = out.get(key, 0) + (sum(value.values()) if isinstance(value, dict) else value)
    return out


# -- extract ------------------------------------------------------------------------------


def extract_changes(
    reader: SourceReader,
    request: SyncRequest,
    cursor: Cursor | None,
    watermarks: Cursor,
    ledger: Ledger,
    fingerprints: Fingerprints | None = None,
) -> dict[str, pd.DataFrame]:
    """The canonical frames of this sync: the changed rows (all rows in FULL mode or without a
    cursor; transactions within ``request.window`` when given), the records the last exports
    left unsettled, and, transitively, every record they point at. The content fingerprints of
    stamp-less tables that this read found new or changed go to ``fingerprints`` (saved by the
    caller once the export finished, like the cursor)."""
    incremental = request.mode is SyncMode.INCREMENTAL and cursor is not None
    window = request.window.as_reader_window() if request.window else None
    frames: dict[str, pd.DataFrame] = {}
    for spec in REGISTRY:
        dated = window if spec.kind is EntityKind.TRANSACTION else None
        stampless = any(not reader.stamped(t) for t in spec.tables)
        if incremental and not stampless and not _moved(spec, watermarks, cursor):
            frames.update({table: empty_frame(table) for table in spec.tables})
        else:
            since = (cursor.get(spec.table) or datetime.min) if incremental and cursor is not None else None
            frames.update(_read_changed(reader, spec, since, dated, ledger=ledger, company=request.company,
                                        fingerprints=fingerprints))
    if incremental:
        by_qbo = by_qbo_entity()
        unsettled = {by_qbo[e].name: ids for e, ids in ledger.unsettled(request.company).items() if e in by_qbo}
        for finding in ledger.drift(request.company):  # held by a person's QBO edit: read until settled
            if finding["entity"] in by_qbo:
                unsettled.setdefault(by_qbo[finding["entity"]].name, set()).add(finding["source_id"])
        _add_by_ids(reader, frames, unsettled)
    _add_referenced(reader, frames, frames)
    return frames


def complete_summary_days(reader: SourceReader, frames: dict[str, pd.DataFrame], config: PipelineConfig) -> None:
    """A summarised entity's day is rebuilt whole: read every row of each day a changed row is on
    (and what they point at), so an incremental run never writes a summary of part of a day."""
    for name, mode in config.options.summarize.items():
        spec = lookup(name)
        frame = frames.get(spec.table)
        if mode != "daily" or frame is None or frame.empty:
            continue
        days = {d.date() for d in pd.to_datetime(frame[spec.txn_date]).dropna()}
        if not days:
            continue
        window = (min(days), max(days) + timedelta(days=1))
        whole = reader.read(spec.table, window=window)
        dated = pd.to_datetime(whole[spec.txn_date])
        whole = whole[dated.dt.date.isin(days).to_numpy()]
        missing = sorted(set(whole["id"].astype(str)) - _ids(frame))
        if missing:
            _add_referenced(reader, frames, _add_by_ids(reader, frames, {name: set(missing)}))


def _read_changed(reader: SourceReader, spec: Entity, since: datetime | None,
                  window: tuple[Any, Any] | None, *, ledger: Ledger | None = None, company: str | None = None,
                  fingerprints: Fingerprints | None = None) -> dict[str, pd.DataFrame]:
    """The entity's rows changed after ``since`` (None: all) within ``window``, children complete.

    The one place that decides how change is detected: by ``updated_at`` (the source layer's
    watermark reads) for stamped tables; a table mapped with ``watermark: none`` by its rows'
    content fingerprints against those the ledger kept (``SourceReader.changed_rows``), so a
    stamp-less table stays incremental. A date window (a backfill) reads its rows whole.
    """
    stampless = [t for t in spec.tables if not reader.stamped(t)]
    if not stampless or window is not None or ledger is None or company is None:
        return {table: reader.read(table, since=since, window=window) for table in spec.tables}
    known = {table: ledger.fingerprints(company, table) for table in stampless}
    changed = reader.changed_rows(spec.table, since, known)
    if fingerprints is not None:
        for table in stampless:
            fingerprints[table] = (changed.fingerprints.get(table, {}), changed.removed.get(table, set()))
    frames = {spec.table: changed.rows}
    if spec.child is not None:
        child = spec.child[0]
        frames[child] = changed.children if changed.children is not None else empty_frame(child)
    return frames


def _ids(frame: pd.DataFrame | None, column: str = "id") -> set[str]:
    if frame is None or frame.empty or column not in frame:
        return set()
    return {str(v) for v in frame[column].dropna() if str(v)}


def _add_by_ids(reader: SourceReader, frames: dict[str, pd.DataFrame], wanted: Mapping[str, set[str]]
                ) -> dict[str, pd.DataFrame]:
    """Read these records (with their children) unless the frames already hold them; returns what was new."""
    new: dict[str, pd.DataFrame] = {}
    for name, ids in wanted.items():
        spec = lookup(name)
        todo = sorted(set(ids) - _ids(frames.get(spec.table)))
        if not todo:
            continue
        for table in spec.tables:
            part = reader.read(table, ids=todo)
            new[table] = part
            frames[table] = part if frames.get(table) is None or frames[table].empty else \
                pd.concat([frames[table], part], ignore_index=True)
    return new


def _add_referenced(reader: SourceReader, frames: dict[str, pd.DataFrame], new: Mapping[str, pd.DataFrame]) -> None:
    """Add every record the ``new`` rows point at (customers, items, invoices, payments), until
    nothing new is found: a sub-customer's parent, a refund's payment's invoices and their items."""
    while new:
        wanted: dict[str, set[str]] = {}
        for spec in REGISTRY:
            for ref in spec.references:
                if ref.table in new:
                    wanted.setdefault(ref.entity, set()).update(_ids(new[ref.table], ref.column))
        new = _add_by_ids(reader, frames, wanted)


# -- validate and transform ---------------------------------------------------------------


def validate_changes(config: PipelineConfig, frames: Mapping[str, pd.DataFrame]) -> dict[str, ValidationResult]:
    """Validate each entity's rows. Every record a row points at was read (or is not in the
    source), so the ids in the frames are the known ids of the reference checks."""
    known = {spec.name: _ids(frames.get(spec.table)) for spec in REGISTRY}
    customers = frames.get("customers")
    currencies: dict[str, str | None] = {}
    if customers is not None and not customers.empty:
        currencies = {str(k): (v if isinstance(v, str) else None)
                      for k, v in zip(customers["id"], customers["currency"], strict=True)}
    results = {}
    for spec in REGISTRY:
        family = {table: frames[table] for table in spec.tables}
        results[spec.name] = spec.validate(family, known_ids=known, config=config, customer_currencies=currencies)
    return results


def transform_changes(config: PipelineConfig, company: str, validations: Mapping[str, ValidationResult],
                      ledger: Ledger, reader: SourceReader) -> dict[str, TransformResult]:
    """QBO payloads for every valid row (or the named rule that skips it), and for the records the
    registry derives from them (a product per filled name template, its lines pointed at it)."""
    names = [spec.name for spec in REGISTRY]
    derive_records({name: result.valid for name, result in validations.items()}, config)
    values = transform_context(config, company, names, validated=dict(validations), ledger=ledger, reader=reader)
    context = TransformContext(**values)
    return {spec.name: spec.build_payloads(validations[spec.name].valid, config, context) for spec in REGISTRY}


def source_payloads(config: PipelineConfig, company: str, ledger: Ledger, *,
                    transactions: Window | None) -> list[Payload]:
    """The payloads a sync would build now from the whole name lists and the transactions dated in
    ``transactions`` (None: no transactions), with every record they point at and the records a
    person's QBO edit holds left out: what ``qbo-pipeline status`` plans against the ledger to say
    what needs sync, at a cost bounded by the date window."""
    window = transactions.as_reader_window() if transactions is not None else None
    with reader_for(config, company) as reader:
        frames: dict[str, pd.DataFrame] = {}
        for spec in REGISTRY:
            if spec.kind is EntityKind.TRANSACTION and transactions is None:
                frames.update({table: empty_frame(table) for table in spec.tables})
            else:
                dated = window if spec.kind is EntityKind.TRANSACTION else None
                frames.update(_read_changed(reader, spec, None, dated))
        _add_referenced(reader, frames, frames)
        validations = validate_changes(config, frames)
        transforms = transform_changes(config, company, validations, ledger, reader)
    hold_drifted_records(company, ledger, transforms)
    return [p for spec in REGISTRY for p in transforms[spec.name].payloads]


# -- planning facts -------------------------------------------------------------------------


def skipped_by_rule(transforms: Mapping[str, TransformResult]) -> dict[tuple[str, str], str]:
    """``(QBO entity, source id)`` -> rule of the rows a named rule kept out of this run, so the
    records that point at them are skipped by ``parent_skipped`` instead of blocked."""
    out: dict[tuple[str, str], str] = {}
    for name, result in transforms.items():
        rows = result.skipped
        if rows is None or not len(rows):
            continue
        qbo_entity = lookup(name).qbo_entity
        for source_id, rule in zip(rows["source_id"], rows["rule"], strict=True):
            out.setdefault((qbo_entity, str(source_id)), str(rule))
    return out


def parent_quarantine_reasons(company: str, validations: Mapping[str, ValidationResult], payloads: list[Payload],
                              ledger: Ledger) -> dict[tuple[str, str], str]:
    """``(QBO entity, source id)`` -> quarantine reason for the parents of this run's records that
    are quarantined (in this run, else by an earlier one), so blocked records name the real cause."""
    reasons: dict[tuple[str, str], str] = {}
    for name, result in validations.items():
        q = result.quarantine
        if q is None or q.empty:
            continue
        qbo_entity = lookup(name).qbo_entity
        for row in q[q["entity"] == name].drop_duplicates("source_id").to_dict("records"):
            reasons[(qbo_entity, str(row["source_id"]))] = str(row["reason"])
    by_qbo = by_qbo_entity()
    present = {(p.entity, p.source_id) for p in payloads}
    missing = {parent for p in payloads for parent in p.depends_on if parent[0] in by_qbo} - present - set(reasons)
    if missing:
        linked = ledger.links_for(company, missing)
        absent = [(by_qbo[e].name, sid) for e, sid in missing if not (linked.get((e, sid)) or {}).get("qbo_id")]
        for (name, source_id), reason in ledger.quarantine_reasons(company, absent).items():
            reasons[(lookup(name).qbo_entity, source_id)] = reason
    return reasons


def names_still_needed(reader: SourceReader, window: Window | None, payloads: list[Payload], ledger: Ledger,
                       company: str) -> dict[tuple[str, str], str]:
    """Names this run would deactivate that a later source transaction (dated at or after the
    window's end, not in QBO yet) still points at: their deactivation waits for that transaction.

    Only a windowed sync can leave later transactions for later runs; without a window every
    transaction that needs a name was read (or is settled), so nothing waits.
    """
    if window is None or window.open_end:
        return {}
    names = {(p.entity, p.source_id) for p in payloads if p.action == "deactivate"}
    if not names:
        return {}
    later: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for spec in REGISTRY:
        if spec.kind is not EntityKind.TRANSACTION:
            continue
        for ref in spec.references:
            target = lookup(ref.entity)
            wanted = [sid for (e, sid) in names if e == target.qbo_entity]
            if target.kind is not EntityKind.NAME_LIST or not wanted:
                continue
            rows = reader.read_where(ref.table, ref.column, wanted)
            if rows.empty:
                continue
            parent_ids = rows["id"] if ref.table == spec.table else rows[spec.child[1]]
            pairs = {(str(pid), str(name)) for pid, name in zip(parent_ids, rows[ref.column], strict=True)}
            heads = reader.read(spec.table, ids=sorted({pid for pid, _ in pairs}))
            dates = dict(zip(heads["id"].astype(str), heads[spec.txn_date], strict=True))
            for pid, name in pairs:
                when = dates.get(pid)
                if when is not None and not pd.isna(when) and pd.Timestamp(when).date() >= window.end:
                    later.setdefault((target.qbo_entity, name), set()).add((spec.qbo_entity, pid))
    if not later:
        return {}
    exported = ledger.links_for(company, {t for ts in later.values() for t in ts})
    out: dict[tuple[str, str], str] = {}
    for name, transactions in later.items():
        waiting = sorted(t for t in transactions if not (exported.get(t) or {}).get("qbo_id"))
        if waiting:
            shown = ", ".join(f"{e} {sid}" for e, sid in waiting[:3]) + (" ..." if len(waiting) > 3 else "")
            out[name] = f"{len(waiting)} later source transaction(s) not in QBO yet ({shown})"
    return out


# -- accounting -----------------------------------------------------------------------------

_OUTCOME_COLUMN = {"created": "created", "updated": "updated", "linked": "updated", "deactivated": "deactivated",
                   "voided": "removed", "deleted": "removed", "failed": "failed", "blocked": "blocked",
                   "not_attempted": "not_attempted"}
_PLANNED_COLUMN = {CREATE: "created", UPDATE: "updated", DEACTIVATE: "deactivated", VOID: "removed",
                   DELETE: "removed", BLOCKED: "blocked"}


def _skip_column(reason: str) -> str | None:
    """None when a skip means "unchanged" (nothing to do in QBO), else the reason's short name."""
    if reason == "unchanged" or reason.startswith("already "):
        return None
    return reason.split(":")[0].split(" (")[0].split(";")[0].strip() or "skipped"


_UNFINISHED = ("failed", "blocked")
_COMPANIONS = (TIP_PREFIX, APPLY_PREFIX, APPLY_NOTE_PREFIX)


def _row_columns(transformed: TransformResult,
                 final: Mapping[tuple[str, str], tuple[str, str | None]]) -> dict[str, tuple[str, str | None]]:
    """Where each source row of one entity's payloads ended, companions and summaries included.

    A row is exported only if every document it made was: a payment whose tip receipt or a credit
    whose applying payment failed counts as failed (the run exits 1), and each order of a daily
    summary ends where its summary did (created, failed, ...), not as a mere skip.
    """
    rows: dict[str, tuple[str, str | None]] = {}
    companions: list[tuple[str, tuple[str, str | None]]] = []
    summaries: dict[str, tuple[str, str | None]] = {}
    for payload in transformed.payloads:
        if is_derived(payload.source_id):
            continue
        where = final.get((payload.entity, payload.source_id), ("unchanged", None))
        if payload.source_id.startswith(SUMMARY_PREFIX):
            summaries[payload.source_id] = where
        elif payload.source_id.startswith(_COMPANIONS):
            companions.append((payload.source_id.split(":", 1)[1], where))
        else:
            rows[payload.source_id] = where
    normalised = transformed.normalisations
    if summaries and normalised is not None and len(normalised):
        members = normalised[normalised["rule"] == "summarised"]
        for order_id, summary_id in zip(members["source_id"], members["value"], strict=True):
            if summary_id in summaries:
                rows[str(order_id)] = summaries[summary_id]
    for parent, where in companions:
        if where[0] in _UNFINISHED and rows.get(parent, ("", None))[0] not in _UNFINISHED:
            rows[parent if parent in rows else f"companion of {parent}"] = where
    return rows


def entity_counts(frames: Mapping[str, pd.DataFrame], validations: Mapping[str, ValidationResult],
                  transforms: Mapping[str, TransformResult], report: ExportReport) -> dict[str, EntityCounts]:
    """Per registry entity, where each source row read ended (one column per row)."""
    final: dict[tuple[str, str], tuple[str, str | None]] = {}  # key -> (column, skip reason)
    for step in report.plan.steps if report.plan else []:
        if step.action == SKIP:
            reason = _skip_column(step.reason)
            final[step.key] = ("unchanged", None) if reason is None else ("skipped", reason)
        else:
            final[step.key] = (_PLANNED_COLUMN.get(step.action, step.action), None)
    for key, why in report.skipped_steps.items():
        if key not in final:
            reason = _skip_column(why)
            final[key] = ("unchanged", None) if reason is None else ("skipped", reason)
    for result in report.results:
        key = (result.entity, result.source_id)
        if result.outcome == "skipped":
            reason = _skip_column(result.message or "skipped")
            final[key] = ("skipped", reason or "skipped")
        else:
            final[key] = (_OUTCOME_COLUMN.get(result.outcome, result.outcome), None)
    out: dict[str, EntityCounts] = {}
    for spec in REGISTRY:
        values: dict[str, Any] = {"read": _count(frames, spec), "skipped": {}}
        values["quarantined"] = len(quarantined_ids(validations[spec.name]))
        rows = _row_columns(transforms[spec.name], final)
        skipped_rows = transforms[spec.name].skipped
        if skipped_rows is not None and len(skipped_rows):
            skipped_rows = skipped_rows[~skipped_rows["source_id"].isin(rows.keys())]
            for rule, n in skipped_rows.drop_duplicates("source_id")["rule"].value_counts().items():
                values["skipped"][str(rule)] = int(n)
        for payload in transforms[spec.name].payloads:
            if is_derived(payload.source_id):  # not a source row: counted apart when written
                column, _ = final.get((payload.entity, payload.source_id), ("unchanged", None))
                values["derived"] = values.get("derived", 0) + (column in ("created", "updated"))
        for column, reason in rows.values():
            if column == "skipped":
                values["skipped"][reason or "skipped"] = values["skipped"].get(reason or "skipped", 0) + 1
            else:
                values[column] = values.get(column, 0) + 1
        values["write_requests"] = report.write_requests_by_entity.get(spec.qbo_entity, 0)
        out[spec.name] = EntityCounts(**values)
    return out


__all__ = [
    "CompanySession",
    "Cursor",
    "EntityCounts",
    "NotConnectedError",
    "PendingChanges",
    "SyncMode",
    "SyncRequest",
    "SyncResult",
    "Window",
    "company_findings",
    "drift_of",
    "entity_counts",
    "extract_changes",
    "names_still_needed",
    "open_company",
    "open_drift",
    "open_vault",
    "pending_changes",
    "source_payloads",
    "source_watermarks",
    "sync_company",
    "transform_changes",
    "validate_changes",
]
