"""Multicurrency as QBO does it: off by default (a foreign CurrencyRef is refused), on as a one-way
company preference, with exchange rates (home units per foreign unit) and home-currency amounts.

Sources and the choices where Intuit is silent: docs/qbo-arithmetic.md section 5.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qbo_pipeline.sandbox import arithmetic as A
from qbo_pipeline.sandbox import errors as E
from qbo_pipeline.sandbox.records import get_path

CURRENCY_NAMES = {
    "USD": "United States Dollar", "EUR": "Euro", "GBP": "British Pound Sterling", "CAD": "Canadian Dollar",
    "AUD": "Australian Dollar", "JPY": "Japanese Yen", "MXN": "Mexican Peso", "CHF": "Swiss Franc",
    "INR": "Indian Rupee", "NZD": "New Zealand Dollar", "CNY": "Chinese Yuan Renminbi", "SEK": "Swedish Krona",
}
# The rates the sandbox "downloads" (QBO fills rates from a feed): home (USD) units per foreign unit.
# Fixed, so tests can compute with them; a company's own ExchangeRate records take precedence.
FEED_RATES = {"EUR": Decimal("1.08"), "GBP": Decimal("1.27"), "CAD": Decimal("0.74"), "AUD": Decimal("0.66"),
              "JPY": Decimal("0.0067"), "MXN": Decimal("0.058"), "CHF": Decimal("1.12"), "INR": Decimal("0.012"),
              "NZD": Decimal("0.61"), "CNY": Decimal("0.14"), "SEK": Decimal("0.095")}
FEED_DATE = "2026-01-01"


def enabled(preferences: dict) -> bool:
    return get_path(preferences, "CurrencyPrefs.MultiCurrencyEnabled") in (True, "true")


def home(preferences: dict) -> str:
    return str(get_path(preferences, "CurrencyPrefs.HomeCurrency.value") or "USD")


def ref(code: str) -> dict:
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def code_of(record: dict) -> str | None:
    value = record.get("CurrencyRef")
    if isinstance(value, dict):
        value = value.get("value")
    return None if value in (None, "") else str(value).upper()


def not_enabled(code: str, home_code: str) -> E.QBOFault:
    return E.business(f"Multicurrency is not enabled for this company. CurrencyRef must be the home currency "
                      f"({home_code}), not {code}.", element="CurrencyRef")


def party_currency(preferences: dict, record: dict, old: dict | None) -> dict:
    """The CurrencyRef of a customer or vendor: home unless multicurrency allows another; immutable."""
    home_code = home(preferences)
    given = code_of(record)
    before = code_of(old) if old else None
    if before and given and given != before:
        raise E.business("You can't change the currency of a customer or vendor once it has been set.",
                         element="CurrencyRef")
    code = before or given or home_code
    if code != home_code and not enabled(preferences):
        raise not_enabled(code, home_code)
    if code not in CURRENCY_NAMES:
        raise E.invalid_reference("CurrencyRef", code, "Currency")
    return ref(code)


def rate_on(company: Any, code: str, on_date: str) -> Decimal | None:
    """The company's rate for a currency on a date: its latest ExchangeRate record on or before, else the feed."""
    best: tuple[str, Decimal] | None = None
    for record in company.table("ExchangeRate").values():
        if record.get("SourceCurrencyCode") == code and str(record.get("AsOfDate", "")) <= on_date and \
                (best is None or str(record["AsOfDate"]) > best[0]):
            best = (str(record["AsOfDate"]), A.dec(record["Rate"], "Rate"))
    if best:
        return best[1]
    return FEED_RATES.get(code)


def transaction_currency(company: Any, record: dict, party: dict | None) -> tuple[str, Decimal]:
    """Set a transaction's CurrencyRef and ExchangeRate as QBO does; returns (currency, rate to home).

    Off: anything but the home currency is refused (no silent conversion). On: the currency is the
    one given, else the customer's or vendor's; it must be theirs; the rate is the one given, else
    the company's rate for the transaction date.
    """
    preferences = company.preferences()
    home_code = home(preferences)
    given = code_of(record)
    if not enabled(preferences):
        if given and given != home_code:
            raise not_enabled(given, home_code)
        record["CurrencyRef"] = ref(home_code)
        record.pop("ExchangeRate", None)
        return home_code, Decimal(1)
    party_code = code_of(party) if party else None
    code = given or party_code or home_code
    if code not in CURRENCY_NAMES:
        raise E.invalid_reference("CurrencyRef", code, "Currency")
    if party_code and code != party_code:
        raise E.business(f"The transaction currency ({code}) must be the currency of its customer or vendor "
                         f"({party_code}).", element="CurrencyRef")
    record["CurrencyRef"] = ref(code)
    if code == home_code:
        record["ExchangeRate"] = 1
        return code, Decimal(1)
    if record.get("ExchangeRate") not in (None, ""):
        exchange = A.dec(record["ExchangeRate"], "ExchangeRate")
        if exchange <= 0:
            raise E.business("ExchangeRate must be greater than zero.", element="ExchangeRate")
    else:
        found = rate_on(company, code, str(record.get("TxnDate") or ""))
        if found is None:
            raise E.business(f"There is no exchange rate for {code}; give ExchangeRate or add one.",
                             element="ExchangeRate")
        exchange = found
    record["ExchangeRate"] = A.number(exchange)
    return code, exchange


def set_home_total(company: Any, record: dict, total: Decimal, exchange: Decimal) -> None:
    """HomeTotalAmt: the total in home currency, only when multicurrency is on (QBO omits it otherwise)."""
    if enabled(company.preferences()):
        record["HomeTotalAmt"] = float(A.home_amount(total, exchange))
    else:
        record.pop("HomeTotalAmt", None)
