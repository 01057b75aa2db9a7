"""Sales tax of a non-US company (Canada, United Kingdom), as QBO's global editions do it.

A US company marks lines TAX or NON and takes its rate from one transaction tax code. A
company whose ``CompanyInfo.Country`` is not US has no TAX/NON: every sales line names one of
the company's own TaxCodes (GST, HST ON, 20.0% S, Exempt...), each code lists its TaxRates,
and ``GlobalTaxCalculation`` says whether line amounts exclude tax, include it, or are out of
scope. Tax is computed line by line and rate by rate, each rounded half-up to cents, and
returned as one ``TxnTaxDetail.TaxLine`` per rate. Every rule and its source is in docs/tax.md.

The company's country is chosen when the sandbox creates it (``create_app(country=...)``,
``qbo-pipeline sandbox serve --country``, ``POST /admin/companies {"country": ...}``), as QBO
fixes it when a company is created: it never changes afterwards.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qbo_pipeline.sandbox import arithmetic as A
from qbo_pipeline.sandbox import errors as E
from qbo_pipeline.sandbox.records import get_path

CALCULATIONS = ("TaxExcluded", "TaxInclusive", "NotApplicable")
LINE_CODE_ELEMENT = "Line.SalesItemLineDetail.TaxCodeRef"


@dataclass(frozen=True)
class Edition:
    """What a country's QBO edition brings: currency, agencies, rates, codes, tax accounts."""

    country: str
    company_name: str
    currency: str
    tax_word: str  # the word of QBO's "Make sure all your transactions have a ... rate" refusal
    agencies: tuple[str, ...]
    # (rate name, percent, agency index)
    rates: tuple[tuple[str, str, int], ...]
    # (code name, description, rate names); a code without rates is out of scope (no TaxLine)
    codes: tuple[tuple[str, str, tuple[str, ...]], ...]
    # (account name, AccountType, AccountSubType) the tax is booked to; the first is the default
    accounts: tuple[tuple[str, str, str], ...]
    exempt_code: str  # the code the sample company's own invoices use
    address: dict


EDITIONS: dict[str, Edition] = {
    "CA": Edition(
        country="CA", company_name="Sandbox Company_CA_1", currency="CAD", tax_word="GST/HST",
        agencies=("Canada Revenue Agency", "Minister of Finance (BC)"),
        rates=(("GST", "5", 0), ("HST ON", "13", 0), ("PST (BC)", "7", 1), ("Zero-rated", "0", 0),
               ("Exempt", "0", 0)),
        codes=(("GST", "GST", ("GST",)), ("HST ON", "HST Ontario", ("HST ON",)),
               ("GST/PST BC", "GST and PST British Columbia", ("GST", "PST (BC)")),
               ("PST BC", "PST British Columbia", ("PST (BC)",)), ("Zero-rated", "Zero-rated supplies", ("Zero-rated",)),
               ("Exempt", "Exempt supplies", ("Exempt",)), ("Out of Scope", "Out of scope of sales tax", ())),
        accounts=(("GST/HST Payable", "Other Current Liability", "GlobalTaxPayable"),
                  ("PST Payable (BC)", "Other Current Liability", "GlobalTaxPayable")),
        exempt_code="Exempt",
        address={"Line1": "100 King St W", "City": "Toronto", "CountrySubDivisionCode": "ON",
                 "PostalCode": "M5X 1A9", "Country": "CA"},
    ),
    "GB": Edition(
        country="GB", company_name="Sandbox Company_GB_1", currency="GBP", tax_word="VAT",
        agencies=("HM Revenue & Customs",),
        rates=(("20.0% S", "20", 0), ("5.0% R", "5", 0), ("0.0% Z", "0", 0), ("Exempt", "0", 0)),
        codes=(("20.0% S", "Standard rate sales", ("20.0% S",)), ("5.0% R", "Reduced rate sales", ("5.0% R",)),
               ("0.0% Z", "Zero rated sales", ("0.0% Z",)), ("Exempt", "Exempt sales", ("Exempt",)),
               ("No VAT", "Outside the scope of VAT", ())),
        accounts=(("VAT Control", "Other Current Liability", "GlobalTaxPayable"),),
        exempt_code="Exempt",
        address={"Line1": "1 Poultry", "City": "London", "PostalCode": "EC2R 8EJ", "Country": "GB"},
    ),
}
COUNTRIES = ("US", *EDITIONS)


