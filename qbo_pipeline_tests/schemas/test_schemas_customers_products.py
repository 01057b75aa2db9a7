"""Validation of customers and products: clean rows pass, dirty rows are quarantined with a reason."""

from __future__ import annotations

import pandas as pd
import pytest

from qbo_pipeline.schemas import SchemaMismatchError, column_schema, quarantined_ids, validate
from qbo_pipeline.schemas.frames import make_frame


def customers(*rows):
    return make_frame("customers", rows)


def products(*rows):
    return make_frame("products", rows)


def test_clean_customers_all_valid():
    frame = customers(
        {"id": "C1", "display_name": "Acme", "email": "ap@acme.com", "currency": "USD"},
        {"id": "C2", "company_name": "Beta LLC"},
        {"id": "C3", "given_name": "Ann", "family_name": "Lee", "parent_id": "C2"},
    )
    result = validate("customers", {"customers": frame}, known_ids={"customers": set()})
    assert result.quarantine.empty
    assert list(result.valid["customers"]["id"]) == ["C1", "C2", "C3"]


def test_dirty_customers_each_failure_explained():
    frame = customers(
        {"id": "C1", "display_name": "Ok"},
        {"id": "C2", "display_name": "Bad mail", "email": "not-an-email"},
        {"id": "C3"},  # no name at all
        {"id": "C4", "display_name": "Orphan job", "parent_id": "C99"},
        {"id": "C5", "display_name": "Euro", "currency": "eur"},
        {"id": "C6", "display_name": "Self", "parent_id": "C6"},
        {"id": "C7", "display_name": "Long mail", "email": "a" * 95 + "@x.com"},
    )
    result = validate("customers", {"customers": frame}, known_ids={"customers": {"C0"}})
    q = result.quarantine
    by_id = {sid: set(group["check"]) for sid, group in q.groupby("source_id")}
    assert by_id == {  # C2 and C7: an invalid e-mail is dropped by the transform, not quarantined
        "C3": {"no_name"},
        "C4": {"unknown_parent"},
        "C5": {"currency_code"},
        "C6": {"parent_is_self"},
    }
    assert list(result.valid["customers"]["id"]) == ["C1", "C2", "C7"]
    reason = q.loc[q["source_id"] == "C6", "reason"].iloc[0]
    assert reason == "The customer names itself as its parent customer."
    assert set(q.columns) >= {"entity", "source_id", "column", "check", "reason"}
    assert quarantined_ids(result) == {"C3", "C4", "C5", "C6"}


def test_parent_known_from_earlier_sync_passes():
    frame = customers({"id": "C4", "display_name": "Job", "parent_id": "C1"})
    result = validate("customers", {"customers": frame}, known_ids={"customers": {"C1"}})
    assert result.quarantine.empty


def test_duplicate_ids_quarantine_every_copy():
    frame = customers({"id": "C1", "display_name": "A"}, {"id": "C1", "display_name": "B"})
    result = validate("customers", {"customers": frame})
    assert result.valid["customers"].empty
    assert list(result.quarantine["check"]) == ["field_uniqueness", "field_uniqueness"]


def test_parent_cycle_and_depth():
    chain = [{"id": f"K{i}", "display_name": f"K{i}", "parent_id": f"K{i - 1}" if i else None} for i in range(7)]
    loop = [{"id": "L1", "display_name": "L1", "parent_id": "L2"}, {"id": "L2", "display_name": "L2", "parent_id": "L1"}]
    result = validate("customers", {"customers": customers(*chain, *loop)})
    checks = dict(zip(result.quarantine["source_id"], result.quarantine["check"], strict=True))
    assert checks == {"K5": "too_deep", "K6": "too_deep", "L1": "parent_cycle", "L2": "parent_cycle"}


def test_unconvertible_values_are_row_failures():
    raw = pd.DataFrame({
        "id": [1, 2], "name": ["A", "B"], "sku": [None, None], "description": [None, None],
        "type": ["service", "gadget"], "unit_price": ["9.99", "ten"], "cost": [None, None],
        "income_account": [None, None], "expense_account": [None, None], "taxable": [None, "maybe"],
        "qty_on_hand": [None, None], "active": [True, True], "deleted": [False, False],
        "updated_at": ["2024-01-01T10:00:00Z", "yesterday"],
    })
    result = validate("products", {"products": raw})
    q = result.quarantine
    assert set(q["source_id"]) == {"2"}
    assert set(q["check"]) == {"isin", "not_a_number", "not_a_boolean", "not_a_date"}
    assert "ten" in q.loc[q["check"] == "not_a_number", "reason"].iloc[0]
    assert "'gadget', which is not one of: service, non_inventory, inventory" in q.loc[q["check"] == "isin", "reason"].iloc[0]
    valid = result.valid["products"]
    assert list(valid["id"]) == ["1"] and valid["unit_price"].iloc[0] == pytest.approx(9.99)
    assert valid["updated_at"].iloc[0] == pd.Timestamp("2024-01-01 10:00:00")


def test_products_need_a_name_or_sku_and_no_negative_price():
    frame = products(
        {"id": "P1", "name": "Hosting", "unit_price": 10.0},
        {"id": "P2", "sku": "SKU-2"},
        {"id": "P3"},
        {"id": "P4", "name": "Refund fee", "unit_price": -5.0},
    )
    result = validate("products", {"products": frame})
    checks = dict(zip(result.quarantine["source_id"], result.quarantine["check"], strict=True))
    assert checks == {"P3": "no_name", "P4": "greater_than_or_equal_to"}
    assert result.quarantine.loc[result.quarantine["source_id"] == "P4", "reason"].iloc[0] == (
        "The product has a negative unit price (-5).")


def test_missing_required_column_is_a_clear_error():
    frame = customers({"id": "C1", "display_name": "A"}).drop(columns=["id"])
    with pytest.raises(SchemaMismatchError, match="customers: column 'id' is missing"):
        validate("customers", {"customers": frame})


def test_unknown_entity_rejected():
    with pytest.raises(ValueError, match="unknown entity 'vendors'"):
        validate("vendors", {"vendors": pd.DataFrame()})


def test_column_schema_has_descriptions_for_every_column():
    columns = column_schema("customers")
    names = [c["name"] for c in columns]
    assert names[0] == "id" and "email" in names and "updated_at" in names
    email = next(c for c in columns if c["name"] == "email")
    assert email["nullable"] is True and "e-mail" in email["description"] and "dropped" in email["description"]
    assert all(c["description"] for c in columns)
