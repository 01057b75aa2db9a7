"""OAuth2 with Intuit (authorization code + refresh) and the encrypted token vault.

The refresh token is the one secret that cannot be recovered without a person clicking
"Connect" again, and Intuit rotates it on every refresh. So the vault:

- keeps tokens in the ledger database, encrypted with Fernet (key from
  ``QBO_PIPELINE_TOKEN_KEY``; in local mode a key file in the state folder is created);
- refreshes ahead of expiry, one refresher per company across threads *and* processes
  (a file lock in the state folder, plus a row lock on PostgreSQL), re-reading the row
  under the lock so a second process uses the token the first one just got;
- writes the rotated refresh token before handing out the new access token;
- on ``invalid_grant`` marks the connection ``needs_reconnect`` and raises
  ``NeedsReconnectError`` with what to do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.fernet import Fernet, InvalidToken
from filelock import FileLock

from qbo_pipeline.ledger import Connection, Ledger, utcnow
from qbo_pipeline.qbo import redact
from qbo_pipeline.qbo.environments import discovery_url as default_discovery_url
from qbo_pipeline.qbo.errors import AuthError, NeedsReconnectError

with warnings.catch_warnings():
    # authlib warns that its httpx integration will move to "httpx2"; it works with httpx today
    import authlib.deprecate  # noqa: F401  (installs its own "always" filter first)

    warnings.simplefilter("ignore")
    from authlib.integrations.base_client.errors import OAuthError
    from authlib.integrations.httpx_client import OAuth2Client

log = logging.getLogger("qbo_pipeline.qbo.auth")
redact.install("qbo_pipeline.qbo.auth")

KEY_ENV = "QBO_PIPELINE_TOKEN_KEY"
KEY_FILE = "token.key"
SCOPE = "com.intuit.quickbooks.accounting"
REFRESH_AHEAD_SECONDS = 300  # refresh when the access token has less than this left


class TokenKeyError(RuntimeError):
    """No usable encryption key for the token vault."""


def load_key(*, environment: str, state_dir: Path) -> bytes:
    """The Fernet key: ``$QBO_PIPELINE_TOKEN_KEY``, or (local mode only) a generated key file."""
    value = os.environ.get(KEY_ENV)
    if value:
        try:
            Fernet(value.encode())
        except (ValueError, TypeError) as exc:
            raise TokenKeyError(
                f"{KEY_ENV} is not a valid Fernet key (32 url-safe base64 bytes); generate one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
            ) from exc
        return value.encode()
    if environment != "local":
        raise TokenKeyError(
            f"{KEY_ENV} is not set: OAuth tokens for the {environment} environment are encrypted at rest and "
            "need a key. Generate one with `python -c 'from cryptography.fernet import Fernet; "
            f"print(Fernet.generate_key().decode())'`, keep it in your secret store and export {KEY_ENV}."
        )
    path = Path(state_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = Fernet.generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key)
        finally:
            os.close(fd)
        log.info("generated a local token key in %s (local mode only; set %s elsewhere)", path, KEY_ENV)
    return path.read_bytes().strip()


@dataclass(frozen=True)
class OAuthApp:
    """The Intuit app a company connects through, and where its OAuth endpoints are."""

    client_id: str
    client_secret: str
    discovery_url: str
    redirect_uri: str = "http://127.0.0.1:8765/callback"
    scope: str = SCOPE

    def __repr__(self) -> str:  # never show the secret
        return f"OAuthApp(client_id={self.client_id!r}, discovery_url={self.discovery_url!r})"

    @classmethod
    def from_company(cls, company: Any, *, client_secret: str | None = None) -> OAuthApp:
        """Build from a ``CompanyConfig``; the secret is ``client_secret`` (a Dagster ``EnvVar``, say)
        or else the environment variable the company names."""
        secret = client_secret or os.environ.get(company.client_secret_env)
        if not secret:
            if company.environment != "local":
                raise AuthError(
                    f"the client secret is not set: export {company.client_secret_env} "
                    f"(company {company.key!r}, {company.environment})"
                )
            secret = "local-client-secret"
        url = company.discovery_url or default_discovery_url(company.environment, company.base_url)
        redact.register_secret(secret)
        return cls(company.client_id, secret, url, company.redirect_uri)


_discovery_cache: dict[str, dict[str, Any]] = {}


def discover(discovery_url: str, *, http: httpx.Client | None = None) -> dict[str, Any]:
    """The OpenID discovery document (authorization, token and revocation endpoints)."""
    if discovery_url in _discovery_cache:
        return _discovery_cache[discovery_url]
    client = http or httpx.Client(timeout=30)
    try:
        response = client.get(discovery_url)
    except httpx.HTTPError as exc:
        raise AuthError(f"cannot read the OAuth discovery document at {discovery_url}: {exc}") from exc
    finally:
        if http is None:
            client.close()
    if response.status_code != 200:
        raise AuthError(f"OAuth discovery at {discovery_url} answered HTTP {response.status_code}")
    document = response.json()
    for key in ("authorization_endpoint", "token_endpoint"):
        if key not in document:
            raise AuthError(f"OAuth discovery at {discovery_url} has no {key}")
    _discovery_cache[discovery_url] = document
    return document


# Asks Intuit's token endpoint for the refresh token's hard expiry (5 years at most), which
# `qbo-pipeline doctor` reports; servers that do not know the header ignore it.
HARD_EXPIRY_HEADER = {"x-include-refresh-token-hard-expires-in": "true"}
_KEPT_FIELDS = ("access_token", "refresh_token", "expires_in", "expires_at", "x_refresh_token_expires_in",
                "token_type", "refresh_hard_expires_at")


def _oauth_client(app: OAuthApp, **kwargs: Any) -> OAuth2Client:
    return OAuth2Client(
        client_id=app.client_id, client_secret=app.client_secret, scope=app.scope,
        redirect_uri=app.redirect_uri, token_endpoint_auth_method="client_secret_basic", timeout=30,
        headers=HARD_EXPIRY_HEADER, **kwargs,
    )


def _with_hard_expiry(token: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The token response with the refresh token's hard expiry as a unix time (kept from before if absent)."""
    hard_in = token.get("x_refresh_token_hard_expires_in")
    if hard_in:
        token["refresh_hard_expires_at"] = time.time() + float(hard_in)
    elif previous and previous.get("refresh_hard_expires_at"):
        token["refresh_hard_expires_at"] = previous["refresh_hard_expires_at"]
    return token


