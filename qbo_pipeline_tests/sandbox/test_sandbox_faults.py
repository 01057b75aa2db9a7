"""Fault codes in Intuit's shapes, and the injected faults (random 429/500/503, lost responses, 6000, 5010)."""

from __future__ import annotations

import httpx
import pytest

from qbo_pipeline_tests.fixtures_sandbox import fault_code, sample_refs, sandbox_tokens


@pytest.fixture
def qbo(sandbox_unlimited):
    with sandbox_unlimited.client() as client:
        yield client


def _line(refs, amount=10.0, **detail):
    return {"Amount": amount, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": refs["Item"]["Design"]}, **detail}}


def _error(answer: httpx.Response) -> dict:
    return answer.json()["Fault"]["Error"][0]


def test_fault_envelope_shape(qbo):
    answer = qbo.post("/customer", json={"DisplayName": "x" * 501})
    assert answer.status_code == 400
    body = answer.json()
    assert body["Fault"]["type"] == "ValidationFault" and "time" in body
    error = _error(answer)
    assert error["code"] == "2050" and error["element"] == "DisplayName"
    assert "Max:500" in error["Detail"] and set(error) == {"Message", "Detail", "code", "element"}


def test_2050_docnumber_longer_than_21(qbo):
    refs = sample_refs(qbo)
    customer = qbo.post("/customer", json={"DisplayName": "C"}).json()["Customer"]
    answer = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "DocNumber": "X" * 22,
                                        "Line": [_line(refs)]})
    assert fault_code(answer) == "2050" and _error(answer)["element"] == "DocNumber"


def test_5010_stale_sync_token(qbo):
    customer = qbo.post("/customer", json={"DisplayName": "Stale"}).json()["Customer"]
    qbo.post("/customer", json={"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "a"})
    answer = qbo.post("/customer", json={"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "b"})
    assert fault_code(answer) == "5010" and _error(answer)["Message"] == "Stale Object Error"


def test_610_unknown_or_inactive_and_2500_invalid_reference(qbo):
    assert fault_code(qbo.get("/customer/999999")) == "610"
    refs = sample_refs(qbo)
    bad_customer = qbo.post("/invoice", json={"CustomerRef": {"value": "424242"}, "Line": [_line(refs)]})
    assert fault_code(bad_customer) == "2500" and _error(bad_customer)["element"] == "CustomerRef"
    customer = qbo.post("/customer", json={"DisplayName": "Gone"}).json()["Customer"]
    qbo.post("/customer", json={"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False})
    inactive = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "Line": [_line(refs)]})
    assert fault_code(inactive) == "610"


def test_2020_required_with_element(qbo):
    answer = qbo.post("/invoice", json={"Line": []})
    assert fault_code(answer) == "2020" and _error(answer)["element"] == "CustomerRef"
    customer = qbo.post("/customer", json={"DisplayName": "NoLines"}).json()["Customer"]
    no_lines = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}})
    assert fault_code(no_lines) == "2020" and _error(no_lines)["element"] == "Line"


def test_6140_duplicate_docnumber_unless_allowed(qbo):
    refs = sample_refs(qbo)
    customer = qbo.post("/customer", json={"DisplayName": "Docs"}).json()["Customer"]
    body = {"CustomerRef": {"value": customer["Id"]}, "DocNumber": "INV-1", "Line": [_line(refs)]}
    first = qbo.post("/invoice", json=body).json()["Invoice"]
    duplicate = qbo.post("/invoice", json=body)
    assert fault_code(duplicate) == "6140"
    assert f"DocNumber=INV-1 is assigned to TxnType=Invoice with TxnId={first['Id']}" in _error(duplicate)["Detail"]
    allowed = qbo.post("/invoice", json=body, params={"include": "allowduplicatedocnum"})
    assert allowed.status_code == 200


def test_6210_closed_period(qbo, sandbox_unlimited):
    refs = sample_refs(qbo)
    customer = qbo.post("/customer", json={"DisplayName": "Closed"}).json()["Customer"]
    sandbox_unlimited.admin("POST", f"/companies/{sandbox_unlimited.realm}/preferences",
                            {"AccountingInfoPrefs": {"BookCloseDate": "2025-12-31"}})
    closed = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "TxnDate": "2025-12-31",
                                        "Line": [_line(refs)]})
    assert fault_code(closed) == "6210"
    open_period = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "TxnDate": "2026-01-01",
                                             "Line": [_line(refs)]})
    assert open_period.status_code == 200


def test_6070_amount_not_qty_times_price(qbo):
    refs = sample_refs(qbo)
    customer = qbo.post("/customer", json={"DisplayName": "Math"}).json()["Customer"]
    answer = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]},
                                        "Line": [_line(refs, 10.0, Qty=3, UnitPrice=5)]})
    assert fault_code(answer) == "6070"


