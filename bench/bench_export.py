"""Export throughput against the sandbox at its real limits: batches + singles vs one at a time.

The full demo (about 2k customers, 300 items, 20k invoices, 15k payments, plus credits and
refunds) goes through the real pipeline stages (demo database -> extract -> validate ->
transform) and is exported into a fresh sandbox process running Intuit's limits with
``--time-scale 10`` (a QBO minute lasts 6 s). Writes/min are counted in sandbox minutes and
compared with the ceiling of one company: 40 batches x 30 items + 460 single requests =
1,660 writes/min. The same kind of records are then written one request at a time, as
common client libraries do, into another fresh sandbox.

Environment: ``QBO_BENCH_EXPORT_SCALE`` (demo size, default 1.0), ``QBO_BENCH_SINGLES``
(records for the one-at-a-time run, default 3000; it is a rate, so a prefix suffices),
``QBO_BENCH_CAPACITY`` (records for the limits-off capacity run, default 8000),
``QBO_BENCH_TIME_SCALES`` (comma-separated, default ``10,5``: 10 is the figure asked for; at
10 the single sandbox process must serve ~280 writes/s, so 5 shows the engine where the
sandbox's own CPU is not the limit).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from bench.results import Result
from qbo_pipeline import sync
from qbo_pipeline.config import CompanyConfig, load_config
from qbo_pipeline.export.engine import ExportEngine
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.local import local_sandbox
from qbo_pipeline.qbo.auth import TokenVault, connect_headless
from qbo_pipeline.qbo.client import QboClient
from qbo_pipeline.qbo.limits import Limits, RateLimiter
from qbo_pipeline.source.demo import init_demo_db
from qbo_pipeline.transform import TransformContext

CEILING = Limits().writes_per_minute_ceiling  # 1,660
TARGET_FRACTION = 0.9
ENTITIES = sync.MASTER_ENTITIES + sync.TRANSACTION_ENTITIES

log = logging.getLogger("bench.export")


def demo_payloads(workdir: Path, scale: float) -> tuple[list, dict[str, int]]:
    """Payloads of the demo database built by the real extract -> validate -> transform stages."""
    source_url = f"sqlite:///{workdir}/demo_source.db"
    init_demo_db(source_url, scale=scale)
    config = load_config(overrides={"source": {"url": source_url},
                                    "ledger": {"url": f"sqlite:///{workdir}/transform_ledger.db"}})
    with sync.reader_for(config) as reader:
        frames = sync.extract_frames(reader, ENTITIES)
        known = sync.known_source_ids(reader)
    validated = sync.validate_frames(ENTITIES, frames, known, config)
    context = sync.transform_context(config, "demo", ENTITIES, validated=validated)
    accepted = {f.name for f in dataclasses.fields(TransformContext)}
    context = {k: v for k, v in context.items() if k in accepted}  # sync and transform evolve separately
    results = sync.transform_valid(ENTITIES, validated, config, **context)
    payloads = [p for entity in ENTITIES for p in results[entity].payloads]
    counts: dict[str, int] = {}
    for payload in payloads:
        counts[payload.entity] = counts.get(payload.entity, 0) + 1
    return payloads, counts


def export_once(workdir: Path, name: str, payloads: list, time_scale: float, *, use_batches: bool,
                rerun: bool = False, limits_off: bool = False) -> dict:
    """Export into a fresh sandbox process; returns written records, seconds and requests.

    With ``rerun`` the same payloads are exported a second time (nothing changed): its write
    requests and seconds are the cost of an incremental run.
    """
    extra = ("--time-scale", str(time_scale), "--admin") + (("--no-limits",) if limits_off else ())
    unlimited = Limits(per_minute=10**9, per_second=10**9, batches_per_minute=10**9)
    with local_sandbox(workdir / f"{name}.sqlite3", extra_args=extra) as url:
        ledger = Ledger(f"sqlite:///{workdir}/{name}_ledger.db")
        vault = TokenVault(ledger, Fernet.generate_key(), lock_dir=workdir / "locks")
        company = CompanyConfig(key="demo", environment="local", base_url=url)
        realm = connect_headless(vault, company)
        config = load_config(overrides={"export": {"use_batches": use_batches}})
        limiter = RateLimiter(unlimited if limits_off else None, time_scale=time_scale)
        client = QboClient(url, realm, vault.token_source(company), limiter=limiter, time_scale=time_scale)
        engine = ExportEngine(client, ledger, config, "demo")
        started = time.monotonic()
        report = engine.export(payloads)
        seconds = time.monotonic() - started
        stats = httpx.get(f"{url}/admin/faults/stats", timeout=10).json()
        log.info("%s: sandbox refusals %s", name, {k: v for k, v in stats.items() if k.startswith("limit_")} or "none")
        reasons: dict[str, int] = {}
        for result in report.results:
            if result.outcome in ("failed", "blocked"):
                key = f"{result.entity} {result.outcome}: {(result.message or '')[:90]}"
                reasons[key] = reasons.get(key, 0) + 1
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:10]:
            log.info("%s: %d x %s", name, count, reason)
        again = None
        if rerun:
            started_again = time.monotonic()
            second = ExportEngine(client, ledger, config, "demo").export(payloads)
            again = {"write_requests": second.write_requests, "requests": second.requests,
                     "seconds": time.monotonic() - started_again, "skipped": second.counts["skipped"]}
        client.close()
        ledger.dispose()
    minutes = seconds * time_scale / 60  # sandbox minutes
    return {"written": report.records_written, "seconds": seconds, "minutes": minutes,
            "per_minute": report.records_written / minutes if minutes else 0.0,
            "requests": report.requests, "write_requests": report.write_requests, "counts": report.counts,
            "again": again, "refusals": {k: v for k, v in stats.items() if k.startswith("limit_")}}


def run() -> list[Result]:
    scale = float(os.environ.get("QBO_BENCH_EXPORT_SCALE", "1.0"))
    singles_limit = int(os.environ.get("QBO_BENCH_SINGLES", "3000"))
    capacity_limit = int(os.environ.get("QBO_BENCH_CAPACITY", "8000"))
    time_scales = [float(v) for v in os.environ.get("QBO_BENCH_TIME_SCALES", "10,5").split(",") if v.strip()]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    rows: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
        workdir = Path(tmp)
        payloads, counts = demo_payloads(workdir, scale)
        log.info("demo payloads: %s", counts)
        runs = []
        for number, time_scale in enumerate(time_scales):
            result = export_once(workdir, f"batched_{number}", payloads, time_scale, use_batches=True,
                                 rerun=number == 0)
            log.info("batched at --time-scale %g: %s", time_scale, result)
            runs.append((time_scale, result))
        subset = [p for p in payloads if p.entity in ("Customer", "Item", "Invoice")][:singles_limit]
        single = export_once(workdir, "single", subset, time_scales[0], use_batches=False)
        log.info("one at a time: %s", single)
        capacity_set = [p for p in payloads if p.entity in ("Customer", "Item", "Invoice")][:capacity_limit]
        capacity = export_once(workdir, "capacity", capacity_set, time_scales[0], use_batches=True, limits_off=True)
        log.info("sandbox capacity (limits off): %s", capacity)
    mix = ", ".join(f"{k} {v}" for k, v in counts.items())
    for time_scale, batched in runs:
        fraction = batched["per_minute"] / CEILING
        rows += [
            Result(f"export writes/min, batches + singles (--time-scale {time_scale:g})", round(batched["per_minute"]),
                   "writes/QBO-min",
                   note=f"{batched['written']} records ({mix}) in {batched['seconds']:.0f} s = "
                        f"{batched['minutes']:.1f} QBO minutes; {batched['requests']} requests "
                        f"({batched['write_requests']} writes); sandbox refusals {batched['refusals'] or 'none'}; "
                        f"failed {batched['counts'].get('failed', 0)}, blocked {batched['counts'].get('blocked', 0)}"),
            Result(f"fraction of the 1,660 writes/min ceiling (--time-scale {time_scale:g})", round(fraction, 3),
                   "ratio", f">= {TARGET_FRACTION}", fraction >= TARGET_FRACTION, note=f"demo scale {scale:g}"),
        ]
    first_scale, first = runs[0]
    rows += [
        Result(f"export writes/min, one request per record (--time-scale {first_scale:g})",
               round(single["per_minute"]), "writes/QBO-min",
               note=f"{single['written']} customers/items/invoices, one request each (as python-quickbooks and "
                    f"node-quickbooks do), same limiter, {single['seconds']:.0f} s"),
    ]
    rows += [Result(f"speed-up of batches + singles over one request per record (--time-scale {ts:g})",
                    round(r["per_minute"] / single["per_minute"], 2) if single["per_minute"] else 0.0, "x")
             for ts, r in runs]
    per_second = capacity["written"] / capacity["seconds"] if capacity["seconds"] else 0.0
    needed = CEILING * first_scale / 60
    rows.append(Result("sandbox capacity on this machine, limits off", round(per_second), "writes/s",
                       f">= {needed:.0f} to allow the ceiling at --time-scale {first_scale:g}", per_second >= needed,
                       note=f"{capacity['written']} customers/items/invoices in batches of 30 into a sandbox started "
                            f"with --no-limits: the most this machine's sandbox process absorbs; "
                            f"= {per_second * 60 / first_scale:.0f} writes per QBO-minute at --time-scale {first_scale:g}"))
    if first["again"]:
        again = first["again"]
        rows.append(Result("incremental run with nothing changed: write requests", again["write_requests"],
                           "requests", "0", again["write_requests"] == 0,
                           note=f"{again['skipped']} records skipped as unchanged in {again['seconds']:.1f} s, "
                                f"{again['requests']} read request(s)"))
    return rows
