"""The engine's error policies as pure decisions (export/policies.py): no thread, no server."""

from __future__ import annotations

import pytest

from qbo_pipeline.export.policies import Retry, Settle, failure_hint, retry, settle
from qbo_pipeline.qbo.errors import (
    AuthError,
    ClosedPeriodError,
    ConcurrentEditError,
    DuplicateNameError,
    QboError,
    StaleObjectError,
    ThrottleError,
    TransientError,
    ValidationError,
)
from qbo_pipeline.states import PlanAction


def _retry(error, action=PlanAction.UPDATE, *, has_qbo_id=True, stale_retried=False, renamed=False, from_batch=False):
    return retry(error, action, has_qbo_id=has_qbo_id, stale_retried=stale_retried, renamed=renamed,
                 from_batch=from_batch)


def test_a_stale_sync_token_is_read_again_once():
    assert _retry(StaleObjectError("stale", code="5010")) == Retry.READ_SYNC_TOKEN
    assert _retry(StaleObjectError("stale", code="5010"), stale_retried=True) == Retry.NONE
    assert _retry(StaleObjectError("stale", code="5010"), has_qbo_id=False) == Retry.NONE


def test_a_duplicate_name_is_resolved_once_and_only_for_a_create():
    duplicate = DuplicateNameError("Duplicate Name Exists Error", code="6240")
    assert _retry(duplicate, PlanAction.CREATE, has_qbo_id=False) == Retry.RESOLVE_NAME
    assert _retry(duplicate, PlanAction.CREATE, has_qbo_id=False, renamed=True) == Retry.NONE
    assert _retry(duplicate, PlanAction.UPDATE) == Retry.NONE


@pytest.mark.parametrize("error", [ThrottleError("429", status=429), TransientError("503", status=503),
                                   ConcurrentEditError("one name at a time", code="6000")])
def test_load_refusals_of_a_batch_item_are_sent_once_on_their_own(error):
    assert _retry(error, from_batch=True) == Retry.RESEND
    assert _retry(error, from_batch=False) == Retry.NONE


@pytest.mark.parametrize(("error", "action", "closed_period", "expected"), [
    (AuthError("token refused", status=401), PlanAction.CREATE, "skip", Settle.STOP),
    (ClosedPeriodError("closed", code="6190"), PlanAction.CREATE, "skip", Settle.SKIP_CLOSED_PERIOD),
    (ClosedPeriodError("closed", code="6190"), PlanAction.CREATE, "fail", Settle.FAIL),
    (QboError("has balance", code="6220"), PlanAction.DEACTIVATE, "skip", Settle.KEEP_ACTIVE),
    (QboError("has balance", code="6220"), PlanAction.DELETE, "skip", Settle.FAIL),
    (ValidationError("bad field", code="2050"), PlanAction.UPDATE, "skip", Settle.FAIL),
])
def test_final_refusals_settle_the_record(error, action, closed_period, expected):
    assert settle(error, action, closed_period=closed_period) == expected


def test_a_paid_invoice_that_cannot_be_voided_gets_the_payment_hint():
    error = ValidationError("Business Validation Error", detail="Transaction has payments applied", code="6480")
    assert "payment or credit memo still applies to this Invoice" in failure_hint(error, PlanAction.VOID, "Invoice")
    assert failure_hint(error, PlanAction.UPDATE, "Invoice") == error.hint
