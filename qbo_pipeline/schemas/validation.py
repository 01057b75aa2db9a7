"""Validate one entity's frames: valid rows continue, failing rows are quarantined with reasons.

Every source row ends in exactly one place: the valid frames or the quarantine. A parent
whose child fails (an invoice with one bad line, a payment with one bad application) is
quarantined as a whole with its children, so it never reaches QBO half-built. A child
whose parent is not in the extraction at all is quarantined on its own (check ``orphan``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pandera.pandas as pa

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.schemas import checks
from qbo_pipeline.schemas.bookkeeping import MODELS as BOOKKEEPING_MODELS
from qbo_pipeline.schemas.bookkeeping import bookkeeping_rules
from qbo_pipeline.schemas.conform import FAILURE_COLUMNS, conform
from qbo_pipeline.schemas.models import MODELS as BILLING_MODELS
from qbo_pipeline.schemas.reasons import reason
from qbo_pipeline.source.model import UNREADABLE

log = logging.getLogger(__name__)

MODELS = {**BILLING_MODELS, **BOOKKEEPING_MODELS}
QUARANTINE_COLUMNS = ["entity", "source_id", "column", "check", "reason", "row_id"]



def _registered(entity: str) -> tuple[tuple[str, str] | None, str | None]:
    """``(child table and its parent key, transaction-date column)`` of ``entity``, from the entity registry
    (imported here, not at the top: the registry refers to ``validate``)."""
    from qbo_pipeline import entities

    try:
        spec = entities.entity(entity)
    except KeyError:
        raise ValueError(f"unknown entity {entity!r}; expected one of {', '.join(entities.NAMES)}") from None
    if spec.name != entity:
        raise ValueError(f"unknown entity {entity!r}; expected one of {', '.join(entities.NAMES)}")
    return spec.child, spec.txn_date


@dataclass
class ValidationResult:
    """Valid frames by table name, and one quarantine row per failure.

    Quarantine columns: ``entity`` (the exported entity, e.g. ``invoices``, or the child
    table for orphans), ``source_id`` (the id of that record), ``column`` (``invoice_lines.quantity``
    for a child's column), ``check``, ``reason`` (a sentence for a bookkeeper) and ``row_id``
    (the failing row itself: the line or application id, else the same as ``source_id``).
    """

    valid: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    entity: str = ""
    input_counts: dict[str, int] = field(default_factory=dict)


def quarantined_ids(result: ValidationResult, entity: str | None = None) -> set[str]:
    """Source ids of the quarantined records of ``entity`` (default: the validated entity)."""
    entity = entity or result.entity
    q = result.quarantine
    return set(q.loc[q["entity"] == entity, "source_id"])


def _pandera_failures(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    model = MODELS[table]
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        schema_level = cases[cases["index"].isna()]
        if not schema_level.empty:
            problems = "; ".join(f"{c}: {k} ({v})" for c, k, v in
                                 schema_level[["column", "check", "failure_case"]].itertuples(index=False))
            raise checks_error(table, problems) from exc
        column = cases["column"].where(cases["column"].notna(), None)
        check = cases["check"].astype(str).str.replace(r"\(.*$", "", regex=True)
        check = check.where(~check.str.startswith("dtype"), "dtype")
        out = pd.DataFrame({
            "row": cases["index"].astype("int64").to_numpy(),
            "column": column.to_numpy(),
            "check": check.to_numpy(),
            "value": cases["failure_case"].to_numpy(),
        })
        # A dataframe-level check reports every column of a failing row: keep one failure per row.
        frame_level = out["column"].isna() | (cases["schema_context"] == "DataFrameSchema").to_numpy()
        if frame_level.any():
            mains = {"amount_arithmetic": "amount", "discount_exceeds_amount": "discount",
                     "due_before_issue": "due_date"}
            fl = out[frame_level].drop_duplicates(["row", "check"]).copy()
            fl["column"] = fl["check"].map(mains).fillna("row")
            fl["value"] = [frame.at[r, c] if c in frame.columns else None for r, c in zip(fl["row"], fl["column"], strict=True)]
            out = pd.concat([out[~frame_level], fl], ignore_index=True)
        return out
    return pd.DataFrame(columns=FAILURE_COLUMNS)


def checks_error(table: str, problems: str) -> ValueError:
    return ValueError(f"{table}: the frame does not match the canonical model: {problems}")


def _drop_after_conversion(failed: pd.DataFrame, converted: pd.DataFrame) -> pd.DataFrame:
    """A value that could not be converted already failed; drop its follow-up 'missing' failure."""
    if converted.empty or failed.empty:
        return failed
    keys = set(zip(converted["row"], converted["column"], strict=True))
    follow_up = [(r, c) in keys and k == "not_nullable" for r, c, k in
                 zip(failed["row"], failed["column"], failed["check"], strict=True)]
    return failed[~np.asarray(follow_up, dtype=bool)]


def _unreadable_failures(frame: pd.DataFrame) -> pd.DataFrame:
    """Failures for the values extraction could not read (its ``_unreadable`` column)."""
    rows = []
    for position, problems in enumerate(frame[UNREADABLE]):
        if isinstance(problems, dict):
            rows += [(position, column, check, raw) for column, (check, raw) in problems.items()]
    return pd.DataFrame(rows, columns=FAILURE_COLUMNS)


def _table_failures(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    unreadable = None
    if UNREADABLE in frame.columns:
        unreadable = _unreadable_failures(frame)
        frame = frame.drop(columns=[UNREADABLE])
    conformed, converted = conform(table, frame)
    if unreadable is not None and not unreadable.empty:
        converted = pd.concat([c for c in (converted, unreadable) if not c.empty], ignore_index=True)
    failed = _pandera_failures(table, conformed)
    failed = _drop_after_conversion(failed, converted)
    return conformed, pd.concat([converted, failed], ignore_index=True)


def _known(entity: str, frames: dict[str, pd.DataFrame], known_ids: dict[str, set[str]] | None,
           own: pd.DataFrame | None = None) -> set[str] | None:
    """Ids a reference may point at, or None when nothing is known (the check is then not run)."""
    sets = []
    if known_ids is not None and entity in known_ids:
        sets.append({str(i) for i in known_ids[entity]})
    if entity in frames and frames[entity] is not None and "id" in frames[entity]:
        sets.append(set(frames[entity]["id"].dropna().astype(str)))
    if own is not None:
        sets.append(set(own["id"].dropna()))
    if not sets:
        return None
    return set().union(*sets)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and not p.empty]
    if not parts:
        return pd.DataFrame(columns=FAILURE_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def _quarantine_rows(table: str, frame: pd.DataFrame, failed: pd.DataFrame, *, entity: str,
                     source_ids: np.ndarray, prefix: str = "") -> pd.DataFrame:
    if failed.empty:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    rows = failed["row"].to_numpy(dtype="int64")
    records = frame.iloc[rows].to_dict("records")
    reasons = [reason(table, rec, col, chk, val) for rec, col, chk, val in
               zip(records, failed["column"], failed["check"], failed["value"], strict=True)]
    ids = frame["id"].to_numpy()[rows]
    return pd.DataFrame({
        "entity": entity,
        "source_id": [str(s) if s is not None and s == s else f"row {r}" for s, r in zip(source_ids[rows], rows, strict=True)],
        "column": [prefix + str(c) for c in failed["column"]],
        "check": failed["check"].to_numpy(),
        "reason": reasons,
        "row_id": [str(s) if s is not None and s == s else f"row {r}" for s, r in zip(ids, rows, strict=True)],
    })


def validate(entity: str, frames: dict[str, pd.DataFrame], *, known_ids: dict[str, set[str]] | None = None,
             config: PipelineConfig | None = None, as_of: date | None = None,
             customer_currencies: Mapping[str, str | None] | None = None) -> ValidationResult:
    """Validate ``entity`` (and its child table) lazily; quarantine failing rows with a reason.

    ``frames`` holds the entity's frame and, for invoices and payments, the child frame
    (``invoice_lines``, ``payment_applications``); it may also hold referenced frames
    (``customers``...) whose ids then count as known. ``known_ids`` holds ids of referenced
    records that exist: this extraction's plus those exported by earlier syncs. A reference
    check runs only when something is known about the referenced entity.

    ``as_of`` (default: today, UTC) is the day after which a transaction date is in the
    future. ``customer_currencies`` (customer id -> ISO code, empty = home currency) enables
    the currency check of transactions; the currencies of a ``customers`` frame in
    ``frames`` count too.
    """
    child_of, txn_date = _registered(entity)
    if entity not in frames:
        raise ValueError(f"validate({entity!r}): frames has no {entity!r} frame (have {sorted(frames)})")
    main, main_failed = _table_failures(entity, frames[entity])
    counts = {entity: len(main)}
    child_table, child_key = child_of or (None, None)
    child = child_failed = None
    if child_table is not None:
        if child_table not in frames:
            raise ValueError(f"validate({entity!r}): frames needs the child frame {child_table!r}")
        child, child_failed = _table_failures(child_table, frames[child_table])
        counts[child_table] = len(child)

    extra_main: list[pd.DataFrame] = []
    extra_child: list[pd.DataFrame] = []
    if entity == "customers":
        extra_main += checks.customer_rules(main, _known("customers", {}, known_ids))
    elif entity == "products":
        extra_main += checks.product_rules(main, config)
    elif entity == "invoices":
        extra_main += checks.invoice_rules(main, child, _known("customers", frames, known_ids))
        extra_child += checks.line_rules(child, _known("products", frames, known_ids), config)
    elif entity == "payments":
        on_payments, on_apps = checks.payment_rules(
            main, child, _known("customers", frames, known_ids), _known("invoices", frames, known_ids))
        extra_main += on_payments
        extra_child += on_apps
    elif entity in ("credits", "refunds"):
        known = {name: _known(name, frames, known_ids) for name in ("customers", "invoices", "products", "payments")}
        extra_main += (checks.credit_rules if entity == "credits" else checks.refund_rules)(main, known)
    else:
        on_main, on_child = bookkeeping_rules(entity, main, child, lambda name: _known(name, frames, known_ids))
        extra_main += on_main
        extra_child += on_child
    if txn_date is not None:
        extra_main.append(checks.future_dated(main, txn_date, as_of or datetime.now(UTC).date()))
        currencies = dict(customer_currencies or {})
        if "customers" in frames and frames["customers"] is not None and "currency" in frames["customers"]:
            customers = frames["customers"]
            currencies.update(zip(customers["id"].astype(str), customers["currency"], strict=True))
        if currencies and "customer_id" in main:
            home = config.options.home_currency if config is not None else "USD"
            extra_main.append(checks.currency_mismatch(main, currencies, home))
    main_failed = _concat([main_failed, *extra_main])

    parts = [_quarantine_rows(entity, main, main_failed, entity=entity, source_ids=main["id"].to_numpy())]
    bad_parents = set(main["id"].to_numpy()[main_failed["row"].to_numpy(dtype="int64")]) if not main_failed.empty else set()
    valid = {}
    if child is not None:
        child_failed = _concat([child_failed, *extra_child])
        parent_ids = child[child_key].to_numpy()
        orphan_mask = ~child[child_key].isin(set(main["id"].dropna())).to_numpy()
        orphan_rows = np.flatnonzero(orphan_mask)
        orphans = checks.failures(orphan_rows, child_key, "orphan", parent_ids[orphan_rows])
        has_parent = ~np.isin(child_failed["row"].to_numpy(dtype="int64"), orphan_rows)
        parts.append(_quarantine_rows(child_table, child, child_failed[has_parent], entity=entity,
                                      source_ids=parent_ids, prefix=f"{child_table}."))
        parts.append(_quarantine_rows(child_table, child, orphans, entity=child_table,
                                      source_ids=child["id"].to_numpy()))
        if has_parent.any():
            bad_parents |= set(parent_ids[child_failed["row"].to_numpy(dtype="int64")[has_parent]])
        child_ok = ~orphan_mask & ~child[child_key].isin(bad_parents).to_numpy()
        valid[child_table] = child[child_ok].reset_index(drop=True)
    valid_main = main[~main["id"].isin(bad_parents).to_numpy() & main["id"].notna().to_numpy()]
    valid[entity] = valid_main.reset_index(drop=True)
    parts = [p for p in parts if not p.empty]
    quarantine = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=QUARANTINE_COLUMNS))
    quarantine = quarantine.astype(object)
    if len(quarantine):
        log.info("%s: %d valid, %d quarantined (%d failures)", entity, len(valid_main),
                 quarantine.loc[quarantine["entity"] == entity, "source_id"].nunique(), len(quarantine))
    return ValidationResult(valid=valid, quarantine=quarantine, entity=entity, input_counts=counts)
