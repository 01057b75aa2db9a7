"""The demo billing database: deterministic data that exercises every export rule.

A demo that only holds tidy rows proves nothing: real billing data has same-name
customers, names QBO refuses (``:``), document numbers longer than QBO allows, partly
paid and over-paid invoices, write-offs and a few plainly broken rows. ``init_demo_db``
builds all of them, always the same rows for the same seed, in the canonical schema (so
its mapping is the identity). ``mutate_demo_db`` then simulates a working day (new and
edited rows with a fresh ``updated_at``) so incremental sync has something to find.

Every deliberately invalid row is listed in docs/canonical-model.md; their memo or
description starts with ``INVALID:`` and names the rule they break.
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from qbo_pipeline.source import model

log = logging.getLogger(__name__)

DEFAULT_SCALE = 0.02
"""About 40 customers, 10 products, 400 invoices and 300 payments: a demo export that
finishes in a minute or two against the rate-limited sandbox."""

FULL_SCALE = {"customers": 2000, "products": 300, "invoices": 20000}
TAX_CODES = ("TAX", "NON", "STATE", "CITY")
PAYMENT_METHODS = ("Cash", "Check", "Credit Card", "Bank Transfer")
INVALID_PREFIX = "INVALID:"

_FIRST = ("John", "Maria", "Wei", "Fatima", "Olga", "Kwame", "Ana", "Liam", "Noor", "Hiroshi", "Emma", "Raj")
_LAST = ("Smith", "Garcia", "Chen", "Khan", "Ivanova", "Mensah", "Silva", "Murphy", "Haddad", "Sato", "Brown")
_COMPANY = ("Hosting", "Design", "Bakery", "Legal", "Dental", "Consulting", "Logistics", "Studio", "Labs")
_CITIES = (("Austin", "TX", "78701"), ("Denver", "CO", "80202"), ("Portland", "OR", "97201"), ("Boston", "MA", "02108"))
_PRODUCTS = (
    ("Web Hosting Basic", "service", 9.99),
    ("Web Hosting Pro", "service", 29.99),
    ("Domain Registration", "non_inventory", 14.50),
    ("SSL Certificate", "non_inventory", 49.00),
    ("Consulting Hour", "service", 120.00),
    ("Managed Backup", "service", 15.00),
    ("Server Rack Unit", "inventory", 899.00),
    ("Network Switch", "inventory", 249.00),
    ("Email Seat", "service", 4.00),
    ("Setup Fee", "service", 75.00),
)


def _scaled(full: int, scale: float, minimum: int) -> int:
    return max(minimum, round(full * scale))


def _ts(day: date, rng: random.Random) -> datetime:
    """A business-hours timestamp on ``day`` (naive UTC)."""
    return datetime.combine(day, time(8)) + timedelta(seconds=rng.randrange(10 * 3600))


class _Builder:
    """Accumulates rows per canonical table; ids are sequential per kind so a seed fixes them."""

    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng = rng
        self.today = today
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.invoice_totals: dict[str, float] = {}
        self.invoice_customer: dict[str, str] = {}
        self.invoice_date: dict[str, date] = {}

    def past_day(self) -> date:
        return self.today - timedelta(days=self.rng.randrange(1, 366))

    # customers --------------------------------------------------------------------------
    def customer(self, **fields: Any) -> str:
        cid = f"C{len(self.rows['customers']) + 1:05d}"
        given, family = self.rng.choice(_FIRST), self.rng.choice(_LAST)
        city, region, postal = self.rng.choice(_CITIES)
        company = f"{family} {self.rng.choice(_COMPANY)}" if self.rng.random() < 0.6 else None
        row = {
            "id": cid,
            "display_name": company or f"{given} {family}",
            "company_name": company,
            "given_name": given,
            "family_name": family,
            "email": f"{given.lower()}.{family.lower()}.{cid.lower()}@example.com",
            "phone": f"+1 555 {self.rng.randrange(100, 999)} {self.rng.randrange(1000, 9999)}",
            "bill_line1": f"{self.rng.randrange(1, 999)} Main St",
            "bill_line2": None,
            "bill_city": city,
            "bill_region": region,
            "bill_postal_code": postal,
            "bill_country": "US",
            "parent_id": None,
            "active": True,
            "deleted": False,
            "currency": "USD",
            "updated_at": _ts(self.past_day(), self.rng),
        }
        row.update(fields)
        self.rows["customers"].append(row)
        return cid

    # products ---------------------------------------------------------------------------
    def product(self, name: str | None, kind: str, price: float, **fields: Any) -> str:
        pid = f"P{len(self.rows['products']) + 1:04d}"
        row = {
            "id": pid,
            "name": name,
            "sku": f"SKU-{pid}",
            "description": f"{name or 'Unnamed product'} ({kind.replace('_', '-')})",
            "type": kind,
            "unit_price": price,
            "cost": round(price * 0.4, 2) if kind == "inventory" else None,
            "income_account": None,
            "expense_account": "Cost of Goods Sold" if kind == "inventory" else None,
            "taxable": kind != "service",
            "qty_on_hand": float(self.rng.randrange(5, 50)) if kind == "inventory" else None,
            "active": True,
            "deleted": False,
            "updated_at": _ts(self.past_day(), self.rng),
        }
        row.update(fields)
        self.rows["products"].append(row)
        return pid

    # invoices ---------------------------------------------------------------------------
    def invoice(
        self,
        customer_id: str,
        products: list[dict[str, Any]],
        *,
        status: str = "sent",
        issue_date: date | None = None,
        lines: list[dict[str, Any]] | None = None,
        updated_at: datetime | None = None,
        **fields: Any,
    ) -> str:
        n = len(self.rows["invoices"]) + 1
        iid = f"I{n:06d}"
        issue = issue_date or self.past_day()
        stamp = updated_at or _ts(issue, self.rng)
        row = {
            "id": iid,
            "number": f"INV-{issue.year}-{n:05d}",
            "customer_id": customer_id,
            "status": status,
            "issue_date": issue,
            "due_date": issue + timedelta(days=30),
            "currency": "USD",
            "memo": None,
            "deleted": False,
            "updated_at": stamp,
        }
        row.update(fields)
        self.rows["invoices"].append(row)
        if lines is None:
            lines = [self.random_line(products) for _ in range(self.rng.randint(1, 5))]
        total = 0.0
        for line_no, line in enumerate(lines, start=1):
            qty, price = line.get("quantity", 1.0), line.get("unit_price", 0.0)
            amount = line.get("amount", round((qty or 0) * (price or 0), 2))
            full = {
                "id": f"{iid}-L{line_no}",
                "invoice_id": iid,
                "line_no": line_no,
                "product_id": None,
                "name": None,
                "description": None,
                "quantity": qty,
                "unit_price": price,
                "amount": amount,
                "discount": 0.0,
                "tax_code": "NON",
                "updated_at": stamp,
            }
            full.update({k: v for k, v in line.items() if k in full})
            full["amount"] = amount
            self.rows["invoice_lines"].append(full)
            if amount == amount and amount is not None:  # NaN never adds to the total
                total += amount - (full["discount"] or 0.0)
        self.invoice_totals[iid] = round(total, 2)
        self.invoice_customer[iid] = customer_id
        self.invoice_date[iid] = issue
        return iid

    def random_line(self, products: list[dict[str, Any]]) -> dict[str, Any]:
        if self.rng.random() < 0.1:
            return {
                "name": "Custom work",
                "description": "Free-text line: custom development",
                "quantity": float(self.rng.randint(1, 8)),
                "unit_price": 95.0,
                "tax_code": "NON",
            }
        product = self.rng.choice(products)
        qty = float(self.rng.randint(1, 12))
        line = {
            "product_id": product["id"],
            "description": product["description"],
            "quantity": qty,
            "unit_price": product["unit_price"],
            "tax_code": self.rng.choice(TAX_CODES) if product["taxable"] else "NON",
        }
        if self.rng.random() < 0.12:
            line["discount"] = round(qty * product["unit_price"] * 0.1, 2)
        return line

    # payments ---------------------------------------------------------------------------
    def payment(
        self, customer_id: str, amount: float | None, applied: dict[str, float], *, day: date | None = None, **fields: Any
    ) -> str:
        pid = f"PAY{len(self.rows['payments']) + 1:06d}"
        latest = max((self.invoice_date[i] for i in applied), default=self.past_day())
        day = day or min(self.today - timedelta(days=1), latest + timedelta(days=self.rng.randint(0, 20)))
        stamp = _ts(day, self.rng)
        row = {
            "id": pid,
            "customer_id": customer_id,
            "date": day,
            "amount": amount,
            "currency": "USD",
            "method": self.rng.choice(PAYMENT_METHODS),
            "reference": f"TX-{self.rng.randrange(10**8, 10**9)}",
            "deposit_account": None,
            "memo": None,
            "deleted": False,
            "updated_at": stamp,
        }
        row.update(fields)
        self.rows["payments"].append(row)
        for invoice_id, applied_amount in applied.items():
            self.rows["payment_applications"].append(
                {
                    "id": f"{pid}-A{len(self.rows['payment_applications']) + 1}",
                    "payment_id": pid,
                    "invoice_id": invoice_id,
                    "amount": applied_amount,
                    "updated_at": stamp,
                }
            )
        return pid

    def credit(self, customer_id: str, invoice_id: str | None, kind: str, amount: float, **fields: Any) -> str:
        cid = f"CR{len(self.rows['credits']) + 1:05d}"
        day = self.invoice_date.get(invoice_id) or self.past_day()
        day = min(self.today - timedelta(days=1), day + timedelta(days=self.rng.randint(1, 60)))
        row = {
            "id": cid,
            "customer_id": customer_id,
            "invoice_id": invoice_id,
            "kind": kind,
            "date": day,
            "amount": amount,
            "currency": "USD",
            "product_id": None,
            "description": {"credit": "Service credit", "write_off": "Small balance written off",
                            "bad_debt": "Uncollectible: customer out of business"}[kind],
            "deleted": False,
            "updated_at": _ts(day, self.rng),
        }
        row.update(fields)
        self.rows["credits"].append(row)
        return cid

    def refund(self, customer_id: str, payment_id: str | None, amount: float, day: date, **fields: Any) -> str:
        rid = f"RF{len(self.rows['refunds']) + 1:05d}"
        day = min(self.today - timedelta(days=1), day + timedelta(days=self.rng.randint(1, 14)))
        row = {
            "id": rid,
            "customer_id": customer_id,
            "payment_id": payment_id,
            "date": day,
            "amount": amount,
            "currency": "USD",
            "method": self.rng.choice(PAYMENT_METHODS),
            "reference": f"RF-{self.rng.randrange(10**6, 10**7)}",
            "refund_account": None,
            "product_id": None,
            "description": "Refund of overpayment",
            "deleted": False,
            "updated_at": _ts(day, self.rng),
        }
        row.update(fields)
        self.rows["refunds"].append(row)
        return rid


def _build_customers(b: _Builder, n: int) -> list[str]:
    """Special customers first (each rule the transform must handle), then ordinary ones."""
    ids = [
        b.customer(display_name="John Smith", company_name=None, given_name="John", family_name="Smith",
                   email="john.smith@example.com"),
        b.customer(display_name="John Smith", company_name=None, given_name="John", family_name="Smith",
                   email="jsmith@another.example.org"),
        b.customer(display_name="Zoë Ångström-Müller", given_name="Zoë", family_name="Ångström-Müller",
                   company_name=None, email="zoe@example.de"),
        b.customer(display_name="株式会社 山田商事", company_name="株式会社 山田商事", email="info@yamada.example.jp"),
        b.customer(display_name="The Extraordinarily Long-Named International Consolidated Holding Company "
                   "of Web Hosting, Domain Registration and Managed Services, Incorporated",
                   company_name="The Extraordinarily Long-Named International Consolidated Holding Company "
                   "of Web Hosting, Domain Registration and Managed Services, Incorporated"),
        b.customer(display_name="Smith: Legal Services", company_name="Smith: Legal Services"),
        b.customer(display_name="Dormant Client LLC", company_name="Dormant Client LLC", active=False),
    ]
    law_firm = b.customer(display_name="Haddad & Partners Law", company_name="Haddad & Partners Law")
    ids.append(law_firm)
    matter = b.customer(display_name="Matter 2024-017 Estate of Brown", company_name=None, parent_id=law_firm)
    ids.append(matter)
    ids.append(b.customer(display_name="Matter 2024-017 Probate filing", company_name=None, parent_id=matter))
    ids.append(b.customer(display_name="Matter 2025-003 Lease dispute", company_name=None, parent_id=law_firm))
    # deliberately invalid: a currency that is no ISO code (its bad e-mail alone is only dropped and reported)
    ids.append(b.customer(email="not-an-email", currency="usd"))
    while len(ids) < n:
        ids.append(b.customer())
    return ids


def _build_products(b: _Builder, n: int) -> list[dict[str, Any]]:
    for name, kind, price in _PRODUCTS:
        b.product(name, kind, price)
    b.product("Web Hosting Basic", "service", 12.99, sku="SKU-LEGACY-HOSTING",
              description="Legacy plan: same name as the current Basic plan")
    b.product("", "service", 5.00, sku="SKU-BLANK", description="Product with a blank name")
    b.product("Discontinued Add-on", "service", 3.00, active=False)
    i = 0
    while len(b.rows["products"]) < n:
        i += 1
        name, kind, price = _PRODUCTS[i % len(_PRODUCTS)]
        b.product(f"{name} Tier {i}", kind, round(price * (1 + i / 10), 2))
    return b.rows["products"]


def _build_invoices(b: _Builder, customers: list[str], products: list[dict[str, Any]], n: int) -> None:
    """Invoices in every status, with payments, credits and refunds that fit their totals."""
    rng = b.rng
    good_customers = [c for c in customers if c != customers[11]]  # not the bad-email one
    sellable = [p for p in products if p["active"] and p["name"]]
    long_text = ("Managed hosting service level description. " * 100).strip()  # > 4000 characters

    # special invoices
    b.invoice(customers[0], sellable, number="INV-2025-ACME-WEBHOSTING-RENEWAL-000001")  # > 21 chars
    b.invoice(customers[2], sellable, lines=[
        {"product_id": sellable[1]["id"], "description": long_text, "quantity": 1.0, "unit_price": 29.99,
         "tax_code": "TAX"},
        {"product_id": sellable[0]["id"], "description": "Discounted month", "quantity": 3.0, "unit_price": 9.99,
         "discount": 5.0, "tax_code": "STATE"},
        {"product_id": sellable[2]["id"], "description": "Domain", "quantity": 1.0, "unit_price": 14.5,
         "tax_code": "CITY"},
        {"name": "Rush fee", "description": "Free-text line", "quantity": 1.0, "unit_price": 40.0, "tax_code": "NON"},
    ])
    blank = next(p for p in products if p["name"] == "")
    b.invoice(customers[3], sellable, lines=[
        {"product_id": blank["id"], "description": "Line on the blank-named product", "quantity": 2.0,
         "unit_price": 5.0, "tax_code": "NON"}])
    for sub in customers[8:11]:
        b.invoice(sub, sellable, memo="Billed to a matter (sub-customer)")

    statuses = ("draft",) * 5 + ("void",) * 3 + ("paid",) * 50 + ("closed",) * 2 + ("partial",) * 10 + \
        ("over",) * 3 + ("sent",) * 27
    spread_pool: dict[str, list[str]] = defaultdict(list)
    while len(b.rows["invoices"]) < n:
        customer = rng.choice(good_customers)
        kind = rng.choice(statuses)
        status = {"partial": "sent", "over": "paid"}.get(kind, kind)
        iid = b.invoice(customer, sellable, status=status)
        total = b.invoice_totals[iid]
        if kind in ("paid", "closed"):
            if rng.random() < 0.15:
                spread_pool[customer].append(iid)
                if len(spread_pool[customer]) >= rng.randint(2, 3):
                    group = spread_pool.pop(customer)
                    applied = {i: b.invoice_totals[i] for i in group}
                    b.payment(customer, round(sum(applied.values()), 2), applied, memo="One payment, several invoices")
            else:
                b.payment(customer, total, {iid: total})
        elif kind == "partial":
            part = round(total * rng.choice((0.25, 0.5, 0.6)), 2)
            b.payment(customer, part, {iid: part}, memo="Partial payment")
        elif kind == "over":
            over = round(total + rng.choice((10.0, 25.0, 50.0)), 2)
            pid = b.payment(customer, over, {iid: total}, memo="Overpayment: the rest stays as credit")
            if rng.random() < 0.5:
                b.refund(customer, pid, round(over - total, 2), b.rows["payments"][-1]["date"])
        elif kind == "sent" and rng.random() < 0.05:
            b.credit(customer, iid, rng.choice(("write_off", "bad_debt")), total)
        elif kind == "sent" and rng.random() < 0.05:
            b.credit(customer, iid, "credit", round(min(total, 20.0), 2))
    for customer, group in spread_pool.items():  # leftovers still get paid
        applied = {i: b.invoice_totals[i] for i in group}
        b.payment(customer, round(sum(applied.values()), 2), applied)
    # payments on account with no invoice yet, so payments reach ~75% of invoices as in real books
    target_payments = round(len(b.rows["invoices"]) * 0.75)
    while len(b.rows["payments"]) < target_payments:
        b.payment(rng.choice(good_customers), float(rng.choice((50, 100, 250))), {}, memo="Payment on account")
    # guarantee at least one of each credit / refund kind
    for kind in ("credit", "write_off", "bad_debt"):
        if not any(c["kind"] == kind for c in b.rows["credits"]):
            iid = next(i["id"] for i in b.rows["invoices"] if i["status"] == "sent")
            b.credit(b.invoice_customer[iid], iid, kind, min(b.invoice_totals[iid], 15.0))
    if not b.rows["refunds"]:
        payment = next(p for p in b.rows["payments"] if p["amount"])
        b.refund(payment["customer_id"], payment["id"], min(10.0, payment["amount"]), payment["date"])


def _add_invalid_rows(b: _Builder, customers: list[str], products: list[dict[str, Any]]) -> None:
    """A small share (~2%) of deliberately broken rows, one rule each, marked ``INVALID:``."""
    rng = b.rng
    sellable = [p for p in products if p["active"] and p["name"]]
    per_kind = max(1, round(len(b.rows["invoices"]) * 0.005))
    good = customers[12:] or customers
    for _ in range(per_kind):
        b.invoice(rng.choice(good), sellable, memo=f"{INVALID_PREFIX} negative quantity", lines=[
            {"product_id": sellable[0]["id"], "quantity": -2.0, "unit_price": sellable[0]["unit_price"],
             "tax_code": "NON"}])
        b.invoice("C99999", sellable, memo=f"{INVALID_PREFIX} unknown customer")
        b.invoice(rng.choice(good), sellable, memo=f"{INVALID_PREFIX} NaN amount", lines=[
            {"product_id": sellable[1]["id"], "quantity": 1.0, "unit_price": float("nan"), "amount": float("nan"),
             "tax_code": "NON"}])
        b.invoice(rng.choice(good), sellable, memo=f"{INVALID_PREFIX} date in the future",
                  issue_date=b.today + timedelta(days=rng.randint(30, 90)),
                  updated_at=_ts(b.today - timedelta(days=1), rng))
        b.invoice(rng.choice(good), sellable, memo=f"{INVALID_PREFIX} currency mismatch", currency="EUR")
        b.payment(rng.choice(good), float("nan"), {}, memo=f"{INVALID_PREFIX} NaN amount")
        b.customer(email=f"broken-email-{len(b.rows['customers'])}@")


def build_demo_rows(*, scale: float = DEFAULT_SCALE, seed: int = 42, today: date | None = None) -> dict[str, list[dict]]:
    """The demo rows per canonical table (pure: same arguments, same rows)."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    b = _Builder(random.Random(seed), today or date.today())
    customers = _build_customers(b, _scaled(FULL_SCALE["customers"], scale, 20))
    products = _build_products(b, _scaled(FULL_SCALE["products"], scale, 10))
    _build_invoices(b, customers, products, _scaled(FULL_SCALE["invoices"], scale, 40))
    _add_invalid_rows(b, customers, products)
    from qbo_pipeline.source.demo_bookkeeping import add_bookkeeping_rows  # it builds on this module's rows

    add_bookkeeping_rows(b, customers, products, seed)
    _add_templated_product(b)
    return {name: b.rows[name] for name in model.ENTITIES}


