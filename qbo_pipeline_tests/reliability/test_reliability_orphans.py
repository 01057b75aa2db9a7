"""Which STARTED runs the next start marks failed: only those whose own process has ended.

A run killed by SIGKILL stays STARTED; ``fail_orphaned_runs`` (the next ``qbo-pipeline run``,
the export step, the sensor's tick) marks it failed when the process its tags name is gone.
The daemon's retry of a killed run copies its parent's tags, the dead process with them: the
soak (daemon variant, 2026-12-01) saw the sensor's tick mark such a retry failed while it was
exporting, which freed the company's run slot under a living run. Real Dagster instance,
real processes (one that ended, this one)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid

import dagster as dg
import pytest

from qbo_pipeline.defs.runs import HOST_TAG, PARENT_RUN_TAG, PID_RUN_TAG, PID_TAG, fail_orphaned_runs


@dg.op
def _noop() -> None:
    pass


@dg.job
def _job() -> None:
    _noop()


@pytest.fixture(scope="module")
def _instance():
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def instance(_instance):
    """One instance for the module (creating one costs seconds), emptied for each test."""
    _instance.wipe()
    return _instance


@pytest.fixture(scope="module")
def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _started(instance: dg.DagsterInstance, tags: dict[str, str]) -> str:
    run_id = str(uuid.uuid4())
    instance.create_run_for_job(_job, run_id=run_id, tags={"dagster/partition": "demo", **tags},
                                status=dg.DagsterRunStatus.STARTED)
    return run_id


def _status(instance: dg.DagsterInstance, run_id: str) -> str:
    return instance.get_run_by_id(run_id).status.value


def _own(pid: int, run_id: str) -> dict[str, str]:
    return {PID_TAG: str(pid), HOST_TAG: socket.gethostname(), PID_RUN_TAG: run_id}


def test_a_run_whose_own_process_ended_is_marked_failed(instance, dead_pid):
    run_id = str(uuid.uuid4())
    instance.create_run_for_job(_job, run_id=run_id, tags={"dagster/partition": "demo", **_own(dead_pid, run_id)},
                                status=dg.DagsterRunStatus.STARTED)
    assert fail_orphaned_runs(instance, "demo") == [run_id]
    assert _status(instance, run_id) == "FAILURE"


def test_a_run_created_but_never_started_by_a_killed_command_is_marked_failed(instance, dead_pid):
    """`qbo-pipeline run` creates its run NOT_STARTED (tagged with its process), then starts it."""
    run_id = str(uuid.uuid4())
    instance.create_run_for_job(_job, run_id=run_id, tags={"dagster/partition": "demo", **_own(dead_pid, run_id)},
                                status=dg.DagsterRunStatus.NOT_STARTED)
    untagged = _started(instance, {})  # a run the daemon created: no process named, never judged
    assert fail_orphaned_runs(instance, "demo") == [run_id]
    assert _status(instance, run_id) == "FAILURE"
    assert _status(instance, untagged) == "STARTED"


def test_a_living_process_keeps_its_run(instance):
    run_id = str(uuid.uuid4())
    instance.create_run_for_job(_job, run_id=run_id, tags={"dagster/partition": "demo", **_own(os.getpid(), run_id)},
                                status=dg.DagsterRunStatus.STARTED)
    assert fail_orphaned_runs(instance, "demo") == []
    assert _status(instance, run_id) == "STARTED"


def test_a_retry_carrying_its_killed_parents_process_is_not_judged_by_it(instance, dead_pid):
    parent = str(uuid.uuid4())
    retry = _started(instance, {**_own(dead_pid, parent), PARENT_RUN_TAG: parent})
    assert fail_orphaned_runs(instance, "demo") == []
    assert _status(instance, retry) == "STARTED"
    # once its export step names its own process, the retry is judged by that one
    instance.add_run_tags(retry, _own(dead_pid, retry))
    assert fail_orphaned_runs(instance, "demo") == [retry]


def test_runs_tagged_by_an_earlier_version_are_still_judged(instance, dead_pid):
    """Runs left STARTED before the tag naming the run existed: judged unless their tags were copied."""
    old = _started(instance, {PID_TAG: str(dead_pid), HOST_TAG: socket.gethostname()})
    copied = _started(instance, {PID_TAG: str(dead_pid), HOST_TAG: socket.gethostname(), PARENT_RUN_TAG: old})
    assert fail_orphaned_runs(instance, "demo") == [old]
    assert _status(instance, copied) == "STARTED"


# ----------------------------------------------------------------------------- the daemon's run monitoring

LAUNCHER = {"run_launcher": {"module": "qbo_pipeline.defs.runs", "class": "LocalRunLauncher"}}


@pytest.fixture(scope="module")
def monitored():
    with dg.instance_for_test(overrides=LAUNCHER) as inst:
        yield inst


def _worker_started(instance: dg.DagsterInstance, run_id: str, pid: int) -> None:
    """What Dagster's run worker records first: "Started process for run (pid: N)"."""
    from dagster._core.events import EngineEventData

    instance.report_engine_event(f"Started process for run (pid: {pid}).", instance.get_run_by_id(run_id),
                                 EngineEventData.in_process(pid))


