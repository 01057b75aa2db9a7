"""Non-US tax end to end: a Canadian and a UK company in the HTTP sandbox, a billing source with
several rates (a rate per line, a two-rate code, exempt and zero-rated lines, tax-inclusive
prices, an invoice-level tax), exported through the stage API and read back over the QBO API.
Every invoice's TotalAmt and TotalTax must equal the source's to the cent, and its TaxLines the
tax billed per rate."""

from __future__ import annotations

import random
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from qbo_pipeline.config import load_config
from qbo_pipeline.export.engine import ExportEngine
from qbo_pipeline.source import model
from qbo_pipeline.source.demo import _Builder, _write
from qbo_pipeline.stages import CompanySession, SyncMode, SyncRequest, sync_company
from qbo_pipeline_tests.export.export_helpers import connected_company

STAMP = datetime(2026, 1, 5, 9)
CA_TAXES = {
    "mode": "mapped",
    "map": {"HST13": "HST ON", "GST5": "GST", "BC12": "GST/PST BC", "ZR": "Zero-rated", "EX": "Exempt"},
    "rates": {"HST ON": {"HST ON": 13}, "GST": {"GST": 5}, "GST/PST BC": {"GST": 5, "PST (BC)": 7},
              "Zero-rated": {"Zero-rated": 0}, "Exempt": {"Exempt": 0}},
    "global_calculation": "TaxExcluded",
}
GB_TAXES = {
    "mode": "mapped",
    "map": {"S": "20.0% S", "R": "5.0% R", "Z": "0.0% Z"},
    "rates": {"20.0% S": {"20.0% S": 20}, "5.0% R": {"5.0% R": 5}, "0.0% Z": {"0.0% Z": 0}},
    "global_calculation": "TaxInclusive",
}


def _source(path: Path, currency: str, invoices: list[tuple[list[dict], dict]]) -> tuple[str, dict[str, dict]]:
    """A source with one customer and product; ``invoices``: (lines, invoice fields). Returns the URL
    and, per invoice id, what the billing system shows: total and tax in cents."""
    b = _Builder(random.Random(3), date(2026, 6, 1))
    customer = b.customer(currency=currency, bill_country=currency[:2], updated_at=STAMP)
    product = {"id": b.product("Consulting", "service", 100.0, updated_at=STAMP), "description": "Consulting",
               "unit_price": 100.0, "taxable": True}
    expected = {}
    for number, (lines, fields) in enumerate(invoices, start=1):
        iid = b.invoice(customer, [product], issue_date=date(2026, 3, number), currency=currency, updated_at=STAMP,
                        lines=[{"product_id": product["id"], **{k: v for k, v in line.items() if k != "tax_amount"}}
                               for line in lines], tax_amount=fields.get("tax_amount"))
        rows = [r for r in b.rows["invoice_lines"] if r["invoice_id"] == iid]
        for row, line in zip(rows, lines, strict=True):
            row["tax_amount"] = line.get("tax_amount")
            row["tax_rate"] = line.get("tax_rate")
        gross = sum(round(row["amount"] * 100) for row in rows)
        tax = sum(round((line.get("tax_amount") or 0) * 100) for line in lines) + round((fields.get("tax_amount") or 0) * 100)
        expected[iid] = {"tax": tax, "lines": rows}
        expected[iid]["gross"] = gross
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    try:
        _write(engine, b.rows)
    finally:
        engine.dispose()
    return url, expected


def _mapping(tmp_path: Path) -> str:
    """A YAML mapping of the canonical billing tables onto themselves, tax columns included, as a
    user maps their own tables (the built-in identity mapping reads them too where they exist)."""
    entities = {name: {"table": name,
                       "columns": {str(column): str(column) for column in model.ENTITIES[name].columns}}
                for name in ("customers", "products", "invoices", "invoice_lines")}
    path = tmp_path / "billing.yaml"
    path.write_text(yaml.safe_dump({"name": "billing_with_tax", "entities": entities}))
    return str(path)