DOMAIN_TEMPLATE = "Domain renewal {description}"
TEMPLATED_LINES = 4


def _add_templated_product(b: _Builder) -> None:
    """A product named by a template (one QBO item per domain billed, docs/mapping.md): the first
    domain-registration lines of sent or paid invoices bill it, two of them the same domain.
    Built last and without the random generator, so every other demo row stays as it was."""
    stamp = datetime.combine(b.today - timedelta(days=2), datetime.min.time())
    template = b.product(DOMAIN_TEMPLATE, "non_inventory", 14.50, sku=None, updated_at=stamp,
                         description="Domain renewal (one item per domain)")
    domain = next((p["id"] for p in b.rows["products"] if p["name"] == "Domain Registration"), None)
    billed = {i["id"] for i in b.rows["invoices"] if i["status"] in ("sent", "paid") and not i.get("memo")}
    lines = [line for line in b.rows["invoice_lines"] if line["product_id"] == domain and line["invoice_id"] in billed]
    for n, line in enumerate(lines[:TEMPLATED_LINES]):
        line["product_id"] = template
        line["description"] = f"shop-{min(n, TEMPLATED_LINES - 2)}.example"  # the last two: the same domain


def _nan_to_none(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """NaN has no portable SQL form (SQLite stores NULL, MySQL refuses it): store NULL."""
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in rows]