def check_country(country: str) -> str:
    """The country code a company may be created with (US, CA, GB); anything else is refused."""
    code = (country or "US").upper()
    if code == "UK":
        code = "GB"
    if code not in COUNTRIES:
        raise ValueError(f"country must be one of {', '.join(COUNTRIES)}, not {country!r}")
    return code


def country_of(company: Any) -> str:
    """``CompanyInfo.Country`` of a company (US when unset: companies stored before countries existed)."""
    info = company.table("CompanyInfo").get("1") or {}
    return str(info.get("Country") or "US")


def is_global(company: Any) -> bool:
    """True when the company uses QBO's non-US tax model (every line names a real tax code)."""
    return country_of(company) in EDITIONS


# ---------------------------------------------------------------------- company records
def tax_records(country: str, first_id: int, common: Any) -> tuple[dict[str, list[dict]], int]:
    """TaxAgency, TaxRate and TaxCode records of an edition, Ids from ``first_id``; returns them and
    the next free Id. ``common`` adds SyncToken, domain and MetaData to a record."""
    edition = EDITIONS[country]
    next_id = first_id
    agencies = []
    for name in edition.agencies:
        agencies.append(common({"Id": str(next_id), "DisplayName": name, "TaxTrackedOnSales": True,
                                "TaxTrackedOnPurchases": True}))
        next_id += 1
    rates: dict[str, dict] = {}
    for name, percent, agency in edition.rates:
        value = A.number(Decimal(percent))
        rates[name] = common({"Id": str(next_id), "Name": name, "Description": name, "Active": True,
                              "RateValue": value, "AgencyRef": {"value": agencies[agency]["Id"]},
                              "SpecialTaxType": "ZERO_RATE" if Decimal(percent) == 0 else "NONE",
                              "DisplayType": "ReadOnly",
                              "EffectiveTaxRate": [{"RateValue": value, "EffectiveDate": "2017-01-01T00:00:00-08:00"}]})
        next_id += 1
    codes = []
    for name, description, rate_names in edition.codes:
        codes.append(common({
            "Id": str(next_id), "Name": name, "Description": description, "Active": True, "Hidden": False,
            "Taxable": bool(rate_names), "TaxGroup": len(rate_names) > 1,
            "SalesTaxRateList": {"TaxRateDetail": [
                {"TaxRateRef": {"value": rates[r]["Id"], "name": r}, "TaxTypeApplicable": "TaxOnAmount",
                 "TaxOrder": 0} for r in rate_names]},
            "PurchaseTaxRateList": {"TaxRateDetail": []}}))
        next_id += 1
    return {"TaxAgency": agencies, "TaxRate": list(rates.values()), "TaxCode": codes}, next_id


def chart(country: str, accounts: list[dict]) -> list[dict]:
    """The sample chart of accounts for a country: the US sales-tax liabilities give way to the edition's."""
    if country not in EDITIONS:
        return accounts
    kept = [a for a in accounts if a.get("AccountSubType") != "GlobalTaxPayable"]
    return kept + [{"Name": n, "AccountType": t, "AccountSubType": s} for n, t, s in EDITIONS[country].accounts]


def sample_line_code(company: Any) -> str:
    """The TaxCode Id the sample company's own invoice lines use: NON (US) or the edition's exempt code."""
    country = country_of(company)
    if country not in EDITIONS:
        return "NON"
    name = EDITIONS[country].exempt_code
    return next(c["Id"] for c in company.table("TaxCode").values() if c.get("Name") == name)


# ---------------------------------------------------------------------- arithmetic (pure)
def exclusive_tax(net: Decimal, percents: list[Decimal]) -> list[Decimal]:
    """Tax of a tax-exclusive amount for each rate of its code: each rounded half-up to cents."""
    return [A.percent_of(net, p) for p in percents]


def inclusive_split(gross: Decimal, percents: list[Decimal]) -> tuple[Decimal, list[Decimal]]:
    """(net, tax per rate) of a tax-inclusive amount: net = gross / (1 + sum of rates), half-up to
    cents; the tax is gross - net, each rate but the last taking its own rounded percent of the net
    and the last the remainder, so net + tax = gross exactly."""
    total = sum(percents, A.ZERO)
    net = A.cents(gross * A.HUNDRED / (A.HUNDRED + total))
    tax = gross - net
    if not percents:
        return gross, []
    shares = [A.percent_of(net, p) for p in percents[:-1]]
    return net, [*shares, tax - sum(shares, A.ZERO)]


