"""Declarative mappings: the two shipped foreign schemas, and mistakes reported at load time."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from qbo_pipeline.source import model
from qbo_pipeline.source.examples import build_hosting_billing_db, build_web_shop_db
from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline.source.mapping import MAPPINGS_DIR, MappingError, example_mappings, load_mapping


def test_shipped_examples_are_listed_and_load_without_a_database():
    assert {"hosting_billing", "web_shop"} <= set(example_mappings())
    for name in ("hosting_billing", "web_shop"):
        mapping = load_mapping(f"example:{name}")
        assert mapping.name == name and {"customers", "invoices", "invoice_lines", "payments"} <= set(mapping.entities)
    assert set(load_mapping("canonical").entities) == set(model.ENTITIES)


def test_hosting_billing_maps_onto_valid_canonical_rows(empty_db_url):
    build_hosting_billing_db(empty_db_url)
    reader = SourceReader(empty_db_url, "example:hosting_billing")
    load_mapping("example:hosting_billing", reader.engine)  # checked against the database
    customers = reader.read("customers").set_index("id")
    assert list(customers.index) == ["1", "2", "3", "4", "5"]
    assert customers.loc["2", "display_name"] is None and customers.loc["2", "given_name"] == "Grace"
    assert customers.loc["4", "company_name"] == "Bäckerei Müller GmbH"
    assert list(customers.active) == [True, True, False, True, False] and customers.loc["5", "deleted"]
    invoices = reader.read("invoices").set_index("id")
    assert invoices.loc["104", "status"] == "void" and invoices.loc["105", "status"] == "draft"
    assert invoices.loc["101", "issue_date"] == pd.Timestamp("2026-01-12") and invoices.currency.eq("USD").all()
    lines = reader.read("invoice_lines")
    free_text = lines[lines.product_id.isna()]
    assert len(free_text) == 2 and free_text.name.eq("Setup fee (one-off)").all()
    assert set(lines.tax_code) == {"TAX", "NON"} and lines.quantity.eq(1.0).all()
    assert set(lines.invoice_id) <= set(invoices.index) and set(lines.product_id.dropna()) <= {"1", "2"}
    payments, apps = reader.read("payments"), reader.read("payment_applications")
    assert len(payments) == 4 and list(apps.payment_id) == list(payments.id)
    totals = lines.groupby("invoice_id").amount.sum()
    assert all(abs(totals[a.invoice_id] - a.amount) < 0.005 for a in apps.itertuples())
    refunds = reader.read("refunds")
    assert len(refunds) == 1 and refunds.amount.iloc[0] == 2.95 and refunds.date.iloc[0] == pd.Timestamp("2026-02-01")
    assert reader.read("credits").empty
    assert reader.watermark("invoices") == datetime(2026, 3, 9, 9, 0)
    window = reader.read("invoices", window=(date(2026, 1, 1), date(2026, 2, 1)))
    assert list(window.id) == ["101", "102", "103"]
    assert list(reader.read("invoice_lines", ids=["103"]).line_no) == [1, 2]
    assert set(reader.read("invoices", since=datetime(2026, 3, 8, 9, 0)).id) == {"107", "108"}


def test_web_shop_maps_onto_valid_canonical_rows(empty_db_url):
    build_web_shop_db(empty_db_url)
    reader = SourceReader(empty_db_url, "example:web_shop")
    customers = reader.read("customers")
    jane = customers[customers.given_name == "Jane"]
    assert len(jane) == 2 and jane.email.nunique() == 2, "same-name customers stay apart by email"
    products = reader.read("products").set_index("id")
    assert products.loc["1", "type"] == "inventory" and products.loc["1", "qty_on_hand"] == 120.0
    assert products.loc["3", "type"] == "service" and not products.loc["3", "taxable"]
    assert products.loc["2", "taxable"] and products.loc["3", "cost"] != products.loc["3", "cost"]  # NaN cost
    invoices = reader.read("invoices").set_index("id")
    assert invoices.loc["5004", "status"] == "draft" and invoices.loc["5005", "status"] == "void"
    assert invoices.loc["5001", "issue_date"] == pd.Timestamp("2026-01-09")  # a datetime read as its date
    lines = reader.read("invoice_lines")
    for _, group in lines.groupby("invoice_id"):  # numbered per order, as the source has no line numbers
        assert list(group.line_no) == list(range(1, len(group) + 1))
    assert (lines.amount - lines.quantity * lines.unit_price).abs().max() < 1e-9
    assert (lines.discount > 0).any()
    payments, apps = reader.read("payments"), reader.read("payment_applications")
    assert set(payments.id) == {"5001", "5002", "5006", "5007", "5008"} and set(apps.invoice_id) == set(payments.id)
    order_totals = (lines.amount - lines.discount).groupby(lines.invoice_id).sum()
    for payment in payments.itertuples():
        assert abs(order_totals[payment.id] - payment.amount) < 0.01
    refunds = reader.read("refunds")
    assert list(refunds.payment_id) == ["5007"]
    assert reader.changed_dates("invoices", datetime(2026, 3, 8, 9, 0)) == [date(2026, 2, 14), date(2026, 2, 20)]


# --- mistakes --------------------------------------------------------------------------------

def _write(tmp_path: Path, data: dict | str) -> str:
    path = tmp_path / "mine.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def _hosting_variant(**entity_changes) -> dict:
    data = yaml.safe_load((MAPPINGS_DIR / "hosting_billing.yaml").read_text())
    for entity, change in entity_changes.items():
        data["entities"][entity].update(change)
    return data


@pytest.fixture
def hosting_db(tmp_path) -> sa.Engine:
    url = f"sqlite:///{tmp_path / 'hosting.db'}"
    build_hosting_billing_db(url)
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def test_unknown_table_names_file_entity_and_table(tmp_path, hosting_db):
    path = _write(tmp_path, _hosting_variant(products={"table": "tblproduct"}))
    with pytest.raises(MappingError, match=r"mine\.yaml: entity 'products': table 'tblproduct' not found") as err:
        load_mapping(path, hosting_db)
    assert "tblproducts" in str(err.value), "the message lists the tables that do exist"


def test_unknown_column_names_file_entity_and_column(tmp_path, hosting_db):
    data = _hosting_variant()
    data["entities"]["customers"]["columns"]["email"] = "email_address"
    with pytest.raises(MappingError, match=r"mine\.yaml: entity 'customers', column 'email': "
                                           r"source column 'email_address' not found in table 'tblclients'"):
        load_mapping(_write(tmp_path, data), hosting_db)


def test_wrong_type_names_the_column_and_the_types(tmp_path, hosting_db):
    data = _hosting_variant()
    data["entities"]["products"]["columns"]["unit_price"] = "name"
    with pytest.raises(MappingError, match=r"entity 'products', column 'unit_price': source column 'name' "
                                           r"has type VARCHAR\(200\) which cannot hold a number"):
        load_mapping(_write(tmp_path, data), hosting_db)


def test_text_mapped_onto_a_timestamp_is_refused_on_postgres(tmp_path, postgres_db_url):
    empty_db_url = postgres_db_url
    build_hosting_billing_db(empty_db_url)
    data = _hosting_variant(customers={"watermark": "email"})
    engine = sa.create_engine(empty_db_url)
    with pytest.raises(MappingError, match=r"entity 'customers', column 'updated_at': source column 'email' "
                                           r"has type VARCHAR\(200\) which cannot hold a datetime"):
        load_mapping(_write(tmp_path, data), engine)
    engine.dispose()


def test_failing_sql_expression_and_query_are_named(tmp_path, hosting_db):
    data = _hosting_variant()
    data["entities"]["customers"]["columns"]["display_name"] = {"sql": "NULLIF(company, '')"}
    with pytest.raises(MappingError, match=r"entity 'customers', column 'display_name': the SQL expression"):
        load_mapping(_write(tmp_path, data), hosting_db)
    data = _hosting_variant(payments={"query": "SELECT * FROM tblpayments"})
    with pytest.raises(MappingError, match=r"entity 'payments': the query fails"):
        load_mapping(_write(tmp_path, data), hosting_db)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"orders": {"table": "x", "columns": {"id": "id"}}}, r"entity 'orders': unknown entity"),
        ({"customers": {"table": "t", "columns": {"id": "id", "nickname": "n"}, "watermark": "u"}},
         r"entity 'customers', column 'nickname': not a canonical column"),
        ({"customers": {"table": "t", "columns": {"id": "id"}}}, r"entity 'customers', column 'updated_at': required"),
        ({"invoice_lines": {"table": "t", "columns": {"id": "id"}, "watermark": "u"}},
         r"entity 'invoice_lines', column 'invoice_id': required"),
        ({"customers": {"table": "t", "query": "select 1", "columns": {"id": "id"}}}, r"entity 'customers': give exactly one of `table`"),
        ({"customers": {"table": "t", "columns": {"id": {"sql": ""}}, "watermark": "u"}},
         r"entity 'customers', column 'id': expected a source column name"),
        ({"customers": {"table": "t", "colums": {}}}, r"entity 'customers': unknown key\(s\) \['colums'\]"),
    ],
)
def test_structure_mistakes_are_reported_without_a_database(tmp_path, change, message):
    path = _write(tmp_path, {"name": "mine", "entities": change})
    with pytest.raises(MappingError, match=r"mine\.yaml: " + message):
        load_mapping(path)


def test_unusable_files_are_reported(tmp_path):
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(_write(tmp_path, "entities: [unclosed"))
    with pytest.raises(MappingError, match="mapping file not found"):
        load_mapping(str(tmp_path / "absent.yaml"))
    with pytest.raises(MappingError, match="no such example mapping"):
        load_mapping("example:erp9000")
    with pytest.raises(MappingError, match="top-level `entities:`"):
        load_mapping(_write(tmp_path, {"name": "x"}))
    with pytest.raises(MappingError, match=r"'invoice_lines' is mapped but its parent 'invoices' is not"):
        load_mapping(_write(tmp_path, {"entities": {"invoice_lines": {
            "table": "t", "watermark": "u", "columns": {"id": "id", "invoice_id": "i"}}}}))
