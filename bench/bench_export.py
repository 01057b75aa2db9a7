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
``QBO_BENCH_TIME_SCALE`` (default 10).
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


def export_once(workdir: Path, name: str, payloads: list, time_scale: float, *, use_batches: bool) -> dict:
    """Export into a fresh sandbox process; returns written records, seconds and requests."""
    with local_sandbox(workdir / f"{name}.sqlite3", extra_args=("--time-scale", str(time_scale), "--admin")) as url:
        ledger = Ledger(f"sqlite:///{workdir}/{name}_ledger.db")
        vault = TokenVault(ledger, Fernet.generate_key(), lock_dir=workdir / "locks")
        company = CompanyConfig(key="demo", environment="local", base_url=url)
        realm = connect_headless(vault, company)
        config = load_config(overrides={"export": {"use_batches": use_batches}})
        client = QboClient(url, realm, vault.token_source(company), limiter=RateLimiter(time_scale=time_scale),
                           time_scale=time_scale)
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
        client.close()
        ledger.dispose()
    minutes = seconds * time_scale / 60  # sandbox minutes
    return {"written": report.records_written, "seconds": seconds, "minutes": minutes,
            "per_minute": report.records_written / minutes if minutes else 0.0,
            "requests": report.requests, "write_requests": report.write_requests, "counts": report.counts}


def run() -> list[Result]:
    scale = float(os.environ.get("QBO_BENCH_EXPORT_SCALE", "1.0"))
    singles_limit = int(os.environ.get("QBO_BENCH_SINGLES", "3000"))
    time_scale = float(os.environ.get("QBO_BENCH_TIME_SCALE", "10"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
        workdir = Path(tmp)
        payloads, counts = demo_payloads(workdir, scale)
        log.info("demo payloads: %s", counts)
        batched = export_once(workdir, "batched", payloads, time_scale, use_batches=True)
        log.info("batched: %s", batched)
        subset = [p for p in payloads if p.entity in ("Customer", "Item", "Invoice")][:singles_limit]
        single = export_once(workdir, "single", subset, time_scale, use_batches=False)
        log.info("one at a time: %s", single)
    fraction = batched["per_minute"] / CEILING
    ratio = batched["per_minute"] / single["per_minute"] if single["per_minute"] else 0.0
    note_batched = (f"{batched['written']} records ({', '.join(f'{k} {v}' for k, v in counts.items())}) in "
                    f"{batched['seconds']:.0f} s at --time-scale {time_scale:g} = {batched['minutes']:.1f} QBO minutes; "
                    f"{batched['requests']} requests, {batched['write_requests']} of them writes; "
                    f"failed {batched['counts'].get('failed', 0)}, blocked {batched['counts'].get('blocked', 0)}")
    return [
        Result("export writes/min, batches + singles", round(batched["per_minute"]), "writes/QBO-min",
               note=note_batched),
        Result("fraction of the 1,660 writes/min ceiling", round(fraction, 3), "ratio", f">= {TARGET_FRACTION}",
               fraction >= TARGET_FRACTION, note=f"demo scale {scale:g}"),
        Result("export writes/min, one request per record", round(single["per_minute"]), "writes/QBO-min",
               note=f"{single['written']} customers/items/invoices, single requests (as python-quickbooks and "
                    f"node-quickbooks do), same limiter, {single['seconds']:.0f} s"),
        Result("speed-up of batching over one request per record", round(ratio, 2), "x"),
    ]
