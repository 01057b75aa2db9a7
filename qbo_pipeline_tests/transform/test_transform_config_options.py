"""The options / accounts / taxes sections: defaults work, wrong options name file, key and what is allowed."""

from __future__ import annotations

from datetime import date

import pytest

from qbo_pipeline.config import ConfigError, load_config


def write(tmp_path, text):
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_defaults_need_no_edits():
    config = load_config()
    assert config.options.sync_start_date == date(2024, 1, 1)
    assert config.options.generic_item == "Billing" and config.accounts.deposit == "Undeposited Funds"
    assert config.accounts.refund is None and config.taxes.mode == "us"


def test_user_file_overrides_only_what_it_names(tmp_path):
    path = write(tmp_path, "options:\n  aggregate_lines: true\naccounts:\n  refund: Checking\n"
                           "taxes:\n  mode: mapped\n  map: {GST: 'GST 5%'}\n")
    config = load_config(path)
    assert config.options.aggregate_lines is True and config.options.generic_item == "Billing"
    assert config.accounts.refund == "Checking" and config.accounts.discount == "Discounts given"
    assert config.taxes.map == {"GST": "GST 5%"}


def test_wrong_choice_names_file_key_and_allowed_values(tmp_path):
    path = write(tmp_path, "options:\n  disambiguation: name\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and "options.disambiguation" in message
    assert "'name' is not allowed" in message and "'email' or 'source_id'" in message


def test_unknown_option_lists_the_allowed_ones(tmp_path):
    path = write(tmp_path, "accounts:\n  incme: Sales\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and "accounts.incme: unknown option" in message
    assert "allowed: bad_debt, cost_of_goods_sold, deposit, discount, income" in message


def test_out_of_range_and_bad_types(tmp_path):
    path = write(tmp_path, "options:\n  name_max_length: 900\n  sync_start_date: someday\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "options.name_max_length: Input should be less than or equal to 500 (got 900)" in message
    assert "options.sync_start_date" in message and "'someday'" in message


def test_tax_map_rules(tmp_path):
    with pytest.raises(ConfigError, match="taxes.map: with mode 'us' every map value must be 'TAX' or 'NON'"):
        load_config(write(tmp_path, "taxes:\n  map: {GST: 'GST 5%'}\n"))
    with pytest.raises(ConfigError, match="taxes: mode 'mapped' needs taxes.map entries"):
        load_config(write(tmp_path, "taxes:\n  mode: mapped\n"))
    with pytest.raises(ConfigError, match=r"taxes.global_calculation: 'Gross' is not allowed"):
        load_config(write(tmp_path, "taxes:\n  mode: mapped\n  default_code: X\n  global_calculation: Gross\n"))
