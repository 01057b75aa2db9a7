"""Demo rows of the bookkeeping tables (issue 14): a web shop's receipts, deposit slips into an
operating and a client trust account, hard costs (one billed on to a law-firm matter), bills,
a bad-debt write-off and a trust -> operating transfer.

They use their own random stream, so the billing rows of a seed stay exactly what they were.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from qbo_pipeline.source.demo import _Builder, _ts

SHOP_BRANDS = ("Brand North", "Brand South")
SHOP_LOCATION = "Web shop"
OPERATING_BANK = "Operating Account"
TRUST_BANK = "Client Trust Account"
TRUST_LIABILITY = "Client Trust Liability"


def _regular(b: _Builder, customers: list[str]) -> list[dict[str, Any]]:
    """Active, home-currency customers without a parent (the ordinary ones at the end of the list)."""
    wanted = set(customers[12:])
    return [c for c in b.rows["customers"] if c["id"] in wanted and c["active"] and not c["deleted"]
            and c["currency"] == "USD" and not c["parent_id"] and "@" in str(c["email"])[1:-1]]


def add_bookkeeping_rows(b: _Builder, customers: list[str], products: list[dict[str, Any]], seed: int) -> None:
    """Append the bookkeeping rows to ``b.rows`` (billing rows must already be there)."""
    rng = random.Random(seed * 1000 + 14)
    today = b.today
    regular = _regular(b, customers)
    law_firm, matter = customers[7], customers[8]
    sellable = [p for p in products if p["active"] and p["name"] and p["type"] != "inventory"]

    def day_back(low: int, high: int) -> date:
        return today - timedelta(days=rng.randint(low, high))

    # -- web shop orders paid at checkout ------------------------------------------------------
    receipts: list[tuple[str, date]] = []
    for n in range(1, 13):
        rid = f"SR{n:05d}"
        day = day_back(10, 60)
        walk_in = n % 4 == 0
        b.rows["sales_receipts"].append({
            "id": rid, "number": f"WEB-{100000 + n}", "customer_id": None if walk_in else rng.choice(regular)["id"],
            "date": day, "currency": "USD", "exchange_rate": None, "method": rng.choice(("Visa", "MasterCard")),
            "reference": f"ch_{rng.randrange(10**11, 10**12)}", "deposit_account": None,
            "tip": round(rng.choice((0.0, 2.0, 3.5)), 2) if n % 3 == 0 else None,
            "class_name": SHOP_BRANDS[n % 2], "department_name": SHOP_LOCATION, "memo": None,
            "deleted": False, "updated_at": _ts(day, rng),
        })
        for line_no in range(1, rng.randint(1, 3) + 1):
            product = rng.choice(sellable)
            qty = float(rng.randint(1, 3))
            b.rows["sales_receipt_lines"].append({
                "id": f"{rid}-L{line_no}", "receipt_id": rid, "line_no": line_no, "product_id": product["id"],
                "name": None, "description": product["name"], "quantity": qty, "unit_price": product["unit_price"],
                "amount": round(qty * product["unit_price"], 2), "tax_code": "NON", "class_name": None,
                "updated_at": _ts(day, rng),
            })
        receipts.append((rid, day))

    # -- deposit slips: payments and receipts from Undeposited Funds into the operating bank ----------
    payments = [p for p in b.rows["payments"] if p["amount"] and p["amount"] == p["amount"] and p["amount"] > 0
                and not p["deleted"] and not p["deposit_account"] and not str(p["memo"] or "").startswith("INVALID")
                and p["date"] < today - timedelta(days=3) and p["customer_id"] in {c["id"] for c in regular}]
    payments = sorted(payments, key=lambda p: p["id"])[:9]
    receipt_totals: dict[str, float] = {}
    for line in b.rows["sales_receipt_lines"]:
        receipt_totals[line["receipt_id"]] = round(receipt_totals.get(line["receipt_id"], 0.0) + line["amount"], 2)
    for row in b.rows["sales_receipts"]:
        receipt_totals[row["id"]] = round(receipt_totals.get(row["id"], 0.0) + (row["tip"] or 0.0), 2)
    groups: list[list[tuple[str, str, float, date]]] = [
        [("payment", p["id"], p["amount"], p["date"]) for p in payments[i:i + 3]] for i in range(0, len(payments), 3)]
    groups.append([("receipt", rid, receipt_totals[rid], day) for rid, day in receipts[:4]])
    for n, group in enumerate([g for g in groups if g], start=1):
        did = f"DEP{n:04d}"
        day = min(today - timedelta(days=1), max(d for *_, d in group) + timedelta(days=1))
        b.rows["deposits"].append({"id": did, "date": day, "bank_account": OPERATING_BANK, "bank_kind": "operating",
                                   "currency": "USD", "department_name": None,
                                   "memo": f"Deposit slip {n}", "deleted": False, "updated_at": _ts(day, rng)})
        for line_no, (kind, sid, amount, _) in enumerate(group, start=1):
            b.rows["deposit_lines"].append({
                "id": f"{did}-L{line_no}", "deposit_id": did, "line_no": line_no,
                "payment_id": sid if kind == "payment" else None, "receipt_id": sid if kind == "receipt" else None,
                "account": None, "account_kind": None, "customer_id": None, "amount": amount, "description": None,
                "class_name": None, "updated_at": _ts(day, rng)})
    # a client's retainer into the trust account (held for the client: a liability, not income)
    trust_day = day_back(40, 50)
    did = f"DEP{len(b.rows['deposits']) + 1:04d}"
    b.rows["deposits"].append({"id": did, "date": trust_day, "bank_account": TRUST_BANK, "bank_kind": "trust",
                               "currency": "USD", "department_name": None, "memo": "Retainer, matter 2024-017",
                               "deleted": False, "updated_at": _ts(trust_day, rng)})
    b.rows["deposit_lines"].append({
        "id": f"{did}-L1", "deposit_id": did, "line_no": 1, "payment_id": None, "receipt_id": None,
        "account": TRUST_LIABILITY, "account_kind": "trust_liability", "customer_id": matter, "amount": 2500.0,
        "description": "Retainer received in trust", "class_name": "Probate", "updated_at": _ts(trust_day, rng)})

    # -- hard costs: paid at once, and owed to vendors; one billed on to the matter -----------------
    costs = [
        ("Courthouse Clerk", "check", "Checking", "Court filing fees", "expense", 435.0, matter, True, "Probate"),
        ("Hetzner Online", "credit_card", "Company Visa", "Server rental", "cogs", 189.9, None, False, "Hosting"),
        ("Office Depot", "cash", "Checking", "Office supplies", "expense", 42.17, None, False, None),
    ]
    for n, (vendor, paid, account_from, account, kind, amount, customer, billable, klass) in enumerate(costs, 1):
        day = day_back(5, 40)
        b.rows["expenses"].append({
            "id": f"EXP{n:04d}", "number": f"CHK-{7000 + n}" if paid == "check" else None, "date": day,
            "vendor": vendor, "payment_type": paid, "paid_from": account_from, "account": account,
            "account_kind": kind, "amount": amount, "description": account, "customer_id": customer,
            "billable": billable, "class_name": klass, "department_name": None, "currency": "USD", "memo": None,
            "deleted": False, "updated_at": _ts(day, rng)})
    bills = [("Expert Witness Group", "Expert witness fees", "expense", 1200.0, matter, True, "Probate"),
             ("Cloud Domains Inc", "Domain registrations (wholesale)", "cogs", 310.25, None, False, "Hosting")]
    for n, (vendor, account, kind, amount, customer, billable, klass) in enumerate(bills, 1):
        day = day_back(5, 40)
        b.rows["bills"].append({
            "id": f"BILL{n:04d}", "number": f"V-{rng.randrange(10000, 99999)}", "date": day,
            "due_date": day + timedelta(days=30), "vendor": vendor, "account": account, "account_kind": kind,
            "amount": amount, "description": account, "customer_id": customer, "billable": billable,
            "class_name": klass, "department_name": None, "currency": "USD", "memo": None, "deleted": False,
            "updated_at": _ts(day, rng)})

    # -- journal entries: a bad-debt write-off and a trust -> operating transfer ------------------
    debtor = regular[0]["id"]
    day = day_back(5, 20)
    b.rows["journal_entries"].append({"id": "JE0001", "number": "WO-0001", "date": day, "purpose": "write_off",
                                      "currency": "USD", "exchange_rate": None,
                                      "memo": "Uncollectible balance written off", "deleted": False,
                                      "updated_at": _ts(day, rng)})
    for line_no, posting, account, kind, customer in ((1, "debit", None, None, None),
                                                      (2, "credit", None, "receivable", debtor)):
        b.rows["journal_entry_lines"].append({
            "id": f"JE0001-L{line_no}", "journal_entry_id": "JE0001", "line_no": line_no, "posting": posting,
            "account": account, "account_kind": kind, "amount": 37.5, "customer_id": customer,
            "description": "Bad debt write-off", "class_name": None, "updated_at": _ts(day, rng)})
    day = day_back(2, 4)
    b.rows["journal_entries"].append({"id": "JE0002", "number": "TR-0001", "date": day, "purpose": "transfer",
                                      "currency": "USD", "exchange_rate": None,
                                      "memo": "Earned fees moved from trust to operating", "deleted": False,
                                      "updated_at": _ts(day, rng)})
    for line_no, posting, account, kind, customer in (
            (1, "debit", TRUST_LIABILITY, "trust_liability", matter), (2, "credit", TRUST_BANK, "trust", None),
            (3, "debit", OPERATING_BANK, "operating", None), (4, "credit", "Legal fees", "income", law_firm)):
        b.rows["journal_entry_lines"].append({
            "id": f"JE0002-L{line_no}", "journal_entry_id": "JE0002", "line_no": line_no, "posting": posting,
            "account": account, "account_kind": kind, "amount": 800.0, "customer_id": customer,
            "description": "Fees earned, matter 2024-017", "class_name": "Probate", "updated_at": _ts(day, rng)})
