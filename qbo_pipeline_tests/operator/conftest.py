"""Fixtures of the operator command tests (see operator_helpers for the pieces)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qbo_pipeline.source.demo import init_demo_db
from qbo_pipeline_tests.operator.operator_helpers import DEMO_SCALE, OperatorEnv, connect_headless, make_env


@pytest.fixture(scope="session")
def operator_demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo billing database at a tiny scale, built once and copied per test."""
    path = tmp_path_factory.mktemp("operator-demo") / "source.db"
    init_demo_db(f"sqlite:///{path}", scale=DEMO_SCALE)
    return path


@pytest.fixture
def operator_env(tmp_path: Path, sandbox_factory: Any, operator_demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> OperatorEnv:
    """A pipeline (demo source, fresh ledger) whose only company targets a fresh sandbox (auto-consent, no limits)."""
    sandbox = sandbox_factory(enforce_limits=False)
    env = make_env(tmp_path / "pipeline", sandbox, operator_demo_db)
    for key, value in env.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("QBO_PIPELINE_TOKEN_KEY", raising=False)
    monkeypatch.delenv("QBO_CLIENT_SECRET", raising=False)
    return env


@pytest.fixture
def connected_env(operator_env: OperatorEnv, monkeypatch: pytest.MonkeyPatch) -> OperatorEnv:
    """``operator_env`` with the company connected through OAuth."""
    connect_headless(operator_env, monkeypatch)
    return operator_env
