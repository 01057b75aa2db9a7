"""Declared value formats: dates kept as text and value lists are read as declared, never guessed."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from qbo_pipeline.schemas import validate
from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline.source.mapping import MappingError, parse_mapping


def build(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE clients (id INTEGER, name TEXT, state TEXT, changed TEXT)")
        conn.exec_driver_sql("CREATE TABLE bills (id INTEGER, client INTEGER, num TEXT, status INTEGER, "
                             "billed TEXT, changed TEXT)")
        conn.exec_driver_sql("INSERT INTO clients VALUES (1, 'Alpha', 'Active', '2024-05-01 10:00:00'), "
                             "(2, 'Beta', 'inactive ', '2024-05-01 10:00:00'), (3, 'Gamma', 'Paused', "
                             "'2024-05-01 10:00:00')")
        conn.exec_driver_sql("INSERT INTO bills VALUES (10, 1, 'B-10', 2, '05.03.2024', '2024-05-01 10:00:00'), "
                             "(11, 1, 'B-11', 3, '31.02.2024', '2024-05-01 10:00:00'), "
                             "(12, 1, 'B-12', 9, '13.12.2024', '2024-05-01 10:00:00'), "
                             "(13, 1, 'B-13', 2, '2024-03-05', '2024-05-01 10:00:00')")
    engine.dispose()


MAPPING = {
    "entities": {
        "customers": {"table": "clients", "watermark": "changed", "columns": {
            "id": "id", "display_name": "name",
            "active": {"column": "state", "values": {"Active": True, "Inactive": False}}}},
        "invoices": {"table": "bills", "watermark": "changed", "columns": {
            "id": "id", "customer_id": "client", "number": "num",
            "status": {"column": "status", "values": {1: "draft", 2: "sent", 3: "paid", 4: "void"}},
            "issue_date": {"column": "billed", "format": "DD.MM.YYYY"}}},
    }
}


@pytest.fixture
def reader(tmp_path):
    url = f"sqlite:///{tmp_path}/formats.db"
    build(url)
    with SourceReader(url, parse_mapping(MAPPING, "formats.yaml")) as source:
        yield source


def test_declared_boolean_words_read_and_unlisted_ones_quarantine_with_the_value(reader):
    customers = reader.read("customers")
    assert list(customers["active"][:2]) == [True, False]  # 'inactive ' matches trimmed, any case
    result = validate("customers", {"customers": customers})
    (reason,) = result.quarantine["reason"]
    assert set(result.quarantine["source_id"]) == {"3"} and "'Paused'" in reason and "'active'" in reason


def test_declared_date_format_reads_day_first_and_bad_or_unlisted_values_quarantine(reader):
    invoices = reader.read("invoices")
    assert invoices.set_index("id").loc["10", "issue_date"] == pd.Timestamp("2024-03-05")
    assert invoices.set_index("id").loc["10", "status"] == "sent"
    result = validate("invoices", {"invoices": invoices, "invoice_lines": reader.read("invoice_lines")},
                      known_ids={"customers": {"1"}})
    reasons = result.quarantine.groupby("source_id")["reason"].apply(" | ".join)
    assert "'31.02.2024', declared format DD.MM.YYYY" in reasons["11"]
    assert "9" in reasons["12"] and "declared" in reasons["12"]
    assert "'2024-03-05', declared format DD.MM.YYYY" in reasons["13"]  # never guessed either way


def test_text_dates_without_a_format_are_only_read_as_iso(tmp_path):
    url = f"sqlite:///{tmp_path}/plain.db"
    build(url)
    plain = {"entities": {"invoices": {**MAPPING["entities"]["invoices"], "columns": {
        **MAPPING["entities"]["invoices"]["columns"], "issue_date": "billed"}}}}
    with SourceReader(url, parse_mapping(plain, "plain.yaml")) as source:
        invoices = source.read("invoices").set_index("id")
    assert pd.isna(invoices.loc["10", "issue_date"])  # '05.03.2024' is not read month-first
    assert invoices.loc["13", "issue_date"] == pd.Timestamp("2024-03-05")
    assert invoices.loc["10", "_unreadable"]["issue_date"] == ("not_a_date", "05.03.2024")


@pytest.mark.parametrize("column, spec, message", [
    ("issue_date", {"column": "billed", "format": "MM.YYYY"}, "does not name a day"),
    ("number", {"column": "num", "format": "DD.MM.YYYY"}, "`format` is for date columns"),
    ("status", {"column": "status", "values": {1: "sent", 2: "unpaid"}}, "'unpaid', which is not one of"),
    ("deleted", {"column": "status", "values": {1: "yes"}}, "must be true or false"),
    ("status", {"column": "status", "values": {"A": "sent", "a": "paid"}}, "twice"),
])
def test_impossible_declarations_fail_at_load_naming_file_entity_and_column(column, spec, message):
    bad = {"entities": {"invoices": {"table": "bills", "watermark": "changed",
                                     "columns": {"id": "id", column: spec}}}}
    with pytest.raises(MappingError) as error:
        parse_mapping(bad, "mine.yaml")
    text = str(error.value)
    assert text.startswith(f"mine.yaml: entity 'invoices', column '{column}'") and message in text
    assert "\n" not in text
