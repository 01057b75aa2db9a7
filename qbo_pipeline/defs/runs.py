"""What a killed run leaves in the Dagster instance, cleared on the next start.

Runs carry the process that executes them (``qbo_pipeline/pid`` and ``qbo_pipeline/host``
tags: set at launch by ``qbo-pipeline run``, and by the export step itself for runs the
daemon launches). A run still STARTED whose process has ended was killed: it is marked
failed and any concurrency slot it held is freed, so it no longer counts against the
per-company run limit. The instance is initialised once, under a file lock, before any run.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from qbo_pipeline.runlock import initialised_once, process_is_gone

log = logging.getLogger("qbo_pipeline.runs")

PID_TAG = "qbo_pipeline/pid"
HOST_TAG = "qbo_pipeline/host"
PARTITION_TAG = "dagster/partition"
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def process_tags() -> dict[str, str]:
    """The tags that name this process as the one executing a run."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def fail_orphaned_runs(
    instance: dg.DagsterInstance, company: str | None = None, *, keep: str | None = None,
    say: Callable[[str], None] | None = None,
) -> list[str]:
    """Mark failed the in-progress runs (of ``company``, or all) whose process has ended; free their slots."""
    tags = {PARTITION_TAG: company} if company else {}
    ended: list[str] = []
    for run in instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS, tags=tags)):
        pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
        if run.run_id == keep or not pid or not host or not process_is_gone(int(pid), host):
            continue
        message = f"run {run.run_id[:8]} ended with its process {pid} (killed?); marked failed and its slots freed"
        instance.report_run_failed(run, message=message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        (say or log.info)(message)
        ended.append(run.run_id)
    return ended


def open_instance(home: Path | None = None) -> dg.DagsterInstance:
    """The persistent instance, its storages created once under a file lock (concurrent first
    use of a SQLite instance otherwise stamps its schema twice: "more than one head")."""
    folder = Path(home or os.environ["DAGSTER_HOME"])
    with initialised_once(folder, on_wait=log.info):
        instance = dg.DagsterInstance.get()
        # touching each storage creates its tables now, while the lock is held
        instance.get_runs(limit=1)
        instance.get_dynamic_partitions("qbo_company")
        if instance.schedule_storage is not None:
            instance.all_instigator_state()
    return instance
