"""The demo database: deterministic, and holding every case the export rules must handle."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
from click.testing import CliRunner

from qbo_pipeline.cli import main
from qbo_pipeline.source.demo import INVALID_PREFIX, build_demo_rows, init_demo_db, mutate_demo_db
from qbo_pipeline.source.extract import SourceReader

DEMO_TODAY = date(2026, 6, 15)  # as in conftest.DEMO_TODAY


@pytest.fixture(scope="module")
def demo_frames(demo_db_url) -> dict[str, pd.DataFrame]:
    with SourceReader(demo_db_url) as reader:
        return {e: reader.read(e) for e in ("customers", "products", "invoices", "invoice_lines", "payments",
                                              "payment_applications", "credits", "refunds")}


def test_same_seed_gives_the_same_rows_and_another_seed_does_not():
    first = build_demo_rows(seed=7, today=DEMO_TODAY)
    # repr, because the deliberate NaN amounts never compare equal to themselves
    assert repr(first) == repr(build_demo_rows(seed=7, today=DEMO_TODAY))
    assert repr(first["invoice_lines"]) != repr(build_demo_rows(seed=8, today=DEMO_TODAY)["invoice_lines"])


def test_init_twice_writes_identical_databases(tmp_path):
    urls = [f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db")]
    counts = [init_demo_db(url, seed=5, today=DEMO_TODAY) for url in urls]
    assert counts[0] == counts[1]
    for entity in ("customers", "invoices", "invoice_lines", "payments"):
        frames = [SourceReader(url).read(entity) for url in urls]
        pd.testing.assert_frame_equal(frames[0], frames[1])


def test_default_scale_is_the_small_demo_and_scale_one_the_benchmark_size():
    small = {k: len(v) for k, v in build_demo_rows(today=DEMO_TODAY).items()}
    assert 35 <= small["customers"] <= 50 and 10 <= small["products"] <= 15
    assert 390 <= small["invoices"] <= 430 and 270 <= small["payments"] <= 330
    full = {k: len(v) for k, v in build_demo_rows(scale=1.0, today=DEMO_TODAY).items()}
    assert 1900 <= full["customers"] <= 2100 and full["products"] == 300 + 1  # and the name template
    assert 19_500 <= full["invoices"] <= 21_000 and 2.5 <= full["invoice_lines"] / full["invoices"] <= 3.5
    assert 14_000 <= full["payments"] <= 16_000 and full["credits"] > 100 and full["refunds"] > 50


def test_customers_cover_the_naming_rules(demo_frames):
    customers = demo_frames["customers"]
    same_name = customers[customers.display_name == "John Smith"]
    assert len(same_name) == 2 and same_name.email.nunique() == 2
    assert (customers.display_name.str.len() > 100).any()
    assert customers.display_name.str.contains("Zoë|山田", regex=True).sum() >= 2
    assert customers.display_name.str.contains(":", regex=False).any()
    subs = customers[customers.parent_id.notna()]
    assert len(subs) >= 3 and set(subs.parent_id) <= set(customers.id)
    assert subs.parent_id.isin(subs.id).any(), "a sub-customer of a sub-customer (nested jobs)"
    assert (~customers.active).any()


def test_products_cover_duplicates_blanks_and_inventory(demo_frames):
    products = demo_frames["products"]
    named = products[products.name.fillna("") != ""]
    assert named.name.duplicated().any()
    assert (products.name.fillna("") == "").any()
    inventory = products[products.type == "inventory"]
    assert len(inventory) >= 1 and inventory.qty_on_hand.notna().all()
    assert {"service", "non_inventory", "inventory"} <= set(products.type)


def test_invoices_cover_statuses_lengths_discounts_and_tax_codes(demo_frames):
    invoices, lines = demo_frames["invoices"], demo_frames["invoice_lines"]
    assert {"draft", "void", "paid", "sent"} <= set(invoices.status)
    assert (invoices.number.str.len() > 21).any()
    assert (lines.description.fillna("").str.len() > 4000).any()
    assert (lines.discount > 0).any()
    assert lines.tax_code.nunique() >= 3
    assert (lines.product_id.isna() & lines.name.notna()).any(), "free-text lines"


def test_payments_are_partial_over_and_spread(demo_frames):
    invoices, lines = demo_frames["invoices"], demo_frames["invoice_lines"]
    payments, apps = demo_frames["payments"], demo_frames["payment_applications"]
    totals = (lines.amount - lines.discount).groupby(lines.invoice_id).sum().round(2)
    applied = apps.groupby("invoice_id").amount.sum().round(2)
    sent = invoices[invoices.status == "sent"].id
    partly_paid = [i for i in sent if i in applied.index and 0 < applied[i] < totals[i]]
    assert partly_paid, "a sent invoice with a partial payment"
    applied_per_payment = apps.groupby("payment_id").amount.sum()
    with_apps = payments.set_index("id").loc[applied_per_payment.index]
    assert (with_apps.amount > applied_per_payment + 0.005).any(), "an overpayment"
    assert (apps.groupby("payment_id").size() >= 2).any(), "one payment spread over several invoices"
    assert set(apps.payment_id) <= set(payments.id)


def test_refunds_and_write_offs_exist(demo_frames):
    assert len(demo_frames["refunds"]) >= 1
    assert {"credit", "write_off", "bad_debt"} <= set(demo_frames["credits"].kind)


def test_deliberately_invalid_rows_are_present_and_few(demo_frames, demo_today):
    customers, invoices = demo_frames["customers"], demo_frames["invoices"]
    lines, payments = demo_frames["invoice_lines"], demo_frames["payments"]
    assert (lines.quantity < 0).any()
    assert (~invoices.customer_id.isin(customers.id)).any()
    assert lines.amount.isna().any() and payments.amount.isna().any()
    assert (~customers.email.fillna("").str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+")).any()
    assert (invoices.issue_date > pd.Timestamp(demo_today)).any()
    by_customer = customers.set_index("id").currency
    known = invoices[invoices.customer_id.isin(by_customer.index)]
    assert (known.currency != by_customer.loc[known.customer_id].to_numpy()).any()
    invalid_invoices = invoices.memo.fillna("").str.startswith(INVALID_PREFIX)
    share = invalid_invoices.mean()
    assert 0.01 <= share <= 0.04, f"invalid share {share:.3f} should stay small (~2-3%)"
    # every future-dated invoice is a marked invalid one, not an accident of the generator
    assert invalid_invoices[invoices.issue_date > pd.Timestamp(demo_today)].all()


def test_mutate_adds_and_edits_rows_with_fresh_updated_at(fresh_demo_db_url):
    now = datetime(2026, 6, 16, 9, 30)
    reader = SourceReader(fresh_demo_db_url)
    before = reader.count("invoices")
    result = mutate_demo_db(fresh_demo_db_url, seed=1, new=6, edits=9, now=now)
    assert len(result["created"]["invoices"]) == 6 and reader.count("invoices") == before + 6
    assert result["edited"]["customers"] and result["edited"]["invoice_lines"]
    changed = reader.read("invoices", since=now.replace(hour=9, minute=0))
    edited_via_line = {line.rsplit("-L", 1)[0] for line in result["edited"]["invoice_lines"]}
    expected = set(result["created"]["invoices"]) | set(result["edited"].get("invoices", [])) | edited_via_line
    assert set(changed.id) == expected
    changed_customers = reader.read("customers", since=now.replace(hour=9, minute=0))
    assert set(changed_customers.id) == set(result["created"].get("customers", [])) | set(result["edited"]["customers"])
    assert reader.watermark("invoices") == now


def test_demo_cli_init_and_mutate(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "init", "--url", url, "--scale", "0.01", "--seed", "3",
                                  "--today", "2026-06-15"])
    assert result.exit_code == 0, result.output
    assert "invoices" in result.output and "seed 3" in result.output
    assert SourceReader(url).count("invoices") == init_demo_db(
        f"sqlite:///{tmp_path / 'same.db'}", scale=0.01, seed=3, today=date(2026, 6, 15))["invoices"]
    result = runner.invoke(main, ["demo", "mutate", "--url", url, "--new", "3", "--edits", "2"])
    assert result.exit_code == 0, result.output
    assert "created   3 invoices" in result.output
    missing = runner.invoke(main, ["demo", "mutate", "--url", f"sqlite:///{tmp_path / 'none.db'}"])
    assert missing.exit_code != 0 and "demo init" in missing.output
    assert not (tmp_path / "none.db").exists(), "a mistyped path must not leave an empty database behind"
    help_text = runner.invoke(main, ["demo", "init", "--help"]).output
    assert "--scale" in help_text and "--seed" in help_text and "--url" in help_text
