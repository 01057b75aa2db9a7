"""Tax of a non-US company: tax as billed per rate, and line amounts that include tax.

A company outside the US (QBO's global editions, Canada and the UK here) names a real tax
code on every line and books tax per rate: ``TxnTaxDetail.TaxLine`` with the rate
(``TaxRateRef``), its percent and the net amount taxed. When the source billed tax amounts,
QBO takes them as given (TaxLines with amounts, or a TotalTax, docs/tax.md), so the tax
QBO books is the source's to the cent. What goes where:

- ``taxes.rates`` says which QBO rates make up each QBO tax code. With it, the tax billed on a
  line goes to its code's rates (one rate: all of it; several: split by their percents,
  half-up, the last rate the rest), summed per rate over the invoice. Without it (or when the
  invoice carries an invoice-level tax amount, which names no line), only ``TotalTax`` is
  sent and QBO prorates it over the rates.
- ``global_calculation: TaxInclusive`` means the source's line amounts include tax. QBO's
  ``Line.Amount`` is always net of tax (its tax-inclusive answers show ``Amount`` net and
  ``TaxInclusiveAmt`` gross), so a line whose tax the source billed is sent net: gross minus
  that tax. An invoice-level tax amount is spread over its lines by their gross amounts for
  that. Lines of an invoice without tax amounts go out with ``TaxInclusiveAmt`` (gross) and
  QBO works out the net itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from qbo_pipeline.config import TaxesConfig
from qbo_pipeline.transform.payload import named_ref

NO_DEFAULT_CODE = ("A non-US company needs a tax code on every line, and a credit or refund has none in the "
                   "source: set taxes.default_code (a 0% code such as Exempt).")


def lacks_default_code(taxes: TaxesConfig) -> bool:
    """True when credits and refunds would reach a non-US company with no tax code on their line (QBO
    refuses them: 6000 "Make sure all your transactions have a GST/HST rate"); they are skipped by
    the rule ``no_default_tax_code`` instead."""
    return taxes.mode == "mapped" and taxes.default_code is None


def split_by_percent(cents: int, percents: list[float]) -> list[int]:
    """An amount in cents over rates in proportion to their percents, half-up, the last the rest."""
    if not percents:
        return []
    whole = sum(Decimal(repr(p)) for p in percents)
    if whole == 0:
        return [0] * (len(percents) - 1) + [cents]
    shares = [int((Decimal(cents) * Decimal(repr(p)) / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP))
              for p in percents[:-1]]
    return [*shares, cents - sum(shares)]


def spread(cents: int, weights: np.ndarray) -> np.ndarray:
    """An amount in cents over lines in proportion to ``weights`` (cents), half-up, the last the rest."""
    out = np.zeros(len(weights), dtype="int64")
    if not len(weights):
        return out
    whole = int(weights.sum())
    if whole == 0:
        out[-1] = cents
        return out
    for i in range(len(weights) - 1):
        out[i] = int((Decimal(cents) * int(weights[i]) / whole).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    out[-1] = cents - int(out[:-1].sum())
    return out


def included_tax(amount_cents: np.ndarray, line_tax_cents: np.ndarray, own_cents: np.ndarray,
                 left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per line (in invoice order): the tax its gross amount includes, in cents: its own billed tax
    plus its share (by gross amount) of its invoice's invoice-level tax."""
    included = line_tax_cents.astype("int64").copy()
    for index, own in enumerate(own_cents):
        if own and right[index] > left[index]:
            a, b = left[index], right[index]
            included[a:b] += spread(int(own), amount_cents[a:b])
    return included


def tax_lines(codes: np.ndarray, net_cents: np.ndarray, tax_cents: np.ndarray, taxes: TaxesConfig) -> list[dict] | None:
    """TxnTaxDetail.TaxLine per QBO rate for the lines of one invoice, or None when a line's code
    has no entry in ``taxes.rates`` (then only TotalTax is sent)."""
    rates = taxes.rates
    if not rates or any(code not in rates for code in codes):
        return None
    per_rate: dict[str, list] = {}  # rate name -> [percent, tax cents, net cents], in order of first use
    for code, net, tax in zip(codes, net_cents, tax_cents, strict=True):
        shares = rates[code]
        for (name, percent), cents in zip(shares.items(), split_by_percent(int(tax), list(shares.values())),
                                          strict=True):
            slot = per_rate.setdefault(name, [percent, 0, 0])
            slot[1] += cents
            slot[2] += int(net)
    return [{"Amount": tax / 100, "DetailType": "TaxLineDetail",
             "TaxLineDetail": {"TaxRateRef": named_ref("TaxRate", name), "PercentBased": True,
                               "TaxPercent": percent, "NetAmountTaxable": net / 100}}
            for name, (percent, tax, net) in per_rate.items()]


@dataclass
class LineAmounts:
    """Per source line (in invoice order): the cents sent as ``Amount``, the gross for
    ``TaxInclusiveAmt`` (-1: none), and the tax each line is taken to carry, for the TaxLines."""

    sent: np.ndarray
    gross: np.ndarray | None
    line_tax: np.ndarray
    inclusive: bool
    mapped: bool

    def rate_lines(self, left: int, right: int, codes: np.ndarray, discount_cents: np.ndarray, own_tax: bool,
                   taxes: TaxesConfig) -> list[dict] | None:
        """The TaxLines of the invoice whose lines are ``left:right``, or None. An invoice-level tax
        names no line, so it goes as TotalTax only, unless the amounts include tax (it was then
        spread over the lines by gross to net them)."""
        if not self.mapped or (own_tax and not self.inclusive):
            return None
        return tax_lines(codes[left:right], self.sent[left:right] - discount_cents[left:right],
                         self.line_tax[left:right], taxes)


def line_amounts(amount_cents: np.ndarray, line_tax_cents: np.ndarray, own_cents: np.ndarray,
                 taxes: list[int | None], left: np.ndarray, right: np.ndarray, config: TaxesConfig) -> LineAmounts:
    """What each line sends. Tax-exclusive amounts go as they are. Tax-inclusive ones (QBO's
    ``Line.Amount`` is always net): a line of an invoice with tax as billed goes net of the tax it
    includes; a line of an invoice without tax amounts goes gross, as ``TaxInclusiveAmt``."""
    mapped = config.mode == "mapped"
    if not config.inclusive:
        return LineAmounts(amount_cents, None, line_tax_cents, False, mapped)
    billed = np.zeros(len(amount_cents), dtype=bool)
    for index, tax in enumerate(taxes):
        billed[left[index]:right[index]] = tax is not None
    included = included_tax(amount_cents, line_tax_cents, own_cents, left, right)
    return LineAmounts(np.where(billed, amount_cents - included, amount_cents),
                       np.where(billed, -1, amount_cents), included, True, mapped)
