"""When names are deactivated and transactions removed, relative to the records that use them."""

from __future__ import annotations

from qbo_pipeline.export.lifecycle import split_deactivations, transaction_export_payloads
from qbo_pipeline.transform.payload import Payload


def _p(entity: str, sid: str, action: str = "upsert", **body) -> Payload:
    return Payload(entity, sid, {"DisplayName": sid, **body}, action=action)


def test_deactivations_wait_for_the_end_and_unknown_inactive_names_are_created_active():
    active, left_long_ago, left_now = _p("Customer", "A"), _p("Customer", "B", "deactivate", Active=False), _p(
        "Customer", "C", "deactivate", Active=False)
    links = {("Customer", "C"): {"qbo_id": "7", "status": "exported"}}
    now, at_end = split_deactivations([active, left_long_ago, left_now], links)
    assert [(p.source_id, p.action, p.body.get("Active")) for p in now] == [("A", "upsert", None), ("B", "upsert", True)]
    assert [p.source_id for p in at_end] == ["B", "C"] and all(p.action == "deactivate" for p in at_end)


def test_only_inactive_names_something_points_at_are_created():
    dormant, unused = _p("Customer", "B", "deactivate", Active=False), _p("Customer", "D", "deactivate", Active=False)
    calls = []

    def needed() -> set[tuple[str, str]]:
        calls.append(1)
        return {("Customer", "B")}

    now, at_end = split_deactivations([dormant, unused], {}, needed=needed)
    assert [p.source_id for p in now] == ["B"] and [p.source_id for p in at_end] == ["B", "D"]
    assert calls == [1]  # computed once, and only because some inactive name was never exported
    split_deactivations([_p("Customer", "A")], {}, needed=needed)
    assert calls == [1]


def test_invoice_removals_travel_with_the_payments_that_unapply_them():
    by_entity = {
        "invoices": [_p("Invoice", "I1"), _p("Invoice", "I2", "void")],
        "credits": [_p("CreditMemo", "K1", "delete")],
        "payments": [_p("Payment", "P1")],
    }
    assert [p.source_id for p in transaction_export_payloads("invoices", by_entity)] == ["I1"]
    assert transaction_export_payloads("credits", by_entity) == []
    assert [p.source_id for p in transaction_export_payloads("payments", by_entity)] == ["P1", "I2", "K1"]
