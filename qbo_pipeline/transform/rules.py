"""QBO field rules in one place: the limit table, name cleaning, DocNumber shortening, money.

Every change these rules make to a value is recorded by :class:`Report`, so a bookkeeper
can see which names were shortened or renamed and why.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

# Max length of each QBO string field the pipeline writes (QBO v3 reference; see docs/rules.md).
LIMITS: dict[str, int] = {
    "DisplayName": 500,  # QBO's limit; the configured options.name_max_length (default 100) applies first
    "CompanyName": 100,
    "GivenName": 100,
    "FamilyName": 100,
    "PrimaryEmailAddr.Address": 100,
    "PrimaryPhone.FreeFormNumber": 30,
    "BillAddr.Line1": 500,
    "BillAddr.Line2": 500,
    "BillAddr.City": 255,
    "BillAddr.CountrySubDivisionCode": 255,
    "BillAddr.PostalCode": 30,
    "BillAddr.Country": 255,
    "Name": 100,  # Item
    "Sku": 100,
    "Description": 4000,  # Item and transaction lines
    "PrivateNote": 4000,
    "DocNumber": 21,
    "PaymentRefNum": 21,  # Payment: unconfirmed in QBO docs, 21 is the conservative choice
    "RefundReceipt.PaymentRefNum": 100,
    "PaymentMethod.Name": 31,  # the engine creates missing payment methods by this name
}

NAME_FIELDS = {"DisplayName", "CompanyName", "GivenName", "FamilyName", "Name"}
DOC_NUMBER_HEAD, DOC_NUMBER_HASH = 4, 4
ELLIPSIS = "..."

_FORBIDDEN_IN_NAMES = re.compile(r"[\t\r\n]+")
# Bidirectional controls (right-to-left override U+202E and kin) make a name display as other text.
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_EMAIL = re.compile(r"^[^@\s:]+@[^@\s:]+\.[^@\s:]+$")
EMAIL_MAX_LENGTH = 100  # QBO PrimaryEmailAddr; an e-mail cannot be shortened
_SPACES = re.compile(r" {2,}")
_CENT = Decimal("0.01")


def text(value: Any) -> str | None:
    """A source cell as text, or None when it is empty (None, NaN, blank)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    value = str(value)
    return value if value.strip() else None


def clean_name(value: str) -> str:
    """A QBO name: ``:`` becomes ``-`` (QBO reserves it for Parent:Child), tabs and newlines a space,
    bidirectional controls (a right-to-left override that makes a name read as another) are removed."""
    value = _BIDI_CONTROLS.sub("", value).replace(":", "-")
    value = _FORBIDDEN_IN_NAMES.sub(" ", value)
    return _SPACES.sub(" ", value).strip()


def valid_email(value: str | None) -> bool:
    """An address QBO accepts (name@domain.tld, at most 100 characters)."""
    return value is not None and len(value) <= EMAIL_MAX_LENGTH and bool(_EMAIL.fullmatch(value))


def valid_phone(value: str | None) -> bool:
    """A phone number has at least one digit (``n/a``, ``-`` are placeholders, not numbers)."""
    return value is not None and any(ch.isdigit() for ch in value)


def cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit].rstrip() or value[:limit]


def short_doc_number(value: str, limit: int = LIMITS["DocNumber"], salt: str = "") -> str:
    """DocNumber rule: a number longer than 21 keeps its first 4 and last 11 characters around
    ``~`` + a 4-character hash of the whole number + ``~`` (``PROJ~Q2ZK~2024-000017``).

    The hash keeps two long numbers that share their ends apart (``PROJ-ALPHA-...-000017`` and
    ``PROJ-BETA-...-000017``) and, unlike a counter, does not depend on which invoices are in
    this run. ``salt`` (the source id) re-hashes the rare number whose short form is still taken.
    """
    if len(value) <= limit:
        return value
    digest = base64.b32encode(hashlib.sha256(f"{value}\x00{salt}".encode()).digest()).decode()[:DOC_NUMBER_HASH]
    tail = limit - DOC_NUMBER_HEAD - DOC_NUMBER_HASH - 2
    return f"{value[:DOC_NUMBER_HEAD]}~{digest}~{value[-tail:]}"


def short_reference(value: str, limit: int) -> str:
    """A long payment reference (gateway id) keeps its first 5 and last characters around ``...``;
    references need not be unique in QBO, so no hash."""
    if len(value) <= limit:
        return value
    tail = limit - 5 - len(ELLIPSIS)
    return value[:5] + ELLIPSIS + value[-tail:]


def id_order(source_id: Any) -> tuple[int, int, str]:
    """Sort key for source ids: numeric ids by value ('60' before '132'), then the others as text."""
    value = str(source_id)
    stripped = value.strip()
    if stripped.isdigit():
        return (0, int(stripped), value)
    return (1, 0, value)


