"""Pre-flight checks of one QuickBooks company before exporting into it (``qbo-pipeline doctor``).

The settings checked here are the ones that silently corrupt an export when wrong
(renumbered invoices, credits applied twice, records refused in a closed period, foreign
currencies refused) or stop it later (an expiring refresh token, a tax code that does not
exist). The rules are a pure function of gathered facts, :func:`doctor_findings`, so the
command (``operator/doctor.py``) and the Dagster asset check (``defs/checks.py``, through
``stages.company_findings``) give the same answers. No click and no Dagster here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.qbo.environments import MINOR_VERSION

log = logging.getLogger("qbo_pipeline.company_checks")

OK, WARNING, ERROR = "ok", "warning", "error"
REFRESH_WARNING_DAYS = 14  # reconnect before the refresh token expires, with time to spare
CHECKS = ("connection", "access_token", "refresh_token", "custom_txn_numbers", "auto_apply_credits",
          "book_close_date", "currencies", "accounts", "tax_codes", "minor_version")
_SOURCE_CURRENCY_TABLES = ("customers", "invoices", "payments", "credits", "refunds")


@dataclass(frozen=True)
class Finding:
    """One check's verdict, and what to do about it."""

    check: str
    severity: str  # ok | warning | error
    message: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CompanyFacts:
    """What the checks look at, gathered from the vault, QuickBooks and the source."""

    connection: dict[str, Any]
    now: float = field(default_factory=time.time)
    preferences: dict[str, Any] | None = None
    company_info: dict[str, Any] | None = None
    accounts: list[dict[str, Any]] | None = None
    tax_codes: list[dict[str, Any]] | None = None
    source_currencies: set[str] | None = None  # customers' currencies: what valid transactions can use
    transaction_currencies: set[str] | None = None  # currencies on transaction rows
    minor_version: int = MINOR_VERSION
    qbo_error: str | None = None  # QuickBooks could not be read
    source_error: str | None = None
    environment: str = "production"  # local: the bundled sandbox, which has no settings pages


# The local sandbox has no settings pages: `run`/`ui` set its company up through the API.
_LOCAL_PREFERENCE_FIX = ("the local sandbox has no settings pages: `qbo-pipeline run` (or `qbo-pipeline ui`) sets "
                         "it when it starts the sandbox, through a sparse Preferences update of the QBO API")


def _path(data: dict[str, Any] | None, dotted: str) -> Any:
    value: Any = data or {}
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _days(seconds: float) -> str:
    return f"{seconds / 86400:.0f} day(s)" if seconds >= 86400 else f"{seconds / 3600:.1f} hour(s)"


def _connection_findings(facts: CompanyFacts) -> list[Finding]:
    c = facts.connection
    status = c.get("status") or "not_connected"
    reconnect = "run `qbo-pipeline connect` (a person consents in the browser)"
    if status == "needs_reconnect":
        return [Finding("connection", ERROR, f"QuickBooks refused the refresh token: {c.get('message') or ''}".strip(),
                        f"reconnect: {reconnect}")]
    if status != "connected" or c.get("access_expires_in") is None:
        return [Finding("connection", ERROR, f"the company is not connected ({status})", reconnect)]
    found = [Finding("connection", OK, f"connected to realm {c.get('realm_id')}")]
    access = c["access_expires_in"]
    if access > 0:
        found.append(Finding("access_token", OK, f"access token valid for {_days(access)}; refreshed automatically"))
    else:
        found.append(Finding("access_token", OK, "access token expired; it is refreshed on the next call"))
    refresh_at = c.get("refresh_expires_at")
    hard = c.get("refresh_hard_expires_at")
    if refresh_at is None:
        found.append(Finding("refresh_token", WARNING, "the refresh token's expiry is unknown",
                             f"reconnect to record it: {reconnect}"))
    else:
        left = min(refresh_at, hard or refresh_at) - facts.now
        hard_text = (f"; hard expiry in {_days(hard - facts.now)}" if hard else
                     "; hard expiry (5 years at most) not reported by QuickBooks")
        if left <= 0:
            found.append(Finding("refresh_token", ERROR, "the refresh token has expired", f"reconnect: {reconnect}"))
        elif left < REFRESH_WARNING_DAYS * 86400:
            found.append(Finding("refresh_token", WARNING, f"the refresh token expires in {_days(left)}{hard_text}",
                                 f"reconnect before it expires: {reconnect}; a sync at least every 100 days "
                                 "also keeps it alive"))
        else:
            found.append(Finding("refresh_token", OK, f"refresh token valid for {_days(left)}{hard_text}"))
    return found


