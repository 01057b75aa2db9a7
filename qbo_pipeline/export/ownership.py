"""Is a QBO transaction found by number ours to adopt? (Invariant 7: only what is provably ours.)

Before creating a transaction the engine looks for one with the same DocNumber, because a
create whose response was lost may already have been committed by QBO. Such a record is
adopted (linked and updated) only when it is provably the one we wrote:

- its ``PrivateNote`` carries our marker for this very source record
  (``[qbo-pipeline Invoice 17]``, written by every transaction builder), or
- it is for the same customer, on the same date, for the same total: then it is the same
  business document, even if a person typed it before the first sync.

Anything else (a person's invoice for another customer or amount, or a record marked for
another source record) is left untouched and the source record fails with
:data:`NUMBER_TAKEN`. Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from qbo_pipeline.transform.payload import OWNERSHIP_PREFIX

NUMBER_TAKEN = "number already used in QuickBooks by another transaction"
_CENT = Decimal("0.01")


def marker_of(body: Mapping[str, Any]) -> str | None:
    """Our ownership marker in a body's PrivateNote, if it has one."""
    note = body.get("PrivateNote")
    if not isinstance(note, str):
        return None
    for line in reversed(note.splitlines()):
        line = line.strip()
        if line.startswith(OWNERSHIP_PREFIX) and line.endswith("]"):
            return line
    return None


def _money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(repr(float(value)) if isinstance(value, float) else str(value)).quantize(
            _CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return None


def payload_total(body: Mapping[str, Any]) -> Decimal | None:
    """The total QBO books for a transaction body we send (None when it cannot be known here).

    Sales lines, minus discount lines (amount or percent of the lines before them), plus
    the tax we set in ``TxnTaxDetail.TotalTax``; a Payment's ``TotalAmt`` as sent.
    """
    if "TotalAmt" in body and "Line" in body and all("LinkedTxn" in line for line in body.get("Line") or []):
        return _money(body["TotalAmt"])
    subtotal = Decimal("0.00")
    for line in body.get("Line") or []:
        kind = line.get("DetailType")
        if kind in ("SalesItemLineDetail", "GroupLineDetail"):
            amount = _money(line.get("Amount"))
            if amount is None:
                return None
            subtotal += amount
        elif kind == "DiscountLineDetail":
            detail = line.get("DiscountLineDetail") or {}
            if detail.get("PercentBased"):
                percent = _money(detail.get("DiscountPercent"))
                if percent is None:
                    return None
                subtotal -= (subtotal * percent / 100).quantize(_CENT, rounding=ROUND_HALF_UP)
            else:
                amount = _money(line.get("Amount"))
                if amount is None:
                    return None
                subtotal -= amount
    tax = (body.get("TxnTaxDetail") or {}).get("TotalTax")
    if tax is not None:
        tax_amount = _money(tax)
        if tax_amount is None:
            return None
        subtotal += tax_amount
    return subtotal


def _ref_value(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("value")
    return str(value) if value not in (None, "") else None


def is_ours(existing: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    """True when the QBO record ``existing`` is provably the one ``payload`` (a resolved body) describes.

    Our marker for this source record proves it; a marker for another record disproves
    it. Without a marker, the same customer, date and total (to the cent) prove it; the
    total is compared with and without QBO's own tax when we did not set the tax.
    """
    ours = marker_of(payload)
    theirs = marker_of(existing)
    if ours is not None and theirs is not None:
        return ours == theirs
    customer = _ref_value(payload.get("CustomerRef"))
    if customer is None or customer != _ref_value(existing.get("CustomerRef")):
        return False
    if not payload.get("TxnDate") or payload.get("TxnDate") != existing.get("TxnDate"):
        return False
    wanted, booked = payload_total(payload), _money(existing.get("TotalAmt"))
    if wanted is None or booked is None:
        return False
    if wanted == booked:
        return True
    if "TxnTaxDetail" not in payload:
        tax = _money((existing.get("TxnTaxDetail") or {}).get("TotalTax"))
        return tax is not None and booked - tax == wanted
    return False


def refusal_hint(entity: str, existing: Mapping[str, Any], source_id: str) -> str:
    """A true hint for a record whose number a QBO transaction we did not write already uses."""
    return (f"QuickBooks {entity} {existing.get('Id')} (customer {_ref_value(existing.get('CustomerRef'))}, "
            f"dated {existing.get('TxnDate')}, total {existing.get('TotalAmt')}) already has this number and was "
            f"not written by this pipeline, so it is left untouched. Renumber one of the two; or, if it is "
            f"this very transaction entered by hand, link it: `qbo-pipeline link {entity} {source_id} "
            f"{existing.get('Id')}`.")
