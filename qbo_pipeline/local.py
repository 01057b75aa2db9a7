"""The embedded defaults: demo source + local QBO sandbox + Dagster, for `make run` and `make ui`.

Everything here is for trying the product on one machine. The sandbox runs as a separate
process (the pipeline never imports it) and is reached over HTTP exactly like Intuit's
servers; the company is connected through the standard OAuth authorization-code flow.
"""

from __future__ import annotations

import contextlib
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

log = logging.getLogger("qbo_pipeline.local")

LOCAL_URL_ENV = "QBO_LOCAL_URL"
LOCAL_CLIENT_SECRET = "local-client-secret"
SANDBOX_START_TIMEOUT_S = 60


def project_root() -> Path:
    """The checkout holding workspace.yaml and dagster.yaml (the current folder otherwise)."""
    candidate = Path(__file__).resolve().parent.parent
    return candidate if (candidate / "workspace.yaml").exists() else Path.cwd()


def prepare_dagster_home() -> Path:
    """A persistent DAGSTER_HOME in the state folder, with the project's dagster.yaml in it."""
    home = Path(os.environ.get("DAGSTER_HOME") or state_dir() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    # A run over a range of days records one "planned" event per asset instead of one per asset
    # and day (half the bookkeeping of a year-long first export on SQLite). Trade-off, from
    # Dagster: days of a failed range run show as missing rather than failed.
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    template = project_root() / "dagster.yaml"
    target = home / "dagster.yaml"
    if template.exists() and (not target.exists() or target.read_text() != template.read_text()):
        shutil.copyfile(template, target)
    return home


def uses_local_sandbox(config: PipelineConfig) -> bool:
    return any(c.environment == "local" and not c.base_url for c in config.companies)


@contextlib.contextmanager
def local_sandbox(data_file: Path, *, extra_args: tuple[str, ...] = ()) -> Iterator[str]:
    """Start the sandbox on a free loopback port in its own process; stop it on exit."""
    data_file.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        ready_file = Path(tmp) / "ready"
        log_path = data_file.with_suffix(".log")
        command = [
            sys.executable, "-m", "qbo_pipeline.sandbox", "serve",
            "--host", "127.0.0.1", "--port", "0", "--data", str(data_file),
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


def ensure_demo_source(config: PipelineConfig, *, scale: float | None, reset: bool) -> dict[str, int] | None:
    """Build the embedded demo database when the configured source is it and it is missing."""
    from qbo_pipeline.source.demo import DEFAULT_SCALE, add_missing_tables, init_demo_db

    url = config.source.url
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    if path.exists() and not reset:
        add_missing_tables(url)  # built before newer canonical tables (issue 14): those read as empty
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return init_demo_db(url, scale=DEFAULT_SCALE if scale is None else scale)


def reset_state() -> None:
    """Forget everything local: demo source, ledger, sandbox data and Dagster history."""
    root = state_dir()
    for name in ("demo_source.db", "ledger.db", "sandbox.db", "dagster_home"):
        target = root / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


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
    """What `run`, `backfill` and `ui` share: the configuration, the Dagster home and the sandbox data file."""

    config: PipelineConfig
    dagster_home: Path
    sandbox_data: Path | None


@contextlib.contextmanager
def embedded_session(config_path: str | None, *, scale: float | None = None, reset: bool = False) -> Iterator[EmbeddedSession]:
    """Prepare the embedded defaults: Dagster home, demo source, local sandbox (when a company
    targets it) and connected companies; stop the sandbox on exit."""
    from qbo_pipeline.runner import connect_headless_if_needed

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    exit_cleanly_on_sigterm()
    if config_path:
        os.environ["QBO_PIPELINE_CONFIG"] = str(Path(config_path).resolve())
    config = load_config()
    if reset:
        reset_state()
    home = prepare_dagster_home()
    built = ensure_demo_source(config, scale=scale, reset=reset)
    if built:
        click.echo("demo source built: " + ", ".join(f"{n} {t}" for t, n in built.items()))
    sandbox_data = state_dir() / "sandbox.db" if uses_local_sandbox(config) else None
    with contextlib.ExitStack() as stack:
        if sandbox_data is not None:
            base_url = stack.enter_context(local_sandbox(sandbox_data))
            local_environment(base_url)
            click.echo(f"local QBO sandbox at {base_url} (data: {sandbox_data})")
            config = load_config()
        for key in config.company_keys:
            connect_headless_if_needed(config, key)
        yield EmbeddedSession(config, home, sandbox_data)


@click.command("run")
@_COMPANY_OPTION
@click.option("--scale", type=float, default=None, help="Demo size when the demo database is built (1.0 = full demo).")
@click.option("--reset", is_flag=True, help="Start from scratch: rebuild the demo source and forget sandbox, ledger and Dagster state.")
@_DRY_RUN_OPTION
@click.option("--full", is_flag=True, help="Export every transaction day, not only the days changed since the last run.")
@_CONFIG_OPTION
def run_command(company_key: str | None, scale: float | None, reset: bool, dry_run: bool, full: bool, config_path: str | None) -> None:
    """Run the export once through Dagster on the embedded defaults and print a summary.

    Builds the demo billing database if it is missing, starts the local QBO sandbox on a free
    loopback port (when a company targets it), connects to it through OAuth, materializes the
    export assets in the persistent Dagster instance and stops the sandbox again. The first run
    exports the whole history; later runs only the days whose source rows changed.
    """
    from qbo_pipeline.runner import export_once, print_summary

    with embedded_session(config_path, scale=scale, reset=reset) as session:
        keys = [company_key] if company_key else session.config.company_keys
        summaries = [export_once(session.config, key, dry_run=dry_run, full=full) for key in keys]
    print_summary(summaries, dagster_home=session.dagster_home, sandbox_data=session.sandbox_data)
    if any(s.failed_runs for s in summaries):
        raise SystemExit(1)


@click.command("backfill")
@_COMPANY_OPTION
@click.option("--from", "first_day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First transaction day (YYYY-MM-DD).")
@click.option("--to", "last_day", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last transaction day, included (YYYY-MM-DD).")
@_DRY_RUN_OPTION
@_CONFIG_OPTION
def backfill_command(company_key: str | None, first_day: Any, last_day: Any, dry_run: bool, config_path: str | None) -> None:
    """Export a range of transaction days (the historical export) from the command line.

    Runs in the persistent Dagster instance, at most 92 days per run (the assets' backfill
    policy), oldest first. Re-running a range converges with no writes for unchanged records.
    (`dagster job backfill` would start one run per day instead.)
    """
    from qbo_pipeline.runner import export_days, print_summary

    if last_day < first_day:
        raise click.BadParameter("--to is before --from")
    with embedded_session(config_path) as session:
        keys = [company_key] if company_key else session.config.company_keys
        summaries = [
            export_days(session.config, key, first_day.date(), last_day.date(), dry_run=dry_run) for key in keys
        ]
    print_summary(summaries, dagster_home=session.dagster_home, sandbox_data=session.sandbox_data)
    if any(s.failed_runs for s in summaries):
        raise SystemExit(1)


@click.command("ui")
@click.option("--port", type=int, default=3000, show_default=True, help="Port of the Dagster UI.")
@_CONFIG_OPTION
def ui_command(port: int, config_path: str | None) -> None:
    """Serve the Dagster UI (and daemon) on the embedded defaults, with the local sandbox alongside."""
    with embedded_session(config_path):
        workspace = project_root() / "workspace.yaml"
        command = [str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(workspace), "-p", str(port)]
        click.echo(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C stops it and the sandbox)")
        with contextlib.suppress(KeyboardInterrupt), child_process(command) as dagster:
            dagster.wait()
