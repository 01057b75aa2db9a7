"""Products named by a template: one QuickBooks item per filled name (issue 14, "tokens in product names").

Hosting and domain billing systems name what they sell per use: the product is "Domain renewal
{description}" and each invoice line bills one domain, so the bookkeeper wants one item per
domain in QBO ("Domain renewal acme.example"), each with its own sales history. A product whose
name holds one of the placeholders in :data:`TOKENS` is such a template (``options.product_name_tokens``,
on by default); every invoice line that bills it gets the product named by filling the placeholders
from that line:

``{description}``     the line's description (else the line's free-text name)
``{invoice_number}``  the invoice's number (else its source id)
``{customer}``        the invoice customer's display name (else its source id)
``{period}``          the invoice's billing month, ``YYYY-MM`` of its issue date

The filled name follows QBO's Item name rules (``:`` becomes ``-``, tabs and newlines a space, at
most ``options.name_max_length`` and 100 characters: a longer name keeps its start and a 6-character
hash of the whole name, so two long names stay apart). Lines that fill to the same name (compared
ignoring case, as QBO does) share one product. The derived product's source id is
``tpl~`` + a hash of that name: the same name always makes the same id, so an incremental run that
reads one changed invoice finds the item the ledger already links (it is the pipeline's own, by
that id) instead of creating a second. It takes type, price, accounts and taxability from its
template (the template with the smallest source id when two fill to the same name). The template
itself is not exported (skipped by the rule ``name_template``); credits, refunds and sales
receipts that bill it are not filled (they point at the template and are skipped as its children).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from qbo_pipeline.transform.rules import LIMITS, clean_name, cut, text

TOKENS = ("description", "invoice_number", "customer", "period")
TEMPLATE_RULE = "name_template"
DERIVED_PREFIX = "tpl~"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
_HASH_SUFFIX = 7  # " " + 6 characters


def placeholders(name: Any) -> list[str]:
    """Every ``{word}`` in a product name, in order (known tokens and others)."""
    return _PLACEHOLDER.findall(name) if isinstance(name, str) else []


def is_template(name: Any) -> bool:
    """A product name that holds at least one known token."""
    return any(token in TOKENS for token in placeholders(name))


def unknown_placeholders(name: Any) -> list[str]:
    """``{word}`` placeholders that are not tokens: a misspelt ``{custmer}`` would name every item
    literally, so the contract quarantines the product (``options.product_name_tokens: false`` reads
    every name literally)."""
    return [p for p in placeholders(name) if p not in TOKENS]


def is_derived(source_id: str) -> bool:
    return str(source_id).startswith(DERIVED_PREFIX)


def fill(template: str, values: Mapping[str, str], max_length: int) -> str:
    """The template with its tokens replaced by ``values`` (one pass: a value is never filled
    again), as a QBO Item name of at most ``max_length`` characters."""
    filled = _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)) if m.group(1) in TOKENS else m.group(0),
                              template)
    name = clean_name(filled)
    limit = min(max_length, LIMITS["Name"])
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.casefold().encode()).hexdigest()[:_HASH_SUFFIX - 1]
    return f"{cut(name, limit - _HASH_SUFFIX)} {digest}"


def derived_id(name: str) -> str:
    """The source id of the product a filled name makes: the same for the same name (any case)."""
    return DERIVED_PREFIX + hashlib.sha1(name.casefold().encode()).hexdigest()[:20]


def _text_map(frame: pd.DataFrame | None, column: str) -> dict[str, str]:
    if frame is None or frame.empty or column not in frame:
        return {}
    return {str(k): t for k, v in zip(frame["id"], frame[column], strict=True) if (t := text(v))}


def _period(value: Any) -> str:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return ""
    return "" if pd.isna(stamp) else stamp.strftime("%Y-%m")


def derive_products(valid: Mapping[str, Mapping[str, pd.DataFrame]], config: Any) -> int:
    """Add the products the invoice lines' filled template names make to ``valid["products"]`` and
    point those lines at them (in place); returns how many products were derived.

    ``valid`` is the validated frames by registry entity (``{"products": {"products": frame}, ...}``).
    """
    if not getattr(config.options, "product_name_tokens", True):
        return 0
    products = (valid.get("products") or {}).get("products")
    invoices = valid.get("invoices") or {}
    lines, heads = invoices.get("invoice_lines"), invoices.get("invoices")
    if products is None or products.empty or lines is None or lines.empty:
        return 0
    templates = {str(sid): name for sid, name in zip(products["id"], products["name"], strict=True)
                 if not is_derived(str(sid)) and is_template(name)}
    if not templates:
        return 0
    uses = lines["product_id"].astype(object).map(lambda v: str(v) if isinstance(v, str) else None).isin(templates)
    if not uses.any():
        return 0
    numbers = _text_map(heads, "number")
    customer_of = _text_map(heads, "customer_id")
    issued = {} if heads is None or heads.empty else dict(zip(heads["id"].astype(str), heads["issue_date"],
                                                              strict=True))
    customers = (valid.get("customers") or {}).get("customers")
    display = _text_map(customers, "display_name")
    max_length = config.options.name_max_length
    rows = {str(r["id"]): r for r in products.to_dict("records")}
    made: dict[str, dict[str, Any]] = {}
    pointed = lines["product_id"].astype(object).to_numpy(copy=True)
    for pos in map(int, uses.to_numpy().nonzero()[0]):
        line = lines.iloc[pos]
        template_id = str(line["product_id"])
        invoice_id = str(line["invoice_id"])
        customer = customer_of.get(invoice_id, "")
        values = {"description": text(line["description"]) or text(line.get("name")) or "",
                  "invoice_number": numbers.get(invoice_id, invoice_id),
                  "customer": display.get(customer, customer),
                  "period": _period(issued.get(invoice_id))}
        name = fill(templates[template_id], values, max_length)
        sid = derived_id(name)
        pointed[pos] = sid
        before = made.get(sid)
        if before is None or template_id < before["_template"]:
            made[sid] = {**rows[template_id], "id": sid, "name": name, "sku": None, "_template": template_id}
    derived = pd.DataFrame([{k: v for k, v in row.items() if k != "_template"} for _, row in sorted(made.items())],
                           columns=products.columns)
    new_lines = lines.copy()
    new_lines["product_id"] = pointed
    invoices["invoice_lines"] = new_lines  # type: ignore[index]
    keep = products[~products["id"].astype(str).isin(set(derived["id"]))]
    valid["products"]["products"] = pd.concat([keep, derived.astype(products.dtypes.to_dict(), errors="ignore")],  # type: ignore[index]
                                              ignore_index=True)
    return len(derived)


__all__ = ["DERIVED_PREFIX", "TEMPLATE_RULE", "TOKENS", "derive_products", "derived_id", "fill", "is_derived",
           "is_template", "placeholders", "unknown_placeholders"]
