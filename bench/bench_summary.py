"""Summary mode: 10,000 web-shop orders as one SalesReceipt per order vs one summary per day.

The same 10,000 orders (30 days, 1-3 lines, some tips) are built into payloads by the real
builder in both modes and exported into a fresh local sandbox (limits off: this measures the
writes each mode needs, not the limiter). Reported: documents and write requests per 10,000
orders, the QBO total of both exports (equal to the source to the cent), and what the write
count means at QBO's real ceiling (about 1,660 records per minute in batches of 30).
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
from cryptography.fernet import Fernet

from bench.results import Result
from qbo_pipeline.config import CompanyConfig, load_config
from qbo_pipeline.export.engine import ExportEngine
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.local import local_sandbox
from qbo_pipeline.qbo.auth import TokenVault, connect_headless
from qbo_pipeline.qbo.client import QboClient
from qbo_pipeline.qbo.limits import Limits, RateLimiter
from qbo_pipeline.transform.sales_receipts import build_sales_receipts

ORDERS = 10_000
DAYS = 30
CEILING = Limits().writes_per_minute_ceiling
log = logging.getLogger("bench.summary")


def orders(n: int = ORDERS, days: int = DAYS, seed: int = 14) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Canonical sales_receipts and lines frames, and their total in cents."""
    rng = random.Random(seed)
    start = date(2026, 3, 1)
    heads, lines, total = [], [], 0
    for i in range(n):
        rid = f"SR{i:06d}"
        tip = rng.choice((None, None, None, 1.0, 2.5))
        heads.append({"id": rid, "number": f"WEB-{i}", "customer_id": None,
                      "date": pd.Timestamp(start + timedelta(days=i % days)), "currency": "USD",
                      "exchange_rate": float("nan"), "method": "Visa", "reference": None, "deposit_account": None,
                      "tip": tip if tip is not None else float("nan"), "class_name": None,
                      "department_name": None, "memo": None, "deleted": False,
                      "updated_at": pd.Timestamp("2026-04-01")})
        total += round((tip or 0) * 100)
        for n_line in range(1, rng.randint(1, 3) + 1):
            price = round(rng.uniform(3, 80), 2)
            qty = float(rng.randint(1, 4))
            amount = round(qty * price, 2)
            total += round(amount * 100)
            lines.append({"id": f"{rid}-{n_line}", "receipt_id": rid, "line_no": n_line, "product_id": None,
                          "name": rng.choice(("Mug", "Poster", "Shirt", "Sticker")), "description": None,
                          "quantity": qty, "unit_price": price, "amount": amount, "tax_code": "NON",
                          "class_name": None, "updated_at": pd.Timestamp("2026-04-01")})
    return pd.DataFrame(heads), pd.DataFrame(lines), total


def export(workdir: Path, name: str, payloads: list) -> dict:
    unlimited = Limits(per_minute=10**9, per_second=10**9, batches_per_minute=10**9)
    with local_sandbox(workdir / f"{name}.sqlite3", extra_args=("--no-limits",)) as url:
        ledger = Ledger(f"sqlite:///{workdir}/{name}_ledger.db")
        vault = TokenVault(ledger, Fernet.generate_key(), lock_dir=workdir / "locks")
        company = CompanyConfig(key="demo", environment="local", base_url=url)
        realm = connect_headless(vault, company)
        client = QboClient(url, realm, vault.token_source(company), limiter=RateLimiter(unlimited))
        started = time.monotonic()
        report = ExportEngine(client, ledger, load_config(), "demo").export(payloads)
        seconds = time.monotonic() - started
        in_qbo = client.query_all("SalesReceipt")
        client.close()
        ledger.dispose()
    return {"documents": len(in_qbo), "write_requests": report.write_requests, "seconds": seconds,
            "cents": sum(int(Decimal(str(r["TotalAmt"])) * 100) for r in in_qbo),
            "failed": report.counts.get("failed", 0) + report.counts.get("blocked", 0)}


def run() -> list[Result]:
    heads, lines, total = orders()
    per_order_config = load_config(overrides={"options": {"sync_start_date": "2020-01-01"}})
    summary_config = load_config(overrides={"options": {"sync_start_date": "2020-01-01",
                                                        "summarize": {"sales_receipts": "daily"}}})
    per_order = build_sales_receipts(heads, lines, per_order_config).payloads
    summary = build_sales_receipts(heads, lines, summary_config).payloads
    with tempfile.TemporaryDirectory(prefix="bench-summary-") as tmp:
        workdir = Path(tmp)
        one = export(workdir, "per_order", per_order)
        daily = export(workdir, "daily", summary)
    rows = []
    for label, result in (("one SalesReceipt per order", one), ("one summary SalesReceipt per day", daily)):
        rows.append(Result(f"{label}: documents per {ORDERS:,} orders", result["documents"], "documents",
                           note=f"{DAYS} days; exported in {result['seconds']:.1f} s into a sandbox with limits off "
                                f"(shared 2-core machine); failed/blocked {result['failed']}"))
        rows.append(Result(f"{label}: write requests per {ORDERS:,} orders", result["write_requests"], "requests",
                           note=f"batches of 30; at QBO's ~{CEILING} records/min ceiling that is about "
                                f"{result['documents'] / CEILING:.2f} QBO minutes of writes"))
        rows.append(Result(f"{label}: QBO total equals the orders' total", int(result["cents"] == total), "bool",
                           target="1", passed=result["cents"] == total,
                           note=f"QBO {result['cents'] / 100:.2f}, source {total / 100:.2f}"))
    rows.append(Result("write requests saved by daily summaries", round(one["write_requests"] /
                       max(1, daily["write_requests"]), 1), "x"))
    return rows
