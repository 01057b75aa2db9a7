"""A WooCommerce store database (HPOS tables), to measure the sales-receipt path on a schema we did not make.

The tables and columns are WooCommerce's own: ``OrdersTableDataStore::get_database_schema``
(``wp_wc_orders``, ``wp_wc_order_addresses``, ``wp_wc_order_operational_data``,
``wp_wc_orders_meta``) and ``WC_Install::get_schema`` (``wp_woocommerce_order_items``,
``wp_woocommerce_order_itemmeta``, ``wp_wc_order_product_lookup``, ``wp_wc_order_tax_lookup``,
``wp_wc_customer_lookup``, ``wp_wc_product_meta_lookup``), plus WordPress core's ``wp_posts``
for products (woocommerce/woocommerce trunk, 2026). MySQL types are kept as SQLAlchemy
types that mean the same on SQLite and PostgreSQL: ``bigint(20) unsigned`` -> BIGINT,
``decimal(26,8)`` -> NUMERIC(26,8), ``double`` -> DOUBLE PRECISION, ``tinyint(1)`` ->
SMALLINT, ``datetime``/``timestamp`` -> TIMESTAMP, ``text``/``longtext`` -> TEXT.

What WooCommerce really does with the money: an order's item amounts live in the EAV table
``woocommerce_order_itemmeta`` as text (``_qty``, ``_line_subtotal`` before coupons,
``_line_total`` after them, ``_line_tax``); shipping is an order item of type ``shipping``
(``cost``, ``total_tax``); a coupon is an item of type ``coupon`` whose discount is already
spread over the lines' ``_line_total``; a fee (here a tip plugin's ``Tip`` fee) is an item of
type ``fee``; tax is rounded per line (the default, ``woocommerce_tax_round_at_subtotal`` =
no). A refund is an order row of type ``shop_order_refund`` pointing at its parent, with
negative totals and negative item quantities; its reason is in ``wc_orders_meta``. Guests have
``customer_id`` 0 and a ``wc_customer_lookup`` row without a ``user_id``.

``build_woocommerce_db(url)`` writes a store and returns what WooCommerce reports per order
(``Store``), so a test can compare what arrives in QBO to the cent. The mapping is
``mappings/woocommerce.yaml``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa

CENT = Decimal("0.01")
RATE = Decimal("7.25")  # one US state rate, woocommerce_tax_rates id 1, shipping taxable
FIRST_DAY = datetime(2026, 11, 23, 9, 0, 0)
FIRST_ORDER = 4101  # order ids come from WordPress's post sequence, so a store's first orders are not 1, 2, ...

metadata = sa.MetaData()
ID = sa.BigInteger
MONEY = sa.Numeric(26, 8)
DOUBLE = sa.Double

wp_posts = sa.Table(  # wp-admin/includes/schema.php
    "wp_posts", metadata,
    sa.Column("ID", ID, primary_key=True, autoincrement=False, quote=False),  # MySQL: case-insensitive
    sa.Column("post_author", ID, nullable=False, default=0),
    sa.Column("post_date", sa.DateTime, nullable=False), sa.Column("post_date_gmt", sa.DateTime, nullable=False),
    sa.Column("post_content", sa.Text, nullable=False, default=""), sa.Column("post_title", sa.Text, nullable=False),
    sa.Column("post_excerpt", sa.Text, nullable=False, default=""),
    sa.Column("post_status", sa.String(20), nullable=False, default="publish"),
    sa.Column("comment_status", sa.String(20), nullable=False, default="open"),
    sa.Column("ping_status", sa.String(20), nullable=False, default="closed"),
    sa.Column("post_password", sa.String(255), nullable=False, default=""),
    sa.Column("post_name", sa.String(200), nullable=False, default=""),
    sa.Column("to_ping", sa.Text, nullable=False, default=""), sa.Column("pinged", sa.Text, nullable=False, default=""),
    sa.Column("post_modified", sa.DateTime, nullable=False), sa.Column("post_modified_gmt", sa.DateTime, nullable=False),
    sa.Column("post_content_filtered", sa.Text, nullable=False, default=""),
    sa.Column("post_parent", ID, nullable=False, default=0), sa.Column("guid", sa.String(255), nullable=False, default=""),
    sa.Column("menu_order", sa.Integer, nullable=False, default=0),
    sa.Column("post_type", sa.String(20), nullable=False, default="post"),
    sa.Column("post_mime_type", sa.String(100), nullable=False, default=""),
    sa.Column("comment_count", ID, nullable=False, default=0),
)
wp_wc_product_meta_lookup = sa.Table(
    "wp_wc_product_meta_lookup", metadata,
    sa.Column("product_id", ID, primary_key=True, autoincrement=False),
    sa.Column("sku", sa.String(100), default=""), sa.Column("virtual", sa.SmallInteger, default=0),
    sa.Column("downloadable", sa.SmallInteger, default=0),
    sa.Column("min_price", sa.Numeric(19, 4)), sa.Column("max_price", sa.Numeric(19, 4)),
    sa.Column("onsale", sa.SmallInteger, default=0), sa.Column("stock_quantity", DOUBLE),
    sa.Column("stock_status", sa.String(100), default="instock"), sa.Column("rating_count", ID, default=0),
    sa.Column("average_rating", sa.Numeric(3, 2), default=0), sa.Column("total_sales", ID, default=0),
    sa.Column("tax_status", sa.String(100), default="taxable"), sa.Column("tax_class", sa.String(100), default=""),
)
wp_wc_customer_lookup = sa.Table(
    "wp_wc_customer_lookup", metadata,
    sa.Column("customer_id", ID, primary_key=True, autoincrement=False),
    sa.Column("user_id", ID, unique=True), sa.Column("username", sa.String(60), nullable=False, default=""),
    sa.Column("first_name", sa.String(255), nullable=False), sa.Column("last_name", sa.String(255), nullable=False),
    sa.Column("email", sa.String(100)), sa.Column("date_last_active", sa.DateTime),
    sa.Column("date_registered", sa.DateTime), sa.Column("country", sa.CHAR(2), nullable=False, default=""),
    sa.Column("postcode", sa.String(20), nullable=False, default=""),
    sa.Column("city", sa.String(100), nullable=False, default=""),
    sa.Column("state", sa.String(100), nullable=False, default=""),
)
wp_wc_orders = sa.Table(
    "wp_wc_orders", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(20)), sa.Column("currency", sa.String(10)), sa.Column("type", sa.String(20)),
    sa.Column("tax_amount", MONEY), sa.Column("total_amount", MONEY), sa.Column("customer_id", ID),
    sa.Column("billing_email", sa.String(320)), sa.Column("date_created_gmt", sa.DateTime),
    sa.Column("date_updated_gmt", sa.DateTime), sa.Column("parent_order_id", ID),
    sa.Column("payment_method", sa.String(100)), sa.Column("payment_method_title", sa.Text),
    sa.Column("transaction_id", sa.String(100)), sa.Column("ip_address", sa.String(100)),
    sa.Column("user_agent", sa.Text), sa.Column("customer_note", sa.Text),
)
wp_wc_order_addresses = sa.Table(
    "wp_wc_order_addresses", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=False),
    sa.Column("order_id", ID, nullable=False), sa.Column("address_type", sa.String(20)),
    *(sa.Column(c, sa.Text) for c in ("first_name", "last_name", "company", "address_1", "address_2", "city",
                                      "state", "postcode", "country")),
    sa.Column("email", sa.String(320)), sa.Column("phone", sa.String(100)),
    sa.UniqueConstraint("address_type", "order_id"),
)
wp_wc_order_operational_data = sa.Table(
    "wp_wc_order_operational_data", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=False),
    sa.Column("order_id", ID, unique=True), sa.Column("created_via", sa.String(100)),
    sa.Column("woocommerce_version", sa.String(20)), sa.Column("prices_include_tax", sa.SmallInteger),
    sa.Column("coupon_usages_are_counted", sa.SmallInteger), sa.Column("download_permission_granted", sa.SmallInteger),
    sa.Column("cart_hash", sa.String(100)), sa.Column("new_order_email_sent", sa.SmallInteger),
    sa.Column("order_key", sa.String(100)), sa.Column("order_stock_reduced", sa.SmallInteger),
    sa.Column("date_paid_gmt", sa.DateTime), sa.Column("date_completed_gmt", sa.DateTime),
    sa.Column("shipping_tax_amount", MONEY), sa.Column("shipping_total_amount", MONEY),
    sa.Column("discount_tax_amount", MONEY), sa.Column("discount_total_amount", MONEY),
    sa.Column("recorded_sales", sa.SmallInteger),
)
wp_wc_orders_meta = sa.Table(
    "wp_wc_orders_meta", metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=False),
    sa.Column("order_id", ID), sa.Column("meta_key", sa.String(255)), sa.Column("meta_value", sa.Text),
)
wp_woocommerce_order_items = sa.Table(
    "wp_woocommerce_order_items", metadata,
    sa.Column("order_item_id", ID, primary_key=True, autoincrement=False),
    sa.Column("order_item_name", sa.Text, nullable=False),
    sa.Column("order_item_type", sa.String(200), nullable=False, default=""),
    sa.Column("order_id", ID, nullable=False),
)
wp_woocommerce_order_itemmeta = sa.Table(
    "wp_woocommerce_order_itemmeta", metadata,
    sa.Column("meta_id", ID, primary_key=True, autoincrement=False),
    sa.Column("order_item_id", ID, nullable=False), sa.Column("meta_key", sa.String(255)),
    sa.Column("meta_value", sa.Text),
)
wp_wc_order_product_lookup = sa.Table(
    "wp_wc_order_product_lookup", metadata,
    sa.Column("order_item_id", ID, primary_key=True, autoincrement=False),
    sa.Column("order_id", ID, nullable=False), sa.Column("product_id", ID, nullable=False),
    sa.Column("variation_id", ID, nullable=False), sa.Column("customer_id", ID),
    sa.Column("date_created", sa.DateTime, nullable=False), sa.Column("product_qty", sa.Integer, nullable=False),
    *(sa.Column(c, DOUBLE, nullable=False, default=0) for c in (
        "product_net_revenue", "product_gross_revenue", "coupon_amount", "tax_amount", "shipping_amount",
        "shipping_tax_amount")),
)
wp_wc_order_tax_lookup = sa.Table(
    "wp_wc_order_tax_lookup", metadata,
    sa.Column("order_id", ID, primary_key=True, autoincrement=False),
    sa.Column("tax_rate_id", ID, primary_key=True, autoincrement=False),
    sa.Column("date_created", sa.DateTime, nullable=False),
    *(sa.Column(c, DOUBLE, nullable=False, default=0) for c in ("shipping_tax", "order_tax", "total_tax")),
)

PRODUCTS = [  # id, title, sku, price, virtual, tax_status, stock
    (11, "Ceramic mug", "MUG-01", "12.99", 0, "taxable", 40),
    (12, "Cotton tote bag", "TOTE-02", "24.50", 0, "taxable", None),
    (13, "Sticker pack", "STK-03", "3.33", 0, "taxable", None),
    (14, "Coffee beans 1 kg", "BEAN-04", "49.00", 0, "taxable", 15),
    (15, "Gift card", "GIFT-05", "25.00", 1, "none", None),
    (16, "Espresso cups (set of 2)", "CUP-06", "17.45", 0, "taxable", None),
]
CUSTOMERS = [  # lookup id, WP user id (None: a guest), first, last, email, city, state, postcode
    (1, 101, "Ada", "Lovelace", "ada@example.com", "Sacramento", "CA", "95814"),
    (2, 102, "Grace", "Hopper", "grace@example.com", "Oakland", "CA", "94607"),
    (3, 103, "Alan", "Turing", "alan@example.com", "Fresno", "CA", "93721"),
    (4, 104, "Edsger", "Dijkstra", "edsger@example.com", "San Diego", "CA", "92101"),
    (5, None, "Guest", "Buyer", "guest.buyer@example.net", "Los Angeles", "CA", "90012"),
]


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def line_tax(amount: Decimal, taxable: bool) -> Decimal:
    return cents(amount * RATE / 100) if taxable else Decimal("0.00")


@dataclass
class Order:
    """What WooCommerce reports for one order (``WC_Order`` getters), in store currency."""

    id: int
    status: str
    currency: str
    day: str
    customer: int = 0              # wc_customer_lookup id (a guest has one too)
    lines: int = 0                 # product line items
    shipping_lines: int = 0
    net: Decimal = Decimal(0)      # line totals after coupons + shipping + non-tip fees (what QBO lines carry)
    discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)      # cart tax + shipping tax
    tip: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    first_line: tuple = ()         # (product id, name, qty, line total, line tax): what a partial refund returns
    amounts: list[Decimal] = field(default_factory=list)  # each product and shipping line's total after coupons


@dataclass
class Store:
    """The store as its own reports show it, and what a bookkeeper expects from an export."""

    orders: dict[int, Order] = field(default_factory=dict)
    refunds: dict[int, Decimal] = field(default_factory=dict)      # refund order id -> amount refunded
    not_paid: set[int] = field(default_factory=set)                 # failed / pending / cancelled
    foreign: set[int] = field(default_factory=set)                  # orders in another currency than USD
    customers: int = 0
    products: int = 0

    def paid(self) -> dict[int, Order]:
        return {i: o for i, o in self.orders.items() if i not in self.not_paid and i not in self.foreign}


class _Writer:
    """Collects rows with WooCommerce's own id sequences."""

    def __init__(self) -> None:
        self.rows: dict[sa.Table, list[dict]] = {t: [] for t in metadata.sorted_tables}
        self.item_id = 200
        self.meta_id = 5000

    def item(self, order_id: int, name: str, kind: str, meta: dict[str, object]) -> int:
        self.item_id += 1
        self.rows[wp_woocommerce_order_items].append(
            {"order_item_id": self.item_id, "order_item_name": name, "order_item_type": kind, "order_id": order_id})
        for key, value in meta.items():
            self.meta_id += 1
            self.rows[wp_woocommerce_order_itemmeta].append(
                {"meta_id": self.meta_id, "order_item_id": self.item_id, "meta_key": key, "meta_value": str(value)})
        return self.item_id


