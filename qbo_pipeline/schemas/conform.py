"""Bring an extracted frame to the canonical column types before the contracts run.

Sources hand us ids as integers, money as ``Decimal`` or text, dates as strings or
timezone-aware timestamps. Conforming converts each column to the frame conventions of
:mod:`qbo_pipeline.source.model` and reports, per row, every value that could not be
converted, so that one unreadable amount quarantines one row instead of failing a run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qbo_pipeline.source.mapping import column_kind
from qbo_pipeline.source.model import ENTITIES

FAILURE_COLUMNS = ["row", "column", "check", "value"]

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n", ""}


class SchemaMismatchError(ValueError):
    """A frame lacks a column the canonical model requires: a mapping problem, not a row problem."""


# the source's column kinds, folded into the conversions this module knows
_CONVERSION = {"id": "text", "text": "text", "number": "number", "integer": "int", "date": "date",
               "datetime": "date", "bool": "bool"}


def _text(series: pd.Series) -> pd.Series:
    """Text as pandas' ``str`` dtype (missing = NaN), whatever the source stored."""
    if isinstance(series.dtype, pd.StringDtype):
        return series if series.dtype == "str" else series.astype("str")
    if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        return series.astype("str")

    def as_text(value: object) -> object:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return None
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return series.astype(object).map(as_text).astype("str")


def conform(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frame in canonical types (positional index) and the values that could not be converted.

    Returns ``(conformed, failures)`` where failures has columns ``row`` (position),
    ``column``, ``check`` (``not_a_number``, ``not_a_date``, ``not_a_boolean``) and ``value``.
    Optional columns the source does not have are added empty (or with the model default,
    e.g. ``line_no`` 1, ``active`` true); a missing required column raises
    :class:`SchemaMismatchError`.
    """
    entity = ENTITIES[table]
    frame = frame.reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    failures: list[pd.DataFrame] = []
    for column in entity.table.columns:
        name, kind = column.name, _CONVERSION[column_kind(table, column.name)]
        if name not in frame.columns:
            if kind == "bool" and column.default is not None:
                out[name] = pd.Series(bool(column.default.arg), index=frame.index)
                continue
            if kind == "int" and column.default is not None:
                out[name] = pd.Series(int(column.default.arg), index=frame.index, dtype="int64")
                continue
            if column.nullable and not column.primary_key:
                out[name] = pd.Series(np.nan if kind == "number" else None, index=frame.index,
                                      dtype="float64" if kind == "number" else "str")
                if kind == "date":
                    out[name] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
                continue
            raise SchemaMismatchError(
                f"{table}: column {name!r} is missing (have {sorted(frame.columns)}); "
                "check the source mapping"
            )
        raw = frame[name]
        if kind == "text":
            converted = _text(raw)
            bad = pd.Series(False, index=frame.index)
        elif kind in ("number", "int"):
            converted = pd.to_numeric(raw, errors="coerce").astype("float64")
            bad = (converted.isna() & raw.notna()) | np.isinf(converted)  # infinity is no amount either
            converted = converted.where(~np.isinf(converted))
            if kind == "int":
                if column.default is not None:
                    converted = converted.fillna(float(column.default.arg))
                if converted.notna().all() and (converted % 1 == 0).all():
                    converted = converted.astype("int64")
                else:
                    bad = bad | converted.isna() | (converted % 1 != 0)
                    converted = converted.where(~bad, -1).round().astype("int64")
        elif kind == "date":
            converted = _to_naive_datetime(raw)
            bad = converted.isna() & raw.notna()
        else:
            converted, bad = _to_bool(raw, bool(column.default.arg) if column.default is not None else False)
        if bad.any():
            check = {"number": "not_a_number", "int": "not_a_number", "date": "not_a_date", "bool": "not_a_boolean"}[kind]
            failures.append(pd.DataFrame({
                "row": np.flatnonzero(bad.to_numpy()),
                "column": name,
                "check": check,
                "value": raw[bad].astype(object).to_numpy(),
            }))
        out[name] = converted
    extra = [c for c in frame.columns if c not in out]
    conformed = pd.DataFrame(out, index=frame.index)
    for name in extra:
        conformed[name] = frame[name]
    failed = pd.concat(failures, ignore_index=True) if failures else pd.DataFrame(columns=FAILURE_COLUMNS)
    return conformed, failed


def _to_naive_datetime(raw: pd.Series) -> pd.Series:
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        return raw
    converted = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    return converted.dt.tz_localize(None)


def _to_bool(raw: pd.Series, default: bool) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_bool_dtype(raw.dtype) and not raw.isna().any():
        return raw.astype(bool), pd.Series(False, index=raw.index)

    def parse(value: object) -> object:
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            return default
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return None

    parsed = raw.astype(object).map(parse)
    bad = parsed.isna()
    return parsed.where(~bad, default).astype(bool), bad
