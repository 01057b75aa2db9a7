"""The planner: pure decisions from payloads and ledger state."""

from __future__ import annotations

import pytest

from qbo_pipeline.export.planner import plan
from qbo_pipeline.transform.payload import Payload, named_ref, source_ref


def customer(sid: str, name: str, parent: str | None = None, action: str = "upsert") -> Payload:
    body = {"DisplayName": name}
    if parent:
        body.update(Job=True, ParentRef=source_ref("Customer", parent))
    return Payload("Customer", sid, body, action=action, lookup={"DisplayName": name})


def invoice(sid: str, cust: str, action: str = "upsert", date: str = "2025-03-01") -> Payload:
    body = {"CustomerRef": source_ref("Customer", cust), "DocNumber": f"INV-{sid}",
            "Line": [{"Amount": 10.0, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": named_ref("Item", "Billing")}}]}
    return Payload("Invoice", sid, body, action=action, lookup={"DocNumber": f"INV-{sid}"}, txn_date=date)


def exported(p: Payload, qbo_id: str, **extra) -> dict:
    return {"qbo_id": qbo_id, "sync_token": "0", "status": "exported", "payload_hash": p.hash, "body": p.body, **extra}


def test_create_skip_update_with_diff():
    a, b, c = customer("1", "Acme"), customer("2", "Beta"), customer("3", "Gamma")
    changed = customer("2", "Beta Ltd")
    state = {("Customer", "1"): exported(a, "10"), ("Customer", "2"): exported(b, "11")}
    result = plan([a, changed, c], state)
    actions = {s.payload.source_id: s.action for s in result.steps}
    assert actions == {"1": "skip", "2": "update", "3": "create"}
    update = next(s for s in result.steps if s.action == "update")
    assert update.qbo_id == "11" and update.diff == [{"field": "DisplayName", "old": "Beta", "new": "Beta Ltd"}]
    assert result.counts() == {"skip": 1, "update": 1, "create": 1}


def test_parents_before_sub_customers_and_entities_in_export_order():
    payloads = [invoice("I1", "2"), customer("2", "Job", parent="1"), customer("1", "Parent")]
    waves = plan(payloads, {}).waves()
    assert [[s.key for s in w] for w in waves] == [[("Customer", "1")], [("Customer", "2")], [("Invoice", "I1")]]


def test_blocked_names_the_parent():
    payloads = [invoice("I1", "C9"), invoice("I2", "C1"), customer("C1", "Ok")]
    state = {("Customer", "C9"): {"status": "failed", "last_error": "bad"}}
    steps = {s.payload.source_id: s for s in plan(payloads, state).steps}
    assert steps["I1"].action == "blocked" and steps["I1"].blocked_by == ("Customer", "C9")
    assert "Customer C9" in steps["I1"].reason
    assert steps["I2"].action == "create"


def test_removals_run_after_upserts_in_reverse_order_and_only_when_exported():
    cust = customer("1", "Gone", action="deactivate")
    inv_void = invoice("I1", "1", action="void")
    inv_new_void = invoice("I2", "1", action="void")
    pay = Payload("Payment", "P1", {"CustomerRef": source_ref("Customer", "1"), "TotalAmt": 5.0},
                  txn_date="2025-03-02")
    state = {("Customer", "1"): exported(customer("1", "Gone"), "5"),
             ("Invoice", "I1"): exported(invoice("I1", "1"), "7")}
    result = plan([cust, inv_void, inv_new_void, pay], state)
    steps = {s.payload.source_id: s for s in result.steps}
    assert steps["I2"].action == "skip" and "never exported" in steps["I2"].reason
    order = [s.key for w in result.waves() for s in w]
    assert order == [("Payment", "P1"), ("Invoice", "I1"), ("Customer", "1")]


def test_closed_period_is_skipped_with_hint_or_blocked():
    old, new = invoice("I1", "1", date="2024-12-31"), invoice("I2", "1", date="2025-01-02")
    state = {("Customer", "1"): exported(customer("1", "A"), "5")}
    steps = {s.payload.source_id: s for s in plan([old, new], state, book_close_date="2024-12-31").steps}
    assert steps["I1"].action == "skip" and "closed period" in steps["I1"].reason
    assert steps["I2"].action == "create"
    failing = plan([old], state, book_close_date="2024-12-31", closed_period="fail").steps[0]
    assert failing.action == "blocked"


def test_manual_link_is_updated_not_created_and_pending_request_is_carried():
    p = customer("1", "Acme")
    state = {("Customer", "1"): {"qbo_id": "42", "status": "linked", "manual": True, "sync_token": None}}
    step = plan([p], state, pending={("Customer", "1"): {"request_id": "abc"}}).steps[0]
    assert (step.action, step.qbo_id, step.pending_request_id) == ("update", "42", "abc")


def test_gives_up_after_max_attempts_with_same_content():
    p = customer("1", "Acme")
    state = {("Customer", "1"): {"status": "failed", "attempts": 5, "attempted_hash": p.hash}}
    assert plan([p], state, max_attempts=5).steps[0].action == "skip"
    assert plan([customer("1", "Acme 2")], state, max_attempts=5).steps[0].action == "create"


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match="two payloads"):
        plan([customer("1", "A"), customer("1", "B")], {})
    with pytest.raises(ValueError, match="circular"):
        plan([customer("1", "A", parent="2"), customer("2", "B", parent="1")], {})


def test_ignored_records_are_not_sent_and_their_dependents_wait():
    acme, beta = customer("1", "Acme"), customer("2", "Beta")
    state = {("Customer", "1"): {"status": "ignored", "attempts": 3}}  # failed, then ignored by an operator
    result = plan([acme, beta, invoice("9", "1")], state)
    steps = {s.payload.source_id: s for s in result.steps}
    assert steps["1"].action == "skip" and "ignored by an operator" in steps["1"].reason
    assert steps["2"].action == "create"
    assert steps["9"].action == "blocked" and steps["9"].blocked_by == ("Customer", "1")


def test_refused_deactivation_is_not_retried_until_the_record_changes():
    gone = customer("1", "Acme", action="deactivate")
    state = {("Customer", "1"): exported(customer("1", "Acme"), "10", status="kept_active", attempted_hash=gone.hash)}
    assert plan([gone], state).steps[0].action == "skip"
    renamed = customer("1", "Acme Ltd", action="deactivate")
    assert plan([renamed], state).steps[0].action == "deactivate"


def test_a_record_whose_parent_a_named_rule_kept_out_is_skipped_not_blocked():
    """A deposit of a sales receipt dated before the sync start (skipped by that rule) is not an error
    the user has to fix: it is skipped by ``parent_skipped`` naming the parent and its rule."""
    child = invoice("I1", "C9")
    steps = {s.payload.source_id: s for s in plan([child], {}, skipped={("Customer", "C9"): "before_sync_start"}).steps}
    assert steps["I1"].action == "skip"
    assert steps["I1"].reason == "parent_skipped: Customer C9 is skipped (before_sync_start)"
    # a parent that is neither linked nor kept out by a rule still blocks its child
    blocked = {s.payload.source_id: s for s in plan([child], {}, skipped={("Customer", "C1"): "draft"}).steps}
    assert blocked["I1"].action == "blocked"
