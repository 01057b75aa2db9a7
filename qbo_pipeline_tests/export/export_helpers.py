"""Shared set-up for export tests: a sandbox, a ledger, a connected vault and a client.

Other areas (Dagster, CLI) may reuse ``connected_company`` to get a working pipeline side.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from qbo_pipeline.config import CompanyConfig, load_config
from qbo_pipeline.export.engine import ExportEngine
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.qbo.auth import TokenVault, connect_headless
from qbo_pipeline.qbo.client import QboClient
from qbo_pipeline.qbo.limits import RateLimiter


@dataclass
class Connected:
    sandbox: Any
    ledger: Ledger
    vault: TokenVault
    company: CompanyConfig
    realm: str
    client: QboClient
    config: Any

    def engine(self, **overrides: Any) -> ExportEngine:
        config = load_config(overrides={"export": overrides}) if overrides else self.config
        return ExportEngine(self.client, self.ledger, config, self.company.key)

    def new_client(self, **kwargs: Any) -> QboClient:
        kwargs.setdefault("limiter", RateLimiter())
        kwargs.setdefault("backoff_initial", 0.05)
        kwargs.setdefault("backoff_max", 0.5)
        return QboClient(self.sandbox.url, self.realm, self.vault.token_source(self.company), **kwargs)

    def records(self, entity: str) -> list[dict[str, Any]]:
        return self.client.query_all(entity, "Active IN (true, false)" if entity in ("Customer", "Item", "Account")
                                     else None)


def connected_company(sandbox: Any, tmp_path: Path, *, key: str = "demo", ledger_url: str | None = None,
                      **client_options: Any) -> Connected:
    """Connect ``key`` to the sandbox through the standard OAuth flow; tokens in a fresh ledger."""
    ledger = Ledger(ledger_url or f"sqlite:///{tmp_path}/ledger-{key}.db")
    vault = TokenVault(ledger, Fernet.generate_key(), lock_dir=tmp_path / "locks")
    company = CompanyConfig(key=key, environment="local", base_url=sandbox.url)
    realm = connect_headless(vault, company)
    config = load_config()
    client_options.setdefault("limiter", RateLimiter())
    client_options.setdefault("backoff_initial", 0.05)
    client_options.setdefault("backoff_max", 0.5)
    client = QboClient(sandbox.url, realm, vault.token_source(company), **client_options)
    return Connected(sandbox, ledger, vault, company, realm, client, config)
