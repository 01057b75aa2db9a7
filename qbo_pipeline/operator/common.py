"""What every operator command shares: options, exit codes, output and error handling.

Scripts read ``--json`` output from stdout and nothing else goes there; progress and logs go
to stderr. Exit codes are the contract with those scripts (documented in docs/operations.md).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import click

from qbo_pipeline import entities
from qbo_pipeline.config import ConfigError, PipelineConfig, load_config

log = logging.getLogger("qbo_pipeline.operator")

EXIT_OK = 0
EXIT_FINDINGS = 1  # doctor errors, failed records, a refused action
EXIT_USAGE = 2  # bad options or configuration (click uses 2 for usage errors too)
EXIT_NOT_CONNECTED = 3  # the company is not connected, or must be reconnected

STUCK_AFTER_MINUTES = 60  # an export lock older than this (or whose run ended) counts as stuck

class OperatorError(click.ClickException):
    """A command that cannot do what was asked; carries its exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FINDINGS, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.data = data or {}  # extra fields for the --json error object


def qbo_entity_name(value: str) -> str:
    """The QBO entity for ``invoice``, ``Invoice``, ``invoices``, ``credit``...; a clear error otherwise."""
    try:
        return entities.entity(value).qbo_entity
    except KeyError:
        allowed = ", ".join(f"{e.cli_aliases[0]} ({e.qbo_entity})" for e in entities.REGISTRY)
        raise OperatorError(f"unknown entity {value!r}; use one of: {allowed}", EXIT_USAGE) from None


@dataclass
class Invocation:
    """The options every command shares, resolved."""

    config: PipelineConfig
    company_key: str
    as_json: bool

    @property
    def company(self) -> Any:
        return self.config.company(self.company_key)


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--company``, ``--config`` and ``--json`` to a command."""
    func = click.option("--json", "as_json", is_flag=True,
                        help="Print machine-readable JSON on stdout (logs still go to stderr).")(func)
    func = click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                        help="Pipeline file (default: $QBO_PIPELINE_CONFIG or the built-in defaults).")(func)
    func = click.option("--company", "company_key", default=None, metavar="KEY",
                        help="Company key from the configuration (default: the first one).")(func)
    return func


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (click's test runner swaps it per call)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _setup_logging() -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise for an operator
    # Quiet by default: an operator reads the command's own output and warnings, not every stage's
    # progress line (`status` alone read the source with 30 INFO lines). QBO_PIPELINE_LOG_LEVEL=INFO
    # brings the stages' progress back.
    level = os.environ.get("QBO_PIPELINE_LOG_LEVEL", "").upper()
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)
        logging.getLogger("qbo_pipeline.operator").setLevel(level)
    else:
        if root.level == logging.NOTSET or root.level > logging.WARNING:
            root.setLevel(logging.WARNING)
        logging.getLogger("qbo_pipeline.operator").setLevel(logging.INFO)


def resolve(config_path: str | None, company_key: str | None, as_json: bool) -> Invocation:
    """Load the configuration and pick the company; configuration problems exit with 2."""
    from qbo_pipeline.operator.preflight import PreflightError, check_state_dir

    try:
        config = load_config(config_path)
        company = config.company(company_key)
        check_state_dir(create=False)
    except (ConfigError, PreflightError) as exc:
        raise OperatorError(str(exc), EXIT_USAGE) from None
    return Invocation(config, company.key, as_json)


def operator_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command body with logging on stderr and pipeline errors mapped to exit codes.

    The body receives an :class:`Invocation` as its first argument in place of the shared options.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, config_path: str | None, company_key: str | None, as_json: bool, **kwargs: Any) -> Any:
        _setup_logging()
        try:
            invocation = resolve(config_path, company_key, as_json)
            with translate_errors():
                return func(invocation, *args, **kwargs)
        except OperatorError as exc:
            if as_json:
                emit_json({"ok": False, **exc.data, "error": exc.message, "exit_code": exc.exit_code})
            raise

    return wrapper


@contextmanager
def translate_errors() -> Iterator[None]:
    """Known pipeline errors -> ``OperatorError`` with the right exit code and the fix."""
    from qbo_pipeline.cli import configuration_errors
    from qbo_pipeline.ledger import ExportLockedError
    from qbo_pipeline.qbo.errors import AuthError, NeedsReconnectError, QboError
    from qbo_pipeline.sync import NotConnectedError

    try:
        yield
    except (OperatorError, click.exceptions.Exit, click.Abort):
        raise
    except configuration_errors() as exc:  # the list of configuration/source/mapping errors lives in cli.py
        raise OperatorError(" ".join(str(exc).split()), EXIT_USAGE) from None
    except NotConnectedError as exc:
        raise OperatorError(str(exc), EXIT_NOT_CONNECTED) from None
    except NeedsReconnectError as exc:
        raise OperatorError(f"{exc.message} — {exc.hint}", EXIT_NOT_CONNECTED) from None
    except AuthError as exc:
        if exc.status is None or exc.status in (401, 403):
            raise OperatorError(f"{exc.message} — {exc.hint}", EXIT_NOT_CONNECTED) from None
        raise OperatorError(exc.describe(), EXIT_FINDINGS) from None
    except QboError as exc:
        raise OperatorError(f"{exc.describe()} — {exc.hint}", EXIT_FINDINGS) from None
    except ExportLockedError as exc:
        raise OperatorError(str(exc), EXIT_FINDINGS) from None


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, set):
        return sorted(value)
    return str(value)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=_default, sort_keys=False))


def emit(invocation: Invocation, data: Any, human: Callable[[], None]) -> None:
    """JSON on stdout with ``--json``, else the human rendering."""
    if invocation.as_json:
        emit_json(data)
    else:
        human()


def age_seconds(moment: datetime | None) -> float | None:
    """Seconds since a naive-UTC ledger timestamp."""
    from qbo_pipeline.ledger import utcnow

    return None if moment is None else max(0.0, (utcnow() - moment).total_seconds())


def lock_state(ledger: Any, company_key: str, stuck_after_minutes: float = STUCK_AFTER_MINUTES) -> dict[str, Any]:
    """The export lock as operators see it: free, running or stuck (old, or its run has ended)."""
    lock = ledger.export_lock(company_key)
    if lock is None:
        return {"state": "free", "owner": None, "acquired_at": None, "age_seconds": None, "run_status": None}
    age = age_seconds(lock["acquired_at"])
    run_status = None
    owner = str(lock["owner"])
    if owner.startswith("run "):
        run_id = owner.removeprefix("run ")
        runs = [r for r in ledger.runs(company_key, limit=200) if r["run_id"] == run_id]
        run_status = runs[0]["status"] if runs else None
    stuck = (age or 0) > stuck_after_minutes * 60 or (run_status is not None and run_status != "running")
    return {"state": "stuck" if stuck else "running", "owner": owner, "acquired_at": lock["acquired_at"],
            "age_seconds": round(age or 0), "run_status": run_status, "stuck_after_minutes": stuck_after_minutes}


def describe_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
