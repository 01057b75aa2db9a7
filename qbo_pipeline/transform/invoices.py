"""Invoices and their lines -> QBO Invoice payloads.

Volume lives here (a year of a busy billing system is millions of lines), so everything
per line is computed column-wise first (cents, tax codes, item references, quantities)
and the per-line dicts are then assembled in one pass over the sorted lines.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.payload import Payload, named_ref, ownership_marker, source_ref, with_marker
from qbo_pipeline.transform.rules import (
    LIMITS,
    Report,
    cut,
    exact_pairs,
    id_order,
    iso_date,
    quantity_text,
    short_doc_number,
    text,
    to_cents,
)
from qbo_pipeline.transform.taxes import line_amounts

UNPAID_STATUSES = {"sent"}
APPLY_NOTE_PREFIX = "apply_note:"


def transaction_skips(dates: pd.Series, start: date) -> np.ndarray:
    """True where a transaction is dated before the sync start date."""
    return (dates < pd.Timestamp(start)).fillna(False).to_numpy(dtype=bool)


def tax_codes(codes: pd.Series, config: PipelineConfig) -> pd.Series:
    """QBO TaxCode name per source line code (US: TAX / NON; mapped: ``taxes.map``); None if unmapped."""
    taxes = config.taxes
    raw = codes.astype(object).where(codes.notna(), None)
    mapped = raw.map(taxes.map) if taxes.map else pd.Series(None, index=raw.index, dtype=object)
    if taxes.mode == "us":
        non = {c.upper() for c in taxes.non_taxable_codes}
        upper = raw.map(lambda c: c.strip().upper() if isinstance(c, str) else "")
        default = np.where(upper.isin(non) | (upper == ""), "NON", "TAX")
        return mapped.where(mapped.notna(), pd.Series(default, index=raw.index, dtype=object))
    if taxes.default_code is not None:
        mapped = mapped.where(raw.notna() | mapped.notna(), taxes.default_code)
    return mapped.astype(object).where(mapped.notna(), None)


class _RefCache(dict):
    """One placeholder dict per distinct reference: a million lines share a few hundred refs."""

    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, key):
        value = self[key] = self._make(key)
        return value


def _skip_mask(invoices: pd.DataFrame, config: PipelineConfig, context: TransformContext,
               report: Report) -> np.ndarray:
    options = config.options
    ids = invoices["id"].to_numpy()
    draft = (invoices["status"] == "draft").to_numpy()
    before = transaction_skips(invoices["issue_date"], options.sync_start_date)
    unpaid = invoices["status"].isin(UNPAID_STATUSES).to_numpy() & ~invoices["deleted"].to_numpy(dtype=bool)
    known_balances = context.balances()
    if known_balances:
        balances = {k: float(v) for k, v in known_balances.items()}
        balance = invoices["id"].map(balances).astype("float64")
        unpaid = np.where(balance.notna().to_numpy(), balance.fillna(0).to_numpy() > 0.005, unpaid)
        unpaid &= ~invoices["deleted"].to_numpy(dtype=bool) & ~invoices["status"].isin(["void", "draft"]).to_numpy()
    keep_unpaid = before & unpaid & options.export_unpaid_before_start
    before_skip = before & ~keep_unpaid & ~draft
    start = options.sync_start_date.isoformat()
    for sid in ids[draft]:
        report.skip(str(sid), "draft", "Draft invoices are never exported.")
    dates = invoices["issue_date"].to_numpy()
    for sid, when in zip(ids[before_skip], dates[before_skip], strict=True):
        report.skip(str(sid), "before_sync_start",
                    f"Dated {iso_date(pd.Timestamp(when))}, before the sync start date {start}.")
    return draft | before_skip


def build_invoices(invoices: pd.DataFrame, lines: pd.DataFrame, config: PipelineConfig,
                   context: TransformContext | None = None) -> TransformResult:
    """One Invoice payload per exported invoice; drafts and old paid invoices are skipped by rule.

    Lines become SalesItemLines (product item, or ``options.generic_item`` for free text);
    with ``options.aggregate_lines`` each invoice gets one line per tax code instead. Line
    discounts add up to one DiscountLine on ``accounts.discount``. Money is summed in
    integer cents (half-up), so the payload total equals the source total exactly.
    """
    context = context or TransformContext()
    report = Report("invoices")
    options = config.options
    skipped_mask = _skip_mask(invoices, config, context, report)
    exported = invoices[~skipped_mask].sort_values("id", kind="stable").reset_index(drop=True)

    lines = lines[lines["invoice_id"].isin(set(exported["id"]))]
    codes = tax_codes(lines["tax_code"], config)
    unmapped = codes.isna().to_numpy()
    if unmapped.any():
        bad = set(lines["invoice_id"].to_numpy()[unmapped])
        for sid in sorted(bad):
            report.skip(str(sid), "unmapped_tax_code", "A line uses a tax code with no entry in taxes.map.")
        exported = exported[~exported["id"].isin(bad)].reset_index(drop=True)
        keep = ~lines["invoice_id"].isin(bad).to_numpy()
        lines, codes = lines[keep], codes[keep]

    order = pd.DataFrame({
        "invoice_id": lines["invoice_id"].to_numpy(),
        "line_no": lines["line_no"].to_numpy(),
        "id": lines["id"].to_numpy(),
        "pos": np.arange(len(lines)),
    }).sort_values(["invoice_id", "line_no", "id"], kind="stable")
    pos = order["pos"].to_numpy()
    line_invoice = order["invoice_id"].to_numpy()
    amount_cents = to_cents(lines["amount"].to_numpy()[pos])
    discount_cents = to_cents(lines["discount"].fillna(0.0).to_numpy()[pos])
    codes = codes.to_numpy()[pos]
    line_tax = lines["tax_amount"].to_numpy(dtype="float64")[pos]
    line_has_tax = ~np.isnan(line_tax)
    line_tax_cents = to_cents(np.nan_to_num(line_tax))
    if config.taxes.mode == "us" and line_has_tax.any():
        # a line whose tax the source billed is taxable exactly when it was taxed
        codes = np.where(line_has_tax, np.where(line_tax_cents != 0, "TAX", "NON"), codes)

    bounds_left = np.searchsorted(line_invoice, exported["id"].to_numpy(), side="left")
    bounds_right = np.searchsorted(line_invoice, exported["id"].to_numpy(), side="right")

    def per_invoice(values: np.ndarray) -> np.ndarray:
        running = np.concatenate([[0], np.cumsum(values)])
        return running[bounds_right] - running[bounds_left]

    invoice_discount = per_invoice(discount_cents)
    net_cents = per_invoice(amount_cents) - invoice_discount
    taxes = invoice_taxes(exported, per_invoice(line_tax_cents), per_invoice(line_has_tax.astype("int64")) > 0)
    inclusive = config.taxes.inclusive
    extra_discount, after_tax = invoice_discounts(exported, net_cents, taxes, inclusive=inclusive)
    own_cents = to_cents(np.nan_to_num(exported["tax_amount"].to_numpy(dtype="float64")))
    amounts = line_amounts(amount_cents, line_tax_cents, own_cents, taxes, bounds_left, bounds_right, config.taxes)
    sent_cents, gross_cents = amounts.sent, amounts.gross

    generic = named_ref("Item", options.generic_item)
    tax_refs = _RefCache(lambda code: named_ref("TaxCode", code))
    discount_account = named_ref("Account", config.accounts.discount)
    mapped = config.taxes.mode == "mapped"
    max_desc = options.description_max_length

    if options.aggregate_lines:
        built_lines, overflow = _aggregated_lines(line_invoice, sent_cents, codes, generic, tax_refs, gross_cents)
    else:
        built_lines, overflow = _detailed_lines(lines, pos, line_invoice, sent_cents, codes, generic, tax_refs,
                                                max_desc, report, gross_cents)

    doc_numbers = unique_doc_numbers(dict(zip(exported["id"].astype(str), exported["number"], strict=True)))
    payloads = []
    columns = ["id", "number", "customer_id", "status", "issue_date", "due_date", "currency", "memo", "deleted",
               "kind", "credited_invoice_id"]
    applications = []
    for index, row in enumerate(exported[columns].itertuples(index=False, name=None)):
        sid, number, customer, status, issued, due, currency, memo, deleted, kind, credited = row
        sid = str(sid)
        entity = "CreditMemo" if kind == "credit_note" else "Invoice"
        left, right = bounds_left[index], bounds_right[index]
        body_lines = built_lines(left, right)
        discount = int(invoice_discount[index]) + int(extra_discount[index])
        if discount:
            body_lines.append({
                "Amount": discount / 100,
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {"PercentBased": False, "DiscountAccountRef": discount_account},
            })
        body: dict = {"CustomerRef": source_ref("Customer", customer), "TxnDate": iso_date(issued)}
        due_iso = iso_date(due)
        if due_iso and entity == "Invoice":
            body["DueDate"] = due_iso
        lookup = {}
        number = text(number)
        if number:
            doc = doc_numbers[sid]
            if doc != number:
                rule = "doc_number_shortened" if doc == short_doc_number(number) else "doc_number_disambiguated"
                report.changed(sid, "DocNumber", number, doc, rule)
            body["DocNumber"] = lookup["DocNumber"] = doc
        note = _private_note(sid, text(memo), overflow.get(sid, ()), report)
        body["PrivateNote"] = with_marker(note, entity, sid)
        currency = text(currency)
        if currency and currency != options.home_currency:
            body["CurrencyRef"] = {"value": currency}
        if mapped:
            body["GlobalTaxCalculation"] = config.taxes.global_calculation
        body["Line"] = body_lines
        if extra_discount[index]:
            body["ApplyTaxAfterDiscount"] = not bool(after_tax[index])
        if taxes[index] is not None:
            body["TxnTaxDetail"] = {"TotalTax": int(taxes[index]) / 100}
            rate_lines = amounts.rate_lines(left, right, codes, discount_cents, bool(own_cents[index]), config.taxes)
            if rate_lines:
                body["TxnTaxDetail"]["TaxLine"] = rate_lines
        action = "delete" if deleted else "void" if status == "void" else "upsert"
        if entity == "CreditMemo" and action == "void":
            action = "delete"  # QBO documents no void for credit memos
        payloads.append(Payload(entity, sid, body, action=action, lookup=lookup, txn_date=body["TxnDate"]))
        credited = text(credited)
        if entity == "CreditMemo" and credited and action == "upsert" and options.apply_credits_to_invoices:
            total = int(net_cents[index]) - int(extra_discount[index]) + (0 if inclusive else int(taxes[index] or 0))
            if total > 0:
                applications.append(credit_application(sid, credited, str(customer), body["TxnDate"], total,
                                                       currency, config))
    skipped, normalisations = report.frames()
    return TransformResult(payloads + applications, skipped, normalisations)


def credit_application(note_id: str, invoice_id: str, customer: str, txn_date: str, cents: int,
                       currency: str | None, config: PipelineConfig) -> Payload:
    """A zero Payment applying a credit note to the invoice it credits (source id ``apply_note:<id>``)."""
    body = {
        "CustomerRef": source_ref("Customer", customer),
        "TxnDate": txn_date,
        "TotalAmt": 0.0,
        "PrivateNote": with_marker(f"Applies credit note {note_id} to invoice {invoice_id}.", "Payment",
                                   APPLY_NOTE_PREFIX + note_id),
        "Line": [_linked(cents, "Invoice", invoice_id), _linked(cents, "CreditMemo", note_id)],
    }
    if currency and currency != config.options.home_currency:
        body["CurrencyRef"] = {"value": currency}
    return Payload("Payment", APPLY_NOTE_PREFIX + note_id, body, txn_date=txn_date)


def _linked(cents: int, entity: str, source_id: str) -> dict:
    return {"Amount": cents / 100,
            "LinkedTxn": [{"TxnId": source_ref(entity, source_id, as_id=True), "TxnType": entity}]}


def invoice_taxes(invoices: pd.DataFrame, line_tax_cents: np.ndarray, any_line_tax: np.ndarray) -> list[int | None]:
    """Tax billed per invoice in cents (lines' tax plus the invoice-level tax), or None when the
    source gave no tax amount at all (then QBO applies the tax codes: code-only mode)."""
    own = invoices["tax_amount"].to_numpy(dtype="float64")
    own_cents = to_cents(np.nan_to_num(own))
    billed = any_line_tax | ~np.isnan(own)
    return [int(line_tax_cents[i] + own_cents[i]) if billed[i] else None for i in range(len(invoices))]


def invoice_discounts(invoices: pd.DataFrame, net_cents: np.ndarray, taxes: list[int | None],
                      *, inclusive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(invoice-level discount in cents, applies after tax) per invoice.

    An amount is taken as is; a percent applies to the lines after their own discounts, plus
    the billed tax when the source applies it after tax (with tax-inclusive amounts: minus the
    billed tax when it applies before tax), rounded half-up to cents. It is sent
    as an amount, so QBO's total is the source's to the cent (QBO's own percent discount would
    apply to the lines only and allows 2 decimals).
    """
    amount = invoices["discount_amount"].to_numpy(dtype="float64")
    percent = invoices["discount_percent"].to_numpy(dtype="float64")
    after = invoices["discount_after_tax"].fillna(False).to_numpy(dtype=bool)
    cents = np.zeros(len(invoices), dtype="int64")
    for i in range(len(invoices)):
        if not np.isnan(amount[i]) and amount[i]:
            cents[i] = to_cents(np.array([amount[i]]))[0]
        elif not np.isnan(percent[i]) and percent[i]:
            if inclusive:
                base = Decimal(int(net_cents[i]) - (0 if after[i] else int(taxes[i] or 0)))
            else:
                base = Decimal(int(net_cents[i]) + (int(taxes[i] or 0) if after[i] else 0))
            pct = Decimal(repr(float(percent[i])))
            cents[i] = int((base * pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return cents, after


def invoice_total_cents(invoices: pd.DataFrame, lines: pd.DataFrame, *, inclusive: bool = False) -> pd.Series:
    """Invoice id -> total in cents as exported: lines minus discounts, plus billed tax (unless the
    amounts include it), minus the invoice-level discount (the same arithmetic as the payloads)."""
    by_invoice = lines.groupby("invoice_id", sort=False)
    ids = invoices["id"].astype(str)

    def summed(column: str) -> np.ndarray:
        cents = pd.Series(to_cents(lines[column].fillna(0.0).to_numpy()), index=lines.index)
        return ids.map(cents.groupby(lines["invoice_id"].astype(str)).sum()).fillna(0).to_numpy(dtype="int64")

    net = summed("amount") - summed("discount")
    has_line_tax = ids.map(by_invoice["tax_amount"].count() if len(lines) else pd.Series(dtype="int64")).fillna(0)
    taxes = invoice_taxes(invoices, summed("tax_amount"), has_line_tax.to_numpy() > 0)
    extra, _ = invoice_discounts(invoices, net, taxes, inclusive=inclusive)
    total = net - extra + (0 if inclusive else np.array([t or 0 for t in taxes], dtype="int64"))
    return pd.Series(total, index=ids.to_numpy())


def unique_doc_numbers(numbers: dict[str, object]) -> dict[str, str]:
    """Source id -> DocNumber, unique (case-insensitively) among different source numbers.

    Numbers that fit keep themselves; long ones are shortened with a hash of the whole
    number (batch-independent), and the rare short form still taken is re-hashed with the
    source id, in numeric id order. The same source number on two invoices stays the same:
    validation quarantines that reuse (check ``number_reused``).
    """
    result: dict[str, str] = {}
    owner: dict[str, str] = {}  # casefolded DocNumber -> the source number holding it
    wanted = {sid: text(number) for sid, number in numbers.items()}
    ordered = sorted((sid for sid, n in wanted.items() if n), key=id_order)
    fitting = [sid for sid in ordered if len(wanted[sid]) <= LIMITS["DocNumber"]]
    for sid in fitting:
        result[sid] = wanted[sid]
        owner.setdefault(wanted[sid].casefold(), wanted[sid])
    for sid in ordered:
        if sid in result:
            continue
        number = wanted[sid]
        doc, attempt = short_doc_number(number), 0
        while owner.get(doc.casefold(), number) != number:
            attempt += 1
            doc = short_doc_number(number, salt=f"{sid}#{attempt}" if attempt > 1 else sid)
        owner[doc.casefold()] = number
        result[sid] = doc
    return result


def _private_note(sid: str, memo: str | None, overflow: tuple | list, report: Report) -> str | None:
    """The memo (cut to leave room for the ownership marker), then the full text of cut descriptions
    while it fits."""
    limit = LIMITS["PrivateNote"] - len(ownership_marker("Invoice", sid)) - 1
    note = memo
    if note and len(note) > limit:
        report.changed(sid, "PrivateNote", note, cut(note, limit), "truncated")
        note = cut(note, limit)
    for line_no, full in overflow:
        addition = f"Line {line_no} full description: {full}"
        candidate = f"{note}\n{addition}" if note else addition
        if len(candidate) <= limit:
            note = candidate
        else:
            report.changed(sid, f"Line[{line_no}].Description", full, "", "full_text_not_kept")
    return note


def _detailed_lines(lines, pos, line_invoice, amount_cents, codes, generic, tax_refs, max_desc, report,
                    gross_cents=None):
    """One SalesItemLine per source line. ``gross_cents`` (tax-inclusive amounts): per line the gross
    for ``TaxInclusiveAmt`` (-1: the amount is already net); then Qty goes alone and QBO derives the
    (net) UnitPrice, as its tax-inclusive answers show."""
    product = lines["product_id"].to_numpy()[pos]
    name = lines["name"].to_numpy()[pos]
    description = lines["description"].to_numpy()[pos]
    line_no = lines["line_no"].to_numpy()[pos]
    qty = lines["quantity"].to_numpy(dtype="float64")[pos]
    price = np.round(lines["unit_price"].to_numpy(dtype="float64")[pos], 4)
    priced = exact_pairs(qty, price, amount_cents)
    has_pair = ~np.isnan(qty) & ~np.isnan(price)
    if gross_cents is not None:
        priced = np.zeros(len(pos), dtype=bool)
        has_pair = np.zeros(len(pos), dtype=bool)
    amounts = amount_cents / 100
    item_refs = _RefCache(lambda pid: source_ref("Item", pid))
    overflow: dict[str, list] = {}

    built = []
    for i in range(len(pos)):
        pid = product[i]
        detail = {"ItemRef": item_refs[pid] if isinstance(pid, str) else generic}
        if priced[i]:
            detail["Qty"] = float(qty[i])
            detail["UnitPrice"] = float(price[i])
        elif gross_cents is not None and qty[i] == qty[i] and qty[i]:
            detail["Qty"] = float(qty[i])
        if gross_cents is not None and gross_cents[i] >= 0:
            detail["TaxInclusiveAmt"] = int(gross_cents[i]) / 100
        detail["TaxCodeRef"] = tax_refs[codes[i]]
        line = {"LineNum": int(line_no[i]), "Amount": float(amounts[i]), "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": detail}
        desc = text(description[i])
        if not isinstance(pid, str):
            label = text(name[i])
            desc = f"{label} - {desc}" if label and desc else label or desc
        if has_pair[i] and not priced[i]:
            pair = quantity_text(float(qty[i]), float(price[i]))
            desc = f"{desc} ({pair})" if desc else pair
            report.changed(str(line_invoice[i]), f"Line[{int(line_no[i])}].Qty", pair, "",
                           "amount_only_line")
        if desc:
            if len(desc) > max_desc:
                sid = str(line_invoice[i])
                short = cut(desc, max_desc)
                report.changed(sid, f"Line[{int(line_no[i])}].Description", desc, short, "truncated")
                overflow.setdefault(sid, []).append((int(line_no[i]), desc))
                desc = short
            line["Description"] = desc
        built.append(line)

    def lines_of(left: int, right: int) -> list[dict]:
        return built[left:right]

    return lines_of, overflow


def _aggregated_lines(line_invoice, amount_cents, codes, generic, tax_refs, gross_cents=None):
    """One line per invoice and tax code: the sum of its lines, on the generic item."""
    gross = np.full(len(amount_cents), -1, dtype="int64") if gross_cents is None else gross_cents
    frame = pd.DataFrame({"invoice": line_invoice, "code": codes, "cents": amount_cents, "n": 1, "gross": gross})
    frame["row"] = np.arange(len(frame))
    grouped = frame.groupby(["invoice", "code"], sort=False).agg(cents=("cents", "sum"), n=("n", "sum"),
                                                                  first=("row", "min"), gross=("gross", "sum"),
                                                                  net_only=("gross", "min"))
    grouped = grouped.sort_values("first")
    starts = grouped["first"].to_numpy()
    built = []
    for number, ((_, code), cents, count, gross_sum, net_only) in enumerate(
            zip(grouped.index, grouped["cents"].to_numpy(), grouped["n"].to_numpy(), grouped["gross"].to_numpy(),
                grouped["net_only"].to_numpy(), strict=True)):
        detail = {"ItemRef": generic, "TaxCodeRef": tax_refs[code]}
        if net_only >= 0:  # every line of the group is gross (code-only, tax-inclusive)
            detail["TaxInclusiveAmt"] = int(gross_sum) / 100
        built.append({
            "LineNum": number + 1,
            "Amount": int(cents) / 100,
            "DetailType": "SalesItemLineDetail",
            "Description": f"{int(count)} billed line{'s' if count != 1 else ''}",
            "SalesItemLineDetail": detail,
        })

    def lines_of(left: int, right: int) -> list[dict]:
        a, b = np.searchsorted(starts, left), np.searchsorted(starts, right)
        out = built[a:b]
        for n, line in enumerate(out, start=1):
            line["LineNum"] = n
        return out

    return lines_of, {}
