"""Conforming source frames: driver types (Decimal, tz-aware datetimes, integer ids, nullable dtypes)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from qbo_pipeline.schemas import validate
from qbo_pipeline.schemas.conform import conform


def test_driver_types_become_canonical():
    raw = pd.DataFrame({
        "id": pd.Series([101, 102], dtype="Int64"),
        "invoice_id": [7, 7],
        "line_no": pd.Series([1, None], dtype="Int64"),
        "product_id": [None, 55],
        "quantity": [Decimal("2.0000"), Decimal("1.5")],
        "unit_price": [Decimal("9.9900"), Decimal("3")],
        "amount": [Decimal("19.98"), Decimal("4.50")],
        "updated_at": pd.to_datetime(["2024-05-01T08:00:00Z"] * 2).tz_convert("Europe/Paris"),
    })
    frame, failures = conform("invoice_lines", raw)
    assert frame["id"].tolist() == ["101", "102"] and frame["invoice_id"].tolist() == ["7", "7"]
    assert frame["product_id"].isna().iloc[0] and frame["product_id"].iloc[1] == "55"
    assert frame["line_no"].tolist() == [1, 1]  # NULL takes the column default
    assert frame["amount"].dtype == "float64" and frame["amount"].tolist() == [19.98, 4.5]
    assert frame["updated_at"].tolist() == [pd.Timestamp("2024-05-01 08:00:00")] * 2
    assert frame["discount"].isna().all() and frame["name"].isna().all()  # optional columns added empty
    assert failures.empty


def test_conformed_rows_validate_and_keep_their_values():
    raw = pd.DataFrame({
        "id": [1], "number": ["A-1"], "customer_id": [3], "status": ["sent"], "issue_date": ["2024-05-01"],
        "deleted": [None], "updated_at": ["2024-05-02 10:00:00"],
    })
    lines = pd.DataFrame({"id": [1], "invoice_id": [1], "amount": ["12.50"], "updated_at": ["2024-05-02"]})
    result = validate("invoices", {"invoices": raw, "invoice_lines": lines}, known_ids={"customers": {"3"}})
    assert result.quarantine.empty
    invoice = result.valid["invoices"].iloc[0]
    assert (invoice["id"], invoice["customer_id"], bool(invoice["deleted"])) == ("1", "3", False)
    assert invoice["issue_date"] == pd.Timestamp("2024-05-01")
    assert result.valid["invoice_lines"]["amount"].tolist() == [12.5]
