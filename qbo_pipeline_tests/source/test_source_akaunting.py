"""The Akaunting example mapping against tables shaped as Akaunting's migrations create them."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from qbo_pipeline.config import load_config
from qbo_pipeline.export.ownership import payload_total
from qbo_pipeline.schemas import validate
from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline.transform import build_payloads

S = "'2026-11-30 10:00:00'"
STATEMENTS = [
    "CREATE TABLE contacts (id INTEGER PRIMARY KEY, company_id INTEGER, type TEXT, name TEXT, email TEXT, "
    "phone TEXT, currency_code TEXT, enabled BOOLEAN, created_at TIMESTAMP, updated_at TIMESTAMP, "
    "deleted_at TIMESTAMP)",
    "CREATE TABLE items (id INTEGER PRIMARY KEY, company_id INTEGER, name TEXT, sku TEXT, description TEXT, "
    "sale_price NUMERIC(15, 4), purchase_price NUMERIC(15, 4), enabled BOOLEAN, created_at TIMESTAMP, "
    "updated_at TIMESTAMP, deleted_at TIMESTAMP)",
    "CREATE TABLE documents (id INTEGER PRIMARY KEY, company_id INTEGER, type TEXT, document_number TEXT, "
    "status TEXT, issued_at TIMESTAMP, due_at TIMESTAMP, amount NUMERIC(15, 4), currency_code TEXT, "
    "contact_id INTEGER, notes TEXT, created_at TIMESTAMP, updated_at TIMESTAMP, deleted_at TIMESTAMP)",
    "CREATE TABLE document_items (id INTEGER PRIMARY KEY, company_id INTEGER, type TEXT, document_id INTEGER, "
    "item_id INTEGER, name TEXT, description TEXT, quantity NUMERIC(7, 2), price NUMERIC(15, 4), "
    "tax NUMERIC(15, 4), discount_type TEXT, discount_rate NUMERIC(15, 4), total NUMERIC(15, 4), "
    "created_at TIMESTAMP, updated_at TIMESTAMP, deleted_at TIMESTAMP)",
    "CREATE TABLE document_totals (id INTEGER PRIMARY KEY, company_id INTEGER, type TEXT, document_id INTEGER, "
    "code TEXT, name TEXT, amount NUMERIC(15, 4), sort_order INTEGER, created_at TIMESTAMP, updated_at TIMESTAMP)",
    "CREATE TABLE transactions (id INTEGER PRIMARY KEY, company_id INTEGER, type TEXT, account_id INTEGER, "
    "paid_at TIMESTAMP, amount NUMERIC(15, 4), currency_code TEXT, currency_rate NUMERIC(15, 8), "
    "document_id INTEGER, contact_id INTEGER, description TEXT, payment_method TEXT, reference TEXT, "
    "created_at TIMESTAMP, updated_at TIMESTAMP, deleted_at TIMESTAMP)",
    f"INSERT INTO contacts VALUES (1, 1, 'customer', 'Acme', 'ap@acme.test', NULL, 'USD', 1, {S}, {S}, NULL)",
    f"INSERT INTO contacts VALUES (2, 1, 'vendor', 'Supplier', NULL, NULL, 'USD', 1, {S}, {S}, NULL)",
    f"INSERT INTO items VALUES (3, 1, 'Design', 'D-1', NULL, 19.99, 0, 1, {S}, {S}, NULL)",
    # 0.5 x 19.99 (10.00 as billed) + 2 x 5.00 with 10% line discount; tax 1.90 + 1.71; invoice discount 1.00
    f"INSERT INTO documents VALUES (1, 1, 'invoice', 'INV-00001', 'partial', '2026-03-02 00:00:00', "
    f"'2026-03-16 00:00:00', 21.61, 'USD', 1, 'Thanks', {S}, {S}, NULL)",
    f"INSERT INTO document_items VALUES (1, 1, 'invoice', 1, 3, 'Design', NULL, 0.5, 19.99, 1.90, 'normal', 0, "
    f"10.00, {S}, {S}, NULL)",
    f"INSERT INTO document_items VALUES (2, 1, 'invoice', 1, NULL, 'Hosting', NULL, 2, 5.00, 1.71, 'normal', 10, "
    f"9.00, {S}, {S}, NULL)",
    f"INSERT INTO document_totals VALUES (1, 1, 'invoice', 1, 'discount', 'Discount', 1.00, 2, {S}, {S})",
    f"INSERT INTO document_totals VALUES (2, 1, 'invoice', 1, 'total', 'Total', 21.61, 9, {S}, {S})",
    f"INSERT INTO documents VALUES (2, 1, 'bill', 'BILL-1', 'received', '2026-03-02 00:00:00', NULL, 50, 'USD', "
    f"2, NULL, {S}, {S}, NULL)",
    f"INSERT INTO transactions VALUES (1, 1, 'income', 1, '2026-03-20 09:30:00', 10.00, 'USD', 1, 1, 1, NULL, "
    f"'offline-payments.bank_transfer.2', NULL, {S}, {S}, NULL)",
    f"INSERT INTO transactions VALUES (2, 1, 'expense', 1, '2026-03-21 09:30:00', 50, 'USD', 1, 2, 2, NULL, "
    f"'offline-payments.cash.1', NULL, {S}, {S}, NULL)",
]


def test_akaunting_schema_reads_validates_and_keeps_its_totals(tmp_path):
    url = f"sqlite:///{tmp_path}/akaunting.db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in STATEMENTS:
            conn.exec_driver_sql(statement)
    engine.dispose()
    config = load_config()
    with SourceReader(url, "example:akaunting") as reader:
        frames = {t: reader.read(t) for t in ("customers", "products", "invoices", "invoice_lines", "payments",
                                              "payment_applications")}
    assert list(frames["customers"]["id"]) == ["1"] and list(frames["invoices"]["id"]) == ["1"]  # no vendors, bills
    known = {e: set(frames[e]["id"]) for e in ("customers", "products", "invoices")}
    invoices = validate("invoices", {"invoices": frames["invoices"], "invoice_lines": frames["invoice_lines"]},
                        known_ids=known, config=config)
    payments = validate("payments", {"payments": frames["payments"],
                                     "payment_applications": frames["payment_applications"]}, known_ids=known)
    assert invoices.quarantine.empty and payments.quarantine.empty
    (invoice,) = build_payloads("invoices", invoices.valid, config).payloads
    assert payload_total(invoice.body) == Decimal("21.61")  # document_totals 'total'
    assert invoice.body["TxnTaxDetail"] == {"TotalTax": 3.61}
    (payment,) = build_payloads("payments", payments.valid, config).payloads
    assert payment.body["TotalAmt"] == 10.0 and payment.body["TxnDate"] == "2026-03-20"
