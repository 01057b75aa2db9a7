"""Declarative mappings: how a foreign billing schema reads as the canonical model.

Every billing system names the same facts differently (``tblclients.companyname``,
``users.billing_company``...). A mapping YAML says, per canonical entity, which table
(or SQL query) holds it and which source column (or SQL expression, or constant) feeds
each canonical column, plus the ``updated_at`` watermark column used for incremental
extraction. The extractor turns it into one SQL ``SELECT ... AS <canonical name>`` per
entity, so filtering and streaming happen in the database, whatever its schema.

Mistakes are reported when the mapping is loaded, not half-way through an export: the
file, the entity and the column are named (unknown table or column, a date mapped onto
a text column, a YAML typo).

File format (see docs/mapping.md)::

    name: hosting_billing
    schema: null                 # optional database schema of every table
    entities:
      customers:
        table: tblclients        # or `query: SELECT ...`
        watermark: updated       # source column for canonical updated_at
        columns:
          id: clientid                        # a source column
          display_name: {sql: "COALESCE(companyname, lastname)"}   # an SQL expression
          currency: {value: USD}               # a constant
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from qbo_pipeline.source import model

MAPPINGS_DIR = Path(__file__).with_name("mappings")
EXAMPLE_PREFIX = "example:"
CANONICAL = "canonical"

# child entity -> the column that points at its parent
PARENT_KEY = {"invoice_lines": "invoice_id", "payment_applications": "payment_id", **model.BOOKKEEPING_PARENT_KEYS}
CHILDREN = {parent: child for child, parent in ((e.name, e.parent) for e in model.ENTITIES.values()) if parent}

_ENTITY_KEYS = {"table", "query", "columns", "watermark", "schema"}
NO_STAMP = "1970-01-01 00:00:00"
"""``updated_at`` of rows of a table mapped with ``watermark: none``."""


class MappingError(ValueError):
    """A mapping that cannot be used; the message names the file, entity and column."""


def column_kind(entity: str, column: str) -> str:
    """The value kind of a canonical column: id, text, number, integer, date, datetime or bool."""
    col = model.ENTITIES[entity].table.c[column]
    if isinstance(col.type, sa.Boolean):
        return "bool"
    if isinstance(col.type, sa.DateTime):
        return "datetime"
    if isinstance(col.type, sa.Date):
        return "date"
    if isinstance(col.type, sa.Integer):
        return "integer"
    if isinstance(col.type, sa.Numeric):
        return "number"
    if column == "id" or column.endswith("_id"):
        return "id"
    return "text"


def column_default(entity: str, column: str) -> Any:
    """The value a NULL (or unmapped) column takes, from the model's column default."""
    default = model.ENTITIES[entity].table.c[column].default
    return default.arg if default is not None and not callable(default.arg) else None


_FORMAT_TOKENS = (("YYYY", "%Y"), ("YY", "%y"), ("MM", "%m"), ("DD", "%d"), ("HH", "%H"), ("mm", "%M"),
                  ("ss", "%S"))


def strptime_format(declared: str) -> str:
    """``DD.MM.YYYY`` -> ``%d.%m.%Y`` (a format with ``%`` is taken as strptime's own)."""
    if "%" in declared:
        return declared
    out, rest = "", declared
    while rest:
        for token, directive in _FORMAT_TOKENS:
            if rest.startswith(token):
                out, rest = out + directive, rest[len(token):]
                break
        else:
            out, rest = out + rest[0], rest[1:]
    return out


def value_key(value: Any) -> str:
    """How a source value is compared with the keys of a ``values:`` list: trimmed text, case-folded;
    integral numbers without decimals (``1``, ``1.0`` and ``Decimal('1')`` all read ``1``)."""
    if isinstance(value, bool):
        return str(value).casefold()
    if isinstance(value, float | int) or type(value).__name__ == "Decimal":
        number = float(value)
        if number.is_integer():
            return str(int(number))
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip().casefold()


