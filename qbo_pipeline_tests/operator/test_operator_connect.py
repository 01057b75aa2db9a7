"""`qbo-pipeline connect` / `disconnect` through the real command line against a sandbox
that asks for consent: the test plays the browser (consent form, redirect to the listener)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from qbo_pipeline_tests.operator.operator_helpers import OperatorEnv, make_env

COMMAND = [sys.executable, "-c", "from qbo_pipeline.cli import main; main()"]


class _FormParser(HTMLParser):
    """The consent page's form: its action and the fields a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.options: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value") or ""
        elif tag == "option":
            self.options.append(values.get("value") or "")


@pytest.fixture
def consent_env(tmp_path: Any, sandbox_factory: Any, monkeypatch: pytest.MonkeyPatch) -> OperatorEnv:
    """A pipeline whose sandbox shows the consent page (no auto-consent)."""
    sandbox = sandbox_factory(enforce_limits=False, auto_consent=False)
    env = make_env(tmp_path / "pipeline", sandbox, None)
    for key, value in env.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("QBO_PIPELINE_TOKEN_KEY", raising=False)
    return env


def _start_connect(env: OperatorEnv) -> tuple[subprocess.Popen, str]:
    """Run `qbo-pipeline connect --no-browser` and read the authorize URL it prints."""
    process = subprocess.Popen([*COMMAND, "connect", "--no-browser", "--timeout", "30"], env={**os.environ, **env.env()},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("http"):
            return process, line.strip()
    process.kill()
    raise AssertionError(f"connect printed no authorize URL; stderr: {process.stderr.read()}")


def _consent(authorize_url: str) -> str:
    """Open the consent page, submit its form as a browser would; the redirect location."""
    with httpx.Client(timeout=10) as browser:
        page = browser.get(authorize_url)
        assert page.status_code == 200 and "Connect to QuickBooks" in page.text
        form = _FormParser()
        form.feed(page.text)
        assert form.action and form.options, "the consent page has a form with a company to pick"
        data = {**form.fields, "realmId": form.options[0], "decision": "connect"}
        answer = browser.post(httpx.URL(authorize_url).join(form.action), data=data)
    assert answer.status_code == 302
    return answer.headers["location"]


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def test_connect_through_consent_page_stores_tokens_for_the_realm(consent_env: OperatorEnv) -> None:
    process, url = _start_connect(consent_env)
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == [consent_env.redirect_uri] and query["state"][0]
    location = _consent(url)
    assert location.startswith(consent_env.redirect_uri)
    landing = httpx.get(location, timeout=10)  # the browser follows the redirect to the listener
    code, out, err = _finish(process)
    assert landing.status_code == 200 and "connected" in landing.text.lower()
    assert code == 0, err
    realm = parse_qs(urlsplit(location).query)["realmId"][0]
    assert f"realm {realm}" in out

    status = consent_env.invoke_json("doctor", "--only", "connection")[1]
    assert status["connection"]["status"] == "connected" and status["connection"]["realm_id"] == realm
    ledger = consent_env.ledger()
    try:
        assert ledger.connection("demo")["status"] == "connected"
        token_row = ledger.engine.connect().exec_driver_sql("select realm_id, ciphertext from tokens").first()
    finally:
        ledger.dispose()
    assert token_row.realm_id == realm
    assert "access_token" not in token_row.ciphertext  # stored encrypted


def test_connect_refuses_a_callback_with_a_wrong_state(consent_env: OperatorEnv) -> None:
    process, url = _start_connect(consent_env)
    location = _consent(url)
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = "forged-" + query["state"]
    landing = httpx.get(urlunsplit(parts._replace(query=urlencode(query))), timeout=10)
    code, _out, err = _finish(process)
    assert landing.status_code == 400 and "state" in landing.text
    assert code == 1
    assert re.search(r"state .* does not match", err)
    ledger = consent_env.ledger()
    try:
        assert ledger.connection("demo") is None
    finally:
        ledger.dispose()


def test_disconnect_revokes_the_grant_and_forgets_the_tokens(connected_env: OperatorEnv) -> None:
    # the sandbox accepts the stored access token before, and refuses it after the revoke
    ledger = connected_env.ledger()
    realm = ledger.connection("demo")["realm_id"]
    ledger.dispose()
    code, data = connected_env.invoke_json("disconnect")
    assert code == 0 and data == {"ok": True, "company": "demo", "was_connected": True, "revoked": True,
                                  "status": "disconnected"}
    ledger = connected_env.ledger()
    try:
        assert ledger.connection("demo")["status"] == "disconnected"
        assert ledger.engine.connect().exec_driver_sql("select count(*) from tokens").scalar() == 0
    finally:
        ledger.dispose()
    revoked = [body for body in connected_env.sandbox.state.oauth.refresh.values() if body["realm"] == realm]
    assert revoked and all(body.get("revoked") for body in revoked)
    # commands that need QuickBooks now say the company is not connected (exit 3)
    result = connected_env.invoke("link", "customer", "C1", "1")
    assert result.exit_code == 3 and "not connected" in result.stderr
    # a second disconnect has nothing to do
    assert connected_env.invoke_json("disconnect")[1]["status"] == "not_connected"


def test_connect_rejects_a_redirect_uri_that_is_not_loopback(operator_env: OperatorEnv) -> None:
    text = operator_env.config_path.read_text().replace(operator_env.redirect_uri, "https://example.com/callback")
    operator_env.config_path.write_text(text)
    result = operator_env.invoke("connect", "--no-browser", "--timeout", "1")
    assert result.exit_code == 2 and "loopback" in result.stderr