def _order(w: _Writer, store: Store, rng: random.Random, order_id: int, when: datetime, *, status: str,
           customer: tuple, currency: str = "USD", coupon: str | None = None, shipping: bool = True,
           tip: Decimal = Decimal(0)) -> Order:
    """One order with its items, coupon, shipping, fee, tax items and lookup rows."""
    lookup_id, user_id, first, last, email, city, state, postcode = customer
    order = Order(order_id, status, currency, when.date().isoformat(), lookup_id)
    picks = rng.sample(PRODUCTS, rng.randint(2, 4))
    items = [(p, rng.randint(1, 3)) for p in picks]
    subtotals = [Decimal(p[3]) * qty for p, qty in items]
    if coupon == "percent10":
        discounts = [cents(s * Decimal("0.10")) for s in subtotals]
    elif coupon == "fixed5":  # fixed cart coupon, spread in cents by WC_Discounts, the rest on the last line
        share = [cents(Decimal(5) * s / sum(subtotals)) for s in subtotals]
        discounts = share[:-1] + [Decimal(5) - sum(share[:-1])]
    else:
        discounts = [Decimal(0)] * len(items)
    cart_tax = Decimal(0)
    for (product, qty), subtotal, discount in zip(items, subtotals, discounts, strict=True):
        taxable = product[5] == "taxable"
        total = subtotal - discount
        tax = line_tax(total, taxable)
        item_id = w.item(order_id, product[1], "line_item", {
            "_product_id": product[0], "_variation_id": 0, "_qty": qty, "_tax_class": "",
            "_line_subtotal": f"{subtotal:.2f}", "_line_subtotal_tax": f"{line_tax(subtotal, taxable):.2f}",
            "_line_total": f"{total:.2f}", "_line_tax": f"{tax:.2f}",
            "_line_tax_data": f'a:2:{{s:5:"total";a:1:{{i:1;s:{len(f"{tax:.2f}")}:"{tax:.2f}";}}}}' if taxable
            else 'a:2:{s:5:"total";a:0:{}s:8:"subtotal";a:0:{}}'})
        w.rows[wp_wc_order_product_lookup].append({
            "order_item_id": item_id, "order_id": order_id, "product_id": product[0], "variation_id": 0,
            "customer_id": lookup_id, "date_created": when, "product_qty": qty, "product_net_revenue": float(total),
            "product_gross_revenue": float(total + tax), "coupon_amount": float(discount), "tax_amount": float(tax),
            "shipping_amount": 0.0, "shipping_tax_amount": 0.0})
        order.first_line = order.first_line or (product[0], product[1], qty, total, tax)
        order.lines += 1
        order.amounts.append(total)
        order.net += total
        order.discount += discount
        cart_tax += tax
    ship_cost = Decimal("5.99") if shipping else Decimal(0)
    ship_tax = line_tax(ship_cost, True)
    w.item(order_id, "Flat rate" if shipping else "Free shipping", "shipping", {
        "method_id": "flat_rate" if shipping else "free_shipping", "instance_id": 1 if shipping else 2,
        "cost": f"{ship_cost:.2f}", "total_tax": f"{ship_tax:.2f}", "Items": "(see order)"})
    order.shipping_lines += 1
    order.amounts.append(ship_cost)
    order.net += ship_cost
    if coupon:
        w.item(order_id, coupon, "coupon", {"discount_amount": f"{order.discount:.2f}", "discount_amount_tax": "0"})
    if tip:
        w.item(order_id, "Tip", "fee", {"_tax_class": "", "_tax_status": "none", "_line_total": f"{tip:.2f}",
                                        "_line_tax": "0", "_line_subtotal": f"{tip:.2f}"})
    order.tip = tip
    order.tax = cart_tax + ship_tax
    w.item(order_id, "US-CA-STATE TAX-1", "tax", {"rate_id": 1, "label": "State tax", "compound": "",
                                                 "tax_amount": f"{cart_tax:.2f}",
                                                 "shipping_tax_amount": f"{ship_tax:.2f}", "rate_percent": RATE})
    order.total = order.net + order.tax + tip
    w.rows[wp_wc_order_tax_lookup].append({"order_id": order_id, "tax_rate_id": 1, "date_created": when,
                                           "shipping_tax": float(ship_tax), "order_tax": float(cart_tax),
                                           "total_tax": float(order.tax)})
    paid = status in ("wc-completed", "wc-processing", "wc-refunded")
    w.rows[wp_wc_orders].append({
        "id": order_id, "status": status, "currency": currency, "type": "shop_order", "tax_amount": cart_tax,
        "total_amount": order.total, "customer_id": user_id or 0, "billing_email": email,
        "date_created_gmt": when, "date_updated_gmt": when + timedelta(hours=2), "parent_order_id": 0,
        "payment_method": "stripe" if order_id % 3 else "paypal",
        "payment_method_title": "Credit card (Stripe)" if order_id % 3 else "PayPal",
        "transaction_id": (f"ch_3P{order_id:06d}Xy" if order_id % 3 else f"9KX{order_id:08d}") if paid else "",
        "ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0", "customer_note": "Leave at the door"
        if order_id % 7 == 0 else None})
    for kind in ("billing", "shipping"):
        w.rows[wp_wc_order_addresses].append({
            "id": len(w.rows[wp_wc_order_addresses]) + 1, "order_id": order_id, "address_type": kind,
            "first_name": first, "last_name": last, "company": None, "address_1": f"{order_id} Market St",
            "address_2": None, "city": city, "state": state, "postcode": postcode, "country": "US",
            "email": email if kind == "billing" else None, "phone": "555-0100"})
    w.rows[wp_wc_order_operational_data].append({
        "id": order_id, "order_id": order_id, "created_via": "checkout", "woocommerce_version": "10.3.0",
        "prices_include_tax": 0, "coupon_usages_are_counted": 1 if coupon else 0, "download_permission_granted": 1,
        "cart_hash": f"{order_id:032x}", "new_order_email_sent": 1, "order_key": f"wc_order_{order_id:x}",
        "order_stock_reduced": 1 if paid else 0, "date_paid_gmt": when + timedelta(minutes=1) if paid else None,
        "date_completed_gmt": when + timedelta(days=1) if status == "wc-completed" else None,
        "shipping_tax_amount": ship_tax, "shipping_total_amount": ship_cost, "discount_tax_amount": Decimal(0),
        "discount_total_amount": order.discount, "recorded_sales": 1 if paid else 0})
    store.orders[order_id] = order
    return order


