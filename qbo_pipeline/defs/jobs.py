"""Jobs per company: the full export (partitioned by day) and the name lists alone."""

from __future__ import annotations

import dagster as dg

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.defs.assets import COMPANY_TAG
from qbo_pipeline.defs.partitions import transaction_partitions


def export_job_name(company: str) -> str:
    return f"export_{company}"


def master_job_name(company: str) -> str:
    return f"export_{company}_master"


def build_company_jobs(config: PipelineConfig, company: str) -> list[dg.UnresolvedAssetJobDefinition]:
    """``export_<company>`` runs the whole graph for a range of days (name lists first);
    ``export_<company>_master`` only customers and items, when nothing dated changed."""
    everything = dg.AssetSelection.key_prefixes([company])
    master = everything - dg.AssetSelection.assets(
        *(dg.AssetKey([company, name]) for name in _transaction_asset_names())
    )
    tags = {COMPANY_TAG: company}
    return [
        dg.define_asset_job(
            export_job_name(company),
            selection=everything,
            partitions_def=transaction_partitions(config),
            tags=tags,
            description=f"Export company {company!r}: customers, items, and the transactions of the selected days.",
        ),
        dg.define_asset_job(
            master_job_name(company),
            selection=master,
            tags=tags,
            description=f"Export company {company!r}: customers and items only.",
        ),
    ]


def _transaction_asset_names() -> list[str]:
    from qbo_pipeline.defs.assets import TRANSACTION_EXPORTS

    return ["source_transactions", "validated_transactions", "transaction_payloads", *TRANSACTION_EXPORTS]
