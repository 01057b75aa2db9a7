"""The team deployment: the Dagster instance on PostgreSQL (docs/dagster.postgres.yaml), for real."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from qbo_pipeline.definitions import build_definitions
from qbo_pipeline.defs.partitions import ensure_companies
from qbo_pipeline.defs.sensors import EXPORT_JOB

ROOT = Path(__file__).resolve().parents[2]
SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_database():
    """A fresh database on the local PostgreSQL server, dropped afterwards."""
    try:
        admin = sa.create_engine(SERVER, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server reachable at 127.0.0.1:5432 ({exc.orig}); this test runs in CI")
    name = f"qbo_dagster_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}'"))
            conn.execute(sa.text(f'drop database if exists "{name}"'))
        admin.dispose()


def test_export_runs_on_a_postgres_instance(pipeline, postgres_database, tmp_path, monkeypatch):
    home = tmp_path / "pg_home"
    home.mkdir()
    shutil.copyfile(ROOT / "docs" / "dagster.postgres.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_database)
    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        ensure_companies(instance, ["demo"])
        result = build_definitions().resolve_job_def(EXPORT_JOB).execute_in_process(
            instance=instance, partition_key="demo")
        assert result.success
        event = instance.get_latest_materialization_event(dg.AssetKey("qbo_customers"))
        assert event.asset_materialization.partition == "demo"
        assert event.asset_materialization.metadata["created"].value > 0
        # the run-queue limits of the file are what the instance enforces
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