def to_cents(values: pd.Series | np.ndarray) -> np.ndarray:
    """Money as integer cents, rounded half-up (2.675 -> 268), exact for any sum afterwards.

    Rounding to 6 decimals first removes float noise (2.675 is stored as 2.67499999...).
    """
    array = np.asarray(values, dtype="float64")
    scaled = np.round(np.abs(array) * 100.0, 6)
    cents = np.floor(scaled + 0.5) * np.sign(array)
    return np.nan_to_num(cents, nan=0.0).astype("int64")


def money(value: Any) -> Decimal:
    """One amount as a Decimal rounded half-up to cents."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Decimal("0.00")
    if isinstance(value, float):
        value = repr(value)
    return Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)


_HALF_CENT = Decimal("0.005")
# Near a half cent, a binary-float product (what QBO or any client may compute) can land on
# either side; pairs this close to a tie are not sent (see docs/rules.md, "Exact line amounts").
_TIE_MARGIN = Decimal("1e-9")
_TIE_MARGIN_RELATIVE = Decimal("1e-12")


def _decimal(value: Any) -> Decimal | None:
    if value is None or value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    try:
        return Decimal(repr(float(value))) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        return None


def exact_pair(quantity: Any, unit_price: Any, amount: Any) -> bool:
    """True when ``quantity x unit_price`` gives ``amount`` however QBO rounds the product.

    QBO refuses a line whose Amount is not UnitPrice * Qty (6070). Its rounding is not
    documented, so a pair is sent only when every plausible check agrees: the exact decimal
    product equals the amount, or it rounds to the amount half-up *and* half-even and is
    not within float noise of a half cent (0.5 x 19.99 = 9.995 is a tie: half-up 10.00,
    half-even and binary floats 9.99, so that pair is never sent).
    """
    qty, price, target = _decimal(quantity), _decimal(unit_price), _decimal(amount)
    if qty is None or price is None or target is None:
        return False
    product = qty * price
    if product == target:
        return True
    if (product.quantize(_CENT, rounding=ROUND_HALF_UP) != target
            or product.quantize(_CENT, rounding=ROUND_HALF_EVEN) != target):
        return False
    margin = max(_TIE_MARGIN, abs(product) * _TIE_MARGIN_RELATIVE)
    return abs(product - target) < _HALF_CENT - margin


def exact_pairs(quantity: np.ndarray, unit_price: np.ndarray, amount_cents: np.ndarray) -> np.ndarray:
    """:func:`exact_pair` per line, column-wise: floats settle the clear cases, Decimal the rest."""
    qty = np.asarray(quantity, dtype="float64")
    price = np.asarray(unit_price, dtype="float64")
    amounts = np.asarray(amount_cents, dtype="int64")
    with np.errstate(invalid="ignore", over="ignore"):
        product = qty * price
        distance = np.abs(product - amounts / 100.0)
    known = np.isfinite(product)
    clear_yes = known & (distance < 0.004) & (np.abs(product) < 1e8)
    result = clear_yes.copy()
    unsure = known & ~clear_yes & (distance < 0.006)
    for i in np.flatnonzero(unsure):
        result[i] = exact_pair(float(qty[i]), float(price[i]), Decimal(int(amounts[i])).scaleb(-2))
    return result


def quantity_text(quantity: Any, unit_price: Any) -> str | None:
    """``0.5 x 19.99``: the pair kept in the description of an amount-only line."""
    qty, price = _decimal(quantity), _decimal(unit_price)
    if qty is None or price is None:
        return None
    quantity_part = format(qty.normalize(), "f")
    price_part = format(price.normalize(), "f")
    if price.as_tuple().exponent > -2 or len(price_part.partition(".")[2]) < 2:
        price_part = format(price.quantize(_CENT), "f")
    return f"{quantity_part} x {price_part}"


def cents_to_float(cents: int) -> float:
    """Cents as the float JSON carries (the nearest double to the exact decimal)."""
    return float(Decimal(int(cents)).scaleb(-2))


def iso_date(value: Any) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return pd.Timestamp(value).date().isoformat()


NORMALISATION_COLUMNS = ["entity", "source_id", "field", "original", "value", "rule"]
SKIPPED_COLUMNS = ["entity", "source_id", "rule", "reason"]


@dataclass
class Report:
    """Collects the normalisation report and the skipped rows of one build."""

    entity: str
    normalisations: list[tuple[str, str, str, str, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str, str, str]] = field(default_factory=list)

    def changed(self, source_id: str, field_name: str, original: str, value: str, rule: str) -> None:
        self.normalisations.append((self.entity, source_id, field_name, original, value, rule))

    def skip(self, source_id: str, rule: str, reason: str) -> None:
        self.skipped.append((self.entity, source_id, rule, reason))

    def fit(self, source_id: str, field_name: str, value: str | None, limit: int | None = None,
            *, name: bool = False) -> str | None:
        """``value`` cleaned (names) and cut to the field's limit, each change recorded."""
        if value is None:
            return None
        limit = limit if limit is not None else LIMITS[field_name]
        result = value
        if name:
            result = clean_name(result)
            if result != value:
                self.changed(source_id, field_name, value, result, "name_characters")
        if len(result) > limit:
            before = result
            result = cut(result, limit)
            self.changed(source_id, field_name, before, result, "truncated")
        return result

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (pd.DataFrame(self.skipped, columns=SKIPPED_COLUMNS),
                pd.DataFrame(self.normalisations, columns=NORMALISATION_COLUMNS))


