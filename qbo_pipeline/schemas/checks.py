"""Rules that look across rows and tables: references, hierarchies, totals.

Each function takes conformed frames and returns failures as a frame with columns
``row`` (position in the checked frame), ``column``, ``check`` and ``value``. References
are checked against the ids the caller knows exist: this extraction *and* earlier syncs,
so an incremental run whose invoice points at a customer exported last week passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import numpy as np
import pandas as pd

from qbo_pipeline.config import PipelineConfig

FAILURE_COLUMNS = ["row", "column", "check", "value"]
MAX_SUB_CUSTOMER_DEPTH = 4  # QBO: at most 4 levels of sub-customers under a top-level customer
CENT_TOLERANCE = 0.005 + 1e-9


def failures(rows: Iterable[int] | np.ndarray, column: str, check: str, values: Iterable[object]) -> pd.DataFrame:
    rows = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows, dtype="int64")
    return pd.DataFrame({"row": rows, "column": column, "check": check, "value": list(values)})


def _mask_failures(frame: pd.DataFrame, mask: pd.Series, column: str, check: str) -> pd.DataFrame:
    mask = mask.fillna(False).to_numpy(dtype=bool)
    rows = np.flatnonzero(mask)
    return failures(rows, column, check, frame[column].to_numpy()[rows] if column in frame else [None] * len(rows))


def unknown_reference(frame: pd.DataFrame, column: str, known: set[str], check: str) -> pd.DataFrame:
    """Rows whose ``column`` is set but names no known id."""
    values = frame[column]
    mask = values.notna() & ~values.isin(known)
    return _mask_failures(frame, mask, column, check)


def _blank(series: pd.Series) -> pd.Series:
    return series.isna() | (series.astype(object).fillna("").astype(str).str.strip() == "")


def customer_rules(customers: pd.DataFrame, known_customers: set[str] | None) -> list[pd.DataFrame]:
    """A name to show, a known parent, and a hierarchy QBO accepts (no loops, at most 4 levels)."""
    out = []
    nameless = (_blank(customers["display_name"]) & _blank(customers["company_name"])
                & _blank(customers["given_name"]) & _blank(customers["family_name"]))
    out.append(_mask_failures(customers, nameless, "display_name", "no_name"))
    has_parent = customers["parent_id"].notna()
    out.append(_mask_failures(customers, has_parent & (customers["parent_id"] == customers["id"]),
                              "parent_id", "parent_is_self"))
    if known_customers is not None:
        known = known_customers | set(customers["id"].dropna())
        out.append(unknown_reference(customers, "parent_id", known, "unknown_parent"))
    parents = dict(zip(customers["id"], customers["parent_id"], strict=False))
    cycle_rows, deep_rows = [], []
    for row, (cid, parent) in enumerate(zip(customers["id"], customers["parent_id"], strict=False)):
        if parent is None or parent != parent or parent == cid:
            continue
        depth, seen, current = 0, {cid}, parent
        while isinstance(current, str) and current in parents:
            depth += 1
            if current in seen:
                cycle_rows.append(row)
                break
            seen.add(current)
            current = parents[current]
            if current is None or current != current:
                break
        else:
            pass
        if row not in cycle_rows and depth > MAX_SUB_CUSTOMER_DEPTH:
            deep_rows.append(row)
    out.append(failures(cycle_rows, "parent_id", "parent_cycle", customers["parent_id"].to_numpy()[cycle_rows]))
    out.append(failures(deep_rows, "parent_id", "too_deep", customers["parent_id"].to_numpy()[deep_rows]))
    return out


def product_rules(products: pd.DataFrame, config: PipelineConfig | None = None) -> list[pd.DataFrame]:
    """An item needs a name (the SKU stands in when the name is empty); a name template uses only
    known tokens (a misspelt ``{custmer}`` would otherwise name every item literally)."""
    from qbo_pipeline.transform.product_names import unknown_placeholders

    nameless = _blank(products["name"]) & _blank(products["sku"])
    out = [_mask_failures(products, nameless, "name", "no_name"), *too_large(products, ("unit_price", "cost"))]
    if config is None or config.options.product_name_tokens:
        typo = products["name"].map(lambda name: bool(unknown_placeholders(name)))
        out.append(_mask_failures(products, typo, "name", "unknown_name_token"))
    return out


def invoice_rules(invoices: pd.DataFrame, lines: pd.DataFrame, known_customers: set[str] | None) -> list[pd.DataFrame]:
    """The customer exists; exported invoices have lines and a total that is not negative."""
    out = too_large(invoices, ("tax_amount", "discount_amount"))
    if known_customers is not None:
        out.append(unknown_reference(invoices, "customer_id", known_customers, "unknown_customer"))
    exported = (invoices["status"] != "draft") & ~invoices["deleted"]
    line_count = lines.groupby("invoice_id", sort=False).size()
    counts = invoices["id"].map(line_count).fillna(0)
    out.append(_mask_failures(invoices, exported & (counts == 0), "id", "no_lines"))
    out += number_rules(invoices, exported)
    net = (lines["amount"] - lines["discount"].fillna(0.0)).groupby(lines["invoice_id"], sort=False).sum()
    totals = invoices["id"].map(net).fillna(0.0)
    negative = exported & (totals < -CENT_TOLERANCE)
    rows = np.flatnonzero(negative.to_numpy())
    out.append(failures(rows, "amount", "negative_total", totals.to_numpy()[rows]))
    both = (invoices["discount_amount"].fillna(0.0) != 0) & (invoices["discount_percent"].fillna(0.0) != 0)
    out.append(_mask_failures(invoices, both, "discount_amount", "two_discounts"))
    line_tax = lines["tax_amount"].fillna(0.0).groupby(lines["invoice_id"], sort=False).sum()
    tax = invoices["id"].map(line_tax).fillna(0.0) + invoices["tax_amount"].fillna(0.0)
    base = totals + tax.where(invoices["discount_after_tax"].fillna(False).astype(bool), 0.0)
    too_big = exported & ~negative & (invoices["discount_amount"].fillna(0.0) > base + CENT_TOLERANCE)
    rows = np.flatnonzero(too_big.to_numpy())
    out.append(failures(rows, "discount_amount", "discount_exceeds_total",
                        [f"{d:.2f} (total {b:.2f})" for d, b in zip(invoices["discount_amount"].to_numpy()[rows],
                                                                    base.to_numpy()[rows], strict=True)]))
    return out


def _id_order(value: object) -> tuple[int, int, str]:
    text = str(value).strip()
    return (0, int(text), text) if text.isdigit() else (1, 0, text)


def number_rules(invoices: pd.DataFrame, exported: pd.Series) -> list[pd.DataFrame]:
    """Every exported invoice has its own number.

    QBO would give an invoice without a number one of its own, and the record could then
    never be found again by number (``no_number``). A number used by two different
    invoices would make the second take over the first in QBO (``number_reused``): the
    invoice with the smallest id (numeric ids by value) keeps it, the others are held back.
    """
    numbers = invoices["number"].astype(object).where(invoices["number"].notna(), None)
    cleaned = numbers.map(lambda v: v.strip().casefold() if isinstance(v, str) else "")
    exported = exported.fillna(False).to_numpy(dtype=bool)
    empty_rows = np.flatnonzero(exported & (cleaned == "").to_numpy())
    out = [failures(empty_rows, "number", "no_number", numbers.to_numpy()[empty_rows])]
    holders: dict[str, list[tuple[tuple[int, int, str], int]]] = {}
    for row in np.flatnonzero(exported & (cleaned != "").to_numpy()):
        holders.setdefault(cleaned.iat[row], []).append((_id_order(invoices["id"].iat[row]), int(row)))
    reused_rows, values = [], []
    for members in holders.values():
        if len(members) < 2:
            continue
        members.sort()
        first_id = members[0][0][2]
        for _, row in members[1:]:
            reused_rows.append(row)
            values.append(f"{numbers.iat[row]} (also on invoice {first_id})")
    out.append(failures(reused_rows, "number", "number_reused", values))
    return out


def line_rules(lines: pd.DataFrame, known_products: set[str] | None, config: PipelineConfig | None) -> list[pd.DataFrame]:
    """A billed product exists (or the line is free text); tax codes are mapped when mapping is on."""
    out = too_large(lines, ("quantity", "unit_price", "amount", "discount", "tax_amount"))
    if known_products is not None:
        out.append(unknown_reference(lines, "product_id", known_products, "unknown_product"))
    if config is not None and config.taxes.mode == "mapped":
        codes = lines["tax_code"]
        unmapped = codes.notna() & ~codes.isin(set(config.taxes.map))
        if config.taxes.default_code is None:
            unmapped = unmapped | codes.isna()
        out.append(_mask_failures(lines, unmapped, "tax_code", "unmapped_tax_code"))
        if config.taxes.rates and "tax_rate" in lines:
            out.append(_mask_failures(lines, tax_rate_mismatch(lines, config), "tax_rate", "tax_rate_mismatch"))
    return out


def tax_rate_mismatch(lines: pd.DataFrame, config: PipelineConfig) -> pd.Series:
    """A line taxed at a rate that is not its mapped QBO code's (the sum of ``taxes.rates``): its billed
    tax would be booked on the wrong QBO rates (say 13% HST billed, mapped to the 5% GST code)."""
    taxes = config.taxes
    totals = {code: sum(shares.values()) for code, shares in taxes.rates.items()}
    qbo_codes = lines["tax_code"].map(taxes.map)
    if taxes.default_code is not None:
        qbo_codes = qbo_codes.where(lines["tax_code"].notna(), taxes.default_code)
    expected = pd.to_numeric(qbo_codes.map(totals), errors="coerce")
    rate = pd.to_numeric(lines["tax_rate"], errors="coerce")
    return rate.notna() & expected.notna() & ((rate - expected).abs() > 0.0005)


def payment_rules(payments: pd.DataFrame, applications: pd.DataFrame, known_customers: set[str] | None,
                  known_invoices: set[str] | None) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """The customer and applied invoices exist; applications do not exceed the payment.

    Returns (failures on payments, failures on applications).
    """
    on_payments, on_applications = too_large(payments, ("amount",)), too_large(applications, ("amount",))
    if known_customers is not None:
        on_payments.append(unknown_reference(payments, "customer_id", known_customers, "unknown_customer"))
    if known_invoices is not None:
        on_applications.append(unknown_reference(applications, "invoice_id", known_invoices, "unknown_invoice"))
    applied = applications.groupby("payment_id", sort=False)["amount"].sum()
    total_applied = payments["id"].map(applied).fillna(0.0)
    over = (total_applied > payments["amount"] + CENT_TOLERANCE) & (payments["amount"] >= 0)  # negative: one reason
    rows = np.flatnonzero(over.to_numpy())
    on_payments.append(failures(rows, "amount", "overapplied", total_applied.to_numpy()[rows]))
    return on_payments, on_applications


def _references(frame: pd.DataFrame, known: Mapping[str, set[str] | None],
                references: Iterable[tuple[str, str, str]]) -> list[pd.DataFrame]:
    """Per ``(column, entity, check)``: rows pointing at an ``entity`` record that exists nowhere
    (checked only when something is known about ``entity``)."""
    return [unknown_reference(frame, column, known[entity], check) for column, entity, check in references
            if known.get(entity) is not None]


def credit_rules(credits: pd.DataFrame, known: dict[str, set[str] | None]) -> list[pd.DataFrame]:
    """The customer, the credited invoice and the credited product exist."""
    return too_large(credits, ("amount",)) + _references(credits, known, (
        ("customer_id", "customers", "unknown_customer"), ("invoice_id", "invoices", "unknown_invoice"),
        ("product_id", "products", "unknown_product")))


def refund_rules(refunds: pd.DataFrame, known: dict[str, set[str] | None]) -> list[pd.DataFrame]:
    """The customer, the refunded payment and the refunded product exist."""
    return too_large(refunds, ("amount",)) + _references(refunds, known, (
        ("customer_id", "customers", "unknown_customer"), ("payment_id", "payments", "unknown_payment"),
        ("product_id", "products", "unknown_product")))


EARLIEST_DATE = pd.Timestamp("1950-01-01")
MAX_AMOUNT = 9_999_999_999.99
"""QBO amounts have at most 10 digits before the decimal point ("15 digits, 10.5", Amount in the
Invoice reference); a larger amount would come back as a 6070 or be cut, so it is held back."""


def future_dated(frame: pd.DataFrame, column: str, as_of: date) -> pd.DataFrame:
    """Transactions dated after ``as_of`` (plus a day of time-zone slack): not yet real; and
    transactions dated before 1950: a typo or a placeholder (1900-01-01), not a real date."""
    limit = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    return pd.concat([_mask_failures(frame, frame[column] > limit, column, "future_date"),
                      _mask_failures(frame, frame[column] < EARLIEST_DATE, column, "date_too_old")],
                     ignore_index=True)


def too_large(frame: pd.DataFrame, columns: Iterable[str]) -> list[pd.DataFrame]:
    """Amounts QBO cannot hold (more than 10 digits before the decimal point)."""
    return [_mask_failures(frame, frame[c].abs() > MAX_AMOUNT, c, "amount_too_large")
            for c in columns if c in frame]


def currency_mismatch(frame: pd.DataFrame, customer_currencies: Mapping[str, str | None], home: str) -> pd.DataFrame:
    """Transactions in another currency than their customer's (QBO ties a customer to one currency).

    Only customers whose currency is known are checked; an empty currency is the home currency.
    """
    known = {str(k): (v if isinstance(v, str) and v.strip() else home) for k, v in customer_currencies.items()}
    expected = frame["customer_id"].map(known)
    actual = frame["currency"].astype(object).where(frame["currency"].notna(), home)
    mask = expected.notna() & (actual != expected)
    failed = _mask_failures(frame, mask, "currency", "currency_mismatch")
    failed["value"] = [f"{a} (customer: {e})" for a, e in zip(actual[mask.to_numpy()], expected[mask.to_numpy()],
                                                               strict=True)]
    return failed
