"""Invoice, Payment, CreditMemo and RefundReceipt payloads: lines, rules, skips, accounts."""

from __future__ import annotations

from decimal import Decimal

from qbo_pipeline.config import load_config
from qbo_pipeline.schemas.frames import make_frame
from qbo_pipeline.transform import TransformContext, build_payloads, deposit_accounts, invoice_states
from qbo_pipeline.transform.payload import named_ref, source_ref

CONFIG = load_config()


def invoice(sid, **fields):
    return {"id": sid, "number": sid, "customer_id": "C1", "status": "sent", "issue_date": "2024-03-01", **fields}


def line(sid, invoice_id, **fields):
    return {"id": sid, "invoice_id": invoice_id, "line_no": 1, "quantity": 1.0, "unit_price": 10.0, "amount": 10.0,
            **fields}


def invoices(invs, lines, config=CONFIG, context=None):
    frames = {"invoices": make_frame("invoices", invs), "invoice_lines": make_frame("invoice_lines", lines)}
    return build_payloads("invoices", frames, config, context=context)


def test_invoice_body_lines_discount_and_tax():
    result = invoices(
        [invoice("I1", due_date="2024-03-31", memo="Thanks", currency="CAD")],
        [line("L2", "I1", line_no=2, product_id="P1", quantity=3, unit_price=2.5, amount=7.5, tax_code="STATE"),
         line("L1", "I1", line_no=1, name="Setup fee", description="one-off", amount=100.0, quantity=None,
              unit_price=None, discount=10.0)],
    )
    (payload,) = result.payloads
    body = payload.body
    assert payload.action == "upsert" and payload.txn_date == "2024-03-01" and payload.lookup == {"DocNumber": "I1"}
    assert body["CustomerRef"] == source_ref("Customer", "C1")
    assert (body["TxnDate"], body["DueDate"], body["PrivateNote"]) == ("2024-03-01", "2024-03-31",
                                                                       "Thanks\n[qbo-pipeline Invoice I1]")
    assert body["CurrencyRef"] == {"value": "CAD"}
    setup, hosting, discount = body["Line"]
    assert setup == {"LineNum": 1, "Amount": 100.0, "DetailType": "SalesItemLineDetail",
                     "Description": "Setup fee - one-off",
                     "SalesItemLineDetail": {"ItemRef": named_ref("Item", "Billing"),
                                             "TaxCodeRef": named_ref("TaxCode", "NON")}}
    assert hosting["SalesItemLineDetail"] == {"ItemRef": source_ref("Item", "P1"), "Qty": 3.0, "UnitPrice": 2.5,
                                              "TaxCodeRef": named_ref("TaxCode", "TAX")}
    assert discount == {"Amount": 10.0, "DetailType": "DiscountLineDetail",
                        "DiscountLineDetail": {"PercentBased": False,
                                               "DiscountAccountRef": named_ref("Account", "Discounts given")}}
    assert sorted(payload.depends_on) == [("Customer", "C1"), ("Item", "P1")]


def test_doc_number_rule_first4_hash_last11():
    result = invoices([invoice("I1", number="ACME-2024-INVOICE-000123456789")], [line("L1", "I1")])
    doc = result.payloads[0].body["DocNumber"]
    assert doc.startswith("ACME~") and doc.endswith("~00123456789") and len(doc) == 21
    row = result.normalisations.iloc[0]
    assert (row["field"], row["rule"], row["original"]) == ("DocNumber", "doc_number_shortened",
                                                           "ACME-2024-INVOICE-000123456789")


def test_long_numbers_sharing_their_ends_get_different_doc_numbers_whatever_the_batch():
    alpha, beta = "PROJ-ALPHA-RETAINER-2024-000017", "PROJ-BETA-RETAINER-2024-000017"
    both = invoices([invoice("1", number=alpha), invoice("2", number=beta)], [line("L1", "1"), line("L2", "2")])
    docs = [p.body["DocNumber"] for p in both.payloads]
    assert len(set(docs)) == 2 and all(len(d) <= 21 and d.endswith("2024-000017") for d in docs)
    alone = invoices([invoice("2", number=beta)], [line("L2", "2")])
    assert alone.payloads[0].body["DocNumber"] == docs[1]  # the same number in a later, smaller run


