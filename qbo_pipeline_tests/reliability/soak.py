"""The black-box soak: ``qbo-pipeline run`` killed with SIGKILL again and again, then the books checked.

Drives the product only as a user does. A sandbox process with its fault injection on
(429, 5xx, connections closed after commit, 6000, stale SyncTokens; access tokens expired
mid-run through ``/admin/tokens/expire``) stands in for Intuit. The harness starts
``qbo-pipeline run --config FILE`` as a subprocess in its own process group and SIGKILLs the
whole group, either at a random moment or right after the sandbox counted a random 1-3
write requests of it (the sandbox's ``/admin/requests`` counters are the request log the
kills are timed on). Between attempts the source changes (``mutate_demo_db``, what
``qbo-pipeline demo mutate`` runs). With ``daemon=True`` a ``dagster-daemon`` runs beside it
with the source sensor on, and its run workers are killed too.

At the end: faults off, one clean ``qbo-pipeline run`` that must finish on its own (no manual
step), then the checks: the books over the QBO API against the source (0 duplicates, 0
missing, every amount and payment application equal), 0 Dagster runs left unfinished, 0
pool slots claimed or steps pending, no ledger lock and no ledger run left ``running``, and
one more run that makes 0 write requests.

A run that stops making progress (no request reaches the sandbox for ``stall_seconds``) is
*stuck*: the harness records it (with the tail of the run's console), kills it and, when
``repair_stuck`` is set, performs the manual step an operator would (mark the company's
unfinished Dagster runs failed, free their pool slots) so the soak can go on; each such
step is counted as a finding. The same code runs in ``make test`` (a few kills) and in
``make bench`` (``bench/bench_soak.py``, 100 kills or more).

``python -m qbo_pipeline_tests.reliability.soak inspect|repair|baseline|books`` are the
helpers the harness runs in a child process with the product's environment (so the harness
never holds the Dagster instance or the ledger open itself).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COMPANY = "demo"
UNFINISHED = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
# Rates at which the sandbox misbehaves while the soak kills runs (turned off for the final checks).
DEFAULT_FAULTS = {"rate_429": 0.03, "rate_500": 0.01, "rate_503": 0.01, "close_after_commit": 0.02,
                  "one_name_at_a_time": 0.02, "stale_sync_token": 0.05}
NO_FAULTS = {"replace": True}
# A run busier than this share of one core is working (see ProgressWatch); the harness polls this often.
CPU_BUSY_SHARE = 0.6
POLL_SECONDS = 0.03
SOURCE_SENSOR = "source_changes"  # qbo_pipeline/defs/sensors.py


@dataclass
class SoakOptions:
    """What the soak does; the defaults are the small version in ``make test``."""

    kills: int = 4
    scale: float = 0.01
    seed: int = 17
    faults: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FAULTS))
    after_write_share: float = 0.6  # share of kills timed right after writes (the rest at random moments)
    mutate_new: int = 3  # new invoices per source change between attempts
    mutate_edits: int = 3
    expire_tokens_every: int = 3  # every n-th attempt the access tokens expire after its first request
    stall_seconds: float = 45.0  # no request, no console line, little CPU for this long: the run is stuck
    run_timeout: float = 240.0  # a run that has not ended after this is stuck too
    repair_stuck: bool = True  # do the operator's manual step on a stuck run (and count it) to go on
    max_attempts: int | None = None  # attempts cap (default 3 x kills)
    max_seconds: float | None = None  # wall-time cap of the kill phase
    instance: str = "sqlite"  # sqlite | postgres (docs/dagster.postgres.yaml; needs DAGSTER_PG_URL)
    daemon: bool = False  # kill runs the dagster-daemon launches (source sensor, backfills) instead of `run`s
    daemon_kill_share: float = 0.25  # daemon mode: share of kills that take the whole daemon (and its workers)
    launch_timeout: float = 150.0  # daemon mode: a launched run must have started within this
    companies: tuple[str, ...] = (COMPANY,)
    # options.sync_start_date this many days back: Dagster's per-day bookkeeping of the current run
    # path grows with the days exported, so a short history keeps each attempt short (None: the default)
    history_days: int | None = 45
    progress: bool = True  # one line per attempt on stderr


@dataclass
class Attempt:
    number: int
    kind: str  # cli | daemon
    plan: str  # after_writes | random | finish
    killed: bool
    seconds: float
    writes: int
    requests: int
    returncode: int | None
    stuck: bool = False
    note: str = ""
    run_seconds: float | None = None  # daemon mode: from the run's worker starting to its end (times random kills)


@dataclass
class SoakReport:
    """What the soak did and found; ``problems`` empty means every promise held."""

    options: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    stuck: list[dict[str, Any]] = field(default_factory=list)  # each: attempt, why, log tail
    manual_steps: list[dict[str, Any]] = field(default_factory=list)
    final_run: dict[str, Any] = field(default_factory=dict)
    daemon_final_run: dict[str, Any] = field(default_factory=dict)  # daemon mode: the sensor's run after the kills
    books: dict[str, Any] = field(default_factory=dict)
    leftovers: dict[str, Any] = field(default_factory=dict)
    again: dict[str, Any] = field(default_factory=dict)
    faults_survived: dict[str, int] = field(default_factory=dict)
    tokens_expired: int = 0
    wall_seconds: float = 0.0
    storage: str = ""  # the Dagster run storage the run path used (checked for a non-SQLite instance)
    capped: str = ""  # why the kill phase ended before options.kills (a time cap is not a product defect)
    problems: list[str] = field(default_factory=list)

    @property
    def kills(self) -> int:
        return sum(1 for a in self.attempts if a.killed)

    @property
    def kills_after_writes(self) -> int:
        return sum(1 for a in self.attempts if a.killed and a.writes > 0)

    def summary(self) -> str:
        books = self.books
        return (f"soak: {self.kills} SIGKILLs ({self.kills_after_writes} after writes) in {len(self.attempts)} attempts, "
                f"{len(self.stuck)} stuck run(s), {len(self.manual_steps)} manual step(s); "
                f"books: {books.get('found', '?')} records, {len(books.get('missing', []))} missing, "
                f"{len(books.get('doubled', {}))} doubled, {len(books.get('extra', []))} extra; "
                f"leftovers {self.leftovers}; faults survived {self.faults_survived}, tokens expired "
                f"{self.tokens_expired}; {self.wall_seconds:.0f} s{'; ' + self.capped if self.capped else ''}; problems: {self.problems or 'none'}")

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kills"], data["kills_after_writes"] = self.kills, self.kills_after_writes
        return data


# ----------------------------------------------------------------------------- processes


def start_group(command: list[str], *, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """A child in its own process group (as a terminal or a supervisor starts it), output to ``log_path``."""
    with open(log_path, "ab") as out:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def stop_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the group, SIGKILL it if it is still there after ``timeout``; reap the child."""
    if process.poll() is None:
        kill_group(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    kill_group(process, signal.SIGKILL)  # whatever the leader left behind in its group
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def group_members(pgid: int) -> list[int]:
    """Processes still alive in a process group (read from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields_after_name = stat.rsplit(")", 1)[1].split()
        if fields_after_name[0] != "Z" and int(fields_after_name[2]) == pgid:
            members.append(int(entry.name))
    return members


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) the live members of a process group have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in group_members(pgid):
        try:
            fields_after_name = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields_after_name[11]) + int(fields_after_name[12])) / ticks
    return total


def processes_matching(text: str) -> list[int]:
    """Pids whose command line contains ``text`` (the daemon's run workers carry their run id)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(int(entry.name))
    return found


# ----------------------------------------------------------------------------- the environment


class SoakEnvironment:
    """A workdir with a demo source, a fault-injecting sandbox process and a pipeline file that
    points the companies at it; commands run with this state folder and Dagster home."""

    def __init__(self, workdir: Path, options: SoakOptions) -> None:
        self.workdir = workdir
        self.options = options
        self.state = workdir / "var"
        self.home = self.state / "dagster_home"
        self.config_file = workdir / "pipeline.yaml"
        self.logs = workdir / "logs"
        self.sandboxes: dict[str, subprocess.Popen] = {}  # one sandbox process per company (its own QBO)
        self.urls: dict[str, str] = {}
        self.daemon: subprocess.Popen | None = None
        self.last_killed: str | None = None  # daemon mode: the run the last kill ended (its retry comes next)
        self.realms: dict[str, str] = {}
        self.baseline: dict[str, dict[str, list[str]]] = {}
        self.run_counter = 0
        self.tokens_expired = 0
        self.started: list[subprocess.Popen] = []  # every run started, so close() leaves none behind

    # -- setup ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {**os.environ, "QBO_PIPELINE_STATE_DIR": str(self.state), "DAGSTER_HOME": str(self.home),
               "QBO_PIPELINE_CONFIG": str(self.config_file), "QBO_CLIENT_SECRET": "local-client-secret",
               "PYTHONUNBUFFERED": "1"}
        env.pop("QBO_LOCAL_URL", None)
        return env

    def start(self) -> None:
        from qbo_pipeline.source.demo import init_demo_db

        self.logs.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        for index, key in enumerate(self.options.companies):
            init_demo_db(f"sqlite:///{self.workdir / f'source_{key}.db'}", scale=self.options.scale,
                         seed=self.options.seed + index)
        for key in self.options.companies:
            self._start_sandbox(key)
        self.write_config()
        # the instance file a user puts in DAGSTER_HOME (`make`, `qbo-pipeline ui` copy the project's; a
        # team copies docs/dagster.postgres.yaml): the daemon reads it before any `qbo-pipeline run`
        template = "docs/dagster.postgres.yaml" if self.options.instance == "postgres" else "dagster.yaml"
        (self.home / "dagster.yaml").write_text((ROOT / template).read_text())
        for key in self.options.companies:
            answer = self.helper("baseline", key)
            self.realms[key] = answer["realm"]
            self.baseline[key] = answer["baseline"]

    @property
    def url(self) -> str:
        """The sandbox of the first company (where the soak's faults and token expiries go)."""
        return self.urls[self.options.companies[0]]

    def _start_sandbox(self, key: str) -> None:
        ready = self.workdir / f"sandbox_{key}.ready"
        ready.unlink(missing_ok=True)
        seed = str(self.options.seed)
        sandbox = self.sandboxes[key] = start_group(
            [sys.executable, "-m", "qbo_pipeline.sandbox", "serve", "--host", "127.0.0.1", "--port", "0",
             "--data", str(self.workdir / f"sandbox_{key}.sqlite3"), "--admin", "--auto-consent", "--no-limits",
             "--fault-seed", seed, "--ready-file", str(ready), "--log-level", "warning"],
            env=self.env(), log_path=self.logs / f"sandbox_{key}.log")
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text().strip()):
            if sandbox.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox did not start; see {self.logs / f'sandbox_{key}.log'}")
            time.sleep(0.05)
        self.urls[key] = ready.read_text().strip()

    def write_config(self) -> None:
        """The pipeline file: each company its own demo source, all pointed at the soak's sandbox."""
        companies = [{"key": key, "environment": "local", "base_url": self.urls[key],
                      "source": {"url": f"sqlite:///{self.workdir / f'source_{key}.db'}"}}
                     for key in self.options.companies]
        config: dict[str, Any] = {
            "source": {"url": f"sqlite:///{self.workdir / f'source_{self.options.companies[0]}.db'}"},
            "ledger": {"url": f"sqlite:///{self.state / 'ledger.db'}"}, "companies": companies}
        if self.options.history_days:
            start = date.today() - timedelta(days=self.options.history_days)
            config["options"] = {"sync_start_date": start.isoformat()}
        self.config_file.write_text(yaml.safe_dump(config, sort_keys=False))

    def close(self) -> None:
        for process in self.started:
            kill_group(process)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        if self.daemon is not None:
            stop_group(self.daemon)
            self.daemon = None
        for sandbox in self.sandboxes.values():
            stop_group(sandbox)
        self.sandboxes.clear()

    # -- the sandbox's admin API -----------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        answer = httpx.request(method, f"{self.urls[key] if key else self.url}/admin/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def counters(self, key: str = COMPANY) -> dict[str, int]:
        return self.admin("GET", "requests", key=key).get(self.realms[key], {})

    def requests_made(self, key: str = COMPANY) -> int:
        return int(self.counters(key).get("total", 0))

    def writes_made(self, key: str = COMPANY) -> int:
        counters = self.counters(key)
        return int(counters.get("batch", 0)) + int(counters.get("writes", 0))

    def set_faults(self, faults: dict[str, Any]) -> None:
        for key in self.options.companies:
            self.admin("POST", "faults", faults, key=key)

    # -- the product --------------------------------------------------------------------

    def command(self, *args: str) -> list[str]:
        return [str(BIN / "qbo-pipeline"), *args]

    def start_run(self, *args: str, name: str = "run") -> tuple[subprocess.Popen, Path]:
        """``qbo-pipeline run --config FILE ARGS`` in its own process group; its console goes to a log file."""
        self.run_counter += 1
        log_path = self.logs / f"{self.run_counter:04d}-{name}.log"
        command = self.command("run", "--config", str(self.config_file), *args)
        process = start_group(command, env=self.env(), log_path=log_path)
        self.started.append(process)
        return process, log_path

    def helper(self, action: str, *args: str, timeout: float = 300) -> Any:
        """Run one of this module's helper actions in a child with the product's environment."""
        done = subprocess.run([sys.executable, "-m", __name__, action, *args], env=self.env(), cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
        lines = [line for line in done.stdout.splitlines() if line.startswith("SOAK ")]
        if done.returncode != 0 or not lines:
            raise RuntimeError(f"soak helper {action} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        return json.loads(lines[-1].removeprefix("SOAK "))

    def mutate(self, seed: int, key: str = COMPANY) -> None:
        from qbo_pipeline.source.demo import mutate_demo_db

        mutate_demo_db(f"sqlite:///{self.workdir / f'source_{key}.db'}", seed=seed, new=self.options.mutate_new,
                       edits=self.options.mutate_edits)

    # -- the daemon -------------------------------------------------------------------------

    def start_daemon(self, *, sensors: bool = True) -> None:
        """``dagster-daemon run`` on the project's workspace (its own process group: the daemon, its
        code server and the run workers the code server spawns); the source sensor turned on once."""
        workspace = str(ROOT / "workspace.yaml")
        if sensors:
            # what `qbo-pipeline ui` does before it starts Dagster: create the instance's storages once,
            # under the project's lock (the daemon and `dagster sensor list` starting together on a fresh
            # SQLite instance each stamp its schema: "more than one head")
            self.helper("init")
        self.daemon = start_group([str(BIN / "dagster-daemon"), "run", "-w", workspace], env=self.env(),
                                  log_path=self.logs / "daemon.log")
        self.started.append(self.daemon)
        if not sensors:
            return
        started = subprocess.run([str(BIN / "dagster"), "sensor", "start", SOURCE_SENSOR, "-w", workspace],
                                 env=self.env(), cwd=ROOT, capture_output=True, text=True, timeout=300)
        if started.returncode != 0:
            raise RuntimeError(f"could not start the {SOURCE_SENSOR} sensor: {started.stdout[-2000:]} {started.stderr[-2000:]}")

    def kill_daemon(self) -> None:
        """SIGKILL the daemon's whole process group: daemon, code server and every run worker."""
        if self.daemon is not None:
            kill_group(self.daemon)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.daemon.wait(timeout=30)
            self.daemon = None

    def worker_pids(self) -> list[int]:
        """The daemon's run workers: the processes its code server spawns (``multiprocessing`` spawn)
        for each launched run, in the daemon's process group."""
        if self.daemon is None:
            return []
        found = []
        for pid in group_members(self.daemon.pid):
            try:
                cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in cmdline:
                found.append(pid)
        return found

    def nudge_sensor(self) -> None:
        """Let the daemon evaluate the source sensor at its next iteration instead of after its
        5-minute interval (the harness forgets the time of the sensor's last tick; nothing else)."""
        self.helper("nudge")

    def launch_backfill(self, key: str = COMPANY) -> subprocess.CompletedProcess:
        """``dagster job backfill`` of the export job for the company: the run is queued and the daemon launches it."""
        return subprocess.run([str(BIN / "dagster"), "job", "backfill", "-j", "export", "--partitions", key,
                               "--noprompt", "-w", str(ROOT / "workspace.yaml")], env=self.env(), cwd=ROOT,
                              capture_output=True, text=True, timeout=300)

    def dagster_runs(self) -> dict[str, dict[str, Any]]:
        """Every run of the (SQLite) instance with its status and tags, read straight from its run
        storage, read-only (fast enough to time kills on; the daemon soak runs on SQLite)."""
        path = self.home / "history" / "runs.db"
        if not path.exists():
            return {}
        for _ in range(20):
            try:
                with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
                    runs = {run_id: {"status": status, "created": created, "tags": {}}
                            for run_id, status, created in db.execute("select run_id, status, create_timestamp from runs")}
                    for run_id, key, value in db.execute("select run_id, key, value from run_tags"):
                        if run_id in runs:
                            runs[run_id]["tags"][key] = value
                    return runs
            except sqlite3.OperationalError:
                time.sleep(0.1)
        return {}


# ----------------------------------------------------------------------------- one attempt


class ProgressWatch:
    """Tells a working run from a waiting one: progress is a request reaching QBO, a line on the
    run's console, or CPU use above ``CPU_BUSY_SHARE`` of a core (a run polling for a pool slot
    uses about a quarter of one on 2 cores, so CPU alone does not tell)."""

    def __init__(self, env: SoakEnvironment, process: subprocess.Popen, log_path: Path) -> None:
        self.env, self.process, self.log_path = env, process, log_path
        self.last_progress = self.last_check = time.monotonic()
        self.requests, self.log_size, self.cpu = env.requests_made(), 0, 0.0

    def stalled_for(self, requests: int) -> float:
        now = time.monotonic()
        if requests != self.requests:
            self.requests, self.last_progress = requests, now
        if now - self.last_check >= 1.0:
            size = self.log_path.stat().st_size if self.log_path.exists() else 0
            cpu = group_cpu_seconds(self.process.pid)
            if size != self.log_size or cpu - self.cpu > CPU_BUSY_SHARE * (now - self.last_check):
                self.last_progress = now
            self.log_size, self.cpu, self.last_check = size, cpu, now
        return now - self.last_progress


def _wait_for_kill_moment(env: SoakEnvironment, process: subprocess.Popen, log_path: Path, rng: random.Random,
                          plan: str, expected_seconds: float, expire: bool = False) -> tuple[bool, str]:
    """Wait until the moment to kill (or the end of the run); (stuck, why) when it hangs."""
    options = env.options
    start = time.monotonic()
    writes_before, target = env.writes_made(), rng.randint(1, 3)
    kill_at = start + rng.uniform(0.5, max(1.0, expected_seconds))
    watch = ProgressWatch(env, process, log_path)
    first_requests = watch.requests
    while process.poll() is None:
        now = time.monotonic()
        counters = env.counters()
        requests = int(counters.get("total", 0))
        writes = int(counters.get("batch", 0)) + int(counters.get("writes", 0))
        if expire and requests > first_requests:
            env.tokens_expired += env.admin("POST", "tokens/expire", {})["expired"]
            expire = False
        if plan == "after_writes" and writes - writes_before >= target:
            time.sleep(rng.uniform(0.0, 0.05))  # somewhere inside the next requests
            return False, ""
        if plan == "random" and now >= kill_at:
            return False, ""
        if watch.stalled_for(requests) > options.stall_seconds:
            return True, (f"waiting: no request to QBO, no console output and little CPU for "
                          f"{options.stall_seconds:.0f} s")
        if now - start > options.run_timeout:
            return True, f"still running after {options.run_timeout:.0f} s"
        time.sleep(POLL_SECONDS)
    return False, ""


def run_attempt(env: SoakEnvironment, number: int, rng: random.Random, plan: str, expected_seconds: float,
                report: SoakReport) -> Attempt:
    requests_before, writes_before = env.requests_made(), env.writes_made()
    expire = env.options.expire_tokens_every > 0 and number % env.options.expire_tokens_every == 0
    started = time.monotonic()
    process, log_path = env.start_run(name=f"attempt-{number}-{plan}")
    stuck, why = _wait_for_kill_moment(env, process, log_path, rng, plan, expected_seconds, expire)
    alive = process.poll() is None
    if alive:
        kill_group(process)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=30)
    kill_group(process)  # nothing of the group may outlive the kill
    attempt = Attempt(number, "cli", plan, killed=alive and not stuck, seconds=round(time.monotonic() - started, 2),
                      writes=env.writes_made() - writes_before, requests=env.requests_made() - requests_before,
                      returncode=process.returncode, stuck=stuck, note=why)
    if not alive and process.returncode not in (0,):
        attempt.note = f"exited {process.returncode}: " + _tail(log_path, 600)
    if stuck:
        report.stuck.append({"attempt": number, "why": why, "log": str(log_path), "tail": _tail(log_path, 1500),
                             "instance": env.helper("inspect")})
        if env.options.repair_stuck:
            report.manual_steps.append({"attempt": number, **env.helper("repair")})
    return attempt


def _tail(path: Path, chars: int) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def run_to_end(env: SoakEnvironment, name: str, report: SoakReport, *args: str) -> dict[str, Any]:
    """One ``qbo-pipeline run`` left alone: must end by itself with exit code 0."""
    writes_before = env.writes_made()
    started = time.monotonic()
    process, log_path = env.start_run(*args, name=name)
    stuck, why = _wait_for_kill_moment(env, process, log_path, random.Random(0), "finish", 0)
    if stuck:
        kill_group(process)
        process.wait(timeout=30)
        report.problems.append(f"{name}: stuck ({why}); the next run needs a manual step")
        report.stuck.append({"attempt": name, "why": why, "log": str(log_path), "tail": _tail(log_path, 1500),
                             "instance": env.helper("inspect")})
    return {"returncode": process.returncode, "stuck": stuck, "seconds": round(time.monotonic() - started, 2),
            "writes": env.writes_made() - writes_before, "log": str(log_path),
            "tail": _tail(log_path, 1200) if process.returncode else ""}


# ----------------------------------------------------------------------------- the soak


def soak(workdir: Path, options: SoakOptions) -> SoakReport:
    """Kill ``qbo-pipeline run`` ``options.kills`` times, then check the books and what is left held."""
    report = SoakReport(options=dataclasses.asdict(options))
    env = SoakEnvironment(workdir, options)
    wall = time.monotonic()
    try:
        env.start()
        env.set_faults({"replace": True, "seed": options.seed, **options.faults})
        if options.daemon:
            env.start_daemon()  # the sensor's first tick launches the first export (the history) at once
        rng = random.Random(options.seed)
        expected_seconds = 20.0
        max_attempts = options.max_attempts or 3 * options.kills
        number = 0
        while report.kills < options.kills and number < max_attempts:
            if options.max_seconds and time.monotonic() - wall > options.max_seconds:
                report.capped = f"wall-time cap of {options.max_seconds:.0f} s reached after {report.kills} kills"
                break
            number += 1
            plan = "after_writes" if rng.random() < options.after_write_share else "random"
            if options.daemon:
                attempt = daemon_attempt(env, number, rng, plan, expected_seconds, report)
            else:
                attempt = run_attempt(env, number, rng, plan, expected_seconds, report)
            report.attempts.append(attempt)
            if options.progress:
                print(f"soak attempt {number}: {attempt.kind} {attempt.plan} killed={attempt.killed} stuck={attempt.stuck} "
                      f"{attempt.seconds} s, {attempt.writes} writes, exit {attempt.returncode} {attempt.note[:200]}",
                      file=sys.stderr, flush=True)
            if number == 1 and options.instance != "sqlite":
                # the instance the run path really used (its dagster.yaml may have been replaced)
                report.storage = env.helper("inspect")["storage"]
                if not report.storage.lower().startswith(options.instance):
                    report.problems.append(f"the run path did not use the {options.instance} instance: "
                                           f"its storage is {report.storage}")
            if not attempt.killed and not attempt.stuck and attempt.returncode == 0:
                expected_seconds = max(2.0, attempt.run_seconds or attempt.seconds)  # a finished run tells how long one takes
            if attempt.stuck and not options.repair_stuck:
                # the promise "the next run finishes with no manual step" is already broken; the
                # checks after it would only wait on the same stuck slot
                report.problems.append(f"attempt {number} got stuck ({attempt.note}); repair_stuck is off: soak "
                                       "stopped before the final checks")
                return report
            if not options.daemon:
                env.mutate(seed=options.seed * 1000 + number)
        report.tokens_expired = env.tokens_expired
        report.faults_survived = env.admin("GET", "faults/stats")
        verify(env, report)
    finally:
        env.close()
        report.wall_seconds = round(time.monotonic() - wall, 1)
    return report


FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


def _launched_by(tags: dict[str, str]) -> str:
    if "dagster/backfill" in tags:
        return "backfill"
    if "dagster/sensor_name" in tags:
        return "sensor"
    if "dagster/parent_run_id" in tags:
        return "retry"
    return "other"


def daemon_attempt(env: SoakEnvironment, number: int, rng: random.Random, plan: str, expected_seconds: float,
                   report: SoakReport) -> Attempt:
    """One run launched through the daemon (the source sensor or a backfill), SIGKILLed at a random
    moment or right after its first writes: its run worker alone, or the whole daemon with it."""
    options = env.options
    # sensor and backfill in turn; every n-th kill takes the whole daemon (n = 1 / daemon_kill_share)
    how = "sensor" if number % 2 else "backfill"
    every = round(1 / options.daemon_kill_share) if options.daemon_kill_share > 0 else 0
    target = "daemon" if every and (report.kills + 1) % every == 0 else "worker"
    if env.daemon is None:
        env.start_daemon(sensors=False)
    started = time.monotonic()
    # what the last kill left (its retry, a queued run) runs first, on its own; then the source
    # changes, so the sensor has something to launch and the backfill something to write
    idle_since: float | None = None
    while True:
        busy = [r[:8] for r, v in env.dagster_runs().items() if v["status"] not in FINISHED]
        idle_since = None if busy else (idle_since or time.monotonic())
        if idle_since is not None and not _retry_pending(env, idle_since):
            break
        if time.monotonic() - started > options.run_timeout:
            why = f"runs {busy} still unfinished {options.run_timeout:.0f} s after the last kill"
            report.stuck.append({"attempt": number, "why": why, "log": str(env.logs / "daemon.log"),
                                 "tail": _tail(env.logs / "daemon.log", 1500), "instance": env.helper("inspect")})
            if options.repair_stuck:
                report.manual_steps.append({"attempt": number, **env.helper("repair")})
            return Attempt(number, how, plan, False, round(time.monotonic() - started, 2), 0, 0, None,
                           stuck=True, note=why)
        time.sleep(0.5)
    env.mutate(seed=options.seed * 1000 + number)
    requests_before, writes_before = env.requests_made(), env.writes_made()
    known = set(env.dagster_runs())
    started = time.monotonic()
    note = ""
    if how == "sensor":
        env.nudge_sensor()
    else:
        done = env.launch_backfill()
        if done.returncode != 0:
            note = f"dagster job backfill exited {done.returncode}: {(done.stdout + done.stderr)[-600:]}"
    writes_target = rng.randint(1, 2)  # an incremental run after one source change makes 2-4 write requests
    kill_at: float | None = None
    writes_base: int | None = None
    started_at: float | None = None
    run_seconds: float | None = None
    run_id: str | None = None
    last_requests, last_progress, cpu_seen, cpu_checked = env.requests_made(), time.monotonic(), 0.0, time.monotonic()
    daemon_log = env.logs / "daemon.log"
    log_seen = daemon_log.stat().st_size if daemon_log.exists() else 0
    stuck, why, killed = False, "", False
    while True:
        now = time.monotonic()
        runs = env.dagster_runs()
        if run_id is None:
            new = sorted((r for r in runs if r not in known), key=lambda r: runs[r]["created"] or 0)
            mine = [r for r in new if _launched_by(runs[r]["tags"]) == how] or new
            if mine:
                run_id = mine[0]
            elif now - started > options.launch_timeout:
                waiting = {r[:8]: v["status"] for r, v in runs.items() if v["status"] not in FINISHED}
                stuck, why = True, f"the {how} launched no run within {options.launch_timeout:.0f} s (unfinished: {waiting})"
                break
        status = runs.get(run_id, {}).get("status") if run_id else None
        if status in FINISHED:
            note = note or f"{how} run {run_id[:8]} ended {status} before the kill"
            run_seconds = round(now - started_at, 2) if started_at is not None else None
            break
        counters = env.counters()
        requests = int(counters.get("total", 0))
        writes = int(counters.get("batch", 0)) + int(counters.get("writes", 0))
        if requests != last_requests:
            last_requests, last_progress = requests, now
        if now - cpu_checked >= 1.0:  # progress is also a line the run's worker logs (to the daemon's console)
            cpu = sum(group_cpu_seconds_of(pid) for pid in env.worker_pids())
            logged, log_seen = _read_from(daemon_log, log_seen)
            if cpu - cpu_seen > CPU_BUSY_SHARE * (now - cpu_checked) or (run_id and run_id.encode() in logged):
                last_progress = now
            cpu_seen, cpu_checked = cpu, now
        if status == "STARTED" and kill_at is None:  # its worker runs: time the kill from now, count its writes
            kill_at, writes_base, started_at = now + rng.uniform(0.5, max(1.0, expected_seconds)), writes, now
        due = (plan == "after_writes" and writes_base is not None and writes - writes_base >= writes_target) or (
            plan == "random" and kill_at is not None and now >= kill_at)
        if status == "STARTED" and due and env.worker_pids():
            if plan == "after_writes":
                time.sleep(rng.uniform(0.0, 0.05))
            pids = env.worker_pids()
            if target == "daemon":
                env.kill_daemon()
            else:
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            killed, env.last_killed = True, run_id
            note = f"{how} run {run_id[:8]}: SIGKILL of the {target} (workers {pids})"
            break
        if run_id is not None and status in ("QUEUED", "NOT_STARTED", "STARTING") and now - last_progress > options.stall_seconds:
            stuck, why = True, f"{how} run {run_id[:8]} {status} for {options.stall_seconds:.0f} s with nothing else running"
            break
        if status == "STARTED" and now - last_progress > options.stall_seconds:
            stuck, why = True, (f"{how} run {run_id[:8]} STARTED: no request to QBO and little CPU for "
                                f"{options.stall_seconds:.0f} s")
            break
        if now - started > options.run_timeout:
            stuck, why = True, f"{how} run {(run_id or '?')[:8]} {status} after {options.run_timeout:.0f} s"
            break
        time.sleep(POLL_SECONDS * 3)
    if target == "daemon" and killed:
        env.start_daemon(sensors=False)
    final = env.dagster_runs().get(run_id or "", {}).get("status")
    attempt = Attempt(number, how, plan, killed=killed, seconds=round(time.monotonic() - started, 2),
                      writes=env.writes_made() - writes_before, requests=env.requests_made() - requests_before,
                      returncode=0 if final == "SUCCESS" and not killed else None, stuck=stuck, note=why or note,
                      run_seconds=run_seconds)
    if stuck:
        report.stuck.append({"attempt": number, "why": why, "log": str(env.logs / "daemon.log"),
                             "tail": _tail(env.logs / "daemon.log", 1500), "instance": env.helper("inspect")})
        if options.repair_stuck:
            report.manual_steps.append({"attempt": number, **env.helper("repair")})
    return attempt


def _retry_pending(env: SoakEnvironment, since: float, grace: float = 30.0) -> bool:
    """The daemon retries a killed run once (run_retries in dagster.yaml): until that retry exists
    (for up to ``grace`` seconds after the runs went idle), the last kill is not over. A source change made before it would
    be exported by the retry, and the next attempt's own run would find nothing to write."""
    if env.last_killed is None or time.monotonic() - since > grace:
        return False
    if any(v["tags"].get("dagster/parent_run_id") == env.last_killed for v in env.dagster_runs().values()):
        env.last_killed = None
        return False
    return True


def _read_from(path: Path, offset: int) -> tuple[bytes, int]:
    """What was appended to ``path`` since ``offset``, and the new offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return b"", offset
    return data, offset + len(data)


def group_cpu_seconds_of(pid: int) -> float:
    """CPU time (user + system) one process has used so far (0 when it is gone)."""
    try:
        fields_after_name = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields_after_name[11]) + int(fields_after_name[12])) / os.sysconf("SC_CLK_TCK")


def daemon_run_to_end(env: SoakEnvironment, report: SoakReport) -> dict[str, Any]:
    """Faults off, the source changed: the sensor's run (launched by the daemon) must finish on its own."""
    if env.daemon is None:
        env.start_daemon(sensors=False)
    started = time.monotonic()
    deadline = started + env.options.launch_timeout + 2 * env.options.run_timeout
    # what the kills left (retries, queued runs) must end on its own first
    while any(v["status"] not in FINISHED for v in env.dagster_runs().values()) and time.monotonic() < deadline:
        time.sleep(1)
    env.mutate(seed=env.options.seed * 1000 + 999)
    known = set(env.dagster_runs())
    writes_before, nudged = env.writes_made(), time.monotonic()
    env.nudge_sensor()
    while time.monotonic() < deadline:
        runs = env.dagster_runs()
        new = {r: v for r, v in runs.items() if r not in known}
        if not new and time.monotonic() - nudged > 60:  # a tick the daemon had begun before the change
            env.nudge_sensor()
            nudged = time.monotonic()
        unfinished = [r for r, v in runs.items() if v["status"] not in FINISHED]
        if new and not unfinished:
            statuses = sorted({v["status"] for v in new.values()})
            ok = any(v["status"] == "SUCCESS" for v in new.values())
            if not ok:
                report.problems.append(f"the daemon's run after the kills ended {statuses}, not SUCCESS")
            return {"ok": ok, "runs": {r[:8]: f"{_launched_by(v['tags'])} {v['status']}" for r, v in new.items()},
                    "statuses": statuses, "seconds": round(time.monotonic() - started, 2),
                    "writes": env.writes_made() - writes_before}
        time.sleep(1)
    runs = env.dagster_runs()
    waiting = {r[:8]: f"{_launched_by(v['tags'])} {v['status']}" for r, v in runs.items() if v["status"] not in FINISHED}
    report.problems.append(f"the daemon's run after the kills did not finish on its own: unfinished {waiting}")
    return {"ok": False, "unfinished": waiting, "seconds": round(time.monotonic() - started, 2)}


def verify(env: SoakEnvironment, report: SoakReport) -> None:
    """Faults off; a clean run must finish alone; then the books and what is left held; then a no-op run."""
    env.set_faults(NO_FAULTS)
    if env.options.daemon:  # the clean run is the sensor's, launched by the daemon
        report.daemon_final_run = daemon_run_to_end(env, report)
        stop_group(env.daemon)
        env.daemon = None
        report.final_run = {"returncode": 0 if report.daemon_final_run.get("ok") else 1, "stuck": False,
                            "seconds": report.daemon_final_run.get("seconds", 0),
                            "writes": report.daemon_final_run.get("writes", 0), "log": "", "tail": "",
                            "by": "the daemon (source sensor)"}
    else:
        report.final_run = run_to_end(env, "final", report)
    if report.final_run["stuck"] and not env.options.repair_stuck:
        return  # the next run needs a manual step: the promise is broken, the rest would wait the same way
    if report.final_run["stuck"]:
        report.manual_steps.append({"attempt": "final", **env.helper("repair")})
        report.final_run = run_to_end(env, "final-after-repair", report)
    if report.final_run["returncode"] != 0:
        report.problems.append(f"the clean run exited {report.final_run['returncode']}: {report.final_run['tail'][-600:]}")
    for key in env.options.companies:
        try:
            books = env.helper("books", key, json.dumps(env.baseline[key]))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            report.problems.append(f"{key}: the books check itself failed: {str(exc)[-1500:]}")
            continue
        report.books = books if key == COMPANY else report.books
        for name in ("missing", "extra"):
            if books[name]:
                report.problems.append(f"{key}: {len(books[name])} records {name} in QBO, e.g. {books[name][:2]}")
        if books["doubled"]:
            report.problems.append(f"{key}: {len(books['doubled'])} records more than once in QBO")
    try:
        report.leftovers = env.helper("inspect")
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        report.problems.append(f"inspecting the instance failed: {str(exc)[-1500:]}")
        report.leftovers = {"unfinished_runs": [], "pools": {}, "ledger_locks": {}, "ledger_running": 0}
    left = report.leftovers
    if left["unfinished_runs"]:
        report.problems.append(f"{len(left['unfinished_runs'])} Dagster run(s) left unfinished: {left['unfinished_runs'][:5]}")
    held = {k: v for k, v in left["pools"].items() if v["claimed"] or v["pending"]}
    if held:
        report.problems.append(f"pool slots left held or steps pending: {held}")
    if left["ledger_locks"]:
        report.problems.append(f"ledger export locks left held: {left['ledger_locks']}")
    if left["ledger_running"]:
        report.problems.append(f"{left['ledger_running']} ledger run(s) left 'running'")
    report.again = run_to_end(env, "again", report)
    if report.again["returncode"] != 0 or report.again["writes"] != 0:
        report.problems.append(f"the run after the clean run: exit {report.again['returncode']}, "
                               f"{report.again['writes']} write requests (must be 0, 0)")


# ----------------------------------------------------------------------------- helper actions (child process)


def _instance_state() -> dict[str, Any]:
    import dagster as dg

    from qbo_pipeline.config import load_config
    from qbo_pipeline.ledger import Ledger

    instance = dg.DagsterInstance.get()
    try:
        runs = instance.get_runs()
        storage = type(instance.run_storage).__name__
        unfinished = [{"run_id": r.run_id, "status": r.status.value, "job": r.job_name} for r in runs
                      if r.status.value in UNFINISHED]
        pools = {}
        for key in instance.event_log_storage.get_concurrency_keys():
            info = instance.event_log_storage.get_concurrency_info(key)
            pools[key] = {"claimed": len(info.claimed_slots), "pending": len(info.pending_steps)}
        statuses: dict[str, int] = {}
        for r in runs:
            statuses[r.status.value] = statuses.get(r.status.value, 0) + 1
    finally:
        instance.dispose()
    config = load_config()
    ledger = Ledger(config.ledger.url)
    try:
        locks = {key: str(lock["owner"]) for key in config.company_keys if (lock := ledger.export_lock(key))}
        running = sum(1 for r in ledger.runs(limit=100000) if r.get("status") == "running")
    finally:
        ledger.dispose()
    return {"storage": storage, "runs": statuses, "run_ids": [r.run_id for r in runs], "unfinished_runs": unfinished,
            "pools": pools, "ledger_locks": locks, "ledger_running": running}


def _repair() -> dict[str, Any]:
    """The operator's manual step: mark unfinished runs failed and free their pool slots."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    done = []
    try:
        for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus(s) for s in UNFINISHED])):
            instance.report_run_failed(run, "soak harness: manual repair of a run whose process was killed")
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            done.append(run.run_id)
    finally:
        instance.dispose()
    return {"runs_marked_failed_and_slots_freed": done}


def _init() -> dict[str, Any]:
    from qbo_pipeline.defs.runs import open_instance

    instance = open_instance()
    try:
        return {"storage": type(instance.run_storage).__name__}
    finally:
        instance.dispose()


def _nudge() -> dict[str, Any]:
    """Forget when the running source sensors last ticked, so the daemon evaluates them at its next
    iteration (their 5-minute interval would allow a dozen sensor runs per hour of soak)."""
    import dagster as dg
    from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType

    instance = dg.DagsterInstance.get()
    nudged = []
    try:
        for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            if state.status == InstigatorStatus.RUNNING and "source" in state.instigator_name:
                data = state.instigator_data._replace(last_tick_timestamp=None, last_tick_start_timestamp=None)
                instance.update_instigator_state(state.with_data(data))
                nudged.append(state.instigator_name)
    finally:
        instance.dispose()
    return {"nudged": nudged}


def _client(key: str) -> tuple[Any, Any, Any, Any, Any]:
    from qbo_pipeline import sync
    from qbo_pipeline.config import load_config
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.qbo.client import QboClient

    config = load_config()
    company = config.company(key)
    ledger = Ledger(config.ledger.url)
    vault = sync.open_vault(config, ledger)
    return config, company, ledger, vault, QboClient


def _baseline(key: str) -> dict[str, Any]:
    """Connect the company (what `qbo-pipeline connect` does, headless against the sandbox) and
    note the Ids of the records its sample company already holds."""
    from qbo_pipeline.qbo.auth import connect_headless
    from qbo_pipeline_tests.reliability.reliability_helpers import baseline_ids

    config, company, ledger, vault, client_class = _client(key)
    try:
        realm = connect_headless(vault, company)
        with client_class(company.base_url, realm, vault.token_source(company)) as client:
            baseline = baseline_ids(client)
    finally:
        ledger.dispose()
    return {"realm": realm, "baseline": {k: sorted(v) for k, v in baseline.items()}}


def _books(key: str, baseline_json: str) -> dict[str, Any]:
    """The books check of reliability_helpers, over the QBO API, against what the source says now."""
    from qbo_pipeline_tests.reliability.reliability_helpers import (
        Actual,
        Expected,
        books_difference,
        exportable,
        run_stages,
    )

    config, company, ledger, vault, client_class = _client(key)
    baseline = {k: set(v) for k, v in json.loads(baseline_json).items()}
    try:
        # the stages read the first company's source: make this company the only one
        stage_config = config.model_copy(update={"source": company.source or config.source,
                                                 "companies": [company.model_copy(update={"source": None})]})
        stages = run_stages(stage_config, key)
        # What the product quarantined (its own validation, whose context the test stages may lack:
        # a currency mismatch needs the customer's currency) is not expected in QBO; the corpus
        # tests judge quarantine decisions, the soak judges that the rest is there exactly once.
        from qbo_pipeline.transform.payload import QBO_ENTITY_FOR_SOURCE

        by_product = {(QBO_ENTITY_FOR_SOURCE.get(r["entity"], r["entity"]), str(r["source_id"]))
                      for r in ledger.quarantined(company=key)}
        quarantined = [p for p in stages.payloads if (p.entity, p.source_id) in by_product]
        payloads, blocked = exportable([p for p in stages.payloads if (p.entity, p.source_id) not in by_product])
        quarantined_customers = {str(row.get("display_name")) for row in stages.quarantine
                                 if row.get("entity") == "customers" and row.get("display_name")}
        quarantined_customers |= {str(p.body.get("DisplayName")) for p in quarantined if p.entity == "Customer"}
        expected = Expected(payloads)
        with client_class(company.base_url, vault.realm_id(key), vault.token_source(company)) as client:
            actual = Actual(client, baseline, expected, ignore_customers=quarantined_customers)
            diff = books_difference(expected, actual)
        diff["left_out"] = {"quarantined_by_the_pipeline_only": len(quarantined), "blocked_payloads": len(blocked),
                            "qbo_records_of_quarantined_customers": actual.ignored,
                            "quarantined_customers": sorted(quarantined_customers)}
    finally:
        ledger.dispose()
    diff["doubled"] = {repr(k): v for k, v in diff["doubled"].items()}
    diff["missing"] = [repr(m) for m in diff["missing"][:20]] + ([f"... {len(diff['missing'])} in all"] if len(diff["missing"]) > 20 else [])
    diff["extra"] = [repr(m) for m in diff["extra"][:20]] + ([f"... {len(diff['extra'])} in all"] if len(diff["extra"]) > 20 else [])
    return diff


def main(argv: list[str]) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING)
    action, args = argv[0], argv[1:]
    result = {"inspect": _instance_state, "repair": _repair, "nudge": _nudge, "init": _init, "baseline": _baseline, "books": _books}[action](*args)
    print("SOAK " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
