"""A small multi-year billing history in SQLite and a company session against a test sandbox.

The history has a dormant customer (inactive in the source) whose invoices span three
years, active customers with invoices in each year, and a payment on an old invoice:
the cases where splitting an export by date used to fail valid records.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qbo_pipeline.config import load_config
from qbo_pipeline.export.engine import ExportEngine
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.source.demo import _Builder, _write
from qbo_pipeline.stages import CompanySession
from qbo_pipeline_tests.export.export_helpers import connected_company

TODAY = date(2026, 6, 15)
YEARS = (2023, 2024, 2025)


@dataclass
class History:
    url: str
    dormant: str  # the inactive customer whose invoices span every year
    invoices: dict[str, date]  # invoice id -> issue date
    old_invoice: str  # an invoice of the first year with a payment
    payment: str  # the payment of ``old_invoice``
    payments: list[str]


def build_history(path: Path, *, quarantined_invoice: bool = False) -> History:
    """Write the history into a new SQLite database at ``path``."""
    b = _Builder(random.Random(7), TODAY)
    stamp = datetime(2026, 1, 1, 9)
    customers = [b.customer(updated_at=stamp) for _ in range(3)]
    dormant = b.customer(active=False, display_name="Dormant Ltd", company_name="Dormant Ltd", updated_at=stamp)
    product = {"id": b.product("Consulting", "service", 100.0, updated_at=stamp), "description": "Consulting",
               "unit_price": 100.0, "taxable": False}
    invoices: dict[str, date] = {}
    for year in YEARS:
        for index, customer in enumerate([*customers, dormant]):
            day = date(year, 3 + 3 * index, 10)
            line = {"product_id": product["id"], "quantity": 2.0, "unit_price": 100.0, "tax_code": "NON"}
            iid = b.invoice(customer, [product], issue_date=day, lines=[line],
                            updated_at=datetime.combine(day, datetime.min.time()) + timedelta(hours=9))
            invoices[iid] = day
    old_invoice = next(i for i, d in invoices.items() if d.year == YEARS[0])
    payment = b.payment(b.invoice_customer[old_invoice], 200.0, {old_invoice: 200.0}, day=date(YEARS[0], 5, 1))
    payments = [payment]
    for iid, day in invoices.items():  # the dormant customer paid everything (QBO keeps a name with a balance active)
        if b.invoice_customer[iid] == dormant:
            payments.append(b.payment(dormant, 200.0, {iid: 200.0}, day=day + timedelta(days=20)))
    if quarantined_invoice:
        bad = b.invoice(customers[0], [product], issue_date=date(2024, 1, 5),
                        lines=[{"product_id": product["id"], "quantity": 1.0, "unit_price": 50.0}],
                        due_date=date(2023, 12, 1), updated_at=stamp)
        b.payment(customers[0], 50.0, {bad: 50.0}, day=date(2024, 1, 20))
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    try:
        _write(engine, {name: b.rows[name] for name in b.rows}, force=False)
    finally:
        engine.dispose()
    return History(url, dormant, invoices, old_invoice, payment, payments)


def touch(url: str, table: str, row_id: str, **values: Any) -> None:
    """Change a source row the way a billing system does: new values and a new ``updated_at``."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            t = sa.Table(table, sa.MetaData(), autoload_with=conn)
            conn.execute(t.update().where(t.c.id == row_id).values(updated_at=datetime.now(), **values))
    finally:
        engine.dispose()


def session_for(sandbox: Any, tmp_path: Path, source_url: str) -> CompanySession:
    """A session of company ``demo`` against ``sandbox``, reading ``source_url``."""
    connected = connected_company(sandbox, tmp_path)
    config = load_config(overrides={
        "source": {"url": source_url},
        "ledger": {"url": connected.ledger.url},
        "companies": [{"key": "demo", "environment": "local", "base_url": sandbox.url}],
        "options": {"sync_start_date": "2020-01-01"},
    })
    ledger: Ledger = connected.ledger
    engine = ExportEngine(connected.client, ledger, config, "demo")
    return CompanySession(config, "demo", ledger, connected.vault, connected.client, engine)
