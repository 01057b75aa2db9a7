"""A stable local address: the embedded sandbox's fixed port, links that survive restarts, and a
token refresh that follows the current discovery document."""

from __future__ import annotations

import pytest

from qbo_pipeline.local import DEFAULT_SANDBOX_PORT, sandbox_port
from qbo_pipeline.qbo.environments import app_url
from qbo_pipeline_tests.operator.operator_helpers import OperatorEnv


def test_the_sandbox_port_is_fixed_unless_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QBO_SANDBOX_PORT", raising=False)
    assert sandbox_port() == DEFAULT_SANDBOX_PORT == 8790
    assert DEFAULT_SANDBOX_PORT not in (3000, 8000, 8765)  # Dagster UI, docs' sandbox example, OAuth callback
    monkeypatch.setenv("QBO_SANDBOX_PORT", "18790")
    assert sandbox_port() == 18790 and sandbox_port(0) == 0  # --sandbox-port wins
    # the links a run records point at the fixed address, so they open after the next start
    monkeypatch.delenv("QBO_SANDBOX_PORT")
    assert app_url("local", None, "Invoice", "42") == "http://127.0.0.1:8790/app/invoice?txnId=42"


def test_refresh_uses_the_current_discovery_document_not_a_stored_endpoint(connected_env: OperatorEnv) -> None:
    """The first run after the access token expired used the token endpoint stored at connect
    time; after a sandbox restart on another port that address is dead."""
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.sync import open_vault

    config = connected_env.config()
    ledger = Ledger(config.ledger.url)
    try:
        ledger.set_connection("demo", status="connected", token_endpoint="http://127.0.0.1:1/oauth2/v1/tokens/bearer")  # the old port
        vault = open_vault(config, ledger)
        before = vault.status("demo")["refreshes"]
        token = vault.access_token(config.company("demo"), force_refresh=True)
        assert token and vault.status("demo")["refreshes"] == before + 1
    finally:
        ledger.dispose()