class DemoTargetError(ValueError):
    """The demo would be written somewhere nobody asked for it (perhaps someone's real billing data)."""


class DemoTargetNotEmptyError(DemoTargetError):
    """``demo init`` was pointed at a database that already holds tables."""


def builtin_demo_url() -> str:
    """The built-in demo source (``source.url`` of defaults.yaml): the only place the demo is built unasked."""
    from qbo_pipeline.config import DEFAULTS_FILE, state_dir

    url = yaml.safe_load(DEFAULTS_FILE.read_text())["source"]["url"]
    return url.replace("${state_dir}", str(state_dir()))


def existing_tables(engine: sa.Engine) -> list[str]:
    """Tables already in the database (a SQLite file that does not exist is not created here)."""
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:" and not Path(database).exists():
        return []
    return sorted(sa.inspect(engine).get_table_names())


def has_tables(url: str) -> bool:
    """Whether the database at ``url`` already has tables (a missing SQLite file is not created)."""
    engine = sa.create_engine(url)
    try:
        return bool(existing_tables(engine))
    finally:
        engine.dispose()


def _write(engine: sa.Engine, rows: dict[str, list[dict]], *, force: bool = False) -> dict[str, int]:
    tables = existing_tables(engine)
    if tables and not force:
        shown = ", ".join(tables[:8]) + (", ..." if len(tables) > 8 else "")
        raise DemoTargetNotEmptyError(
            f"{engine.url.render_as_string(hide_password=True)} is not empty (tables: {shown}); the demo is built "
            "only into an empty database: pass another --url, or --force to drop and rebuild its canonical tables")
    with engine.begin() as conn:
        if force:
            model.metadata.drop_all(conn)  # only the canonical tables; other tables are left alone
        model.metadata.create_all(conn)
        for name, table_rows in rows.items():
            table = model.metadata.tables[name]
            for start in range(0, len(table_rows), 5000):
                conn.execute(table.insert(), _nan_to_none(table_rows[start:start + 5000]))
    return {name: len(table_rows) for name, table_rows in rows.items()}


