"""The bookkeeping mapping example of docs/mapping.md is a mapping the loader accepts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from qbo_pipeline.source.mapping import parse_mapping

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"


def test_the_bookkeeping_example_mapping_parses_with_every_bookkeeping_entity():
    section = DOC.read_text().split("## Where the bookkeeping entities come from", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    mapping = parse_mapping(yaml.safe_load(block), "docs/mapping.md")
    assert set(mapping.entities) == {"sales_receipts", "sales_receipt_lines", "deposits", "deposit_lines",
                                     "expenses", "bills", "journal_entries", "journal_entry_lines"}
