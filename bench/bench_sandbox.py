"""Sandbox throughput on loopback: it must never be the bottleneck (>= 300 simple requests/s on 2 cores).

The server runs as its own process (``python -m qbo_pipeline.sandbox serve``), as users run it;
client threads with keep-alive connections drive it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.results import Result

ROOT = Path(__file__).resolve().parent.parent
REALM = "9341453050298746"
CLIENT_THREADS = 4
SAMPLE_CUSTOMERS = 29  # the sample company's customers and jobs (qbo_pipeline/sandbox/sample.py)
REPORTS = ("ProfitAndLoss", "BalanceSheet", "AgedReceivables", "TransactionList")


def _start(tmp: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    ready = tmp / f"ready-{len(list(tmp.iterdir()))}"
    process = subprocess.Popen(
        [sys.executable, "-m", "qbo_pipeline.sandbox", "serve", "--port", "0", "--data", str(tmp / "bench.sqlite3"),
         "--auto-consent", "--ready-file", str(ready), "--log-level", "warning", *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("sandbox did not start")
        time.sleep(0.05)
    return process, ready.read_text().strip()


def _token(url: str) -> tuple[str, str]:
    """An access token through the OAuth flow, and the Id of a sample item to read."""
    sys.path.insert(0, str(ROOT))
    from qbo_pipeline_tests.fixtures_sandbox import sandbox_tokens

    token = sandbox_tokens(url)["access_token"]
    found = httpx.get(f"{url}/v3/company/{REALM}/query", params={"query": "select * from Item where Name = 'Design'"},
                      headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}).json()
    return token, found["QueryResponse"]["Item"][0]["Id"]


def _drive(url: str, token: str, seconds: float, call: Callable[[httpx.Client, int], int],
           threads: int = CLIENT_THREADS) -> dict[int, int]:
    """Run ``call`` in a loop on several threads for ``seconds``; returns status-code counts."""
    counts: dict[int, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(number: int) -> None:
        local: dict[int, int] = {}
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        with httpx.Client(base_url=f"{url}/v3/company/{REALM}", headers=headers, timeout=30) as client:
            i = 0
            while time.monotonic() < stop:
                status = call(client, number * 1_000_000 + i)
                local[status] = local.get(status, 0) + 1
                i += 1
        with lock:
            for status, n in local.items():
                counts[status] = counts.get(status, 0) + n

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return counts


def run() -> list[Result]:
    results: list[Result] = []
    seconds = float(os.environ.get("BENCH_SANDBOX_SECONDS", "8"))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        process, url = _start(tmp, "--no-limits")
        try:
            token, item = _token(url)
            read = _drive(url, token, seconds, lambda c, i: c.get(f"/item/{item}").status_code)
            results.append(Result("simple reads (GET item), no limits", round(read.get(200, 0) / seconds, 1),
                                  "requests/s", ">= 300", read.get(200, 0) / seconds >= 300,
                                  f"{CLIENT_THREADS} client threads, server in its own process; "
                                  f"non-200: {sum(v for k, v in read.items() if k != 200)}"))
            writes = _drive(url, token, seconds, lambda c, i: c.post(
                "/customer", json={"DisplayName": f"Bench {i}"}, params={"requestid": f"b{i}"}).status_code)
            results.append(Result("customer creates (with requestid), no limits",
                                  round(writes.get(200, 0) / seconds, 1), "requests/s", ">= 300",
                                  writes.get(200, 0) / seconds >= 300,
                                  f"each write committed to SQLite; non-200: "
                                  f"{sum(v for k, v in writes.items() if k != 200)}"))
            reports = _drive(url, token, seconds, lambda c, i: c.get(
                f"/reports/{REPORTS[i % len(REPORTS)]}").status_code)
            results.append(Result("reports (ProfitAndLoss, BalanceSheet, AgedReceivables, TransactionList)",
                                  round(reports.get(200, 0) / seconds, 1), "requests/s", ">= 50",
                                  reports.get(200, 0) / seconds >= 50,
                                  "in turn, on the sample company's 37 transactions; each report rebuilds the "
                                  f"ledger from the records; non-200: {sum(v for k, v in reports.items() if k != 200)}"))
            queries = _drive(url, token, seconds, lambda c, i: c.get("/query", params={
                "query": "select * from Customer where DisplayName = 'Bench 5'"}).status_code)
            results.append(Result("queries by DisplayName", round(queries.get(200, 0) / seconds, 1), "requests/s",
                                  ">= 300", queries.get(200, 0) / seconds >= 300,
                                  f"company of {writes.get(200, 0) + SAMPLE_CUSTOMERS} customers; equality on a unique name, "
                                  "Id or DocNumber uses an index, other filters scan the entity"))
        finally:
            process.terminate()
            process.wait(10)
        process, url = _start(tmp, "--time-scale", "10")
        try:
            token, item = _token(url)
            window = 60 / 10
            span = window * 2  # whole windows, so the ceiling is exact: 500 per window
            limited = _drive(url, token, span, lambda c, i: c.get(f"/item/{item}").status_code)
            accepted = limited.get(200, 0) / span
            ceiling = 500 / window
            results.append(Result(
                "accepted rate at --time-scale 10, limits on", round(accepted, 1), "requests/s",
                f"{ceiling:.1f} (500/min x 10), never above", 0.9 * ceiling <= accepted <= ceiling + 0.1,
                f"{CLIENT_THREADS} threads sending as fast as they can for {span:.0f} s; "
                f"429s: {limited.get(429, 0)}; the sandbox keeps up with the ceiling"))
        finally:
            process.terminate()
            process.wait(10)
    return results
