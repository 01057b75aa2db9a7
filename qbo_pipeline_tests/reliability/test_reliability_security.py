"""Security: secrets stay secret, and the sandbox (like Intuit) refuses what it must refuse.

- After a real Dagster export (with a token refresh forced mid-run and a revoked connection
  afterwards), no access token, refresh token, authorization code or client secret appears in
  plaintext in any file the pipeline wrote (ledger, Dagster storage, state folder), in the
  logs, in the run's event log and materialization metadata, or in error texts.
- The sandbox answers 401 to a missing or expired token and 403 to another company's token.
- An OAuth callback whose state differs from the one sent is refused.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import httpx
import pytest

from qbo_pipeline.config import load_config
from qbo_pipeline.qbo.auth import AuthError, OAuthApp, authorization_url, parse_callback
from qbo_pipeline.runner import export_once
from qbo_pipeline_tests.defs.conftest import pipeline  # noqa: F401  (the whole-pipeline fixture)
from qbo_pipeline_tests.fixtures_sandbox import sandbox_tokens

CLIENT_SECRET = "local-client-secret"


def _issued_secrets(sandbox) -> set[str]:
    """Every token and code the sandbox ever handed out, plus the app's client secret."""
    oauth = sandbox.state.oauth
    return {*oauth.access, *oauth.refresh, *oauth.codes, CLIENT_SECRET}


def _files_with(secrets: set[str], root: Path, skip: tuple[str, ...]) -> dict[str, list[str]]:
    leaks: dict[str, list[str]] = {}
    for path in root.rglob("*"):
        if not path.is_file() or any(part.startswith(skip) for part in path.parts):
            continue
        data = path.read_bytes()
        found = [s[:8] + "..." for s in secrets if s.encode() in data]
        if found:
            leaks[str(path.relative_to(root))] = found
    return leaks


def test_no_secret_in_files_logs_run_metadata_or_errors(pipeline, caplog, capfd):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    sandbox = pipeline.sandbox
    secrets = _issued_secrets(sandbox)  # the connection's first grant (revocation forgets tokens, so collect now)
    sandbox.admin("POST", "tokens/expire", {"realm": sandbox.realm})  # the run must refresh its tokens
    summary = export_once(pipeline.config(), "demo")
    assert summary.status == "SUCCESS"
    secrets |= _issued_secrets(sandbox)

    # then the grant is revoked: the next run fails, and its error texts are scanned too
    sandbox.admin("POST", "tokens/revoke", {"realm": sandbox.realm})
    pipeline.sandbox.admin("POST", "tokens/expire", {"realm": sandbox.realm})
    from qbo_pipeline.source.demo import mutate_demo_db

    mutate_demo_db(pipeline.source_url, seed=3, new=2, edits=2)
    failed = export_once(pipeline.config(), "demo")
    assert failed.status != "SUCCESS", "a revoked connection must fail the run"

    secrets |= _issued_secrets(sandbox)
    assert len(secrets) >= 4  # the first grant, the refreshed pair, the client secret

    leaks = _files_with(secrets, pipeline.tmp, skip=("sandbox-",))
    assert not leaks, f"plaintext secrets in files: {leaks}"
    # the scan does find plaintext where it exists: the sandbox (the server side) keeps its tokens
    assert any(name.startswith("sandbox-") for name in _files_with(secrets, pipeline.tmp, skip=("\0",)))

    instance = dg.DagsterInstance.get()
    texts = [caplog.text, *capfd.readouterr()]
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            texts.append(entry.user_message or "")
            texts.append(repr(entry.dagster_event) if entry.dagster_event else "")
        texts.append(repr(run.tags))
    metadata = []
    for key in instance.get_asset_keys():
        records = instance.fetch_materializations(key, limit=100).records
        metadata += [repr(r.asset_materialization.metadata) for r in records if r.asset_materialization]
    assert metadata, "the runs materialized nothing to scan"
    texts += metadata
    joined = "\n".join(texts)
    assert "revoked" in joined.lower() or "reconnect" in joined.lower(), "the auth error text was not captured"
    exposed = [s[:8] + "..." for s in secrets if s in joined]
    assert not exposed, f"secrets in logs, run events or metadata: {exposed}"


def test_sandbox_refuses_missing_expired_and_other_company_tokens(sandbox_unlimited):
    sandbox = sandbox_unlimited
    api = f"{sandbox.url}/v3/company/{sandbox.realm}/companyinfo/{sandbox.realm}"
    tokens = sandbox.tokens()
    assert httpx.get(api, headers={"Authorization": f"Bearer {tokens['access_token']}",
                                   "Accept": "application/json"}).status_code == 200

    assert httpx.get(api, headers={"Accept": "application/json"}).status_code == 401
    assert httpx.get(api, headers={"Authorization": "Bearer not-a-token", "Accept": "application/json"}).status_code == 401

    other = sandbox.admin("POST", "companies", {"name": "Someone Else Ltd"})["realm"]
    other_tokens = sandbox_tokens(sandbox.url, realm=other)
    refused = httpx.get(api, headers={"Authorization": f"Bearer {other_tokens['access_token']}",
                                      "Accept": "application/json"})
    assert refused.status_code == 403

    sandbox.admin("POST", "tokens/expire", {"realm": sandbox.realm})
    expired = httpx.get(api, headers={"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"})
    assert expired.status_code == 401


def test_a_wrong_oauth_state_is_refused(sandbox_unlimited):
    company = load_config(overrides={"companies": [{"key": "demo", "environment": "local",
                                                    "base_url": sandbox_unlimited.url}]}).company("demo")
    app = OAuthApp.from_company(company)
    url, state = authorization_url(app)
    answer = httpx.get(url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302
    callback = answer.headers["location"]
    assert parse_qs(urlsplit(callback).query)["state"] == [state]

    with pytest.raises(AuthError, match="state"):
        parse_callback(callback, expected_state=state + "-forged")
    with pytest.raises(AuthError, match="state"):
        parse_callback(callback.replace(f"state={state}", "state=attacker"), expected_state=state)
    code, realm = parse_callback(callback, expected_state=state)
    assert code and realm == sandbox_unlimited.realm
