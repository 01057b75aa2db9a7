"""Validation of invoices, payments, credits and refunds: references, arithmetic, whole-parent quarantine."""

from __future__ import annotations

from qbo_pipeline.config import load_config
from qbo_pipeline.schemas import quarantined_ids, validate
from qbo_pipeline.schemas.frames import make_frame

KNOWN = {"customers": {"C1"}, "products": {"P1"}, "invoices": {"I1", "I2"}, "payments": {"Y1"}}


def invoice(sid, **fields):
    return {"id": sid, "number": sid, "customer_id": "C1", "status": "sent", "issue_date": "2024-03-01", **fields}


def line(sid, invoice_id, **fields):
    row = {"id": sid, "invoice_id": invoice_id, "line_no": 1, "quantity": 1.0, "unit_price": 10.0, "amount": 10.0}
    row.update(fields)
    return row


def invoice_frames(invoices, lines):
    return {"invoices": make_frame("invoices", invoices), "invoice_lines": make_frame("invoice_lines", lines)}


def test_clean_invoices_pass_with_their_lines():
    frames = invoice_frames(
        [invoice("I1"), invoice("I2", due_date="2024-03-31")],
        [line("L1", "I1", product_id="P1"), line("L2", "I1", line_no=2, name="Setup", discount=2.0),
         line("L3", "I2", quantity=3, unit_price=0.3333, amount=1.0)],
    )
    result = validate("invoices", frames, known_ids=KNOWN)
    assert result.quarantine.empty
    assert len(result.valid["invoices"]) == 2 and len(result.valid["invoice_lines"]) == 3


def test_one_bad_line_quarantines_the_whole_invoice_with_a_line_reason():
    frames = invoice_frames(
        [invoice("I1"), invoice("I2")],
        [line("L1", "I1", quantity=5, amount=50.0), line("L2", "I1", line_no=3, quantity=-2, amount=-20.0),
         line("L3", "I2")],
    )
    result = validate("invoices", frames, known_ids=KNOWN)
    q = result.quarantine
    assert list(q["source_id"]) == ["I1"] and list(q["row_id"]) == ["L2"]
    assert list(q["reason"]) == ["Line 3 has a negative quantity (-2)."]
    assert list(q["column"]) == ["invoice_lines.quantity"]
    assert list(result.valid["invoices"]["id"]) == ["I2"]
    assert list(result.valid["invoice_lines"]["id"]) == ["L3"]  # L1 goes with its invoice
    assert quarantined_ids(result) == {"I1"}


def test_invoice_references_arithmetic_and_dates():
    frames = invoice_frames(
        [invoice("I1", customer_id="C404"), invoice("I2", due_date="2024-02-01"), invoice("I3"),
         invoice("I4", status="pending"), invoice("I5"), invoice("I6", status="draft")],
        [line("L1", "I1"), line("L2", "I2"), line("L3", "I3", product_id="P404"),
         line("L4", "I4"), line("L5", "I5", amount=10.02), line("L6", "I6", quantity=2)],
    )
    result = validate("invoices", frames, known_ids=KNOWN)
    checks = {sid: set(g["check"]) for sid, g in result.quarantine.groupby("source_id")}
    assert checks == {"I1": {"unknown_customer"}, "I2": {"due_before_issue"}, "I3": {"unknown_product"},
                      "I4": {"isin"}, "I5": {"amount_arithmetic"}, "I6": {"amount_arithmetic"}}
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert reasons["I5"] == "Line 1 has an amount of 10.02 but 1 x 10 makes 10."
    assert reasons["I1"] == "The invoice is for customer C404, who is neither in the source nor exported earlier."


def test_amount_within_half_a_cent_passes():
    frames = invoice_frames([invoice("I1")], [line("L1", "I1", quantity=3, unit_price=3.3333, amount=10.0)])
    assert validate("invoices", frames, known_ids=KNOWN).quarantine.empty


def test_orphan_lines_no_lines_and_negative_totals():
    frames = invoice_frames(
        [invoice("I1"), invoice("I2"), invoice("I3", status="draft")],
        [line("L1", "I9"), line("L2", "I2", quantity=1, unit_price=-30.0, amount=-30.0), line("L3", "I2", line_no=2)],
    )
    result = validate("invoices", frames, known_ids=KNOWN)
    q = result.quarantine.set_index("row_id")
    assert q.loc["L1", "entity"] == "invoice_lines" and q.loc["L1", "check"] == "orphan"
    assert q.loc["I1", "check"] == "no_lines"
    assert q.loc["I2", "check"] == "negative_total"
    assert list(result.valid["invoices"]["id"]) == ["I3"]  # a draft without lines is skipped later, not quarantined