def _session(sandbox: Any, tmp_path: Path, source_url: str, currency: str, taxes: dict) -> CompanySession:
    connected = connected_company(sandbox, tmp_path)
    config = load_config(overrides={
        "source": {"url": source_url, "mapping": _mapping(tmp_path)},
        "ledger": {"url": connected.ledger.url},
        "companies": [{"key": "demo", "environment": "local", "base_url": sandbox.url}],
        "options": {"sync_start_date": "2020-01-01", "home_currency": currency},
        "taxes": taxes,
    })
    engine = ExportEngine(connected.client, connected.ledger, config, "demo")
    return CompanySession(config, "demo", connected.ledger, connected.vault, connected.client, engine)


def _invoices_in_qbo(session: CompanySession) -> dict[str, dict]:
    """QBO's invoices by source id (through the ledger's links)."""
    by_qbo = {r["Id"]: r for r in session.client.query_all("Invoice", None)}
    out = {}
    for qbo_id, record in by_qbo.items():
        if int(qbo_id) < 1000:
            continue  # the sample company's own
        marker = record.get("PrivateNote") or ""
        sid = marker.rsplit("Invoice ", 1)[-1].rstrip("]")
        out[sid] = record
    return out


def _cents(value: Any) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


def _rate_taxes(record: dict) -> dict[str, tuple[int, int]]:
    return {line["TaxLineDetail"]["TaxRateRef"]["name"]: (_cents(line["Amount"]),
                                                           _cents(line["TaxLineDetail"]["NetAmountTaxable"]))
            for line in record["TxnTaxDetail"].get("TaxLine", [])}


