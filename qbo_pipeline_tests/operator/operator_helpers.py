"""Shared set-up for the operator command tests: a pipeline file pointing at a test sandbox,
a tiny demo source, a temporary ledger, and a way to run ``qbo-pipeline`` through click."""

from __future__ import annotations

import json
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from qbo_pipeline.cli import main
from qbo_pipeline.config import load_config

DEMO_SCALE = 0.005


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class OperatorEnv:
    """A pipeline set up in ``root``: config file, source, ledger and the sandbox it targets."""

    root: Path
    config_path: Path
    sandbox: Any
    redirect_uri: str

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{self.root}/ledger.db"

    @property
    def source_url(self) -> str:
        return f"sqlite:///{self.root}/source.db"

    def config(self) -> Any:
        return load_config(self.config_path)

    def env(self) -> dict[str, str]:
        return {"QBO_PIPELINE_CONFIG": str(self.config_path), "QBO_PIPELINE_STATE_DIR": str(self.root / "state")}

    def invoke(self, *args: str, input: str | None = None) -> Result:  # noqa: A002
        """Run ``qbo-pipeline ARGS`` in-process; stdout and stderr are kept apart."""
        return CliRunner().invoke(main, list(args), env=self.env(), input=input, catch_exceptions=False)

    def invoke_json(self, *args: str) -> tuple[int, Any]:
        result = self.invoke(*args, "--json")
        return result.exit_code, json.loads(result.stdout)

    def ledger(self) -> Any:
        from qbo_pipeline.ledger import Ledger

        return Ledger(self.ledger_url)


def write_config(root: Path, sandbox_url: str, *, redirect_uri: str, **sections: Any) -> Path:
    data: dict[str, Any] = {
        "source": {"url": f"sqlite:///{root}/source.db"},
        "ledger": {"url": f"sqlite:///{root}/ledger.db"},
        "companies": [{"key": "demo", "environment": "local", "base_url": sandbox_url, "redirect_uri": redirect_uri}],
    }
    data.update(sections)
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def make_env(root: Path, sandbox: Any, demo_db: Path | None, **sections: Any) -> OperatorEnv:
    (root / "state").mkdir(parents=True, exist_ok=True)
    if demo_db is not None:
        shutil.copyfile(demo_db, root / "source.db")
    redirect_uri = f"http://127.0.0.1:{free_port()}/callback"
    path = write_config(root, sandbox.url, redirect_uri=redirect_uri, **sections)
    return OperatorEnv(root, path, sandbox, redirect_uri)


def connect_headless(env: OperatorEnv, monkeypatch: Any) -> str:
    """Connect the company through the standard OAuth flow (auto-consent sandbox); the realm id."""
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.qbo.auth import connect_headless as connect
    from qbo_pipeline.sync import open_vault

    for key, value in env.env().items():
        monkeypatch.setenv(key, value)
    config = env.config()
    ledger = Ledger(config.ledger.url)
    try:
        return connect(open_vault(config, ledger), config.company("demo"))
    finally:
        ledger.dispose()