# Free-text fields per QBO entity (dotted path, list positions dropped) -> limit key in LIMITS;
# None marks fields whose values are codes, dates or enums the builders control.
_CONTROLLED = None
FIELD_LIMITS: dict[str, dict[str, str | None]] = {
    "Customer": {
        "DisplayName": "DisplayName", "CompanyName": "CompanyName", "GivenName": "GivenName",
        "FamilyName": "FamilyName", "PrimaryEmailAddr.Address": "PrimaryEmailAddr.Address",
        "PrimaryPhone.FreeFormNumber": "PrimaryPhone.FreeFormNumber", "BillAddr.Line1": "BillAddr.Line1",
        "BillAddr.Line2": "BillAddr.Line2", "BillAddr.City": "BillAddr.City",
        "BillAddr.CountrySubDivisionCode": "BillAddr.CountrySubDivisionCode",
        "BillAddr.PostalCode": "BillAddr.PostalCode", "BillAddr.Country": "BillAddr.Country",
        "CurrencyRef.value": _CONTROLLED,
    },
    "Item": {"Name": "Name", "Sku": "Sku", "Description": "Description", "Type": _CONTROLLED,
             "InvStartDate": _CONTROLLED},
    "Invoice": {"DocNumber": "DocNumber", "PrivateNote": "PrivateNote", "Line.Description": "Description",
                "TxnDate": _CONTROLLED, "DueDate": _CONTROLLED, "Line.DetailType": _CONTROLLED,
                "GlobalTaxCalculation": _CONTROLLED, "CurrencyRef.value": _CONTROLLED},
    "Payment": {"PaymentRefNum": "PaymentRefNum", "PrivateNote": "PrivateNote", "TxnDate": _CONTROLLED,
                "Line.LinkedTxn.TxnType": _CONTROLLED, "CurrencyRef.value": _CONTROLLED},
    "CreditMemo": {"DocNumber": "DocNumber", "GlobalTaxCalculation": _CONTROLLED,
                   "PrivateNote": "PrivateNote", "Line.Description": "Description", "TxnDate": _CONTROLLED,
                   "Line.DetailType": _CONTROLLED, "CurrencyRef.value": _CONTROLLED},
    "RefundReceipt": {"PaymentRefNum": "RefundReceipt.PaymentRefNum", "PrivateNote": "PrivateNote",
                      "Line.Description": "Description", "TxnDate": _CONTROLLED, "Line.DetailType": _CONTROLLED,
                      "CurrencyRef.value": _CONTROLLED},
}


def limit_for(entity: str, path: str, name_max_length: int = 100, description_max_length: int = 4000) -> int | None:
    """The length a string at ``path`` of an ``entity`` body may have (None: a controlled value).

    Raises KeyError for a path the table does not know, so a new field cannot slip past the limits.
    """
    key = FIELD_LIMITS[entity][path]
    if key is None:
        return None
    limit = LIMITS[key]
    if key in ("DisplayName", "Name"):
        limit = min(limit, name_max_length)
    if key == "Description":
        limit = min(limit, description_max_length)
    return limit


def limit_violations(entity: str, body: Any, name_max_length: int = 100,
                     description_max_length: int = 4000) -> list[str]:
    """Every string field of a payload body that exceeds its limit or breaks a name rule."""
    problems: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            if "$ref" in value and len(value) == 1:
                return
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for item in value:
                walk(item, path)
        elif isinstance(value, str):
            try:
                limit = limit_for(entity, path, name_max_length, description_max_length)
            except KeyError:
                problems.append(f"{entity}.{path}: no limit known for this field")
                return
            if limit is not None and len(value) > limit:
                problems.append(f"{entity}.{path}: {len(value)} characters, limit {limit}")
            if FIELD_LIMITS[entity][path] in NAME_FIELDS and (_FORBIDDEN_IN_NAMES.search(value) or ":" in value):
                problems.append(f"{entity}.{path}: contains ':' or a tab or newline")

    walk(body, "")
    return problems


def positions_by_parent(parent_ids: Any) -> dict[str, list[int]]:
    """Row positions of child lines grouped by their parent's id (as text), in the lines' order:
    how a document's lines are gathered once instead of filtering the frame per document."""
    grouped: dict[str, list[int]] = {}
    for position, parent_id in enumerate(parent_ids):
        grouped.setdefault(str(parent_id), []).append(position)
    return grouped