def test_mapped_tax_codes_must_be_mapped():
    config = load_config(overrides={"taxes": {"mode": "mapped", "map": {"GST": "GST 5%"}}})
    frames = invoice_frames([invoice("I1"), invoice("I2")],
                            [line("L1", "I1", tax_code="GST"), line("L2", "I2", tax_code="PST")])
    result = validate("invoices", frames, known_ids=KNOWN, config=config)
    assert list(result.quarantine["source_id"]) == ["I2"]
    assert result.quarantine["reason"].iloc[0] == "Line 1 uses the tax code 'PST', which has no entry in taxes.map."


def test_payments_applications_known_and_not_above_payment():
    payments = make_frame("payments", [
        {"id": "Y1", "customer_id": "C1", "date": "2024-03-05", "amount": 50.0},
        {"id": "Y2", "customer_id": "C1", "date": "2024-03-05", "amount": 10.0},
        {"id": "Y3", "customer_id": "C1", "date": "2024-03-05", "amount": 10.0},
    ])
    apps = make_frame("payment_applications", [
        {"id": "A1", "payment_id": "Y1", "invoice_id": "I1", "amount": 30.0},
        {"id": "A2", "payment_id": "Y1", "invoice_id": "I2", "amount": 20.0},
        {"id": "A3", "payment_id": "Y2", "invoice_id": "I1", "amount": 6.0},
        {"id": "A4", "payment_id": "Y2", "invoice_id": "I2", "amount": 6.0},
        {"id": "A5", "payment_id": "Y3", "invoice_id": "I77", "amount": 5.0},
    ])
    result = validate("payments", {"payments": payments, "payment_applications": apps}, known_ids=KNOWN)
    checks = dict(zip(result.quarantine["source_id"], result.quarantine["check"], strict=True))
    assert checks == {"Y2": "overapplied", "Y3": "unknown_invoice"}
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert reasons["Y2"] == "The payment of 10 is applied to invoices for 12 in total, more than was received."
    assert list(result.valid["payment_applications"]["id"]) == ["A1", "A2"]


def test_credits_and_refunds_references_and_kinds():
    credits = make_frame("credits", [
        {"id": "K1", "customer_id": "C1", "invoice_id": "I1", "kind": "write_off", "date": "2024-03-01", "amount": 5},
        {"id": "K2", "customer_id": "C1", "invoice_id": "I404", "kind": "credit", "date": "2024-03-01", "amount": 5},
        {"id": "K3", "customer_id": "C1", "kind": "gift", "date": "2024-03-01", "amount": 0},
    ])
    result = validate("credits", {"credits": credits}, known_ids=KNOWN)
    checks = {sid: set(g["check"]) for sid, g in result.quarantine.groupby("source_id")}
    assert checks == {"K2": {"unknown_invoice"}, "K3": {"isin", "greater_than"}}
    refunds = make_frame("refunds", [
        {"id": "R1", "customer_id": "C1", "payment_id": "Y1", "date": "2024-03-01", "amount": 5},
        {"id": "R2", "customer_id": "C1", "payment_id": "Y404", "date": "2024-03-01", "amount": 5},
    ])
    result = validate("refunds", {"refunds": refunds}, known_ids=KNOWN)
    assert list(result.quarantine["check"]) == ["unknown_payment"]
    assert list(result.valid["refunds"]["id"]) == ["R1"]


def test_every_check_has_a_bookkeeper_sentence():
    from qbo_pipeline.schemas.reasons import TEMPLATES, reason

    row = {"line_no": 2, "invoice_id": "I1", "amount": 10.0, "quantity": 2.0, "unit_price": 4.0, "discount": 12.0,
           "due_date": None, "issue_date": None}
    for check in TEMPLATES:
        for table in ("invoices", "invoice_lines", "customers", "products"):
            sentence = reason(table, row, "amount", check, 3.5)
            assert "fails the check" not in sentence and "{" not in sentence, (check, sentence)
            assert sentence.endswith(".") and sentence[0].isupper()


def test_future_dates_and_currency_mismatch():
    from datetime import date

    frames = invoice_frames(
        [invoice("I1", issue_date="2024-07-01"), invoice("I2", currency="EUR"), invoice("I3", customer_id="C2",
                                                                                      currency="EUR"),
         invoice("I4", currency="USD")],
        [line(f"L{i}", f"I{i}") for i in range(1, 5)],
    )
    known = {**KNOWN, "customers": {"C1", "C2"}}
    result = validate("invoices", frames, known_ids=known, as_of=date(2024, 6, 1),
                      customer_currencies={"C1": None, "C2": "EUR"})
    checks = dict(zip(result.quarantine["source_id"], result.quarantine["check"], strict=True))
    assert checks == {"I1": "future_date", "I2": "currency_mismatch"}
    reasons = dict(zip(result.quarantine["source_id"], result.quarantine["reason"], strict=True))
    assert reasons["I2"].startswith("The invoice is in EUR (customer: USD);")
    assert reasons["I1"].startswith("The invoice is dated 2024-07-01, in the future;")
    # without customer currencies nothing is assumed
    assert validate("invoices", frames, known_ids=known, as_of=date(2024, 8, 1)).quarantine.empty


