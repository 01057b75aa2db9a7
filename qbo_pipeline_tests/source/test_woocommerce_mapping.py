"""The WooCommerce mapping on its own (no QBO): every order, line, tip and refund read as WooCommerce reports it.

The fast half of ``test_woocommerce_run.py``: the EAV pivot of ``woocommerce_order_itemmeta``,
the guest join and the refund rows, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline.source.mapping import load_mapping
from qbo_pipeline.source.woocommerce import build_woocommerce_db
from qbo_pipeline_tests.source.conftest import BACKENDS

MAPPING = str(Path(__file__).resolve().parents[2] / "qbo_pipeline" / "source" / "mappings" / "woocommerce.yaml")


def money(value) -> Decimal:
    return Decimal(repr(float(value))).quantize(Decimal("0.01"))


@pytest.fixture(params=BACKENDS)  # MySQL is WooCommerce's own database
def store_url(request, _server_status, tmp_path):
    from qbo_pipeline_tests.source.conftest import _isolated_database

    yield from _isolated_database(request.param, _server_status, tmp_path)


def test_woocommerce_reads_as_the_store_reports_it(store_url):
    store = build_woocommerce_db(store_url)
    assert load_mapping("example:woocommerce").name == "woocommerce"
    with SourceReader(store_url, MAPPING) as reader:
        frames = {e: reader.read(e) for e in ("customers", "products", "sales_receipts", "sales_receipt_lines",
                                              "refunds")}
    receipts = frames["sales_receipts"].set_index(frames["sales_receipts"]["id"].astype(int))
    assert set(receipts.index) == set(store.orders)
    assert {i for i in receipts.index if receipts.at[i, "deleted"]} == store.not_paid
    assert {i for i in receipts.index if receipts.at[i, "currency"] != "USD"} == store.foreign
    lines = defaultdict(list)
    for receipt_id, amount in zip(frames["sales_receipt_lines"]["receipt_id"], frames["sales_receipt_lines"]["amount"],
                                  strict=True):
        lines[int(receipt_id)].append(money(amount))
    assert {i: sorted(a) for i, a in lines.items()} == {i: sorted(o.amounts) for i, o in store.orders.items()}
    taxes = defaultdict(Decimal)  # the tax billed per line, summed per order, as the store reports it
    for receipt_id, tax in zip(frames["sales_receipt_lines"]["receipt_id"], frames["sales_receipt_lines"]["tax_amount"],
                               strict=True):
        taxes[int(receipt_id)] += money(tax) if tax == tax else Decimal("0.00")
    assert {i: t for i, t in taxes.items() if i in store.paid()} == {i: o.tax for i, o in store.paid().items()}
    tips = {i: money(receipts.at[i, "tip"]) for i in receipts.index if receipts.at[i, "tip"] == receipts.at[i, "tip"]}
    assert tips == {i: o.tip for i, o in store.orders.items() if o.tip}
    assert {i: receipts.at[i, "customer_id"] for i in receipts.index} == {i: str(o.customer)
                                                                       for i, o in store.orders.items()}
    priced = frames["sales_receipt_lines"].dropna(subset=["quantity", "unit_price"])
    assert len(priced) > 0
    assert ((priced["quantity"] * priced["unit_price"] - priced["amount"]).abs() <= 0.005).all()
    refunds = {int(i): money(a) for i, a in zip(frames["refunds"]["id"], frames["refunds"]["amount"], strict=True)}
    assert refunds == store.refunds
    assert len(frames["customers"]) == store.customers
    assert len(frames["products"]) == store.products


def test_woocommerce_as_invoices_reads_tax_and_coupons_as_billed(store_url):
    store = build_woocommerce_db(store_url)
    with SourceReader(store_url, "example:woocommerce_invoices") as reader:
        frames = {e: reader.read(e) for e in ("invoices", "invoice_lines", "payments", "payment_applications")}
    status = dict(zip(frames["invoices"]["id"].astype(int), frames["invoices"]["status"], strict=True))
    assert {i for i, s in status.items() if s != "paid"} == store.not_paid
    sums: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for row in frames["invoice_lines"].itertuples():
        totals = sums[int(row.invoice_id)]
        for k, value in enumerate((row.amount - row.discount, row.discount, row.tax_amount)):
            totals[k] += money(value)
    assert dict(sums) == {i: [o.net, o.discount, o.tax] for i, o in store.orders.items()}
    paid = dict(zip(frames["payments"]["id"].astype(int), frames["payments"]["amount"].map(money), strict=True))
    assert paid == {i: o.total for i, o in store.orders.items() if i not in store.not_paid}
    applied = frames["payment_applications"]
    assert dict(zip(applied["invoice_id"].astype(int), applied["amount"].map(money), strict=True)) == {
        i: o.total - o.tip for i, o in store.orders.items() if i not in store.not_paid}
