"""Foreign currencies refused up front when the QBO company has multicurrency off.

A company without multicurrency books everything in its home currency; QBO refuses a
foreign CurrencyRef, and before the sandbox knew that, an EUR invoice was silently booked
as USD. The export reads the company's Preferences once per run and, when multicurrency is
off, quarantines every record in another currency (customers and transactions) with a
reason that names the setting to change, before a single write. With multicurrency on, a
transaction's exchange rate is the source's when it has one, else QBO's rate for the date
(the documented rule); QBO then computes the home-currency total, which the tests check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from qbo_pipeline.schemas.validation import QUARANTINE_COLUMNS, ValidationResult

SETTING = "Account and Settings > Advanced > Currency > Multicurrency"


@dataclass(frozen=True)
class CurrencySettings:
    """What the company's Preferences say about currencies."""

    multicurrency: bool
    home: str

    @classmethod
    def from_preferences(cls, preferences: Mapping[str, Any], default_home: str) -> CurrencySettings:
        prefs = preferences.get("CurrencyPrefs") or {}
        home = (prefs.get("HomeCurrency") or {}).get("value") or default_home
        return cls(prefs.get("MultiCurrencyEnabled") in (True, "true"), str(home))


def refusal(code: str, home: str) -> str:
    return (f"The record is in {code}, but the QuickBooks company has multicurrency off (home currency {home}); "
            f"turn multicurrency on in QuickBooks ({SETTING}) or record it in {home}.")


def refuse_foreign_currencies(validations: Mapping[str, ValidationResult], settings: CurrencySettings,
                              frames: Mapping[str, pd.DataFrame] | None = None) -> dict[str, ValidationResult]:
    """The validations with every valid record in a foreign currency moved to the quarantine (check
    ``multicurrency_off``), children included, when the company has multicurrency off; unchanged otherwise.

    A foreign record already quarantined because its customer has another currency gets the
    ``multicurrency_off`` reason last (the one the ledger shows): giving the customer its
    currency cannot work while the company has multicurrency off; the setting is the fix.
    """
    if settings.multicurrency:
        return dict(validations)
    from qbo_pipeline.entities import entity as lookup

    out: dict[str, ValidationResult] = {}
    for name, result in validations.items():
        spec = lookup(name)
        result = _name_the_setting(name, spec.table, result, settings, (frames or {}).get(spec.table))
        main = result.valid.get(spec.table)
        if main is None or main.empty or "currency" not in main:
            out[name] = result
            continue
        codes = main["currency"].astype(object).where(main["currency"].notna(), None)
        foreign = codes.map(lambda c: isinstance(c, str) and c.strip() != "" and c.strip() != settings.home)
        foreign = foreign.to_numpy(dtype=bool)
        if not foreign.any():
            out[name] = result
            continue
        refused = main[foreign]
        rows = pd.DataFrame({
            "entity": name, "source_id": refused["id"].astype(str).to_numpy(), "column": "currency",
            "check": "multicurrency_off", "reason": [refusal(str(c), settings.home) for c in refused["currency"]],
            "row_id": refused["id"].astype(str).to_numpy(),
        }, columns=QUARANTINE_COLUMNS)
        valid = dict(result.valid)
        valid[spec.table] = main[~foreign].reset_index(drop=True)
        if spec.child is not None:
            table, key = spec.child
            child = valid[table]
            valid[table] = child[~child[key].isin(set(refused["id"]))].reset_index(drop=True)
        quarantine = pd.concat([q for q in (result.quarantine, rows) if q is not None and len(q)],
                               ignore_index=True).astype(object)
        out[name] = replace(result, valid=valid, quarantine=quarantine)
    return out


def _name_the_setting(name: str, table: str, result: ValidationResult, settings: CurrencySettings,
                      frame: pd.DataFrame | None) -> ValidationResult:
    """``multicurrency_off`` added after a ``currency_mismatch`` of a record in a foreign currency."""
    quarantine = result.quarantine
    if frame is None or frame.empty or "currency" not in frame or quarantine is None or not len(quarantine):
        return result
    mismatched = quarantine[(quarantine["check"] == "currency_mismatch") & (quarantine["entity"] == name)]
    if mismatched.empty:
        return result
    currencies = dict(zip(frame["id"].astype(str), frame["currency"], strict=True))
    foreign = [(sid, currencies[sid]) for sid in dict.fromkeys(mismatched["source_id"].astype(str))
               if isinstance(currencies.get(sid), str) and currencies[sid].strip() not in ("", settings.home)]
    if not foreign:
        return result
    rows = pd.DataFrame({"entity": name, "source_id": [sid for sid, _ in foreign], "column": "currency",
                         "check": "multicurrency_off", "reason": [refusal(c.strip(), settings.home) for _, c in foreign],
                         "row_id": [sid for sid, _ in foreign]}, columns=QUARANTINE_COLUMNS)
    return replace(result, quarantine=pd.concat([quarantine, rows], ignore_index=True).astype(object))