@dataclass(frozen=True)
class ColumnSource:
    """Where one canonical column comes from: exactly one of a column, an SQL expression or a constant.

    ``format`` (dates kept as text: ``DD.MM.YYYY``) and ``values`` (source value -> canonical
    value, e.g. ``{Active: true, Inactive: false}`` or ``{1: draft, 2: sent}``) declare how to
    read the values; a value that does not parse or is not listed quarantines its row.
    """

    column: str | None = None
    sql: str | None = None
    value: Any = None
    constant: bool = False
    format: str | None = None
    values: tuple[tuple[str, Any], ...] | None = None

    @property
    def value_map(self) -> dict[str, Any]:
        return dict(self.values or ())

    @property
    def strptime(self) -> str | None:
        return strptime_format(self.format) if self.format else None

    def describe(self) -> str:
        if self.column is not None:
            return f"column {self.column!r}"
        if self.sql is not None:
            return f"SQL expression {self.sql!r}"
        return f"constant {self.value!r}"


@dataclass(frozen=True)
class EntityMapping:
    """One canonical entity read from a table or a query of the source database."""

    name: str
    columns: dict[str, ColumnSource]
    table: str | None = None
    query: str | None = None
    schema: str | None = None
    stamped: bool = True  # False: `watermark: none`, changes are found by content fingerprints

    @property
    def source_label(self) -> str:
        return f"table {self.table!r}" if self.table else "query"

    def referenced_columns(self) -> list[str]:
        return sorted({s.column for s in self.columns.values() if s.column is not None})

    def _source(self) -> sa.FromClause:
        referenced = [sa.column(c) for c in self.referenced_columns()]
        if self.table:
            return sa.table(self.table, *referenced, schema=self.schema).alias()
        return sa.text(self.query.strip().rstrip(";")).columns(*referenced).subquery()

    def _expression(self, source: sa.FromClause, column: str) -> sa.ColumnElement:
        spec = self.columns.get(column)
        if spec is None:
            if column == "line_no" and self.name in PARENT_KEY:
                # unnumbered lines are numbered per parent in source-id order
                parent = self._expression(source, PARENT_KEY[self.name])
                return sa.func.row_number().over(partition_by=parent, order_by=self._expression(source, "id"))
            return sa.null()
        if spec.column is not None:
            return source.c[spec.column]
        if spec.sql is not None:
            return sa.literal_column(f"({spec.sql})")
        if spec.value is None:
            return sa.null()
        return sa.literal(spec.value)

    def select(self) -> sa.Subquery:
        """The entity as an anonymous subquery whose columns carry the canonical names."""
        source = self._source()
        labelled = [self._expression(source, c).label(c) for c in model.ENTITIES[self.name].columns]
        return sa.select(*labelled).select_from(source).subquery()


@dataclass(frozen=True)
class Mapping:
    """How each canonical entity is read; entities left out read as empty frames."""

    name: str
    entities: dict[str, EntityMapping]
    path: str = CANONICAL
    checked_against: set[str] = field(default_factory=set, compare=False)

    def entity(self, name: str) -> EntityMapping | None:
        if name not in model.ENTITIES:
            raise KeyError(f"unknown entity {name!r}; canonical entities are {sorted(model.ENTITIES)}")
        return self.entities.get(name)


def canonical_mapping(schema: str | None = None, engine: sa.Engine | None = None) -> Mapping:
    """The identity mapping: the source already has the canonical tables (the demo database).

    Columns added after the first release (``model.OPTIONAL_COLUMNS``) are read where the
    database has them and read as empty where a database made by an earlier version lacks them;
    without an ``engine`` to ask, they are left out.
    """
    present: dict[str, set[str]] = {}
    if engine is not None:
        inspector = sa.inspect(engine)
        for name in model.OPTIONAL_COLUMNS:
            if inspector.has_table(name, schema=schema):
                present[name] = {c["name"] for c in inspector.get_columns(name, schema=schema)}
    return Mapping(
        name=CANONICAL,
        entities={
            name: EntityMapping(name, {c: ColumnSource(column=c) for c in entity.columns
                                       if c not in model.OPTIONAL_COLUMNS.get(name, ()) or c in present.get(name, ())},
                                table=name, schema=schema)
            for name, entity in model.ENTITIES.items()
        },
    )


def example_mappings() -> list[str]:
    """Names of the shipped example mappings (usable as ``example:<name>``)."""
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml"))


