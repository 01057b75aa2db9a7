"""Token vault against the sandbox's real OAuth endpoints: encryption, refresh, single flight, reconnect."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from qbo_pipeline.config import CompanyConfig
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.qbo.auth import (
    KEY_ENV,
    OAuthApp,
    TokenKeyError,
    TokenVault,
    authorization_url,
    connect_headless,
    load_key,
    parse_callback,
)
from qbo_pipeline.qbo.errors import AuthError, NeedsReconnectError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def connected(sandbox_server, tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    key = Fernet.generate_key()
    vault = TokenVault(ledger, key, lock_dir=tmp_path / "locks")
    company = CompanyConfig(key="acme", environment="local", base_url=sandbox_server.url)
    realm = connect_headless(vault, company)
    return sandbox_server, ledger, vault, company, realm, key


def _expire_soon(ledger: Ledger, company: str, seconds: float = 10) -> None:
    t = ledger.tables["tokens"]
    with ledger.begin() as conn:
        conn.execute(t.update().where(t.c.company == company).values(access_expires_at=time.time() + seconds))


def _version(ledger: Ledger, company: str) -> int:
    t = ledger.tables["tokens"]
    with ledger.engine.connect() as conn:
        return conn.execute(sa.select(t.c.version).where(t.c.company == company)).scalar()


def test_tokens_are_encrypted_at_rest_and_usable(connected):
    sandbox, ledger, vault, company, realm, _ = connected
    assert realm == sandbox.realm
    token = vault.access_token(company)
    with ledger.engine.connect() as conn:
        stored = conn.execute(sa.select(ledger.tables["tokens"])).first()
    assert token not in stored.ciphertext and "refresh_token" not in stored.ciphertext
    assert ledger.connection("acme")["status"] == "connected"
    with sandbox.client() as http:  # the vault's token really works on the data API
        http.headers["Authorization"] = f"Bearer {token}"
        assert http.get(f"/companyinfo/{realm}").status_code == 200
    status = vault.status("acme")
    assert status["status"] == "connected" and status["access_expires_in"] > 3000 and token not in str(status)


def test_refresh_token_hard_expiry_is_asked_for_kept_and_reported(connected):
    _, ledger, vault, company, _, _ = connected
    hard = vault.status("acme")["refresh_hard_expires_at"]
    # Intuit caps refresh tokens at 5 years; the token endpoint reports it when asked
    assert hard is not None and 365 * 86400 < hard - time.time() <= 5 * 366 * 86400
    _expire_soon(ledger, "acme")
    vault.access_token(company)  # a refresh: the hard expiry survives it
    assert vault.status("acme")["refresh_hard_expires_at"] == pytest.approx(hard, abs=5)


def test_wrong_key_gives_a_clear_error(connected):
    _, ledger, _, company, _, _ = connected
    other = TokenVault(ledger, Fernet.generate_key(), lock_dir=ledger.url.rsplit("/", 1)[0].replace("sqlite:///", ""))
    with pytest.raises(AuthError, match="cannot be decrypted"):
        other.access_token(company)


def test_refresh_ahead_of_expiry_rotates_and_persists_first(connected):
    _, ledger, vault, company, _, _ = connected
    before = vault.access_token(company)
    _expire_soon(ledger, "acme")
    after = vault.access_token(company)
    assert after != before and _version(ledger, "acme") == 2
    # the rotated refresh token was stored: a new vault (another process) can refresh again
    _expire_soon(ledger, "acme")
    again = TokenVault(ledger, connected[5], lock_dir=vault.lock_dir)
    assert again.access_token(company) not in (before, after)


def test_single_flight_across_threads(connected):
    _, ledger, vault, company, _, _ = connected
    _expire_soon(ledger, "acme")
    tokens, errors = [], []

    def use() -> None:
        try:
            tokens.append(vault.access_token(company))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(tokens)) == 1 and _version(ledger, "acme") == 2 and vault.refresh_count == 1


def test_single_flight_across_processes(connected, tmp_path):
    sandbox, ledger, vault, company, _, key = connected
    _expire_soon(ledger, "acme")
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from qbo_pipeline.config import CompanyConfig
        from qbo_pipeline.ledger import Ledger
        from qbo_pipeline.qbo.auth import TokenVault
        vault = TokenVault(Ledger({ledger.url!r}), {key.decode()!r}, lock_dir={str(vault.lock_dir)!r})
        company = CompanyConfig(key="acme", environment="local", base_url={sandbox.url!r})
        start = float(sys.argv[1])
        while time.time() < start:
            time.sleep(0.005)
        print(vault.access_token(company))
    """)
    start = str(time.time() + 2.0)
    procs = [subprocess.Popen([sys.executable, "-c", script, start], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outputs]
    assert len({o[0].strip() for o in outputs}) == 1  # all use the one new token
    assert _version(ledger, "acme") == 2  # exactly one refresh went to the token endpoint


def test_invalid_grant_marks_needs_reconnect(connected):
    sandbox, ledger, vault, company, _, _ = connected
    sandbox.admin("POST", "tokens/revoke", {})
    _expire_soon(ledger, "acme")
    with pytest.raises(NeedsReconnectError, match="reconnect") as caught:
        vault.access_token(company)
    assert "invalid_grant" in str(caught.value) and caught.value.hint
    connection = ledger.connection("acme")
    assert connection["status"] == "needs_reconnect" and "qbo-pipeline connect" in connection["message"]
    with pytest.raises(NeedsReconnectError):
        vault.access_token(company)  # later calls fail fast without burning anything
    connect_headless(vault, company)  # reconnecting clears it
    assert ledger.connection("acme")["status"] == "connected" and vault.access_token(company)


def test_key_from_env_or_local_file(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(TokenKeyError, match=KEY_ENV):
        load_key(environment="production", state_dir=tmp_path)
    key = load_key(environment="local", state_dir=tmp_path)
    assert load_key(environment="local", state_dir=tmp_path) == key
    assert stat.S_IMODE(os.stat(tmp_path / "token.key").st_mode) == 0o600
    monkeypatch.setenv(KEY_ENV, "not-a-key")
    with pytest.raises(TokenKeyError, match="not a valid Fernet key"):
        load_key(environment="sandbox", state_dir=tmp_path)
    good = Fernet.generate_key()
    monkeypatch.setenv(KEY_ENV, good.decode())
    assert load_key(environment="production", state_dir=tmp_path) == good


def test_callback_state_is_checked(sandbox_server):
    app = OAuthApp("local-client-id", "local-client-secret", f"{sandbox_server.url}/.well-known/openid_configuration")
    url, state = authorization_url(app)
    assert "client_id=local-client-id" in url and f"state={state}" in url and "local-client-secret" not in url
    with pytest.raises(AuthError, match="state"):
        parse_callback("http://127.0.0.1:8765/callback?code=x&state=forged&realmId=1", state)
    assert parse_callback(f"http://127.0.0.1:8765/callback?code=c&state={state}&realmId=9", state) == ("c", "9")


def test_non_local_company_needs_its_secret(monkeypatch):
    monkeypatch.delenv("QBO_CLIENT_SECRET", raising=False)
    company = CompanyConfig(key="prod", environment="production", realm_id="1")
    with pytest.raises(AuthError, match="QBO_CLIENT_SECRET"):
        OAuthApp.from_company(company)
    monkeypatch.setenv("QBO_CLIENT_SECRET", "s3cret-value")
    app = OAuthApp.from_company(company)
    assert app.discovery_url.startswith("https://developer.api.intuit.com") and "s3cret" not in repr(app)


@pytest.mark.postgres
def test_vault_on_postgresql_refreshes_once_under_row_lock(sandbox_server, tmp_path):
    import uuid

    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
        engine.connect().close()
        engine.dispose()
    except Exception:
        pytest.skip(f"PostgreSQL is not reachable at {url}")
    schema = f"vault_test_{uuid.uuid4().hex[:8]}"
    ledger = Ledger(url, schema=schema)
    try:
        vault = TokenVault(ledger, Fernet.generate_key(), lock_dir=tmp_path / "locks")
        company = CompanyConfig(key="pg", environment="local", base_url=sandbox_server.url)
        connect_headless(vault, company)
        _expire_soon(ledger, "pg")
        tokens: list[str] = []
        threads = [threading.Thread(target=lambda: tokens.append(vault.access_token(company))) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(tokens)) == 1 and len(tokens) == 5 and _version(ledger, "pg") == 2
    finally:
        with ledger.engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        ledger.dispose()
