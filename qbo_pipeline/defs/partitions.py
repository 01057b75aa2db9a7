"""Daily transaction partitions, and the date window a run covers.

Transactions are partitioned by transaction date from the configured sync start date.
Two rules keep every source row inside some partition: the first partition also carries
everything dated before it (so the before-sync-start rule and the open-invoice option see
those rows) and rows with no date (so they are quarantined, not lost), and the last
partition (today) also carries rows dated in the future (validation quarantines them).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.sync import Window

TIMEZONE = "UTC"


def transaction_partitions(config: PipelineConfig) -> dg.DailyPartitionsDefinition:
    """One partition per transaction day from the sync start date through today."""
    return dg.DailyPartitionsDefinition(
        start_date=config.options.sync_start_date.isoformat(), timezone=TIMEZONE, end_offset=1
    )


def _day(value: datetime | str) -> date:
    return value.date() if isinstance(value, datetime) else date.fromisoformat(value)


def window_for_range(partitions: dg.DailyPartitionsDefinition, first_key: str, last_key: str) -> Window:
    """The transaction-date window of a run over partitions ``first_key`` .. ``last_key``."""
    start = date.fromisoformat(first_key)
    end = date.fromisoformat(last_key) + timedelta(days=1)
    return Window(
        start=start,
        end=end,
        open_start=first_key == partitions.get_first_partition_key(),
        open_end=last_key == partitions.get_last_partition_key(),
    )


def window_for_context(context: dg.AssetExecutionContext) -> Window:
    """The window of the partition (or partition range) being materialized."""
    partitions = context.assets_def.partitions_def
    assert isinstance(partitions, dg.DailyPartitionsDefinition)
    key_range = context.partition_key_range
    return window_for_range(partitions, key_range.start, key_range.end)


def clamp_to_partitions(partitions: dg.DailyPartitionsDefinition, day: date) -> str:
    """The partition key that carries rows dated ``day`` (earlier days go to the first, later to the last)."""
    first = partitions.get_first_partition_key()
    last = partitions.get_last_partition_key()
    key = day.isoformat()
    if first is None or last is None:
        return key
    return min(max(key, first), last)


def spanning_ranges(keys: list[str], max_days: int) -> list[tuple[str, str]]:
    """Ranges covering the given daily keys, each spanning at most ``max_days`` days.

    Changed days are covered by as few runs as possible, gaps included: records of
    different days depend on each other (a payment applies an earlier invoice, and an
    invoice is voided only once the payment that paid it no longer applies), and one run
    orders them correctly, while unchanged days in between cost no write.
    """
    ranges: list[tuple[str, str]] = []
    for key in sorted(set(keys)):
        if ranges and (date.fromisoformat(key) - date.fromisoformat(ranges[-1][0])).days < max_days:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges
