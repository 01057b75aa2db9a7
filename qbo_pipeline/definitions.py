"""The Dagster code location (workspace.yaml): every company's asset graph, jobs, sensors and schedules.

The graph is built from the pipeline file (``$QBO_PIPELINE_CONFIG`` or the built-in
defaults) when Dagster loads the code location, not at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from qbo_pipeline.config import PipelineConfig, load_config
from qbo_pipeline.defs.assets import build_company_assets
from qbo_pipeline.defs.io import RangePickleIOManager
from qbo_pipeline.defs.jobs import build_company_jobs
from qbo_pipeline.defs.reports import sync_reports_spec
from qbo_pipeline.defs.resources import PipelineResource, QboResource
from qbo_pipeline.defs.sensors import (
    build_nightly_reconciliation,
    build_source_sensor,
    sync_report_on_failure,
    sync_report_on_success,
)
from qbo_pipeline.operator.doctor import build_doctor_check


def default_resources(config: PipelineConfig) -> dict[str, Any]:
    """Resources bound by default; the OAuth client secret is read from the environment at launch."""
    return {
        "pipeline": PipelineResource(config_path=config.path if config.path.endswith((".yaml", ".yml")) and "defaults.yaml" not in config.path else None),
        "qbo": QboResource(client_secret=dg.EnvVar("QBO_CLIENT_SECRET")),
        "io_manager": RangePickleIOManager(),
    }


def build_definitions(config: PipelineConfig, *, resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    """All definitions for the companies of ``config``."""
    assets: list[Any] = [sync_reports_spec]
    jobs: list[Any] = []
    sensors: list[Any] = [sync_report_on_success, sync_report_on_failure]
    schedules: list[Any] = []
    checks: list[Any] = []
    for company in config.company_keys:
        assets += build_company_assets(config, company)
        # the company pre-flight (`qbo-pipeline doctor`) as a check beside the first export
        checks.append(build_doctor_check(company, dg.AssetKey([company, "qbo_customers"])))
        company_jobs = build_company_jobs(config, company)
        jobs += company_jobs
        sensors.append(build_source_sensor(config, company, company_jobs))
        schedules.append(build_nightly_reconciliation(config, company))
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        sensors=sensors,
        schedules=schedules,
        resources=dict(resources) if resources is not None else default_resources(config),
        # Steps are I/O bound and mostly sequential; one process avoids re-importing pandas per step.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_config())
