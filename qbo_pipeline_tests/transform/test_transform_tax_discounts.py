"""Tax as billed and invoice-level discounts: QBO books exactly the source's tax and total."""

from __future__ import annotations

from decimal import Decimal

from qbo_pipeline.config import load_config
from qbo_pipeline.export.ownership import payload_total
from qbo_pipeline.schemas.frames import make_frame
from qbo_pipeline.transform import build_payloads

CONFIG = load_config()


def build(invoices, lines, config=CONFIG):
    frames = {"invoices": make_frame("invoices", invoices), "invoice_lines": make_frame("invoice_lines", lines)}
    return build_payloads("invoices", frames, config).payloads


def inv(sid, **fields):
    return {"id": sid, "number": f"N{sid}", "customer_id": "C1", "status": "sent", "issue_date": "2024-03-01",
            **fields}


def ln(sid, invoice_id, amount, **fields):
    return {"id": sid, "invoice_id": invoice_id, "line_no": int(sid[-1]), "quantity": 1, "unit_price": amount,
            "amount": amount, **fields}


def test_line_taxes_are_booked_as_billed_and_taxability_follows_them():
    (payload,) = build([inv("1")], [ln("L1", "1", 100.0, tax_amount=19.0, tax_rate=19),
                                    ln("L2", "1", 50.0, tax_amount=0.0, tax_code="TAX")])
    body = payload.body
    assert body["TxnTaxDetail"] == {"TotalTax": 19.0}
    codes = [line["SalesItemLineDetail"]["TaxCodeRef"]["$ref"]["name"] for line in body["Line"]]
    assert codes == ["TAX", "NON"]
    assert payload_total(body) == Decimal("169.00")


def test_invoice_level_tax_and_code_only_mode():
    taxed, plain = build([inv("1", tax_amount=7.7, tax_rate=7.7), inv("2")],
                         [ln("L1", "1", 100.0), ln("L2", "2", 100.0, tax_code="TAX")])
    assert taxed.body["TxnTaxDetail"] == {"TotalTax": 7.7}
    assert "TxnTaxDetail" not in plain.body  # no amounts in the source: QBO applies the codes


def test_discount_percent_after_tax_is_sent_as_the_amount_the_source_computed():
    # 200.00 + 10% tax = 220.00; 5% of it after tax = 11.00; total 209.00
    (payload,) = build([inv("1", discount_percent=5, discount_after_tax=True)],
                       [ln("L1", "1", 200.0, tax_amount=20.0)])
    body = payload.body
    (discount,) = [line for line in body["Line"] if line["DetailType"] == "DiscountLineDetail"]
    assert discount["Amount"] == 11.0 and discount["DiscountLineDetail"]["PercentBased"] is False
    assert body["ApplyTaxAfterDiscount"] is False
    assert payload_total(body) == Decimal("209.00")


def test_discount_amount_before_tax_adds_to_line_discounts_in_one_discount_line():
    (payload,) = build([inv("1", discount_amount=12.5)], [ln("L1", "1", 100.0, discount=2.5, tax_amount=8.5)])
    body = payload.body
    (discount,) = [line for line in body["Line"] if line["DetailType"] == "DiscountLineDetail"]
    assert discount["Amount"] == 15.0 and body["ApplyTaxAfterDiscount"] is True
    assert payload_total(body) == Decimal("93.50")


def test_a_half_cent_percent_discount_rounds_half_up():
    (payload,) = build([inv("1", discount_percent=2.5)], [ln("L1", "1", 10.1)])  # 0.2525 -> 0.25
    (discount,) = [line for line in payload.body["Line"] if line["DetailType"] == "DiscountLineDetail"]
    assert discount["Amount"] == 0.25
    (payload,) = build([inv("1", discount_percent=50)], [ln("L1", "1", 0.05)])  # 0.025 -> 0.03
    (discount,) = [line for line in payload.body["Line"] if line["DetailType"] == "DiscountLineDetail"]
    assert discount["Amount"] == 0.03


def test_a_credit_invoice_becomes_a_credit_memo_with_its_number_lines_tax_and_application():
    payloads = build([inv("1"), inv("2", kind="credit_note", number="CN-1", credited_invoice_id="1",
                                    due_date="2024-04-01")],
                     [ln("L1", "1", 100.0, tax_amount=10.0),
                      ln("L1", "2", 40.0, tax_amount=4.0), ln("L2", "2", 10.0)])
    invoice, note, application = payloads
    assert (invoice.entity, note.entity, application.entity) == ("Invoice", "CreditMemo", "Payment")
    body = note.body
    assert body["DocNumber"] == "CN-1" and "DueDate" not in body and len(body["Line"]) == 2
    assert body["TxnTaxDetail"] == {"TotalTax": 4.0} and body["PrivateNote"].endswith("[qbo-pipeline CreditMemo 2]")
    assert payload_total(body) == Decimal("54.00")
    assert application.source_id == "apply_note:2" and application.body["TotalAmt"] == 0.0
    assert [line["Amount"] for line in application.body["Line"]] == [54.0, 54.0]
