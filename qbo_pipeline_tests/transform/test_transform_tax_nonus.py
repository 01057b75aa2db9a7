"""Non-US tax in the payloads: tax as billed per QBO rate, tax-inclusive source amounts, and the
totals the pipeline expects QBO to book. Expectations are worked by hand in the comments."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qbo_pipeline.config import ConfigError, load_config
from qbo_pipeline.export.ownership import payload_total
from qbo_pipeline.schemas.frames import make_frame
from qbo_pipeline.transform import build_payloads
from qbo_pipeline.transform.invoices import invoice_total_cents
from qbo_pipeline.transform.taxes import split_by_percent

CA = {"mode": "mapped", "map": {"HST": "HST ON", "BC": "GST/PST BC", "EX": "Exempt", "GST": "GST"},
      "rates": {"HST ON": {"HST ON": 13}, "GST/PST BC": {"GST": 5, "PST (BC)": 7}, "Exempt": {"Exempt": 0}}}
GB_INCLUSIVE = {"mode": "mapped", "map": {"S": "20.0% S", "R": "5.0% R"}, "global_calculation": "TaxInclusive",
                "rates": {"20.0% S": {"20.0% S": 20}, "5.0% R": {"5.0% R": 5}}}


def config(taxes: dict):
    return load_config(overrides={"taxes": taxes, "options": {"sync_start_date": "2020-01-01"}})


def build(invoices, lines, taxes):
    frames = {"invoices": make_frame("invoices", invoices), "invoice_lines": make_frame("invoice_lines", lines)}
    return build_payloads("invoices", frames, config(taxes))


def inv(sid, **fields):
    return {"id": sid, "number": f"N{sid}", "customer_id": "C1", "status": "sent", "issue_date": "2024-03-01",
            **fields}


def ln(sid, invoice_id, amount, **fields):
    return {"id": sid, "invoice_id": invoice_id, "line_no": int(sid[-1]), "quantity": 1, "unit_price": amount,
            "amount": amount, **fields}


def rate_lines(body):
    return [(line["TaxLineDetail"]["TaxRateRef"]["$ref"]["name"], line["Amount"],
             line["TaxLineDetail"]["TaxPercent"], line["TaxLineDetail"]["NetAmountTaxable"])
            for line in body["TxnTaxDetail"].get("TaxLine", [])]


def item_lines(body):
    return [line for line in body["Line"] if line["DetailType"] == "SalesItemLineDetail"]


def test_a_combined_code_splits_its_billed_tax_by_percent():
    assert split_by_percent(720, [5, 7]) == [300, 420]  # 7.20 x 5/12 = 3.00, the rest 4.20
    assert split_by_percent(1, [5, 7]) == [0, 1]  # 0.01 x 5/12 = 0.004 -> 0.00
    assert split_by_percent(1300, [13]) == [1300]
    assert split_by_percent(50, [0, 0]) == [0, 50]


def test_tax_as_billed_goes_out_per_qbo_rate_with_every_line_coded():
    result = build([inv("1")], [ln("L1", "1", 100.0, tax_code="HST", tax_amount=13.0),
                                ln("L2", "1", 59.99, tax_code="BC", tax_amount=7.2),
                                ln("L3", "1", 10.0, tax_code="EX", tax_amount=0.0)], CA)
    (payload,) = result.payloads
    body = payload.body
    assert body["GlobalTaxCalculation"] == "TaxExcluded"
    assert [line["SalesItemLineDetail"]["TaxCodeRef"]["$ref"]["name"] for line in item_lines(body)] == \
        ["HST ON", "GST/PST BC", "Exempt"]
    assert body["TxnTaxDetail"]["TotalTax"] == 20.2
    assert rate_lines(body) == [("HST ON", 13.0, 13, 100.0), ("GST", 3.0, 5, 59.99), ("PST (BC)", 4.2, 7, 59.99),
                                ("Exempt", 0.0, 0, 10.0)]
    assert payload_total(body) == Decimal("190.19")  # 169.99 + 20.20


def test_a_code_without_rates_or_an_invoice_level_tax_sends_the_total_only():
    (no_rates,) = build([inv("1")], [ln("L1", "1", 100.0, tax_code="GST", tax_amount=5.0)], CA).payloads
    assert no_rates.body["TxnTaxDetail"] == {"TotalTax": 5.0}
    (own,) = build([inv("1", tax_amount=13.0)], [ln("L1", "1", 100.0, tax_code="HST")], CA).payloads
    assert own.body["TxnTaxDetail"] == {"TotalTax": 13.0}


def test_an_unmapped_code_is_skipped_by_its_rule():
    result = build([inv("1"), inv("2")], [ln("L1", "1", 10.0, tax_code="QST", tax_amount=1.0),
                                          ln("L1", "2", 10.0, tax_code="HST", tax_amount=1.3)], CA)
    assert [p.source_id for p in result.payloads] == ["2"]
    assert list(result.skipped["rule"]) == ["unmapped_tax_code"]


def test_tax_inclusive_lines_go_net_of_their_billed_tax_and_the_total_is_the_gross():
    # 87.50 gross with 14.58 VAT -> 72.92 net; 2 x 10.50 gross with 1.00 VAT -> 20.00 net, Qty 2
    (payload,) = build([inv("1")], [ln("L1", "1", 87.5, tax_code="S", tax_amount=14.58),
                                    ln("L2", "1", 21.0, quantity=2, unit_price=10.5, tax_code="R", tax_amount=1.0)],
                       GB_INCLUSIVE).payloads
    body = payload.body
    assert body["GlobalTaxCalculation"] == "TaxInclusive"
    lines = item_lines(body)
    assert [line["Amount"] for line in lines] == [72.92, 20.0]
    assert [line["SalesItemLineDetail"].get("Qty") for line in lines] == [1.0, 2.0]
    assert all("UnitPrice" not in line["SalesItemLineDetail"] for line in lines)  # QBO derives the net price
    assert all("TaxInclusiveAmt" not in line["SalesItemLineDetail"] for line in lines)
    assert rate_lines(body) == [("20.0% S", 14.58, 20, 72.92), ("5.0% R", 1.0, 5, 20.0)]
    assert payload_total(body) == Decimal("108.50")  # the gross: 87.50 + 21.00


def test_an_invoice_level_tax_on_inclusive_amounts_is_spread_by_gross_to_net_the_lines():
    # 0.50 VAT over three 0.99 lines: 0.50 x 99/297 = 0.1667 -> 0.17, 0.17, the rest 0.16
    (payload,) = build([inv("1", tax_amount=0.5)], [ln("L1", "1", 0.99, tax_code="S"), ln("L2", "1", 0.99, tax_code="S"),
                                                    ln("L3", "1", 0.99, tax_code="S")], GB_INCLUSIVE).payloads
    body = payload.body
    assert [line["Amount"] for line in item_lines(body)] == [0.82, 0.82, 0.83]
    assert body["TxnTaxDetail"]["TotalTax"] == 0.5
    assert rate_lines(body) == [("20.0% S", 0.5, 20, 2.47)]
    assert payload_total(body) == Decimal("2.97")


def test_code_only_inclusive_lines_carry_the_gross_for_qbo_to_net():
    (payload,) = build([inv("1")], [ln("L1", "1", 87.5, tax_code="S")], GB_INCLUSIVE).payloads
    (line,) = item_lines(payload.body)
    assert line["SalesItemLineDetail"]["TaxInclusiveAmt"] == 87.5
    assert "TxnTaxDetail" not in payload.body


def test_aggregated_inclusive_lines_keep_the_gross_of_code_only_groups():
    taxes = {**GB_INCLUSIVE}
    cfg = load_config(overrides={"taxes": taxes, "options": {"sync_start_date": "2020-01-01", "aggregate_lines": True}})
    frames = {"invoices": make_frame("invoices", [inv("1")]),
              "invoice_lines": make_frame("invoice_lines", [ln("L1", "1", 12.0, tax_code="S"),
                                                            ln("L2", "1", 6.0, tax_code="S")])}
    (payload,) = build_payloads("invoices", frames, cfg).payloads
    (line,) = item_lines(payload.body)
    assert line["Amount"] == 18.0 and line["SalesItemLineDetail"]["TaxInclusiveAmt"] == 18.0


def test_source_totals_do_not_add_tax_twice_when_amounts_include_it():
    invoices = make_frame("invoices", [inv("1")])
    lines = make_frame("invoice_lines", [ln("L1", "1", 87.5, tax_code="S", tax_amount=14.58)])
    assert invoice_total_cents(invoices, lines)["1"] == 8750 + 1458
    assert invoice_total_cents(invoices, lines, inclusive=True)["1"] == 8750


def test_an_inclusive_percent_discount_before_tax_applies_to_the_net():
    # 120.00 gross with 20.00 VAT; 10% before tax is 10% of the 100.00 net = 10.00; total 110.00
    (payload,) = build([inv("1", discount_percent=10)], [ln("L1", "1", 120.0, tax_code="S", tax_amount=20.0)],
                       GB_INCLUSIVE).payloads
    (discount,) = [line for line in payload.body["Line"] if line["DetailType"] == "DiscountLineDetail"]
    assert discount["Amount"] == 10.0
    assert payload_total(payload.body) == Decimal("110.00")


def test_sales_receipts_with_inclusive_amounts_send_the_gross():
    frames = {"sales_receipts": make_frame("sales_receipts", [{"id": "R1", "customer_id": "C1", "date": "2024-03-01",
                                                               "number": "R-1"}]),
              "sales_receipt_lines": make_frame("sales_receipt_lines", [
                  {"id": "R1-1", "receipt_id": "R1", "line_no": 1, "quantity": 2, "unit_price": 10.5, "amount": 21.0,
                   "tax_code": "R"}])}
    (payload,) = build_payloads("sales_receipts", frames, config(GB_INCLUSIVE)).payloads
    (line,) = item_lines(payload.body)
    assert line["SalesItemLineDetail"]["TaxInclusiveAmt"] == 21.0
    assert line["SalesItemLineDetail"]["Qty"] == 2 and "UnitPrice" not in line["SalesItemLineDetail"]
    assert payload.body["GlobalTaxCalculation"] == "TaxInclusive"


@pytest.mark.parametrize("rates", [{"GST": {"GST": 150}}, {"GST": {}}])
def test_rates_must_be_percents(rates):
    with pytest.raises(ConfigError, match="taxes.rates"):
        load_config(overrides={"taxes": {"mode": "mapped", "map": {"G": "GST"}, "rates": rates}})


def test_a_line_taxed_at_another_rate_than_its_mapped_code_is_quarantined():
    from qbo_pipeline.schemas import validate

    lines = [ln("L1", "I1", 100.0, tax_code="HST", tax_rate=13, tax_amount=13.0),
             ln("L2", "I1", 59.99, tax_code="BC", tax_rate=12, tax_amount=7.2),
             ln("L1", "I2", 100.0, tax_code="GST", tax_rate=13, tax_amount=13.0),  # HST billed, mapped to GST
             ln("L1", "I3", 100.0, tax_code="HST", tax_amount=13.0)]  # no rate given: nothing to compare
    frames = {"invoices": make_frame("invoices", [inv("I1"), inv("I2"), inv("I3")]),
              "invoice_lines": make_frame("invoice_lines", [{**row, "id": f"{row['invoice_id']}-{row['id']}"}
                                                            for row in lines])}
    taxes = {**CA, "rates": {**CA["rates"], "GST": {"GST": 5}}}
    result = validate("invoices", frames, known_ids={"customers": {"C1"}}, config=config(taxes))
    assert list(result.quarantine["source_id"]) == ["I2"]
    assert result.quarantine["reason"].iloc[0].startswith("Line 1 was taxed at 13")
    assert "wrong rates" in result.quarantine["reason"].iloc[0]


def test_credits_and_refunds_without_a_default_code_are_skipped_by_rule_not_sent_to_fail():
    credit = {"id": "K1", "customer_id": "C1", "invoice_id": None, "kind": "credit", "date": "2024-03-01",
              "amount": 10.0}
    refund = {"id": "R1", "customer_id": "C1", "payment_id": None, "date": "2024-03-01", "amount": 10.0}
    for entity, table, row in (("credits", "credits", credit), ("refunds", "refunds", refund)):
        without = build_payloads(entity, {table: make_frame(table, [row])}, config(CA))
        assert without.payloads == [] and list(without.skipped["rule"]) == ["no_default_tax_code"]
        coded = build_payloads(entity, {table: make_frame(table, [row])}, config({**CA, "default_code": "Exempt"}))
        (line,) = coded.payloads[0].body["Line"]
        assert line["SalesItemLineDetail"]["TaxCodeRef"]["$ref"]["name"] == "Exempt"
