"""The Dagster code location (workspace.yaml): one asset graph, companies as a dynamic partition.

Nothing here depends on the number of companies: they are partition keys added by the
source sensor (or ``qbo-pipeline run``) from the pipeline file, so the code location loads
in the same time for one company or a thousand.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from qbo_pipeline.defs.assets import qbo_export
from qbo_pipeline.defs.logs import file_logger
from qbo_pipeline.defs.resources import LedgerResource, PipelineResource, QboResource
from qbo_pipeline.defs.sensors import export_job, nightly_reconciliation, source_changes


def default_resources(config_path: str | None = None, *, time_scale: float = 1.0) -> dict[str, Any]:
    """The pipeline file, the ledger and QuickBooks; the client secret is read from the environment at launch
    (a company on the local sandbox uses the development secret when ``QBO_CLIENT_SECRET`` is unset)."""
    pipeline = PipelineResource(config_path=config_path)
    secret = dg.EnvVar("QBO_CLIENT_SECRET") if os.environ.get("QBO_CLIENT_SECRET") else None
    return {
        "pipeline": pipeline,
        "ledger": LedgerResource(pipeline=pipeline),
        "qbo": QboResource(client_secret=secret, time_scale=time_scale),
    }


def build_definitions(*, resources: dict[str, Any] | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[qbo_export],
        jobs=[export_job],
        sensors=[source_changes],
        schedules=[nightly_reconciliation],
        resources=resources if resources is not None else default_resources(),
        loggers={"console": dg.colored_console_logger, "file": file_logger},
        # one step per run: no subprocess per step, no pickled frames between steps
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
