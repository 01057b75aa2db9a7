"""OAuth 2.0 as Intuit runs it: authorization codes, bearer tokens, refresh-token rotation, revoke.

Access tokens live 3600 s. Each refresh issues a new refresh token; the previous one keeps
working for 24 hours after that and then answers ``invalid_grant``, as Intuit documents.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from qbo_pipeline.sandbox.store import Store

ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 8_726_400  # 101 days, as Intuit's x_refresh_token_expires_in
REFRESH_HARD_SECONDS = 5 * 365 * 24 * 3600
ROTATION_GRACE_SECONDS = 24 * 3600
CODE_SECONDS = 600
SCOPES = ("com.intuit.quickbooks.accounting", "com.intuit.quickbooks.payment", "openid", "profile", "email",
          "phone", "address")


class OAuthError(Exception):
    """An OAuth error answer: ``{"error": ..., "error_description": ...}`` with an HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class AccessGrant:
    realm: str
    expires: float
    grant: str


def redirect_uri_allowed(uri: str) -> bool:
    """Any loopback http(s) redirect is registered for the local app."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost")


class OAuthServer:
    """Issues and checks codes and tokens; state persisted in the store's ``tokens`` table."""

    def __init__(self, store: Store, client_id: str, client_secret: str) -> None:
        self.store = store
        self.client_id = client_id
        self.client_secret = client_secret
        self.codes: dict[str, dict[str, Any]] = {}
        self.access: dict[str, AccessGrant] = {}
        self.refresh: dict[str, dict[str, Any]] = {}
        for token, body in store.all("tokens").items():
            if body["kind"] == "access":
                self.access[token] = AccessGrant(body["realm"], body["expires"], body["grant"])
            elif body["kind"] == "refresh":
                self.refresh[token] = body
            elif body["kind"] == "code":
                self.codes[token] = body

    # ------------------------------------------------------------------ client authentication
    def authenticate_client(self, authorization: str | None) -> None:
        if not authorization or not authorization.lower().startswith("basic "):
            raise OAuthError("invalid_client", "HTTP Basic client authentication is required", 401)
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode()
            client_id, _, client_secret = decoded.partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed Basic authorization header", 401) from None
        if not (secrets.compare_digest(client_id, self.client_id)
                and secrets.compare_digest(client_secret, self.client_secret)):
            raise OAuthError("invalid_client", "Client authentication failed", 401)

    def check_authorize_request(self, params: dict[str, str]) -> None:
        if params.get("client_id") != self.client_id:
            raise OAuthError("invalid_client", "Unknown client_id")
        if params.get("response_type", "code") != "code":
            raise OAuthError("unsupported_response_type", "Only response_type=code is supported")
        if not redirect_uri_allowed(params.get("redirect_uri", "")):
            raise OAuthError("invalid_request", "redirect_uri is not registered for this app "
                             "(any http://127.0.0.1:* or http://localhost:* is)")
        scopes = (params.get("scope") or "").split()
        if not scopes or any(s not in SCOPES for s in scopes):
            raise OAuthError("invalid_scope", f"scope must be among {' '.join(SCOPES)}")

    # ------------------------------------------------------------------ flows
    def issue_code(self, realm: str, redirect_uri: str, scope: str, now: datetime) -> str:
        code = "AB" + secrets.token_urlsafe(36)
        body = {"kind": "code", "realm": realm, "redirect_uri": redirect_uri, "scope": scope,
                "expires": now.timestamp() + CODE_SECONDS}
        self.codes[code] = body
        self.store.put("tokens", code, body)
        return code

    def exchange_code(self, code: str, redirect_uri: str, now: datetime, hard_expiry: bool = False) -> dict:
        body = self.codes.pop(code, None)
        if body is None:
            raise OAuthError("invalid_grant", "Authorization code is invalid or has already been used")
        self.store.delete("tokens", code)
        if body["expires"] < now.timestamp():
            raise OAuthError("invalid_grant", "Authorization code has expired")
        if redirect_uri != body["redirect_uri"]:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        grant = secrets.token_hex(8)
        return self._issue(body["realm"], grant, body["scope"], now, now.timestamp() + REFRESH_HARD_SECONDS,
                           hard_expiry)

    def refresh_tokens(self, refresh_token: str, now: datetime, hard_expiry: bool = False) -> dict:
        body = self.refresh.get(refresh_token)
        stamp = now.timestamp()
        if body is None or body.get("revoked"):
            raise OAuthError("invalid_grant", "Incorrect or invalid refresh token")
        if body.get("superseded_at") is not None and stamp > body["superseded_at"] + ROTATION_GRACE_SECONDS:
            raise OAuthError("invalid_grant", "Incorrect or invalid refresh token")
        if stamp > body["expires"] or stamp > body["hard_expires"]:
            raise OAuthError("invalid_grant", "Incorrect or invalid refresh token")
        if body.get("superseded_at") is None:
            body["superseded_at"] = stamp
            self.store.put("tokens", refresh_token, body)
        return self._issue(body["realm"], body["grant"], body["scope"], now, body["hard_expires"], hard_expiry)

    def _issue(self, realm: str, grant: str, scope: str, now: datetime, hard_expires: float,
               hard_expiry: bool) -> dict:
        stamp = now.timestamp()
        access_token = "eyJ" + secrets.token_urlsafe(48)
        refresh_token = "RT1-" + secrets.token_urlsafe(36)
        self.access[access_token] = AccessGrant(realm, stamp + ACCESS_TOKEN_SECONDS, grant)
        self.store.put("tokens", access_token, {"kind": "access", "realm": realm, "grant": grant,
                                                "expires": stamp + ACCESS_TOKEN_SECONDS})
        refresh_body = {"kind": "refresh", "realm": realm, "grant": grant, "scope": scope,
                        "expires": stamp + REFRESH_TOKEN_SECONDS, "hard_expires": hard_expires,
                        "superseded_at": None}
        self.refresh[refresh_token] = refresh_body
        self.store.put("tokens", refresh_token, refresh_body)
        answer = {
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "refresh_token": refresh_token,
            "x_refresh_token_expires_in": int(min(REFRESH_TOKEN_SECONDS, hard_expires - stamp)),
            "access_token": access_token,
        }
        if hard_expiry:
            answer["x_refresh_token_hard_expires_in"] = int(hard_expires - stamp)
        if "openid" in scope.split():
            answer["id_token"] = "eyJ" + secrets.token_urlsafe(32)
        return answer

    def revoke(self, token: str) -> None:
        """Revoking any token of a grant ends the whole grant (Intuit disconnects the app)."""
        grant = None
        if token in self.refresh:
            grant = self.refresh[token]["grant"]
        elif token in self.access:
            grant = self.access[token].grant
        if grant is None:
            raise OAuthError("invalid_request", "Token not found")
        self.revoke_grants(lambda g, realm: g == grant)

    def revoke_grants(self, match) -> int:
        count = 0
        for token, access in list(self.access.items()):
            if match(access.grant, access.realm):
                del self.access[token]
                self.store.delete("tokens", token)
                count += 1
        for token, body in self.refresh.items():
            if match(body["grant"], body["realm"]) and not body.get("revoked"):
                body["revoked"] = True
                self.store.put("tokens", token, body)
        return count

    def expire_access(self, realm: str | None) -> int:
        """Admin: make current access tokens (all, or one realm's) expired, as if an hour passed."""
        count = 0
        for token, access in self.access.items():
            if realm is None or access.realm == realm:
                access.expires = 0.0
                self.store.put("tokens", token, {"kind": "access", "realm": access.realm, "grant": access.grant,
                                                 "expires": 0.0})
                count += 1
        return count

    def check_access(self, token: str, now: datetime) -> tuple[AccessGrant | None, str]:
        """The grant behind a bearer token, or None with the 401 detail to report."""
        access = self.access.get(token)
        if access is None:
            return None, "Malformed bearer token: too short or too long" if len(token) < 20 else \
                "Invalid bearer token: token not found"
        if access.expires <= now.timestamp():
            return None, "Token expired: the access token has expired, refresh it"
        return access, ""