def _refund(w: _Writer, store: Store, refund_id: int, parent: Order, when: datetime, reason: str,
            full: bool) -> None:
    """A ``shop_order_refund`` row: negative totals, negative item quantities, the reason in orders meta."""
    product_id, name, qty, line_total, line_tax_amount = parent.first_line
    amount = parent.total if full else line_total + line_tax_amount
    tax = parent.tax if full else line_tax_amount
    if not full:
        w.item(refund_id, name, "line_item", {
            "_product_id": product_id, "_variation_id": 0, "_qty": -qty, "_line_subtotal": f"-{line_total:.2f}",
            "_line_total": f"-{line_total:.2f}", "_line_tax": f"-{tax:.2f}"})
    w.rows[wp_wc_orders].append({
        "id": refund_id, "status": "wc-completed", "currency": parent.currency, "type": "shop_order_refund",
        "tax_amount": -tax, "total_amount": -amount, "customer_id": 0, "billing_email": None,
        "date_created_gmt": when, "date_updated_gmt": when, "parent_order_id": parent.id, "payment_method": None,
        "payment_method_title": None, "transaction_id": None, "ip_address": None, "user_agent": None,
        "customer_note": None})
    for key, value in (("_refund_amount", f"{amount:.2f}"), ("_refunded_by", "1"), ("_refunded_payment", "1"),
                       ("_refund_reason", reason)):
        w.rows[wp_wc_orders_meta].append({"id": len(w.rows[wp_wc_orders_meta]) + 1, "order_id": refund_id,
                                          "meta_key": key, "meta_value": value})
    store.refunds[refund_id] = amount


