"""Extraction memory and speed: streaming 1,000,000 invoice lines from SQLite.

The claim under test: ``SourceReader.iter_chunks`` keeps memory bounded by the chunk size,
whatever the table size. A 1M-line canonical database is built in a temporary folder;
each measurement runs in a fresh subprocess so its peak RSS (``ru_maxrss``) is its own,
and the figure reported is the growth over the process's baseline after imports.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.results import Result
from qbo_pipeline.source import model

LINES = 1_000_000
LINES_PER_INVOICE = 3
CHUNKSIZE = 50_000
STREAM_TARGET_MIB = 250  # bounded: a few chunks' worth, far below the full-frame figure
CHANGED_SHARE = 0.01

_MEASURE = r"""
import json, resource, sys, time
from datetime import datetime
from qbo_pipeline.source.extract import SourceReader
url, mode, chunksize, since = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
reader = SourceReader(url)
reader.count("invoices")  # connect and check the mapping before the baseline
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
rows = 0
if mode == "stream":
    for chunk in reader.iter_chunks("invoice_lines", chunksize=chunksize):
        rows += len(chunk)
elif mode == "full":
    rows = len(reader.read("invoice_lines", chunksize=chunksize))
else:
    rows = len(reader.read("invoice_lines", since=datetime.fromisoformat(since)))
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rows": rows, "seconds": elapsed, "growth_mib": (peak - base) / 1024}))
"""


def build_lines_db(path: Path, lines: int = LINES) -> tuple[str, datetime]:
    """A canonical database with ``lines`` invoice lines; returns its URL and the change cut-off."""
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    model.metadata.create_all(engine)
    engine.dispose()
    base = datetime(2026, 1, 1, 8, 0)
    invoices = lines // LINES_PER_INVOICE
    changed_from = invoices - int(invoices * CHANGED_SHARE)
    cutoff = base + timedelta(days=400)
    conn = sqlite3.connect(path)
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    with conn:
        conn.executemany(
            "INSERT INTO invoices (id, number, customer_id, status, issue_date, due_date, currency, deleted, updated_at)"
            " VALUES (?, ?, ?, 'sent', ?, ?, 'USD', 0, ?)",
            (
                (f"I{n:08d}", f"INV-{n}", f"C{n % 2000:05d}", (base + timedelta(days=n % 365)).strftime("%Y-%m-%d"),
                 (base + timedelta(days=n % 365 + 30)).strftime("%Y-%m-%d"),
                 ((cutoff + timedelta(hours=1)) if n >= changed_from else base + timedelta(days=n % 365)).strftime(fmt))
                for n in range(invoices)
            ),
        )
        conn.executemany(
            "INSERT INTO invoice_lines (id, invoice_id, line_no, product_id, description, quantity, unit_price,"
            " amount, discount, tax_code, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 'TAX', ?)",
            (
                (f"L{i:09d}", f"I{i // LINES_PER_INVOICE:08d}", i % LINES_PER_INVOICE + 1, f"P{i % 300:04d}",
                 "Managed hosting, monthly", float(i % 7 + 1), 9.99, round((i % 7 + 1) * 9.99, 2),
                 (base + timedelta(days=(i // LINES_PER_INVOICE) % 365)).strftime(fmt))
                for i in range(lines)
            ),
        )
    conn.close()
    return url, cutoff


def _measure(url: str, mode: str, since: datetime, chunksize: int = CHUNKSIZE) -> dict:
    root = Path(__file__).resolve().parent.parent
    output = subprocess.run(
        [sys.executable, "-c", _MEASURE, url, mode, str(chunksize), since.isoformat()],
        check=True, capture_output=True, text=True, cwd=root,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run() -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="qbo-bench-extract-") as folder:
        path = Path(folder) / "lines.db"
        start = time.perf_counter()
        url, cutoff = build_lines_db(path)
        built = time.perf_counter() - start
        stream = _measure(url, "stream", cutoff)
        small_chunks = _measure(url, "stream", cutoff, chunksize=CHUNKSIZE // 5)
        full = _measure(url, "full", cutoff)
        incremental = _measure(url, "since", cutoff)
        size_mib = path.stat().st_size / 2**20
    assert stream["rows"] == full["rows"] == LINES, (stream, full)
    return [
        Result("build 1M-line SQLite database", round(built, 1), "s", note=f"{size_mib:.0f} MiB file"),
        Result("stream 1M invoice lines: time", round(stream["seconds"], 1), "s",
               note=f"iter_chunks, chunksize {CHUNKSIZE:,}"),
        Result("stream 1M invoice lines: rate", round(LINES / stream["seconds"]), "rows/s"),
        Result("stream 1M invoice lines: peak RSS growth", round(stream["growth_mib"], 1), "MiB",
               target=f"bounded, < {STREAM_TARGET_MIB} MiB", passed=stream["growth_mib"] < STREAM_TARGET_MIB),
        Result(f"stream 1M invoice lines, chunksize {CHUNKSIZE // 5:,}: peak RSS growth",
               round(small_chunks["growth_mib"], 1), "MiB", note="memory follows the chunk size, not the table size"),
        Result("read 1M invoice lines as one frame: peak RSS growth", round(full["growth_mib"], 1), "MiB",
               note="for contrast: read() holds every row"),
        Result("incremental read (1% of invoices changed): time", round(incremental["seconds"], 2), "s",
               note=f"{incremental['rows']:,} lines of the changed invoices, since=watermark"),
    ]
