"""What a killed run leaves in the Dagster instance, cleared on the next start.

Runs carry the process that executes them (``qbo_pipeline/pid`` and ``qbo_pipeline/host``
tags, with ``qbo_pipeline/pid_of_run`` naming the run they were written for: set at launch by
``qbo-pipeline run``, and by the export step itself for runs the daemon launches). A run still
STARTED whose process has ended was killed: it is marked failed and any concurrency slot it
held is freed, so it no longer counts against the per-company run limit. A retry or
re-execution copies its parent's tags, the parent's (dead) process with them: such tags are
not judged until the run's own export step names its process. The instance is initialised
once, under a file lock, before any run.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

import dagster as dg
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.tags import GRPC_INFO_TAG

from qbo_pipeline.runlock import initialised_once, process_is_gone

log = logging.getLogger("qbo_pipeline.runs")

PID_TAG = "qbo_pipeline/pid"
HOST_TAG = "qbo_pipeline/host"
PID_RUN_TAG = "qbo_pipeline/pid_of_run"  # the run the two tags above were written for
PARENT_RUN_TAG = "dagster/parent_run_id"  # retries and re-executions: tags copied from this run
PARTITION_TAG = "dagster/partition"
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
# `qbo-pipeline run` creates its run NOT_STARTED, tagged with its process, then starts it: a kill in
# between left it NOT_STARTED for ever (3 of 100 kills in the soak of 2026-12-01)
UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, *IN_PROGRESS]


def process_tags(run_id: str) -> dict[str, str]:
    """The tags that name this process as the one executing ``run_id``."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname(), PID_RUN_TAG: run_id}


def names_its_process(run: dg.DagsterRun) -> bool:
    """True when the run's process tags were written for this run, not copied from its parent
    (a retry of a killed run carries the killed process' pid until its export step starts)."""
    written_for = run.tags.get(PID_RUN_TAG)
    if written_for is not None:
        return written_for == run.run_id
    return PARENT_RUN_TAG not in run.tags  # tags of an earlier version: trusted unless copied


def fail_orphaned_runs(
    instance: dg.DagsterInstance, company: str | None = None, *, keep: str | None = None,
    say: Callable[[str], None] | None = None,
) -> list[str]:
    """Mark failed the unfinished runs (of ``company``, or all) whose process has ended; free their slots."""
    tags = {PARTITION_TAG: company} if company else {}
    ended: list[str] = []
    for run in instance.get_runs(dg.RunsFilter(statuses=UNFINISHED, tags=tags)):
        pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
        if run.run_id == keep or not pid or not host or not names_its_process(run):
            continue
        if not process_is_gone(int(pid), host):
            continue
        message = f"run {run.run_id[:8]} ended with its process {pid} (killed?); marked failed and its slots freed"
        instance.report_run_failed(run, message=message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        (say or log.info)(message)
        ended.append(run.run_id)
    return ended


def _started_process(instance: dg.DagsterInstance, run: dg.DagsterRun) -> int | None:
    """The run worker Dagster itself recorded ("Started process for run (pid: N)") when the
    run's code server is on this machine (a socket, or a loopback/own host name)."""
    try:
        grpc = json.loads(run.tags.get(GRPC_INFO_TAG) or "{}")
    except ValueError:
        return None
    if not (grpc.get("socket") or grpc.get("host") in ("localhost", "127.0.0.1", "::1", socket.gethostname())):
        return None
    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=20).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.engine_event_data if event is not None else None
        pid = data.metadata.get("pid") if data is not None else None
        if pid is not None and str(getattr(pid, "value", pid)).isdigit():
            return int(getattr(pid, "value", pid))
    return None


class LocalRunLauncher(dg.DefaultRunLauncher):
    """Dagster's default launcher (run workers spawned by the code server on this machine), with
    the health check the daemon's run monitoring asks launchers for. The default one has none, so
    a run whose worker was killed together with the daemon (a crash, an OOM kill, a reboot) stayed
    STARTED for ever, and every later run of its company stayed QUEUED behind it (the run queue
    allows one per company). A run whose process has ended is reported failed; any other is
    left running (a process on another machine is never judged)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        pid, host = run.tags.get(PID_TAG), run.tags.get(HOST_TAG)
        if pid and host and names_its_process(run):
            gone, process = process_is_gone(int(pid), host), int(pid)
        else:  # not in its export step yet: the worker Dagster started for it
            started = _started_process(self._instance, run)
            gone, process = started is not None and process_is_gone(started, socket.gethostname()), started
        if gone:
            return CheckRunHealthResult(WorkerStatus.FAILED, f"its run worker (process {process}) has ended (killed?)")
        return CheckRunHealthResult(WorkerStatus.RUNNING)


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
