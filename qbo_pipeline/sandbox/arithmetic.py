"""QBO's arithmetic in decimals: line amounts (the 6070 check), discounts, sales tax, totals, currency.

Every rule and its source is in docs/qbo-arithmetic.md. Amounts are cents rounded half away from
zero; UnitPrice and Qty keep up to 7 decimal places; nothing is ever multiplied as a binary float
(QBO refused 1861.07 for 128.35 x 14.50 = 1861.075, which binary floats round to 1861.07).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from qbo_pipeline.sandbox import errors as E

CENT = Decimal("0.01")
RATE_QUANTUM = Decimal("0.0000001")  # UnitPrice and Qty: seven decimal places, like QBO's Rate column
ZERO = Decimal("0")
HUNDRED = Decimal("100")


def dec(value: Any, element: str) -> Decimal:
    """A request number as the decimal the client wrote (floats via their shortest repr), else 2090."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or value is None or isinstance(value, dict | list):
        raise _not_a_number(value, element)
    else:
        try:
            result = Decimal(str(value).strip())
        except (InvalidOperation, ValueError):
            raise _not_a_number(value, element) from None
    if not result.is_finite():
        raise _not_a_number(value, element)
    return result


def _not_a_number(value: Any, element: str) -> E.QBOFault:
    return E.QBOFault(2090, "Invalid Number", f"Invalid Number : {element} is not a number: {value!r}",
                      element=element)


def cents(value: Decimal) -> Decimal:
    """Round to cents, half away from zero (QBO's amounts)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Any, element: str) -> Decimal:
    """A request amount rounded to cents."""
    return cents(dec(value, element))


def rate(value: Decimal) -> Decimal:
    """A derived UnitPrice or Qty at QBO's seven decimal places, trailing zeros dropped."""
    return value.quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP).normalize()


def number(value: Decimal) -> float | int:
    """A decimal for the JSON answer (QBO answers numbers, not strings)."""
    if value == value.to_integral_value() and abs(value) < 10**15:
        return int(value) if value.as_tuple().exponent >= 0 else float(value)
    return float(value)


def amount_text(value: Decimal) -> str:
    """An amount as QBO prints it in 6070's Detail: thousands separators, no trailing zeros (1,000; 1,861.07)."""
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# ---------------------------------------------------------------------- item lines
def line_amount_fault(amount: Decimal) -> E.QBOFault:
    return E.QBOFault(6070, "Amount calculation incorrect in the request.",
                      f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount_text(amount)}",
                      element="Line.Amount")


@dataclass(frozen=True)
class ItemLine:
    """An item line's numbers after QBO's check: the Amount, and Qty / UnitPrice as stored."""

    amount: Decimal
    qty: Decimal | None
    unit_price: Decimal | None


def item_line(amount: Any, qty: Any, unit_price: Any) -> ItemLine:
    """Check Amount against UnitPrice x Qty (6070) or derive the missing one, like QBO.

    Both given: round_half_up(Qty x UnitPrice, 2) must equal the Amount at cents, no other
    tolerance. One given: the other is Amount divided by it (7 places). Neither: Qty 1 and
    UnitPrice = Amount. Zeros for both mean "not given" (clients that always send both).
    """
    total = money(amount, "Line.Amount")
    q = None if qty is None else dec(qty, "Line.SalesItemLineDetail.Qty")
    p = None if unit_price is None else dec(unit_price, "Line.SalesItemLineDetail.UnitPrice")
    if q is not None and p is not None and q == ZERO and p == ZERO:
        q = p = None
    if q is not None and p is not None:
        if cents(q * p) != total:
            raise line_amount_fault(total)
        return ItemLine(total, q, p)
    if q is not None:
        return ItemLine(total, q, rate(total / q) if q else ZERO)
    if p is not None:
        return ItemLine(total, rate(total / p) if p else ZERO, p)
    return ItemLine(total, Decimal(1), total)


def percent_of(base: Decimal, percent: Decimal) -> Decimal:
    """A percentage of an amount, in cents (percent discounts, single-rate tax)."""
    return cents(base * percent / HUNDRED)


# ---------------------------------------------------------------------- sales tax
@dataclass(frozen=True)
class TaxRateShare:
    """One rate of a tax code: the TaxRate's Id and name, and its percent."""

    rate_id: str
    name: str
    percent: Decimal


@dataclass
class TaxResult:
    total: Decimal = ZERO
    # (rate, tax amount, net amount taxable) per rate, in the tax code's order
    lines: list[tuple[TaxRateShare, Decimal, Decimal]] = field(default_factory=list)


def allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split an amount over weights in cents, half-up, the last share taking the remainder."""
    if not weights:
        return []
    whole = sum(weights, ZERO)
    if whole == ZERO:
        return [ZERO] * (len(weights) - 1) + [total]
    shares = [cents(total * w / whole) for w in weights[:-1]]
    return [*shares, total - sum(shares, ZERO)]


def taxable_bases(lines: list[tuple[Decimal, bool]], discount: Decimal, after_discount: bool) -> list[Decimal]:
    """Each taxable line's amount, less its share of the discount when tax applies after it.

    ``lines`` are (amount, taxable) for every item line; the discount is spread over all item lines
    in proportion to their amounts, and only the taxable lines' shares reduce what is taxed.
    """
    amounts = [amount for amount, _ in lines]
    if after_discount and discount and sum(amounts, ZERO):
        shares = allocate(discount, amounts)
    else:
        shares = [ZERO] * len(lines)
    return [amount - share for (amount, taxable), share in zip(lines, shares, strict=True) if taxable]


def compute_tax(bases: list[Decimal], rates: list[TaxRateShare]) -> TaxResult:
    """Tax line by line: each taxable line's tax for each rate is rounded to cents, then summed."""
    result = TaxResult()
    net = sum(bases, ZERO)
    for share in rates:
        amount = sum((percent_of(base, share.percent) for base in bases), ZERO)
        result.lines.append((share, amount, net))
        result.total += amount
    return result


def override_tax(total: Decimal, bases: list[Decimal], rates: list[TaxRateShare]) -> TaxResult:
    """A tax amount given by the client, honoured and prorated over the code's rates by percent."""
    net = sum(bases, ZERO)
    amounts = allocate(total, [share.percent for share in rates])
    return TaxResult(total, [(share, amount, net) for share, amount in zip(rates, amounts, strict=True)])


def tax_lines_json(result: TaxResult) -> list[dict]:
    """TxnTaxDetail.TaxLine in QBO's shape."""
    return [{"Amount": number(amount), "DetailType": "TaxLineDetail",
             "TaxLineDetail": {"TaxRateRef": {"value": share.rate_id, "name": share.name}, "PercentBased": True,
                               "TaxPercent": number(share.percent), "NetAmountTaxable": number(net)}}
            for share, amount, net in result.lines]


# ---------------------------------------------------------------------- currency
def home_amount(amount: Decimal, exchange_rate: Decimal) -> Decimal:
    """An amount in the home currency: home units per foreign unit times the amount, in cents."""
    return cents(amount * exchange_rate)