def _resolve_path(spec: str) -> Path:
    if spec.startswith(EXAMPLE_PREFIX):
        name = spec.removeprefix(EXAMPLE_PREFIX)
        path = MAPPINGS_DIR / f"{name}.yaml"
        if not path.exists():
            raise MappingError(f"{spec}: no such example mapping; shipped examples: {example_mappings()}")
        return path
    return Path(spec)


def _parse_column(where: str, spec: Any, entity: str | None = None, column: str | None = None) -> ColumnSource:
    if isinstance(spec, str) and spec.strip():
        return ColumnSource(column=spec.strip())
    if isinstance(spec, dict) and spec and set(spec) <= {"column", "sql", "value", "format", "values"}:
        sources = [k for k in ("column", "sql", "value") if k in spec]
        if len(sources) == 1:
            key, value = sources[0], spec[sources[0]]
            base: ColumnSource | None = None
            if key == "column" and isinstance(value, str) and value.strip():
                base = ColumnSource(column=value.strip())
            elif key == "sql" and isinstance(value, str) and value.strip():
                base = ColumnSource(sql=value.strip())
            elif key == "value" and len(spec) == 1 and (value is None or isinstance(value, str | int | float | bool)):
                return ColumnSource(value=value, constant=True)
            if base is not None:
                fmt = _parse_format(where, spec.get("format"), entity, column) if "format" in spec else None
                values = _parse_values(where, spec.get("values"), entity, column) if "values" in spec else None
                return ColumnSource(column=base.column, sql=base.sql, format=fmt, values=values)
    raise MappingError(
        f"{where}: expected a source column name, {{column: NAME}}, {{sql: EXPRESSION}} or {{value: CONSTANT}} "
        f"(a column or expression may add `format:` for dates kept as text, or `values:` listing its values), "
        f"got {spec!r}"
    )


def _parse_format(where: str, declared: Any, entity: str | None, column: str | None) -> str:
    kind = column_kind(entity, column) if entity and column else None
    if kind not in ("date", "datetime"):
        raise MappingError(f"{where}: `format` is for date columns, and {column!r} holds a {kind}")
    if not isinstance(declared, str) or not declared.strip():
        raise MappingError(f"{where}: `format` must be a date format such as DD.MM.YYYY, got {declared!r}")
    directives = strptime_format(declared.strip())
    if not all(d in directives for d in ("%d", "%m")) or not ("%Y" in directives or "%y" in directives):
        raise MappingError(f"{where}: the date format {declared!r} does not name a day (DD), a month (MM) and a "
                           f"year (YYYY); use tokens DD, MM, YYYY, YY, HH, mm, ss or strptime's %-codes")
    sample = datetime(2024, 12, 31, 23, 59, 58)
    try:
        if datetime.strptime(sample.strftime(directives), directives).date() != sample.date():
            raise ValueError("does not read back")
    except ValueError as exc:
        raise MappingError(f"{where}: the date format {declared!r} cannot be read back unambiguously ({exc})") from exc
    return declared.strip()


def _parse_values(where: str, declared: Any, entity: str | None, column: str | None) -> tuple[tuple[str, Any], ...]:
    kind = column_kind(entity, column) if entity and column else None
    if not isinstance(declared, dict) or not declared:
        raise MappingError(f"{where}: `values` must map source values to canonical ones, e.g. "
                           f"{{Active: true, Inactive: false}}, got {declared!r}")
    allowed = model.CANONICAL_VALUES.get((entity, column)) if entity and column else None
    pairs: dict[str, Any] = {}
    for source, target in declared.items():
        key = value_key(source)
        if key in pairs:
            raise MappingError(f"{where}: `values` lists {source!r} twice (keys are compared trimmed, any case)")
        if kind == "bool" and not isinstance(target, bool):
            raise MappingError(f"{where}: `values` of the boolean column {column!r} must be true or false, "
                               f"got {source!r}: {target!r}")
        if kind not in ("bool", "text", "id"):
            raise MappingError(f"{where}: `values` is for boolean and text columns, and {column!r} holds a {kind}")
        if allowed is not None and target not in allowed and target is not None:
            raise MappingError(f"{where}: `values` maps {source!r} to {target!r}, which is not one of {list(allowed)}")
        pairs[key] = target
    return tuple(pairs.items())


