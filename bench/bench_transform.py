"""Validate and transform 100k invoices with 1M lines: target <= 30 s and <= 2 GiB peak.

The frames are generated in memory (a fast synthetic generator, not the demo database),
with a sprinkle of dirty rows, drafts and old invoices so the quarantine and skip paths
run too. The measurement runs in a fresh process so its peak RSS (``ru_maxrss``) is the
peak of this workload alone: generated frames + validation + payloads.
"""

from __future__ import annotations

import multiprocessing
import resource
import time

import numpy as np
import pandas as pd

from bench.results import Result

INVOICES = 100_000
LINES_PER_INVOICE = 10
CUSTOMERS = 5_000
PRODUCTS = 500
TIME_TARGET_S = 30.0
MEMORY_TARGET_GIB = 2.0


def generate(invoices: int = INVOICES, lines_per_invoice: int = LINES_PER_INVOICE, seed: int = 7) -> dict:
    """Canonical invoices and lines frames (about 0.1% dirty lines, 2% drafts, 5% before the start date)."""
    rng = np.random.default_rng(seed)
    n_lines = invoices * lines_per_invoice
    invoice_ids = np.array([f"INV{i:07d}" for i in range(invoices)], dtype=object)
    now = pd.Timestamp("2024-06-30 12:00:00")
    issue = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(-20, 180, invoices), unit="D")
    status = rng.choice(np.array(["sent", "paid", "closed", "draft", "void"], dtype=object), invoices,
                        p=[0.45, 0.45, 0.03, 0.02, 0.05])
    invoice_frame = pd.DataFrame({
        "id": invoice_ids,
        "number": np.array([f"2024-{i:08d}" for i in range(invoices)], dtype=object),
        "customer_id": np.array([f"C{i}" for i in rng.integers(0, CUSTOMERS, invoices)], dtype=object),
        "status": status,
        "issue_date": issue,
        "due_date": issue + pd.Timedelta(days=30),
        "currency": "USD",
        "memo": None,
        "deleted": rng.random(invoices) < 0.005,
        "updated_at": now,
    })
    quantity = rng.integers(1, 10, n_lines).astype("float64")
    unit_price = np.round(rng.random(n_lines) * 200, 2)
    amount = np.round(quantity * unit_price, 2)
    dirty = rng.random(n_lines) < 0.001
    quantity[dirty] = -quantity[dirty]
    has_product = rng.random(n_lines) < 0.8
    product = np.where(has_product, np.array([f"P{i}" for i in range(PRODUCTS)], dtype=object)[
        rng.integers(0, PRODUCTS, n_lines)], None)
    lines_frame = pd.DataFrame({
        "id": np.array([f"L{i:08d}" for i in range(n_lines)], dtype=object),
        "invoice_id": np.repeat(invoice_ids, lines_per_invoice),
        "line_no": np.tile(np.arange(1, lines_per_invoice + 1), invoices),
        "product_id": product,
        "name": np.where(has_product, None, "Consulting"),
        "description": np.where(rng.random(n_lines) < 0.5, "Monthly service", None),
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": amount,
        "discount": np.where(rng.random(n_lines) < 0.1, np.round(amount * 0.1, 2), 0.0),
        "tax_code": np.where(rng.random(n_lines) < 0.5, "TAX", None),
        "updated_at": now,
    })
    return {"invoices": invoice_frame, "invoice_lines": lines_frame}


def _measure(queue: multiprocessing.Queue) -> None:
    from qbo_pipeline.config import load_config
    from qbo_pipeline.schemas import validate
    from qbo_pipeline.transform import build_payloads

    config = load_config()
    frames = generate()
    known = {"customers": {f"C{i}" for i in range(CUSTOMERS)}, "products": {f"P{i}" for i in range(PRODUCTS)}}
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = validate("invoices", frames, known_ids=known, config=config)
    validated = time.perf_counter()
    built = build_payloads("invoices", result.valid, config)
    finished = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lines = sum(len(p.body["Line"]) for p in built.payloads)
    queue.put({
        "validate_s": validated - started,
        "transform_s": finished - validated,
        "total_s": finished - started,
        "peak_gib": peak / 2**20,
        "baseline_gib": baseline / 2**20,
        "payloads": len(built.payloads),
        "payload_lines": lines,
        "skipped": len(built.skipped),
        "quarantined": len({*result.quarantine.loc[result.quarantine["entity"] == "invoices", "source_id"]}),
    })


def run() -> list[Result]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(queue,))
    process.start()
    figures = queue.get()
    process.join()
    size = f"{INVOICES:,} invoices / {INVOICES * LINES_PER_INVOICE:,} lines"
    outcome = (f"{figures['payloads']:,} payloads ({figures['payload_lines']:,} lines), "
               f"{figures['skipped']:,} skipped, {figures['quarantined']:,} quarantined")
    return [
        Result("validate invoices", round(figures["validate_s"], 2), "s", note=size),
        Result("transform invoices", round(figures["transform_s"], 2), "s", note=outcome),
        Result("validate + transform", round(figures["total_s"], 2), "s", f"<= {TIME_TARGET_S:g} s",
               figures["total_s"] <= TIME_TARGET_S, size),
        Result("peak RSS", round(figures["peak_gib"], 2), "GiB", f"<= {MEMORY_TARGET_GIB:g} GiB",
               figures["peak_gib"] <= MEMORY_TARGET_GIB,
               f"whole process, incl. {figures['baseline_gib']:.2f} GiB for the generated input frames"),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
