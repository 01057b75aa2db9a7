"""The QBO query language over HTTP (GET and POST forms) and its 4000/4001 errors."""

from __future__ import annotations

import pytest

from qbo_pipeline.sandbox import query as Q
from qbo_pipeline.sandbox.errors import QBOFault
from qbo_pipeline_tests.fixtures_sandbox import fault_code


@pytest.fixture
def qbo(sandbox_unlimited):
    with sandbox_unlimited.client() as client:
        for name, balance_note in [("Alpha", "a"), ("Beta", "b"), ("Gamma's", "c"), ("Delta", "d")]:
            client.post("/customer", json={"DisplayName": name, "Notes": balance_note})
        yield client


def _names(qbo, text, method="GET"):
    if method == "GET":
        answer = qbo.get("/query", params={"query": text})
    else:
        answer = qbo.post("/query", content=text, headers={"Content-Type": "application/text"})
    assert answer.status_code == 200, answer.text
    return [c["DisplayName"] for c in answer.json()["QueryResponse"].get("Customer", [])]


def test_operators_and_escaped_quotes(qbo):
    assert _names(qbo, "SELECT * FROM Customer WHERE DisplayName = 'Alpha'") == ["Alpha"]
    assert _names(qbo, r"select * from customer where displayname = 'Gamma\'s'") == ["Gamma's"]
    assert _names(qbo, "select * from Customer where DisplayName IN ('Alpha', 'Delta') orderby DisplayName") == \
        ["Alpha", "Delta"]
    assert _names(qbo, "select * from Customer where DisplayName LIKE '%eta' ") == ["Beta"]
    assert _names(qbo, "select * from Customer where DisplayName >= 'Alpha' AND DisplayName < 'Bill' "
                       "ORDERBY DisplayName DESC") == ["Beta", "Barnett Design", "Amy's Bird Sanctuary", "Alpha"]
    assert _names(qbo, "select * from Customer where DisplayName > 'Galaxy' AND DisplayName < 'Geeta' "
                       "order by DisplayName",
                  method="POST") == ["Gamma's"]


def test_paging_and_count(qbo):
    everyone = _names(qbo, "select * from Customer orderby DisplayName")
    page = qbo.get("/query", params={"query": "select * from Customer orderby DisplayName "
                                               "startposition 2 maxresults 2"}).json()["QueryResponse"]
    assert [c["DisplayName"] for c in page["Customer"]] == everyone[1:3]
    assert page["startPosition"] == 2 and page["maxResults"] == 2
    count = qbo.get("/query", params={"query": "select count(*) from Customer"}).json()["QueryResponse"]
    assert count == {"totalCount": len(everyone)}
    empty = qbo.get("/query", params={"query": "select * from Customer where DisplayName = 'Nobody'"})
    assert empty.json()["QueryResponse"] == {}


def test_active_filter_and_last_updated_time(qbo):
    alpha = qbo.get("/query", params={"query": "select * from Customer where DisplayName = 'Alpha'"}).json()
    alpha = alpha["QueryResponse"]["Customer"][0]
    qbo.post("/customer", json={"Id": alpha["Id"], "SyncToken": alpha["SyncToken"], "sparse": True, "Active": False})
    assert "Alpha" not in _names(qbo, "select * from Customer")
    assert "Alpha" in _names(qbo, "select * from Customer where Active IN (true, false)")
    assert "Alpha" in _names(qbo, "select * from Customer where Active = false")
    stamp = alpha["MetaData"]["LastUpdatedTime"]
    assert "Beta" in _names(qbo, f"select * from Customer where MetaData.LastUpdatedTime >= '{stamp}'")
    assert _names(qbo, "select * from Customer where Metadata.LastUpdatedTime > '2999-01-01'") == []


def test_default_page_is_100_and_max_is_1000(qbo):
    many = [{"bId": str(i), "operation": "create", "Term": {"Name": f"T{i}", "DueDays": i}} for i in range(30)]
    for _ in range(4):
        for item in many:
            item["Term"]["Name"] += "x"
        qbo.post("/batch", json={"BatchItemRequest": many})
    default_page = qbo.get("/query", params={"query": "select * from Term"}).json()["QueryResponse"]
    assert default_page["maxResults"] == 100
    too_many = qbo.get("/query", params={"query": "select * from Term maxresults 1001"})
    assert fault_code(too_many) == "4001"
    zero = qbo.get("/query", params={"query": "select * from Term maxresults 0"})
    assert fault_code(zero) == "4001" and "Min allowed value is 1" in zero.json()["Fault"]["Error"][0]["Detail"]


@pytest.mark.parametrize("text, code", [
    ("select * from Customer where DisplayName = ''Adam''s'", "4000"),
    ("select Customer", "4000"),
    ("select * from Customer where DisplayName", "4000"),
    ("select * from Customer where DisplayName = 'a' OR Id = '1'", "4000"),
    ("select * from Customer where NoSuchField = 'x'", "4001"),
    ("select * from NoSuchEntity", "4001"),
    ("select * from Customer where Id > '3'", "4001"),
])
def test_query_errors(qbo, text, code):
    answer = qbo.get("/query", params={"query": text})
    assert answer.status_code == 400 and fault_code(answer) == code


def test_parser_unit():
    parsed = Q.parse(r"SELECT * FROM Invoice WHERE TotalAmt >= '10.5' AND CustomerRef IN ('1','2') "
                     r"ORDER BY TxnDate DESC STARTPOSITION 3 MAXRESULTS 7")
    assert parsed.entity == "Invoice" and parsed.start == 3 and parsed.max_results == 7
    assert [(c.field, c.op) for c in parsed.where] == [("TotalAmt", ">="), ("CustomerRef", "IN")]
    assert parsed.order == [("TxnDate", True)]
    with pytest.raises(QBOFault) as error:
        Q.parse("")
    assert error.value.code == "4000"


def test_indexed_lookups_agree_with_the_scan(qbo):
    everyone = qbo.get("/query", params={"query": "select * from Customer"}).json()["QueryResponse"]["Customer"]
    ids = [c["Id"] for c in everyone[:2]]
    by_id = qbo.get("/query", params={"query": f"select * from Customer where Id IN ('{ids[0]}', '{ids[1]}', '0')"})
    assert sorted(c["Id"] for c in by_id.json()["QueryResponse"]["Customer"]) == sorted(ids)
    assert _names(qbo, "select * from Customer where DisplayName = 'ALPHA'") == ["Alpha"]
    item = qbo.get("/query", params={"query": "select * from Item where Name = 'Design'"}).json()
    item_id = item["QueryResponse"]["Item"][0]["Id"]
    invoice = qbo.post("/invoice", json={"CustomerRef": {"value": ids[0]}, "DocNumber": "Ab-7", "Line": [
        {"Amount": 1.0, "DetailType": "SalesItemLineDetail",
         "SalesItemLineDetail": {"ItemRef": {"value": item_id}}}]}).json()["Invoice"]
    for doc in ("Ab-7", "AB-7"):
        found = qbo.get("/query", params={"query": f"select * from Invoice where DocNumber = '{doc}'"}).json()
        assert [i["Id"] for i in found["QueryResponse"]["Invoice"]] == [invoice["Id"]]
