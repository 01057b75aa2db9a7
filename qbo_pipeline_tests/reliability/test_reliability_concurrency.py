"""Concurrency and stopping probes, driven as users drive the product (``qbo-pipeline run`` subprocesses).

Required behaviour (issue 17): two runs of one company at once serialise (one waits) or one
refuses with a message, and nothing is corrupted; different companies run in parallel;
SIGTERM (a supervisor, ``timeout``) and Ctrl-C (SIGINT to the foreground process group) end
a command within seconds wherever it waits, leaving no Dagster run unfinished, no pool slot
claimed and no ledger lock held. Probes that fail on the current run path are strict
expected failures naming the defect, so the day the new run path makes them pass the mark
has to go.

A run beside a sensor-launched run needs the ``dagster-daemon`` and the sensor's second
evaluation (its first only records the watermarks; 5 minutes apart on 3211378): it runs with
``QBO_RELIABILITY_DAEMON=1`` and has not been run to its end yet; the bench soak (``QBO_SOAK_DAEMON=1``)
kills sensor-launched runs too.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from qbo_pipeline_tests.reliability.soak import (
    NO_FAULTS,
    SoakEnvironment,
    SoakOptions,
    group_members,
    kill_group,
)

SCALE = 0.005
RUN_TIMEOUT = 420  # a run at this scale takes 20-60 s on an idle 2-core machine; the machine may be shared
STOP_WITHIN = 15  # seconds a signalled command may take to end
SENSOR_INTERVAL = 300  # the source sensor's minimum interval on 3211378 (defs/sensors.py)
REFUSAL = re.compile(r"running|lock|wait|in progress|already|busy", re.IGNORECASE)

STALE_SLOT = ("dagster12 (runner.py): a SIGKILLed run leaves its Dagster run STARTED and its qbo_export_<company> "
              "pool slot claimed; the next run waits for the slot for ever (SIGTERM does end that wait here; "
              "issue 17 saw it ignored after 15 minutes)")

@pytest.fixture
def environment(tmp_path: Path, request):
    companies = getattr(request, "param", ("demo",))
    env = SoakEnvironment(tmp_path, SoakOptions(scale=SCALE, companies=tuple(companies), faults={}))
    try:
        env.start()
        env.set_faults(NO_FAULTS)
        yield env
    finally:
        env.close()


def _wait(process: subprocess.Popen, timeout: float, log: Path) -> int:
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        process.wait(timeout=30)
        pytest.fail(f"`qbo-pipeline run` did not end within {timeout:.0f} s; console tail:\n{log.read_text()[-2500:]}")


def _wait_for_writes(env: SoakEnvironment, process: subprocess.Popen, key: str = "demo", at_least: int = 1,
                     timeout: float = RUN_TIMEOUT) -> None:
    before, deadline = env.writes_made(key), time.monotonic() + timeout
    while env.writes_made(key) - before < at_least:
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the run made no write before it ended or within {timeout:.0f} s (exit {process.poll()})")
        time.sleep(0.02)


def _assert_nothing_held(env: SoakEnvironment) -> dict:
    state = env.helper("inspect")
    held = {k: v for k, v in state["pools"].items() if v["claimed"] or v["pending"]}
    assert not state["unfinished_runs"], f"Dagster runs left unfinished: {state['unfinished_runs']}"
    assert not held, f"pool slots left claimed or steps pending: {held}"
    assert not state["ledger_locks"], f"ledger export locks left held: {state['ledger_locks']}"
    return state


def _assert_books_right(env: SoakEnvironment, key: str = "demo") -> dict:
    books = env.helper("books", key, json.dumps(env.baseline[key]))
    assert not books["missing"] and not books["extra"] and not books["doubled"], books
    assert books["found"] == books["expected"] > 0
    return books


def _assert_next_run_is_clean(env: SoakEnvironment) -> None:
    """The next run ends by itself with exit 0 (finishing what a stopped run left), and the one
    after it has nothing left to write."""
    process, log = env.start_run(name="next")
    assert _wait(process, RUN_TIMEOUT, log) == 0, log.read_text()[-2500:]
    before = env.writes_made()
    process, log = env.start_run(name="again")
    assert _wait(process, RUN_TIMEOUT, log) == 0, log.read_text()[-2500:]
    assert env.writes_made() == before, "the second run after the probe wrote again"


# ----------------------------------------------------------------------------- concurrency


@pytest.mark.timeout(1200)
# Not strict: on 3211378 this fails only sometimes. Two `run`s started together on a fresh SQLite
# instance race its initialisation (issue 12 saw "more than one head"); when they do not, the second
# run's export steps wait on the pool slot and both succeed (seen once each way on this branch).
def test_two_runs_of_one_company_at_once_wait_or_refuse_and_corrupt_nothing(environment):
    env = environment
    first, first_log = env.start_run(name="first")
    second, second_log = env.start_run(name="second")
    codes = [_wait(first, RUN_TIMEOUT, first_log), _wait(second, RUN_TIMEOUT, second_log)]
    assert 0 in codes, [log.read_text()[-1500:] for log in (first_log, second_log)]
    for code, log in zip(codes, (first_log, second_log), strict=True):
        if code != 0:  # a refusal must say why, not be a stack trace
            text = log.read_text()
            assert REFUSAL.search(text[-2000:]) and "Traceback" not in text, text[-2500:]
    _assert_next_run_is_clean(env)
    _assert_books_right(env)
    _assert_nothing_held(env)


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("environment", [("demo", "north")], indirect=True)
def test_runs_of_different_companies_go_in_parallel(environment):
    env = environment
    demo, demo_log = env.start_run("--company", "demo", name="demo")
    north, north_log = env.start_run("--company", "north", name="north")
    first_write: dict[str, float] = {}
    ended: dict[str, float] = {}
    deadline = time.monotonic() + RUN_TIMEOUT
    while len(ended) < 2 and time.monotonic() < deadline:
        now = time.monotonic()
        for key, process in (("demo", demo), ("north", north)):
            if key not in first_write and env.writes_made(key) > 0:
                first_write[key] = now
            if key not in ended and process.poll() is not None:
                ended[key] = now
        time.sleep(0.05)
    for process, log in ((demo, demo_log), (north, north_log)):
        assert _wait(process, 30, log) == 0, log.read_text()[-2500:]
    # parallel: each company wrote to QBO before the other one's run had ended
    assert first_write["demo"] < ended["north"] and first_write["north"] < ended["demo"], (first_write, ended)
    _assert_books_right(env, "demo")
    _assert_books_right(env, "north")
    _assert_nothing_held(env)


@pytest.mark.timeout(1200)
@pytest.mark.skipif(os.environ.get("QBO_RELIABILITY_DAEMON") != "1",
                    reason="starts dagster-daemon (slow on 2 cores): set QBO_RELIABILITY_DAEMON=1")
def test_a_run_beside_a_sensor_launched_run(environment):
    """A changed source, the daemon's sensor launching its run, and a `qbo-pipeline run` at the same time."""
    from qbo_pipeline.source.demo import mutate_demo_db

    env = environment
    process, log = env.start_run(name="initial")
    assert _wait(process, RUN_TIMEOUT, log) == 0, log.read_text()[-2500:]
    known = set(env.helper("inspect")["run_ids"])
    env.start_daemon()
    # the sensor's first evaluation only records the source's watermarks: change the source after it
    daemon_log, deadline = env.logs / "daemon.log", time.monotonic() + RUN_TIMEOUT
    while "Sensor source_changes" not in daemon_log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the source sensor was never evaluated"
        time.sleep(2)
    mutate_demo_db(f"sqlite:///{env.workdir / 'source_demo.db'}", seed=3, new=5, edits=5)
    deadline = time.monotonic() + SENSOR_INTERVAL + RUN_TIMEOUT
    while not set(env.helper("inspect")["run_ids"]) - known - {None}:
        assert time.monotonic() < deadline, "the sensor launched no run"
        time.sleep(2)
    beside, beside_log = env.start_run(name="beside")
    code = _wait(beside, RUN_TIMEOUT, beside_log)
    if code != 0:
        assert REFUSAL.search(beside_log.read_text()[-2000:]), beside_log.read_text()[-2500:]
    while env.helper("inspect")["unfinished_runs"]:
        assert time.monotonic() < deadline + RUN_TIMEOUT, "the sensor's run did not finish"
        time.sleep(3)
    _assert_next_run_is_clean(env)
    _assert_books_right(env)
    _assert_nothing_held(env)