def add_missing_tables(url: str) -> None:
    """Create the canonical tables a demo database built by an older version lacks (empty; no row changes)."""
    engine = sa.create_engine(url)
    try:
        model.metadata.create_all(engine)
    finally:
        engine.dispose()


def init_demo_db(url: str, *, scale: float = DEFAULT_SCALE, seed: int = 42, today: date | None = None,
                 force: bool = False) -> dict[str, int]:
    """Create the canonical tables at ``url`` and fill them with the demo rows.

    The database must be empty (``DemoTargetNotEmptyError`` otherwise): the demo never
    overwrites data by default. ``force`` drops and recreates the canonical tables only.
    Returns the row count per table. The same seed (and ``today``) gives the same rows.
    """
    engine = sa.create_engine(url)
    try:
        if existing_tables(engine) and not force:
            _write(engine, {}, force=False)  # raises, before the rows are built
        rows = build_demo_rows(scale=scale, seed=seed, today=today)
        counts = _write(engine, rows, force=force)
    finally:
        engine.dispose()
    log.info("demo database %s built: %s", engine.url.render_as_string(hide_password=True), counts)
    return counts


def _next_id(conn: sa.Connection, table: sa.Table, prefix: str, width: int) -> Any:
    """Generator of fresh sequential ids after the highest existing ``prefix<digits>`` id."""
    pattern = re.compile(rf"^{prefix}(\d+)$")
    highest = 0
    for (value,) in conn.execute(sa.select(table.c.id).where(table.c.id.like(f"{prefix}%"))):
        match = pattern.match(value)
        if match:
            highest = max(highest, int(match.group(1)))
    while True:
        highest += 1
        yield f"{prefix}{highest:0{width}d}"


