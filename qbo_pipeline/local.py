"""The embedded defaults: demo source + local QBO sandbox + Dagster, for `make run` and `make ui`.

Everything here is for trying the product on one machine. The sandbox runs as a separate
process (the pipeline never imports it) and is reached over HTTP exactly like Intuit's
servers; the company is connected through the standard OAuth authorization-code flow.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from qbo_pipeline.config import PipelineConfig, load_config, state_dir
from qbo_pipeline.qbo.environments import DEFAULT_LOCAL_PORT as DEFAULT_SANDBOX_PORT
from qbo_pipeline.qbo.environments import LOCAL_PORT_ENV as SANDBOX_PORT_ENV
from qbo_pipeline.qbo.environments import LOCAL_URL_ENV

log = logging.getLogger("qbo_pipeline.local")

LOCAL_CLIENT_SECRET = "local-client-secret"
SANDBOX_START_TIMEOUT_S = 60
# The embedded sandbox's fixed address (DEFAULT_SANDBOX_PORT, 8790) keeps "View in QuickBooks" links
# recorded by one run working after the next start. Not 3000 (Dagster UI), 8765 (OAuth callback).


def sandbox_port(option: int | None = None) -> int:
    """``--sandbox-port``, else ``$QBO_SANDBOX_PORT``, else the fixed default (0: any free port, for tests)."""
    if option is not None:
        return option
    value = os.environ.get(SANDBOX_PORT_ENV, "").strip()
    if not value:
        return DEFAULT_SANDBOX_PORT
    if not value.isdigit() or int(value) > 65535:
        from qbo_pipeline.operator.preflight import PreflightError

        raise PreflightError(f"{SANDBOX_PORT_ENV}={value!r} is not a port number (0-65535); fix or unset it")
    return int(value)




def project_root() -> Path:
    """The checkout holding workspace.yaml and dagster.yaml (the current folder otherwise)."""
    candidate = Path(__file__).resolve().parent.parent
    return candidate if (candidate / "workspace.yaml").exists() else Path.cwd()


# Beside the instance file qbo-pipeline wrote: the SHA-256 of what it wrote. A file whose digest
# still matches is the project's own copy (refreshed when the project's changes); any other file
# is the user's (their PostgreSQL instance, docs/deployment.md) and is never overwritten. Without
# the digest (written by an earlier version), a file beginning with the project file's first line
# is the project's copy.
WRITTEN_MARK = ".dagster.yaml.qbo-pipeline"


def _digest(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def prepare_dagster_home() -> Path:
    """A persistent DAGSTER_HOME in the state folder, with the project's dagster.yaml in it, unless
    the user put their own instance file there (a team's PostgreSQL instance must stay one)."""
    home = Path(os.environ.get("DAGSTER_HOME") or state_dir() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    template = project_root() / "dagster.yaml"
    target, mark = home / "dagster.yaml", home / WRITTEN_MARK
    if not template.exists():
        return home
    wanted = template.read_bytes()
    if target.exists():
        present = target.read_bytes()
        if mark.exists():
            ours = present == wanted or mark.read_text().strip() == _digest(present)
        else:  # written before the digest existed: the project's copies all begin with its first line
            ours = present.splitlines()[:1] == wanted.splitlines()[:1]
        if not ours:
            log.info("using the instance file %s as it is (not the project's copy: left unchanged)", target)
            return home
        if present == wanted and mark.exists():
            return home
    if not target.exists() or target.read_bytes() != wanted:
        shutil.copyfile(template, target)
    mark.write_text(_digest(wanted) + "\n")
    return home


def uses_local_sandbox(config: PipelineConfig) -> bool:
    return any(c.environment == "local" and not c.base_url for c in config.companies)


@contextlib.contextmanager
def local_sandbox(data_file: Path, *, port: int = 0, extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Start the sandbox on a loopback port (0: a free one) in its own process; stop it on exit."""
    from qbo_pipeline.operator.preflight import check_port_free

    check_port_free(port, "the local QBO sandbox",
                    f"stop what uses it (another `qbo-pipeline run` or `ui`?) or pick another port with "
                    f"--sandbox-port or {SANDBOX_PORT_ENV}")
    data_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ready_file = Path(tmp) / "ready"
        log_path = data_file.with_suffix(".log")
        command = [
            sys.executable, "-m", "qbo_pipeline.sandbox", "serve",
            "--host", "127.0.0.1", "--port", str(port), "--data", str(data_file),
            "--auto-consent", "--ready-file", str(ready_file), *extra_args,
        ]  # fmt: skip
        with open(log_path, "ab") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + SANDBOX_START_TIMEOUT_S
            while not (ready_file.exists() and ready_file.read_text().strip()):
                if process.poll() is not None:
                    raise click.ClickException(f"the local QBO sandbox exited at start; see {log_path}")
                if time.monotonic() > deadline:
                    raise click.ClickException(f"the local QBO sandbox did not start in time; see {log_path}")
                time.sleep(0.1)
            yield ready_file.read_text().strip()
        finally:
            stop_process_group(process, timeout=10)


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so the sandbox and Dagster processes are stopped on the way out."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


@contextlib.contextmanager
def child_process(command: list[str]) -> Iterator[subprocess.Popen]:
    """A child in its own process group, stopped (with its own children) on exit."""
    process = subprocess.Popen(command, start_new_session=True)
    try:
        yield process
    finally:
        stop_process_group(process, timeout=30)


def stop_process_group(process: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM a child's process group, SIGKILL it if it has not stopped within ``timeout``."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def local_environment(base_url: str) -> None:
    """Point the embedded company at the running sandbox with the sandbox's development app."""
    os.environ[LOCAL_URL_ENV] = base_url
    os.environ.setdefault("QBO_CLIENT_SECRET", LOCAL_CLIENT_SECRET)


def local_client_secrets(config: PipelineConfig) -> None:
    """Local companies use the sandbox's development secret when their variable is unset (docs/auth.md),
    also against a sandbox the user started (``QBO_LOCAL_URL``)."""
    for company in config.companies:
        if company.environment == "local":
            os.environ.setdefault(company.client_secret_env, LOCAL_CLIENT_SECRET)


def ensure_demo_source(config: PipelineConfig, *, scale: float | None, reset: bool,
                       demo: bool = False) -> dict[str, int] | None:
    """Build the demo database when the source is the built-in demo path (or ``demo``) and it is
    missing or empty. Any other missing source is an error, never a new demo: a typo in a path
    must not turn into hundreds of demo invoices exported to a real company."""
    from qbo_pipeline.operator.preflight import PreflightError, sqlite_file
    from qbo_pipeline.source.demo import (
        DEFAULT_SCALE,
        add_missing_tables,
        builtin_demo_url,
        has_tables,
        init_demo_db,
    )

    url = config.source.url
    path = sqlite_file(url)
    if path is None or not (demo or url == builtin_demo_url()):
        return None
    if demo and config.source.mapping != "canonical":
        raise PreflightError(f"{config.path}: source.mapping is {config.source.mapping!r}; --demo builds the "
                             "canonical demo schema and needs mapping: canonical")
    if path.exists() and not reset and has_tables(url):
        add_missing_tables(url)  # built before newer canonical tables (issue 14): those read as empty
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return init_demo_db(url, scale=DEFAULT_SCALE if scale is None else scale, force=reset)


def reset_state() -> None:
    """Forget everything local: demo source, ledger, sandbox data and Dagster history."""
    root = state_dir()
    for name in ("demo_source.db", "ledger.db", "sandbox.db", "dagster_home"):
        target = root / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


_SANDBOX_PORT_OPTION = click.option(
    "--sandbox-port", "sandbox_port_option", type=click.IntRange(0, 65535), default=None,
    help=f"Port of the local QBO sandbox (default: ${SANDBOX_PORT_ENV} or {DEFAULT_SANDBOX_PORT}; 0: any free port).",
)
_CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="Pipeline file (default: $QBO_PIPELINE_CONFIG or the built-in defaults).",
)
_COMPANY_OPTION = click.option("--company", "company_key", default=None, help="Company key from the configuration (default: all).")
_DRY_RUN_OPTION = click.option(
    "--dry-run", is_flag=True, help="Plan the export (create/update/skip with diffs) without writing to QuickBooks."
)


@dataclass
class EmbeddedSession:
    """What `run`, `backfill` and `ui` share: the configuration, the Dagster home, the sandbox data and the log file."""

    config: PipelineConfig
    dagster_home: Path
    sandbox_data: Path | None
    log_path: Path


@contextlib.contextmanager
def embedded_session(
    config_path: str | None, *, scale: float | None = None, reset: bool = False, time_scale: float = 1.0,
    verbose: bool = False, wait: bool = True, command: str = "run", demo: bool = False, port: int | None = None,
) -> Iterator[EmbeddedSession]:
    """Prepare the embedded defaults: Dagster home, demo source, local sandbox (when a company
    targets it, at ``time_scale``) and connected companies; stop the sandbox on exit.

    Configuration, source and mapping are checked before the sandbox starts or OAuth connects.
    """
    from qbo_pipeline.operator.local_company import set_up_local_company
    from qbo_pipeline.operator.preflight import check_ledger, check_sources, check_state_dir
    from qbo_pipeline.runlock import CompanyBusyError, local_sandbox_lock
    from qbo_pipeline.runner import EXIT_BUSY, connect_headless_if_needed, quiet_console

    log_path = quiet_console(verbose)
    exit_cleanly_on_sigterm()
    if config_path:
        os.environ["QBO_PIPELINE_CONFIG"] = str(Path(config_path).resolve())
    config = load_config()
    sandbox_port_wanted = sandbox_port(port)
    check_state_dir(create=True)
    sandbox_data = state_dir() / "sandbox.db" if uses_local_sandbox(config) else None
    embedded_keys = [c.key for c in config.companies if c.environment == "local" and not c.base_url]
    with contextlib.ExitStack() as stack:
        if sandbox_data is not None:
            # one embedded sandbox (process and data file) per state folder: a second command waits or refuses
            try:
                stack.enter_context(local_sandbox_lock(command, on_wait=click.echo, wait=wait))
            except CompanyBusyError as exc:
                click.echo(f"{exc}; not waiting (--no-wait)", err=True)
                raise SystemExit(EXIT_BUSY) from None
        if reset:
            reset_state()
        built = ensure_demo_source(config, scale=scale, reset=reset, demo=demo)
        if built:
            click.echo("demo source built: " + ", ".join(f"{n} {t}" for t, n in built.items()))
        check_sources(config)
        check_ledger(config)
        local_client_secrets(config)
        home = prepare_dagster_home()
        if sandbox_data is not None:
            extra = ("--time-scale", str(time_scale)) if time_scale != 1.0 else ()
            base_url = stack.enter_context(local_sandbox(sandbox_data, port=sandbox_port_wanted, extra_args=extra))
            local_environment(base_url)
            click.echo(f"local QBO sandbox at {base_url} (data: {sandbox_data})"
                       + (f", time scale {time_scale:g}" if extra else ""))
            config = load_config()
        for key in config.company_keys:
            connect_headless_if_needed(config, key)
        for key in embedded_keys:  # the demo company set up as the docs ask users to set up theirs
            set_up_local_company(config, key)
        yield EmbeddedSession(config, home, sandbox_data, log_path)


_VERBOSE_OPTION = click.option("-v", "--verbose", is_flag=True, help="Show every Dagster event on the console too.")
_NO_WAIT_OPTION = click.option(
    "--no-wait", is_flag=True,
    help="When an export of the company is already running, refuse (exit 5) instead of waiting for it.",
)
_TIME_SCALE_OPTION = click.option(
    "--time-scale", type=float, default=1.0, show_default=True,
    help="Run the local sandbox's clock this many times faster and scale the client's rate limiter with it "
    "(benchmarks: the whole run path at QBO's limits in less wall time).",
)


def _run_companies(session: EmbeddedSession, company_key: str | None, run_config: dict, *, verbose: bool,
                   time_scale: float) -> None:
    from qbo_pipeline.runner import exit_code, export_company, print_summary

    keys = [company_key] if company_key else session.config.company_keys
    click.echo(f"Full log: {session.log_path}")
    outcomes = [
        export_company(session.config, key, run_config=run_config, log_path=session.log_path, verbose=verbose,
                       time_scale=time_scale)
        for key in keys
    ]
    print_summary(outcomes, dagster_home=session.dagster_home, sandbox_data=session.sandbox_data,
                  log_path=session.log_path)
    code = exit_code(outcomes)
    if code:
        raise SystemExit(code)


@click.command("run")
@_COMPANY_OPTION
@click.option("--scale", type=float, default=None, help="Demo size when the demo database is built (1.0 = full demo).")
@click.option("--reset", is_flag=True, help="Start from scratch: rebuild the demo source and forget sandbox, ledger and Dagster state.")
@_DRY_RUN_OPTION
@click.option("--full", is_flag=True, help="Re-plan every source row, not only what changed since the last run "
              "(unchanged records cost no write).")
@click.option("--demo", is_flag=True,
              help="Build the demo database at the configured SQLite source.url if it is missing (only the "
                   "built-in default path gets it without asking).")
@_SANDBOX_PORT_OPTION
@_TIME_SCALE_OPTION
@_NO_WAIT_OPTION
@_VERBOSE_OPTION
@_CONFIG_OPTION
def run_command(company_key: str | None, scale: float | None, reset: bool, dry_run: bool, full: bool, demo: bool,
                sandbox_port_option: int | None, time_scale: float, no_wait: bool, verbose: bool,
                config_path: str | None) -> None:
    """Sync each company once through Dagster on the embedded defaults and print a summary.

    Builds the demo billing database if it is missing (at the built-in path only, or with
    --demo), starts the local QBO sandbox on its fixed loopback port (when a company targets
    it), connects to it through OAuth, runs the export
    job for each company's partition in the persistent Dagster instance and stops the sandbox
    again. The first run of a company exports its whole history in one run; later runs only
    what changed since the last one. Exit 0, or 1 when records failed or are blocked, 4 when a
    run failed, 5 when --no-wait found another export running.
    """
    from qbo_pipeline.runner import export_config

    with embedded_session(config_path, scale=scale, reset=reset, time_scale=time_scale, verbose=verbose,
                          wait=not no_wait, command="run", demo=demo, port=sandbox_port_option) as session:
        _run_companies(session, company_key, export_config(dry_run=dry_run, full=full, wait=not no_wait),
                       verbose=verbose, time_scale=time_scale)


@click.command("backfill")
@_COMPANY_OPTION
@click.option("--from", "first_day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First transaction day (YYYY-MM-DD); default: the source's first.")
@click.option("--to", "last_day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last transaction day, included (YYYY-MM-DD); default: the source's last.")
@_DRY_RUN_OPTION
@_SANDBOX_PORT_OPTION
@_NO_WAIT_OPTION
@_VERBOSE_OPTION
@_CONFIG_OPTION
def backfill_command(company_key: str | None, first_day: Any, last_day: Any, dry_run: bool,
                     sandbox_port_option: int | None, no_wait: bool, verbose: bool, config_path: str | None) -> None:
    """Re-export a company's history (or the transactions dated --from .. --to) in one run per company.

    Every source row of the range is planned again against the ledger: what QuickBooks already
    has unchanged costs no write, so a backfill is safe to repeat. The same run can be launched
    from the UI (export job, choose the company partitions, set ``full`` or the window).
    """
    from qbo_pipeline.runner import export_config

    if first_day and last_day and last_day < first_day:
        raise click.BadParameter("--to is before --from")
    run_config = export_config(dry_run=dry_run, full=True, first=first_day.date() if first_day else None,
                               last=last_day.date() if last_day else None, wait=not no_wait)
    with embedded_session(config_path, verbose=verbose, wait=not no_wait, command="backfill",
                          port=sandbox_port_option) as session:
        _run_companies(session, company_key, run_config, verbose=verbose, time_scale=1.0)


@click.command("ui")
@click.option("--port", type=int, default=3000, show_default=True, help="Port of the Dagster UI.")
@_SANDBOX_PORT_OPTION
@_CONFIG_OPTION
def ui_command(port: int, sandbox_port_option: int | None, config_path: str | None) -> None:
    """Serve the Dagster UI (and daemon) on the embedded defaults, with the local sandbox alongside."""
    from qbo_pipeline.defs.partitions import ensure_companies
    from qbo_pipeline.defs.runs import open_instance
    from qbo_pipeline.operator.preflight import check_port_free

    check_port_free(port, "the Dagster UI", "stop the other `qbo-pipeline ui` / `dagster dev`, or pass --port")
    with embedded_session(config_path, verbose=True, command="ui", port=sandbox_port_option) as session:
        ensure_companies(open_instance(), session.config.company_keys)
        click.echo(f"companies (partitions of qbo_company): {', '.join(session.config.company_keys)}")
        workspace = project_root() / "workspace.yaml"
        command = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(workspace), "-p", str(port)]
        click.echo(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops it and the sandbox)")
        with contextlib.suppress(KeyboardInterrupt), child_process(command) as dagster:
            dagster.wait()
