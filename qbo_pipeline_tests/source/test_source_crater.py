"""The Crater example mapping against tables shaped as Crater's migrations create them."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from qbo_pipeline.config import load_config
from qbo_pipeline.export.ownership import payload_total
from qbo_pipeline.schemas import validate
from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline.transform import build_payloads

TABLES = [
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT, company_name TEXT, "
    "website TEXT, currency_id INTEGER, created_at TIMESTAMP, updated_at TIMESTAMP)",
    "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, description TEXT, price BIGINT, unit_id INTEGER, "
    "created_at TIMESTAMP, updated_at TIMESTAMP)",
    "CREATE TABLE invoices (id INTEGER PRIMARY KEY, invoice_date DATE, due_date DATE, invoice_number TEXT, "
    "reference_number TEXT, status TEXT, paid_status TEXT, tax_per_item TEXT, discount_per_item TEXT, notes TEXT, "
    "discount_type TEXT, discount NUMERIC, discount_val BIGINT, sub_total BIGINT, total BIGINT, tax BIGINT, "
    "due_amount BIGINT, customer_id INTEGER, created_at TIMESTAMP, updated_at TIMESTAMP)",
    "CREATE TABLE invoice_items (id INTEGER PRIMARY KEY, name TEXT, description TEXT, discount_type TEXT, "
    "quantity NUMERIC, price BIGINT, discount_val BIGINT, discount NUMERIC, tax BIGINT, total BIGINT, "
    "invoice_id INTEGER, item_id INTEGER, created_at TIMESTAMP, updated_at TIMESTAMP)",
    "CREATE TABLE payment_methods (id INTEGER PRIMARY KEY, name TEXT)",
    "CREATE TABLE payments (id INTEGER PRIMARY KEY, payment_number TEXT, payment_date DATE, notes TEXT, "
    "amount BIGINT, invoice_id INTEGER, customer_id INTEGER, payment_method_id INTEGER, created_at TIMESTAMP, "
    "updated_at TIMESTAMP)",
]
STAMP = "'2026-11-30 10:00:00'"
ROWS = [
    f"INSERT INTO customers VALUES (1, 'Acme', 'ap@acme.test', NULL, 'Acme Ltd', NULL, NULL, {STAMP}, {STAMP})",
    f"INSERT INTO items VALUES (5, 'Design', NULL, 1999, NULL, {STAMP}, {STAMP})",
    # per-item tax: 0.5 h x 19.99 = 10.00 (Crater rounds half-up), tax 19% on it = 1.90; 2 x 5.00 taxed 1.90
    f"INSERT INTO invoices VALUES (1, '2026-03-02', '2026-03-16', 'INV-000001', NULL, 'SENT', 'UNPAID', 'YES', "
    f"'NO', 'Thanks', 'fixed', 2, 200, 2000, 2180, 380, 2180, 1, {STAMP}, {STAMP})",
    f"INSERT INTO invoice_items VALUES (1, 'Design', NULL, 'fixed', 0.5, 1999, 0, 0, 190, 1190, 1, 5, {STAMP}, "
    f"{STAMP})",
    f"INSERT INTO invoice_items VALUES (2, 'Hosting', NULL, 'fixed', 2, 500, 0, 0, 190, 1190, 1, NULL, {STAMP}, "
    f"{STAMP})",
    # invoice-level tax, fully paid
    f"INSERT INTO invoices VALUES (2, '2026-03-05', NULL, 'INV-000002', NULL, 'COMPLETED', 'PAID', 'NO', 'NO', "
    f"NULL, 'fixed', 0, 0, 10000, 10825, 825, 0, 1, {STAMP}, {STAMP})",
    f"INSERT INTO invoice_items VALUES (3, 'Retainer', NULL, 'fixed', 1, 10000, 0, 0, 0, 10000, 2, NULL, {STAMP}, "
    f"{STAMP})",
    "INSERT INTO payment_methods VALUES (1, 'Bank Transfer')",
    f"INSERT INTO payments VALUES (1, 'PAY-000001', '2026-03-20', NULL, 10825, 2, 1, 1, {STAMP}, {STAMP})",
]


def test_crater_schema_reads_validates_and_keeps_its_totals(tmp_path):
    url = f"sqlite:///{tmp_path}/crater.db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in TABLES + ROWS:
            conn.exec_driver_sql(statement)
    engine.dispose()
    config = load_config()
    with SourceReader(url, "example:crater") as reader:
        frames = {t: reader.read(t) for t in ("customers", "products", "invoices", "invoice_lines", "payments",
                                              "payment_applications")}
    known = {e: set(frames[e]["id"]) for e in ("customers", "products", "invoices")}
    invoices = validate("invoices", {"invoices": frames["invoices"], "invoice_lines": frames["invoice_lines"]},
                        known_ids=known, config=config)
    payments = validate("payments", {"payments": frames["payments"],
                                     "payment_applications": frames["payment_applications"]}, known_ids=known)
    assert invoices.quarantine.empty and payments.quarantine.empty
    built = build_payloads("invoices", invoices.valid, config).payloads
    totals = {p.body["DocNumber"]: payload_total(p.body) for p in built}
    assert totals == {"INV-000001": Decimal("21.80"), "INV-000002": Decimal("108.25")}  # Crater's `total` / 100
    first = built[0].body
    assert first["TxnTaxDetail"] == {"TotalTax": 3.8} and "Qty" not in first["Line"][0]["SalesItemLineDetail"]
    paid = build_payloads("payments", payments.valid, config).payloads
    assert [p.body["TotalAmt"] for p in paid] == [108.25]