def mutate_demo_db(url: str, *, seed: int, new: int = 10, edits: int = 10, now: datetime | None = None) -> dict:
    """Simulate a working day: ``new`` new invoices (with new customers and payments) and
    ``edits`` edits of existing customers, invoices and invoice lines, all stamped ``now``.

    Editing only an invoice line (not its invoice) is deliberate: extraction must find the
    invoice through its changed line. Returns the ids created and edited per table.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is not None:
        now = now.astimezone(UTC).replace(tzinfo=None)
    rng = random.Random(f"mutate-{seed}-{now.isoformat()}")
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).exists():
        raise RuntimeError(f"{url}: no such database file; run `qbo-pipeline demo init` first")
    engine = sa.create_engine(url)
    created: dict[str, list[str]] = defaultdict(list)
    edited: dict[str, list[str]] = defaultdict(list)
    c, p, inv, ln, pay, app = (model.metadata.tables[n] for n in (
        "customers", "products", "invoices", "invoice_lines", "payments", "payment_applications"))
    try:
        with engine.begin() as conn:
            if not sa.inspect(conn).has_table("invoices"):
                raise RuntimeError(f"{url}: no demo tables; run `qbo-pipeline demo init` first")
            customer_ids = sorted(r[0] for r in conn.execute(sa.select(c.c.id).where(c.c.active.is_(True))))
            products = [dict(r._mapping) for r in conn.execute(
                sa.select(p.c.id, p.c.unit_price, p.c.description).where(p.c.active.is_(True), p.c.name != ""))]
            products.sort(key=lambda r: r["id"])
            invoice_ids = sorted(r[0] for r in conn.execute(
                sa.select(inv.c.id).where(inv.c.status.in_(("sent", "paid", "closed")))))
            if not customer_ids or not products or not invoice_ids:
                raise RuntimeError(f"{url}: the demo database is empty; run `qbo-pipeline demo init` first")
            new_customer = _next_id(conn, c, "C", 5)
            new_invoice = _next_id(conn, inv, "I", 6)
            new_payment = _next_id(conn, pay, "PAY", 6)
            today = now.date()
            for k in range(new):
                if k % 3 == 0:
                    cid = next(new_customer)
                    conn.execute(c.insert(), [{
                        "id": cid, "display_name": f"New Client {cid}", "company_name": f"New Client {cid}",
                        "email": f"billing.{cid.lower()}@example.com", "active": True, "deleted": False,
                        "currency": "USD", "updated_at": now}])
                    customer_ids.append(cid)
                    created["customers"].append(cid)
                else:
                    cid = rng.choice(customer_ids)
                iid = next(new_invoice)
                total, lines = 0.0, []
                for line_no in range(1, rng.randint(1, 4) + 1):
                    product = rng.choice(products)
                    qty = float(rng.randint(1, 5))
                    price = float(product["unit_price"])
                    amount = round(qty * price, 2)
                    total += amount
                    lines.append({"id": f"{iid}-L{line_no}", "invoice_id": iid, "line_no": line_no,
                                  "product_id": product["id"], "description": product["description"],
                                  "quantity": qty, "unit_price": price, "amount": amount, "discount": 0.0,
                                  "tax_code": rng.choice(TAX_CODES), "updated_at": now})
                paid = rng.random() < 0.5
                conn.execute(inv.insert(), [{
                    "id": iid, "number": f"INV-{today.year}-{iid[1:]}", "customer_id": cid,
                    "status": "paid" if paid else "sent", "issue_date": today, "due_date": today + timedelta(days=30),
                    "currency": "USD", "memo": "Created by demo mutate", "deleted": False, "updated_at": now}])
                conn.execute(ln.insert(), lines)
                created["invoices"].append(iid)
                if paid:
                    pid = next(new_payment)
                    total = round(total, 2)
                    conn.execute(pay.insert(), [{
                        "id": pid, "customer_id": cid, "date": today, "amount": total, "currency": "USD",
                        "method": rng.choice(PAYMENT_METHODS), "reference": f"TX-{rng.randrange(10**8, 10**9)}",
                        "deleted": False, "updated_at": now}])
                    conn.execute(app.insert(), [{"id": f"{pid}-A1", "payment_id": pid, "invoice_id": iid,
                                                 "amount": total, "updated_at": now}])
                    created["payments"].append(pid)
            old_customers = [x for x in customer_ids if x not in created["customers"]]
            for k in range(edits):
                kind = k % 3
                if kind == 0:
                    cid = rng.choice(old_customers)
                    conn.execute(c.update().where(c.c.id == cid).values(
                        phone=f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}", updated_at=now))
                    edited["customers"].append(cid)
                elif kind == 1:
                    iid = rng.choice(invoice_ids)
                    conn.execute(inv.update().where(inv.c.id == iid).values(
                        memo=f"Edited {now:%Y-%m-%d %H:%M}", updated_at=now))
                    edited["invoices"].append(iid)
                else:
                    iid = rng.choice(invoice_ids)
                    line_id = conn.execute(sa.select(ln.c.id).where(ln.c.invoice_id == iid).order_by(ln.c.id)).scalar()
                    if line_id is None:
                        continue
                    conn.execute(ln.update().where(ln.c.id == line_id).values(
                        description=f"Corrected description ({now:%Y-%m-%d})", updated_at=now))
                    edited["invoice_lines"].append(line_id)
    finally:
        engine.dispose()
    result = {"now": now, "created": dict(created), "edited": {k: sorted(set(v)) for k, v in edited.items()}}
    log.info("demo mutate at %s: created %s, edited %s", now,
             {k: len(v) for k, v in created.items()}, {k: len(v) for k, v in result["edited"].items()})
    return result