def test_skip_rules_draft_and_before_start_keep_unpaid():
    invs = [invoice("I1", status="draft"), invoice("I2", status="paid", issue_date="2023-05-01"),
            invoice("I3", status="sent", issue_date="2023-05-01"), invoice("I4", status="void"),
            invoice("I5", deleted=True)]
    lines = [line(f"L{i}", f"I{i}") for i in range(1, 6)]
    result = invoices(invs, lines)
    assert {p.source_id: p.action for p in result.payloads} == {"I3": "upsert", "I4": "void", "I5": "delete"}
    assert dict(zip(result.skipped["source_id"], result.skipped["rule"], strict=True)) == {
        "I1": "draft", "I2": "before_sync_start"}
    strict = load_config(overrides={"options": {"export_unpaid_before_start": False}})
    result = invoices(invs, lines, config=strict)
    assert set(result.skipped["source_id"]) == {"I1", "I2", "I3"}


def test_open_balance_from_context_decides_unpaid():
    invs = [invoice("I1", status="closed", issue_date="2023-05-01")]
    lines = [line("L1", "I1")]
    assert invoices(invs, lines).skipped["rule"].tolist() == ["before_sync_start"]
    states = invoice_states(make_frame("invoices", invs), make_frame("invoice_lines", lines))
    assert states["I1"].balance == Decimal("10.00")
    result = invoices(invs, lines, context=TransformContext(invoices=states))
    assert [p.source_id for p in result.payloads] == ["I1"]


def test_long_description_cut_and_kept_in_private_note():
    text = "x" * 4100
    result = invoices([invoice("I1", memo="memo")], [line("L1", "I1", description=text)])
    body = result.payloads[0].body
    assert len(body["Line"][0]["Description"]) == 4000
    assert body["PrivateNote"] == "memo\n[qbo-pipeline Invoice I1]"  # 4100 characters do not fit in 4000
    assert "full_text_not_kept" in set(result.normalisations["rule"])
    shorter = load_config(overrides={"options": {"description_max_length": 50}})
    result = invoices([invoice("I1", memo="memo")], [line("L1", "I1", description="y" * 60)], config=shorter)
    body = result.payloads[0].body
    assert body["Line"][0]["Description"] == "y" * 50
    assert body["PrivateNote"] == "memo\nLine 1 full description: " + "y" * 60 + "\n[qbo-pipeline Invoice I1]"


def test_aggregated_lines_one_per_tax_code():
    config = load_config(overrides={"options": {"aggregate_lines": True}})
    result = invoices([invoice("I1")], [line("L1", "I1", tax_code="TAX"), line("L2", "I1", line_no=2, tax_code="TAX"),
                                        line("L3", "I1", line_no=3, discount=1.0)], config=config)
    lines = result.payloads[0].body["Line"]
    assert [(ln.get("Amount"), ln["DetailType"]) for ln in lines] == [
        (20.0, "SalesItemLineDetail"), (10.0, "SalesItemLineDetail"), (1.0, "DiscountLineDetail")]
    assert lines[0]["SalesItemLineDetail"]["ItemRef"] == named_ref("Item", "Billing")
    assert lines[0]["Description"] == "2 billed lines"


def test_mapped_tax_mode_uses_map_and_global_calculation():
    config = load_config(overrides={"taxes": {"mode": "mapped", "map": {"G": "GST"}, "default_code": "Exempt"}})
    result = invoices([invoice("I1")], [line("L1", "I1", tax_code="G"), line("L2", "I1", line_no=2)], config=config)
    body = result.payloads[0].body
    assert body["GlobalTaxCalculation"] == "TaxExcluded"
    assert [ln["SalesItemLineDetail"]["TaxCodeRef"] for ln in body["Line"]] == [
        named_ref("TaxCode", "GST"), named_ref("TaxCode", "Exempt")]


