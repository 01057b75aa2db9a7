"""Admin endpoints (counts, request counters, reset, companies, clock) and the record pages."""

from __future__ import annotations

import httpx

from qbo_pipeline.sandbox.sample import CUSTOMERS, DEFAULT_REALM, JOBS
from qbo_pipeline_tests.fixtures_sandbox import sample_refs, sandbox_tokens


def test_counts_and_request_counters(sandbox_unlimited):
    server = sandbox_unlimited
    with server.client() as qbo:
        customer = qbo.post("/customer", json={"DisplayName": "Counted"}).json()["Customer"]
        qbo.get(f"/customer/{customer['Id']}")
        qbo.get("/query", params={"query": "select * from Customer"})
        qbo.post("/batch", json={"BatchItemRequest": [
            {"bId": "1", "operation": "create", "Customer": {"DisplayName": "B1"}},
            {"bId": "2", "Query": "select * from Item"}]})
    counters = server.admin("GET", "/requests")[server.realm]
    assert counters["writes"] == 1 and counters["reads"] == 1 and counters["queries"] == 1
    assert counters["batch"] == 1 and counters["batch_items"] == 2 and counters["batch_write_items"] == 1
    assert counters["total"] == 4
    counts = server.admin("GET", f"/companies/{server.realm}/counts")
    assert counts["Customer"]["active"] == len(CUSTOMERS) + len(JOBS) + 2  # the sample's customers and jobs + two
    server.admin("POST", "/requests")
    assert server.admin("GET", "/requests") == {}


def test_reset_restores_the_sample_company_and_keeps_tokens(sandbox_unlimited):
    server = sandbox_unlimited
    with server.client() as qbo:
        qbo.post("/customer", json={"DisplayName": "Temporary"})
        assert server.admin("POST", "/reset")["companies"] == [DEFAULT_REALM]
        found = qbo.get("/query", params={"query": "select * from Customer where DisplayName = 'Temporary'"})
        assert found.status_code == 200 and found.json()["QueryResponse"] == {}


def test_new_company_is_reachable_with_its_own_consent(sandbox_unlimited):
    server = sandbox_unlimited
    realm = server.admin("POST", "/companies", {"realm": "1234567890123456", "name": "Second Co"})["realm"]
    tokens = sandbox_tokens(server.url, realm=realm)
    assert tokens["realmId"] == realm
    info = httpx.get(f"{server.url}/v3/company/{realm}/companyinfo/{realm}",
                     headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()["CompanyInfo"]
    assert info["CompanyName"] == "Second Co"
    assert httpx.post(f"{server.url}/admin/companies", json={"realm": realm}).status_code == 400


def test_clock_advance_expires_tokens(sandbox_unlimited):
    server = sandbox_unlimited
    with server.client() as qbo:
        assert qbo.get("/preferences").status_code == 200
        server.admin("POST", "/clock/advance", {"seconds": 3601})
        assert qbo.get("/preferences").status_code == 401


def test_invoice_and_customer_pages(sandbox_unlimited):
    server = sandbox_unlimited
    with server.client() as qbo:
        refs = sample_refs(qbo)
        customer = qbo.post("/customer", json={"DisplayName": "Page <Shop>"}).json()["Customer"]
        invoice = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "DocNumber": "P-1", "Line": [
            {"Amount": 12.5, "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"value": refs["Item"]["Design"]}}}]}).json()["Invoice"]
    page = httpx.get(f"{server.url}/app/invoice", params={"txnId": invoice["Id"]})
    assert page.status_code == 200 and "P-1" in page.text and "12.50" in page.text
    assert "Page &lt;Shop&gt;" in page.text
    person = httpx.get(f"{server.url}/app/customerdetail", params={"nameId": customer["Id"]})
    assert person.status_code == 200 and "Page &lt;Shop&gt;" in person.text
    assert httpx.get(f"{server.url}/app/invoice", params={"txnId": "999999"}).status_code == 404
