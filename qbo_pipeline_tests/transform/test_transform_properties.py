"""Property tests of the rules: limits never exceeded, output deterministic, totals preserved,
and every source row ends exactly once as payload, skipped or quarantined."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbo_pipeline.config import load_config
from qbo_pipeline.schemas import validate
from qbo_pipeline.schemas.frames import make_frame
from qbo_pipeline.transform import build_payloads
from qbo_pipeline.transform.rules import limit_violations, money

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIGS = {
    "default": load_config(),
    "tight": load_config(overrides={"options": {"name_max_length": 30, "description_max_length": 200,
                                                "aggregate_lines": True, "disambiguation": "source_id"}}),
}

long_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=6), st.integers(1, 900))
texts = st.one_of(st.none(), st.text(max_size=30), long_text,
                  st.sampled_from(["Acme", "ACME", "Acme: West", "Tab\tName", "Line\nBreak", " spaced  out "]))
names = st.one_of(st.sampled_from(["Acme", "acme", "Bob: Smith", "Zed"]), texts)
emails = st.sampled_from([None, "a@x.com", "b@y.org", "A@x.com", "not-mail"])
money_values = st.decimals(min_value=0, max_value=5000, places=3).map(float)
dates = st.sampled_from(["2023-06-30", "2024-01-01", "2024-05-17"])
configs = st.sampled_from(sorted(CONFIGS))


def check_limits(payloads, config):
    for payload in payloads:
        problems = limit_violations(payload.entity, payload.body, config.options.name_max_length,
                                    config.options.description_max_length)
        assert not problems, problems
        for key in ("DisplayName", "Name", "DocNumber"):
            if key in payload.lookup:
                assert payload.lookup[key] == payload.body[key]


def assert_partition(entity, input_ids, validation, result, payload_entity):
    exported = [p.source_id for p in result.payloads if p.entity == payload_entity
                and not p.source_id.startswith(("apply:", "bad_debt:"))]
    skipped = list(result.skipped["source_id"])
    quarantined = set(validation.quarantine.loc[validation.quarantine["entity"] == entity, "source_id"])
    assert len(exported) == len(set(exported)) and len(skipped) == len(set(skipped))
    assert not (set(exported) & set(skipped)) and not (set(exported) & quarantined) and not (set(skipped) & quarantined)
    assert set(exported) | set(skipped) | quarantined == set(input_ids)


def fingerprint(result):
    return [(p.entity, p.source_id, p.action, p.hash, sorted(p.lookup.items()), p.txn_date) for p in result.payloads]


def shuffled(frames, seed=3):
    return {k: v.sample(frac=1.0, random_state=seed) for k, v in frames.items()}


@st.composite
def customer_rows(draw):
    n = draw(st.integers(0, 10))
    rows = []
    for i in range(n):
        rows.append({
            "id": f"C{i}", "display_name": draw(names), "company_name": draw(texts), "given_name": draw(texts),
            "family_name": draw(texts), "email": draw(emails), "phone": draw(texts), "bill_line1": draw(texts),
            "bill_city": draw(texts), "bill_postal_code": draw(texts),
            "parent_id": draw(st.one_of(st.none(), st.sampled_from([f"C{j}" for j in range(max(i, 1))]))),
            "active": draw(st.booleans()), "currency": draw(st.sampled_from([None, "USD", "EUR", "eu"])),
        })
    return rows


@PROPERTY
@given(customer_rows(), configs)
def test_customers_properties(rows, config_name):
    config = CONFIGS[config_name]
    frames = {"customers": make_frame("customers", rows)}
    validation = validate("customers", frames, known_ids={"customers": set()}, config=config)
    result = build_payloads("customers", validation.valid, config)
    check_limits(result.payloads, config)
    assert_partition("customers", [r["id"] for r in rows], validation, result, "Customer")
    display = [p.body["DisplayName"].casefold() for p in result.payloads]
    assert len(display) == len(set(display)), "same-name customers must never be merged"
    again = build_payloads("customers", validate("customers", shuffled(frames), known_ids={"customers": set()},
                                                 config=config).valid, config)
    assert fingerprint(again) == fingerprint(result)


@st.composite
def product_rows(draw):
    return [{"id": f"P{i}", "name": draw(names), "sku": draw(texts), "description": draw(texts),
             "type": draw(st.sampled_from([None, "service", "non_inventory", "inventory"])),
             "unit_price": draw(st.one_of(st.none(), money_values)), "active": draw(st.booleans())}
            for i in range(draw(st.integers(0, 8)))]


@PROPERTY
@given(product_rows(), configs)
def test_items_properties(rows, config_name):
    config = CONFIGS[config_name]
    frames = {"products": make_frame("products", rows)}
    validation = validate("products", frames, config=config)
    result = build_payloads("products", validation.valid, config)
    check_limits(result.payloads, config)
    assert_partition("products", [r["id"] for r in rows], validation, result, "Item")
    item_names = [p.body["Name"].casefold() for p in result.payloads]
    assert len(item_names) == len(set(item_names))
    again = build_payloads("products", validate("products", shuffled(frames), config=config).valid, config)
    assert fingerprint(again) == fingerprint(result)


@st.composite
def invoice_frames(draw):
    invoices, lines = [], []
    for i in range(draw(st.integers(1, 6))):
        invoices.append({
            "id": f"I{i}", "number": draw(st.one_of(st.none(), st.text(min_size=1, max_size=40))),
            "customer_id": draw(st.sampled_from(["C1", "C2", "C404"])),
            "status": draw(st.sampled_from(["draft", "sent", "paid", "void", "closed"])),
            "issue_date": draw(dates), "memo": draw(texts), "deleted": draw(st.booleans()),
            "currency": draw(st.sampled_from([None, "USD", "CAD"])),
        })
        for j in range(draw(st.integers(0, 4))):
            quantity = draw(st.sampled_from([None, 0.0, 1.0, 2.5, 3.0, -1.0]))
            price = draw(st.one_of(st.none(), money_values))
            if quantity is not None and price is not None and draw(st.booleans()):
                amount = float(money(Decimal(repr(quantity)) * Decimal(repr(price))))
            else:
                amount = draw(money_values)
            lines.append({
                "id": f"L{i}-{j}", "invoice_id": f"I{i}", "line_no": j + 1,
                "product_id": draw(st.sampled_from([None, "P1", "P404"])), "name": draw(texts),
                "description": draw(texts), "quantity": quantity, "unit_price": price, "amount": amount,
                "discount": draw(st.sampled_from([None, 0.0, 0.005, 1.25])),
                "tax_code": draw(st.sampled_from([None, "TAX", "NON", "exempt"])),
            })
    if draw(st.booleans()):
        lines.append({"id": "L-orphan", "invoice_id": "I-missing", "amount": 1.0})
    return invoices, lines


@PROPERTY
@given(invoice_frames(), configs)
def test_invoices_properties(data, config_name):
    config = CONFIGS[config_name]
    invoices, lines = data
    frames = {"invoices": make_frame("invoices", invoices), "invoice_lines": make_frame("invoice_lines", lines)}
    known = {"customers": {"C1", "C2"}, "products": {"P1"}}
    validation = validate("invoices", frames, known_ids=known, config=config)
    result = build_payloads("invoices", validation.valid, config)
    check_limits(result.payloads, config)
    assert_partition("invoices", [r["id"] for r in invoices], validation, result, "Invoice")

    # every line: with an exported invoice, with a skipped one, or quarantined (with its invoice, or orphan)
    exported = {p.source_id for p in result.payloads}
    skipped = set(result.skipped["source_id"])
    q = validation.quarantine
    quarantined_invoices = set(q.loc[q["entity"] == "invoices", "source_id"])
    orphans = set(q.loc[q["entity"] == "invoice_lines", "source_id"])
    for row in lines:
        owners = [row["invoice_id"] in exported, row["invoice_id"] in skipped,
                  row["invoice_id"] in quarantined_invoices, row["id"] in orphans]
        assert sum(owners) == 1, (row, owners)

    valid_lines = validation.valid["invoice_lines"]
    for payload in result.payloads:
        source = valid_lines[valid_lines["invoice_id"] == payload.source_id]
        expected = sum((money(a) - money(d) for a, d in zip(source["amount"], source["discount"], strict=True)),
                       Decimal("0"))
        sales = sum((Decimal(repr(ln["Amount"])) for ln in payload.body["Line"]
                     if ln["DetailType"] == "SalesItemLineDetail"), Decimal("0"))
        discounts = sum((Decimal(repr(ln["Amount"])) for ln in payload.body["Line"]
                         if ln["DetailType"] == "DiscountLineDetail"), Decimal("0"))
        assert sales - discounts == expected
        if not config.options.aggregate_lines:
            assert sum(ln["DetailType"] == "SalesItemLineDetail" for ln in payload.body["Line"]) == len(source)
        for ln in payload.body["Line"]:
            detail = ln.get("SalesItemLineDetail", {})
            if "Qty" in detail:
                assert money(Decimal(repr(detail["Qty"])) * Decimal(repr(detail["UnitPrice"]))) == Decimal(
                    repr(ln["Amount"]))

    again = build_payloads("invoices", validate("invoices", shuffled(frames), known_ids=known,
                                                config=config).valid, config)
    assert fingerprint(again) == fingerprint(result)
    assert [p.body for p in again.payloads] == [p.body for p in result.payloads]


@st.composite
def payment_frames(draw):
    payments, apps = [], []
    for i in range(draw(st.integers(1, 5))):
        payments.append({"id": f"Y{i}", "customer_id": draw(st.sampled_from(["C1", "C404"])),
                         "date": draw(dates), "amount": draw(money_values), "deleted": draw(st.booleans()),
                         "method": draw(texts), "reference": draw(texts), "memo": draw(texts)})
        for j in range(draw(st.integers(0, 3))):
            apps.append({"id": f"A{i}-{j}", "payment_id": f"Y{i}", "invoice_id": draw(st.sampled_from(["I1", "I2", "I9"])),
                         "amount": draw(money_values)})
    return payments, apps


@PROPERTY
@given(payment_frames(), configs)
def test_payments_properties(data, config_name):
    config = CONFIGS[config_name]
    payments, apps = data
    frames = {"payments": make_frame("payments", payments), "payment_applications": make_frame("payment_applications", apps)}
    known = {"customers": {"C1"}, "invoices": {"I1", "I2"}}
    validation = validate("payments", frames, known_ids=known, config=config)
    result = build_payloads("payments", validation.valid, config)
    check_limits(result.payloads, config)
    assert_partition("payments", [r["id"] for r in payments], validation, result, "Payment")
    valid_apps = validation.valid["payment_applications"]
    amounts = dict(zip(validation.valid["payments"]["id"], validation.valid["payments"]["amount"], strict=True))
    for payload in result.payloads:
        assert Decimal(repr(payload.body["TotalAmt"])) == money(amounts[payload.source_id])
        source = valid_apps.loc[valid_apps["payment_id"] == payload.source_id, "amount"]
        assert sum((Decimal(repr(ln["Amount"])) for ln in payload.body["Line"]), Decimal("0")) == sum(
            (money(a) for a in source), Decimal("0"))
        assert sum((Decimal(repr(ln["Amount"])) for ln in payload.body["Line"]), Decimal("0")) <= money(
            amounts[payload.source_id]) + Decimal("0.01") * len(source)
    again = build_payloads("payments", validate("payments", shuffled(frames), known_ids=known, config=config).valid,
                           config)
    assert fingerprint(again) == fingerprint(result)


@st.composite
def credit_rows(draw, table):
    rows = []
    for i in range(draw(st.integers(0, 6))):
        row = {"id": f"K{i}", "customer_id": draw(st.sampled_from(["C1", "C404"])), "date": draw(dates),
               "amount": draw(money_values), "description": draw(texts), "deleted": draw(st.booleans()),
               "product_id": draw(st.sampled_from([None, "P1"]))}
        if table == "credits":
            row.update(kind=draw(st.sampled_from(["credit", "write_off", "bad_debt", "oops"])),
                       invoice_id=draw(st.sampled_from([None, "I1", "I9"])))
        else:
            row.update(payment_id=draw(st.sampled_from([None, "Y1"])), reference=draw(texts), method=draw(texts))
        rows.append(row)
    return rows


@PROPERTY
@given(st.sampled_from(["credits", "refunds"]).flatmap(lambda t: st.tuples(st.just(t), credit_rows(t))), configs)
def test_credits_and_refunds_properties(data, config_name):
    table, rows = data
    config = CONFIGS[config_name]
    frames = {table: make_frame(table, rows)}
    known = {"customers": {"C1"}, "products": {"P1"}, "invoices": {"I1"}, "payments": {"Y1"}}
    validation = validate(table, frames, known_ids=known, config=config)
    result = build_payloads(table, validation.valid, config)
    check_limits(result.payloads, config)
    entity = "CreditMemo" if table == "credits" else "RefundReceipt"
    assert_partition(table, [r["id"] for r in rows], validation, result, entity)
    amounts = dict(zip(validation.valid[table]["id"], validation.valid[table]["amount"], strict=True))
    for payload in result.payloads:
        if payload.entity == entity:
            total = sum((Decimal(repr(ln["Amount"])) for ln in payload.body["Line"]), Decimal("0"))
            assert total == money(amounts[payload.source_id])
    again = build_payloads(table, validate(table, shuffled(frames), known_ids=known, config=config).valid, config)
    assert fingerprint(again) == fingerprint(result)


def test_limit_walker_catches_an_unknown_or_too_long_field():
    assert limit_violations("Invoice", {"DocNumber": "x" * 22}) == ["Invoice.DocNumber: 22 characters, limit 21"]
    assert limit_violations("Customer", {"Nickname": "x"}) == ["Customer.Nickname: no limit known for this field"]
    assert limit_violations("Customer", {"DisplayName": "a:b"}) == ["Customer.DisplayName: contains ':' or a tab or newline"]
    assert pd.isna(None)
