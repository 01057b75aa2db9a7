"""Extraction: canonical frames read through SQLAlchemy from any billing database.

``SourceReader`` turns each mapped entity into one SQL query (see ``mapping``), filters it
in the database (changed since a watermark, one transaction-date window, given ids) and
streams the result in chunks, so a million invoice lines never sit in memory at once.

Incremental rules (docs/canonical-model.md, "Incremental extraction"):

- ``since`` selects rows with ``updated_at > since - WATERMARK_OVERLAP``: a row written by
  a source whose clock runs a little behind ours is still picked up the next time. The
  rows read twice are harmless: unchanged payloads are skipped by hash downstream.
- An invoice counts as changed when the invoice *or any of its lines* changed (the same
  for payments and their applications): billing systems often edit a line without
  touching the invoice row. Reading a child entity (``invoice_lines``) with ``since``,
  ``window`` or ``ids`` returns *all* children of the matching parents, so an invoice is
  always rebuilt from its complete set of lines. ``ids`` for a child entity are parent ids.
- ``window=(start, end)`` selects by the entity's transaction date, ``start <= d < end``;
  ``None`` leaves an end open, and an open start also selects rows with no date at all.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from qbo_pipeline.source import model
from qbo_pipeline.source.mapping import (
    CANONICAL,
    CHILDREN,
    PARENT_KEY,
    ColumnSource,
    Mapping,
    canonical_mapping,
    check_mapping,
    column_default,
    column_kind,
    load_mapping,
    strptime_format,
    value_key,
)
from qbo_pipeline.source.model import UNREADABLE

log = logging.getLogger(__name__)

WATERMARK_OVERLAP = timedelta(minutes=2)
"""How far before the watermark an incremental read starts, so clock skew loses nothing."""

DEFAULT_CHUNKSIZE = 50_000
IDS_PER_QUERY = 1_000  # keeps IN (...) lists well under every driver's parameter limit

_TRUE = {"1", "t", "true", "y", "yes", "on"}
_FALSE = {"0", "f", "false", "n", "no", "off", ""}


class ExtractError(ValueError):
    """A source value that cannot become a canonical value (entity, column and value named)."""


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _as_id(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float | Decimal):
        if value != value:  # NaN
            return None
        if value == int(value):
            return str(int(value))
    if isinstance(value, bytes):
        return value.decode()
    return value if isinstance(value, str) else str(value)


def _as_bool(entity: str, column: str, default: Any) -> Any:
    """Converter to bool; a value that is no boolean raises ``ExtractError`` (callers mark the row)."""

    def convert(value: Any) -> bool:
        if value is None:
            return bool(default)
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float | Decimal):
            return value != 0
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ExtractError(f"{entity}.{column}: {value!r} is not a boolean (use 0/1, true/false, yes/no)")

    return convert


# Control characters QuickBooks cannot store (tab, newline and carriage return are replaced by
# the transform's name rules instead).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _text_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    if "\ufffd" in value:  # the driver met bytes that are not UTF-8 (see _decode_sqlite_text)
        return "not_text"
    if _CONTROL.search(value):
        return "control_characters"
    return None


def _short(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _datetimes(values: Sequence[Any], entity: str, column: str) -> pd.Series:
    """Naive UTC datetime64[ns]; unparseable values become NaT (validation quarantines them), with a warning."""
    raw = pd.Series(values, dtype=object)
    if raw.map(lambda v: isinstance(v, datetime) and v.tzinfo is not None).any():
        raw = raw.map(lambda v: _naive_utc(v) if isinstance(v, datetime) else v)
    parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    # Dates beyond what nanosecond timestamps hold (year 2999, 0001) are treated as not dates.
    parsed = parsed.where(parsed.isna() | ((parsed >= pd.Timestamp.min) & (parsed <= pd.Timestamp.max)))
    parsed = parsed.astype("datetime64[ns]")
    lost = int((parsed.isna() & raw.notna()).sum())
    if lost:
        examples = raw[parsed.isna() & raw.notna()].head(3).tolist()
        log.warning("%s.%s: %d value(s) are not dates, read as missing: %s", entity, column, lost, examples)
    return parsed


def _numbers(values: Sequence[Any], entity: str, column: str) -> pd.Series:
    raw = pd.Series(values, dtype=object)
    parsed = pd.to_numeric(raw.map(lambda v: float(v) if isinstance(v, Decimal) else v), errors="coerce")
    parsed = parsed.astype("float64")
    lost = int((parsed.isna() & raw.notna() & raw.map(lambda v: not isinstance(v, float | Decimal))).sum())
    if lost:
        log.warning("%s.%s: %d value(s) are not numbers, read as missing", entity, column, lost)
    return parsed


_ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?\s*$")


def _declared_values(values: Sequence[Any], source: ColumnSource, mark_one: Any) -> list[Any]:
    """Source values through the mapping's ``values:`` list; an unlisted value is marked and read as NULL."""
    table = source.value_map
    listed = ", ".join(repr(k) for k in table)
    out = []
    for position, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        key = value_key(value)
        if key in table:
            out.append(table[key])
        else:
            mark_one(position, "not_in_values", f"{_short(value)!r} (declared: {listed})")
            out.append(None)
    return out


