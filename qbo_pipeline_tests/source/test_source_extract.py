"""SourceReader on the canonical (demo) schema: dtypes, incremental reads, windows, ids, chunks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from qbo_pipeline.source import model
from qbo_pipeline.source.demo import init_demo_db
from qbo_pipeline.source.extract import IDS_PER_QUERY, WATERMARK_OVERLAP, ExtractError, SourceReader, _as_bool

STAMP = datetime(2026, 7, 1, 12, 0, 0)  # after every demo updated_at (demo today = 2026-06-15)


def _set(url: str, table: str, row_id: str, **values) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        t = model.metadata.tables[table]
        assert conn.execute(t.update().where(t.c.id == row_id).values(**values)).rowcount == 1
    engine.dispose()


def test_frames_follow_the_model_contract(demo_db_url):
    reader = SourceReader(demo_db_url)
    for name, entity in model.ENTITIES.items():
        frame = reader.read(name)
        assert list(frame.columns) == entity.columns
        assert len(frame) == reader.count(name) > 0
        assert frame.id.map(type).eq(str).all() and frame.id.dtype == object
        assert frame.updated_at.dtype == "datetime64[ns]" and frame.updated_at.notna().all()
        for column in model.MONEY_COLUMNS.get(name, []):
            assert frame[column].dtype == "float64", (name, column)
        for column in ("active", "deleted", "taxable"):
            if column in frame:
                assert frame[column].dtype == bool, (name, column)
        if entity.txn_date_column:
            dates = frame[entity.txn_date_column]
            assert dates.dtype == "datetime64[ns]" and (dates.dropna() == dates.dropna().dt.normalize()).all()
    lines = reader.read("invoice_lines")
    assert lines.line_no.dtype == "int64"
    assert lines.groupby("invoice_id").line_no.min().eq(1).all()


def test_since_applies_the_overlap_so_clock_skew_loses_nothing(fresh_demo_db_url):
    _set(fresh_demo_db_url, "customers", "C00001", updated_at=STAMP - timedelta(minutes=1))
    _set(fresh_demo_db_url, "customers", "C00002", updated_at=STAMP - WATERMARK_OVERLAP - timedelta(seconds=5))
    _set(fresh_demo_db_url, "customers", "C00003", updated_at=STAMP + timedelta(seconds=1))
    reader = SourceReader(fresh_demo_db_url)
    assert set(reader.read("customers", since=STAMP).id) == {"C00001", "C00003"}
    assert set(reader.read("customers", since=STAMP - timedelta(minutes=10)).id) == {"C00001", "C00002", "C00003"}
    aware = STAMP.replace(tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert set(reader.read("customers", since=aware).id) == {"C00001", "C00003"}
    assert reader.watermark("customers") == STAMP + timedelta(seconds=1)


def test_a_changed_line_brings_its_invoice_and_all_its_lines(fresh_demo_db_url):
    reader = SourceReader(fresh_demo_db_url)
    lines = reader.read("invoice_lines")
    invoice_id = lines.invoice_id.value_counts().index[0]  # an invoice with several lines
    first_line = lines[lines.invoice_id == invoice_id].id.iloc[0]
    _set(fresh_demo_db_url, "invoice_lines", first_line, updated_at=STAMP)
    assert list(reader.read("invoices", since=STAMP).id) == [invoice_id]
    changed_lines = reader.read("invoice_lines", since=STAMP)
    assert set(changed_lines.invoice_id) == {invoice_id}
    assert len(changed_lines) == (lines.invoice_id == invoice_id).sum() >= 2
    assert reader.watermark("invoices") == STAMP  # the parent's watermark includes its lines
    issue = reader.read("invoices", ids=[invoice_id]).issue_date.iloc[0].date()
    assert reader.changed_dates("invoices", STAMP) == [issue]
    assert reader.changed_dates("invoice_lines", STAMP) == [issue]


def test_a_changed_application_brings_its_payment(fresh_demo_db_url):
    reader = SourceReader(fresh_demo_db_url)
    app = reader.read("payment_applications").iloc[0]
    engine = sa.create_engine(fresh_demo_db_url)
    with engine.begin() as conn:
        t = model.payment_applications
        conn.execute(t.update().where(t.c.id == app.id).values(updated_at=STAMP))
    engine.dispose()
    assert list(reader.read("payments", since=STAMP).id) == [app.payment_id]
    assert set(reader.read("payment_applications", since=STAMP).payment_id) == {app.payment_id}


def test_window_selects_by_transaction_date_start_inclusive_end_exclusive(demo_db_url):
    reader = SourceReader(demo_db_url)
    invoices = reader.read("invoices")
    day = invoices.issue_date.value_counts().index[0].date()
    window = reader.read("invoices", window=(day, day + timedelta(days=1)))
    assert len(window) == (invoices.issue_date == pd.Timestamp(day)).sum() >= 1
    assert reader.read("invoices", window=(day + timedelta(days=1), day + timedelta(days=2))).issue_date.ne(
        pd.Timestamp(day)).all()
    month = (date(2026, 3, 1), date(2026, 4, 1))
    expected = invoices[(invoices.issue_date >= "2026-03-01") & (invoices.issue_date < "2026-04-01")]
    got = reader.read("invoices", window=month)
    assert sorted(got.id) == sorted(expected.id) and len(got) > 0
    lines = reader.read("invoice_lines", window=month)
    assert set(lines.invoice_id) == set(expected.id)
    payments = reader.read("payments", window=month)
    assert payments.date.between("2026-03-01", "2026-03-31").all() and len(payments) > 0
    with pytest.raises(ValueError, match="no transaction date"):
        reader.read("customers", window=month)
    with pytest.raises(ValueError, match="empty window"):
        reader.read("invoices", window=(month[1], month[0]))


def test_ids_select_rows_and_children_by_parent_id(demo_db_url):
    reader = SourceReader(demo_db_url)
    all_ids = list(reader.read("invoices").id)
    assert list(reader.read("invoices", ids=all_ids[:3]).id) == all_ids[:3]
    lines = reader.read("invoice_lines", ids=all_ids[:3])
    assert set(lines.invoice_id) == set(all_ids[:3])
    assert reader.read("invoices", ids=[]).empty
    many = all_ids * (IDS_PER_QUERY // len(all_ids) + 2)  # more than one IN (...) batch
    assert len(reader.read("invoices", ids=sorted(set(many)) + ["no-such-id"])) == len(all_ids)


def test_iter_chunks_streams_bounded_frames_that_add_up_to_read(demo_db_url):
    reader = SourceReader(demo_db_url)
    chunks = list(reader.iter_chunks("invoice_lines", chunksize=100))
    assert len(chunks) > 5 and all(len(c) <= 100 for c in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), reader.read("invoice_lines"))
    with pytest.raises(ValueError, match="chunksize"):
        next(reader.iter_chunks("invoices", chunksize=0))
    with pytest.raises(KeyError, match="unknown entity"):
        reader.read("orders")


def test_empty_source_reads_as_empty_frames_with_canonical_columns(empty_db_url):
    init_demo_db(empty_db_url, scale=0.01, seed=1, today=date(2026, 6, 15))
    engine = sa.create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(model.refunds.delete())
    engine.dispose()
    reader = SourceReader(empty_db_url)
    refunds = reader.read("refunds")
    assert refunds.empty and list(refunds.columns) == model.ENTITIES["refunds"].columns
    assert refunds.amount.dtype == "float64" and refunds.updated_at.dtype == "datetime64[ns]"
    assert reader.watermark("refunds") is None and reader.count("refunds") == 0


def test_missing_tables_are_reported_before_reading(empty_db_url):
    from qbo_pipeline.source.mapping import MappingError

    with pytest.raises(MappingError, match="table 'customers' not found"):
        SourceReader(empty_db_url).read("customers")


def test_unreadable_values_mark_their_row_instead_of_stopping_the_table(tmp_path):
    """One bad value quarantines one row (validation reads the marker); the others are read."""
    from qbo_pipeline.schemas import validate
    from qbo_pipeline.source.model import UNREADABLE

    url = f"sqlite:///{tmp_path / 'bad.db'}"
    init_demo_db(url, scale=0.01, seed=1, today=date(2026, 6, 15))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE customers SET active = 'maybe' WHERE id = 'C00001'"))
        conn.execute(sa.text("UPDATE products SET unit_price = 'twelve dollars' WHERE id = (SELECT min(id) FROM products)"))
    engine.dispose()
    with SourceReader(url) as reader:
        customers = reader.read("customers")
        products = reader.read("products")
    marked = customers.set_index("id")[UNREADABLE].dropna()
    assert marked.to_dict() == {"C00001": {"active": ("not_a_boolean", "maybe")}}
    assert len(customers) > 1 and products[UNREADABLE].notna().sum() == 1
    result = validate("customers", {"customers": customers})
    reasons = result.quarantine.set_index("source_id")["reason"].to_dict()
    assert "neither yes nor no ('maybe')" in reasons["C00001"]
    assert "C00001" not in set(result.valid["customers"]["id"])
    with pytest.raises(ExtractError, match=r"customers.active: 'maybe' is not a boolean"):
        _as_bool("customers", "active", True)("maybe")  # the converter itself still says why


def test_aware_timestamps_compare_in_utc_whatever_the_server_time_zone(server_db_url):
    """A source session in another time zone must not shift the watermark comparison."""
    empty_db_url = server_db_url
    url = sa.make_url(empty_db_url)
    init_demo_db(empty_db_url, scale=0.01, seed=1, today=date(2026, 6, 15))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE customers ALTER COLUMN updated_at TYPE timestamptz "
                                 "USING updated_at AT TIME ZONE 'UTC'"))
            conn.execute(sa.text("UPDATE customers SET updated_at = '2026-07-01 12:00:00+00' WHERE id = 'C00001'"))
        else:
            conn.execute(sa.text("ALTER TABLE customers MODIFY updated_at TIMESTAMP NULL"))
            conn.execute(sa.text("SET time_zone = '+00:00'"))
            conn.execute(sa.text("UPDATE customers SET updated_at = '2026-07-01 12:00:00' WHERE id = 'C00001'"))
    engine.dispose()
    if url.get_backend_name() == "postgresql":
        other_zone = url.update_query_dict({"options": url.query["options"] + " -ctimezone=America/New_York"})
    else:
        other_zone = url.update_query_dict({"init_command": "SET time_zone = '-05:00'"})
    reader = SourceReader(other_zone.render_as_string(hide_password=False))
    assert list(reader.read("customers", since=STAMP - timedelta(minutes=5)).id) == ["C00001"]
    assert reader.read("customers", since=STAMP + timedelta(minutes=5)).empty
    assert reader.watermark("customers") == STAMP
    assert reader.read("customers", ids=["C00001"]).updated_at.iloc[0] == pd.Timestamp(STAMP)


def test_reader_from_pipeline_config(tmp_path):
    from qbo_pipeline.config import load_config

    url = f"sqlite:///{tmp_path / 'cfg.db'}"
    init_demo_db(url, scale=0.01, seed=1, today=date(2026, 6, 15))
    reader = SourceReader.from_config(load_config(overrides={"source": {"url": url, "mapping": "canonical"}}))
    assert reader.count("customers") > 0 and reader.mapping.name == "canonical"


def test_since_the_beginning_of_time_reads_everything(demo_db_url):
    reader = SourceReader(demo_db_url)
    assert len(reader.read("invoices", since=datetime.min)) == reader.count("invoices")
    assert len(reader.changed_dates("invoices", datetime(1900, 1, 1))) == reader.read("invoices").issue_date.nunique()