def test_reused_and_missing_invoice_numbers_are_quarantined_in_numeric_id_order():
    frames = invoice_frames(
        [invoice("132", number="INV-1"), invoice("60", number="inv-1 "), invoice("7", number=None),
         invoice("8", number="INV-1", status="draft"), invoice("9", number="INV-2")],
        [line(f"L{i}", i) for i in ("132", "60", "7", "8", "9")],
    )
    result = validate("invoices", frames, known_ids=KNOWN | {"customers": {"C1"}})
    q = result.quarantine.set_index("source_id")
    assert set(q.index) == {"132", "7"}  # '60' keeps INV-1 (60 < 132); the draft is not exported
    assert q.loc["132", "check"] == "number_reused" and "also on invoice 60" in q.loc["132", "reason"]
    assert q.loc["7", "check"] == "no_number" and "no number" in q.loc["7", "reason"]
    assert set(result.valid["invoices"]["id"]) == {"60", "8", "9"}


def test_invoice_discounts_that_cannot_apply_are_quarantined():
    frames = invoice_frames(
        [invoice("1", discount_amount=5.0, discount_percent=10), invoice("2", discount_amount=10.5),
         invoice("3", discount_amount=10.5, discount_after_tax=True)],
        [line("L1", "1"), line("L2", "2"), line("L3", "3", tax_amount=1.0)],
    )
    result = validate("invoices", frames, known_ids=KNOWN)
    checks = dict(zip(result.quarantine["source_id"], result.quarantine["check"], strict=True))
    assert checks == {"1": "two_discounts", "2": "discount_exceeds_total"}  # 3: 10.50 <= 10.00 + 1.00 tax


def test_shared_checks_keep_their_name_on_every_entity_whichever_is_validated_first():
    """The currency check (customers and every transaction) and the line arithmetic (invoice and
    sales receipt lines) live on shared bases; pandera used to keep a base check's ``name`` for the
    first entity validated in the process only, so the others got a "fails the check _currency"
    sentence instead of the bookkeeper's one."""
    day = {"date": "2024-03-05"}
    frames = {
        "customers": {"customers": make_frame("customers", [{"id": "C1", "display_name": "Ada", "currency": "usd"}])},
        "invoices": invoice_frames([invoice("I1", currency="usd")], [line("L1", "I1")]),
        "payments": {"payments": make_frame("payments", [{"id": "Y1", "customer_id": "C1", "amount": 5.0,
                                                          "currency": "usd", **day}]),
                     "payment_applications": make_frame("payment_applications", [])},
        "credits": {"credits": make_frame("credits", [{"id": "K1", "customer_id": "C1", "kind": "credit", "amount": 5,
                                                       "currency": "usd", **day}])},
        "refunds": {"refunds": make_frame("refunds", [{"id": "R1", "customer_id": "C1", "amount": 5,
                                                       "currency": "usd", **day}])},
        "journal_entries": {"journal_entries": make_frame("journal_entries", [{"id": "J1", "purpose": "adjustment",
                                                                               "currency": "usd", **day}]),
                            "journal_entry_lines": make_frame("journal_entry_lines", [])},
    }
    for entity, entity_frames in frames.items():
        q = validate(entity, entity_frames, known_ids=KNOWN).quarantine
        assert list(q["check"]) == ["currency_code"], entity
        assert list(q["reason"])[0].endswith("has the currency 'usd', which is not a three-letter ISO code such as USD."), entity

    receipts = {"sales_receipts": make_frame("sales_receipts", [{"id": "S1", **day}]),
                "sales_receipt_lines": make_frame("sales_receipt_lines", [
                    {"id": "S1-1", "receipt_id": "S1", "quantity": 2.0, "unit_price": 3.0, "amount": 7.0}])}
    lines = invoice_frames([invoice("I2")], [line("L2", "I2", quantity=2.0, unit_price=3.0, amount=7.0)])
    for entity, entity_frames in (("sales_receipts", receipts), ("invoices", lines)):
        q = validate(entity, entity_frames, known_ids=KNOWN).quarantine
        assert list(q["check"]) == ["amount_arithmetic"], entity
        assert "fails the check" not in q["reason"].iloc[0], entity