def authorization_url(app: OAuthApp, *, state: str | None = None) -> tuple[str, str]:
    """The URL a person opens to connect a company, and the ``state`` to check on the callback."""
    document = discover(app.discovery_url)
    state = state or secrets.token_urlsafe(24)
    with _oauth_client(app) as client:
        url, state = client.create_authorization_url(document["authorization_endpoint"], state=state)
    return url, state


def exchange_code(app: OAuthApp, code: str) -> dict[str, Any]:
    """Trade an authorization code for tokens (the code works once)."""
    document = discover(app.discovery_url)
    redact.register_secret(code)
    with _oauth_client(app) as client:
        try:
            token = client.fetch_token(document["token_endpoint"], grant_type="authorization_code", code=code)
        except OAuthError as exc:
            raise AuthError(f"the authorization code was refused: {exc.error}: {exc.description or ''}") from None
    token = dict(token)
    for key in ("access_token", "refresh_token"):
        redact.register_secret(token.get(key))
    return token


def parse_callback(callback_url: str, expected_state: str) -> tuple[str, str]:
    """``(code, realm_id)`` from the redirect Intuit sends back; the state must match."""
    query = parse_qs(urlsplit(callback_url).query)
    if "error" in query:
        raise AuthError(f"authorization was refused: {query['error'][0]}")
    if query.get("state", [None])[0] != expected_state:
        raise AuthError("the OAuth state in the callback does not match the one sent (possible forgery); try again")
    try:
        return query["code"][0], query["realmId"][0]
    except KeyError as exc:
        raise AuthError(f"the OAuth callback has no {exc.args[0]}") from None


def connect_headless(vault: TokenVault, company: Any, app: OAuthApp | None = None) -> str:
    """Connect a company without a browser when the authorize URL redirects at once (auto-consent).

    Follows the standard flow: authorize URL -> redirect carrying code, state and realmId
    (state checked) -> token endpoint. Returns the realm id; tokens go into the vault.
    """
    app = app or OAuthApp.from_company(company)
    url, state = authorization_url(app)
    with httpx.Client(timeout=30, follow_redirects=False) as http:
        response = http.get(url)
        hops = 0
        while response.is_redirect and hops < 5:
            location = response.headers["location"]
            if location.startswith(app.redirect_uri):
                break
            response = http.get(httpx.URL(str(response.url)).join(location))
            hops += 1
    if not response.is_redirect:
        raise AuthError(
            f"the authorize URL did not redirect to {app.redirect_uri} (HTTP {response.status_code}); "
            "it needs a person to consent: use `qbo-pipeline connect`"
        )
    code, realm_id = parse_callback(response.headers["location"], state)
    token = exchange_code(app, code)
    vault.store(company.key, realm_id, token, environment=company.environment,
                token_endpoint=discover(app.discovery_url)["token_endpoint"], base_url=company.base_url)
    return realm_id