def _parse_entity(path: str, name: str, spec: Any, default_schema: str | None) -> EntityMapping:
    where = f"{path}: entity {name!r}"
    if name not in model.ENTITIES:
        raise MappingError(f"{where}: unknown entity; canonical entities are {sorted(model.ENTITIES)}")
    if not isinstance(spec, dict):
        raise MappingError(f"{where}: expected a mapping with `table` or `query` and `columns`")
    unknown = set(spec) - _ENTITY_KEYS
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_ENTITY_KEYS)}")
    table, query = spec.get("table"), spec.get("query")
    if bool(table) == bool(query):
        raise MappingError(f"{where}: give exactly one of `table` (a table name) or `query` (an SQL SELECT)")
    for key, value in (("table", table), ("query", query)):
        if value is not None and not isinstance(value, str):
            raise MappingError(f"{where}: `{key}` must be a string, got {value!r}")
    raw_columns = spec.get("columns") or {}
    if not isinstance(raw_columns, dict):
        raise MappingError(f"{where}: `columns` must map canonical column names to sources")
    canonical = model.ENTITIES[name].columns
    columns: dict[str, ColumnSource] = {}
    for column, source in raw_columns.items():
        if column not in canonical:
            raise MappingError(f"{where}, column {column!r}: not a canonical column of {name}; expected one of {canonical}")
        columns[column] = _parse_column(f"{where}, column {column!r}", source, name, column)
    stamped = True
    if "watermark" in spec:
        if "updated_at" in columns:
            raise MappingError(f"{where}: give the watermark either as `watermark` or as columns.updated_at, not both")
        if spec["watermark"] is None or str(spec["watermark"]).strip().lower() == "none":
            # no usable modification stamp: rows are compared by content (SourceReader.changed_rows)
            stamped = False
            columns["updated_at"] = ColumnSource(value=NO_STAMP, constant=True)
        else:
            columns["updated_at"] = _parse_column(f"{where}, watermark", spec["watermark"])
    required = ["id", "updated_at"] + ([PARENT_KEY[name]] if name in PARENT_KEY else [])
    for column in required:
        if column not in columns:
            hint = (" (the watermark: set `watermark: <column>`, or `watermark: none` for a table without a "
                    "modification stamp)") if column == "updated_at" else ""
            raise MappingError(f"{where}, column {column!r}: required but not mapped{hint}")
    return EntityMapping(name, columns, table=table, query=query, schema=spec.get("schema", default_schema),
                         stamped=stamped)


def parse_mapping(data: Any, path: str = "<mapping>") -> Mapping:
    """A ``Mapping`` from already-parsed YAML data (structure checks only, no database)."""
    if not isinstance(data, dict) or not isinstance(data.get("entities"), dict) or not data["entities"]:
        raise MappingError(f"{path}: expected a top-level `entities:` mapping of canonical entity names")
    unknown = set(data) - {"name", "description", "schema", "entities"}
    if unknown:
        raise MappingError(f"{path}: unknown top-level key(s) {sorted(unknown)}; allowed: description, entities, name, schema")
    entities = {name: _parse_entity(path, name, spec, data.get("schema")) for name, spec in data["entities"].items()}
    for child, parent in ((c, model.ENTITIES[c].parent) for c in entities if model.ENTITIES[c].parent):
        if parent not in entities:
            raise MappingError(f"{path}: entity {child!r} is mapped but its parent {parent!r} is not")
    return Mapping(name=str(data.get("name") or Path(path).stem), entities=entities, path=path)


# --- checking against a database ------------------------------------------------------------

_ACCEPTS: dict[str, tuple[type, ...]] = {
    "id": (sa.String, sa.Integer, sa.Numeric),
    "number": (sa.Numeric, sa.Integer),
    "integer": (sa.Integer, sa.Numeric),
    "date": (sa.Date, sa.DateTime),
    "datetime": (sa.DateTime, sa.Date),
    "bool": (sa.Boolean, sa.Integer),
}
_HINTS = {
    "date": "map a DATE/TIMESTAMP column, or convert with {sql: ...}",
    "datetime": "map a TIMESTAMP/DATETIME column, or convert with {sql: ...}",
    "number": "map a numeric column, or cast with {sql: CAST(x AS DECIMAL(18,4))} (MySQL has no CAST AS NUMERIC)",
    "integer": "map an integer column",
    "bool": "map a boolean or 0/1 column, or use {sql: \"CASE WHEN x = 'Y' THEN 1 ELSE 0 END\"}",
    "id": "map a text or integer column",
}


