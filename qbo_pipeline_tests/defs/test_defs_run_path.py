"""The run path as users meet it: `qbo-pipeline run` processes, side by side, waiting, killed, stopped.

Each test starts the real command in its own process group against the test's sandbox and
Dagster home, and checks what it prints, its exit code and what it leaves behind.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from qbo_pipeline.defs.runs import IN_PROGRESS
from qbo_pipeline.runlock import company_export_lock, read_holder
from qbo_pipeline.runner import EXIT_BUSY, EXIT_INTERRUPTED

COMMAND = str(Path(sys.executable).with_name("qbo-pipeline"))


def _start(pipeline, tmp_path: Path, name: str, *args: str) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / f"{name}.out"
    with open(out, "wb") as sink:
        process = subprocess.Popen([COMMAND, "run", *args], stdout=sink, stderr=subprocess.STDOUT,
                                   env=pipeline.env(), start_new_session=True)
    return process, out


def _wait_for(out: Path, text: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in out.read_text(errors="replace"):
        assert process.poll() is None, f"exited {process.returncode} before printing {text!r}:\n{out.read_text()}"
        assert time.monotonic() < deadline, f"{text!r} not printed in {timeout}s:\n{out.read_text()}"
        time.sleep(0.1)


def _finish(process: subprocess.Popen, out: Path, timeout: float = 180) -> tuple[int, str]:
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    return code, out.read_text(errors="replace")


def _doc_numbers(pipeline) -> list[str]:
    return [row.get("DocNumber") for row in pipeline.query("select * from Invoice maxresults 1000")]


def test_a_second_run_waits_with_a_message_or_refuses(pipeline, tmp_path):
    with company_export_lock("demo", "held-by-the-test", on_wait=print):
        waiting, waiting_out = _start(pipeline, tmp_path, "waiting")
        _wait_for(waiting_out, "an export of demo is running since", waiting)
        _wait_for(waiting_out, "; waiting", waiting)
        assert "(run held-by-" in waiting_out.read_text() and "waiting" in waiting_out.read_text()
        refused, refused_out = _start(pipeline, tmp_path, "refused", "--no-wait")
        code, text = _finish(refused, refused_out)
        assert code == EXIT_BUSY, text
        assert "an export of demo is running since" in text
    code, text = _finish(waiting, waiting_out)
    assert code == 0, text
    assert "Company demo: incremental sync" in text


def test_two_runs_started_together_serialise_on_a_fresh_instance(pipeline, tmp_path):
    first, first_out = _start(pipeline, tmp_path, "first")
    second, second_out = _start(pipeline, tmp_path, "second")
    results = [_finish(first, first_out), _finish(second, second_out)]
    assert [code for code, _ in results] == [0, 0], results
    numbers = _doc_numbers(pipeline)
    assert numbers and len(numbers) == len(set(numbers)), "an invoice was exported twice"
    instance = pipeline.instance()
    runs = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": "demo"}))
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2


def test_killed_run_is_finished_by_the_next_with_no_manual_step(pipeline, tmp_path):
    seed = random.randrange(1_000_000)
    delay = random.Random(seed).uniform(0.5, 6.0)
    victim, victim_out = _start(pipeline, tmp_path, "victim")
    _wait_for(victim_out, "Full log:", victim)
    time.sleep(delay)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()

    again, again_out = _start(pipeline, tmp_path, "again")
    code, text = _finish(again, again_out)
    assert code == 0, f"seed {seed}, killed after {delay:.1f}s:\n{text}"
    numbers = _doc_numbers(pipeline)
    assert len(numbers) == len(set(numbers)), f"seed {seed}: an invoice was exported twice"
    instance = pipeline.instance()
    assert not instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS)), f"seed {seed}: a run was left in progress"
    assert read_holder("demo") is None


def test_sigterm_ends_a_waiting_run_within_seconds_leaving_nothing_held(pipeline, tmp_path):
    with company_export_lock("demo", "held-by-the-test", on_wait=print):
        waiting, waiting_out = _start(pipeline, tmp_path, "waiting")
        _wait_for(waiting_out, "; waiting", waiting)
        started = time.monotonic()
        os.killpg(waiting.pid, signal.SIGTERM)
        code, text = _finish(waiting, waiting_out, timeout=60)
        # seconds on an idle machine; the bound leaves room for a loaded shared one
        assert time.monotonic() - started < 20, text
        assert code in (EXIT_INTERRUPTED, 128 + signal.SIGTERM), text
        assert "stopped by a signal" in text
    instance = pipeline.instance()
    assert not instance.get_runs(dg.RunsFilter(statuses=IN_PROGRESS)), "the stopped run was left in progress"
    after, after_out = _start(pipeline, tmp_path, "after")
    code, text = _finish(after, after_out)
    assert code == 0, text