# ----------------------------------------------------------------------------- stopping


def _send(process: subprocess.Popen, how: str) -> None:
    """SIGTERM to the command itself (a supervisor, `timeout`); SIGINT to its group (Ctrl-C in a terminal)."""
    if how == "SIGTERM":
        process.send_signal(signal.SIGTERM)
    else:
        os.killpg(process.pid, signal.SIGINT)


def _assert_ends_soon(process: subprocess.Popen, log: Path, how: str) -> float:
    sent = time.monotonic()
    try:
        process.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        kill_group(process)
        process.wait(timeout=30)
        pytest.fail(f"{how}: `qbo-pipeline run` still running {STOP_WITHIN} s after the signal; "
                    f"console tail:\n{log.read_text()[-2000:]}")
    deadline = time.monotonic() + 10
    while group_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = group_members(process.pid)
    kill_group(process)
    assert not left, f"{how}: processes of the command outlived it: {left}"
    return time.monotonic() - sent


@pytest.mark.timeout(900)
@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_a_signal_ends_a_run_while_it_exports_and_leaves_nothing_held(environment, how):
    env = environment
    process, log = env.start_run(name=f"stop-{how}")
    _wait_for_writes(env, process)
    _send(process, how)
    _assert_ends_soon(process, log, how)
    _assert_nothing_held(env)
    _assert_next_run_is_clean(env)
    _assert_books_right(env)


@pytest.mark.timeout(900)
def test_sigterm_ends_a_run_waiting_for_another_run_of_its_company(environment):
    env = environment
    first, first_log = env.start_run(name="first")
    _wait_for_writes(env, first)
    second, second_log = env.start_run(name="second")
    time.sleep(12)  # long enough to reach its wait (or to refuse)
    if second.poll() is None:
        _send(second, "SIGTERM")
        _assert_ends_soon(second, second_log, "SIGTERM")
    else:
        assert REFUSAL.search(second_log.read_text()[-2000:]), second_log.read_text()[-2500:]
    assert _wait(first, RUN_TIMEOUT, first_log) == 0, first_log.read_text()[-2500:]
    _assert_nothing_held(env)
    _assert_books_right(env)


@pytest.mark.timeout(900)
def test_sigterm_ends_a_run_after_a_killed_one_and_nothing_stays_held(environment):
    """A run SIGKILLed while exporting, then the next run: it must not wait on what the killed one
    left behind, and if it waits anywhere a signal must end it within seconds."""
    env = environment
    killed, _ = env.start_run(name="killed")
    _wait_for_writes(env, killed)
    kill_group(killed)
    killed.wait(timeout=30)
    process, log = env.start_run(name="after-kill")
    deadline = time.monotonic() + 25
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if process.poll() is None:
        _send(process, "SIGTERM")
        _assert_ends_soon(process, log, "SIGTERM")
    _assert_nothing_held(env)
    _assert_next_run_is_clean(env)
    _assert_books_right(env)