@dataclass
class TaxedLine:
    """One sales line for the tax: its amount net of tax, its code's rates, and the gross amount
    when the client gave it (``TaxInclusiveAmt`` under ``TaxInclusive``)."""

    net: Decimal
    rates: list[A.TaxRateShare]
    gross: Decimal | None = None


def compute(lines: list[TaxedLine]) -> tuple[A.TaxResult, list[Decimal]]:
    """TaxLines per rate (in order of first use) and each line's tax: line by line, rate by rate."""
    by_rate: dict[str, list] = {}
    per_line = []
    for line in lines:
        percents = [r.percent for r in line.rates]
        if line.gross is not None:
            _, taxes = inclusive_split(line.gross, percents)
        else:
            taxes = exclusive_tax(line.net, percents)
        per_line.append(sum(taxes, A.ZERO))
        for share, tax in zip(line.rates, taxes, strict=True):
            slot = by_rate.setdefault(share.rate_id, [share, A.ZERO, A.ZERO])
            slot[1] += tax
            slot[2] += line.net
    result = A.TaxResult()
    for share, tax, net in by_rate.values():
        result.lines.append((share, tax, net))
        result.total += tax
    return result, per_line


def reallocate(total: Decimal, result: A.TaxResult) -> A.TaxResult:
    """A client's TotalTax spread over the TaxLines in proportion to their amounts (else to net x
    percent), half-up, the last rate taking the remainder."""
    if not result.lines:
        return A.TaxResult(total, [])
    weights = [amount for _, amount, _ in result.lines]
    if not sum(weights, A.ZERO):
        weights = [net * share.percent for share, _, net in result.lines]
    amounts = A.allocate(total, weights)
    return A.TaxResult(total, [(share, amount, net)
                               for (share, _, net), amount in zip(result.lines, amounts, strict=True)])


# ---------------------------------------------------------------------- the rules' hooks
def _using_sales_tax(company: Any) -> bool:
    return bool(get_path(company.preferences(), "TaxPrefs.UsingSalesTax"))


def code_rates(company: Any, code_id: str) -> list[A.TaxRateShare]:
    """The sales rates of a tax code, in its order."""
    code = company.table("TaxCode").get(code_id) or {}
    shares = []
    for detail in get_path(code, "SalesTaxRateList.TaxRateDetail") or []:
        rate_id = str(get_path(detail, "TaxRateRef.value") or "")
        rate = company.table("TaxRate").get(rate_id)
        if rate is not None:
            shares.append(A.TaxRateShare(rate_id, str(rate.get("Name", "")), A.dec(rate.get("RateValue", 0), "RateValue")))
    return shares


def missing_rate(company: Any) -> E.QBOFault:
    """QBO's refusal of a sales line without a tax code in a non-US company (6000)."""
    word = EDITIONS[country_of(company)].tax_word
    return E.business(f"Make sure all your transactions have a {word} rate before you save.", element=LINE_CODE_ELEMENT)


def _item_lines(record: dict) -> list[dict]:
    return [line for line in record.get("Line") or []
            if isinstance(line, dict) and line.get("DetailType") == "SalesItemLineDetail"]


def prepare(rules: Any, record: dict) -> None:
    """Before the lines are checked: GlobalTaxCalculation (default TaxExcluded), a tax code on every
    sales line, and the net Amount of each line priced with tax (``TaxInclusiveAmt``)."""
    calc = record.get("GlobalTaxCalculation") or "TaxExcluded"
    if calc not in CALCULATIONS:
        raise E.QBOFault(2170, "Invalid Enumeration",
                         f"Invalid Enumeration : {calc} is not valid for GlobalTaxCalculation; valid values: "
                         f"{', '.join(CALCULATIONS)}", element="GlobalTaxCalculation")
    record["GlobalTaxCalculation"] = calc
    if calc == "NotApplicable" or not _using_sales_tax(rules.company):
        return
    record["Line"] = copy.deepcopy(record.get("Line"))
    for line in _item_lines(record):
        detail = line.get("SalesItemLineDetail") or {}
        if not detail.get("TaxCodeRef"):
            raise missing_rate(rules.company)
        if calc == "TaxInclusive" and detail.get("TaxInclusiveAmt") not in (None, ""):
            gross = A.money(detail["TaxInclusiveAmt"], "Line.SalesItemLineDetail.TaxInclusiveAmt")
            code = rules._resolve_ref("TaxCodeRef", detail["TaxCodeRef"], "TaxCode")
            net, _ = inclusive_split(gross, [r.percent for r in code_rates(rules.company, code["value"])])
            detail["TaxInclusiveAmt"] = A.number(gross)
            line["Amount"] = A.number(net)


