"""QBO field rules in one place: the limit table, name cleaning, DocNumber shortening, money.

Every change these rules make to a value is recorded by :class:`Report`, so a bookkeeper
can see which names were shortened or renamed and why.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
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
}

NAME_FIELDS = {"DisplayName", "CompanyName", "GivenName", "FamilyName", "Name"}
DOC_NUMBER_HEAD, DOC_NUMBER_TAIL = 5, 13
ELLIPSIS = "..."

_FORBIDDEN_IN_NAMES = re.compile(r"[\t\r\n]+")
_SPACES = re.compile(r" {2,}")
_CENT = Decimal("0.01")


def text(value: Any) -> str | None:
    """A source cell as text, or None when it is empty (None, NaN, blank)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    value = str(value)
    return value if value.strip() else None


def clean_name(value: str) -> str:
    """A QBO name: ``:`` becomes ``-`` (QBO reserves it for Parent:Child), tabs and newlines a space."""
    value = value.replace(":", "-")
    value = _FORBIDDEN_IN_NAMES.sub(" ", value)
    return _SPACES.sub(" ", value).strip()


def cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit].rstrip() or value[:limit]


def short_doc_number(value: str, limit: int = LIMITS["DocNumber"]) -> str:
    """DocNumber rule: a number longer than 21 keeps its first 5 and last 13 characters around ``...``."""
    if len(value) <= limit:
        return value
    tail = limit - DOC_NUMBER_HEAD - len(ELLIPSIS)
    return value[:DOC_NUMBER_HEAD] + ELLIPSIS + value[-tail:]


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
