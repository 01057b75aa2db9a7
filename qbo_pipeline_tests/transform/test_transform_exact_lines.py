"""Exact line amounts: a Qty/UnitPrice pair is sent only when every way QBO might check it agrees.

QBO refuses a line whose Amount is not UnitPrice x Qty (6070) and does not document its
rounding; the checks below are the plausible ones (decimal half-up, decimal half-even,
decimal half-down, binary floats rounded by Python and by ``Math.round``-style half-up).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qbo_pipeline.config import load_config
from qbo_pipeline.schemas.frames import make_frame
from qbo_pipeline.transform import build_payloads
from qbo_pipeline.transform.rules import exact_pair, exact_pairs

CENT = Decimal("0.01")
quantities = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000"), places=4)
prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=4)
odd_cents = st.integers(0, 999_999).map(lambda n: Decimal(2 * n + 1).scaleb(-2))


def checks_of_qbo(qty: Decimal, price: Decimal) -> set[Decimal]:
    """The amounts the plausible QBO checks would accept for this pair."""
    product = qty * price
    floating = float(qty) * float(price)
    return {
        product.quantize(CENT, rounding=ROUND_HALF_UP),
        product.quantize(CENT, rounding=ROUND_HALF_EVEN),
        product.quantize(CENT, rounding=ROUND_HALF_DOWN),
        Decimal(repr(round(floating, 2))).quantize(CENT),
        Decimal(math.floor(floating * 100 + 0.5)).scaleb(-2),
    }


@settings(max_examples=400, deadline=None)
@given(quantities, prices)
def test_a_sent_pair_is_accepted_by_every_plausible_check(qty, price):
    amount = (qty * price).quantize(CENT, rounding=ROUND_HALF_UP)  # what billing systems store
    if exact_pair(qty, price, amount):
        assert checks_of_qbo(qty, price) == {amount}


@settings(max_examples=200, deadline=None)
@given(odd_cents)
def test_half_quantity_of_an_odd_cent_price_is_a_tie_and_never_sent(price):
    product = Decimal("0.5") * price  # ends in 5 at the third decimal: half-up and half-even disagree
    up = product.quantize(CENT, rounding=ROUND_HALF_UP)
    even = product.quantize(CENT, rounding=ROUND_HALF_EVEN)
    assert not exact_pair(Decimal("0.5"), price, up)
    assert not exact_pair(Decimal("0.5"), price, even)


@settings(max_examples=200, deadline=None)
@given(quantities, prices)
def test_exact_products_are_always_sent(qty, price):
    product = qty * price
    if product == product.quantize(CENT) and product < Decimal("1e9"):
        assert exact_pair(qty, price, product)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(quantities, prices, st.integers(-2, 2)), min_size=1, max_size=30))
def test_column_wise_agrees_with_the_rule(rows):
    qty = np.array([float(q) for q, _, _ in rows])
    price = np.array([float(p) for _, p, _ in rows])
    cents = np.array([int((Decimal(repr(float(q))) * Decimal(repr(float(p)))).quantize(CENT, rounding=ROUND_HALF_UP) * 100) + d
                      for q, p, d in zip(qty, price, [d for _, _, d in rows], strict=True)], dtype="int64")
    fast = exact_pairs(qty, price, cents)
    slow = [exact_pair(float(q), float(p), Decimal(int(c)).scaleb(-2)) for q, p, c in zip(qty, price, cents, strict=True)]
    assert list(fast) == slow


def test_known_cases():
    assert not exact_pair(0.5, 19.99, "10.00")  # the 246 refused invoices
    assert not exact_pair(0.5, 19.99, "9.99")
    assert exact_pair(3, 2.5, "7.50")
    assert exact_pair("0.333", 3, "1.00")  # 0.999: rounds to 1.00 in every mode, far from a tie
    assert not exact_pair(1, 10, "10.01")
    assert not exact_pair(None, 10, "10.00")


def test_invoice_line_of_a_tie_is_sent_amount_only_with_the_pair_in_the_description():
    config = load_config()
    frames = {
        "invoices": make_frame("invoices", [{"id": "I1", "number": "I1", "customer_id": "C1", "status": "sent",
                                             "issue_date": "2024-03-01"}]),
        "invoice_lines": make_frame("invoice_lines", [
            {"id": "L1", "invoice_id": "I1", "line_no": 1, "description": "Support", "quantity": 0.5,
             "unit_price": 19.99, "amount": 10.00},
            {"id": "L2", "invoice_id": "I1", "line_no": 2, "description": "Hosting", "quantity": 2,
             "unit_price": 19.99, "amount": 39.98},
        ]),
    }
    result = build_payloads("invoices", frames, config)
    tie, exact = result.payloads[0].body["Line"][:2]
    assert tie["Amount"] == 10.0 and "Qty" not in tie["SalesItemLineDetail"]
    assert "UnitPrice" not in tie["SalesItemLineDetail"] and tie["Description"] == "Support (0.5 x 19.99)"
    assert exact["SalesItemLineDetail"]["Qty"] == 2 and exact["SalesItemLineDetail"]["UnitPrice"] == 19.99
    report = result.normalisations
    assert list(report.loc[report["rule"] == "amount_only_line", "original"]) == ["0.5 x 19.99"]
