"""A database in the schema of a real invoicing application, to measure the pipeline on real data.

Shaped like the open-source invoicing applications the pipeline is used with (InvoicePlane's
``ip_*`` tables were the model; names are prefixed ``ba_`` here): amounts live in separate
tables (``ba_invoice_amounts``, ``ba_invoice_item_amounts``), statuses are integer codes
(1 draft, 2 sent, 3 viewed, 4 paid), tax is billed per line (a tax rate per item) and per
invoice (``ba_invoice_tax_rates``), invoice discounts (amount or percent) apply after tax,
credit invoices point at the invoice they credit, dates are kept as European text
(``DD.MM.YYYY``), client status is the word ``Active``/``Inactive``, and only clients and
invoices have a modification stamp (items, amounts, products and payments have none).
Line products are rounded half-up to cents by the application (0.5 x 19.99 = 10.00), long
project numbers share their ends, and one number is reused.

``build_billing_app_db(url)`` writes it and returns what the application shows: per
invoice number its total, per exported payment its amount, and the ids a bookkeeper would
expect to be held back (with why). The mapping is ``mappings/billing_app.yaml``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

from qbo_pipeline.source.examples import write_database

CENT = Decimal("0.01")
STAMP = datetime(2026, 11, 30, 18, 0, 0)

metadata = sa.MetaData()
ba_clients = sa.Table(
    "ba_clients", metadata,
    sa.Column("client_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("client_name", sa.String(100)), sa.Column("client_email", sa.String(100)),
    sa.Column("client_phone", sa.String(40)), sa.Column("client_city", sa.String(60)),
    sa.Column("client_status", sa.String(10), nullable=False),  # 'Active' | 'Inactive'
    sa.Column("client_date_modified", sa.DateTime, nullable=False),
)
ba_products = sa.Table(  # no modification stamp
    "ba_products", metadata,
    sa.Column("product_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("product_name", sa.String(100)), sa.Column("product_sku", sa.String(40)),
    sa.Column("product_price", sa.Numeric(20, 2)),
)
ba_tax_rates = sa.Table(
    "ba_tax_rates", metadata,
    sa.Column("tax_rate_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("tax_rate_name", sa.String(40)), sa.Column("tax_rate_percent", sa.Numeric(5, 2)),
)
ba_invoices = sa.Table(
    "ba_invoices", metadata,
    sa.Column("invoice_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("client_id", sa.Integer, nullable=False),
    sa.Column("invoice_number", sa.String(100)),
    sa.Column("invoice_status_id", sa.Integer, nullable=False),  # 1 draft, 2 sent, 3 viewed, 4 paid
    sa.Column("invoice_date_created", sa.String(10), nullable=False),  # DD.MM.YYYY
    sa.Column("invoice_date_due", sa.String(10)),  # DD.MM.YYYY
    sa.Column("invoice_discount_amount", sa.Numeric(20, 2)),
    sa.Column("invoice_discount_percent", sa.Numeric(20, 2)),
    sa.Column("creditinvoice_parent_id", sa.Integer),
    sa.Column("invoice_terms", sa.Text),
    sa.Column("invoice_date_modified", sa.DateTime, nullable=False),
)
ba_invoice_amounts = sa.Table(  # no stamp; one row per invoice
    "ba_invoice_amounts", metadata,
    sa.Column("invoice_amount_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("invoice_id", sa.Integer, nullable=False),
    sa.Column("invoice_item_subtotal", sa.Numeric(20, 2)), sa.Column("invoice_item_tax_total", sa.Numeric(20, 2)),
    sa.Column("invoice_tax_total", sa.Numeric(20, 2)), sa.Column("invoice_total", sa.Numeric(20, 2)),
    sa.Column("invoice_paid", sa.Numeric(20, 2)), sa.Column("invoice_balance", sa.Numeric(20, 2)),
)
ba_invoice_tax_rates = sa.Table(  # invoice-level tax, at most one per invoice here
    "ba_invoice_tax_rates", metadata,
    sa.Column("invoice_tax_rate_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("invoice_id", sa.Integer, nullable=False), sa.Column("tax_rate_id", sa.Integer, nullable=False),
    sa.Column("invoice_tax_rate_amount", sa.Numeric(20, 2), nullable=False),
)
ba_invoice_items = sa.Table(  # no stamp
    "ba_invoice_items", metadata,
    sa.Column("item_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("invoice_id", sa.Integer, nullable=False), sa.Column("item_tax_rate_id", sa.Integer),
    sa.Column("item_product_id", sa.Integer), sa.Column("item_name", sa.String(100)),
    sa.Column("item_description", sa.Text), sa.Column("item_quantity", sa.Numeric(10, 2)),
    sa.Column("item_price", sa.Numeric(20, 2)), sa.Column("item_order", sa.Integer, nullable=False),
)
ba_invoice_item_amounts = sa.Table(  # no stamp; one row per item
    "ba_invoice_item_amounts", metadata,
    sa.Column("item_amount_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("item_id", sa.Integer, nullable=False), sa.Column("item_subtotal", sa.Numeric(20, 2)),
    sa.Column("item_tax_total", sa.Numeric(20, 2)), sa.Column("item_discount", sa.Numeric(20, 2)),
    sa.Column("item_total", sa.Numeric(20, 2)),
)
ba_payment_methods = sa.Table(
    "ba_payment_methods", metadata,
    sa.Column("payment_method_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("payment_method_name", sa.String(40)),
)
ba_payments = sa.Table(  # no stamp; a payment pays one invoice
    "ba_payments", metadata,
    sa.Column("payment_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("invoice_id", sa.Integer, nullable=False), sa.Column("payment_method_id", sa.Integer),
    sa.Column("payment_date", sa.String(10), nullable=False),  # DD.MM.YYYY
    sa.Column("payment_amount", sa.Numeric(20, 2), nullable=False), sa.Column("payment_note", sa.Text),
)

TAX_RATES = [(1, "VAT 19%", Decimal("19.00")), (2, "VAT 7%", Decimal("7.00")), (3, "Sales tax 8.25%", Decimal("8.25"))]
PRICES = [Decimal(p) for p in ("19.99", "12.35", "99.95", "7.45", "150.00", "0.99", "45.50", "1.15")]
QUANTITIES = [Decimal(q) for q in ("1", "2", "0.5", "1.5", "3", "0.25", "0.75")]


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _eu(day: date) -> str:
    return day.strftime("%d.%m.%Y")


@dataclass
class BillingAppExpectation:
    """What the invoicing application shows, to compare with QBO afterwards."""

    totals: dict[str, Decimal] = field(default_factory=dict)  # exported document number -> total
    credit_notes: set[str] = field(default_factory=set)  # numbers of credit invoices (QBO CreditMemos)
    payments: dict[str, Decimal] = field(default_factory=dict)  # payment id -> amount
    held_back: dict[str, str] = field(default_factory=dict)  # invoice id -> why (quarantine check)
    drafts: set[str] = field(default_factory=set)
    clients: int = 0
    products: int = 0
    lines: int = 0
    half_cent_lines: int = 0


def build_billing_app_db(url: str, *, clients: int = 30, invoices: int = 120, seed: int = 13) -> BillingAppExpectation:
    """Write the application's tables into ``url`` (dropped first) and return what it shows."""
    rng = random.Random(seed)
    expect = BillingAppExpectation(clients=clients, products=len(PRICES))
    rows: dict[str, list[dict]] = {t: [] for t in metadata.tables}
    for cid in range(1, clients + 1):
        email = f"client{cid}@example.com" if cid != 7 else "not-an-email"  # salvaged: dropped, reported
        rows["ba_clients"].append({
            "client_id": cid, "client_name": f"Client {cid:03d} GmbH", "client_email": email,
            "client_phone": f"+49 30 {1000 + cid}", "client_city": "Berlin",
            "client_status": "Inactive" if cid % 11 == 0 else "Active", "client_date_modified": STAMP})
    for pid, price in enumerate(PRICES, start=1):
        rows["ba_products"].append({"product_id": pid, "product_name": f"Service {pid}", "product_sku": f"SKU-{pid}",
                                    "product_price": price})
    rows["ba_tax_rates"] = [{"tax_rate_id": i, "tax_rate_name": n, "tax_rate_percent": p} for i, n, p in TAX_RATES]
    rows["ba_payment_methods"] = [{"payment_method_id": 1, "payment_method_name": "Bank transfer"},
                                  {"payment_method_id": 2, "payment_method_name": "Cash"}]
    rates = {i: p for i, _, p in TAX_RATES}
    item_id = payment_id = 0
    start = date(2025, 1, 2)
    open_invoices: list[tuple[int, int, Decimal, date]] = []
    totals_by_id: dict[int, Decimal] = {}
    numbers: dict[int, str] = {}

    def add_invoice(iid: int, client: int, number: str, status: int, issued: date, items: list[tuple],
                    discount_amount: Decimal, discount_percent: Decimal, invoice_tax_rate: int | None,
                    parent: int | None) -> Decimal:
        nonlocal item_id
        subtotal = item_tax = Decimal("0.00")
        for order, (product, qty, price, rate_id, line_discount) in enumerate(items, start=1):
            item_id += 1
            line = _round(qty * price)  # what the application stores: half-up
            thousandths = qty * price * 1000
            if thousandths == thousandths.to_integral_value() and int(thousandths) % 10 == 5:
                expect.half_cent_lines += 1  # a tie: half-up and half-even disagree
            tax = _round((line - line_discount) * rates[rate_id] / 100) if rate_id else Decimal("0.00")
            rows["ba_invoice_items"].append({
                "item_id": item_id, "invoice_id": iid, "item_tax_rate_id": rate_id,
                "item_product_id": product, "item_name": f"Service {product}" if product else "Consulting hours",
                "item_description": f"Work package {order}", "item_quantity": qty, "item_price": price,
                "item_order": order})
            rows["ba_invoice_item_amounts"].append({
                "item_amount_id": item_id, "item_id": item_id, "item_subtotal": line, "item_tax_total": tax,
                "item_discount": line_discount, "item_total": line - line_discount + tax})
            subtotal += line - line_discount
            item_tax += tax
            expect.lines += 1
        invoice_tax = _round(subtotal * rates[invoice_tax_rate] / 100) if invoice_tax_rate else Decimal("0.00")
        if invoice_tax_rate:
            rows["ba_invoice_tax_rates"].append({"invoice_tax_rate_id": iid, "invoice_id": iid,
                                                 "tax_rate_id": invoice_tax_rate,
                                                 "invoice_tax_rate_amount": invoice_tax})
        gross = subtotal + item_tax + invoice_tax
        discount = discount_amount if discount_amount else _round(gross * discount_percent / 100)
        total = gross - discount  # the application applies the invoice discount after tax
        rows["ba_invoices"].append({
            "invoice_id": iid, "client_id": client, "invoice_number": number, "invoice_status_id": status,
            "invoice_date_created": _eu(issued), "invoice_date_due": _eu(issued + timedelta(days=14)),
            "invoice_discount_amount": discount_amount, "invoice_discount_percent": discount_percent,
            "creditinvoice_parent_id": parent, "invoice_terms": "Payable within 14 days.",
            "invoice_date_modified": STAMP})
        rows["ba_invoice_amounts"].append({
            "invoice_amount_id": iid, "invoice_id": iid, "invoice_item_subtotal": subtotal,
            "invoice_item_tax_total": item_tax, "invoice_tax_total": invoice_tax, "invoice_total": total,
            "invoice_paid": Decimal("0.00"), "invoice_balance": total})
        return total

    for iid in range(1, invoices + 1):
        client = rng.randint(1, clients)
        issued = start + timedelta(days=rng.randint(0, 300))
        number = f"INV-2025-{iid:05d}"
        if iid in (17, 18):
            number = ("PROJ-ALPHA-RETAINER-2025-000017" if iid == 17 else "PROJ-BETA-RETAINER-2025-000017")
        if iid == 40:
            number = "INV-2025-00039"  # reused: invoice 39 keeps it, 40 is held back
            expect.held_back[str(iid)] = "number_reused"
        status = 1 if iid % 23 == 0 else rng.choice([2, 3, 4, 4])
        items = []
        for _ in range(rng.randint(1, 5)):
            product = rng.choice([None, *range(1, len(PRICES) + 1)])
            price = PRICES[product - 1] if product else rng.choice(PRICES)
            qty = rng.choice(QUANTITIES)
            rate = rng.choice([None, 1, 1, 2, 3])
            discounted = rng.random() < 0.1 and qty * price >= 2
            items.append((product, qty, price, rate, Decimal("1.00") if discounted else Decimal("0.00")))
        if iid % 9 == 0:  # the line: half an hour at 19.99
            items.append((None, Decimal("0.5"), Decimal("19.99"), 1, Decimal("0.00")))
        discount_amount = discount_percent = Decimal("0.00")
        if iid % 6 == 0 and sum(q * p for _, q, p, _, _ in items) > 10:
            discount_amount = Decimal("5.00")
        elif iid % 7 == 0:
            discount_percent = Decimal("10.00")
        invoice_tax_rate = 2 if iid % 5 == 0 else None
        total = add_invoice(iid, client, number, status, issued, items, discount_amount, discount_percent,
                            invoice_tax_rate, None)
        numbers[iid] = number
        totals_by_id[iid] = total
        if status == 1:
            expect.drafts.add(str(iid))
            continue
        if str(iid) not in expect.held_back:
            expect.totals[number] = total
        if status == 4 and str(iid) not in expect.held_back:
            payment_id += 1
            paid_on = issued + timedelta(days=rng.randint(1, 20))
            rows["ba_payments"].append({"payment_id": payment_id, "invoice_id": iid, "payment_method_id": 1,
                                        "payment_date": _eu(paid_on), "payment_amount": total,
                                        "payment_note": f"Payment for {number}"})
            expect.payments[str(payment_id)] = total
        elif str(iid) not in expect.held_back:
            open_invoices.append((iid, client, total, issued))

    # credit invoices: a credit of part of an open invoice, with its own number and lines
    next_id = invoices + 1
    for iid, client, total, issued in open_invoices[:4]:
        price = _round(total / 4) if total > 4 else Decimal("1.00")
        credit_total = add_invoice(next_id, client, f"CN-2025-{next_id:05d}", 2, issued + timedelta(days=3),
                                   [(None, Decimal("1"), price, None, Decimal("0.00"))], Decimal("0.00"),
                                   Decimal("0.00"), None, iid)
        expect.totals[f"CN-2025-{next_id:05d}"] = credit_total
        expect.credit_notes.add(f"CN-2025-{next_id:05d}")
        next_id += 1
    # a partial payment of another open invoice, dated with a day above 12 (never month-first)
    for iid, _, total, issued in open_invoices[4:6]:
        payment_id += 1
        paid_on = date(issued.year, issued.month, 13) if issued.day < 13 else issued + timedelta(days=1)
        amount = _round(total / 2)
        rows["ba_payments"].append({"payment_id": payment_id, "invoice_id": iid, "payment_method_id": 2,
                                    "payment_date": _eu(max(paid_on, issued)), "payment_amount": amount,
                                    "payment_note": None})
        expect.payments[str(payment_id)] = amount

    write_database(url, metadata, rows)
    return expect
