"""Small databases in two foreign billing schemas, for the example mappings and their tests.

``hosting_billing`` is shaped like WHMCS-style hosting billing (``tblclients``,
``tblinvoices``, ``tblinvoiceitems``, ``tblaccounts`` holding both payments and refunds,
integer ids, status words). ``web_shop`` is shaped like a web shop (``users``, ``orders``,
``order_details`` without line numbers, ``products`` with stock; an order's payment lives on
the order row). Their mappings are ``mappings/hosting_billing.yaml`` and
``mappings/web_shop.yaml``; every row here maps onto a valid canonical row.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

BASE_TIME = datetime(2026, 3, 1, 9, 0, 0)

# --- hosting billing ------------------------------------------------------------------------
hosting_metadata = sa.MetaData()
tblclients = sa.Table(
    "tblclients", hosting_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("firstname", sa.String(100)), sa.Column("lastname", sa.String(100)),
    sa.Column("companyname", sa.String(200)), sa.Column("email", sa.String(200)),
    sa.Column("phonenumber", sa.String(40)), sa.Column("address1", sa.String(200)),
    sa.Column("address2", sa.String(200)), sa.Column("city", sa.String(100)), sa.Column("state", sa.String(100)),
    sa.Column("postcode", sa.String(20)), sa.Column("country", sa.String(2)),
    sa.Column("status", sa.String(20), nullable=False),  # Active | Inactive | Closed
    sa.Column("currency_code", sa.String(3)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
tblproducts = sa.Table(
    "tblproducts", hosting_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200)), sa.Column("description", sa.Text),
    sa.Column("type", sa.String(20)),  # hostingaccount | server | other
    sa.Column("monthly", sa.Numeric(10, 2)),
    sa.Column("retired", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
tblinvoices = sa.Table(
    "tblinvoices", hosting_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("invoicenum", sa.String(60)), sa.Column("userid", sa.Integer, nullable=False),
    sa.Column("date", sa.Date), sa.Column("duedate", sa.Date),
    sa.Column("status", sa.String(20)),  # Draft | Unpaid | Paid | Cancelled | Refunded
    sa.Column("notes", sa.Text),
    sa.Column("last_modified", sa.DateTime, nullable=False),
)
tblinvoiceitems = sa.Table(
    "tblinvoiceitems", hosting_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("invoiceid", sa.Integer, nullable=False),
    sa.Column("relid", sa.Integer, nullable=False),  # product id, 0 for a free-text item
    sa.Column("description", sa.Text), sa.Column("amount", sa.Numeric(10, 2)),
    sa.Column("taxed", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
tblaccounts = sa.Table(
    "tblaccounts", hosting_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("userid", sa.Integer, nullable=False), sa.Column("invoiceid", sa.Integer, nullable=False),
    sa.Column("date", sa.DateTime), sa.Column("gateway", sa.String(40)), sa.Column("transid", sa.String(100)),
    sa.Column("amountin", sa.Numeric(10, 2), nullable=False), sa.Column("amountout", sa.Numeric(10, 2), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


def _hosting_rows() -> dict[str, list[dict]]:
    clients = [
        (1, "Ada", "Lovelace", "Analytical Engines Ltd", "ada@engines.example", "Active", "GB"),
        (2, "Grace", "Hopper", "", "grace@navy.example", "Active", "US"),
        (3, "Linus", "Torvalds", "Penguin Hosting Oy", "linus@penguin.example", "Inactive", "FI"),
        (4, "Zoë", "Müller", "Bäckerei Müller GmbH", "zoe@baeckerei.example", "Active", "DE"),
        (5, "Alan", "Turing", "", "alan@bletchley.example", "Closed", "GB"),
    ]
    rows: dict[str, list[dict]] = {"tblclients": [], "tblproducts": [], "tblinvoices": [], "tblinvoiceitems": [],
                                   "tblaccounts": []}
    for i, (cid, first, last, company, email, status, country) in enumerate(clients):
        rows["tblclients"].append({
            "id": cid, "firstname": first, "lastname": last, "companyname": company, "email": email,
            "phonenumber": f"+44 20 7946 0{cid:03d}", "address1": f"{cid} Server Lane", "address2": "",
            "city": "London", "state": "", "postcode": f"EC{cid}A 1BB", "country": country, "status": status,
            "currency_code": "USD", "updated_at": BASE_TIME + timedelta(hours=i)})
    for pid, name, kind, price, retired in ((1, "Shared Hosting", "hostingaccount", 7.95, 0),
                                            (2, "Dedicated Server", "server", 149.00, 0),
                                            (3, "Legacy Reseller Plan", "hostingaccount", 24.00, 1)):
        rows["tblproducts"].append({"id": pid, "name": name, "description": f"{name} (monthly)", "type": kind,
                                    "monthly": price, "retired": retired,
                                    "updated_at": BASE_TIME + timedelta(minutes=pid)})
    statuses = ["Paid", "Unpaid", "Paid", "Cancelled", "Draft", "Paid", "Unpaid", "Paid"]
    item_id = payment_id = 0
    for n, status in enumerate(statuses, start=1):
        client = clients[(n - 1) % len(clients)][0]
        day = date(2026, 1, 5) + timedelta(days=7 * n)
        stamp = BASE_TIME + timedelta(days=n)
        rows["tblinvoices"].append({"id": 100 + n, "invoicenum": f"HB-{2026}{n:04d}", "userid": client, "date": day,
                                    "duedate": day + timedelta(days=14), "status": status,
                                    "notes": "Thank you for your business" if n % 2 else "",
                                    "last_modified": stamp})
        items = [(1, "Shared Hosting - example.com (01/2026)", 7.95, 1)]
        if n % 3 == 0:
            items.append((2, "Dedicated Server - srv01", 149.00, 1))
        if n % 4 == 0:
            items.append((0, "Setup fee (one-off)", 25.00, 0))
        total = 0.0
        for relid, description, amount, taxed in items:
            item_id += 1
            total += amount
            rows["tblinvoiceitems"].append({"id": item_id, "invoiceid": 100 + n, "relid": relid,
                                            "description": description, "amount": amount, "taxed": taxed,
                                            "updated_at": stamp})
        if status == "Paid":
            payment_id += 1
            rows["tblaccounts"].append({"id": payment_id, "userid": client, "invoiceid": 100 + n,
                                        "date": datetime.combine(day + timedelta(days=3), datetime.min.time()),
                                        "gateway": "paypal", "transid": f"PP-{1000 + n}",
                                        "amountin": round(total, 2), "amountout": 0,
                                        "updated_at": stamp + timedelta(days=3)})
    payment_id += 1  # a refund of part of the first payment
    rows["tblaccounts"].append({"id": payment_id, "userid": 1, "invoiceid": 101, "date": datetime(2026, 2, 1, 10),
                                "gateway": "paypal", "transid": "PP-REFUND-1", "amountin": 0, "amountout": 2.95,
                                "updated_at": BASE_TIME + timedelta(days=20)})
    return rows


def write_database(url: str, metadata: sa.MetaData, rows: dict[str, list[dict]]) -> dict[str, int]:
    """(Re)create the tables of ``metadata`` at ``url`` and insert ``rows`` (table -> row dicts).

    The example and fixture databases (these two, ``billing_app``) are rebuilt from scratch each
    time, so a test or a measurement always reads the same source. Returns row counts per table.
    """
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
            metadata.create_all(conn)
            for name, table_rows in rows.items():
                if table_rows:
                    conn.execute(metadata.tables[name].insert(), table_rows)
    finally:
        engine.dispose()
    return {name: len(table_rows) for name, table_rows in rows.items()}


def build_hosting_billing_db(url: str) -> dict[str, int]:
    """(Re)create the hosting-billing example tables at ``url``; returns row counts per table."""
    return write_database(url, hosting_metadata, _hosting_rows())


# --- web shop -------------------------------------------------------------------------------
shop_metadata = sa.MetaData()
users = sa.Table(
    "users", shop_metadata,
    sa.Column("user_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("username", sa.String(60), nullable=False), sa.Column("email", sa.String(200)),
    sa.Column("first_name", sa.String(100)), sa.Column("last_name", sa.String(100)),
    sa.Column("billing_company", sa.String(200)), sa.Column("billing_street", sa.String(200)),
    sa.Column("billing_city", sa.String(100)), sa.Column("billing_state", sa.String(100)),
    sa.Column("billing_zip", sa.String(20)), sa.Column("billing_country", sa.String(2)),
    sa.Column("phone", sa.String(40)), sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("modified", sa.DateTime, nullable=False),
)
shop_products = sa.Table(
    "products", shop_metadata,
    sa.Column("product_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("title", sa.String(200)), sa.Column("sku", sa.String(60)), sa.Column("summary", sa.Text),
    sa.Column("price", sa.Numeric(10, 2)), sa.Column("cost", sa.Numeric(10, 2)),
    sa.Column("stock", sa.Integer),  # NULL: stock not tracked
    sa.Column("is_virtual", sa.Boolean, nullable=False),
    sa.Column("tax_class", sa.String(20)),  # standard | reduced | none
    sa.Column("published", sa.Boolean, nullable=False),
    sa.Column("modified", sa.DateTime, nullable=False),
)
orders = sa.Table(
    "orders", shop_metadata,
    sa.Column("order_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("order_ref", sa.String(40)), sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("order_status", sa.String(20)),  # pending | processing | completed | cancelled | refunded
    sa.Column("ordered_at", sa.DateTime), sa.Column("currency", sa.String(3)),
    sa.Column("customer_note", sa.Text),
    sa.Column("paid_amount", sa.Numeric(10, 2)), sa.Column("payment_method", sa.String(40)),
    sa.Column("transaction_id", sa.String(100)), sa.Column("paid_at", sa.DateTime),
    sa.Column("refunded_amount", sa.Numeric(10, 2)), sa.Column("refunded_at", sa.DateTime),
    sa.Column("modified", sa.DateTime, nullable=False),
)
order_details = sa.Table(
    "order_details", shop_metadata,
    sa.Column("detail_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("order_id", sa.Integer, nullable=False), sa.Column("product_id", sa.Integer, nullable=False),
    sa.Column("qty", sa.Integer, nullable=False), sa.Column("price", sa.Numeric(10, 2), nullable=False),
    sa.Column("discount_amount", sa.Numeric(10, 2), nullable=False),
    sa.Column("modified", sa.DateTime, nullable=False),
)


def _shop_rows() -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {"users": [], "products": [], "orders": [], "order_details": []}
    people = [(1, "mchen", "Mei", "Chen", ""), (2, "okafor", "Chidi", "Okafor", "Okafor Interiors"),
              (3, "jdoe", "Jane", "Doe", ""), (4, "jdoe2", "Jane", "Doe", ""), (5, "rsato", "Ren", "Sato", "Sato Tea Co.")]
    for uid, username, first, last, company in people:
        rows["users"].append({
            "user_id": uid, "username": username, "email": f"{username}@shop.example", "first_name": first,
            "last_name": last, "billing_company": company, "billing_street": f"{uid * 11} Market St",
            "billing_city": "Seattle", "billing_state": "WA", "billing_zip": "98101", "billing_country": "US",
            "phone": f"206-555-01{uid:02d}", "is_active": uid != 3, "modified": BASE_TIME + timedelta(hours=uid)})
    catalog = [(1, "Green Tea 250g", "TEA-GRN-250", 12.50, 4.00, 120, False, "reduced"),
               (2, "Teapot (cast iron)", "POT-CI-1", 64.00, 22.00, 15, False, "standard"),
               (3, "Gift Card", "GIFT-25", 25.00, None, None, True, "none"),
               (4, "Tea Subscription (monthly)", "SUB-TEA-M", 19.00, None, None, True, "standard")]
    for pid, title, sku, price, cost, stock, virtual, tax in catalog:
        rows["products"].append({"product_id": pid, "title": title, "sku": sku, "summary": f"{title} from our shop",
                                 "price": price, "cost": cost, "stock": stock, "is_virtual": virtual,
                                 "tax_class": tax, "published": True, "modified": BASE_TIME + timedelta(minutes=pid)})
    statuses = ["completed", "completed", "processing", "pending", "cancelled", "completed", "refunded", "completed"]
    detail_id = 0
    for n, status in enumerate(statuses, start=1):
        uid = people[(n - 1) % len(people)][0]
        when = datetime(2026, 1, 3, 14, 30) + timedelta(days=6 * n)
        stamp = BASE_TIME + timedelta(days=n)
        total = 0.0
        for k in range(1 + n % 3):
            detail_id += 1
            pid, _, _, price, *_ = catalog[(n + k) % len(catalog)]
            qty = 1 + (n + k) % 3
            discount = round(price * qty * 0.1, 2) if n % 4 == 0 else 0.0
            total += price * qty - discount
            rows["order_details"].append({"detail_id": detail_id, "order_id": 5000 + n, "product_id": pid, "qty": qty,
                                          "price": price, "discount_amount": discount, "modified": stamp})
        paid = status in ("completed", "refunded")
        rows["orders"].append({
            "order_id": 5000 + n, "order_ref": f"WS-{5000 + n}", "user_id": uid, "order_status": status,
            "ordered_at": when, "currency": "USD", "customer_note": "Leave at the door" if n == 2 else None,
            "paid_amount": round(total, 2) if paid else None, "payment_method": "card" if paid else None,
            "transaction_id": f"ch_{5000 + n}" if paid else None, "paid_at": when + timedelta(minutes=5) if paid else None,
            "refunded_amount": round(total, 2) if status == "refunded" else None,
            "refunded_at": when + timedelta(days=2) if status == "refunded" else None,
            "modified": stamp})
    return rows


def build_web_shop_db(url: str) -> dict[str, int]:
    """(Re)create the web-shop example tables at ``url``; returns row counts per table."""
    return write_database(url, shop_metadata, _shop_rows())


BUILDERS = {"hosting_billing": build_hosting_billing_db, "web_shop": build_web_shop_db}
