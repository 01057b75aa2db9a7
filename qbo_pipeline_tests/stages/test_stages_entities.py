"""The entity registry: one entry per entity, and everything that used to repeat it derives from it."""

from __future__ import annotations

import pytest

from qbo_pipeline import entities, sync
from qbo_pipeline.entities import REGISTRY, EntityKind, entity
from qbo_pipeline.export import planner
from qbo_pipeline.operator import selection
from qbo_pipeline.operator.common import OperatorError, qbo_entity_name
from qbo_pipeline.source import model
from qbo_pipeline.source.extract import empty_frame
from qbo_pipeline.transform import build_payloads
from qbo_pipeline.transform import payload as payload_module


def test_the_registry_is_in_dependency_order():
    seen: set[str] = set()
    for spec in REGISTRY:
        assert set(spec.depends_on) <= seen, f"{spec.name} comes before {set(spec.depends_on) - seen}"
        seen.add(spec.name)


def test_depends_on_is_what_the_references_point_at():
    for spec in REGISTRY:
        pointed = {r.entity for r in spec.references} - {spec.name}
        assert pointed == set(spec.depends_on), spec.name


def test_tables_columns_and_dates_exist_in_the_canonical_model():
    for spec in REGISTRY:
        for table in spec.tables:
            assert table in model.ENTITIES
        for ref in spec.references:
            assert ref.table in spec.tables
            assert ref.column in model.ENTITIES[ref.table].columns
        assert spec.txn_date == model.ENTITIES[spec.table].txn_date_column
        assert (spec.kind is EntityKind.TRANSACTION) == (spec.txn_date is not None)
        if spec.child:
            assert model.ENTITIES[spec.child[0]].parent == spec.table
            assert spec.child[1] in model.ENTITIES[spec.child[0]].columns
    covered = {t for spec in REGISTRY for t in spec.tables}
    assert covered == set(model.ENTITIES)  # every canonical table belongs to one entity


def test_names_aliases_and_asset_names_are_unique_and_resolve():
    words = [w for spec in REGISTRY for w in (spec.name, spec.qbo_entity, spec.asset_name, *spec.cli_aliases)]
    owners: dict[str, str] = {}
    for spec in REGISTRY:
        for word in (spec.name, spec.qbo_entity, spec.asset_name, *spec.cli_aliases):
            assert owners.setdefault(word.casefold(), spec.name) == spec.name, word
            assert entity(word) is spec
    assert len({s.asset_name for s in REGISTRY}) == len(REGISTRY)
    assert len(words) > len(REGISTRY) * 3
    with pytest.raises(KeyError, match="unknown entity 'vendors'"):
        entity("vendors")


def test_derived_tables_follow_the_registry():
    assert {s.name: s.tables for s in REGISTRY} == sync.FAMILIES
    assert tuple(s.name for s in REGISTRY) == sync.MASTER_ENTITIES + sync.TRANSACTION_ENTITIES
    assert planner.EXPORT_ORDER == entities.EXPORT_ORDER == ("Account", *(s.qbo_entity for s in REGISTRY))
    assert payload_module.EXPORT_ORDER == entities.EXPORT_ORDER
    assert {s.name: s.qbo_entity for s in REGISTRY} == payload_module.QBO_ENTITY_FOR_SOURCE
    assert {s.qbo_entity: s.name for s in REGISTRY} == selection.SOURCE_ENTITY_FOR_QBO
    assert qbo_entity_name("credit") == "CreditMemo"
    assert qbo_entity_name("Refund-Receipts") == "RefundReceipt"
    with pytest.raises(OperatorError):
        qbo_entity_name("vendor")


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: s.name)
def test_every_entry_validates_and_builds_an_empty_frame(spec):
    from qbo_pipeline.config import load_config

    config = load_config()
    result = spec.validate({t: empty_frame(t) for t in spec.tables}, config=config)
    assert set(result.valid) == set(spec.tables)
    built = build_payloads(spec.name, result.valid, config)
    assert built.payloads == []
    with pytest.raises(ValueError, match="needs the frame"):
        spec.build_payloads({}, config)
