"""Every state a record or a run can be in, as enums in one place.

A payload asks for an action (``PayloadAction``), the planner decides one (``PlanAction``), the
engine reports what happened (``Outcome``) and the ledger keeps where the record stands
(``LinkStatus``); a run ends in a ``RunStatus``. They are ``StrEnum``s, so they compare equal
to, and are stored as, the same strings the ledger and reports always held.
"""

from __future__ import annotations

from enum import StrEnum


class PayloadAction(StrEnum):
    """What the source wants for a record (set by the transform)."""

    UPSERT = "upsert"
    DEACTIVATE = "deactivate"  # name lists (QBO cannot delete a customer or an item)
    VOID = "void"  # transactions: kept in QBO with a zero amount
    DELETE = "delete"


class PlanAction(StrEnum):
    """What the planner decided to do with a record in this run."""

    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"
    DEACTIVATE = "deactivate"
    VOID = "void"
    DELETE = "delete"
    BLOCKED = "blocked"


class Outcome(StrEnum):
    """What happened to a record in a run (``RecordResult.outcome`` and ``ExportReport.counts``)."""

    CREATED = "created"
    UPDATED = "updated"
    LINKED = "linked"  # an existing QBO record was found, linked and updated
    SKIPPED = "skipped"
    FAILED = "failed"
    BLOCKED = "blocked"
    DEACTIVATED = "deactivated"
    VOIDED = "voided"
    DELETED = "deleted"
    NOT_ATTEMPTED = "not_attempted"  # the run stopped before it


class LinkStatus(StrEnum):
    """Where a source record stands with QBO (the ledger link's ``status``)."""

    PENDING = "pending"
    EXPORTED = "exported"
    LINKED = "linked"  # linked by an operator
    FAILED = "failed"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    DEACTIVATED = "deactivated"
    VOIDED = "voided"
    DELETED = "deleted"
    KEPT_ACTIVE = "kept_active"  # a deactivation QBO refused because of an open balance (6220)
    IGNORED = "ignored"  # set by `qbo-pipeline failed ignore`: never sent until un-ignored


class RunStatus(StrEnum):
    """How an export run ended."""

    RUNNING = "running"
    OK = "ok"
    PARTIAL = "partial"  # some records failed or are blocked
    STOPPED = "stopped"  # QBO refused the connection, or the process was interrupted


# What a successful write of each planned action leaves behind.
OUTCOME_OF = {PlanAction.CREATE: Outcome.CREATED, PlanAction.UPDATE: Outcome.UPDATED,
              PlanAction.DEACTIVATE: Outcome.DEACTIVATED, PlanAction.VOID: Outcome.VOIDED,
              PlanAction.DELETE: Outcome.DELETED}
STATUS_OF = {Outcome.DEACTIVATED: LinkStatus.DEACTIVATED, Outcome.VOIDED: LinkStatus.VOIDED,
             Outcome.DELETED: LinkStatus.DELETED}  # any other success: EXPORTED

__all__ = ["OUTCOME_OF", "STATUS_OF", "LinkStatus", "Outcome", "PayloadAction", "PlanAction", "RunStatus"]
