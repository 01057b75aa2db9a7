"""Sensors and the schedule: cursor, run keys, skips, exactly the affected partitions, sync reports."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg

from qbo_pipeline.definitions import build_definitions
from qbo_pipeline.defs.partitions import (
    clamp_to_partitions,
    spanning_ranges,
    transaction_partitions,
    window_for_range,
)
from qbo_pipeline.defs.reports import SYNC_REPORTS_KEY
from qbo_pipeline.defs.sensors import RANGE_END_TAG, RANGE_START_TAG
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.source.demo import mutate_demo_db
from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline.sync import TRANSACTION_ENTITIES
from qbo_pipeline_tests.defs.conftest import SYNC_START


def _evaluate(pipeline, cursor):
    definitions = build_definitions(pipeline.config())
    sensor = definitions.resolve_sensor_def("source_changes_demo")
    with dg.build_sensor_context(
        instance=pipeline.instance(), cursor=cursor, definitions=definitions, resources=definitions.resources
    ) as context:
        return sensor.evaluate_tick(context)


def test_source_sensor_initialises_then_skips_then_requests_exactly_the_changed_days(pipeline):
    first = _evaluate(pipeline, None)
    assert not first.run_requests and first.skip_message and first.cursor
    again = _evaluate(pipeline, first.cursor)
    assert not again.run_requests and "No source row changed" in again.skip_message

    before = datetime.fromisoformat("2000-01-01")
    with SourceReader(pipeline.source_url) as reader:
        before = max(reader.watermark(e) for e in TRANSACTION_ENTITIES)
    mutate_demo_db(pipeline.source_url, seed=5, new=3, edits=3, now=before + timedelta(hours=1))
    changed = _evaluate(pipeline, first.cursor)
    assert changed.run_requests, changed.skip_message

    partitions = transaction_partitions(pipeline.config())
    with SourceReader(pipeline.source_url) as reader:
        expected_days = {
            clamp_to_partitions(partitions, d)
            for e in TRANSACTION_ENTITIES
            for d in reader.changed_dates(e, before + timedelta(minutes=30))
        }
    requested_days = set()
    for request in changed.run_requests:
        start, end = date.fromisoformat(request.tags[RANGE_START_TAG]), date.fromisoformat(request.tags[RANGE_END_TAG])
        requested_days |= {(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)}
        assert request.job_name == "export_demo"
    assert expected_days <= requested_days
    # as few runs as possible (a payment and the invoice it pays go in one run), never one per day
    assert len(changed.run_requests) == len(spanning_ranges(sorted(expected_days), 92)) == 1
    # the same tick evaluated twice asks for the same run keys: Dagster starts each run once
    assert [r.run_key for r in _evaluate(pipeline, first.cursor).run_requests] == [r.run_key for r in changed.run_requests]


def test_master_data_change_requests_the_master_job(pipeline):
    first = _evaluate(pipeline, None)
    import sqlalchemy as sa

    engine = sa.create_engine(pipeline.source_url)
    with engine.begin() as conn:
        conn.execute(sa.text("update customers set email = 'new@example.com', updated_at = :now where id = (select min(id) from customers)"),
                     {"now": datetime.now() + timedelta(days=1)})
    engine.dispose()
    result = _evaluate(pipeline, first.cursor)
    assert [r.job_name for r in result.run_requests] == ["export_demo_master"]


def test_partition_windows_carry_rows_outside_the_range():
    from qbo_pipeline.config import load_config

    config = load_config(overrides={"options": {"sync_start_date": "2026-01-01"}})
    partitions = transaction_partitions(config)
    first, last = partitions.get_first_partition_key(), partitions.get_last_partition_key()
    whole = window_for_range(partitions, first, last)
    assert whole.open_start and whole.open_end and whole.as_reader_window() == (None, None)
    middle = window_for_range(partitions, "2026-02-01", "2026-02-03")
    assert middle.as_reader_window() == (date(2026, 2, 1), date(2026, 2, 4))
    assert clamp_to_partitions(partitions, date(2020, 5, 5)) == first
    assert clamp_to_partitions(partitions, date(2999, 1, 1)) == last
    assert spanning_ranges(["2026-01-03", "2026-01-01", "2026-01-09"], 92) == [("2026-01-01", "2026-01-09")]
    assert spanning_ranges(["2026-01-01", "2026-01-05", "2026-01-06", "2026-02-01"], 5) == [
        ("2026-01-01", "2026-01-05"), ("2026-01-06", "2026-01-06"), ("2026-02-01", "2026-02-01")]


def test_range_run_materializes_exactly_its_partitions_in_the_instance(pipeline):
    definitions = build_definitions(pipeline.config())
    job = definitions.resolve_job_def("export_demo")
    start, end = (SYNC_START + timedelta(days=1)).isoformat(), (SYNC_START + timedelta(days=3)).isoformat()
    result = job.execute_in_process(
        instance=pipeline.instance(), tags={RANGE_START_TAG: start, RANGE_END_TAG: end}, raise_on_error=False
    )
    assert result.success
    materialized = pipeline.instance().get_materialized_partitions(dg.AssetKey(["demo", "qbo_invoices"]))
    assert materialized == {(SYNC_START + timedelta(days=i)).isoformat() for i in range(1, 4)}


def test_run_status_sensor_writes_the_sync_report_once(pipeline):
    from qbo_pipeline.defs.sensors import sync_report_on_success

    definitions = build_definitions(pipeline.config())
    instance = pipeline.instance()
    # a run launched without the runner (as the daemon would launch it): nobody reported it yet
    result = definitions.resolve_job_def("export_demo_master").execute_in_process(instance=instance)
    run = instance.get_run_by_id(result.run_id)
    event = next(e for e in instance.all_logs(run.run_id)
                 if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.RUN_SUCCESS)

    def evaluate() -> None:
        context = dg.build_run_status_sensor_context(
            sensor_name="sync_report_on_success", dagster_instance=instance, dagster_run=run,
            dagster_event=event.dagster_event, resources=definitions.resources,
        )
        sync_report_on_success(context)

    evaluate()
    evaluate()  # a sensor re-evaluated for the same run does not report it twice
    ledger = Ledger(pipeline.config().ledger.url)
    mine = [r for r in ledger.reports("demo", limit=1000) if r["run_id"] == run.run_id and r["report"].get("kind") == "dagster_run"]
    ledger.dispose()
    assert len(mine) == 1
    assert mine[0]["report"]["entities"]["qbo_customers"]["created"] > 0
    latest = instance.get_latest_materialization_event(SYNC_REPORTS_KEY).asset_materialization.metadata
    assert latest["run_id"].value == run.run_id
    assert latest["created"].value == mine[0]["report"]["totals"]["created"]


def test_nightly_schedule_requests_yesterday(pipeline):
    definitions = build_definitions(pipeline.config())
    schedule = definitions.resolve_schedule_def("nightly_reconciliation_demo")
    moment = datetime.combine(date.today(), datetime.min.time()).replace(hour=2)
    with dg.build_schedule_context(
        instance=pipeline.instance(), scheduled_execution_time=moment, repository_def=definitions.get_repository_def()
    ) as context:
        data = schedule.evaluate_tick(context)
    (request,) = data.run_requests
    assert request.partition_key == (date.today() - timedelta(days=1)).isoformat()
