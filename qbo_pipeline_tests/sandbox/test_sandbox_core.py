"""Core of the sandbox over real HTTP: OAuth code flow, bearer auth, Customer create/read/update/query."""

from __future__ import annotations

import httpx


def test_discovery_names_the_endpoints_a_client_needs(sandbox_server):
    doc = httpx.get(f"{sandbox_server.url}/.well-known/openid_configuration").json()
    assert doc["authorization_endpoint"] == f"{sandbox_server.url}/connect/oauth2"
    assert doc["token_endpoint"] == f"{sandbox_server.url}/oauth2/v1/tokens/bearer"
    assert doc["revocation_endpoint"] == f"{sandbox_server.url}/v2/oauth2/tokens/revoke"
    assert doc["userinfo_endpoint"].endswith("/v1/openid_connect/userinfo")
    assert {"issuer", "jwks_uri"} <= set(doc)


def test_token_response_has_intuits_fields(sandbox_server):
    tokens = sandbox_server.tokens()
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["x_refresh_token_expires_in"] > 0
    assert tokens["refresh_token"] and tokens["access_token"]
    assert tokens["realmId"] == sandbox_server.realm


def test_customer_create_read_sparse_update_and_query(sandbox_server):
    with sandbox_server.client() as qbo:
        created = qbo.post("/customer", params={"minorversion": 75},
                           json={"DisplayName": "Ada's Shop", "PrimaryEmailAddr": {"Address": "ada@example.com"}})
        assert created.status_code == 200, created.text
        customer = created.json()["Customer"]
        assert customer["SyncToken"] == "0" and isinstance(customer["Id"], str)
        assert customer["MetaData"]["CreateTime"] and "time" in created.json()

        read = qbo.get(f"/customer/{customer['Id']}").json()["Customer"]
        assert read["DisplayName"] == "Ada's Shop"

        updated = qbo.post("/customer", json={"Id": customer["Id"], "SyncToken": "0", "sparse": True,
                                              "CompanyName": "Ada Ltd"}).json()["Customer"]
        assert updated["SyncToken"] == "1"
        assert updated["CompanyName"] == "Ada Ltd"
        assert updated["PrimaryEmailAddr"]["Address"] == "ada@example.com"  # untouched by a sparse update

        found = qbo.get("/query", params={"query": r"select * from Customer where DisplayName = 'Ada\'s Shop'"})
        assert [c["Id"] for c in found.json()["QueryResponse"]["Customer"]] == [customer["Id"]]


def test_missing_or_bad_token_gets_the_lower_case_401_envelope(sandbox_server):
    answer = httpx.get(f"{sandbox_server.url}/v3/company/{sandbox_server.realm}/customer/1",
                       headers={"Authorization": "Bearer nope", "Accept": "application/json"})
    assert answer.status_code == 401
    error = answer.json()["fault"]["error"][0]
    assert error["code"] == "3200"
    assert answer.json()["fault"]["type"] == "AUTHENTICATION"