def sales_tax(rules: Any, record: dict, coded: list[tuple[Decimal, Any]], discount: Decimal) -> Decimal:
    """TxnTaxDetail of a non-US sales form: computed per line and rate, or the client's override
    (TaxLines with amounts, or a TotalTax); returns the total tax."""
    company = rules.company
    calc = record.get("GlobalTaxCalculation") or "TaxExcluded"
    if calc == "NotApplicable" or not _using_sales_tax(company):
        record["TxnTaxDetail"] = {"TotalTax": 0.0}
        return A.ZERO
    item_lines = _item_lines(record)
    amounts = [amount for amount, _ in coded]
    after = record.get("ApplyTaxAfterDiscount") in (True, "true")
    shares = A.allocate(discount, amounts) if after and discount and sum(amounts, A.ZERO) else [A.ZERO] * len(coded)
    taxed = []
    for line, (amount, code), share in zip(item_lines, coded, shares, strict=True):
        detail = line["SalesItemLineDetail"]
        gross = None
        if calc == "TaxInclusive" and detail.get("TaxInclusiveAmt") not in (None, "") and not share:
            gross = A.money(detail["TaxInclusiveAmt"], "Line.SalesItemLineDetail.TaxInclusiveAmt")
        taxed.append(TaxedLine(amount - share, code_rates(company, str(code)) if code else [], gross))
    computed, per_line = compute(taxed)
    if calc == "TaxInclusive":
        for line, item, tax in zip(item_lines, taxed, per_line, strict=True):
            line["SalesItemLineDetail"]["TaxInclusiveAmt"] = A.number(item.gross if item.gross is not None
                                                                      else item.net + tax)
    result = _override(rules, computed)
    out: dict[str, Any] = {}
    sent = rules.request.get("TxnTaxDetail") if isinstance(rules.request.get("TxnTaxDetail"), dict) else {}
    if sent.get("TxnTaxCodeRef"):
        out["TxnTaxCodeRef"] = rules._resolve_ref("TxnTaxDetail.TxnTaxCodeRef", sent["TxnTaxCodeRef"], "TaxCode")
    out["TotalTax"] = float(result.total)
    if result.lines:
        out["TaxLine"] = A.tax_lines_json(result)
    record["TxnTaxDetail"] = out
    return result.total


def _override(rules: Any, computed: A.TaxResult) -> A.TaxResult:
    """The client's tax, where QBO takes it: TaxLines with amounts (per rate), else a TotalTax
    that differs from the computed one (prorated over the rates)."""
    sent = rules.request.get("TxnTaxDetail")
    if not isinstance(sent, dict):
        return computed
    given_total = None
    if sent.get("TotalTax") not in (None, "") and sent.get("TotalTaxSpecified") not in (False, "false"):
        given_total = A.money(sent["TotalTax"], "TxnTaxDetail.TotalTax")
    lines = [line for line in sent.get("TaxLine") or []
             if isinstance(line, dict) and line.get("Amount") not in (None, "")]
    if lines:
        computed_net = {share.rate_id: net for share, _, net in computed.lines}
        result = A.TaxResult()
        for line in lines:
            detail = line.get("TaxLineDetail") or {}
            if not detail.get("TaxRateRef"):
                raise E.required("TxnTaxDetail.TaxLine.TaxLineDetail.TaxRateRef")
            ref = rules._resolve_ref("TxnTaxDetail.TaxLine.TaxLineDetail.TaxRateRef", detail["TaxRateRef"], "TaxRate")
            rate = rules.company.table("TaxRate")[ref["value"]]
            percent = A.dec(detail.get("TaxPercent", rate.get("RateValue", 0)), "TxnTaxDetail.TaxLine.TaxPercent")
            amount = A.money(line["Amount"], "TxnTaxDetail.TaxLine.Amount")
            if detail.get("NetAmountTaxable") not in (None, ""):
                net = A.money(detail["NetAmountTaxable"], "TxnTaxDetail.TaxLine.NetAmountTaxable")
            else:
                net = computed_net.get(ref["value"], A.ZERO)
            result.lines.append((A.TaxRateShare(ref["value"], ref.get("name", ""), percent), amount, net))
            result.total += amount
        if given_total is not None and given_total != result.total:
            return reallocate(given_total, result)
        return result
    if given_total is not None and given_total != computed.total:
        return reallocate(given_total, computed)
    return computed
