"""What the engine does with each QBO refusal: pure decisions, testable without a thread or a server.

The engine asks two questions about an error. While a record is being sent: *try again, and
how?* (``retry``). When no retry is left: *what does the record become?* (``settle``). The hint a
person reads for a failed record comes from ``failure_hint``. The table (docs/export.md):

- 5010 stale SyncToken (a record with a QBO Id): read the token again, retry once;
- 6240 duplicate name on a create: link the same-named record if it is ours to take, else rename
  deterministically, retry once;
- 429, 5xx, 6000 "one name at a time" on a batch item: send it once on its own (the client retries);
- auth: stop the run (the connection is marked, every later record is not attempted);
- closed period with ``export.closed_period: skip``: skipped with a hint;
- 6220 (open balance) on a deactivation: the name is *kept active*, a documented outcome;
- anything else: failed, with QBO's message and a hint.
"""

from __future__ import annotations

from enum import StrEnum

from qbo_pipeline.qbo.errors import (
    AuthError,
    ClosedPeriodError,
    ConcurrentEditError,
    DuplicateNameError,
    QboError,
    StaleObjectError,
    ThrottleError,
    TransientError,
)
from qbo_pipeline.states import PlanAction

BALANCE_REFUSAL = "6220"  # Delete Entity Has Balance Error
# Batch item refusals worth one more try as a single request.
RETRY_AS_SINGLE = (ThrottleError, TransientError, ConcurrentEditError, StaleObjectError, DuplicateNameError)


class Retry(StrEnum):
    READ_SYNC_TOKEN = "read_sync_token"  # 5010: read the current SyncToken, send again
    RESOLVE_NAME = "resolve_name"  # 6240: link the same-named record or rename, send again
    RESEND = "resend"  # a batch item refused for load: send it on its own once
    NONE = "none"  # no retry: settle the record


class Settle(StrEnum):
    STOP = "stop"  # QBO refused the connection: stop the run
    SKIP_CLOSED_PERIOD = "skip_closed_period"
    KEEP_ACTIVE = "keep_active"
    FAIL = "fail"


def retry(error: QboError, action: str, *, has_qbo_id: bool, stale_retried: bool, renamed: bool,
          from_batch: bool) -> Retry:
    """How to try ``error``'s record again, if at all (each kind of retry happens once per record)."""
    if isinstance(error, StaleObjectError) and not stale_retried and has_qbo_id:
        return Retry.READ_SYNC_TOKEN
    if isinstance(error, DuplicateNameError) and action == PlanAction.CREATE and not renamed:
        return Retry.RESOLVE_NAME
    if isinstance(error, ThrottleError | TransientError | ConcurrentEditError) and from_batch:
        return Retry.RESEND
    return Retry.NONE


def settle(error: QboError, action: str, *, closed_period: str) -> Settle:
    """What a record becomes when QBO's refusal is final."""
    if isinstance(error, AuthError):
        return Settle.STOP
    if isinstance(error, ClosedPeriodError) and closed_period == "skip":
        return Settle.SKIP_CLOSED_PERIOD
    if action == PlanAction.DEACTIVATE and error.code == BALANCE_REFUSAL:
        return Settle.KEEP_ACTIVE
    return Settle.FAIL


KEPT_ACTIVE_MESSAGE = "kept active: QuickBooks does not deactivate a name with an open balance"
KEPT_ACTIVE_HINT = "settle or write off the balance; the record is deactivated at its next change in the source"


def failure_hint(error: QboError, action: str, entity: str) -> str:
    """The hint for a failed record: the error's own, unless the action explains it better."""
    text = f"{error.message} {error.detail}".lower()
    if action in (PlanAction.VOID, PlanAction.DELETE) and ("applied" in text or "linked" in text):
        return (f"A payment or credit memo still applies to this {entity} in QBO, and QBO refuses to "
                f"{action} a paid transaction. Once the source payment no longer applies to it (exported "
                "with the payments, which run before removals in one export) the next run succeeds; or unapply "
                "the payment in QBO.")
    return error.hint


__all__ = ["BALANCE_REFUSAL", "RETRY_AS_SINGLE", "Retry", "Settle", "failure_hint", "retry", "settle"]
