"""The operator command ``qbo-pipeline``.

Each area contributes its own click group (``sandbox``, ``demo``, ...); they are mounted
lazily so that ``qbo-pipeline --help`` stays fast and the pipeline never imports the
sandbox unless the operator asks for it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

# name -> "module:attribute" of a click command or group
_SUBCOMMANDS: dict[str, str] = {
    "sandbox": "qbo_pipeline.sandbox.cli:sandbox",
    "demo": "qbo_pipeline.source.cli:demo",
    "run": "qbo_pipeline.local:run_command",
    "ui": "qbo_pipeline.local:ui_command",
    "backfill": "qbo_pipeline.local:backfill_command",
    "connect": "qbo_pipeline.operator.connect:connect_command",
    "disconnect": "qbo_pipeline.operator.connect:disconnect_command",
    "doctor": "qbo_pipeline.operator.doctor:doctor_command",
    "status": "qbo_pipeline.operator.status:status_command",
    "failed": "qbo_pipeline.operator.failed:failed_group",
    "link": "qbo_pipeline.operator.records:link_command",
    "unlink": "qbo_pipeline.operator.records:unlink_command",
    "sync": "qbo_pipeline.operator.records:sync_command",
    "unlock": "qbo_pipeline.operator.records:unlock_command",
    "quarantine": "qbo_pipeline.operator.quarantine:quarantine_command",
    "drift": "qbo_pipeline.operator.drift:drift_group",
}

EXIT_CONFIGURATION = 2  # docs/operations.md: usage, configuration, connection and mapping errors
EXIT_NOT_CONNECTED = 3


class PipelineUsageError(click.ClickException):
    """A configuration, connection or mapping error: one line with the fix, exit code 2."""

    exit_code = EXIT_CONFIGURATION


class NotConnectedUsageError(click.ClickException):
    """The company must be (re)connected: exit code 3."""

    exit_code = EXIT_NOT_CONNECTED


def configuration_errors() -> tuple[type[BaseException], ...]:
    """The project's error classes that mean "fix the configuration, the source or the mapping".

    Imported late so `qbo-pipeline --help` stays fast; listed here and nowhere else.
    """
    from qbo_pipeline.config import ConfigError
    from qbo_pipeline.operator.preflight import PreflightError
    from qbo_pipeline.qbo.auth import TokenKeyError
    from qbo_pipeline.qbo.environments import LocalAddressError
    from qbo_pipeline.schemas.conform import SchemaMismatchError
    from qbo_pipeline.source.database import DatabaseCheckError
    from qbo_pipeline.source.demo import DemoTargetError
    from qbo_pipeline.source.extract import ExtractError
    from qbo_pipeline.source.mapping import MappingError

    return (ConfigError, PreflightError, MappingError, SchemaMismatchError, ExtractError, TokenKeyError,
            LocalAddressError, DemoTargetError, DatabaseCheckError)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


@contextmanager
def pipeline_errors() -> Iterator[None]:
    """Turn the project's configuration, connection and mapping errors into one-line click errors.

    Only the classes named in ``configuration_errors`` (and the QBO client's not-connected
    errors) are translated; anything else is a bug and keeps its traceback.
    """
    from qbo_pipeline.qbo.errors import AuthError, NeedsReconnectError

    try:
        yield
    except configuration_errors() as exc:
        raise PipelineUsageError(_one_line(exc)) from None
    except NeedsReconnectError as exc:
        raise NotConnectedUsageError(_one_line(f"{exc.message} — {exc.hint}")) from None
    except AuthError as exc:
        if exc.status in (401, 403):  # QuickBooks refused the tokens
            raise NotConnectedUsageError(_one_line(f"{exc.message} — {exc.hint}")) from None
        raise PipelineUsageError(_one_line(exc.message)) from None  # the OAuth app, discovery, or token endpoint


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_SUBCOMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _SUBCOMMANDS:
            module_name, attribute = _SUBCOMMANDS[name].split(":")
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                return None
            return getattr(module, attribute, None)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> Any:
        with pipeline_errors():
            return super().invoke(ctx)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qbo-pipeline")
def main() -> None:
    """Export billing data (customers, products, invoices, payments, credits, refunds, sales receipts, deposits,
    expenses, bills, journal entries) into QuickBooks Online, through Dagster."""