def _preference_findings(facts: CompanyFacts, config: PipelineConfig) -> list[Finding]:
    prefs = facts.preferences
    found = []
    custom = _path(prefs, "SalesFormsPrefs.CustomTxnNumbers")
    if custom:
        found.append(Finding("custom_txn_numbers", OK, "custom transaction numbers are on: invoices keep the "
                                                        "source's numbers"))
    else:
        found.append(Finding(
            "custom_txn_numbers", ERROR,
            "custom transaction numbers are off: QuickBooks numbers invoices itself, so they will not match "
            "the billing system's numbers and duplicates cannot be detected by number",
            _LOCAL_PREFERENCE_FIX if facts.environment == "local" else
            "QuickBooks: Settings > Account and settings > Sales > Sales form content > Custom transaction "
            "numbers: On"))
    auto = _path(prefs, "SalesFormsPrefs.AutoApplyCredit")
    if not auto:
        found.append(Finding("auto_apply_credits", OK, "automatically apply credits is off"))
    else:
        severity = ERROR if config.options.apply_credits_to_invoices else WARNING
        found.append(Finding(
            "auto_apply_credits", severity,
            "automatically apply credits is on: QuickBooks applies open credits to new invoices by itself, "
            "so invoice balances will not match the source"
            + (" and credits the pipeline applies would be applied twice" if severity == ERROR else ""),
            _LOCAL_PREFERENCE_FIX if facts.environment == "local" else
            "QuickBooks: Settings > Account and settings > Advanced > Automation > Automatically apply credits: Off"))
    close = _path(prefs, "AccountingInfoPrefs.BookCloseDate")
    start = config.options.sync_start_date
    if not close:
        found.append(Finding("book_close_date", OK, "the books are not closed"))
    elif date.fromisoformat(str(close)[:10]) >= start:
        action = "skipped" if config.export.closed_period == "skip" else "refused (failed)"
        found.append(Finding(
            "book_close_date", WARNING,
            f"the books are closed through {close}, on or after the sync start date {start}: transactions dated "
            f"until then will be {action}",
            f"move the closing date before {start} (Settings > Advanced > Accounting > Close the books) or set "
            "options.sync_start_date after it"))
    else:
        found.append(Finding("book_close_date", OK, f"the books are closed through {close}, before the sync start "
                                                     f"date {start}"))
    return found


def _currency_findings(facts: CompanyFacts, config: PipelineConfig) -> list[Finding]:
    prefs = facts.preferences
    qbo_home = _path(prefs, "CurrencyPrefs.HomeCurrency.value") or _path(prefs, "CurrencyPrefs.HomeCurrency")
    multi = bool(_path(prefs, "CurrencyPrefs.MultiCurrencyEnabled"))
    home = config.options.home_currency
    found = []
    if qbo_home and str(qbo_home) != home:
        found.append(Finding("currencies", ERROR, f"the company's home currency is {qbo_home} but the configuration "
                                                  f"says {home}", f"set options.home_currency: {qbo_home}"))
    if facts.source_currencies is None:
        found.append(Finding("currencies", WARNING, f"the source's currencies could not be read: {facts.source_error}",
                             "check source.url and the mapping"))
        return found
    foreign = sorted(facts.source_currencies - {home})
    stray = sorted((facts.transaction_currencies or set()) - facts.source_currencies - {home})
    if stray:
        found.append(Finding("currencies", WARNING,
                             f"transactions in {', '.join(stray)} belong to customers of another currency: they are "
                             "quarantined (currency_mismatch)", "fix the currency of those rows in the source"))
    if foreign and not multi:
        found.append(Finding("currencies", ERROR,
                             f"the source uses {', '.join(foreign)} besides {home} but multicurrency is off",
                             "QuickBooks: Settings > Account and settings > Advanced > Currency > Multicurrency: On "
                             "(it cannot be turned off again), or keep those rows out of the source"))
    elif not found:
        used = ", ".join(sorted(facts.source_currencies | {home}))
        found.append(Finding("currencies", OK, f"source currencies ({used}) are supported"
                                               + (" (multicurrency on)" if multi else "")))
    return found


