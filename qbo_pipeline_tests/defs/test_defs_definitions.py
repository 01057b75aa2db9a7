"""The code location loads, and its shape is what the UI and the sensors rely on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from qbo_pipeline.config import ConfigError, load_config
from qbo_pipeline.definitions import build_definitions, defs
from qbo_pipeline.defs.assets import COMPANY_TAG

ROOT = Path(__file__).resolve().parents[2]


def test_workspace_validates_with_the_dagster_cli(tmp_path):
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
        env={"PATH": str(dagster.parent), "DAGSTER_HOME": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_location_definitions_load():
    loaded = defs()
    dg.Definitions.validate_loadable(loaded)
    keys = {spec.key for spec in loaded.resolve_all_asset_specs()}
    assert dg.AssetKey(["demo", "qbo_invoices"]) in keys
    assert dg.AssetKey("sync_reports") in keys


def test_graph_is_grouped_by_stage_and_ordered_for_export():
    definitions = build_definitions(load_config())
    specs = {spec.key.to_user_string(): spec for spec in definitions.resolve_all_asset_specs()}
    groups = {key: spec.group_name for key, spec in specs.items()}
    assert groups["demo/source_customers"] == "source"
    assert groups["demo/validated_transactions"] == "validated"
    assert groups["demo/transaction_payloads"] == "payloads"
    assert groups["demo/qbo_payments"] == "export"
    deps = {key: {d.asset_key.to_user_string() for d in spec.deps} for key, spec in specs.items()}
    assert {"demo/qbo_customers", "demo/qbo_items"} <= deps["demo/qbo_invoices"]
    assert {"demo/qbo_invoices", "demo/qbo_credit_memos"} <= deps["demo/qbo_payments"]
    assert "demo/qbo_payments" in deps["demo/qbo_refund_receipts"]
    # transactions are partitioned by day, name lists are not; history backfills in ranges
    invoices = definitions.resolve_assets_def(dg.AssetKey(["demo", "qbo_invoices"]))
    assert isinstance(invoices.partitions_def, dg.DailyPartitionsDefinition)
    assert invoices.backfill_policy.max_partitions_per_run > 1
    assert definitions.resolve_assets_def(dg.AssetKey(["demo", "qbo_customers"])).partitions_def is None
    # the column schema of the pandera contract is shown in the UI
    assert "dagster/column_schema" in specs["demo/source_customers"].metadata


def test_each_company_gets_an_isolated_graph(tmp_path):
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text(
        "companies:\n"
        "  - {key: east, environment: sandbox, realm_id: '1'}\n"
        "  - {key: west, environment: production, realm_id: '2'}\n"
    )
    definitions = build_definitions(load_config(config_file))
    keys = {spec.key.to_user_string() for spec in definitions.resolve_all_asset_specs()}
    assert {"east/qbo_invoices", "west/qbo_invoices"} <= keys
    east = definitions.resolve_job_def("export_east")
    assert east.tags[COMPANY_TAG] == "east"
    # each company's exports queue on its own pool: one export per company at a time
    pools = {definitions.resolve_assets_def(dg.AssetKey([c, "qbo_invoices"])).op.pool for c in ("east", "west")}
    assert pools == {"qbo_export_east", "qbo_export_west"}
    assert {s.name for s in definitions.sensors} >= {"source_changes_east", "source_changes_west"}


def test_wrong_option_names_the_file_key_and_allowed_values(tmp_path):
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text("export:\n  closed_period: ignore\n")
    with pytest.raises(ConfigError) as error:
        load_config(config_file)
    assert str(config_file) in str(error.value) and "export.closed_period" in str(error.value)
    assert "skip" in str(error.value)


def test_each_company_reads_its_own_source(tmp_path):
    from qbo_pipeline.source.demo import init_demo_db
    from qbo_pipeline.sync import reader_for

    east_url, west_url = f"sqlite:///{tmp_path}/east.db", f"sqlite:///{tmp_path}/west.db"
    init_demo_db(east_url, scale=0.005, seed=1)
    init_demo_db(west_url, scale=0.01, seed=2)
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text(
        f"source: {{url: '{east_url}'}}\n"
        "companies:\n"
        "  - {key: east, environment: sandbox, realm_id: '1'}\n"
        f"  - {{key: west, environment: sandbox, realm_id: '2', source: {{url: '{west_url}'}}}}\n"
    )
    config = load_config(config_file)
    with reader_for(config, "east") as east, reader_for(config, "west") as west:
        assert east.count("invoices") != west.count("invoices")
        assert str(west.engine.url).endswith("west.db")
