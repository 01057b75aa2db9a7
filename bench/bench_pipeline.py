"""End-to-end pipeline figures: the first full sync, and what later syncs cost.

``bench_export`` measures the export engine alone (throughput against the 1,660 writes/min
ceiling, batches vs one request per record, the engine's unchanged re-run). This module
measures the product path around it, on the same demo and the same sandbox process with
Intuit's limits at ``--time-scale 10``:

1. the first full sync through the real stages (extract -> validate -> transform -> export
   via ``sync.open_company``): wall time split by stage, writes per QBO-minute, peak memory;
2. a Dagster run (``qbo-pipeline run``'s ``runner.export_once``) right after it, which has no
   source cursor yet and so re-plans the whole history: it must make zero write requests;
3. another Dagster run with nothing changed in the source (the cursor says so): zero writes;
4. a Dagster run after a simulated working day (``mutate_demo_db``: new invoices, edits):
   the writes it makes and its time.

Write requests are counted by the sandbox (batches + single writes it answered), not by the
pipeline itself. Environment: ``QBO_BENCH_SCALE`` (demo size, default 1.0),
``QBO_BENCH_TIME_SCALE`` (default 10).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import yaml

from bench.results import Result
from qbo_pipeline import sync
from qbo_pipeline.config import load_config
from qbo_pipeline.local import local_sandbox, project_root
from qbo_pipeline.qbo.limits import Limits
from qbo_pipeline.source.demo import init_demo_db, mutate_demo_db
from qbo_pipeline.transform import TransformContext

CEILING = Limits().writes_per_minute_ceiling
ENTITIES = sync.MASTER_ENTITIES + sync.TRANSACTION_ENTITIES
log = logging.getLogger("bench.pipeline")


@contextlib.contextmanager
def _environment(workdir: Path) -> Iterator[None]:
    """A private state folder and Dagster home, so the benchmark leaves var/ alone."""
    saved = {k: os.environ.get(k) for k in ("QBO_PIPELINE_STATE_DIR", "DAGSTER_HOME", "QBO_CLIENT_SECRET")}
    home = workdir / "dagster_home"
    home.mkdir()
    shutil.copyfile(project_root() / "dagster.yaml", home / "dagster.yaml")
    os.environ.update({"QBO_PIPELINE_STATE_DIR": str(workdir / "state"), "DAGSTER_HOME": str(home),
                       "QBO_CLIENT_SECRET": "local-client-secret"})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _writes(url: str, realm: str) -> int:
    counters = httpx.get(f"{url}/admin/requests", timeout=10).json().get(realm, {})
    return int(counters.get("batch", 0)) + int(counters.get("writes", 0))


def _stages(config) -> tuple[list, dict[str, float]]:
    """Payloads of the whole source through the real stages, with the seconds of each stage."""
    seconds: dict[str, float] = {}
    started = time.monotonic()
    with sync.reader_for(config) as reader:
        frames = sync.extract_frames(reader, ENTITIES)
        known = sync.known_source_ids(reader)
    seconds["extract"] = time.monotonic() - started
    started = time.monotonic()
    validated = sync.validate_frames(ENTITIES, frames, known, config)
    seconds["validate"] = time.monotonic() - started
    started = time.monotonic()
    context = sync.transform_context(config, "demo", ENTITIES, validated=validated)
    accepted = {f.name for f in dataclasses.fields(TransformContext)}
    results = sync.transform_valid(ENTITIES, validated, config, **{k: v for k, v in context.items() if k in accepted})
    seconds["transform"] = time.monotonic() - started
    return [p for entity in ENTITIES for p in results[entity].payloads], seconds


def _dagster_run(config, url: str, realm: str) -> dict:
    from qbo_pipeline.runner import export_once

    before = _writes(url, realm)
    started = time.monotonic()
    summary = export_once(config, "demo")
    seconds = time.monotonic() - started
    written = sum(counts.get("created", 0) + counts.get("updated", 0) for counts in summary.entities.values())
    return {"seconds": seconds, "write_requests": _writes(url, realm) - before, "records": written,
            "runs": [r["status"] for r in summary.runs], "note": summary.note}


def run() -> list[Result]:
    scale = float(os.environ.get("QBO_BENCH_SCALE", "1.0"))
    time_scale = float(os.environ.get("QBO_BENCH_TIME_SCALE", "10"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("httpx", "dagster"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp, _environment(Path(tmp)):
        workdir = Path(tmp)
        source_url = f"sqlite:///{workdir}/source.db"
        rows = init_demo_db(source_url, scale=scale)
        with local_sandbox(workdir / "sandbox.sqlite3", extra_args=("--time-scale", str(time_scale), "--admin")) as url:
            config_path = workdir / "pipeline.yaml"
            config_path.write_text(yaml.safe_dump({
                "source": {"url": source_url},
                "ledger": {"url": f"sqlite:///{workdir}/ledger.db"},
                "companies": [{"key": "demo", "environment": "local", "base_url": url}],
                # a short daily-partitioned range; older history lands in the first partition
                "options": {"sync_start_date": (date.today() - timedelta(days=400)).isoformat()},
            }))
            config = load_config(config_path)
            from qbo_pipeline.runner import connect_headless_if_needed

            realm = connect_headless_if_needed(config, "demo")

            started = time.monotonic()
            payloads, stage_seconds = _stages(config)
            before = _writes(url, realm)
            with sync.open_company(config, "demo", time_scale=time_scale) as session:
                report = session.export(payloads)
            first_writes = _writes(url, realm) - before
            export_seconds = report.seconds
            total_seconds = time.monotonic() - started
            peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            log.info("first sync: %s; stages %s; export %.1f s", report.counts, stage_seconds, export_seconds)

            resync = _dagster_run(config, url, realm)
            log.info("Dagster run without a cursor (whole history re-planned): %s", resync)
            unchanged = _dagster_run(config, url, realm)
            log.info("Dagster run, nothing changed: %s", unchanged)
            day = mutate_demo_db(source_url, seed=1, new=20, edits=20)
            daily = _dagster_run(config, url, realm)
            log.info("Dagster run after a working day (%s): %s", {k: len(v) for k, v in day.get("created", {}).items()},
                     daily)

    minutes = export_seconds * time_scale / 60
    per_minute = report.records_written / minutes if minutes else 0.0
    source_rows = sum(rows.values())
    return [
        Result("first full sync, wall time (extract -> export)", round(total_seconds, 1), "s",
               note=f"demo scale {scale:g}: {source_rows} source rows, {report.records_written} records written "
                    f"({', '.join(f'{k} {v}' for k, v in report.counts.items() if v)}); extract "
                    f"{stage_seconds['extract']:.1f} s, validate {stage_seconds['validate']:.1f} s, transform "
                    f"{stage_seconds['transform']:.1f} s, export {export_seconds:.1f} s at --time-scale {time_scale:g}"),
        Result("first full sync, export writes/min", round(per_minute), "writes/QBO-min",
               note=f"{first_writes} write requests counted by the sandbox; {per_minute / CEILING:.0%} of the 1,660 "
                    "ceiling (engine-only figures: section export)"),
        Result("first full sync, peak memory of the process", round(peak_gib, 2), "GiB",
               note="max RSS after extract, validate, transform and export of the whole demo in one process"),
        Result("Dagster run without a cursor (whole history re-planned): write requests", resync["write_requests"],
               "requests", "0", resync["write_requests"] == 0,
               note=f"{resync['seconds']:.1f} s; runs {resync['runs']}; {resync['note']}"),
        Result("Dagster run with nothing changed: write requests", unchanged["write_requests"], "requests", "0",
               unchanged["write_requests"] == 0, note=f"{unchanged['note']}; runs {unchanged['runs']}"),
        Result("Dagster run with nothing changed: time", round(unchanged["seconds"], 1), "s"),
        Result("Dagster run after a working day (20 new invoices, 20 edits): time", round(daily["seconds"], 1), "s",
               note=f"{daily['records']} records created or updated with {daily['write_requests']} write requests; "
                    f"runs {daily['runs']}; {daily['note']}"),
    ]