def _text_dates(values: Sequence[Any], declared: str | None, mark_one: Any) -> list[Any]:
    """Dates kept as text are read in their declared format, else only as ISO (YYYY-MM-DD...):
    ``05.03.2024`` is never guessed to be May 3rd or March 5th; it is marked instead."""
    directives = strptime_format(declared) if declared else None
    out: list[Any] = []
    for position, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            out.append(value)
        elif directives is not None:
            try:
                out.append(datetime.strptime(value.strip(), directives))
            except ValueError:
                mark_one(position, "date_format", f"{_short(value)!r}, declared format {declared}")
                out.append(None)
        elif _ISO_DATE.match(value):
            out.append(value)
        else:
            mark_one(position, "not_a_date", _short(value))
            out.append(None)
    return out


def to_canonical_frame(entity: str, rows: Sequence[Sequence[Any]],
                       sources: dict[str, ColumnSource] | None = None) -> pd.DataFrame:
    """Rows in canonical column order -> a frame with the model's dtypes (see model.py).

    A value that cannot become its canonical type is read as missing (booleans: as the
    column's default) and recorded in the ``_unreadable`` column, so validation quarantines
    that row, with the raw value in the reason, and the other rows go on. ``sources`` (the
    entity's mapping columns) brings declared date formats and value lists.
    """
    columns = model.ENTITIES[entity].columns
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    data: dict[str, pd.Series] = {}
    problems: dict[int, dict[str, tuple[str, str]]] = {}
    sources = sources or {}

    def mark(positions: Any, values: Sequence[Any], column: str, check: str) -> None:
        for position in positions:
            problems.setdefault(int(position), {}).setdefault(column, (check, _short(values[position])))

    for name, values in zip(columns, transposed, strict=True):
        kind = column_kind(entity, name)
        source = sources.get(name)

        def mark_one(position: int, check: str, shown: str, name: str = name) -> None:
            problems.setdefault(int(position), {})[name] = (check, shown)

        if source is not None and source.values is not None:
            values = _declared_values(values, source, mark_one)
        if kind in ("date", "datetime"):
            values = _text_dates(values, source.format if source is not None else None, mark_one)
        if kind in ("id", "text"):
            convert = _as_id if kind == "id" else (lambda v: v if v is None or isinstance(v, str) else _as_id(v))
            series = pd.Series([convert(v) for v in values], dtype=object)
            if kind == "text":
                for position, value in enumerate(series):
                    check = _text_problem(value)
                    if check:
                        mark([position], values, name, check)
            data[name] = series
        elif kind in ("number", "integer"):
            numbers = _numbers(values, entity, name)
            mark(np.flatnonzero(_lost(numbers, values)), values, name, "not_a_number")
            default = column_default(entity, name) if kind == "integer" else None
            data[name] = numbers.fillna(default).astype("int64") if default is not None else numbers
        elif kind in ("date", "datetime"):
            parsed = _datetimes(values, entity, name)
            mark(np.flatnonzero(_lost(parsed, values)), values, name, "not_a_date")
            data[name] = parsed.dt.normalize() if kind == "date" else parsed
        else:  # bool
            convert = _as_bool(entity, name, column_default(entity, name))
            flags = []
            for position, value in enumerate(values):
                try:
                    flags.append(convert(value))
                except ExtractError:
                    flags.append(bool(column_default(entity, name)))
                    mark([position], values, name, "not_a_boolean")
            data[name] = pd.Series(flags, dtype=bool)
    frame = pd.DataFrame(data, columns=columns)
    if problems:
        log.warning("%s: %d row(s) have values that cannot be read; validation quarantines them", entity, len(problems))
        frame[UNREADABLE] = [problems.get(position) for position in range(len(frame))]
    return frame