def test_the_project_instance_files_name_the_launcher():
    import yaml

    from qbo_pipeline.local import project_root

    for name in ("dagster.yaml", "docs/dagster.postgres.yaml"):
        config = yaml.safe_load((project_root() / name).read_text())
        assert config["run_launcher"] == LAUNCHER["run_launcher"], name
        assert config["run_monitoring"]["enabled"] is True, name


def test_run_monitoring_fails_a_run_whose_worker_ended(monitored, dead_pid):
    from dagster._core.launcher import WorkerStatus

    launcher = monitored.run_launcher
    assert launcher.supports_check_run_worker_health
    tagged = str(uuid.uuid4())
    monitored.create_run_for_job(_job, run_id=tagged, tags=_own(dead_pid, tagged), status=dg.DagsterRunStatus.STARTED)
    assert launcher.check_run_worker_health(monitored.get_run_by_id(tagged)).status == WorkerStatus.FAILED
    alive = str(uuid.uuid4())
    monitored.create_run_for_job(_job, run_id=alive, tags=_own(os.getpid(), alive), status=dg.DagsterRunStatus.STARTED)
    assert launcher.check_run_worker_health(monitored.get_run_by_id(alive)).status == WorkerStatus.RUNNING


def test_run_monitoring_fails_a_run_killed_before_its_export_step(monitored, dead_pid):
    """Killed with the daemon between the worker's start and the export step naming its process:
    Dagster's own record of the worker's pid, for a code server on this machine."""
    from dagster._core.launcher import WorkerStatus
    from dagster._core.storage.tags import GRPC_INFO_TAG

    local, remote = str(uuid.uuid4()), str(uuid.uuid4())
    monitored.create_run_for_job(_job, run_id=local, tags={GRPC_INFO_TAG: '{"host": "localhost", "socket": "/tmp/s"}'},
                                 status=dg.DagsterRunStatus.STARTED)
    monitored.create_run_for_job(_job, run_id=remote, tags={GRPC_INFO_TAG: '{"host": "code.internal", "port": 4000}'},
                                 status=dg.DagsterRunStatus.STARTED)
    launcher = monitored.run_launcher
    assert launcher.check_run_worker_health(monitored.get_run_by_id(local)).status == WorkerStatus.RUNNING
    for run_id in (local, remote):
        _worker_started(monitored, run_id, dead_pid)
    assert launcher.check_run_worker_health(monitored.get_run_by_id(local)).status == WorkerStatus.FAILED
    # a worker on another machine is never judged by a pid of this one
    assert launcher.check_run_worker_health(monitored.get_run_by_id(remote)).status == WorkerStatus.RUNNING