def test_a_canadian_company_books_tax_as_billed_per_rate(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(enforce_limits=False, country="CA")
    invoices = [
        # a rate per line: HST ON, GST, the two-rate BC code, zero-rated and exempt lines
        ([{"quantity": 2, "unit_price": 50.0, "tax_code": "HST13", "tax_amount": 13.0, "tax_rate": 13},
          {"quantity": 1, "unit_price": 59.99, "tax_code": "GST5", "tax_amount": 3.0, "tax_rate": 5},
          {"quantity": 1, "unit_price": 59.99, "tax_code": "BC12", "tax_amount": 7.2, "tax_rate": 12},
          {"quantity": 3, "unit_price": 4.99, "tax_code": "ZR", "tax_amount": 0.0, "tax_rate": 0},
          {"quantity": 1, "unit_price": 10.0, "tax_code": "EX", "tax_amount": 0.0}], {}),
        # the source taxed the subtotal (95.40 x 15% would be 14.31; here 13% of 0.33 x 3 lines):
        # 3 lines of 0.33 at 13% are 0.04 each line by line (0.12) but the source billed 0.13
        ([{"quantity": 1, "unit_price": 0.33, "tax_code": "HST13", "tax_amount": 0.05, "tax_rate": 13},
          {"quantity": 1, "unit_price": 0.33, "tax_code": "HST13", "tax_amount": 0.04, "tax_rate": 13},
          {"quantity": 1, "unit_price": 0.33, "tax_code": "HST13", "tax_amount": 0.04, "tax_rate": 13}], {}),
        # code only: no tax amounts, QBO computes (5% of 19.99 = 1.00, 13% of 19.99 = 2.60)
        ([{"quantity": 1, "unit_price": 19.99, "tax_code": "GST5"},
          {"quantity": 1, "unit_price": 19.99, "tax_code": "HST13"}], {}),
        # invoice-level tax only: sent as TotalTax, QBO prorates it over the rates
        ([{"quantity": 1, "unit_price": 200.0, "tax_code": "HST13"}], {"tax_amount": 26.0}),
        # a source code with no entry in taxes.map: quarantined with the reason, never guessed
        ([{"quantity": 1, "unit_price": 10.0, "tax_code": "QST", "tax_amount": 1.0, "tax_rate": 9.975}], {}),
    ]
    url, expected = _source(tmp_path / "ca.db", "CAD", invoices)
    unmapped = sorted(expected)[-1]
    del expected[unmapped]
    session = _session(sandbox, tmp_path, url, "CAD", CA_TAXES)

    result = sync_company(session.config, SyncRequest("demo", SyncMode.FULL), session)

    totals = result.totals()
    assert (totals["failed"], totals["blocked"], totals["quarantined"]) == (0, 0, 1)
    held = [row["reason"] for row in session.ledger.quarantined(company="demo") if row["kind"] == "row"]
    assert len(held) == 1 and "'QST', which has no entry in taxes.map" in held[0], held
    booked = _invoices_in_qbo(session)
    assert set(booked) == set(expected)
    ids = sorted(expected)
    code_only = ids[2]
    for sid in ids:
        record, source = booked[sid], expected[sid]
        assert record["GlobalTaxCalculation"] == "TaxExcluded"
        if sid == code_only:
            # QBO's own tax, line by line: 1.00 + 2.60
            assert _cents(record["TxnTaxDetail"]["TotalTax"]) == 360
            assert _cents(record["TotalAmt"]) == source["gross"] + 360
            continue
        assert _cents(record["TxnTaxDetail"]["TotalTax"]) == source["tax"], sid
        assert _cents(record["TotalAmt"]) == source["gross"] + source["tax"], sid
        assert _cents(record["Balance"]) == source["gross"] + source["tax"], sid
    first = booked[ids[0]]
    assert _rate_taxes(first) == {"HST ON": (1300, 10000), "GST": (300 + 300, 5999 + 5999),
                                  "PST (BC)": (420, 5999), "Zero-rated": (0, 1497), "Exempt": (0, 1000)}
    codes = [line["SalesItemLineDetail"]["TaxCodeRef"]["name"] for line in first["Line"]
             if line["DetailType"] == "SalesItemLineDetail"]
    assert codes == ["HST ON", "GST", "GST/PST BC", "Zero-rated", "Exempt"]
    assert _rate_taxes(booked[ids[1]]) == {"HST ON": (13, 99)}
    assert _rate_taxes(booked[ids[3]]) == {"HST ON": (2600, 20000)}


def test_a_uk_company_with_tax_inclusive_prices_books_the_gross_to_the_penny(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(enforce_limits=False, country="GB")
    invoices = [
        # gross 87.50 at 20%: the billing system's VAT 14.58, net 72.92; gross 2 x 10.50 at 5%: VAT 1.00
        ([{"quantity": 1, "unit_price": 87.5, "tax_code": "S", "tax_amount": 14.58, "tax_rate": 20},
          {"quantity": 2, "unit_price": 10.5, "tax_code": "R", "tax_amount": 1.0, "tax_rate": 5},
          {"quantity": 1, "unit_price": 3.0, "tax_code": "Z", "tax_amount": 0.0, "tax_rate": 0}], {}),
        # VAT on the invoice as a whole (the source rounds the total's VAT once: 3 x 0.99 gross)
        ([{"quantity": 1, "unit_price": 0.99, "tax_code": "S"}, {"quantity": 1, "unit_price": 0.99, "tax_code": "S"},
          {"quantity": 1, "unit_price": 0.99, "tax_code": "S"}], {"tax_amount": 0.5}),
        # code only: QBO takes the gross (TaxInclusiveAmt) and works out net and VAT itself
        ([{"quantity": 1, "unit_price": 87.5, "tax_code": "S"}], {}),
    ]
    url, expected = _source(tmp_path / "gb.db", "GBP", invoices)
    session = _session(sandbox, tmp_path, url, "GBP", GB_TAXES)

    result = sync_company(session.config, SyncRequest("demo", SyncMode.FULL), session)

    totals = result.totals()
    assert (totals["failed"], totals["blocked"], totals["quarantined"]) == (0, 0, 0)
    booked = _invoices_in_qbo(session)
    ids = sorted(expected)
    for sid in ids:
        record, source = booked[sid], expected[sid]
        assert record["GlobalTaxCalculation"] == "TaxInclusive"
        assert _cents(record["TotalAmt"]) == source["gross"], sid  # prices include VAT: the total is the gross
        gross_lines = [_cents(line["SalesItemLineDetail"]["TaxInclusiveAmt"]) for line in record["Line"]
                       if line["DetailType"] == "SalesItemLineDetail"]
        net_lines = [_cents(line["Amount"]) for line in record["Line"] if line["DetailType"] == "SalesItemLineDetail"]
        assert sum(net_lines) + _cents(record["TxnTaxDetail"]["TotalTax"]) == source["gross"]
        if sid != ids[2]:
            assert _cents(record["TxnTaxDetail"]["TotalTax"]) == source["tax"], sid
        if sid != ids[1]:  # lines sent net with their billed tax, or gross: QBO's gross per line is the source's
            assert gross_lines == [round(row["amount"] * 100) for row in source["lines"]], sid
    assert _rate_taxes(booked[ids[0]]) == {"20.0% S": (1458, 7292), "5.0% R": (100, 2000), "0.0% Z": (0, 300)}
    # the code-only line: QBO's rule, net = 87.50 / 1.20 = 72.916.. -> 72.92, VAT 14.58
    code_only = booked[ids[2]]
    assert _cents(code_only["TxnTaxDetail"]["TotalTax"]) == 1458
    assert [_cents(line["Amount"]) for line in code_only["Line"] if line["DetailType"] == "SalesItemLineDetail"] == [7292]


def test_the_run_path_exports_a_canadian_company_to_the_cent(sandbox_factory, tmp_path, monkeypatch):
    """What ``qbo-pipeline run`` does (runner.export_once: a Dagster run in a temporary DAGSTER_HOME),
    then a second full run that finds nothing to change."""
    from qbo_pipeline.runner import connect_headless_if_needed, export_once

    sandbox = sandbox_factory(enforce_limits=False, country="CA")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(Path(__file__).resolve().parents[2] / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("QBO_PIPELINE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("QBO_CLIENT_SECRET", "local-client-secret")
    url, expected = _source(tmp_path / "ca.db", "CAD", [
        ([{"quantity": 2, "unit_price": 50.0, "tax_code": "HST13", "tax_amount": 13.0, "tax_rate": 13},
          {"quantity": 1, "unit_price": 59.99, "tax_code": "BC12", "tax_amount": 7.2, "tax_rate": 12},
          {"quantity": 1, "unit_price": 10.0, "tax_code": "EX", "tax_amount": 0.0}], {}),
        ([{"quantity": 3, "unit_price": 0.33, "tax_code": "HST13", "tax_amount": 0.13, "tax_rate": 13}], {}),
    ])
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({
        "source": {"url": url, "mapping": _mapping(tmp_path)}, "ledger": {"url": f"sqlite:///{tmp_path}/ledger.db"},
        "companies": [{"key": "canada", "environment": "local", "base_url": sandbox.url}],
        "options": {"sync_start_date": "2020-01-01", "home_currency": "CAD"}, "taxes": CA_TAXES}))
    monkeypatch.setenv("QBO_PIPELINE_CONFIG", str(path))
    config = load_config(path)
    connect_headless_if_needed(config, "canada")

    first = export_once(config, "canada")
    again = export_once(config, "canada", full=True)

    assert first.status == "SUCCESS", first.error
    invoices = first.report["entities"]["invoices"]
    assert (invoices["created"], invoices["failed"], invoices["quarantined"]) == (2, 0, 0)
    assert again.status == "SUCCESS" and again.report["entities"]["invoices"]["unchanged"] == 2
    with sandbox.client() as client:
        rows = client.get("/query", params={"query": "select * from Invoice"}).json()["QueryResponse"]["Invoice"]
    booked = {r["PrivateNote"].rsplit("Invoice ", 1)[-1].rstrip("]"): r for r in rows if int(r["Id"]) >= 1000}
    for sid, source in expected.items():
        assert _cents(booked[sid]["TxnTaxDetail"]["TotalTax"]) == source["tax"]
        assert _cents(booked[sid]["TotalAmt"]) == source["gross"] + source["tax"]
    assert _rate_taxes(booked[sorted(expected)[0]]) == {"HST ON": (1300, 10000), "GST": (300, 5999),
                                                        "PST (BC)": (420, 5999), "Exempt": (0, 1000)}