def test_payment_linked_invoices_deposit_method_and_reference():
    payments = make_frame("payments", [
        {"id": "Y1", "customer_id": "C1", "date": "2024-03-05", "amount": 50.0, "method": "Credit Card",
         "reference": "ch_3MqLiJLkdIwHu7ix0snN0B15"},
        {"id": "Y2", "customer_id": "C1", "date": "2024-03-05", "amount": 0.0},
        {"id": "Y3", "customer_id": "C1", "date": "2023-03-05", "amount": 5.0, "deposit_account": "Checking"},
    ])
    apps = make_frame("payment_applications", [
        {"id": "A1", "payment_id": "Y1", "invoice_id": "I2", "amount": 20.0},
        {"id": "A2", "payment_id": "Y1", "invoice_id": "I1", "amount": 10.0},
        {"id": "A3", "payment_id": "Y1", "invoice_id": "I1", "amount": 15.0},
    ])
    result = build_payloads("payments", {"payments": payments, "payment_applications": apps}, CONFIG)
    (payment,) = result.payloads
    body = payment.body
    assert body["TotalAmt"] == 50.0 and body["DepositToAccountRef"] == named_ref("Account", "Undeposited Funds")
    assert body["PaymentMethodRef"] == named_ref("PaymentMethod", "Credit Card")
    assert body["PaymentRefNum"] == "ch_3M...Hu7ix0snN0B15" and len(body["PaymentRefNum"]) == 21
    assert body["Line"] == [
        {"Amount": 25.0, "LinkedTxn": [{"TxnId": source_ref("Invoice", "I1", as_id=True), "TxnType": "Invoice"}]},
        {"Amount": 20.0, "LinkedTxn": [{"TxnId": source_ref("Invoice", "I2", as_id=True), "TxnType": "Invoice"}]},
    ]
    assert dict(zip(result.skipped["source_id"], result.skipped["rule"], strict=True)) == {
        "Y2": "zero_amount", "Y3": "before_sync_start"}
    assert deposit_accounts(payments, CONFIG) == {"Y1": "Undeposited Funds", "Y2": "Undeposited Funds",
                                                  "Y3": "Checking"}


def test_credit_memos_items_by_kind_and_application_to_invoice():
    credits = make_frame("credits", [
        {"id": "K1", "customer_id": "C1", "invoice_id": "I1", "kind": "write_off", "date": "2024-03-01", "amount": 5},
        {"id": "K2", "customer_id": "C1", "kind": "credit", "date": "2024-03-01", "amount": 7.5, "product_id": "P1"},
        {"id": "K3", "customer_id": "C1", "kind": "bad_debt", "date": "2024-03-01", "amount": 3, "deleted": True},
    ])
    result = build_payloads("credits", {"credits": credits}, CONFIG)
    memos = {p.source_id: p for p in result.payloads}
    assert set(memos) == {"K1", "K2", "K3", "apply:K1"}
    assert memos["K1"].body["Line"][0]["SalesItemLineDetail"]["ItemRef"] == named_ref("Item", "Write-off")
    assert memos["K2"].body["Line"][0]["SalesItemLineDetail"]["ItemRef"] == source_ref("Item", "P1")
    assert memos["K3"].action == "delete"
    apply = memos["apply:K1"]
    assert apply.entity == "Payment" and apply.body["TotalAmt"] == 0.0
    assert [ln["LinkedTxn"][0]["TxnType"] for ln in apply.body["Line"]] == ["Invoice", "CreditMemo"]
    assert sorted(apply.depends_on) == [("CreditMemo", "K1"), ("Customer", "C1"), ("Invoice", "I1")]


