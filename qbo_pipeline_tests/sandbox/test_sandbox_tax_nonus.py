"""The sandbox's non-US tax model (sandbox/tax.py, docs/tax.md).

Arithmetic is checked against numbers QBO itself produced or Intuit published, worked by hand:
a captured tax-inclusive Australian QBO invoice (10% GST, ``TaxInclusiveAmt`` gross and
``Amount`` net per line), Intuit's Canadian community answer on line-by-line rounding, and a
quickbooks-ruby thread's Canadian invoice. The HTTP tests drive Canadian and UK companies."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from qbo_pipeline.sandbox import arithmetic as A
from qbo_pipeline.sandbox import tax as T
from qbo_pipeline_tests.fixtures_sandbox import fault_code, sample_refs

D = Decimal
GST10 = A.TaxRateShare("3", "GST", D("10"))


# ---------------------------------------------------------------------- arithmetic, by hand
def test_tax_inclusive_lines_of_a_captured_qbo_invoice():
    # QBO AU invoice 2508 (TaxInclusive, 10%): TaxInclusiveAmt per line -> Amount (net) as QBO stored it
    gross = ["305.46", "3419.80", "87.50", "42.80", "54.12", "19.97", "21.98"]
    stored_net = ["277.69", "3108.91", "79.55", "38.91", "49.20", "18.15", "19.98"]
    lines = [T.TaxedLine(D(net), [GST10], D(g)) for g, net in zip(gross, stored_net, strict=True)]
    assert [T.inclusive_split(D(g), [D(10)])[0] for g in gross] == [D(n) for n in stored_net]
    result, per_line = T.compute(lines)
    assert result.total == D("359.24")  # QBO's TotalTax; 3592.39 x 10% would round to 359.24 too
    assert result.lines == [(GST10, D("359.24"), D("3592.39"))]  # TaxLine: Amount, NetAmountTaxable
    # the line that tells the rule: 87.50 gross -> 79.55 net, tax 7.95 (10% of the net would be 7.96)
    assert per_line[2] == D("7.95")
    # invoices 2753 and 2507: one line each
    assert T.inclusive_split(D("1301.30"), [D(10)]) == (D("1183.00"), [D("118.30")])
    assert T.inclusive_split(D("3594.61"), [D(10)]) == (D("3267.83"), [D("326.78")])


def test_tax_exclusive_lines_round_line_by_line():
    # Intuit's CA community answer: 29 lines of 1.59 and 2 of 17.49 at 12% -> 9.71 (81.09 x 12% = 9.73)
    rate = A.TaxRateShare("1", "12%", D("12"))
    lines = [T.TaxedLine(D("1.59"), [rate])] * 29 + [T.TaxedLine(D("17.49"), [rate])] * 2
    result, _ = T.compute(lines)
    assert result.total == D("9.71")
    # quickbooks-ruby #547 (a Canadian invoice, QBO's own computation shown in its UI): 4495.16 at 9.975%
    qst = A.TaxRateShare("21", "QST", D("9.975"))
    assert T.compute([T.TaxedLine(D("4495.16"), [qst])])[0].total == D("448.39")


def test_a_two_rate_code_taxes_each_rate_on_its_own():
    gst, pst = A.TaxRateShare("3", "GST", D(5)), A.TaxRateShare("5", "PST (BC)", D(7))
    # 17.49: GST 0.8745 -> 0.87, PST 1.2243 -> 1.22 (12% at once would be 2.0988 -> 2.10)
    result, per_line = T.compute([T.TaxedLine(D("17.49"), [gst, pst])])
    assert result.lines == [(gst, D("0.87"), D("17.49")), (pst, D("1.22"), D("17.49"))]
    assert per_line == [D("2.09")]
    # inclusive 112.00 at 5% + 7%: net 100.00, GST 5.00, PST the rest 7.00
    assert T.inclusive_split(D("112.00"), [D(5), D(7)]) == (D("100.00"), [D("5.00"), D("7.00")])


def test_a_total_tax_override_is_prorated_over_the_rates():
    gst, pst = A.TaxRateShare("3", "GST", D(5)), A.TaxRateShare("5", "PST (BC)", D(7))
    computed = A.TaxResult(D("12.00"), [(gst, D("5.00"), D("100")), (pst, D("7.00"), D("100"))])
    # 10.00 x 5/12 = 4.1667 -> 4.17, the last rate the rest 5.83
    assert T.reallocate(D("10.00"), computed).lines == [(gst, D("4.17"), D("100")), (pst, D("5.83"), D("100"))]


def test_countries():
    assert T.check_country("uk") == "GB" and T.check_country("ca") == "CA"
    with pytest.raises(ValueError, match="country must be one of"):
        T.check_country("FR")


# ---------------------------------------------------------------------- over HTTP
@pytest.fixture
def canada(sandbox_factory):
    return sandbox_factory(enforce_limits=False, country="CA")


def _codes(client: httpx.Client) -> dict[str, str]:
    rows = client.get("/query", params={"query": "select * from TaxCode"}).json()["QueryResponse"]["TaxCode"]
    return {row["Name"]: row["Id"] for row in rows}


def _invoice(client: httpx.Client, lines: list[tuple[str, str | None, dict]], **fields) -> httpx.Response:
    refs = sample_refs(client)
    customer = client.get("/query", params={"query": "select * from Customer maxresults 1"}).json()
    body = {"CustomerRef": {"value": customer["QueryResponse"]["Customer"][0]["Id"]}, "Line": [], **fields}
    for amount, code, extra in lines:
        detail = {"ItemRef": {"value": refs["Item"]["Services"]}, **extra}
        if code is not None:
            detail["TaxCodeRef"] = {"value": code}
        body["Line"].append({"DetailType": "SalesItemLineDetail", "Amount": amount, "SalesItemLineDetail": detail})
    return client.post("/invoice", json=body)


def _taxlines(invoice: dict) -> list[tuple[str, float, float]]:
    return [(line["TaxLineDetail"]["TaxRateRef"]["name"], line["Amount"], line["TaxLineDetail"]["NetAmountTaxable"])
            for line in invoice["TxnTaxDetail"].get("TaxLine", [])]


def test_a_canadian_company_and_its_tax_codes(canada):
    with canada.client() as client:
        info = client.get(f"/companyinfo/{canada.realm}").json()["CompanyInfo"]
        prefs = client.get("/preferences").json()["Preferences"]
        codes = _codes(client)
    assert info["Country"] == "CA"
    assert prefs["CurrencyPrefs"]["HomeCurrency"]["value"] == "CAD"
    assert {"GST", "HST ON", "GST/PST BC", "Zero-rated", "Exempt"} <= set(codes)
    assert not {"TAX", "NON"} & set(codes)


def test_every_line_is_taxed_by_its_own_code_and_rate(canada):
    with canada.client() as client:
        codes = _codes(client)
        answer = _invoice(client, [("100.00", codes["HST ON"], {}), ("59.99", codes["GST/PST BC"], {}),
                                   ("10.00", codes["Exempt"], {})])
    assert answer.status_code == 200, answer.text
    invoice = answer.json()["Invoice"]
    # 13.00; 59.99 x 5% = 2.9995 -> 3.00 and x 7% = 4.1993 -> 4.20; exempt 0
    assert _taxlines(invoice) == [("HST ON", 13.0, 100.0), ("GST", 3.0, 59.99), ("PST (BC)", 4.2, 59.99),
                                  ("Exempt", 0.0, 10.0)]
    assert invoice["TxnTaxDetail"]["TotalTax"] == 20.2
    assert invoice["TotalAmt"] == 190.19 and invoice["GlobalTaxCalculation"] == "TaxExcluded"


def test_a_line_without_a_real_tax_code_is_refused_as_qbo_does(canada):
    with canada.client() as client:
        missing = _invoice(client, [("5.00", None, {})])
        us_code = _invoice(client, [("5.00", "TAX", {})])
        bad_calc = _invoice(client, [("5.00", _codes(client)["GST"], {})], GlobalTaxCalculation="Sometimes")
        out_of_scope = _invoice(client, [("5.00", None, {})], GlobalTaxCalculation="NotApplicable")
    assert fault_code(missing) == "6000"
    assert missing.json()["Fault"]["Error"][0]["Detail"] == \
        "Business Validation Error: Make sure all your transactions have a GST/HST rate before you save."
    assert fault_code(us_code) == "2500"
    assert fault_code(bad_calc) == "2170"
    assert out_of_scope.status_code == 200 and out_of_scope.json()["Invoice"]["TxnTaxDetail"] == {"TotalTax": 0}


def test_tax_lines_and_total_tax_sent_are_honoured(canada):
    with canada.client() as client:
        codes = _codes(client)
        rates = {r["Name"]: r["Id"] for r in
                 client.get("/query", params={"query": "select * from TaxRate"}).json()["QueryResponse"]["TaxRate"]}
        hst = codes["HST ON"]
        # three lines of 0.33 at 13%: 0.04 each line by line (0.12); the source billed 0.13 on the subtotal
        by_line = _invoice(client, [("0.33", hst, {})] * 3, TxnTaxDetail={"TaxLine": [
            {"Amount": 0.13, "DetailType": "TaxLineDetail",
             "TaxLineDetail": {"TaxRateRef": {"value": rates["HST ON"]}, "PercentBased": True, "TaxPercent": 13,
                               "NetAmountTaxable": 0.99}}]}).json()["Invoice"]
        computed = _invoice(client, [("0.33", hst, {})] * 3).json()["Invoice"]
        total_only = _invoice(client, [("100.00", codes["GST/PST BC"], {})],
                              TxnTaxDetail={"TotalTax": 10.0}).json()["Invoice"]
        unknown_rate = _invoice(client, [("1.00", hst, {})], TxnTaxDetail={"TaxLine": [
            {"Amount": 0.13, "DetailType": "TaxLineDetail", "TaxLineDetail": {"TaxRateRef": {"value": "999"}}}]})
    assert computed["TxnTaxDetail"]["TotalTax"] == 0.12
    assert by_line["TxnTaxDetail"]["TotalTax"] == 0.13 and by_line["TotalAmt"] == 1.12
    assert _taxlines(total_only) == [("GST", 4.17, 100.0), ("PST (BC)", 5.83, 100.0)]
    assert total_only["TotalAmt"] == 110.0
    assert fault_code(unknown_rate) == "2500"


def test_a_uk_company_nets_tax_inclusive_amounts(sandbox_factory):
    uk = sandbox_factory(enforce_limits=False, country="GB")
    with uk.client() as client:
        codes = _codes(client)
        answer = _invoice(client, [("0", codes["20.0% S"], {"TaxInclusiveAmt": 87.5, "Qty": 1}),
                                   ("10.00", codes["5.0% R"], {})], GlobalTaxCalculation="TaxInclusive")
        missing = _invoice(client, [("5.00", None, {})])
    assert answer.status_code == 200, answer.text
    invoice = answer.json()["Invoice"]
    standard, reduced = [line for line in invoice["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    # 87.50 / 1.20 = 72.9166 -> 72.92 net, VAT 14.58; a line sent without TaxInclusiveAmt is net: 10.00 + 0.50
    assert standard["Amount"] == 72.92 and standard["SalesItemLineDetail"]["UnitPrice"] == 72.92
    assert standard["SalesItemLineDetail"]["TaxInclusiveAmt"] == 87.5
    assert reduced["Amount"] == 10.0 and reduced["SalesItemLineDetail"]["TaxInclusiveAmt"] == 10.5
    assert _taxlines(invoice) == [("20.0% S", 14.58, 72.92), ("5.0% R", 0.5, 10.0)]
    assert invoice["TotalAmt"] == 98.0
    assert missing.json()["Fault"]["Error"][0]["Detail"].endswith("have a VAT rate before you save.")


def test_companies_by_country_through_admin(sandbox_factory):
    sandbox = sandbox_factory(enforce_limits=False)
    created = sandbox.admin("POST", "companies", {"realm": "4620816365000000001", "country": "GB"})
    assert created["realm"] == "4620816365000000001"
    company = sandbox.state.companies["4620816365000000001"]
    assert T.country_of(company) == "GB"
    assert any(a["Name"] == "VAT Control" for a in company.table("Account").values())
    refused = httpx.post(f"{sandbox.url}/admin/companies", json={"country": "FR"}, timeout=10)
    assert refused.status_code == 400
    assert T.country_of(sandbox.state.companies[sandbox.realm]) == "US"  # the default company is unchanged


def test_the_tax_is_booked_to_the_editions_tax_liability(canada):
    with canada.client() as client:
        codes = _codes(client)
        answer = _invoice(client, [("100.00", codes["HST ON"], {}), ("59.99", codes["GST/PST BC"], {})],
                          TxnDate="2024-03-01")
        assert answer.status_code == 200, answer.text
        report = client.get("/reports/TrialBalance", params={"start_date": "2024-03-01",
                                                              "end_date": "2024-03-31"}).json()
    rows = {row["ColData"][0]["value"]: [c["value"] for c in row["ColData"][1:]]
            for row in report["Rows"]["Row"] if row.get("type") == "Data"}
    assert rows["GST/HST Payable"] == ["", "20.20"]  # 13.00 HST + 3.00 GST + 4.20 PST, credited
    assert rows["Accounts Receivable (A/R)"] == ["180.19", ""]


def test_expense_lines_of_a_canadian_company_get_no_us_code(canada):
    with canada.client() as client:
        refs = sample_refs(client)
        vendor = client.get("/query", params={"query": "select * from Vendor maxresults 1"}).json()
        answer = client.post("/bill", json={"VendorRef": {"value": vendor["QueryResponse"]["Vendor"][0]["Id"]}, "Line": [
            {"DetailType": "AccountBasedExpenseLineDetail", "Amount": 10.0,
             "AccountBasedExpenseLineDetail": {"AccountRef": {"value": refs["Account"]["Travel"]}}}]})
    assert answer.status_code == 200, answer.text
    (line,) = answer.json()["Bill"]["Line"]
    assert "TaxCodeRef" not in line["AccountBasedExpenseLineDetail"]
