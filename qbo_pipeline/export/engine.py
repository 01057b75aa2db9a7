"""The export engine: carry out a plan against one QBO company, exactly once.

For each wave of the plan (see ``planner``) the engine resolves placeholders, looks up
records that may already exist in QBO (an established company, or a create whose answer
was lost), then writes in batches of up to 30 alongside single requests, as many at a
time as the company's limiter allows. Before any write its request id goes into the
ledger's outbox; retries reuse it, so QBO replays instead of writing twice. Results go
back to the ledger in the same step: link, SyncToken, payload hash, status, error.

Policies per QBO answer (see docs/export.md): 5010 read again and retry once; 6240 link
the same-named record or rename deterministically; 6000 "one name at a time", 429 and 5xx
retried with backoff; closed period skipped with a hint; auth stops the run and marks the
connection; anything else fails that record with QBO's message and a hint.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from qbo_pipeline.export import planner as planning
from qbo_pipeline.export import policies
from qbo_pipeline.export.ownership import NUMBER_TAKEN, is_ours, refusal_hint
from qbo_pipeline.export.planner import (
    BLOCKED,
    CREATE,
    DEACTIVATE,
    DELETE,
    KEPT_ACTIVE,
    SKIP,
    UPDATE,
    VOID,
    Plan,
    Step,
)
from qbo_pipeline.export.policies import Retry, Settle
from qbo_pipeline.export.refs import NamedRefs, UnresolvedRef, named_refs_with_fields
from qbo_pipeline.ledger import Ledger, utcnow
from qbo_pipeline.qbo import redact
from qbo_pipeline.qbo.client import QboClient
from qbo_pipeline.qbo.errors import (
    AuthError,
    ClosedPeriodError,
    QboError,
    ThrottleError,
    TransientError,
    fault_from_body,
)
from qbo_pipeline.states import OUTCOME_OF, STATUS_OF, LinkStatus, Outcome, RunStatus
from qbo_pipeline.transform.payload import Payload, resolve_refs

log = logging.getLogger("qbo_pipeline.export")
redact.install("qbo_pipeline.export")

NAME_FIELD = {"Customer": "DisplayName", "Item": "Name", "Account": "Name"}
NAME_LIMIT = {"Customer": 500, "Item": 100, "Account": 100}
LOOKUP_CHUNK = 500  # values per lookup query; with MAXRESULTS 1000 a value may match twice

COUNT_KEYS = tuple(o.value for o in Outcome)
_KEEP_STATUS = "keep"  # _finish: the link's status becomes the outcome (None: the link is not touched)


@dataclass
class RecordResult:
    """What happened to one record in a run."""

    entity: str
    source_id: str
    action: str
    outcome: str  # created | updated | linked | skipped | failed | blocked | deactivated | voided | deleted | not_attempted
    qbo_id: str | None = None
    error_code: str | None = None
    message: str | None = None
    hint: str | None = None
    intuit_tid: str | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        # plain strings once they leave the engine: Dagster's serialiser refuses enums in metadata
        self.action, self.outcome = str(self.action), str(self.outcome)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ExportReport:
    """Counts, per-record results and cost of one export run."""

    run_id: str
    company: str
    dry_run: bool
    status: str = RunStatus.OK.value  # a RunStatus value
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    results: list[RecordResult] = field(default_factory=list)
    write_requests: int = 0
    requests: int = 0
    records_written: int = 0
    seconds: float = 0.0
    plan: Plan | None = None
    message: str | None = None
    created_refs: list[tuple[str, str, str]] = field(default_factory=list)
    write_requests_by_entity: dict[str, int] = field(default_factory=dict)  # QBO entity -> write requests
    skipped_steps: dict[tuple[str, str], str] = field(default_factory=dict)  # record -> why the plan skips it

    @property
    def writes_per_minute(self) -> float:
        return self.records_written / self.seconds * 60 if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "company": self.company, "dry_run": self.dry_run, "status": self.status,
            "counts": dict(self.counts), "write_requests": self.write_requests, "requests": self.requests,
            "records_written": self.records_written, "seconds": round(self.seconds, 3), "message": self.message,
            "failed": [r.as_dict() for r in self.results if r.outcome in (Outcome.FAILED, Outcome.BLOCKED)][:200],
            "plan": [s.as_dict() for s in self.plan.steps] if self.plan else None,
        }


class ExportStopped(AuthError):
    """The run stopped because QBO refused the connection; ``report`` holds what was done."""

    def __init__(self, cause: AuthError, report: ExportReport) -> None:
        super().__init__(cause.message, code=cause.code, detail=cause.detail, intuit_tid=cause.intuit_tid,
                         status=cause.status)
        self.kind, self.hint, self.report, self.cause = cause.kind, cause.hint, report, cause


SYNC_TOKEN_CHUNK = 500  # ids per query when reading current SyncTokens


class _Stop(Exception):
    pass


def _value(record: dict[str, Any], field_name: str) -> str | None:
    value = record.get(field_name)
    if isinstance(value, dict):
        value = value.get("Address") or value.get("FreeFormNumber") or value.get("value")
    return str(value).strip().lower() if value not in (None, "") else None


class ExportEngine:
    """Exports payloads into one QBO company (``company_key``) and records everything in the ledger."""

    def __init__(self, client: QboClient, ledger: Ledger, config: Any, company_key: str, *,
                 logger: logging.Logger | None = None, workers: int | None = None) -> None:
        self.client = client
        self.ledger = ledger
        self.config = config
        self.company = company_key
        self.log = logger or log
        export_cfg = getattr(config, "export", None)
        self.batch_size = getattr(export_cfg, "batch_size", 30)
        self.use_batches = getattr(export_cfg, "use_batches", True)
        self.closed_period = getattr(export_cfg, "closed_period", "skip")
        self.max_attempts = getattr(export_cfg, "max_attempts", 5)
        options = getattr(config, "options", None)
        self.name_max = getattr(options, "name_max_length", 100)
        limiter = client.limiter
        self.workers = workers or (limiter.limits.concurrent if limiter else 4)
        self._lock = threading.Lock()
        self._links: dict[tuple[str, str], dict[str, Any]] = {}
        self._stop = threading.Event()
        self._stop_error: AuthError | None = None
        self._quarantined: dict[tuple[str, str], str] = {}
        self._skipped: dict[tuple[str, str], str] = {}
        self._still_needed: dict[tuple[str, str], str] = {}

    # -- public ---------------------------------------------------------------------------

    def export(self, payloads: list[Payload], *, dry_run: bool = False, run_id: str | None = None,
               quarantined: Mapping[tuple[str, str], str] | None = None,
               skipped: Mapping[tuple[str, str], str] | None = None,
               still_needed: Mapping[tuple[str, str], str] | None = None) -> ExportReport:
        """Plan and (unless ``dry_run``) execute; returns the report, raises ``ExportStopped`` on auth failure.

        One call exports everything of a company in dependency order (name lists, transactions,
        removals, deactivations last). ``quarantined``, ``skipped`` and ``still_needed`` go to the planner
        (see ``planner.plan``)."""
        run_id = run_id or uuid.uuid4().hex
        self._quarantined = dict(quarantined or {})
        self._skipped = dict(skipped or {})
        self._still_needed = dict(still_needed or {})
        report = ExportReport(run_id=run_id, company=self.company, dry_run=dry_run)
        started = time.monotonic()
        with self.ledger.export_locked(self.company, owner=f"run {run_id}"):
            self.ledger.start_run(self.company, run_id, dry_run=dry_run)
            try:
                self._run(payloads, report, dry_run)
            except AuthError as exc:  # before any write (reading preferences, lists): nothing was attempted
                self._halt(exc)
                handled = len(report.results) + report.counts.get(Outcome.SKIPPED, 0)
                report.counts[Outcome.NOT_ATTEMPTED] += max(0, len(payloads) - handled)
            except BaseException as exc:
                report.seconds = time.monotonic() - started
                report.status = RunStatus.STOPPED.value
                report.message = redact.redact(str(exc))
                self.ledger.finish_run(run_id, status=RunStatus.STOPPED.value, counts=report.counts,
                                       write_requests=report.write_requests, message=report.message)
                raise
            report.seconds = time.monotonic() - started
            if self._stop_error is not None:
                report.status = RunStatus.STOPPED.value
                report.message = f"stopped: {self._stop_error.describe()} — {self._stop_error.hint}"
            elif report.counts[Outcome.FAILED] or report.counts[Outcome.BLOCKED]:
                report.status = RunStatus.PARTIAL.value
            self.ledger.finish_run(run_id, status=report.status, counts=report.counts,
                                   write_requests=report.write_requests, message=report.message)
            if not dry_run:
                self.ledger.save_report(self.company, run_id, report.as_dict())
        self.log.info("export %s of %s finished %s in %.1fs: %s; %d write requests", run_id, self.company,
                      report.status, report.seconds, _summary(report.counts), report.write_requests)
        if self._stop_error is not None:
            raise ExportStopped(self._stop_error, report)
        return report

    # -- planning -------------------------------------------------------------------------

    def _run(self, payloads: list[Payload], report: ExportReport, dry_run: bool) -> None:
        self._run_id = report.run_id
        self._report = report
        writes_before, requests_before = self.client.write_requests, self.client.requests_made
        # only the links this run touches (its records and what they point at): the ledger's whole
        # history with its stored bodies is not read for a run that exports a few changed records
        keys = {(p.entity, p.source_id) for p in payloads} | {parent for p in payloads for parent in p.depends_on}
        self._links = self.ledger.links_for(self.company, keys)
        pending = self.ledger.pending_outbox(self.company)
        close = None
        if any(p.txn_date for p in payloads):
            close = self.client.book_close_date()
        plan = planning.plan(payloads, self._links, pending=pending, book_close_date=close,
                             closed_period=self.closed_period, max_attempts=self.max_attempts,
                             quarantined=self._quarantined, skipped=self._skipped,
                             still_needed=self._still_needed)
        self.log.info("plan for %s: %s", self.company, _summary(plan.counts()))
        report.skipped_steps = {step.key: step.reason for step in plan.steps if step.action == SKIP}
        if dry_run:
            report.plan = plan
            for step in plan.steps:
                outcome = OUTCOME_OF.get(step.action) or (Outcome.SKIPPED if step.action == SKIP else step.action)
                report.counts[str(outcome)] = report.counts.get(outcome, 0) + 1
            report.requests = self.client.requests_made - requests_before
            return
        self.refs = NamedRefs(self.client, self.config, request_id=self._named_request_id)
        for step in plan.steps:
            if step.action == SKIP:
                self._count(Outcome.SKIPPED)
                if not step.qbo_id and step.reason.startswith("closed period"):
                    self._finish(step, Outcome.SKIPPED, message=step.reason, hint=ClosedPeriodError.hint,
                                 status=LinkStatus.SKIPPED, count=False)
            elif step.action == BLOCKED:
                self._finish_blocked(step, step.reason)
        waves = plan.waves()
        for index, wave in enumerate(waves):
            if self._stop.is_set():
                for step in wave:
                    self._finish(step, Outcome.NOT_ATTEMPTED, message="not attempted: the run stopped", status=None)
                continue
            entity = wave[0].payload.entity
            before = self.client.write_requests
            self._run_wave(wave, index, len(waves))
            by_entity = report.write_requests_by_entity
            by_entity[entity] = by_entity.get(entity, 0) + self.client.write_requests - before
        report.created_refs = list(self.refs.created)
        report.write_requests = self.client.write_requests - writes_before
        report.requests = self.client.requests_made - requests_before

    # -- one wave -------------------------------------------------------------------------

    def _run_wave(self, wave: list[Step], index: int, total: int) -> None:
        entity = wave[0].payload.entity
        self.log.info("wave %d/%d: %d %s record(s) (%s)", index + 1, total, len(wave), entity,
                      _summary(_counts(wave)))
        ready: list[tuple[Step, dict[str, Any]]] = []
        for step in wave:
            try:
                body = self._resolve(step)
            except UnresolvedRef as exc:
                if exc.parent:
                    self._finish_blocked(step, str(exc), exc.parent)
                else:
                    self._finish(step, Outcome.FAILED, message=str(exc), hint="Fix the configuration or create the entry in QBO.")
                continue
            except AuthError as exc:
                self._halt(exc)
                self._finish(step, Outcome.NOT_ATTEMPTED, message="not attempted: the run stopped", status=None)
                continue
            except QboError as exc:
                self._fail(step, exc)
                continue
            ready.append((step, body))
        creates = [(s, b) for s, b in ready if s.action == CREATE]
        if creates:
            self._before_writes(lambda: self._adopt_existing(entity, creates),
                                f"lookup of existing {entity} records failed (%s); creating without it")
        changes = [s for s, _ in ready if s.action in (UPDATE, DEACTIVATE, VOID, DELETE) and s.qbo_id]
        if changes:
            self._before_writes(lambda: self._refresh_sync_tokens(entity, changes),
                                f"reading current SyncTokens of {entity} failed (%s); using the ledger's")
        batchable = deque(sb for sb in ready if sb[0].action in (CREATE, UPDATE, DEACTIVATE)
                          and not self._is_finished(sb[0]))
        singles = deque(sb for sb in ready if sb[0].action in (VOID, DELETE))
        progress = {"done": 0, "last": time.monotonic()}

        def next_unit() -> list[tuple[Step, dict[str, Any]]] | None:
            with self._lock:
                if self._stop.is_set():
                    return None
                if singles:
                    return [singles.popleft()]
                if not batchable:
                    return None
                limiter = self.client.limiter
                if self.use_batches and len(batchable) > 1 and (limiter is None or limiter.reserve_batch()):
                    return [batchable.popleft() for _ in range(min(self.batch_size, len(batchable)))]
                return [batchable.popleft()]

        def worker() -> None:
            while (unit := next_unit()) is not None:
                try:
                    if len(unit) > 1:
                        self._send_batch(unit)
                    else:
                        self._send_single(*unit[0])
                except _Stop:
                    for step, _ in unit:
                        if not self._is_finished(step):
                            self._finish(step, Outcome.NOT_ATTEMPTED, message="not attempted: the run stopped", status=None)
                with self._lock:
                    progress["done"] += len(unit)
                    if time.monotonic() - progress["last"] > 5:
                        progress["last"] = time.monotonic()
                        self.log.info("%s: %d/%d written", entity, progress["done"], len(ready))

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="qbo-export") as pool:
            futures = [pool.submit(worker) for _ in range(self.workers)]
            for future in futures:
                future.result()
        for step, _ in list(batchable) + list(singles):
            self._finish(step, Outcome.NOT_ATTEMPTED, message="not attempted: the run stopped", status=None)

    # -- resolution and lookups -----------------------------------------------------------

    def _resolve(self, step: Step) -> dict[str, Any]:
        payload = step.payload
        if step.action in (DEACTIVATE, VOID, DELETE):
            if not step.qbo_id:  # created earlier in this export (an inactive customer its history needs)
                with self._lock:
                    link = self._links.get(step.key) or {}
                if not link.get("qbo_id"):
                    raise UnresolvedRef(f"{step.key[0]} {step.key[1]} was not created in QBO", step.key)
                step.qbo_id, step.sync_token = link["qbo_id"], link.get("sync_token")
            return {}
        fields = {id(ref): name for name, ref in named_refs_with_fields(payload.body)}

        def resolve(ref: dict[str, Any]) -> tuple[str, str | None]:
            if ref["kind"] == "source":
                parent = (ref["entity"], ref["source_id"])
                with self._lock:
                    link = self._links.get(parent) or {}
                if not link.get("qbo_id") or link.get("status") == LinkStatus.DELETED:
                    state = link.get("status") or "not exported"
                    raise UnresolvedRef(f"parent {parent[0]} {parent[1]} is not in QBO ({state})", parent)
                return link["qbo_id"], None
            return self.refs.resolve(ref, fields.get(id(ref)))

        return resolve_refs(payload.body, resolve)

    def _adopt_existing(self, entity: str, creates: list[tuple[Step, dict[str, Any]]]) -> None:
        """Turn creates into updates where QBO already has the record (same name, email, DocNumber...)."""
        taken = self._taken_ids(entity)
        fields: list[str] = []
        for step, _ in creates:
            for key in step.payload.lookup:
                if key not in fields:
                    fields.append(key)
        if not fields:
            return
        if entity in NAME_FIELD:
            candidates = self.client.query_all(entity, "Active IN (true, false)")
        else:
            candidates = []
            for key in fields:
                values = sorted({str(s.payload.lookup[key]) for s, _ in creates if s.payload.lookup.get(key)})
                for start in range(0, len(values), LOOKUP_CHUNK):
                    candidates += self.client.query_in(entity, key, values[start:start + LOOKUP_CHUNK])
        index: dict[tuple[str, str], dict[str, Any]] = {}
        for record in candidates:
            for key in fields:
                value = _value(record, key)
                if value:
                    index.setdefault((key, value), record)
        adopted = 0
        for step, body in creates:
            for key, wanted in step.payload.lookup.items():
                record = index.get((key, str(wanted).strip().lower())) if wanted else None
                if record and record["Id"] not in taken and entity not in NAME_FIELD and not is_ours(record, body):
                    self._finish(step, "failed", message=f"{NUMBER_TAKEN} ({key} {wanted})",
                                 hint=refusal_hint(entity, record, step.payload.source_id))
                    break
                if record and record["Id"] not in taken:
                    taken.add(record["Id"])
                    step.action, step.qbo_id, step.sync_token = UPDATE, record["Id"], record["SyncToken"]
                    step.reason = f"found in QBO by {key}"
                    adopted += 1
                    break
        if adopted:
            self.log.info("%s: %d record(s) already in QBO linked instead of created", entity, adopted)

    def _before_writes(self, read: Callable[[], None], warning: str) -> None:
        """A read that improves the writes of a wave: auth stops the run, other faults only warn."""
        if self._stop.is_set():
            return
        try:
            read()
        except AuthError as exc:
            self._halt(exc)
        except QboError as exc:
            self.log.warning(warning, exc)

    def _refresh_sync_tokens(self, entity: str, steps: list[Step]) -> None:
        """Current SyncTokens for records about to change: a token kept from an earlier run is stale
        as soon as anything else touched the record (a payment applied to an invoice bumps it)."""
        by_id = {str(step.qbo_id): step for step in steps}
        ids = sorted(by_id)
        for start in range(0, len(ids), SYNC_TOKEN_CHUNK):
            records = self.client.query_in(entity, "Id", ids[start:start + SYNC_TOKEN_CHUNK],
                                           include_inactive=entity in NAME_FIELD)
            for record in records:
                step = by_id.get(str(record.get("Id")))
                if step is not None and record.get("SyncToken") is not None:
                    step.sync_token = str(record["SyncToken"])

    # -- request ids ----------------------------------------------------------------------

    def _request_id(self, step: Step, operation: str) -> str:
        """Deterministic per record, operation, content, attempt and (for changes) the SyncToken the
        change applies to; a pending one is replayed. Without the SyncToken, a change repeated later
        with the same content (an edit reverted, a name made active and deactivated again) would reuse
        the first request id and QBO would replay the old answer instead of applying it."""
        if step.pending_request_id and operation == CREATE:
            rid, step.pending_request_id = step.pending_request_id, None
            return rid
        with self._lock:
            attempts = (self._links.get(step.key) or {}).get("attempts") or 0
        seed = f"{self.company}|{step.key[0]}|{step.key[1]}|{operation}|{step.hash}|{attempts}|{step.qbo_id}"
        if operation != CREATE and step.sync_token is not None:
            seed += f"|{step.sync_token}"
        return hashlib.sha256(seed.encode()).hexdigest()[:32]

    def _named_request_id(self, seed: str) -> str:
        return hashlib.sha256(f"{self.company}|{self._run_id}|{seed}".encode()).hexdigest()[:32]

    def _body_for(self, step: Step, body: dict[str, Any]) -> dict[str, Any]:
        if step.action == UPDATE:
            return {**body, "Id": step.qbo_id, "SyncToken": step.sync_token, "sparse": True}
        if step.action == DEACTIVATE:
            return {"Id": step.qbo_id, "SyncToken": step.sync_token, "Active": False, "sparse": True}
        return body

    def _ensure_sync_token(self, step: Step) -> None:
        if step.qbo_id and step.sync_token is None:
            record = self.client.read(step.payload.entity, step.qbo_id)
            step.sync_token = record["SyncToken"]

    # -- batches --------------------------------------------------------------------------

    def _send_batch(self, unit: list[tuple[Step, dict[str, Any]]]) -> None:
        entity_items, rids = [], {}
        for number, (step, body) in enumerate(unit):
            if step.action in (UPDATE, DEACTIVATE) and step.sync_token is None:
                try:
                    self._ensure_sync_token(step)
                except QboError as exc:
                    self._handle_error(step, exc)
                    continue
            operation = "create" if step.action == CREATE else "update"
            bid = f"b{number}"
            rids[bid] = (step, body, self._request_id(step, step.action))
            entity_items.append({"bId": bid, "operation": operation, step.payload.entity: self._body_for(step, body)})
        if len(entity_items) < 2:  # nothing (or one record) left to batch: give the batch place back
            if self.client.limiter is not None:
                self.client.limiter.cancel_batch_reservation()
            for item in entity_items:
                step, body, _ = rids[item["bId"]]
                self._send_single(step, body)
            return
        batch_rid = hashlib.sha256("|".join(sorted(r[2] for r in rids.values())).encode()).hexdigest()[:36]
        self.ledger.outbox_add(self.company, [
            {"entity": s.payload.entity, "source_id": s.payload.source_id, "request_id": rid,
             "operation": s.action, "payload_hash": s.hash, "batch_request_id": batch_rid}
            for s, _, rid in rids.values()], run_id=self._run_id)
        try:
            responses = self.client.batch(entity_items, request_id=batch_rid)
        except AuthError as exc:
            self._halt(exc)
            raise _Stop from exc
        except (ThrottleError, TransientError) as exc:
            # outcome unknown: outbox rows stay pending; the next run looks these records up first
            for step, _, rid in rids.values():
                self._fail(step, exc, request_id=rid, unknown=True)
            return
        except QboError as exc:
            self.ledger.outbox_finish([r[2] for r in rids.values()], "failed")
            for step, body, _ in rids.values():
                self._retry_single_or_fail(step, body, exc)
            return
        retry: list[tuple[Step, dict[str, Any], QboError]] = []
        done_rids, failed_rids, successes = [], [], []
        for bid, (step, body, rid) in rids.items():
            item = responses.get(bid)
            entity = step.payload.entity
            if item is not None and entity in item:
                successes.append((step, item[entity], rid))
                done_rids.append(rid)
                continue
            error = fault_from_body(item or {}) if item else None
            failed_rids.append(rid)
            retry.append((step, body, error or TransientError("QBO returned no answer for this batch item")))
        self._record_successes(successes, done_rids)
        if failed_rids:
            self.ledger.outbox_finish(failed_rids, "failed")
        for step, body, error in retry:
            self._retry_single_or_fail(step, body, error)

    def _retry_single_or_fail(self, step: Step, body: dict[str, Any], error: QboError) -> None:
        if isinstance(error, policies.RETRY_AS_SINGLE):
            self._bump_attempt(step)
            self._send_single(step, body, first_error=error)
        else:
            self._handle_error(step, error)

    # -- singles and policies --------------------------------------------------------------

    def _send_single(self, step: Step, body: dict[str, Any], first_error: QboError | None = None) -> None:
        entity = step.payload.entity
        stale_retried = renamed = False
        error = first_error
        for _ in range(4):
            rid: str | None = None
            if error is not None:
                decision = policies.retry(error, step.action, has_qbo_id=bool(step.qbo_id),
                                          stale_retried=stale_retried, renamed=renamed,
                                          from_batch=first_error is error)
                if decision == Retry.READ_SYNC_TOKEN:
                    stale_retried = True
                    step.sync_token = None  # read again below
                elif decision == Retry.RESOLVE_NAME:
                    renamed = True
                    body = self._resolve_duplicate_name(step, body)
                elif decision == Retry.NONE:
                    self._handle_error(step, error)
                    return
                # Retry.RESEND: a batch item QBO refused for load: send it once on its own (the client retries)
            try:
                if step.action in (UPDATE, DEACTIVATE, VOID, DELETE):
                    self._ensure_sync_token(step)
                rid = self._request_id(step, step.action)
                self.ledger.outbox_add(self.company, [{
                    "entity": entity, "source_id": step.payload.source_id, "request_id": rid,
                    "operation": step.action, "payload_hash": step.hash}], run_id=self._run_id)
                record = self._call(step, body, rid)
            except AuthError as exc:
                self._halt(exc)
                raise _Stop from exc
            except (ThrottleError, TransientError) as exc:
                if step.action == CREATE:
                    self._fail(step, exc, unknown=True)
                else:
                    self._fail(step, exc)
                return
            except QboError as exc:
                error = exc
                if rid is not None:
                    self.ledger.outbox_finish([rid], "failed")
                    self._bump_attempt(step)
                continue
            self._record_successes([(step, record, rid)], [rid])
            return
        self._handle_error(step, error or QboError("gave up after repeated policy retries"))

    def _call(self, step: Step, body: dict[str, Any], rid: str) -> dict[str, Any]:
        entity = step.payload.entity
        if step.action == CREATE:
            return self.client.create(entity, body, request_id=rid)
        if step.action in (UPDATE, DEACTIVATE):
            return self.client.update(entity, self._body_for(step, body), request_id=rid)
        if step.action == VOID:
            return self.client.void(entity, step.qbo_id, step.sync_token, request_id=rid)
        return self.client.delete(entity, step.qbo_id, step.sync_token, request_id=rid)

    def _resolve_duplicate_name(self, step: Step, body: dict[str, Any]) -> dict[str, Any]:
        """6240: link the same-named record of this entity if it is ours to take, else rename deterministically."""
        entity = step.payload.entity
        name_field = NAME_FIELD.get(entity)
        name = str(body.get(name_field, "")) if name_field else ""
        if not name:
            return body
        matches = self.client.find(entity, name_field, name, include_inactive=True)
        taken = self._taken_ids(entity)
        free = [m for m in matches if m["Id"] not in taken]
        if free:
            record = free[0]
            step.action, step.qbo_id, step.sync_token = UPDATE, record["Id"], record["SyncToken"]
            step.reason = f"linked to the existing {entity} named {name!r} (6240)"
            return body
        limit = min(NAME_LIMIT.get(entity, 100), self.name_max if entity == "Customer" else 100)
        suffix = f" ({step.payload.source_id})"
        renamed = name[: max(1, limit - len(suffix))] + suffix
        self.log.info("%s %s: name %r is used by another record in QBO; sending it as %r",
                      entity, step.payload.source_id, name, renamed)
        return {**body, name_field: renamed}

    def _handle_error(self, step: Step, error: QboError) -> None:
        decision = policies.settle(error, step.action, closed_period=self.closed_period)
        if decision == Settle.STOP:
            assert isinstance(error, AuthError)
            self._halt(error)
            raise _Stop from error
        if decision == Settle.SKIP_CLOSED_PERIOD:
            self._count(Outcome.SKIPPED)
            self._finish(step, Outcome.SKIPPED, message=error.describe(), hint=error.hint,
                         status=LinkStatus.SKIPPED if not step.qbo_id else None, count=False)
            return
        if decision == Settle.KEEP_ACTIVE:
            # QBO keeps a name with an open balance active: a documented outcome, not a failure
            self._count(Outcome.SKIPPED)
            self._finish(step, Outcome.SKIPPED, code=error.code, tid=error.intuit_tid, status=KEPT_ACTIVE, count=False,
                         message=policies.KEPT_ACTIVE_MESSAGE, hint=policies.KEPT_ACTIVE_HINT)
            return
        self._fail(step, error)

    # -- bookkeeping ----------------------------------------------------------------------

    def _taken_ids(self, entity: str) -> set[str]:
        """QBO Ids of ``entity`` some source row already holds (so a lookup never adopts them twice)."""
        taken = self.ledger.qbo_ids(self.company, entity)
        with self._lock:
            taken |= {link["qbo_id"] for (e, _), link in self._links.items() if e == entity and link.get("qbo_id")}
        return taken

    def _halt(self, error: AuthError) -> None:
        with self._lock:
            if self._stop_error is None:
                self._stop_error = error
                self.log.error("stopping the export of %s: %s", self.company, error.describe())
            self._stop.set()

    def _bump_attempt(self, step: Step) -> None:
        with self._lock:
            link = self._links.setdefault(step.key, {})
            link["attempts"] = (link.get("attempts") or 0) + 1

    def _is_finished(self, step: Step) -> bool:
        return getattr(step, "_finished", False)

    def _count(self, outcome: str) -> None:
        with self._lock:
            self._report.counts[str(outcome)] = self._report.counts.get(outcome, 0) + 1

    def _record_successes(self, successes: list[tuple[Step, dict[str, Any], str]], rids: list[str]) -> None:
        if not successes:
            return
        links, results = [], []
        for step, record, rid in successes:
            action = step.action
            outcome = OUTCOME_OF[action]
            if action == UPDATE and step.reason.startswith(("found", "linked")):
                outcome = Outcome.LINKED
            status = STATUS_OF.get(outcome, LinkStatus.EXPORTED)
            qbo_id = str(record.get("Id") or step.qbo_id)
            name_field = NAME_FIELD.get(step.payload.entity, "DocNumber")
            link = {
                "entity": step.payload.entity, "source_id": step.payload.source_id, "qbo_id": qbo_id,
                "sync_token": record.get("SyncToken"), "payload_hash": step.hash,
                "attempted_hash": step.hash, "body": step.payload.body, "status": status, "attempts": 0,
                "last_error": None, "error_code": None, "hint": None, "intuit_tid": None, "request_id": rid,
                "name": record.get(name_field) or (self._links.get(step.key) or {}).get("name"),
                "run_id": self._run_id,
            }
            links.append(link)
            results.append(RecordResult(step.payload.entity, step.payload.source_id, action, outcome,
                                        qbo_id=qbo_id, request_id=rid))
        with self.ledger.begin() as conn:
            self.ledger.save_links(self.company, links, conn=conn)
            self.ledger.outbox_finish(rids, "done", conn=conn)
            self.ledger.add_results(self.company, self._run_id, [r.as_dict() for r in results], conn=conn)
        with self._lock:
            for (step, _, _), link, result in zip(successes, links, results, strict=True):
                self._links[step.key] = {**(self._links.get(step.key) or {}), **link}
                step._finished = True  # type: ignore[attr-defined]
                self._report.results.append(result)
                self._report.counts[result.outcome] += 1
                self._report.records_written += 1

    def _fail(self, step: Step, error: QboError, *, request_id: str | None = None, unknown: bool = False) -> None:
        message = error.describe()
        if unknown:
            message += " — outcome unknown; the next run looks the record up in QBO before creating it again"
        hint = policies.failure_hint(error, step.action, step.payload.entity)
        self._finish(step, Outcome.FAILED, message=message, hint=hint, code=error.code,
                     tid=error.intuit_tid, request_id=request_id)

    def _finish_blocked(self, step: Step, reason: str, parent: tuple[str, str] | None = None) -> None:
        parent = parent or step.blocked_by
        hint = f"Fix {parent[0]} {parent[1]} first; this record follows it." if parent else None
        self._finish(step, Outcome.BLOCKED, message=reason, hint=hint)

    def _finish(self, step: Step, outcome: str, *, message: str | None = None, hint: str | None = None,
                code: str | None = None, tid: str | None = None, request_id: str | None = None,
                status: str | None = _KEEP_STATUS, count: bool = True) -> None:
        """Record a record that did not succeed (failed, blocked, skipped, not attempted)."""
        with self._lock:
            link = dict(self._links.get(step.key) or {})
        if status == _KEEP_STATUS:
            status = outcome
        result = RecordResult(step.payload.entity, step.payload.source_id, step.action, outcome,
                              qbo_id=step.qbo_id, error_code=code, message=redact.redact(message or ""),
                              hint=hint, intuit_tid=tid, request_id=request_id)
        with self.ledger.begin() as conn:
            if status is not None:
                attempts = (link.get("attempts") or 0) + (1 if outcome == Outcome.FAILED else 0)
                update = {"entity": step.payload.entity, "source_id": step.payload.source_id, "status": status,
                          "last_error": result.message, "error_code": code, "hint": hint, "intuit_tid": tid,
                          "attempts": attempts, "attempted_hash": step.hash, "run_id": self._run_id}
                if link.get("qbo_id") and status in (LinkStatus.FAILED, LinkStatus.BLOCKED, LinkStatus.SKIPPED) and \
                        link.get("status") in (LinkStatus.EXPORTED, LinkStatus.LINKED, LinkStatus.DEACTIVATED):
                    # still in QBO as last exported: keep that, remember the error
                    update["status"] = link["status"] if status == LinkStatus.SKIPPED else status
                self.ledger.save_links(self.company, [update], conn=conn)
                link.update(update)
            self.ledger.add_results(self.company, self._run_id, [result.as_dict()], conn=conn)
        with self._lock:
            self._links[step.key] = link
            step._finished = True  # type: ignore[attr-defined]
            self._report.results.append(result)
            if count:
                self._report.counts[str(outcome)] = self._report.counts.get(outcome, 0) + 1
        if outcome == Outcome.FAILED:
            self.log.warning("%s %s failed: %s", step.payload.entity, step.payload.source_id, result.message)


def _counts(steps: list[Step]) -> dict[str, int]:
    out: dict[str, int] = {}
    for step in steps:
        out[step.action] = out.get(step.action, 0) + 1
    return out


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing to do"


__all__ = ["ExportEngine", "ExportReport", "RecordResult", "ExportStopped", "utcnow"]
