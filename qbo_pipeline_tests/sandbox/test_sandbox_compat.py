"""Real QBO client libraries against the sandbox, only the base URL differing.

intuit-oauth discovers every endpoint from the sandbox's discovery document; python-quickbooks
does create, read, update, query, count, batch, CDC, delete and void through its own code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

intuitlib = pytest.importorskip("intuitlib.client", reason="intuit-oauth is a dev dependency")
pytest.importorskip("quickbooks", reason="python-quickbooks is a dev dependency")

from intuitlib.client import AuthClient  # noqa: E402
from intuitlib.enums import Scopes  # noqa: E402
from intuitlib.exceptions import AuthClientError  # noqa: E402
from quickbooks import QuickBooks  # noqa: E402
from quickbooks.batch import batch_create  # noqa: E402
from quickbooks.cdc import change_data_capture  # noqa: E402
from quickbooks.exceptions import QuickbooksException  # noqa: E402
from quickbooks.objects.base import LinkedTxn  # noqa: E402
from quickbooks.objects.customer import Customer  # noqa: E402
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail  # noqa: E402
from quickbooks.objects.invoice import Invoice  # noqa: E402
from quickbooks.objects.item import Item  # noqa: E402
from quickbooks.objects.payment import Payment, PaymentLine  # noqa: E402

COMPANY_TZ = ZoneInfo("America/Los_Angeles")
REDIRECT = "http://localhost:8000/callback"


def _connect(server) -> tuple[AuthClient, str]:
    auth = AuthClient("local-client-id", "local-client-secret", REDIRECT,
                      environment=f"{server.url}/.well-known/openid_configuration")
    url = auth.get_authorization_url([Scopes.ACCOUNTING], state_token="s1")
    redirect = httpx.get(url, follow_redirects=False)
    query = parse_qs(urlsplit(redirect.headers["location"]).query)
    assert query["state"] == ["s1"]
    auth.get_bearer_token(query["code"][0], realm_id=query["realmId"][0])
    return auth, query["realmId"][0]


def _quickbooks(server, auth: AuthClient, realm: str) -> QuickBooks:
    client = QuickBooks(auth_client=auth, refresh_token=auth.refresh_token, company_id=realm, minorversion=75)
    client.api_url_v3 = f"{server.url}/v3"  # the only difference from Intuit
    client.sandbox_api_url_v3 = f"{server.url}/v3"
    return client


def test_intuit_oauth_client_flow_refresh_and_revoke(sandbox_unlimited):
    auth, realm = _connect(sandbox_unlimited)
    assert realm == sandbox_unlimited.realm
    assert auth.access_token and auth.refresh_token and auth.expires_in == 3600
    previous = auth.refresh_token
    auth.refresh()
    assert auth.refresh_token != previous
    assert auth.revoke(token=auth.refresh_token) is True
    with pytest.raises(AuthClientError):
        auth.refresh()


def test_python_quickbooks_crud_query_batch_cdc_delete_void(sandbox_unlimited, monkeypatch):
    # requests-oauthlib refuses plain http unless told that this (loopback) transport is fine
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    auth, realm = _connect(sandbox_unlimited)
    qb = _quickbooks(sandbox_unlimited, auth, realm)
    # naive times are company-local; the sample company keeps Pacific time like Intuit's sandboxes
    start = datetime.now(COMPANY_TZ).replace(tzinfo=None) - timedelta(minutes=1)

    customer = Customer()
    customer.DisplayName = "Library Customer"
    customer = customer.save(qb=qb)
    assert customer.Id and str(customer.SyncToken) == "0"
    customer.CompanyName = "Library Ltd"
    customer = customer.save(qb=qb)
    assert Customer.get(customer.Id, qb=qb).CompanyName == "Library Ltd"
    assert [c.Id for c in Customer.filter(DisplayName="Library Customer", qb=qb)] == [customer.Id]
    assert Customer.count("DisplayName = 'Library Customer'", qb=qb) == 1

    duplicate = Customer()
    duplicate.DisplayName = "Library Customer"
    with pytest.raises(QuickbooksException) as error:
        duplicate.save(qb=qb)
    assert error.value.error_code == 6240

    item = Item.filter(Name="Design", qb=qb)[0]
    invoice = Invoice()
    line = SalesItemLine()
    line.Amount = 150
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = item.to_ref()
    invoice.Line.append(line)
    invoice.CustomerRef = customer.to_ref()
    invoice = invoice.save(qb=qb)
    assert float(invoice.TotalAmt) == 150.0 and float(invoice.Balance) == 150.0

    payment = Payment()
    payment.TotalAmt = 50
    payment.CustomerRef = customer.to_ref()
    pay_line = PaymentLine()
    pay_line.Amount = 50
    link = LinkedTxn()
    link.TxnId, link.TxnType = invoice.Id, "Invoice"
    pay_line.LinkedTxn.append(link)
    payment.Line.append(pay_line)
    payment = payment.save(qb=qb)
    assert float(Invoice.get(invoice.Id, qb=qb).Balance) == 100.0
    payment.void(qb=qb)
    assert float(Invoice.get(invoice.Id, qb=qb).Balance) == 150.0

    fresh = Invoice.get(invoice.Id, qb=qb)
    fresh.void(qb=qb)
    assert float(Invoice.get(invoice.Id, qb=qb).TotalAmt) == 0.0

    doomed = Invoice()
    doomed.Line.append(line)
    doomed.CustomerRef = customer.to_ref()
    doomed = doomed.save(qb=qb)
    doomed.delete(qb=qb)
    with pytest.raises(QuickbooksException) as missing:
        Invoice.get(doomed.Id, qb=qb)
    assert missing.value.error_code == 610

    batch_customers = []
    for n in range(3):
        c = Customer()
        c.DisplayName = f"Batch Library {n}"
        batch_customers.append(c)
    results = batch_create(batch_customers, qb=qb)
    assert len(results.successes) == 3 and not results.faults

    changes = change_data_capture([Customer, Invoice], start, qb=qb)
    changed_ids = {c.Id for c in changes.Customer}
    assert customer.Id in changed_ids and len(changed_ids) >= 4
    assert {i.Id for i in changes.Invoice} >= {invoice.Id}


def test_python_quickbooks_sample_company_and_reports(sandbox_unlimited, monkeypatch):
    """What the library's own integration suite expects of Intuit's sandbox company, and its
    report call (``QuickBooks.get_report``) answering the report JSON."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    auth, realm = _connect(sandbox_unlimited)
    qb = _quickbooks(sandbox_unlimited, auth, realm)
    assert len(Payment.all(max_results=5, qb=qb)) == 5
    customer = Customer()
    customer.DisplayName = "Report Library"
    customer = customer.save(qb=qb)
    item = Item.filter(Name="Design", qb=qb)[0]
    invoice = Invoice()
    line = SalesItemLine()
    line.Amount = 225
    line.SalesItemLineDetail = SalesItemLineDetail()
    line.SalesItemLineDetail.ItemRef = item.to_ref()
    invoice.Line.append(line)
    invoice.CustomerRef = customer.to_ref()
    invoice.save(qb=qb)
    aging = qb.get_report("AgedReceivables", {"customer": customer.Id})
    row = next(r for r in aging["Rows"]["Row"] if r.get("type") == "Data")
    assert row["ColData"][0] == {"value": "Report Library", "id": customer.Id}
    assert row["ColData"][-1]["value"] == "225.00"
    profit = qb.get_report("ProfitAndLoss", {"customer": customer.Id, "accounting_method": "Accrual"})
    net = next(r for r in profit["Rows"]["Row"] if r.get("group") == "NetIncome")
    assert net["Summary"]["ColData"][1]["value"] == "225.00"
    with pytest.raises(QuickbooksException) as unknown:
        qb.get_report("NoSuchReport")
    assert unknown.value.error_code == 500
