"""A whole pipeline for Dagster tests: demo source, ledger, Dagster home, connected sandbox company.

Everything is real: a SQLite demo database, the sandbox over HTTP on 127.0.0.1, the
Dagster instance in a temporary DAGSTER_HOME, and the company connected through OAuth.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import yaml

from qbo_pipeline.config import PipelineConfig, load_config
from qbo_pipeline.runner import connect_headless_if_needed
from qbo_pipeline.source.demo import init_demo_db

ROOT = Path(__file__).resolve().parents[2]
TODAY = date.today()


@dataclass
class Pipeline:
    config_path: Path
    sandbox: Any
    source_url: str
    tmp: Path

    def config(self) -> PipelineConfig:
        return load_config(self.config_path)

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.get()

    def env(self) -> dict[str, str]:
        """The environment a `qbo-pipeline` subprocess needs to use this pipeline's state."""
        import os

        return {**os.environ, "QBO_PIPELINE_CONFIG": str(self.config_path)}

    def writes(self) -> int:
        """Records the sandbox was asked to write so far: single writes plus batch write items."""
        counters = self.sandbox.admin("GET", "requests").get(self.sandbox.realm, {})
        return int(counters.get("writes", 0)) + int(counters.get("batch_write_items", 0))

    def query(self, statement: str) -> list[dict[str, Any]]:
        with self.sandbox.client() as client:
            answer = client.get("/query", params={"query": statement})
            answer.raise_for_status()
            body = answer.json()["QueryResponse"]
        return next((v for k, v in body.items() if isinstance(v, list)), [])


def write_pipeline_file(tmp: Path, *, source_url: str, base_url: str, extra: dict | None = None) -> Path:
    data = {
        "source": {"url": source_url, "mapping": "canonical"},
        "ledger": {"url": f"sqlite:///{tmp}/ledger.db"},
        "companies": [{"key": "demo", "environment": "local", "base_url": base_url}],
    }
    for section, values in (extra or {}).items():
        data.setdefault(section, {}).update(values) if isinstance(values, dict) else data.__setitem__(section, values)
    path = tmp / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_unlimited: Any) -> Pipeline:
    state = tmp_path / "state"
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("QBO_PIPELINE_STATE_DIR", str(state))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("QBO_CLIENT_SECRET", "local-client-secret")
    source_url = f"sqlite:///{tmp_path}/source.db"
    init_demo_db(source_url, scale=0.005, seed=11, today=TODAY)
    config_path = write_pipeline_file(tmp_path, source_url=source_url, base_url=sandbox_unlimited.url)
    monkeypatch.setenv("QBO_PIPELINE_CONFIG", str(config_path))
    connect_headless_if_needed(load_config(config_path), "demo")
    return Pipeline(config_path, sandbox_unlimited, source_url, tmp_path)


def sandbox_is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/.well-known/openid_configuration", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def latest_check(instance: dg.DagsterInstance, asset_path: list[str], check_name: str) -> Any:
    """The latest evaluation of an asset check (``.passed``, ``.metadata``, ``.description``)."""
    key = dg.AssetCheckKey(dg.AssetKey(asset_path), check_name)
    executions = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])
    execution = executions.get(key)
    assert execution is not None and execution.event is not None, f"{check_name} on {asset_path} never ran"
    return execution.event.dagster_event.event_specific_data
