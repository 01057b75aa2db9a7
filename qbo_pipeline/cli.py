"""The operator command ``qbo-pipeline``.

Each area contributes its own click group (``sandbox``, ``demo``, ...); they are mounted
lazily so that ``qbo-pipeline --help`` stays fast and the pipeline never imports the
sandbox unless the operator asks for it.
"""

from __future__ import annotations

import importlib

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
    "drift": "qbo_pipeline.operator.drift:drift_group",
}


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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qbo-pipeline")
def main() -> None:
    """Export billing data (customers, items, invoices, payments, credits, refunds) into QuickBooks Online."""
