"""The sync ledger: links between source rows and QBO records, outbox, runs, reports, tokens.

One database (a SQLite file by default, PostgreSQL for teams) holds everything the export
must remember between runs: which QBO record each source row became (Id, SyncToken, hash of
what was sent), the request ids written *before* each call (the outbox that makes retries
exactly once), every run and per-record result for reports, the encrypted OAuth tokens,
quarantined rows, and the one-export-per-company lock.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from qbo_pipeline.ledger.tables import build_tables

log = logging.getLogger("qbo_pipeline.ledger")

LINK_FIELDS = (
    "qbo_id", "sync_token", "payload_hash", "attempted_hash", "body", "status", "attempts", "last_error", "error_code", "hint",
    "intuit_tid", "request_id", "name", "manual", "run_id",
)


class ExportLockedError(RuntimeError):
    """Another export of the same company holds the lock."""


# The lock's owner names its process, so a lock left by a killed run can be recognised.
_HOLDER = re.compile(r"\[pid (\d+) on (.+)\]$")


def _holder_tag() -> str:
    return f"[pid {os.getpid()} on {socket.gethostname()[:60]}]"


def _holder_is_gone(owner: str) -> bool:
    """True when the owner names a process on this machine that no longer exists."""
    match = _HOLDER.search(owner or "")
    if not match or match.group(2) != socket.gethostname()[:60]:
        return False
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists but belongs to someone else
        return False
    return False


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Ledger:
    """The sync state store; ``create_all`` runs on open so a new file or schema just works."""

    def __init__(self, url: str, *, prefix: str = "", schema: str | None = None, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or sa.create_engine(url, future=True, pool_pre_ping=True)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.metadata, self.tables = build_tables(prefix, schema)
        if schema and self.dialect == "postgresql":
            with self.engine.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        self.metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def drop_all(self) -> None:
        """Remove every ledger table (tests and `reset`)."""
        self.metadata.drop_all(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- upsert helper --------------------------------------------------------------------

    def _upsert(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
        if not rows:
            return
        if self.dialect in ("sqlite", "postgresql"):
            if self.dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            # rows may carry different columns: group them so each statement has one shape
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in rows:
                groups.setdefault(tuple(sorted(row)), []).append(row)
            for columns, group in groups.items():
                stmt = insert(table)
                update = {c: stmt.excluded[c] for c in columns if c not in keys}
                stmt = stmt.on_conflict_do_update(index_elements=keys, set_=update) if update else \
                    stmt.on_conflict_do_nothing(index_elements=keys)
                conn.execute(stmt, group)
            return
        for row in rows:  # other databases: update, else insert
            where = sa.and_(*[table.c[k] == row[k] for k in keys])
            values = {k: v for k, v in row.items() if k not in keys}
            if not values or conn.execute(table.update().where(where).values(**values)).rowcount == 0:
                conn.execute(table.insert().values(**row))

    # -- links ----------------------------------------------------------------------------

    def links(self, company: str, entity: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """Every link of a company (optionally one entity), keyed by (entity, source_id)."""
        t = self.tables["links"]
        query = sa.select(t).where(t.c.company == company)
        if entity:
            query = query.where(t.c.entity == entity)
        with self.engine.connect() as conn:
            return {(r.entity, r.source_id): dict(r._mapping) for r in conn.execute(query)}

    def qbo_ids(self, company: str, entity: str) -> set[str]:
        """QBO Ids of ``entity`` linked to some source row of the company (ids only, no bodies)."""
        t = self.tables["links"]
        query = sa.select(t.c.qbo_id).where(t.c.company == company, t.c.entity == entity, t.c.qbo_id.is_not(None))
        with self.engine.connect() as conn:
            return {str(qbo_id) for (qbo_id,) in conn.execute(query)}

    def claimed_names(self, company: str, entity: str) -> dict[str, str]:
        """Casefolded QBO name -> source id of the records of ``entity`` that hold it in QBO
        (the name and id columns only, not the stored bodies)."""
        t = self.tables["links"]
        query = sa.select(t.c.name, t.c.source_id).where(
            t.c.company == company, t.c.entity == entity, t.c.qbo_id.is_not(None), t.c.name.is_not(None))
        with self.engine.connect() as conn:
            return {str(name).casefold(): source_id for name, source_id in conn.execute(query) if name}

    def get_link(self, company: str, entity: str, source_id: str) -> dict[str, Any] | None:
        t = self.tables["links"]
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t).where(t.c.company == company, t.c.entity == entity, t.c.source_id == str(source_id))
            ).first()
        return dict(row._mapping) if row else None

    def save_links(self, company: str, records: Iterable[dict[str, Any]], conn: Connection | None = None) -> None:
        """Insert or update links; each record has ``entity``, ``source_id`` and any of LINK_FIELDS."""
        rows = []
        for record in records:
            row = {"company": company, "entity": record["entity"], "source_id": str(record["source_id"]),
                   "updated_at": utcnow()}
            row.update({k: record[k] for k in LINK_FIELDS if k in record})
            rows.append(row)
        if conn is not None:
            self._upsert(conn, self.tables["links"], rows, ["company", "entity", "source_id"])
            return
        with self.begin() as own:
            self._upsert(own, self.tables["links"], rows, ["company", "entity", "source_id"])

    def link(self, company: str, entity: str, source_id: str, qbo_id: str, *, name: str | None = None) -> None:
        """Manually link a source row to an existing QBO record; the exporter then updates it, never creates."""
        if not str(qbo_id).strip():
            raise ValueError("a manual link needs a QBO Id")
        self.save_links(company, [{
            "entity": entity, "source_id": source_id, "qbo_id": str(qbo_id), "status": "linked", "manual": True,
            "sync_token": None, "payload_hash": None, "name": name, "last_error": None, "error_code": None,
            "hint": None,
        }])

    def unlink(self, company: str, entity: str, source_id: str) -> bool:
        t = self.tables["links"]
        with self.begin() as conn:
            result = conn.execute(
                t.delete().where(t.c.company == company, t.c.entity == entity, t.c.source_id == str(source_id))
            )
        return result.rowcount > 0

    # -- outbox ---------------------------------------------------------------------------

    def outbox_add(self, company: str, entries: list[dict[str, Any]], *, run_id: str | None = None) -> None:
        """Record request ids *before* the calls that use them (state pending)."""
        now = utcnow()
        rows = [{
            "company": company, "entity": e["entity"], "source_id": str(e["source_id"]),
            "request_id": e["request_id"], "operation": e["operation"], "payload_hash": e.get("payload_hash"),
            "batch_request_id": e.get("batch_request_id"), "state": "pending", "run_id": run_id,
            "created_at": now, "updated_at": now,
        } for e in entries]
        with self.begin() as conn:
            self._upsert(conn, self.tables["outbox"], rows, ["request_id"])

    def outbox_finish(self, request_ids: list[str], state: str, conn: Connection | None = None) -> None:
        """Mark requests done (QBO answered) or failed (QBO refused: a new attempt may use a new id)."""
        if not request_ids:
            return
        t = self.tables["outbox"]
        stmt = t.update().where(t.c.request_id.in_(request_ids)).values(state=state, updated_at=utcnow())
        if conn is not None:
            conn.execute(stmt)
            return
        with self.begin() as own:
            own.execute(stmt)

    def pending_outbox(self, company: str) -> dict[tuple[str, str], dict[str, Any]]:
        """Requests sent without a known outcome (a crash or lost response), keyed by record."""
        t = self.tables["outbox"]
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t).where(t.c.company == company, t.c.state == "pending").order_by(t.c.created_at)
            )
            return {(r.entity, r.source_id): dict(r._mapping) for r in rows}

    # -- runs and results -----------------------------------------------------------------

    def start_run(self, company: str, run_id: str, *, dry_run: bool = False) -> None:
        with self.begin() as conn:
            conn.execute(self.tables["runs"].insert().values(
                run_id=run_id, company=company, started_at=utcnow(), status="running", dry_run=dry_run))

    def finish_run(self, run_id: str, *, status: str, counts: dict[str, int], write_requests: int,
                   message: str | None = None) -> None:
        t = self.tables["runs"]
        with self.begin() as conn:
            conn.execute(t.update().where(t.c.run_id == run_id).values(
                finished_at=utcnow(), status=status, counts=counts, write_requests=write_requests, message=message))

    def stop_abandoned_runs(self, company: str, *, keep: str, message: str) -> list[str]:
        """Mark ``stopped`` the company's runs still ``running`` other than ``keep``. Call it only while
        holding the company's export lock: every live export holds it, so such a run's process ended."""
        t = self.tables["runs"]
        with self.begin() as conn:
            ids = [r for (r,) in conn.execute(sa.select(t.c.run_id).where(
                t.c.company == company, t.c.status == "running", t.c.run_id != keep))]
            if ids:
                conn.execute(t.update().where(t.c.run_id.in_(ids)).values(
                    finished_at=utcnow(), status="stopped", message=message))
        return ids

    def runs(self, company: str | None = None, *, limit: int = 20) -> list[dict[str, Any]]:
        t = self.tables["runs"]
        query = sa.select(t).order_by(t.c.started_at.desc()).limit(limit)
        if company:
            query = query.where(t.c.company == company)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def add_results(self, company: str, run_id: str, results: list[dict[str, Any]],
                    conn: Connection | None = None) -> None:
        if not results:
            return
        columns = {c.name for c in self.tables["record_results"].columns} - {"id", "at"}
        now = utcnow()
        rows = [{**{k: r.get(k) for k in columns}, "company": company, "run_id": run_id, "at": now} for r in results]
        if conn is not None:
            conn.execute(self.tables["record_results"].insert(), rows)
            return
        with self.begin() as own:
            own.execute(self.tables["record_results"].insert(), rows)

    def results(self, run_id: str) -> list[dict[str, Any]]:
        t = self.tables["record_results"]
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(t).where(t.c.run_id == run_id).order_by(t.c.id))]

    # -- reports for the CLI and Dagster --------------------------------------------------

    def status_counts(self, company: str) -> dict[str, dict[str, int]]:
        """``{entity: {status: count}}`` for one company."""
        t = self.tables["links"]
        query = sa.select(t.c.entity, t.c.status, sa.func.count()).where(t.c.company == company).group_by(
            t.c.entity, t.c.status)
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for entity, status, count in conn.execute(query):
                out.setdefault(entity, {})[status] = count
        return out

    def failed_records(self, company: str, entity: str | None = None, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Records that failed or are blocked, with QBO's error and the hint."""
        t = self.tables["links"]
        query = sa.select(t).where(t.c.company == company, t.c.status.in_(("failed", "blocked")))
        if entity:
            query = query.where(t.c.entity == entity)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.entity, t.c.source_id).limit(limit))
            return [dict(r._mapping) for r in rows]

    def record_history(self, company: str, entity: str, source_id: str) -> list[dict[str, Any]]:
        """Every result a record had, oldest first."""
        t = self.tables["record_results"]
        query = sa.select(t).where(t.c.company == company, t.c.entity == entity,
                                   t.c.source_id == str(source_id)).order_by(t.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def add_quarantine(self, rows: list[dict[str, Any]]) -> None:
        """Store quarantined source rows (or normalisation reports, ``kind="normalisation"``)."""
        if not rows:
            return
        columns = {"run_id", "company", "entity", "source_id", "kind", "reason", "data"}
        clean = [{**{k: r.get(k) for k in columns}, "kind": r.get("kind") or "row", "created_at": utcnow()}
                 for r in rows]
        with self.begin() as conn:
            conn.execute(self.tables["quarantine"].insert(), clean)

    def quarantined(self, *, run_id: str | None = None, company: str | None = None,
                    entity: str | None = None) -> list[dict[str, Any]]:
        t = self.tables["quarantine"]
        query = sa.select(t).order_by(t.c.id)
        for column, value in (("run_id", run_id), ("company", company), ("entity", entity)):
            if value is not None:
                query = query.where(t.c[column] == value)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def save_report(self, company: str, run_id: str | None, report: dict[str, Any]) -> None:
        with self.begin() as conn:
            conn.execute(self.tables["sync_reports"].insert().values(
                company=company, run_id=run_id, report=report, created_at=utcnow()))

    def reports(self, company: str, *, limit: int = 20) -> list[dict[str, Any]]:
        t = self.tables["sync_reports"]
        query = sa.select(t).where(t.c.company == company).order_by(t.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- one export per company -----------------------------------------------------------

    def acquire_export_lock(self, company: str, owner: str) -> bool:
        """Take the company's export lock; False when someone else holds it."""
        t = self.tables["export_locks"]
        try:
            with self.begin() as conn:
                conn.execute(t.insert().values(company=company, owner=owner, acquired_at=utcnow()))
            return True
        except sa.exc.IntegrityError:
            current = self.export_lock(company)
            return bool(current and current["owner"] == owner)

    def release_export_lock(self, company: str, owner: str) -> None:
        t = self.tables["export_locks"]
        with self.begin() as conn:
            conn.execute(t.delete().where(t.c.company == company, t.c.owner == owner))

    def export_lock(self, company: str) -> dict[str, Any] | None:
        """Who holds the company's export lock and since when (None when free)."""
        t = self.tables["export_locks"]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.company == company)).first()
        return dict(row._mapping) if row else None

    def clear_export_lock(self, company: str) -> bool:
        """Remove a stuck lock (the holder crashed); returns whether there was one."""
        t = self.tables["export_locks"]
        with self.begin() as conn:
            return conn.execute(t.delete().where(t.c.company == company)).rowcount > 0

    def _take_over_dead_lock(self, company: str) -> bool:
        """Remove the lock of a run whose process died (killed, machine crash); True if removed."""
        holder = self.export_lock(company)
        if not holder or not _holder_is_gone(holder["owner"]):
            return False
        t = self.tables["export_locks"]
        with self.begin() as conn:
            removed = conn.execute(t.delete().where(t.c.company == company, t.c.owner == holder["owner"])).rowcount > 0
        if removed:
            log.warning("company %s: took over the export lock of %s (since %s): its process has ended",
                        company, holder["owner"], holder["acquired_at"])
        return removed

    @contextmanager
    def export_locked(self, company: str, owner: str) -> Iterator[None]:
        owner = f"{owner} {_holder_tag()}"
        if not self.acquire_export_lock(company, owner) and not (
            self._take_over_dead_lock(company) and self.acquire_export_lock(company, owner)
        ):
            holder = self.export_lock(company) or {}
            raise ExportLockedError(
                f"company {company!r} is being exported by {holder.get('owner')} since {holder.get('acquired_at')}; "
                "wait for it, or clear a stuck lock with `qbo-pipeline unlock`"
            )
        try:
            yield
        finally:
            self.release_export_lock(company, owner)

    # -- source cursor (incremental sync) ------------------------------------------------

    def source_cursor(self, company: str) -> dict[str, datetime | None] | None:
        """The source watermarks (per canonical table) up to which the company's export finished;
        None when no export has finished yet (the next sync reads everything)."""
        t = self.tables["source_cursors"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.source_table, t.c.watermark).where(t.c.company == company)).all()
        return {table: watermark for table, watermark in rows} if rows else None

    def advance_source_cursor(self, company: str, watermarks: dict[str, datetime | None], *, run_id: str | None) -> None:
        """Store the watermarks an export read up to; called only after that export finished."""
        now = utcnow()
        rows = [{"company": company, "source_table": table, "watermark": watermark, "run_id": run_id, "updated_at": now}
                for table, watermark in watermarks.items()]
        with self.begin() as conn:
            self._upsert(conn, self.tables["source_cursors"], rows, ["company", "source_table"])

    def reset_source_cursor(self, company: str) -> None:
        """Forget the cursor: the next sync reads the whole source again (writes only what differs)."""
        t = self.tables["source_cursors"]
        with self.begin() as conn:
            conn.execute(t.delete().where(t.c.company == company))

    # -- drift: what a person changed in QBO since the pipeline wrote it (issue 14) ---------

    def drift_cursor(self, company: str) -> datetime | None:
        """Until when (UTC) the company's last drift pass read QBO's change feed; None: never."""
        t = self.tables["drift_cursors"]
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.c.checked_until).where(t.c.company == company)).scalar()

    def advance_drift_cursor(self, company: str, checked_until: datetime, *, run_id: str | None = None) -> None:
        row = {"company": company, "checked_until": checked_until, "run_id": run_id, "updated_at": utcnow()}
        with self.begin() as conn:
            self._upsert(conn, self.tables["drift_cursors"], [row], ["company"])

    def links_by_qbo_id(self, company: str, entity: str, qbo_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """QBO Id -> link, for the given Ids of one entity (the records a change feed names)."""
        t = self.tables["links"]
        ids = sorted({str(i) for i in qbo_ids})
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(sa.select(t).where(t.c.company == company, t.c.entity == entity,
                                                       t.c.qbo_id.in_(ids[start:start + 500])))
                out.update({r.qbo_id: dict(r._mapping) for r in rows})
        return out

    def record_drift(self, company: str, findings: Iterable[dict[str, Any]], *, run_id: str | None = None) -> None:
        """Store (or refresh) drift findings; a refreshed finding is open again."""
        rows = [{**f, "company": company, "status": f.get("status", "open"), "run_id": run_id,
                 "detected_at": utcnow()} for f in findings]
        with self.begin() as conn:
            self._upsert(conn, self.tables["drift"], rows, ["company", "entity", "source_id"])

    def drift(self, company: str, *, status: str | None = None) -> list[dict[str, Any]]:
        t = self.tables["drift"]
        query = sa.select(t).where(t.c.company == company)
        if status:
            query = query.where(t.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(t.c.entity, t.c.source_id))]

    def set_drift_status(self, company: str, keys: Iterable[tuple[str, str]], status: str) -> int:
        """Mark findings (``(entity, source_id)``) ``overwrite`` (the operator approved) or ``open``."""
        t = self.tables["drift"]
        changed = 0
        with self.begin() as conn:
            for entity, source_id in keys:
                changed += conn.execute(t.update().where(t.c.company == company, t.c.entity == entity,
                                                         t.c.source_id == source_id).values(status=status)).rowcount
        return changed

    def clear_drift(self, company: str, keys: Iterable[tuple[str, str]]) -> None:
        """Forget findings once the pipeline wrote the record again (the operator's overwrite happened)."""
        t = self.tables["drift"]
        with self.begin() as conn:
            for entity, source_id in keys:
                conn.execute(t.delete().where(t.c.company == company, t.c.entity == entity,
                                              t.c.source_id == source_id))

    # -- what an incremental sync must look at again --------------------------------------

    def unsettled(self, company: str) -> dict[str, set[str]]:
        """``{QBO entity: source ids}`` of records the last exports left failed, blocked or pending
        (a request whose outcome is unknown): an incremental sync reads them again."""
        links, outbox = self.tables["links"], self.tables["outbox"]
        out: dict[str, set[str]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(links.c.entity, links.c.source_id).where(
                links.c.company == company, links.c.status.in_(("failed", "blocked", "pending")))).all()
            rows += conn.execute(sa.select(outbox.c.entity, outbox.c.source_id).where(
                outbox.c.company == company, outbox.c.state == "pending")).all()
        for entity, source_id in rows:
            out.setdefault(entity, set()).add(source_id)
        return out

    def links_for(self, company: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """The links of these ``(QBO entity, source id)`` keys (the ones that exist)."""
        t = self.tables["links"]
        by_entity: dict[str, list[str]] = {}
        for entity, source_id in keys:
            by_entity.setdefault(entity, []).append(str(source_id))
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for entity, ids in by_entity.items():
                for start in range(0, len(ids), 500):
                    query = sa.select(t).where(t.c.company == company, t.c.entity == entity,
                                               t.c.source_id.in_(ids[start:start + 500]))
                    out.update({(r.entity, r.source_id): dict(r._mapping) for r in conn.execute(query)})
        return out

    def quarantine_reasons(self, company: str, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The latest quarantine reason of these ``(canonical entity, source id)`` records, when they have one."""
        t = self.tables["quarantine"]
        by_entity: dict[str, list[str]] = {}
        for entity, source_id in keys:
            by_entity.setdefault(entity, []).append(str(source_id))
        out: dict[tuple[str, str], str] = {}
        with self.engine.connect() as conn:
            for entity, ids in by_entity.items():
                for start in range(0, len(ids), 500):
                    query = sa.select(t.c.source_id, t.c.reason).where(
                        t.c.company == company, t.c.entity == entity, t.c.kind == "row",
                        t.c.source_id.in_(ids[start:start + 500])).order_by(t.c.id)
                    out.update({(entity, source_id): reason for source_id, reason in conn.execute(query)})
        return out

    # -- token rows (encrypted by qbo.auth.TokenVault; only the ciphertext is stored) ------

    def token_row(self, company: str, conn: Connection | None = None, *, for_update: bool = False
                  ) -> dict[str, Any] | None:
        """The company's token row (realm, ciphertext, expiries, version), locked for a refresh
        when ``for_update`` (pass the transaction's ``conn``)."""
        t = self.tables["tokens"]
        query = sa.select(t).where(t.c.company == company)
        if for_update:
            query = query.with_for_update()
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self.engine.connect() as own:
                row = own.execute(query).first()
        return dict(row._mapping) if row else None

    def save_token_row(self, company: str, values: dict[str, Any], conn: Connection | None = None, *,
                       version: int | None = None) -> None:
        """Write the token row: a new version of it (``version`` = the next one, after a refresh read
        with ``for_update``), or, without ``version``, replace it (a new connection) or insert it."""
        t = self.tables["tokens"]

        def write(c: Connection) -> None:
            if version is not None:
                c.execute(t.update().where(t.c.company == company).values(**values, version=version))
                return
            if c.execute(t.update().where(t.c.company == company).values(
                    **values, version=t.c.version + 1)).rowcount == 0:
                c.execute(t.insert().values(company=company, version=1, **values))

        if conn is not None:
            write(conn)
            return
        with self.begin() as own:
            write(own)

    def delete_token_row(self, company: str) -> bool:
        """Forget the company's tokens; returns whether there were any."""
        t = self.tables["tokens"]
        with self.begin() as conn:
            return conn.execute(t.delete().where(t.c.company == company)).rowcount > 0
    # -- content fingerprints of source tables without a modification stamp ---------------

    def fingerprints(self, company: str, source_table: str) -> dict[str, str]:
        """Source id -> content fingerprint of the rows last exported from ``source_table``
        (see ``SourceReader.changed_rows``): how a table without stamps stays incremental."""
        t = self.tables["source_fingerprints"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.source_id, t.c.fingerprint).where(
                t.c.company == company, t.c.source_table == source_table))
            return {source_id: fingerprint for source_id, fingerprint in rows}

    def save_fingerprints(self, company: str, source_table: str, fingerprints: dict[str, str],
                          removed: Iterable[str] = (), conn: Connection | None = None) -> None:
        """Store changed fingerprints and forget those of rows gone from the source; call it once
        the rows they describe are exported (like the cursor), so a failed run reads them again."""
        t = self.tables["source_fingerprints"]
        rows = [{"company": company, "source_table": source_table, "source_id": str(k), "fingerprint": v}
                for k, v in fingerprints.items()]
        gone = [str(r) for r in removed]

        def write(connection: Connection) -> None:
            for start in range(0, len(rows), 5000):
                self._upsert(connection, t, rows[start:start + 5000], ["company", "source_table", "source_id"])
            for start in range(0, len(gone), 1000):
                connection.execute(t.delete().where(t.c.company == company, t.c.source_table == source_table,
                                                    t.c.source_id.in_(gone[start:start + 1000])))

        if conn is not None:
            write(conn)
        else:
            with self.begin() as connection:
                write(connection)

    # -- connections (tokens live in qbo.auth.TokenVault) ---------------------------------

    def connection(self, company: str) -> dict[str, Any] | None:
        t = self.tables["connections"]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.company == company)).first()
        return dict(row._mapping) if row else None

    def set_connection(self, company: str, **values: Any) -> None:
        row = {"company": company, "updated_at": utcnow(), **values}
        with self.begin() as conn:
            self._upsert(conn, self.tables["connections"], [row], ["company"])


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


__all__ = ["Connection", "Ledger", "ExportLockedError", "LINK_FIELDS"]