def _list_findings(facts: CompanyFacts, config: PipelineConfig) -> list[Finding]:
    found = []
    accounts = {str(a.get("Name", "")).casefold(): a for a in facts.accounts or []}
    wanted = {key: name for key, name in config.accounts.model_dump().items() if name}
    missing = [f"{name} ({key})" for key, name in wanted.items() if name.casefold() not in accounts]
    inactive = [name for name in wanted.values()
                if name.casefold() in accounts and accounts[name.casefold()].get("Active") is False]
    if inactive:
        found.append(Finding("accounts", ERROR, f"configured accounts are inactive in QuickBooks: {', '.join(inactive)}",
                             "make them active in the chart of accounts, or name other accounts under `accounts:`"))
    if missing:
        found.append(Finding("accounts", WARNING, f"accounts not in QuickBooks yet: {', '.join(missing)}; the export "
                                                  "creates them with an inferred type",
                             "create them yourself in the chart of accounts if they need a specific type or "
                             "number, or point `accounts:` at existing ones"))
    if not inactive and not missing:
        found.append(Finding("accounts", OK, f"the {len(wanted)} configured accounts exist"))
    codes = {str(c.get("Name", "")): c for c in facts.tax_codes or []}
    taxes = config.taxes
    if taxes.mode == "us":
        country = _path(facts.company_info, "Country")
        using = _path(facts.preferences, "TaxPrefs.UsingSalesTax")
        if country and country != "US":
            found.append(Finding("tax_codes", ERROR, f"taxes.mode is 'us' but the company is in {country}",
                                 "set taxes.mode: mapped and map the source's tax codes to this company's tax codes"))
        elif using is False:
            found.append(Finding("tax_codes", WARNING, "sales tax is not set up: lines marked TAX carry no tax",
                                 "QuickBooks: Taxes > Set up sales tax"))
        else:
            found.append(Finding("tax_codes", OK, "US sales tax: lines are marked TAX or NON"))
    else:
        wanted_codes = set(taxes.map.values()) | ({taxes.default_code} if taxes.default_code else set())
        absent = sorted(c for c in wanted_codes if c not in codes)
        off = sorted(c for c in wanted_codes if c in codes and codes[c].get("Active") is False)
        if absent or off:
            problems = ([f"missing: {', '.join(absent)}"] if absent else []) + ([f"inactive: {', '.join(off)}"] if off else [])
            found.append(Finding("tax_codes", ERROR, f"tax codes the configuration maps to are unusable ({'; '.join(problems)})",
                                 f"fix taxes.map / taxes.default_code; QuickBooks has: {', '.join(sorted(codes)) or 'none'}"))
        else:
            found.append(Finding("tax_codes", OK, f"the {len(wanted_codes)} mapped tax codes exist"))
    return found


def doctor_findings(facts: CompanyFacts, config: PipelineConfig, *, only: tuple[str, ...] | None = None) -> list[Finding]:
    """Every check's finding for one company (pure: facts in, findings out)."""
    found = _connection_findings(facts)
    connected = found[0].severity == OK
    if connected and facts.qbo_error:
        found.append(Finding("qbo_reachable", ERROR, f"QuickBooks could not be read: {facts.qbo_error}",
                             "check the network / base_url, then run doctor again"))
    elif connected and facts.preferences is not None:
        found += _preference_findings(facts, config)
        found += _currency_findings(facts, config)
        found += _list_findings(facts, config)
    if facts.minor_version >= 75:
        found.append(Finding("minor_version", OK, f"requests pin minorversion={facts.minor_version} (Intuit serves "
                                                   "anything lower as 75)"))
    else:
        found.append(Finding("minor_version", ERROR, f"minorversion {facts.minor_version} is below 75, which Intuit "
                                                      "no longer serves", "pin MINOR_VERSION to 75 or later"))
    if only:
        found = [f for f in found if f.check in only or f.check == "qbo_reachable"]
    return found


def source_currencies(config: PipelineConfig, company_key: str) -> tuple[set[str], set[str]]:
    """Currencies of the source's customers, and of its transactions (no currency = the home currency).

    A transaction must be in its customer's currency (else it is quarantined), so the customers'
    currencies are what QuickBooks must accept."""
    from qbo_pipeline.stages import reader_for

    seen: dict[str, set[str]] = {}
    with reader_for(config, company_key) as reader:
        for table in _SOURCE_CURRENCY_TABLES:
            bucket = seen.setdefault("customers" if table == "customers" else "transactions", set())
            for chunk in reader.iter_chunks(table):
                if "currency" in chunk:
                    bucket |= {str(v).upper() for v in chunk["currency"].dropna() if str(v).strip()}
    return seen["customers"], seen["transactions"]


def gather_facts(config: PipelineConfig, company_key: str, *, with_qbo: bool = True,
                 with_source: bool = True) -> CompanyFacts:
    """Read what the checks need: vault status, QuickBooks settings and lists, the source's currencies."""
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.qbo.errors import QboError
    from qbo_pipeline.stages import open_company, open_vault

    ledger = Ledger(config.ledger.url)
    try:
        connection = open_vault(config, ledger).status(company_key)
    finally:
        ledger.dispose()
    facts = CompanyFacts(connection=connection, environment=config.company(company_key).environment)
    if with_source:
        try:
            facts.source_currencies, facts.transaction_currencies = source_currencies(config, company_key)
        except Exception as exc:  # reported as a finding, the other checks still run
            facts.source_error = str(exc)
    if not with_qbo or connection.get("status") != "connected":
        return facts
    try:
        with open_company(config, company_key) as session:
            client = session.client
            facts.preferences = client.preferences()
            facts.company_info = client.company_info()
            facts.accounts = client.query_all("Account", "Active IN (true, false)")
            facts.tax_codes = client.query_all("TaxCode", "Active IN (true, false)")
            facts.connection = session.vault.status(company_key)  # after a refresh, if one happened
    except QboError as exc:
        if exc.kind in ("auth", "needs_reconnect"):
            ledger = Ledger(config.ledger.url)
            try:
                facts.connection = open_vault(config, ledger).status(company_key)
            finally:
                ledger.dispose()
            if facts.connection.get("status") == "connected":
                facts.qbo_error = exc.describe()
        else:
            facts.qbo_error = exc.describe()
    return facts
