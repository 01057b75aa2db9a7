"""End to end through the real demo source (SQLite + SourceReader): every deliberately broken
row is quarantined, every other row becomes a payload or a named skip, and no payload breaks a limit."""

from __future__ import annotations

import pytest

from qbo_pipeline.config import load_config
from qbo_pipeline.schemas import validate
from qbo_pipeline.source.demo import INVALID_PREFIX, init_demo_db
from qbo_pipeline.source.extract import SourceReader
from qbo_pipeline.transform import TransformContext, build_payloads, deposit_accounts, invoice_states
from qbo_pipeline.transform.rules import limit_violations

FAMILIES = {"customers": ["customers"], "products": ["products"], "invoices": ["invoices", "invoice_lines"],
            "payments": ["payments", "payment_applications"], "credits": ["credits"], "refunds": ["refunds"]}
QBO = {"customers": "Customer", "products": "Item", "invoices": "Invoice", "payments": "Payment",
       "credits": "CreditMemo", "refunds": "RefundReceipt"}


@pytest.fixture(scope="module")
def demo_frames(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('demo')}/demo.db"
    init_demo_db(url, scale=0.05, seed=11)
    reader = SourceReader(url, "canonical")
    return {table: reader.read(table) for tables in FAMILIES.values() for table in tables}


def test_demo_source_every_row_accounted_for(demo_frames):
    config = load_config()
    frames = demo_frames
    known = {e: set(frames[e]["id"]) for e in ("customers", "products", "invoices", "payments")}
    currencies = dict(zip(frames["customers"]["id"], frames["customers"]["currency"], strict=True))
    context = TransformContext(
        invoices=invoice_states(frames["invoices"], frames["invoice_lines"], frames["payment_applications"],
                                frames["credits"]),
        payment_deposit_accounts=deposit_accounts(frames["payments"], config),
    )
    for entity, tables in FAMILIES.items():
        result = validate(entity, {t: frames[t] for t in tables}, known_ids=known, config=config,
                          customer_currencies=currencies)
        built = build_payloads(entity, result.valid, config, context=context)
        q = result.quarantine
        quarantined = set(q.loc[q["entity"] == entity, "source_id"])
        exported = {p.source_id for p in built.payloads if p.entity == QBO[entity]
                    and not p.source_id.startswith(("apply:", "bad_debt:"))}
        skipped = set(built.skipped["source_id"])
        ids = set(frames[entity]["id"])
        assert exported | skipped | quarantined == ids, entity
        assert len(exported) + len(skipped) + len(quarantined) == len(ids), entity
        for payload in built.payloads:
            assert not limit_violations(payload.entity, payload.body), payload.source_id
        if entity in ("invoices", "payments"):
            marked = set(frames[entity].loc[frames[entity]["memo"].astype(str).str.startswith(INVALID_PREFIX), "id"])
            assert marked and marked <= quarantined, marked - quarantined
            assert (q["reason"].str.len() > 20).all()
        if entity == "invoices":
            assert set(q["check"]) >= {"unknown_customer", "future_date", "currency_mismatch"}
            assert "draft" in set(built.skipped["rule"])