def _type_ok(kind: str, db_type: sa.types.TypeEngine, dialect: str) -> bool:
    if kind == "text" or isinstance(db_type, sa.types.NullType):
        return True
    if isinstance(db_type, sa.Boolean) and kind not in ("bool",):
        return False
    if dialect == "sqlite" and kind in ("date", "datetime") and isinstance(db_type, sa.String):
        return True  # SQLite has no date type: ISO text is the norm
    return isinstance(db_type, _ACCEPTS[kind])


def _check_entity(conn: sa.Connection, path: str, em: EntityMapping) -> None:
    where = f"{path}: entity {em.name!r}"
    dialect = conn.dialect.name
    if em.table:
        inspector = sa.inspect(conn)
        if not inspector.has_table(em.table, schema=em.schema):
            tables = sorted(inspector.get_table_names(schema=em.schema))
            raise MappingError(f"{where}: table {em.table!r} not found in the database (tables: {tables})")
        db_columns = {c["name"]: c["type"] for c in inspector.get_columns(em.table, schema=em.schema)}
    else:
        probe = sa.select(sa.text("*")).select_from(sa.text(f"({em.query.strip().rstrip(';')}) AS probe")).limit(0)
        try:
            names = list(conn.execute(probe).keys())
            db_columns = dict.fromkeys(names, sa.types.NULLTYPE)
        except sa.exc.DBAPIError as exc:
            raise MappingError(f"{where}: the query fails: {exc.orig}") from exc
    for column, source in em.columns.items():
        if source.column is None:
            continue
        if source.column not in db_columns:
            raise MappingError(
                f"{where}, column {column!r}: source column {source.column!r} not found in {em.source_label} "
                f"(columns: {sorted(db_columns)})"
            )
        kind = column_kind(em.name, column)
        if source.values is not None or (source.format and isinstance(db_columns[source.column], sa.String)):
            continue  # read as declared: values that do not parse quarantine their row
        if not _type_ok(kind, db_columns[source.column], dialect):
            raise MappingError(
                f"{where}, column {column!r}: source column {source.column!r} has type {db_columns[source.column]} "
                f"which cannot hold a {kind}; {_HINTS[kind]}"
            )
    try:
        conn.execute(sa.select(em.select()).limit(0)).close()
    except sa.exc.DBAPIError as first_error:
        conn.rollback()
        source = em._source()
        for column, spec in em.columns.items():
            if spec.sql is None:
                continue
            try:
                conn.execute(sa.select(sa.literal_column(f"({spec.sql})")).select_from(source).limit(0)).close()
            except sa.exc.DBAPIError as exc:
                conn.rollback()
                raise MappingError(f"{where}, column {column!r}: the SQL expression {spec.sql!r} fails: {exc.orig}") from exc
        raise MappingError(f"{where}: reading the entity fails: {first_error.orig}") from first_error


def check_mapping(mapping: Mapping, engine: sa.Engine) -> None:
    """Check every mapped table, column, type and expression against the database."""
    with engine.connect() as conn:
        for em in mapping.entities.values():
            _check_entity(conn, mapping.path, em)
    mapping.checked_against.add(engine.url.render_as_string(hide_password=True))


def load_mapping(spec: str | Path, engine: sa.Engine | None = None) -> Mapping:
    """The mapping named by ``spec``: ``"canonical"``, ``"example:<name>"`` or a YAML file path.

    With an ``engine``, it is also checked against that database (``MappingError`` names
    the file, entity and column of the first problem).
    """
    spec = str(spec)
    if spec == CANONICAL:
        mapping = canonical_mapping(engine=engine)
    else:
        path = _resolve_path(spec)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError as exc:
            raise MappingError(f"{path}: mapping file not found (or use 'canonical' / 'example:<name>', "
                               f"examples: {example_mappings()})") from exc
        except yaml.YAMLError as exc:
            raise MappingError(f"{path}: not valid YAML: {exc}") from exc
        mapping = parse_mapping(data, str(path))
    if engine is not None:
        check_mapping(mapping, engine)
    return mapping
