"""The shape of the Dagster layer: one graph partitioned by company, true per-partition counts, one sensor.

Real throughout: the demo source in SQLite, the sandbox over HTTP, a Dagster instance in a
temporary DAGSTER_HOME.
"""

from __future__ import annotations

import dagster as dg
import yaml

from qbo_pipeline.definitions import build_definitions, default_resources, defs
from qbo_pipeline.defs.assets import SYNC_REPORTS
from qbo_pipeline.defs.partitions import COMPANY_PARTITIONS_NAME
from qbo_pipeline.entities import REGISTRY
from qbo_pipeline.runner import export_once
from qbo_pipeline.source.demo import mutate_demo_db

# What one export run may record in the event log, whatever the history's span or the number
# of companies: per asset and per check a planned event, a step output and a result; the run and
# step lifecycle (about 10); the stage lines and warnings of the run (at most 12). Measured 54 with
# 11 entities and 2 checks (see docs/dagster.md). Bounded by the graph, not the data.
_GRAPH = defs().resolve_asset_graph()
MAX_EVENTS_PER_RUN = 3 * (len(list(_GRAPH.get_all_asset_keys())) + len(_GRAPH.asset_check_keys)) + 10 + 12


def _asset_names(definitions: dg.Definitions) -> set[str]:
    return {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}


def test_the_code_location_does_not_grow_with_companies(tmp_path, monkeypatch):
    one = tmp_path / "one.yaml"
    many = tmp_path / "many.yaml"
    one.write_text(yaml.safe_dump({"companies": [{"key": "demo", "environment": "local"}]}))
    many.write_text(yaml.safe_dump({"companies": [{"key": f"c{i:04d}", "environment": "local"} for i in range(300)]}))
    shapes = []
    for path in (one, many):
        monkeypatch.setenv("QBO_PIPELINE_CONFIG", str(path))
        loaded = defs()
        shapes.append((_asset_names(loaded), len(list(loaded.sensors or [])), len(list(loaded.schedules or []))))
    assert shapes[0] == shapes[1]
    assert shapes[0][0] == {e.asset_name for e in REGISTRY} | {"sync_reports"}
    assert shapes[0][1:] == (1, 1)


def test_per_partition_metadata_equals_that_partitions_counts(pipeline):
    first = export_once(pipeline.config(), "demo")
    assert first.status == "SUCCESS", first.error
    instance = pipeline.instance()
    run = instance.get_run_by_id(first.run_id)
    assert run.tags["dagster/partition"] == "demo"
    assert not [tag for tag in run.tags if "cursor" in tag], "the source cursor is not a visible run tag"
    for entity in REGISTRY:
        counts = first.report["entities"][entity.name]
        event = instance.get_latest_materialization_event(dg.AssetKey(entity.asset_name))
        if not counts["read"]:  # nothing of this entity in the source: nothing materialized
            assert event is None
            continue
        materialization = event.asset_materialization
        assert materialization.partition == "demo"
        shown = {k: v.value for k, v in materialization.metadata.items() if "/" not in k}
        assert shown == {k: v for k, v in counts.items() if not isinstance(v, dict)}
        assert {k.split("/", 1)[1]: v.value for k, v in materialization.metadata.items() if "/" in k} == counts["skipped"]
    created = sum(c["created"] for c in first.report["entities"].values())
    assert created > 0
    report = instance.get_latest_materialization_event(SYNC_REPORTS).asset_materialization
    assert report.partition == "demo"
    assert report.metadata["run"] == dg.MetadataValue.dagster_run(first.run_id)
    assert len(instance.all_logs(first.run_id)) <= MAX_EVENTS_PER_RUN
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(SYNC_REPORTS, "no_failed_or_blocked")])
    assert check, "the run's check was not evaluated"

    # a working day: only the changed records are written, and the partition shows this run's counts
    mutate_demo_db(pipeline.source_url, seed=5, new=2, edits=2)
    writes_before = pipeline.writes()
    second = export_once(pipeline.config(), "demo")
    assert second.status == "SUCCESS", second.error
    invoices = instance.get_latest_materialization_event(dg.AssetKey("qbo_invoices")).asset_materialization
    assert invoices.metadata["created"].value == second.report["entities"]["invoices"]["created"]
    # the day's invoices were read, and only they; each ends in one place (mutate's choices depend on
    # the clock: a new invoice of the quarantined demo customer is quarantined with it, not created)
    day = second.report["entities"]["invoices"]
    assert 2 <= day["read"] < first.report["entities"]["invoices"]["read"]
    placed = sum(v for k, v in day.items() if k not in ("read", "skipped", "write_requests", "derived"))
    assert placed + sum(day["skipped"].values()) == day["read"], day
    assert day["created"] + day["updated"] >= 1, day
    assert pipeline.writes() - writes_before < created
    assert len(instance.all_logs(second.run_id)) <= MAX_EVENTS_PER_RUN


def test_dry_run_writes_nothing_and_shows_the_plan_by_field(pipeline):
    assert export_once(pipeline.config(), "demo").status == "SUCCESS"
    mutate_demo_db(pipeline.source_url, seed=6, new=0, edits=3)
    writes = pipeline.writes()
    planned = export_once(pipeline.config(), "demo", dry_run=True, full=True)
    assert planned.status == "SUCCESS", planned.error
    assert pipeline.writes() == writes
    updates = [row for row in planned.report["plan"] if row["action"] == "update"]
    assert updates and all(change.split(":")[0] for row in updates for change in row["changes"])
    report = pipeline.instance().get_latest_materialization_event(SYNC_REPORTS).asset_materialization
    assert "fields that change" in report.metadata["report"].value


def _tick(definitions: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = definitions.resolve_sensor_def("source_changes")
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=default_resources()) as context:
        return sensor(context), context


def test_one_sensor_adds_listed_companies_and_skips_when_nothing_changed(pipeline):
    instance = pipeline.instance()
    definitions = build_definitions()

    result, _ = _tick(definitions, instance, None)
    assert [r.partition_key for r in result.run_requests] == ["demo"]
    assert result.dynamic_partitions_requests[0].partition_keys == ["demo"]
    run_key = result.run_requests[0].run_key

    assert export_once(pipeline.config(), "demo").status == "SUCCESS"
    assert instance.get_dynamic_partitions(COMPANY_PARTITIONS_NAME) == ["demo"]
    quiet, _ = _tick(definitions, instance, result.cursor)
    assert isinstance(quiet, dg.SkipReason)

    # a change: a new run key (it carries the ledger cursor), so a new run
    mutate_demo_db(pipeline.source_url, seed=7, new=1, edits=0)
    changed, _ = _tick(definitions, instance, result.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["demo"]
    assert changed.run_requests[0].run_key != run_key

    # a company added to the pipeline file is a partition at the next tick: same code, no reload
    data = yaml.safe_load(pipeline.config_path.read_text())
    data["companies"].append({**data["companies"][0], "key": "acme"})
    pipeline.config_path.write_text(yaml.safe_dump(data))
    grown, _ = _tick(definitions, instance, changed.cursor)
    assert grown.dynamic_partitions_requests[0].partition_keys == ["acme"]