def test_6000_business_validation(qbo):
    answer = qbo.post("/customer", json={"DisplayName": "bad:name"})
    assert fault_code(answer) == "6000"
    assert _error(answer)["Message"] == "A business validation error has occurred while processing your request"


def test_403_3100_for_another_company(sandbox_unlimited):
    other = sandbox_unlimited.admin("POST", "/companies", {"name": "Second Co"})["realm"]
    token = sandbox_unlimited.tokens()["access_token"]
    answer = httpx.get(f"{sandbox_unlimited.url}/v3/company/{other}/companyinfo/{other}",
                       headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403 and fault_code(answer) == "3100"


def test_injected_500_is_10000_system_fault_and_503(sandbox_factory):
    server = sandbox_factory(enforce_limits=False, faults={"rate_500": 1.0})
    with server.client() as qbo:
        answer = qbo.get("/customer/1")
        assert answer.status_code == 500 and fault_code(answer) == "10000"
        assert answer.json()["Fault"]["type"] == "SystemFault"
        server.admin("POST", "/faults", {"rate_500": 0.0, "rate_503": 1.0})
        assert qbo.get("/customer/1").status_code == 503
        server.admin("POST", "/faults", {"rate_503": 0.0, "rate_429": 1.0})
        throttled = qbo.get("/customer/1")
        assert throttled.status_code == 429 and fault_code(throttled) == "3001"
        stats = server.admin("GET", "/faults/stats")
        assert stats == {"rate_500": 1, "rate_503": 1, "rate_429": 1}


def test_injected_rates_follow_the_seeded_probability(sandbox_factory):
    server = sandbox_factory(enforce_limits=False, faults={"rate_429": 0.3, "seed": 7})
    with server.client() as qbo:
        statuses = [qbo.get("/preferences").status_code for _ in range(200)]
    assert 35 <= statuses.count(429) <= 85
    assert set(statuses) == {200, 429}


def test_close_after_commit_loses_the_response_but_keeps_the_write(sandbox_factory):
    server = sandbox_factory(enforce_limits=False, faults={"close_after_commit": 1.0})
    with server.client() as qbo, pytest.raises(httpx.HTTPError):
        qbo.post("/customer", json={"DisplayName": "Committed"}, params={"requestid": "r-1"})
    server.admin("POST", "/faults", {"close_after_commit": 0.0})
    with server.client() as qbo:
        found = qbo.get("/query", params={"query": "select * from Customer where DisplayName = 'Committed'"})
        assert len(found.json()["QueryResponse"]["Customer"]) == 1
        # the retry with the same requestid gets the original answer and creates nothing new
        replay = qbo.post("/customer", json={"DisplayName": "Committed"}, params={"requestid": "r-1"})
        assert replay.status_code == 200
        assert replay.json()["Customer"]["Id"] == found.json()["QueryResponse"]["Customer"][0]["Id"]
    assert server.admin("GET", "/faults/stats")["close_after_commit"] == 1


def test_one_name_at_a_time_fault(sandbox_factory):
    server = sandbox_factory(enforce_limits=False, faults={"one_name_at_a_time": 1.0})
    with server.client() as qbo:
        answer = qbo.post("/customer", json={"DisplayName": "Busy"})
    assert fault_code(answer) == "6000" and "one name at a time" in _error(answer)["Detail"]


def test_stale_sync_token_fault_bumps_the_record_first(sandbox_factory):
    server = sandbox_factory(enforce_limits=False)
    with server.client() as qbo:
        customer = qbo.post("/customer", json={"DisplayName": "Edited elsewhere"}).json()["Customer"]
        server.admin("POST", "/faults", {"stale_sync_token": 1.0})
        answer = qbo.post("/customer", json={"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"})
        assert fault_code(answer) == "5010"
        server.admin("POST", "/faults", {"stale_sync_token": 0.0})
        assert qbo.get(f"/customer/{customer['Id']}").json()["Customer"]["SyncToken"] == "1"


def test_latency_is_added(sandbox_factory):
    server = sandbox_factory(enforce_limits=False, faults={"latency_ms": 150})
    with server.client() as qbo:
        answer = qbo.get("/preferences")
    assert answer.elapsed.total_seconds() >= 0.15


def test_fault_settings_are_validated(sandbox_unlimited):
    answer = httpx.post(f"{sandbox_unlimited.url}/admin/faults", json={"rate_429": 2})
    assert answer.status_code == 400 and "probability" in answer.json()["error"]
    unknown = httpx.post(f"{sandbox_unlimited.url}/admin/faults", json={"rate_999": 0.1})
    assert unknown.status_code == 400


def test_admin_endpoints_are_off_unless_enabled(sandbox_factory):
    server = sandbox_factory(admin=False)
    assert httpx.get(f"{server.url}/admin/faults").status_code == 404
    assert sandbox_tokens(server.url)["access_token"]