class RevokeError(RuntimeError):
    """Intuit's revocation endpoint could not be reached or refused; the tokens were kept."""


def revoke(app: OAuthApp, token: dict[str, Any], *, http: httpx.Client | None = None) -> None:
    """Ask Intuit's revocation endpoint (named by the discovery document) to revoke the grant
    behind the refresh token (the access token when there is none)."""
    endpoint = discover(app.discovery_url, http=http).get("revocation_endpoint")
    if not endpoint:
        raise RevokeError(f"the OAuth discovery document at {app.discovery_url} names no revocation_endpoint")
    value = token.get("refresh_token") or token.get("access_token")
    try:
        poster = http.post if http is not None else httpx.post
        answer = poster(endpoint, json={"token": value}, auth=(app.client_id, app.client_secret),
                        headers={"Accept": "application/json"}, timeout=30)
    except httpx.HTTPError as exc:
        raise RevokeError(f"cannot reach the revocation endpoint {endpoint}: {type(exc).__name__}") from None
    if answer.status_code != 200:
        raise RevokeError(f"the revocation endpoint answered HTTP {answer.status_code}: {answer.text[:200]}")


class TokenVault:
    """Encrypted OAuth tokens per company, refreshed single-flight across threads and processes."""

    def __init__(self, ledger: Ledger, key: bytes | str, *, lock_dir: Path | str,
                 refresh_ahead: float = REFRESH_AHEAD_SECONDS) -> None:
        self.ledger = ledger
        self._fernet = Fernet(key if isinstance(key, bytes) else key.encode())
        self.lock_dir = Path(lock_dir)
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        self.refresh_ahead = refresh_ahead
        self._thread_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._apps: dict[str, OAuthApp] = {}
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"TokenVault(ledger={self.ledger.url!r})"

    # -- storage --------------------------------------------------------------------------

    def _encrypt(self, token: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(token).encode()).decode()

    def _decrypt(self, ciphertext: str) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(ciphertext.encode()))
        except InvalidToken:
            raise AuthError(
                f"the stored tokens cannot be decrypted with the current key ({KEY_ENV}); "
                "use the key they were stored with, or reconnect the company"
            ) from None

    @staticmethod
    def _row_values(realm_id: str, token: dict[str, Any], ciphertext: str) -> dict[str, Any]:
        now = time.time()
        expires_in = float(token.get("expires_in") or 3600)
        refresh_in = token.get("x_refresh_token_expires_in")
        return {
            "realm_id": str(realm_id), "ciphertext": ciphertext,
            "access_expires_at": float(token.get("expires_at") or now + expires_in),
            "refresh_expires_at": now + float(refresh_in) if refresh_in else None,
            "updated_at": utcnow(),
        }

    def store(self, company_key: str, realm_id: str, token: dict[str, Any], *, environment: str | None = None,
              token_endpoint: str | None = None, base_url: str | None = None) -> None:
        """Save a fresh token response (after connecting) and mark the connection connected."""
        token = _with_hard_expiry(dict(token))
        token = {k: token[k] for k in _KEPT_FIELDS if k in token}
        for key in ("access_token", "refresh_token"):
            redact.register_secret(token.get(key))
        self.ledger.save_token_row(company_key, self._row_values(realm_id, token, self._encrypt(token)))
        self.ledger.set_connection(company_key, realm_id=str(realm_id), status="connected", message=None,
                                   environment=environment, token_endpoint=token_endpoint, base_url=base_url,
                                   connected_at=utcnow())

    def realm_id(self, company_key: str) -> str | None:
        row = self.ledger.token_row(company_key)
        return row["realm_id"] if row else None

    def stored_token(self, company_key: str) -> dict[str, Any] | None:
        """The company's decrypted token pair (for revoking it), None when not connected."""
        row = self.ledger.token_row(company_key)
        return self._decrypt(row["ciphertext"]) if row else None

    def forget(self, company_key: str) -> bool:
        """Delete the company's tokens; returns whether there were any."""
        return self.ledger.delete_token_row(company_key)

    def status(self, company_key: str) -> dict[str, Any]:
        """Connection status for operators: never the tokens themselves."""
        connection = self.ledger.connection(company_key) or {"status": "not_connected"}
        row = self.ledger.token_row(company_key)
        hard = None
        if row is not None:
            with contextlib.suppress(AuthError):
                hard = self._decrypt(row["ciphertext"]).get("refresh_hard_expires_at")
        return {
            "refresh_hard_expires_at": hard,
            "company": company_key, "status": connection.get("status"), "message": connection.get("message"),
            "realm_id": connection.get("realm_id"),
            "access_expires_in": round(row["access_expires_at"] - time.time()) if row else None,
            "refresh_expires_at": row["refresh_expires_at"] if row else None,
            "refreshes": row["version"] - 1 if row else 0,
        }

    # -- refresh --------------------------------------------------------------------------

    def _thread_lock(self, company_key: str) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(company_key, threading.Lock())

    def register_app(self, company_key: str, app: OAuthApp) -> None:
        self._apps[company_key] = app

    def access_token(self, company: Any, *, force_refresh: bool = False, rejected: str | None = None) -> str:
        """A valid access token for the company (``CompanyConfig`` or key), refreshed when due.

        ``force_refresh`` after QBO answered 401; with ``rejected`` (the token QBO refused),
        a token another thread or process already replaced is not refreshed again.
        """
        company_key = company if isinstance(company, str) else company.key
        if not isinstance(company, str) and company_key not in self._apps:
            self._apps[company_key] = OAuthApp.from_company(company)
        row = self._read(company_key)
        token = self._decrypt(row["ciphertext"])
        if force_refresh and rejected is not None and token["access_token"] != rejected:
            return token["access_token"]
        if not force_refresh and row["access_expires_at"] - time.time() > self.refresh_ahead:
            return token["access_token"]
        seen_version = row["version"]
        with self._thread_lock(company_key), FileLock(str(self.lock_dir / f"token-{company_key}.lock"), timeout=120):
            return self._refresh(company_key, seen_version, force_refresh)

    def token_source(self, company: Any):
        """A callable for ``QboClient(token_source=...)``."""

        def source(*, force_refresh: bool = False, rejected: str | None = None) -> str:
            return self.access_token(company, force_refresh=force_refresh, rejected=rejected)

        return source

    def _read(self, company_key: str, conn: Connection | None = None, *, for_update: bool = False) -> dict[str, Any]:
        connection = self.ledger.connection(company_key)
        if connection and connection["status"] == "needs_reconnect":
            raise NeedsReconnectError(
                f"company {company_key!r} needs to be reconnected: {connection.get('message') or 'invalid_grant'}")
        row = self.ledger.token_row(company_key, conn, for_update=for_update)
        if row is None:
            raise AuthError(f"company {company_key!r} is not connected to QuickBooks; run `qbo-pipeline connect`")
        return row

    def _refresh(self, company_key: str, seen_version: int, force: bool) -> str:
        with self.ledger.begin() as conn:
            row = self._read(company_key, conn, for_update=True)
            token = self._decrypt(row["ciphertext"])
            if row["version"] != seen_version or (
                not force and row["access_expires_at"] - time.time() > self.refresh_ahead
            ):
                return token["access_token"]  # another thread or process refreshed meanwhile
            app = self._apps.get(company_key)
            if app is None:
                raise AuthError(f"no OAuth app registered for company {company_key!r}; pass its CompanyConfig")
            # the endpoint of the *current* discovery document: one stored at connect time may name
            # an address that no longer serves (a local sandbox restarted on another port)
            endpoint = discover(app.discovery_url)["token_endpoint"]
            with _oauth_client(app) as client:
                try:
                    new = dict(client.refresh_token(endpoint, refresh_token=token["refresh_token"]))
                except OAuthError as exc:
                    if exc.error == "invalid_grant":
                        self._mark_needs_reconnect(company_key, exc.description)
                        raise NeedsReconnectError(
                            f"QuickBooks refused the refresh token of company {company_key!r} (invalid_grant"
                            f"{': ' + exc.description if exc.description else ''}); reconnect it with "
                            "`qbo-pipeline connect`", code="invalid_grant") from None
                    raise AuthError(f"token refresh failed: {exc.error}") from None
                except httpx.HTTPError as exc:
                    raise AuthError(f"token refresh failed: cannot reach {endpoint}: {type(exc).__name__}") from None
            new.setdefault("refresh_token", token["refresh_token"])
            for key in ("access_token", "refresh_token"):
                redact.register_secret(new.get(key))
            new = _with_hard_expiry(new, token)
            stored = {k: new[k] for k in _KEPT_FIELDS if k in new}
            values = self._row_values(row["realm_id"], stored, self._encrypt(stored))
            self.ledger.save_token_row(company_key, values, conn, version=row["version"] + 1)
        # committed: the rotated refresh token is safe before the access token is used
        self.refresh_count += 1
        log.info("refreshed the access token of company %s", company_key)
        return new["access_token"]

    def _mark_needs_reconnect(self, company_key: str, description: str | None) -> None:
        message = "QuickBooks refused the refresh token (invalid_grant); reconnect with `qbo-pipeline connect`"
        if description:
            message += f" ({redact.redact(description)})"
        self.ledger.set_connection(company_key, status="needs_reconnect", message=message)
        log.error("company %s needs to be reconnected: %s", company_key, message)