def build_woocommerce_db(url: str, seed: int = 7, orders: int = 36) -> Store:
    """Create the WooCommerce tables at ``url`` and fill a week of a small US store; returns its reports."""
    rng = random.Random(seed)
    w, store = _Writer(), Store()
    created = FIRST_DAY - timedelta(days=90)
    for pid, title, sku, price, virtual, tax_status, stock in PRODUCTS:
        w.rows[wp_posts].append({
            "ID": pid, "post_date": created, "post_date_gmt": created, "post_title": title,
            "post_excerpt": f"{title}, from the shop", "post_status": "publish", "post_name": sku.lower(),
            "post_modified": created, "post_modified_gmt": created, "post_type": "product",
            "guid": f"https://shop.example.com/?post_type=product&p={pid}"})
        w.rows[wp_wc_product_meta_lookup].append({
            "product_id": pid, "sku": sku, "virtual": virtual, "downloadable": 0, "min_price": Decimal(price),
            "max_price": Decimal(price), "onsale": 0, "stock_quantity": stock,
            "stock_status": "instock", "tax_status": tax_status, "tax_class": ""})
    for cid, user, first, last, email, city, state, postcode in CUSTOMERS:
        w.rows[wp_wc_customer_lookup].append({
            "customer_id": cid, "user_id": user, "username": email.split("@")[0] if user else "",
            "first_name": first, "last_name": last, "email": email, "date_last_active": FIRST_DAY,
            "date_registered": created if user else None, "country": "US", "postcode": postcode, "city": city,
            "state": state})
    special = {5: "wc-failed", 9: "wc-pending", 14: "wc-cancelled"}
    for n in range(orders):
        order_id = FIRST_ORDER + n
        when = FIRST_DAY + timedelta(days=n // 6, hours=(n % 6) * 2, minutes=n * 7 % 60)
        status = special.get(n, "wc-processing" if n % 5 == 4 else "wc-completed")
        customer = CUSTOMERS[4] if n in (3, 17, 30) else CUSTOMERS[n % 4]
        _order(w, store, rng, order_id, when, status=status, customer=customer,
               currency="EUR" if n == 22 else "USD", coupon=("percent10", "fixed5", None, None)[n % 4],
               shipping=n % 3 != 2, tip=Decimal("2.00") if n % 8 == 1 else Decimal("3.50") if n % 8 == 6 else 0)
        if n in special:
            store.not_paid.add(order_id)
        if n == 22:
            store.foreign.add(order_id)
    last = FIRST_ORDER + orders
    _refund(w, store, last + 1, store.orders[FIRST_ORDER + 7], FIRST_DAY + timedelta(days=3, hours=5), "Arrived damaged",
            full=False)
    store.orders[FIRST_ORDER + 12].status = "wc-refunded"
    _refund(w, store, last + 2, store.orders[FIRST_ORDER + 12], FIRST_DAY + timedelta(days=4, hours=1), "Order returned",
            full=True)
    for row in w.rows[wp_wc_orders]:
        if row["id"] == FIRST_ORDER + 12:
            row["status"] = "wc-refunded"
    store.customers, store.products = len(CUSTOMERS), len(PRODUCTS)
    engine = sa.create_engine(url)
    try:
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                if w.rows[table]:
                    conn.execute(table.insert(), w.rows[table])
    finally:
        engine.dispose()
    return store
