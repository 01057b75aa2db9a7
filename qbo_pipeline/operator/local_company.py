"""Set up the local sandbox company the way docs/operations.md tells users to set up theirs.

The `doctor` pre-flight asks for two company preferences before the first export (custom
transaction numbers on, automatically apply credits off). A person sets them in QuickBooks'
settings; for the bundled local sandbox `qbo-pipeline run`/`ui` set them once, through the
QBO API exactly as any client would (a sparse update of ``Preferences``), so the demo passes
its own pre-flight. Only companies of the ``local`` environment are ever touched.
"""

from __future__ import annotations

import logging
from typing import Any

from qbo_pipeline.config import PipelineConfig

log = logging.getLogger("qbo_pipeline.operator.local_company")

# docs/operations.md, `doctor`: what every company needs before the first export
RECOMMENDED_SALES_FORMS_PREFS = {"CustomTxnNumbers": True, "AutoApplyCredit": False}


def preference_changes(preferences: dict[str, Any]) -> dict[str, Any]:
    """The ``SalesFormsPrefs`` values that differ from what the pre-flight asks for."""
    current = preferences.get("SalesFormsPrefs") or {}
    return {k: v for k, v in RECOMMENDED_SALES_FORMS_PREFS.items() if current.get(k) is not v}


def set_up_local_company(config: PipelineConfig, company_key: str) -> dict[str, Any]:
    """Apply the recommended preferences to a connected local company; returns what changed."""
    from qbo_pipeline.sync import open_company

    company = config.company(company_key)
    if company.environment != "local":
        raise ValueError(f"company {company_key!r} is {company.environment}: only the local sandbox is set up "
                         "automatically; set the preferences in QuickBooks (see `qbo-pipeline doctor`)")
    with open_company(config, company_key) as session:
        preferences = session.client.preferences()
        changes = preference_changes(preferences)
        if changes:
            session.client.update("Preferences", {"Id": preferences["Id"], "SyncToken": preferences["SyncToken"],
                                                  "SalesFormsPrefs": changes}, sparse=True)
            log.info("local company %s set up as docs/operations.md asks: %s", company_key,
                     ", ".join(f"{k}={v}" for k, v in changes.items()))
    return changes