def _lost(parsed: pd.Series, values: Sequence[Any]) -> np.ndarray:
    """Positions where a value was present but could not be converted (NaN stays NaN, not lost)."""
    raw = pd.Series(values, dtype=object)
    present = raw.map(lambda v: v is not None and not (isinstance(v, float) and v != v)).to_numpy(dtype=bool)
    return parsed.isna().to_numpy() & present


def empty_frame(entity: str) -> pd.DataFrame:
    """A frame with the entity's canonical columns and dtypes and no rows."""
    return to_canonical_frame(entity, [])


def _decode_sqlite_text(engine: sa.Engine) -> None:
    """SQLite stores whatever bytes it is given; read text that is not UTF-8 with replacement
    characters instead of failing the whole query, so that one row is quarantined (``not_text``)."""
    if engine.dialect.name != "sqlite" or getattr(engine, "_qbo_text_factory", False):
        return

    @sa.event.listens_for(engine, "connect")
    def _text_factory(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.text_factory = lambda raw: raw.decode("utf-8", "replace")

    engine._qbo_text_factory = True  # type: ignore[attr-defined]


def _sessions_in_utc(engine: sa.Engine) -> None:
    """Make every session of ``engine`` speak UTC, so naive-UTC watermarks compare correctly
    with time-zone-aware columns (PostgreSQL ``timestamptz``, MySQL ``TIMESTAMP``)."""
    statement = {"postgresql": "SET TIME ZONE 'UTC'", "mysql": "SET time_zone = '+00:00'",
                 "mariadb": "SET time_zone = '+00:00'"}.get(engine.dialect.name)
    if statement is None or getattr(engine, "_qbo_utc_sessions", False):
        return

    @sa.event.listens_for(engine, "connect")
    def _set_utc(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        if engine.dialect.name == "postgresql":
            dbapi_connection.commit()

    engine._qbo_utc_sessions = True


FINGERPRINT_EXCLUDED = ("updated_at", UNREADABLE)


def fingerprint_rows(frame: pd.DataFrame) -> pd.Series:
    """A 64-bit content hash per canonical row (hex), over every column but ``updated_at``.

    pandas' row hashing is vectorized and keyed with a fixed key, so the same values give the
    same fingerprint in every run and process.
    """
    columns = [c for c in frame.columns if c not in FINGERPRINT_EXCLUDED]
    hashed = pd.util.hash_pandas_object(frame[columns].astype(object).where(frame[columns].notna(), None),
                                        index=False)
    return pd.Series([f"{int(h):016x}" for h in hashed.to_numpy()], index=frame.index, dtype=object)


@dataclass
class ChangedRows:
    """What changed in one entity since the last export: the rows to export and what to remember.

    ``rows`` / ``children``: complete changed records (an invoice with all its lines).
    ``fingerprints``: per stamp-less table, source id -> fingerprint of the rows that are new or
    changed (children: keyed by parent id); ``removed``: per table, ids fingerprinted before and
    gone now. Save both with ``Ledger.save_fingerprints`` once the export finished.
    """

    rows: pd.DataFrame
    children: pd.DataFrame | None
    fingerprints: dict[str, dict[str, str]]
    removed: dict[str, set[str]]


class SourceReader:
    """Reads canonical entities from one source database through a mapping.

    ``url`` is any SQLAlchemy URL (``sqlite:///file.db``, ``postgresql+psycopg2://...``,
    ``mysql+pymysql://...``); ``mapping`` is ``"canonical"``, ``"example:<name>"``, a YAML
    path or a ``Mapping``. The mapping is checked against the database on first use.
    """

    def __init__(self, url: str, mapping: str | Mapping = "canonical", *, engine: sa.Engine | None = None) -> None:
        self.url = url
        self.engine = engine or sa.create_engine(url)
        _sessions_in_utc(self.engine)
        _decode_sqlite_text(self.engine)
        self.mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
        self._checked = False

    @classmethod
    def from_config(cls, config: Any = None) -> SourceReader:
        """The reader of the pipeline file's ``source`` section (``load_config()`` when None)."""
        if config is None:
            from qbo_pipeline.config import load_config

            config = load_config()
        return cls(config.source.url, config.source.mapping)

    def __enter__(self) -> SourceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SourceReader({self.engine.url.render_as_string(hide_password=True)!r}, mapping={self.mapping.name!r})"

    # --- query building ---------------------------------------------------------------------
    def _ensure_checked(self) -> None:
        if not self._checked:
            if self.mapping.name == CANONICAL and not self.mapping.checked_against:
                self.mapping = canonical_mapping(engine=self.engine)  # the optional columns this database has
            check_mapping(self.mapping, self.engine)
            self._checked = True

    def _subquery(self, entity: str) -> sa.Subquery | None:
        em = self.mapping.entity(entity)
        return em.select() if em is not None else None

    def _changed_condition(self, entity: str, m: sa.Subquery, since: datetime) -> sa.ColumnElement[bool]:
        since = _naive_utc(since)
        cutoff = since - WATERMARK_OVERLAP if since - datetime.min > WATERMARK_OVERLAP else datetime.min
        threshold = sa.bindparam(None, cutoff, type_=sa.DateTime)
        condition = m.c.updated_at > threshold
        child = CHILDREN.get(entity)
        child_sq = self._subquery(child) if child else None
        if child_sq is not None:
            changed_children = sa.select(child_sq.c[PARENT_KEY[child]]).where(child_sq.c.updated_at > threshold)
            condition = sa.or_(condition, m.c.id.in_(changed_children))
        return condition

    def _window_condition(
        self, entity: str, m: sa.Subquery, window: tuple[date | None, date | None]
    ) -> sa.ColumnElement[bool]:
        """``start <= d < end``; an open start (None) also takes rows with no date, so they are
        validated (and quarantined) instead of never being read; an open end takes every later date."""
        column = model.ENTITIES[entity].txn_date_column
        if column is None:
            raise ValueError(f"{entity} has no transaction date, so it cannot be read by date window")
        start, end = window
        if start is not None and end is not None and start >= end:
            raise ValueError(f"empty window {start}..{end}: the end is exclusive and must be after the start")
        conditions = []
        if start is not None:
            conditions.append(m.c[column] >= sa.bindparam(None, start, type_=sa.Date))
        if end is not None:
            conditions.append(m.c[column] < sa.bindparam(None, end, type_=sa.Date))
        condition = sa.and_(sa.true(), *conditions)
        if start is None:
            condition = sa.or_(condition, m.c[column].is_(None))
        return condition

    def _statement(
        self,
        entity: str,
        since: datetime | None,
        window: tuple[date | None, date | None] | None,
        ids: Sequence[str] | None,
    ) -> sa.Select | None:
        m = self._subquery(entity)
        if m is None:
            return None
        parent = model.ENTITIES[entity].parent
        conditions: list[sa.ColumnElement[bool]] = []
        if parent is None:
            if since is not None:
                conditions.append(self._changed_condition(entity, m, since))
            if window is not None:
                conditions.append(self._window_condition(entity, m, window))
            if ids is not None:
                conditions.append(m.c.id.in_(list(ids)))
            order = [m.c.id]
        else:
            key = m.c[PARENT_KEY[entity]]
            if since is not None or window is not None:
                p = self._subquery(parent)
                parent_conditions = []
                if since is not None:
                    parent_conditions.append(self._changed_condition(parent, p, since))
                if window is not None:
                    parent_conditions.append(self._window_condition(parent, p, window))
                conditions.append(key.in_(sa.select(p.c.id).where(*parent_conditions)))
            if ids is not None:
                conditions.append(key.in_(list(ids)))
            order = [key, m.c.line_no if "line_no" in m.c else m.c.id, m.c.id]
        return sa.select(m).where(*conditions).order_by(*order)

    # --- reading --------------------------------------------------------------------------------
    def iter_chunks(
        self,
        entity: str,
        *,
        since: datetime | None = None,
        window: tuple[date | None, date | None] | None = None,
        ids: Sequence[str] | None = None,
        chunksize: int | None = None,
    ) -> Iterator[pd.DataFrame]:
        """Canonical frames of at most ``chunksize`` rows, streamed from the database.

        Arguments are checked (and the mapping against the database) before the first chunk.
        """
        if entity not in model.ENTITIES:
            raise KeyError(f"unknown entity {entity!r}; canonical entities are {sorted(model.ENTITIES)}")
        chunksize = DEFAULT_CHUNKSIZE if chunksize is None else chunksize
        if chunksize < 1:
            raise ValueError(f"chunksize must be positive, got {chunksize}")
        self._ensure_checked()
        if ids is None:
            statements = [self._statement(entity, since, window, None)]
        else:
            ids = [str(i) for i in ids]
            statements = [self._statement(entity, since, window, ids[start:start + IDS_PER_QUERY])
                          for start in range(0, len(ids), IDS_PER_QUERY)]
        return self._stream(entity, [s for s in statements if s is not None], chunksize)

    def _stream(self, entity: str, statements: list[sa.Select], chunksize: int) -> Iterator[pd.DataFrame]:
        total = 0
        for statement in statements:
            with self.engine.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=chunksize).execute(statement)
                em = self.mapping.entity(entity)
                sources = em.columns if em is not None else None
                for rows in result.partitions(chunksize):
                    total += len(rows)
                    yield to_canonical_frame(entity, rows, sources)
        log.debug("streamed %d %s row(s)", total, entity)

    def read(
        self,
        entity: str,
        *,
        since: datetime | None = None,
        window: tuple[date | None, date | None] | None = None,
        ids: Sequence[str] | None = None,
        chunksize: int | None = None,
    ) -> pd.DataFrame:
        """All matching rows of ``entity`` as one canonical frame (empty if the mapping leaves it out)."""
        chunks = list(self.iter_chunks(entity, since=since, window=window, ids=ids, chunksize=chunksize))
        if not chunks:
            return empty_frame(entity)
        frame = chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)
        log.info("read %d %s row(s) from %s", len(frame), entity, self.mapping.name)
        return frame

    def read_where(self, entity: str, column: str, values: Sequence[str]) -> pd.DataFrame:
        """Rows of ``entity`` (a child table too) whose ``column`` holds one of ``values``: the
        payments applied to some invoices, the invoices of some customers. Lets a sync read the
        neighbours of what changed instead of scanning the whole table."""
        self._ensure_checked()
        m = self._subquery(entity)
        values = sorted({str(v) for v in values})
        if m is None or not values:
            return empty_frame(entity)
        statements = [sa.select(m).where(m.c[column].in_(values[start:start + IDS_PER_QUERY])).order_by(m.c.id)
                      for start in range(0, len(values), IDS_PER_QUERY)]
        chunks = list(self._stream(entity, statements, DEFAULT_CHUNKSIZE))
        if not chunks:
            return empty_frame(entity)
        return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)

    def count(self, entity: str) -> int:
        """Number of rows of ``entity`` in the source."""
        self._ensure_checked()
        m = self._subquery(entity)
        if m is None:
            return 0
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(m)).scalar_one())

    def watermark(self, entity: str) -> datetime | None:
        """The latest ``updated_at`` of the entity, its children included (None when empty)."""
        self._ensure_checked()
        stamps = []
        for name in filter(None, (entity, CHILDREN.get(entity))):
            m = self._subquery(name)
            if m is None:
                continue
            with self.engine.connect() as conn:
                value = conn.execute(sa.select(sa.func.max(m.c.updated_at))).scalar()
            if value is not None:
                parsed = _datetimes([value], name, "updated_at").iloc[0]
                if not pd.isna(parsed):
                    stamps.append(parsed.to_pydatetime())
        return max(stamps) if stamps else None

    def stamped(self, entity: str) -> bool:
        """True when the entity (and its child table) has a modification stamp in the mapping."""
        em = self.mapping.entity(entity)
        return em is None or em.stamped

    def _fingerprints_of(self, entity: str, chunksize: int | None) -> dict[str, str]:
        """Source id -> fingerprint of every row; for a child table, one per parent (its children's
        fingerprints combined in child-id order, so an edited, added or removed line changes it)."""
        parent_key = PARENT_KEY.get(entity)
        out: dict[str, str] = {}
        per_parent: dict[str, list[tuple[str, str]]] = {}
        for chunk in self.iter_chunks(entity, chunksize=chunksize):
            prints = fingerprint_rows(chunk)
            if parent_key is None:
                out.update(zip(chunk["id"].astype(str), prints, strict=True))
            else:
                for parent, child, value in zip(chunk[parent_key].astype(str), chunk["id"].astype(str), prints,
                                                strict=True):
                    per_parent.setdefault(parent, []).append((child, value))
        for parent, members in per_parent.items():
            members.sort()
            digest = hashlib.blake2b("|".join(f"{c}={v}" for c, v in members).encode(), digest_size=8)
            out[parent] = digest.hexdigest()
        return out

    def changed_rows(self, entity: str, cursor: datetime | None,
                     fingerprints: dict[str, dict[str, str]] | None = None, *,
                     chunksize: int | None = None) -> ChangedRows:
        """The entity's rows changed since ``cursor`` (None: all), whatever stamps the source has.

        Stamped tables are filtered in the database (``updated_at`` after the cursor, with the
        overlap). A table mapped with ``watermark: none`` is read whole and each row compared
        with ``fingerprints[table]`` (from ``Ledger.fingerprints``): new or edited rows count as
        changed, back-dated ones included, and rows gone from the source are reported in
        ``removed``. A parent changes when any of its children did. ``cursor=None`` reads
        everything (a full sync) and still returns fresh fingerprints.
        """
        known = fingerprints or {}
        child = CHILDREN.get(entity)
        tables = [entity] + ([child] if child and self.mapping.entity(child) is not None else [])
        stampless = [t for t in tables if not self.stamped(t)]
        if not stampless:
            rows = self.read(entity, since=cursor, chunksize=chunksize)
            children = self.read(child, ids=list(rows["id"]), chunksize=chunksize) if len(tables) > 1 else None
            return ChangedRows(rows, children, {}, {})
        changed: set[str] = set()
        new_prints: dict[str, dict[str, str]] = {}
        removed: dict[str, set[str]] = {}
        for table in stampless:
            current = self._fingerprints_of(table, chunksize)
            before = known.get(table, {})
            new_prints[table] = {k: v for k, v in current.items() if before.get(k) != v}
            removed[table] = set(before) - set(current)
            changed |= set(new_prints[table])
            if cursor is None and table == entity:
                changed |= set(current)  # a full sync reads every record
        if self.stamped(entity):
            changed |= set(self.read(entity, since=cursor, chunksize=chunksize)["id"].astype(str))
        ids = sorted(changed, key=lambda v: (len(v), v))
        rows = self.read(entity, ids=ids, chunksize=chunksize) if ids else empty_frame(entity)
        children = None
        if len(tables) > 1:
            children = self.read(child, ids=ids, chunksize=chunksize) if ids else empty_frame(child)
        if entity in stampless:  # a parent fingerprinted but its changed ids point at no row: removed
            present = set(rows["id"].astype(str))
            new_prints[entity] = {k: v for k, v in new_prints[entity].items() if k in present}
        return ChangedRows(rows, children, new_prints, removed)

    def changed_dates(self, entity: str, since: datetime) -> list[date]:
        """Distinct transaction dates of rows changed after ``since`` (with the overlap), sorted.

        For a child entity, the dates of its changed parents. A sensor requests exactly
        these daily partitions.
        """
        self._ensure_checked()
        target = model.ENTITIES[entity].parent or entity
        column = model.ENTITIES[target].txn_date_column
        if column is None:
            raise ValueError(f"{entity} has no transaction date; read it with `since` instead")
        m = self._subquery(target)
        if m is None:
            return []
        statement = sa.select(m.c[column]).where(self._changed_condition(target, m, since)).distinct()
        with self.engine.connect() as conn:
            values = [row[0] for row in conn.execute(statement)]
        parsed = _datetimes(values, target, column).dropna()
        return sorted({ts.date() for ts in parsed})
