"""The contracts of the bookkeeping tables quarantine what QBO would refuse, with reasons a bookkeeper
reads, and the builders produce QBO's shapes (no sandbox needed)."""

from __future__ import annotations

import pandas as pd

from qbo_pipeline.config import load_config
from qbo_pipeline.entities import entity
from qbo_pipeline.schemas.currency import CurrencySettings, refuse_foreign_currencies
from qbo_pipeline.source.extract import empty_frame

CONFIG = load_config(overrides={"options": {"sync_start_date": "2020-01-01"}})
STAMP = pd.Timestamp("2026-05-01 09:00")
DAY = pd.Timestamp("2026-05-01")


def _frame(table: str, rows: list[dict]) -> pd.DataFrame:
    base = empty_frame(table)
    return pd.concat([base, pd.DataFrame(rows)], ignore_index=True) if rows else base


def _validate(name: str, **tables: list[dict]):
    spec = entity(name)
    frames = {t: _frame(t, tables.get(t, [])) for t in spec.tables}
    return spec.validate(frames, known_ids={"customers": {"C1"}, "payments": {"PAY1", "PAY2"}, "products": {"P1"},
                                            "sales_receipts": set()}, config=CONFIG)


def _je_line(lid: str, je: str, posting: str, amount: float, **extra) -> dict:
    return {"id": lid, "journal_entry_id": je, "line_no": 1, "posting": posting, "account": "X", "amount": amount,
            "updated_at": STAMP, **extra}


def test_unbalanced_entries_and_receivable_lines_without_customer_are_quarantined():
    entries = [{"id": j, "date": DAY, "purpose": "write_off", "deleted": False, "updated_at": STAMP}
               for j in ("J1", "J2", "J3")]
    lines = [_je_line("J1-1", "J1", "debit", 10.0), _je_line("J1-2", "J1", "credit", 10.0, account_kind="receivable",
                                                              customer_id="C1"),
             _je_line("J2-1", "J2", "debit", 10.0), _je_line("J2-2", "J2", "credit", 9.99),
             _je_line("J3-1", "J3", "debit", 5.0), _je_line("J3-2", "J3", "credit", 5.0, account_kind="receivable")]
    result = _validate("journal_entries", journal_entries=entries, journal_entry_lines=lines)
    q = result.quarantine
    assert set(result.valid["journal_entries"]["id"]) == {"J1"}
    assert set(result.valid["journal_entry_lines"]["journal_entry_id"]) == {"J1"}
    reasons = dict(zip(q["source_id"], q["reason"], strict=True))
    assert reasons["J2"] == "The journal entry does not balance: debits and credits differ by 0.01."
    assert "without naming the customer" in reasons["J3"]


def test_deposit_lines_deposit_each_payment_once_and_name_a_source():
    deposits = [{"id": d, "date": DAY, "bank_account": "Operating", "deleted": False, "updated_at": STAMP}
                for d in ("D1", "D2", "D3")]
    lines = [{"id": "D1-1", "deposit_id": "D1", "payment_id": "PAY1", "amount": 5.0, "updated_at": STAMP},
             {"id": "D2-1", "deposit_id": "D2", "payment_id": "PAY2", "amount": 5.0, "updated_at": STAMP},
             {"id": "D2-2", "deposit_id": "D2", "payment_id": "PAY2", "amount": 5.0, "updated_at": STAMP},
             {"id": "D3-1", "deposit_id": "D3", "amount": 5.0, "updated_at": STAMP}]
    result = _validate("deposits", deposits=deposits, deposit_lines=lines)
    assert set(result.valid["deposits"]["id"]) == {"D1"}
    checks = dict(zip(result.quarantine["row_id"], result.quarantine["check"], strict=True))
    assert checks["D2-1"] == checks["D2-2"] == "deposited_twice"
    assert checks["D3-1"] == "deposit_line_source"


def test_costs_need_a_known_client_when_billable_and_a_known_payment_type():
    rows = [{"id": "E1", "date": DAY, "payment_type": "check", "paid_from": "Checking", "account": "Fees",
             "amount": 10.0, "billable": True, "customer_id": "C1", "deleted": False, "updated_at": STAMP},
            {"id": "E2", "date": DAY, "payment_type": "check", "paid_from": "Checking", "account": "Fees",
             "amount": 10.0, "billable": True, "deleted": False, "updated_at": STAMP},
            {"id": "E3", "date": DAY, "payment_type": "wire", "paid_from": "Checking", "account": "Fees",
             "amount": 10.0, "billable": False, "deleted": False, "updated_at": STAMP},
            {"id": "E4", "date": DAY, "payment_type": "cash", "paid_from": "Checking", "account": "Fees",
             "amount": 10.0, "billable": False, "customer_id": "C404", "deleted": False, "updated_at": STAMP}]
    result = _validate("expenses", expenses=rows)
    checks = dict(zip(result.quarantine["source_id"], result.quarantine["check"], strict=True))
    assert set(result.valid["expenses"]["id"]) == {"E1"}
    assert checks == {"E2": "billable_without_customer", "E3": "isin", "E4": "unknown_customer"}
    payload = entity("expenses").build_payloads(result.valid, CONFIG).payloads[0]
    detail = payload.body["Line"][0]["AccountBasedExpenseLineDetail"]
    assert payload.body["PaymentType"] == "Check" and detail["BillableStatus"] == "Billable"
    assert detail["AccountRef"]["$ref"]["account_type"] == ["Expense", "OtherMiscellaneousServiceCost"]


def test_foreign_currency_is_refused_with_children_when_multicurrency_is_off():
    heads = [{"id": r, "date": DAY, "currency": c, "deleted": False, "updated_at": STAMP}
             for r, c in (("S1", "USD"), ("S2", "EUR"), ("S3", None))]
    lines = [{"id": f"{r}-1", "receipt_id": r, "line_no": 1, "amount": 1.0, "updated_at": STAMP}
             for r in ("S1", "S2", "S3")]
    validated = {"sales_receipts": _validate("sales_receipts", sales_receipts=heads, sales_receipt_lines=lines)}
    off = refuse_foreign_currencies(validated, CurrencySettings(False, "USD"))["sales_receipts"]
    assert set(off.valid["sales_receipts"]["id"]) == {"S1", "S3"}
    assert set(off.valid["sales_receipt_lines"]["receipt_id"]) == {"S1", "S3"}
    assert list(off.quarantine["check"]) == ["multicurrency_off"]
    on = refuse_foreign_currencies(validated, CurrencySettings(True, "USD"))["sales_receipts"]
    assert len(on.valid["sales_receipts"]) == 3
