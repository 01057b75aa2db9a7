"""Companies as one dynamic partition of the whole asset graph.

A company is a partition key, not a copy of the graph: the code location's size and load
time do not grow with the number of companies, and adding one (the pipeline file's
``companies:`` list, or ``qbo-pipeline connect``) needs no code change. Keys are the
companies' configuration keys (no ``,`` or ``|``, which Dagster's UI would split on).
"""

from __future__ import annotations

import dagster as dg

COMPANY_PARTITIONS_NAME = "qbo_company"
companies = dg.DynamicPartitionsDefinition(name=COMPANY_PARTITIONS_NAME)


def ensure_companies(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """Add the companies that are not partitions yet; returns the ones added."""
    known = set(instance.get_dynamic_partitions(COMPANY_PARTITIONS_NAME))
    new = [key for key in dict.fromkeys(keys) if key not in known]
    if new:
        instance.add_dynamic_partitions(COMPANY_PARTITIONS_NAME, new)
    return new