def test_bad_debt_for_closed_unpaid_invoices():
    config = load_config(overrides={"options": {"write_off_closed_unpaid": True}})
    invs = make_frame("invoices", [invoice("I1", status="closed"), invoice("I2", status="closed")])
    lines = make_frame("invoice_lines", [line("L1", "I1"), line("L2", "I2")])
    apps = make_frame("payment_applications", [{"id": "A1", "payment_id": "Y1", "invoice_id": "I2", "amount": 10}])
    context = TransformContext(invoices=invoice_states(invs, lines, apps))
    result = build_payloads("credits", {"credits": make_frame("credits", [])}, config, context=context)
    memos = {p.source_id: p for p in result.payloads}
    assert set(memos) == {"bad_debt:I1", "apply:bad_debt:I1"}
    assert memos["bad_debt:I1"].body["Line"][0]["Amount"] == 10.0
    assert memos["bad_debt:I1"].body["Line"][0]["SalesItemLineDetail"]["ItemRef"] == named_ref("Item", "Bad debt")


def test_refund_account_own_configured_or_same_as_payment():
    refunds = make_frame("refunds", [
        {"id": "R1", "customer_id": "C1", "payment_id": "Y1", "date": "2024-03-01", "amount": 5, "method": "Check",
         "reference": "1001"},
        {"id": "R2", "customer_id": "C1", "date": "2024-03-01", "amount": 5, "refund_account": "Petty Cash"},
        {"id": "R3", "customer_id": "C1", "date": "2024-03-01", "amount": 5},
    ])
    context = TransformContext(payment_deposit_accounts={"Y1": "Checking"})
    result = build_payloads("refunds", {"refunds": refunds}, CONFIG, context=context)
    accounts = {p.source_id: p.body["DepositToAccountRef"] for p in result.payloads}
    assert accounts == {"R1": named_ref("Account", "Checking"), "R2": named_ref("Account", "Petty Cash"),
                        "R3": named_ref("Account", "Undeposited Funds")}
    r1 = result.payloads[0].body
    assert r1["PaymentRefNum"] == "1001" and r1["PaymentMethodRef"] == named_ref("PaymentMethod", "Check")
    assert r1["Line"][0]["SalesItemLineDetail"]["ItemRef"] == named_ref("Item", "Credit")
    configured = load_config(overrides={"accounts": {"refund": "Refunds Bank"}})
    result = build_payloads("refunds", {"refunds": refunds}, configured, context=context)
    assert [p.body["DepositToAccountRef"] for p in result.payloads][0] == named_ref("Account", "Refunds Bank")


def test_plain_balances_context_keeps_unpaid_invoice_and_its_old_payment():
    invs = [invoice("I1", status="closed", issue_date="2023-05-01")]
    plain = TransformContext(invoice_statuses={"I1": "closed"}, invoice_balances={"I1": 4.0})
    assert [p.source_id for p in invoices(invs, [line("L1", "I1")], context=plain).payloads] == ["I1"]
    payments = make_frame("payments", [{"id": "Y1", "customer_id": "C1", "date": "2023-05-02", "amount": 6.0},
                                       {"id": "Y2", "customer_id": "C1", "date": "2023-05-02", "amount": 6.0}])
    apps = make_frame("payment_applications", [{"id": "A1", "payment_id": "Y1", "invoice_id": "I1", "amount": 6.0}])
    result = build_payloads("payments", {"payments": payments, "payment_applications": apps}, CONFIG, context=plain)
    assert [p.source_id for p in result.payloads] == ["Y1"]
    assert result.skipped["source_id"].tolist() == ["Y2"]


def test_payment_method_name_cleaned_cut_and_reported():
    payments = make_frame("payments", [{"id": "Y1", "customer_id": "C1", "date": "2024-03-05", "amount": 5.0,
                                        "method": "Card: Visa\tcorporate account of the holding company"}])
    result = build_payloads("payments", {"payments": payments,
                                         "payment_applications": make_frame("payment_applications", [])}, CONFIG)
    name = result.payloads[0].body["PaymentMethodRef"]["$ref"]["name"]
    assert name == "Card- Visa corporate account of" and len(name) == 31
    assert result.normalisations["rule"].tolist() == ["name_characters", "truncated"]
