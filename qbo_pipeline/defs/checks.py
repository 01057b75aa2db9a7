"""Dagster asset checks that are not part of the export step: the company pre-flight.

``build_doctor_check`` wires ``qbo-pipeline doctor``'s checks (``stages.company_findings``) as an
asset check named ``qbo_company_preflight``: it fails with severity ERROR on any error and WARN on
warnings, with the findings as a markdown table. Wiring only: the rules live in
:mod:`qbo_pipeline.company_checks`.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from qbo_pipeline import stages

PREFLIGHT_CHECK = "qbo_company_preflight"


def doctor_check_result(findings: list[Any], *, asset_key: Any = None) -> dg.AssetCheckResult:
    """The findings as an ``AssetCheckResult``: ERROR when a check failed, WARN on warnings."""
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    table = "\n".join(f"| {f.check} | {f.severity} | {f.message} | {f.fix or ''} |" for f in findings)
    return dg.AssetCheckResult(
        passed=not errors and not warnings,
        asset_key=asset_key,
        severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
        metadata={
            "errors": len(errors), "warnings": len(warnings),
            "findings": dg.MetadataValue.md("| check | severity | finding | fix |\n|---|---|---|---|\n" + table),
        },
    )


def build_doctor_check(company_key: str, asset_key: Any) -> dg.AssetChecksDefinition:
    """An asset check ``qbo_company_preflight`` on ``asset_key`` running the doctor's checks for the
    company. Needs the ``pipeline`` resource (``PipelineResource``) the definitions already provide."""

    @dg.asset_check(asset=asset_key, name=PREFLIGHT_CHECK, required_resource_keys={"pipeline"},
                    description="QuickBooks company settings, connection and lists suit the export (qbo-pipeline doctor).")
    def _check(context):  # noqa: ANN001, ANN202 (dagster resolves annotations at definition time)
        config = context.resources.pipeline.load()
        return doctor_check_result(stages.company_findings(config, company_key))

    return _check
