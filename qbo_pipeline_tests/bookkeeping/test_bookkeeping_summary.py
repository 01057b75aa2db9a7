"""Summary mode against a live sandbox: a day's orders become one summary SalesReceipt, to the cent,
each order traceable to its summary; a new order rebuilds its whole day, nothing else is written."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from qbo_pipeline.config import load_config
from qbo_pipeline.source.demo import _write
from qbo_pipeline.stages import SyncMode, SyncRequest, sync_company
from qbo_pipeline_tests.stages.stages_helpers import session_for

STAMP = datetime(2026, 5, 10, 9)
DAYS = (date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3))


def _order(n: int, day: date, price: float, tip: float | None, updated: datetime = STAMP) -> tuple[dict, dict]:
    rid = f"SR{n:04d}"
    head = {"id": rid, "number": f"WEB-{n}", "customer_id": None, "date": day, "currency": "USD", "tip": tip,
            "class_name": "Brand A" if n % 2 else "Brand B", "department_name": "Web shop", "deleted": False,
            "updated_at": updated}
    line = {"id": f"{rid}-1", "receipt_id": rid, "line_no": 1, "product_id": "P1" if n % 3 else "P2",
            "quantity": 1.0, "unit_price": price, "amount": price, "tax_code": "NON", "updated_at": updated}
    return head, line


def _source(path) -> tuple[str, list[tuple[dict, dict]]]:
    orders = [_order(n, DAYS[n % 3], round(9.99 + n * 1.37, 2), 1.5 if n % 5 == 0 else None) for n in range(1, 31)]
    rows = {
        "products": [{"id": pid, "name": name, "type": "service", "unit_price": 10.0, "taxable": False,
                      "active": True, "deleted": False, "updated_at": STAMP} for pid, name in (("P1", "Mug"),
                                                                                               ("P2", "Poster"))],
        "sales_receipts": [h for h, _ in orders],
        "sales_receipt_lines": [line for _, line in orders],
    }
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    try:
        _write(engine, rows)
    finally:
        engine.dispose()
    return url, orders


def _cents(value) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def test_daily_summary_receipts_add_up_to_the_orders_and_trace_back(sandbox_unlimited, tmp_path):
    url, orders = _source(tmp_path / "s.db")
    session = session_for(sandbox_unlimited, tmp_path, url)
    config = load_config(overrides={**session.config.model_dump(mode="json"), "options": {
        **session.config.options.model_dump(mode="json"), "summarize": {"sales_receipts": "daily"}}})
    session.config = session.engine.config = config

    result = sync_company(config, SyncRequest("demo", SyncMode.FULL), session)

    counts = result.entities["sales_receipts"]
    # each order ends where its summary did: created with it (the summary is the document of its orders)
    assert counts.read == 30 and counts.created == 30 and counts.skipped == {} and counts.accounted == counts.read
    expected = defaultdict(int)
    for head, line in orders:
        expected[head["date"].isoformat()] += _cents(line["amount"]) + _cents(head["tip"] or 0)
    receipts = {r["TxnDate"]: r for r in session.client.query_all("SalesReceipt") if int(r["Id"]) >= 1000}
    assert {day: _cents(r["TotalAmt"]) for day, r in receipts.items()} == dict(expected)
    assert len(receipts) == 3  # one document per day instead of 30
    traced = result.transforms["sales_receipts"].normalisations
    summary_of = dict(zip(traced["source_id"], traced["value"], strict=True))
    assert summary_of["SR0003"].startswith("summary:2026-05-01")
    assert session.ledger.get_link("demo", "SalesReceipt", summary_of["SR0003"])["qbo_id"] == \
        receipts["2026-05-01"]["Id"]
    assert "SR0003" in receipts["2026-05-01"]["PrivateNote"]

    # a new order on the second day: the whole day is rebuilt, the other days are not touched
    later = datetime.now() + timedelta(seconds=1)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO sales_receipts (id, number, date, currency, department_name, deleted, "
                             "updated_at) VALUES ('SR0031', 'WEB-31', :d, 'USD', 'Web shop', 0, :u)"),
                     {"d": DAYS[1], "u": later})
        conn.execute(sa.text("INSERT INTO sales_receipt_lines (id, receipt_id, line_no, product_id, quantity, "
                             "unit_price, amount, tax_code, updated_at) VALUES ('SR0031-1', 'SR0031', 1, 'P1', 1, "
                             "100, 100, 'NON', :u)"), {"u": later})
    engine.dispose()
    again = sync_company(config, SyncRequest("demo"), session)

    day = DAYS[1].isoformat()
    receipts = {r["TxnDate"]: r for r in session.client.query_all("SalesReceipt") if int(r["Id"]) >= 1000}
    assert _cents(receipts[day]["TotalAmt"]) == expected[day] + 10000
    assert again.report.write_requests == 1
    counts = again.entities["sales_receipts"]
    assert counts.read >= 11  # at least the whole day was read
    assert counts.skipped == {} and counts.updated == 11 and counts.unchanged == counts.read - 11  # its day updated
    assert len(receipts) == 3  # the day's summary was updated, not duplicated
