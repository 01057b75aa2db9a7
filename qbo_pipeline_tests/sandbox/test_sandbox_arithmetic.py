"""QBO's arithmetic (docs/qbo-arithmetic.md): the 6070 check in decimals, half-up at cents, discounts,
line-by-line sales tax and its overrides. Pure functions, plus property tests over rounding ties."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qbo_pipeline.sandbox import arithmetic as A
from qbo_pipeline.sandbox.errors import QBOFault

CALIFORNIA = A.TaxRateShare("1", "California", Decimal("8"))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_the_half_cent_qbo_refused_is_computed_in_decimals():
    # 128.35 kg x 14.50 = 1861.075 exactly; binary floats make it 1861.0749999..., QBO expects 1861.08
    assert round(128.35 * 14.5, 2) == 1861.07  # the float trap the old check fell into
    assert A.item_line(1861.08, 128.35, 14.5).amount == Decimal("1861.08")
    with pytest.raises(QBOFault) as refused:
        A.item_line(1861.07, 128.35, 14.5)
    fault = refused.value.fault()["Error"][0]
    assert fault == {"Message": "Amount calculation incorrect in the request.",
                     "Detail": "Amount is not equal to UnitPrice * Qty. Supplied value:1,861.07",
                     "code": "6070", "element": "Line.Amount"}


def test_supplied_value_is_printed_like_qbo():
    assert A.amount_text(Decimal("1000.00")) == "1,000"
    assert A.amount_text(Decimal("4.29")) == "4.29"
    assert A.amount_text(Decimal("2472.30")) == "2,472.3"
    assert A.amount_text(Decimal("-12.00")) == "-12"


def test_one_missing_factor_is_derived_at_seven_places():
    assert A.item_line(100, 3, None).unit_price == Decimal("33.3333333")
    assert A.item_line(10, None, 3).qty == Decimal("3.3333333")
    both_zero = A.item_line(25, 0, 0)  # clients that always send both send zeros for "not given"
    assert (both_zero.qty, both_zero.unit_price) == (Decimal(1), Decimal("25.00"))


def test_non_numbers_answer_2090():
    with pytest.raises(QBOFault) as bad:
        A.item_line("ten", 1, 10)
    assert bad.value.code == "2090"
    with pytest.raises(QBOFault):
        A.dec(float("nan"), "Line.Amount")


prices = st.decimals(min_value=Decimal("0.0000001"), max_value=Decimal("99999"), places=7, allow_nan=False)
quantities = st.decimals(min_value=Decimal("0.0000001"), max_value=Decimal("9999"), places=7, allow_nan=False)


@given(prices, quantities)
def test_amount_equal_to_rounded_product_is_accepted_and_a_cent_off_is_refused(price, qty):
    expected = _cents(price * qty)
    assert A.item_line(str(expected), str(qty), str(price)).amount == expected
    for wrong in (expected + Decimal("0.01"), expected - Decimal("0.01")):
        with pytest.raises(QBOFault) as refused:
            A.item_line(str(wrong), str(qty), str(price))
        assert refused.value.code == "6070"


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from([1, 2, 4, 5, 8, 10, 20, 25, 40, 50, 100, 200]))
def test_ties_round_half_up_not_half_even(whole_half_cents, qty):
    # a product that is exactly n + 0.005: price = (2n + 1) / (200 qty) has few decimals for these qty
    price = Decimal(2 * whole_half_cents + 1) / Decimal(200 * qty)
    product = price * qty
    assert product == Decimal(2 * whole_half_cents + 1) / 200  # a tie, exactly
    up = product.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    even = product.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    assert A.item_line(str(up), qty, str(price)).amount == up
    if even != up:
        with pytest.raises(QBOFault):
            A.item_line(str(even), qty, str(price))


@given(st.lists(st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=2), min_size=1,
                max_size=20),
       st.decimals(min_value=Decimal("-500"), max_value=Decimal("500"), places=2))
def test_allocation_always_sums_to_the_whole(weights, total):
    shares = A.allocate(total, weights)
    assert len(shares) == len(weights) and sum(shares) == total


def test_tax_is_rounded_line_by_line_like_qbo():
    # Intuit's answer (QBO Canada community): 29 lines of 1.59 and 2 of 11 x 1.59, taxed 12%, give 9.71
    lines = [Decimal("1.59")] * 29 + [Decimal("17.49")] * 2
    result = A.compute_tax(lines, [A.TaxRateShare("9", "GST/PST", Decimal("12"))])
    assert result.total == Decimal("9.71")
    assert _cents(sum(lines) * Decimal("0.12")) == Decimal("9.73")  # what a whole-invoice calculation gives


def test_discount_before_or_after_tax_matches_intuits_example():
    # 100.00 subtotal, 10.00 discount, 8.5%: after discount 97.65, before discount 98.50
    rate = [A.TaxRateShare("1", "Rate", Decimal("8.5"))]
    lines = [(Decimal("100.00"), True)]
    after = A.compute_tax(A.taxable_bases(lines, Decimal("10.00"), True), rate).total
    before = A.compute_tax(A.taxable_bases(lines, Decimal("10.00"), False), rate).total
    assert Decimal("100.00") - Decimal("10.00") + after == Decimal("97.65")
    assert Decimal("100.00") - Decimal("10.00") + before == Decimal("98.50")


def test_discount_share_of_untaxed_lines_does_not_reduce_the_tax():
    lines = [(Decimal("60.00"), True), (Decimal("40.00"), False)]
    assert A.taxable_bases(lines, Decimal("10.00"), True) == [Decimal("54.00")]


@given(st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=2),
       st.lists(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("15"), places=3), min_size=1, max_size=4))
def test_an_overridden_total_tax_is_kept_exactly_and_prorated_over_the_rates(total, percents):
    rates = [A.TaxRateShare(str(i), f"r{i}", p) for i, p in enumerate(percents)]
    result = A.override_tax(total, [Decimal("100")], rates)
    assert result.total == total and sum(amount for _, amount, _ in result.lines) == total


def test_tax_lines_have_qbos_shape():
    lines = A.tax_lines_json(A.compute_tax([Decimal("100.00")], [CALIFORNIA]))
    assert lines == [{"Amount": 8.0, "DetailType": "TaxLineDetail",
                      "TaxLineDetail": {"TaxRateRef": {"value": "1", "name": "California"}, "PercentBased": True,
                                        "TaxPercent": 8, "NetAmountTaxable": 100.0}}]


def test_home_amount_converts_half_up():
    assert A.home_amount(Decimal("100.01"), Decimal("1.085")) == Decimal("108.51")
