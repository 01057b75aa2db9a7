"""OAuth 2.0 as Intuit runs it: consent page, code exchange, rotation with a 24 h grace, expiry, revoke."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from qbo_pipeline.sandbox.clock import ManualClock
from qbo_pipeline_tests.fixtures_sandbox import REDIRECT_URI, SCOPE, basic_auth, sandbox_tokens

AUTH_PARAMS = {"client_id": "local-client-id", "response_type": "code", "scope": SCOPE,
               "redirect_uri": REDIRECT_URI, "state": "xyz"}


def _token(url: str, data: dict, auth: str | None = None) -> httpx.Response:
    return httpx.post(f"{url}/oauth2/v1/tokens/bearer", data=data,
                      headers={"Authorization": auth or basic_auth(), "Accept": "application/json"})


def _data_get(url: str, realm: str, access_token: str) -> httpx.Response:
    return httpx.get(f"{url}/v3/company/{realm}/companyinfo/{realm}",
                     headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})


def test_consent_page_posts_back_and_redirects_with_code_state_and_realm(sandbox_factory):
    server = sandbox_factory(auto_consent=False)
    page = httpx.get(f"{server.url}/connect/oauth2", params=AUTH_PARAMS)
    assert page.status_code == 200 and "<form" in page.text and server.realm in page.text
    answer = httpx.post(f"{server.url}/connect/oauth2",
                        data={**AUTH_PARAMS, "realmId": server.realm, "decision": "connect"})
    assert answer.status_code == 302
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"] and query["realmId"] == [server.realm] and query["code"][0]
    tokens = _token(server.url, {"grant_type": "authorization_code", "code": query["code"][0],
                                 "redirect_uri": REDIRECT_URI})
    assert tokens.status_code == 200 and tokens.json()["expires_in"] == 3600
    # a code works once
    again = _token(server.url, {"grant_type": "authorization_code", "code": query["code"][0],
                                "redirect_uri": REDIRECT_URI})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_cancel_on_consent_page_redirects_with_access_denied(sandbox_factory):
    server = sandbox_factory(auto_consent=False)
    answer = httpx.post(f"{server.url}/connect/oauth2", data={**AUTH_PARAMS, "decision": "cancel"})
    assert answer.status_code == 302 and "error=access_denied" in answer.headers["location"]


@pytest.mark.parametrize("change", [{"client_id": "someone-else"}, {"redirect_uri": "https://evil.example/cb"},
                                    {"scope": "not.a.scope"}])
def test_authorize_rejects_unknown_client_foreign_redirect_and_bad_scope(sandbox_server, change):
    answer = httpx.get(f"{sandbox_server.url}/connect/oauth2", params={**AUTH_PARAMS, **change})
    assert answer.status_code == 400


def test_token_endpoint_requires_http_basic_client_authentication(sandbox_server):
    no_auth = httpx.post(f"{sandbox_server.url}/oauth2/v1/tokens/bearer",
                         data={"grant_type": "refresh_token", "refresh_token": "x"})
    assert no_auth.status_code == 401 and no_auth.json()["error"] == "invalid_client"
    wrong = _token(sandbox_server.url, {"grant_type": "refresh_token", "refresh_token": "x"},
                   auth=basic_auth("local-client-id", "wrong"))
    assert wrong.status_code == 401
    unknown_grant = _token(sandbox_server.url, {"grant_type": "password"})
    assert unknown_grant.json()["error"] == "unsupported_grant_type"


def test_redirect_uri_must_match_the_one_authorized(sandbox_server):
    answer = httpx.get(f"{sandbox_server.url}/connect/oauth2", params=AUTH_PARAMS)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    mismatch = _token(sandbox_server.url, {"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": "http://127.0.0.1:9/other"})
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_grant"


def test_access_token_expires_after_3600_seconds(sandbox_factory):
    clock = ManualClock()
    server = sandbox_factory(clock=clock)
    tokens = sandbox_tokens(server.url)
    assert _data_get(server.url, server.realm, tokens["access_token"]).status_code == 200
    clock.advance(3599)
    assert _data_get(server.url, server.realm, tokens["access_token"]).status_code == 200
    clock.advance(2)
    expired = _data_get(server.url, server.realm, tokens["access_token"])
    assert expired.status_code == 401 and expired.json()["fault"]["error"][0]["code"] == "3200"


def test_refresh_rotates_and_the_previous_token_works_for_24_hours_only(sandbox_factory):
    clock = ManualClock()
    server = sandbox_factory(clock=clock)
    first = sandbox_tokens(server.url)
    second = _token(server.url, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert _data_get(server.url, server.realm, second["access_token"]).status_code == 200
    clock.advance(23 * 3600)
    still = _token(server.url, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert still.status_code == 200
    clock.advance(2 * 3600)
    too_late = _token(server.url, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert too_late.status_code == 400 and too_late.json()["error"] == "invalid_grant"
    # the newest refresh token still works
    newest = _token(server.url, {"grant_type": "refresh_token", "refresh_token": still.json()["refresh_token"]})
    assert newest.status_code == 200


def test_hard_expiry_field_on_request(sandbox_server):
    tokens = sandbox_server.tokens()
    answer = httpx.post(f"{sandbox_server.url}/oauth2/v1/tokens/bearer",
                        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                        headers={"Authorization": basic_auth(), "x-include-refresh-token-hard-expires-in": "true"})
    assert answer.json()["x_refresh_token_hard_expires_in"] > answer.json()["x_refresh_token_expires_in"]


def test_revoke_ends_the_grant(sandbox_server):
    tokens = sandbox_tokens(sandbox_server.url)
    answer = httpx.post(f"{sandbox_server.url}/v2/oauth2/tokens/revoke", json={"token": tokens["refresh_token"]},
                        headers={"Authorization": basic_auth()})
    assert answer.status_code == 200
    assert _data_get(sandbox_server.url, sandbox_server.realm, tokens["access_token"]).status_code == 401
    refresh = _token(sandbox_server.url, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.json()["error"] == "invalid_grant"


def test_admin_can_expire_access_tokens(sandbox_server):
    tokens = sandbox_server.tokens()
    assert sandbox_server.admin("POST", "/tokens/expire", {"realm": sandbox_server.realm})["expired"] >= 1
    assert _data_get(sandbox_server.url, sandbox_server.realm, tokens["access_token"]).status_code == 401


def test_userinfo_needs_a_bearer_token(sandbox_server):
    tokens = sandbox_server.tokens()
    ok = httpx.get(f"{sandbox_server.url}/v1/openid_connect/userinfo",
                   headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert ok.status_code == 200 and ok.json()["realmid"] == sandbox_server.realm
    assert httpx.get(f"{sandbox_server.url}/v1/openid_connect/userinfo").status_code == 401


def test_tokens_and_data_survive_a_restart(sandbox_factory, tmp_path):
    data = tmp_path / "keep.sqlite3"
    first = sandbox_factory(data_path=data)
    tokens = first.tokens()
    with first.client() as qbo:
        created = qbo.post("/customer", json={"DisplayName": "Persistent Ltd"}).json()["Customer"]
    second = sandbox_factory(data_path=data)
    answer = httpx.get(f"{second.url}/v3/company/{second.realm}/customer/{created['Id']}",
                       headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert answer.status_code == 200 and answer.json()["Customer"]["DisplayName"] == "Persistent Ltd"
