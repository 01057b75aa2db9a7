"""Issue 14 against a live sandbox over HTTP: sales receipts, deposits into operating and trust bank
accounts, hard costs (Purchase, Bill, billable to a client), journal entries (bad-debt write-off,
trust -> operating transfer) and class / location tracking, exported by ``sync_company`` from the demo
source, and what arrives in QBO checked to the cent against the source rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from qbo_pipeline.reconcile import reconcile
from qbo_pipeline.source.demo import init_demo_db
from qbo_pipeline.source.demo_bookkeeping import OPERATING_BANK, TRUST_BANK, TRUST_LIABILITY
from qbo_pipeline.stages import SyncMode, SyncRequest, sync_company
from qbo_pipeline_tests.stages.stages_helpers import session_for

TODAY = date(2026, 6, 15)


def _cents(value) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def _rows(url: str, table: str) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


@pytest.fixture
def demo_sync(sandbox_unlimited, tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    init_demo_db(url, scale=0.01, today=TODAY)
    session = session_for(sandbox_unlimited, tmp_path, url)
    result = sync_company(session.config, SyncRequest("demo", SyncMode.FULL), session)
    return url, session, result


def _by_source(session, entity: str) -> dict[str, dict]:
    records = {r["Id"]: r for r in session.client.query_all(entity)}
    out = {}
    for record_id, record in records.items():
        link = session.ledger.find_link_by_qbo_id("demo", entity, record_id) \
            if hasattr(session.ledger, "find_link_by_qbo_id") else None
        out[record_id] = (link, record)
    return out


def _qbo_of(session, entity: str, source_id: str) -> dict:
    link = session.ledger.get_link("demo", entity, source_id)
    assert link and link["qbo_id"], (entity, source_id, link)
    return session.client.read(entity, link["qbo_id"])


def test_every_bookkeeping_entity_arrives_in_qbo_to_the_cent(demo_sync):
    url, session, result = demo_sync
    for name in ("sales_receipts", "deposits", "expenses", "bills", "journal_entries"):
        counts = result.entities[name]
        assert counts.read > 0 and counts.failed == 0 and counts.blocked == 0 and counts.quarantined == 0, \
            (name, counts, [r for r in result.report.results if r.outcome in ("failed", "blocked")][:5])
        assert counts.created == counts.read == counts.accounted, (name, counts)

    # sales receipts: lines + tip = QBO TotalAmt, DocNumber, class on lines, location on the receipt
    lines = defaultdict(int)
    for line in _rows(url, "sales_receipt_lines"):
        lines[line["receipt_id"]] += _cents(line["amount"])
    for receipt in _rows(url, "sales_receipts"):
        qbo = _qbo_of(session, "SalesReceipt", receipt["id"])
        assert _cents(qbo["TotalAmt"]) == lines[receipt["id"]] + _cents(receipt["tip"] or 0)
        assert qbo["DocNumber"] == receipt["number"]
        assert qbo["DepartmentRef"]["name"] == receipt["department_name"]
        assert all(line["SalesItemLineDetail"]["ClassRef"]["name"] == receipt["class_name"]
                   for line in qbo["Line"] if line.get("DetailType") == "SalesItemLineDetail")
        if receipt["tip"]:
            tip = [line for line in qbo["Line"] if line.get("Description") == "Tip"]
            assert len(tip) == 1 and _cents(tip[0]["Amount"]) == _cents(receipt["tip"])

    # deposits: totals to the cent, into Bank accounts of the right detail type, linking the exported payments
    accounts = {a["Id"]: a for a in session.client.query_all("Account")}
    deposit_lines = defaultdict(list)
    for line in _rows(url, "deposit_lines"):
        deposit_lines[line["deposit_id"]].append(line)
    for deposit in _rows(url, "deposits"):
        qbo = _qbo_of(session, "Deposit", deposit["id"])
        assert _cents(qbo["TotalAmt"]) == sum(_cents(line["amount"]) for line in deposit_lines[deposit["id"]])
        bank = accounts[qbo["DepositToAccountRef"]["value"]]
        assert bank["Name"] == deposit["bank_account"] and bank["AccountType"] == "Bank"
        assert bank["AccountSubType"] == ("TrustAccounts" if deposit["bank_kind"] == "trust" else "Checking")
        for line, source in zip(qbo["Line"], sorted(deposit_lines[deposit["id"]], key=lambda r: r["line_no"]),
                                strict=True):
            if source["payment_id"]:
                payment = session.ledger.get_link("demo", "Payment", source["payment_id"])
                assert line["LinkedTxn"][0] == {"TxnId": payment["qbo_id"], "TxnType": "Payment", "TxnLineId": "0"}
            elif source["receipt_id"]:
                receipt = session.ledger.get_link("demo", "SalesReceipt", source["receipt_id"])
                assert line["LinkedTxn"][0]["TxnId"] == receipt["qbo_id"]
            else:
                liability = accounts[line["DepositLineDetail"]["AccountRef"]["value"]]
                assert liability["Name"] == TRUST_LIABILITY and liability["AccountType"] == "Other Current Liability"
    names = {a["Name"]: a for a in accounts.values()}
    assert names[OPERATING_BANK]["AccountType"] == "Bank" and names[TRUST_BANK]["AccountSubType"] == "TrustAccounts"

    # costs: Purchase and Bill, cost accounts typed, the billable one on the client, vendors created
    for table, entity in (("expenses", "Purchase"), ("bills", "Bill")):
        for cost in _rows(url, table):
            qbo = _qbo_of(session, entity, cost["id"])
            assert _cents(qbo["TotalAmt"]) == _cents(cost["amount"])
            detail = qbo["Line"][0]["AccountBasedExpenseLineDetail"]
            account = accounts[detail["AccountRef"]["value"]]
            assert account["AccountType"] == ("Cost of Goods Sold" if cost["account_kind"] == "cogs" else "Expense")
            if cost["billable"]:
                customer = session.ledger.get_link("demo", "Customer", cost["customer_id"])
                assert detail["BillableStatus"] == "Billable"
                assert detail["CustomerRef"]["value"] == customer["qbo_id"]
            vendor_id = (qbo.get("VendorRef") or qbo.get("EntityRef"))["value"]
            assert session.client.read("Vendor", vendor_id)["DisplayName"] == cost["vendor"]

    # journal entries: balanced, the write-off debits the configured bad-debt account
    for entry in _rows(url, "journal_entries"):
        qbo = _qbo_of(session, "JournalEntry", entry["id"])
        debits = sum(_cents(x["Amount"]) for x in qbo["Line"] if x["JournalEntryLineDetail"]["PostingType"] == "Debit")
        credits = sum(_cents(x["Amount"]) for x in qbo["Line"]
                      if x["JournalEntryLineDetail"]["PostingType"] == "Credit")
        source = sum(_cents(x["amount"]) for x in _rows(url, "journal_entry_lines")
                     if x["journal_entry_id"] == entry["id"])
        assert debits == credits and debits + credits == source
        if entry["purpose"] == "write_off":
            debit = next(x for x in qbo["Line"] if x["JournalEntryLineDetail"]["PostingType"] == "Debit")
            account = accounts[debit["JournalEntryLineDetail"]["AccountRef"]["value"]]
            assert account["Name"] == session.config.accounts.bad_debt
            assert (account["AccountType"], account["AccountSubType"]) == ("Expense", "BadDebts")

    # tracking lists created by name
    assert {c["Name"] for c in session.client.query_all("Class")} >= {"Brand North", "Brand South", "Probate"}
    # the sample company's own locations have Ids below 1000
    assert {d["Name"] for d in session.client.query_all("Department") if int(d["Id"]) >= 1000} == {"Web shop"}


def test_reconciliation_covers_each_bookkeeping_entity(demo_sync):
    _, session, result = demo_sync
    for name, entity in (("sales_receipts", "SalesReceipt"), ("deposits", "Deposit"), ("expenses", "Purchase"),
                         ("bills", "Bill"), ("journal_entries", "JournalEntry")):
        payloads = result.transforms[name].payloads
        check = reconcile(session, entity, payloads)
        assert check.passed, (name, check.mismatches)
        assert check.found_count == len(payloads) and check.found_total > 0
    # a person's edit in QBO shows up as a mismatch
    link = session.ledger.get_link("demo", "Purchase", "EXP0003")
    record = session.client.read("Purchase", link["qbo_id"])
    line = {**record["Line"][0], "Amount": record["Line"][0]["Amount"] + 1}
    session.client.update("Purchase", {"Id": record["Id"], "SyncToken": record["SyncToken"],
                                       "Line": [line]}, sparse=True)
    check = reconcile(session, "Purchase", result.transforms["expenses"].payloads)
    assert [m["source_id"] for m in check.mismatches] == ["EXP0003"]


def test_a_second_run_writes_nothing(demo_sync):
    _, session, first = demo_sync
    again = sync_company(session.config, SyncRequest("demo", SyncMode.FULL), session)
    for name in ("sales_receipts", "deposits", "expenses", "bills", "journal_entries"):
        counts = again.entities[name]
        assert counts.unchanged == counts.read == first.entities[name].read, (name, counts)
    assert again.report.write_requests == 0
