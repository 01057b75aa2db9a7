"""Reusable pytest fixtures for the local QBO sandbox (registered from qbo_pipeline_tests/conftest.py).

- ``sandbox_server``: a running sandbox (uvicorn in a thread, data in tmp_path, admin on,
  limits at time_scale 10); yields a ``SandboxHandle`` (``.url``, ``.realm``, ``.app``, ``.tokens()``,
  ``.admin(...)``).
- ``sandbox_unlimited``: the same without throttling.
- ``sandbox_factory``: build more with options (``time_scale``, ``faults``, ``clock``,
  ``enforce_limits``...), each served on its own port, all stopped at teardown.
- ``sandbox_tokens(base_url)``: an access/refresh token pair obtained through the real
  OAuth authorization-code flow (the server must run with ``auto_consent=True``; both fixtures do).
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from qbo_pipeline.sandbox.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from qbo_pipeline.sandbox.sample import DEFAULT_REALM
from qbo_pipeline.sandbox.server import run_in_thread

REDIRECT_URI = "http://127.0.0.1:9/callback"
SCOPE = "com.intuit.quickbooks.accounting"


def basic_auth(client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


def sandbox_tokens(base_url: str, *, client_id: str = DEFAULT_CLIENT_ID,
                   client_secret: str = DEFAULT_CLIENT_SECRET, redirect_uri: str = REDIRECT_URI,
                   scope: str = SCOPE, realm: str | None = None) -> dict[str, Any]:
    """Run the authorization-code flow; returns Intuit's token response plus ``realmId``.

    Without ``realm`` the sandbox must run with auto-consent (the default company is chosen);
    with ``realm`` the consent form is submitted for that company."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        discovery = client.get("/.well-known/openid_configuration").json()
        params = {"client_id": client_id, "response_type": "code", "scope": scope,
                  "redirect_uri": redirect_uri, "state": "fixture"}
        if realm is None:
            answer = client.get(discovery["authorization_endpoint"], params=params, follow_redirects=False)
        else:
            answer = client.post(discovery["authorization_endpoint"],
                                 data={**params, "realmId": realm, "decision": "connect"})
        if answer.status_code != 302:
            raise RuntimeError(f"authorize did not redirect (auto_consent off?): {answer.status_code} {answer.text[:200]}")
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        tokens = client.post(discovery["token_endpoint"], data={
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect_uri},
            headers={"Authorization": basic_auth(client_id, client_secret), "Accept": "application/json"})
        tokens.raise_for_status()
        return {**tokens.json(), "realmId": query["realmId"][0]}


@dataclass
class SandboxHandle:
    """A running sandbox: its base URL, default realm and app (for state inspection)."""

    url: str
    app: Any
    data_path: Path
    realm: str = DEFAULT_REALM
    _tokens: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def state(self) -> Any:
        return self.app.state.sandbox

    def tokens(self) -> dict[str, Any]:
        """Tokens for the default company (obtained once through OAuth, then cached)."""
        if self._tokens is None:
            self._tokens = sandbox_tokens(self.url)
        return self._tokens

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client for the data API of the default company, bearer token set."""
        headers = {"Authorization": f"Bearer {self.tokens()['access_token']}", "Accept": "application/json"}
        return httpx.Client(base_url=f"{self.url}/v3/company/{self.realm}", headers=headers,
                            timeout=kwargs.pop("timeout", 10), **kwargs)

    def admin(self, method: str, path: str, json: Any = None) -> Any:
        answer = httpx.request(method, f"{self.url}/admin/{path.lstrip('/')}", json=json, timeout=10)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture
def sandbox_factory(tmp_path: Path) -> Iterator[Any]:
    """``make(**create_app options) -> SandboxHandle``; servers stop at teardown."""
    with contextlib.ExitStack() as stack:
        counter = [0]

        def make(**options: Any) -> SandboxHandle:
            counter[0] += 1
            options.setdefault("admin", True)
            options.setdefault("auto_consent", True)
            data_path = options.pop("data_path", tmp_path / f"sandbox-{counter[0]}.sqlite3")
            app = create_app(data_path, **options)
            url = stack.enter_context(run_in_thread(app))
            return SandboxHandle(url=url, app=app, data_path=data_path)

        yield make


@pytest.fixture
def sandbox_server(sandbox_factory: Any) -> SandboxHandle:
    """A fresh sandbox with admin endpoints and auto-consent on; Intuit's limits enforced at
    ``time_scale=10`` (100 requests/s, 500 per 6 s, 40 batches per 6 s) so tests stay fast."""
    return sandbox_factory(time_scale=10.0)


@pytest.fixture
def sandbox_unlimited(sandbox_factory: Any) -> SandboxHandle:
    """A fresh sandbox with no throttling, for tests of behaviour rather than limits."""
    return sandbox_factory(enforce_limits=False)


def fault_code(response: httpx.Response) -> str:
    """The first Intuit error code of a Fault answer (``Fault.Error[0].code``)."""
    return response.json()["Fault"]["Error"][0]["code"]


def sample_refs(client: httpx.Client) -> dict[str, dict[str, str]]:
    """Ids of the sample company's lists, by name: accounts, items, terms, payment methods."""
    refs: dict[str, dict[str, str]] = {}
    for entity in ("Account", "Item", "Term", "PaymentMethod"):
        rows = client.get("/query", params={"query": f"select * from {entity} maxresults 1000"}).json()
        refs[entity] = {row["Name"]: row["Id"] for row in rows["QueryResponse"].get(entity, [])}
    return refs


@contextlib.contextmanager
def served_sample_company(folder: Path) -> Iterator[tuple[str, str]]:
    """A sandbox with limits off serving the sample company, and an access token for it."""
    app = create_app(folder / "sandbox.sqlite3", auto_consent=True, enforce_limits=False)
    with run_in_thread(app) as url:
        yield url, sandbox_tokens(url)["access_token"]


def sample_company_client(url: str, token: str) -> httpx.Client:
    """An httpx client on the sample company's data API, JSON in and out."""
    return httpx.Client(base_url=f"{url}/v3/company/{DEFAULT_REALM}", timeout=30,
                        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
