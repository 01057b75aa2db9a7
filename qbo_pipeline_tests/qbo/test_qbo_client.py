"""The client against the sandbox over real HTTP: parameters, queries, CDC, batches, voids, errors."""

from __future__ import annotations

import httpx
import pytest

from qbo_pipeline.qbo.client import QboClient
from qbo_pipeline.qbo.errors import (
    AuthError,
    DuplicateNameError,
    NotFoundError,
    ValidationError,
    fault_from_body,
)


class RecordingTransport(httpx.HTTPTransport):
    """A real HTTP transport that remembers the URLs it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[httpx.URL] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(request.url)
        return super().handle_request(request)


@pytest.fixture
def client(sandbox_server):
    tokens = sandbox_server.tokens()
    transport = RecordingTransport()
    with QboClient(sandbox_server.url, tokens["realmId"], tokens["access_token"], transport=transport) as qbo:
        qbo.transport = transport
        yield qbo


def test_minor_version_and_request_id_on_writes(client):
    created = client.create("Customer", {"DisplayName": "Param Check"}, request_id="rid-param-1")
    url = client.transport.urls[-1]
    assert url.params["minorversion"] == "75" and url.params["requestid"] == "rid-param-1"
    again = client.create("Customer", {"DisplayName": "Param Check"}, request_id="rid-param-1")
    assert again["Id"] == created["Id"]  # replayed, not a second record (nor a 6240)
    with pytest.raises(ValueError, match="50 characters"):
        client.create("Customer", {"DisplayName": "x"}, request_id="r" * 51)


def test_query_escaping_paging_and_cdc(client):
    assert client.find("Customer", "DisplayName", "Amy's Bird Sanctuary")[0]["DisplayName"] == "Amy's Bird Sanctuary"
    for i in range(7):
        client.create("Customer", {"DisplayName": f"Paged {i}"})
    paged = client.query_all("Customer", "DisplayName LIKE 'Paged%'", page_size=3)
    assert sorted(c["DisplayName"] for c in paged) == [f"Paged {i}" for i in range(7)]
    changed = client.cdc(["Customer"], _yesterday())
    assert {f"Paged {i}" for i in range(7)} <= {c.get("DisplayName") for c in changed.get("Customer", [])}
    assert client.company_info()["CompanyName"] and "AccountingInfoPrefs" in client.preferences()


def _yesterday() -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")


def test_batch_items_fail_one_by_one(client):
    answers = client.batch([
        {"bId": "b0", "operation": "create", "Customer": {"DisplayName": "Batch Ok"}},
        {"bId": "b1", "operation": "create", "Customer": {"DisplayName": "Amy's Bird Sanctuary"}},
    ], request_id="batch-rid-1")
    assert answers["b0"]["Customer"]["DisplayName"] == "Batch Ok"
    assert isinstance(fault_from_body(answers["b1"]), DuplicateNameError)
    with pytest.raises(ValueError, match="30"):
        client.batch([{"bId": f"b{i}", "operation": "create", "Customer": {"DisplayName": f"n{i}"}}
                      for i in range(31)])


def test_void_payment_and_typed_errors(client):
    customer = client.create("Customer", {"DisplayName": "Void Payer"})
    payment = client.create("Payment", {"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 25.0})
    voided = client.void("Payment", payment["Id"], payment["SyncToken"])
    assert voided["TotalAmt"] == 0
    with pytest.raises(NotFoundError):
        client.read("Customer", "999999")
    with pytest.raises(ValidationError) as caught:
        client.query("SELECT * FROM Customer WHERE NoSuchField = '1'")
    assert caught.value.code in ("4000", "4001") and caught.value.hint


def test_bad_token_is_an_auth_error(sandbox_server):
    with QboClient(sandbox_server.url, sandbox_server.realm, "not-a-real-token") as qbo, \
            pytest.raises(AuthError) as caught:
        qbo.company_info()
    assert caught.value.status == 401 and "not-a-real-token" not in str(caught.value)
