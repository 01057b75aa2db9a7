"""What to do with each record, decided from the payloads and the ledger alone (pure).

For every payload the plan says create, update, skip, deactivate, void, delete or
blocked, with the reason, the QBO Id and SyncToken to use, and for updates a field-level
diff against what was last sent (shown by dry runs). Steps come in waves: upserts in
QBO's dependency order (accounts, customers with parents before sub-customers, items,
invoices, credit memos, payments, refunds), then removals in reverse order, so a payment
stops applying to an invoice before that invoice is voided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from qbo_pipeline.entities import EXPORT_ORDER
from qbo_pipeline.states import LinkStatus, PayloadAction, PlanAction
from qbo_pipeline.transform.payload import Payload

CREATE, UPDATE, SKIP, DEACTIVATE, VOID, DELETE, BLOCKED = (
    PlanAction.CREATE, PlanAction.UPDATE, PlanAction.SKIP, PlanAction.DEACTIVATE, PlanAction.VOID, PlanAction.DELETE,
    PlanAction.BLOCKED)
WRITE_ACTIONS = (CREATE, UPDATE, DEACTIVATE, VOID, DELETE)
IGNORED = LinkStatus.IGNORED  # set by `qbo-pipeline failed ignore`: never sent until un-ignored
KEPT_ACTIVE = LinkStatus.KEPT_ACTIVE  # a deactivation QBO refused because of an open balance (6220)
LINKED_STATUSES = (LinkStatus.EXPORTED, LinkStatus.LINKED, LinkStatus.DEACTIVATED, LinkStatus.FAILED,
                   LinkStatus.BLOCKED, LinkStatus.SKIPPED, KEPT_ACTIVE)
UPSERT = PayloadAction.UPSERT
EXPORTED = LinkStatus.EXPORTED
WANTED = {PayloadAction.DEACTIVATE: DEACTIVATE, PayloadAction.VOID: VOID, PayloadAction.DELETE: DELETE}
DONE = {PayloadAction.DEACTIVATE: LinkStatus.DEACTIVATED, PayloadAction.VOID: LinkStatus.VOIDED,
        PayloadAction.DELETE: LinkStatus.DELETED}
NAME_LISTS = ("Customer", "Item", "Account")


@dataclass
class Step:
    """One record's planned action."""

    payload: Payload
    action: str
    reason: str = ""
    qbo_id: str | None = None
    sync_token: str | None = None
    diff: list[dict[str, Any]] = field(default_factory=list)
    blocked_by: tuple[str, str] | None = None
    wave: int = 0
    pending_request_id: str | None = None  # a request sent earlier whose outcome is unknown
    hash: str = ""  # the payload's hash, computed once

    def __post_init__(self) -> None:
        if not self.hash:
            self.hash = self.payload.hash

    @property
    def key(self) -> tuple[str, str]:
        return (self.payload.entity, self.payload.source_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "entity": self.payload.entity, "source_id": self.payload.source_id, "action": str(self.action),
            "reason": self.reason, "qbo_id": self.qbo_id, "diff": self.diff,
            "blocked_by": list(self.blocked_by) if self.blocked_by else None, "wave": self.wave,
        }


@dataclass
class Plan:
    steps: list[Step]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for step in self.steps:
            out[step.action] = out.get(step.action, 0) + 1
        return out

    def waves(self) -> list[list[Step]]:
        """Steps grouped by wave, in execution order; writes only."""
        grouped: dict[int, list[Step]] = {}
        for step in self.steps:
            if step.action in WRITE_ACTIONS:
                grouped.setdefault(step.wave, []).append(step)
        return [grouped[w] for w in sorted(grouped)]

    def by_action(self, action: str) -> list[Step]:
        return [s for s in self.steps if s.action == action]


def diff_bodies(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Field-level differences between two payload bodies (``path`` like ``Line[0].Amount``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append({"field": sub, "old": None, "new": new[key]})
            elif key not in new:
                out.append({"field": sub, "old": old[key], "new": None})
            else:
                out.extend(diff_bodies(old[key], new[key], sub))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            out.extend(diff_bodies(a, b, f"{path}[{index}]"))
        return out
    return [] if old == new else [{"field": path or "(body)", "old": old, "new": new}]


def _order_index(entity: str) -> int:
    return EXPORT_ORDER.index(entity) if entity in EXPORT_ORDER else len(EXPORT_ORDER)


def _depths(payloads: list[Payload]) -> dict[tuple[str, str], int]:
    """Depth of each record among records of its own entity (parents 0, sub-customers 1, ...)."""
    keys = {(p.entity, p.source_id): p for p in payloads}
    depth: dict[tuple[str, str], int] = {}

    def visit(key: tuple[str, str], trail: tuple[tuple[str, str], ...]) -> int:
        if key in depth:
            return depth[key]
        if key in trail:
            raise ValueError(f"circular reference between records: {' -> '.join(':'.join(k) for k in trail + (key,))}")
        payload = keys[key]
        parents = [d for d in payload.depends_on if d[0] == key[0] and d in keys and d != key]
        depth[key] = 1 + max((visit(parent, trail + (key,)) for parent in parents), default=-1)
        return depth[key]

    for key in keys:
        visit(key, ())
    return depth


PARENT_SKIPPED = "parent_skipped"  # rule name: a record whose parent a named rule kept out


def plan(
    payloads: list[Payload],
    ledger_state: Mapping[tuple[str, str], Mapping[str, Any]],
    *,
    pending: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    book_close_date: date | str | None = None,
    closed_period: str = "skip",
    max_attempts: int | None = None,
    quarantined: Mapping[tuple[str, str], str] | None = None,
    skipped: Mapping[tuple[str, str], str] | None = None,
    still_needed: Mapping[tuple[str, str], str] | None = None,
) -> Plan:
    """Decide each record's action from its payload and its ledger link (``(entity, source_id) -> link``).

    ``quarantined`` maps ``(QBO entity, source id)`` of records that never reach QBO because
    validation quarantined them to the reason, so their dependents are blocked naming it.
    ``skipped`` maps records a named rule kept out of this export (a sales receipt before the
    sync start) to the rule: their dependents are skipped by ``parent_skipped``, not blocked,
    because nothing is wrong that the user has to fix.
    ``still_needed`` maps names some later source transaction (not in QBO, not in this plan)
    still points at to a description of it: their deactivation waits, because QBO refuses a
    transaction that points at an inactive name.
    """
    pending = pending or {}
    quarantined = quarantined or {}
    skipped = skipped or {}
    still_needed = still_needed or {}
    seen: set[tuple[str, str]] = set()
    for payload in payloads:
        key = (payload.entity, payload.source_id)
        if key in seen:
            raise ValueError(f"two payloads for the same record {payload.entity} {payload.source_id}")
        seen.add(key)
    close = str(book_close_date) if book_close_date else None
    depths = _depths(payloads)
    steps: dict[tuple, Step] = {}
    removal_base = 1000
    # names that records written by this plan point at (an unchanged record is not sent, so it needs nothing)
    referenced = {parent for p in payloads if p.action == UPSERT and not _unchanged(p, ledger_state)
                  for parent in p.depends_on}
    for payload in sorted(payloads, key=lambda p: (_order_index(p.entity), depths[(p.entity, p.source_id)])):
        key = (payload.entity, payload.source_id)
        link = ledger_state.get(key) or {}
        qbo_id = link.get("qbo_id")
        status = link.get("status")
        step = Step(payload, SKIP, qbo_id=qbo_id, sync_token=link.get("sync_token"))
        step.pending_request_id = (pending.get(key) or {}).get("request_id")
        order = _order_index(payload.entity)
        if status == IGNORED:
            step.reason = "ignored by an operator (`qbo-pipeline failed clear --ignored` resumes it)"
        elif payload.action == UPSERT:
            step.wave = order * 10 + depths[key]
            if qbo_id and status == EXPORTED and link.get("payload_hash") == step.hash:
                step.reason = "unchanged"
            elif qbo_id and status not in (LinkStatus.DELETED, LinkStatus.VOIDED):
                step.action, step.reason = UPDATE, "changed" if status == EXPORTED else f"ledger status {status}"
                step.diff = diff_bodies(link.get("body") or {}, payload.body)
            elif qbo_id:
                step.reason = f"{status} in QBO; a removed record is not recreated"
            elif (max_attempts and status == LinkStatus.FAILED and link.get("attempted_hash") == step.hash
                  and (link.get("attempts") or 0) >= max_attempts):
                step.reason = f"failed {link.get('attempts')} times with this content; fix it or retry the record"
            else:
                step.action, step.reason = CREATE, "new" if not status else f"not in QBO yet ({status})"
        elif payload.action in WANTED:
            wanted, done = WANTED[PayloadAction(payload.action)], DONE[PayloadAction(payload.action)]
            step.wave = removal_base + (len(EXPORT_ORDER) - order) * 10 + (10 - min(depths[key], 9))
            if payload.action == PayloadAction.DEACTIVATE and payload.entity not in NAME_LISTS:
                raise ValueError(f"{payload.entity} {payload.source_id}: only name lists can be deactivated")
            if payload.action in (PayloadAction.VOID, PayloadAction.DELETE) and payload.entity in NAME_LISTS:
                raise ValueError(f"{payload.entity} {payload.source_id}: name lists are deactivated, not {payload.action}d")
            if payload.action == PayloadAction.DEACTIVATE and key in referenced and (not qbo_id or status == LinkStatus.DEACTIVATED):
                # inactive in the source but records of this plan point at it: create it (or make it
                # active again) first, as QBO refuses transactions for inactive names, export them, then
                # deactivate it after them
                active = Payload(payload.entity, payload.source_id, {**payload.body, "Active": True},
                                 action=UPSERT, lookup=payload.lookup, txn_date=payload.txn_date)
                if qbo_id:
                    first = Step(active, UPDATE, reason="inactive in the source and in QBO, but records in this "
                                                        "export need it: made active for them, then deactivated",
                                 qbo_id=qbo_id, sync_token=link.get("sync_token"))
                else:
                    first = Step(active, CREATE, reason="inactive in the source, but records in this export need "
                                                        "it: created, then deactivated after them")
                first.wave = order * 10 + depths[key]
                steps[key] = first
                if key in still_needed:
                    step.reason = f"kept active: {still_needed[key]} still need it"
                else:
                    step.action = DEACTIVATE
                    step.reason = "inactive in the source (" + ("made active" if qbo_id else "created") + \
                        " in this export for the records that need it)"
                steps[(*key, "then")] = step
                continue
            if payload.action == PayloadAction.DEACTIVATE and key in still_needed and status != LinkStatus.DEACTIVATED:
                step.reason = f"kept active: {still_needed[key]} still need it"
                steps[key] = step
                continue
            if not qbo_id:
                step.reason = "never exported; nothing to remove in QBO"
            elif status == done:
                step.reason = f"already {done}"
            elif status == KEPT_ACTIVE and link.get("attempted_hash") == step.hash:
                step.reason = "kept active: QBO refused to deactivate it (open balance); retried when it changes"
            elif status == LinkStatus.DELETED:
                step.reason = "already deleted"
            else:
                step.action, step.reason = wanted, f"{payload.action}d in the source"
        else:
            raise ValueError(f"{payload.entity} {payload.source_id}: unknown payload action {payload.action!r}")
        if step.action in (CREATE, UPDATE, VOID, DELETE) and close and payload.txn_date and payload.txn_date <= close:
            if closed_period == "skip":
                step.action, step.reason = SKIP, (
                    f"closed period: dated {payload.txn_date}, books closed through {close} "
                    "(move QBO's closing date to export it)")
            else:
                step.action, step.reason = BLOCKED, f"closed period: books closed through {close}"
        steps[key] = step
    _block_dependents(steps, ledger_state, quarantined, skipped)
    return Plan(list(steps.values()))


def _unchanged(payload: Payload, ledger_state: Mapping[tuple[str, str], Mapping[str, Any]]) -> bool:
    link = ledger_state.get((payload.entity, payload.source_id)) or {}
    return bool(link.get("qbo_id")) and link.get("status") == EXPORTED and link.get("payload_hash") == payload.hash


def _block_dependents(steps: dict[tuple, Step], ledger_state: Mapping[tuple[str, str], Mapping[str, Any]],
                      quarantined: Mapping[tuple[str, str], str],
                      skipped: Mapping[tuple[str, str], str]) -> None:
    """Records whose parent cannot be in QBO are blocked, naming the parent (and, for a
    quarantined parent, why it was quarantined: that is what the user has to fix)."""
    for step in steps.values():  # already in dependency order
        if step.action not in (CREATE, UPDATE):
            continue
        for parent in step.payload.depends_on:
            parent_step = steps.get(parent)
            parent_link = ledger_state.get(parent) or {}
            if parent_step is not None:
                if parent_step.action == BLOCKED or (parent_step.action == SKIP and not parent_link.get("qbo_id")):
                    step.action, step.blocked_by = BLOCKED, parent
                    step.reason = f"parent {parent[0]} {parent[1]} is {parent_step.action}: {parent_step.reason}"
                    break
            elif not parent_link.get("qbo_id"):
                if parent in skipped:  # kept out by a named rule: so is the record that needs it
                    step.action = SKIP
                    step.reason = f"{PARENT_SKIPPED}: {parent[0]} {parent[1]} is skipped ({skipped[parent]})"
                    break
                step.action, step.blocked_by = BLOCKED, parent
                if parent in quarantined:
                    step.reason = f"{parent[0]} {parent[1]} is quarantined: {quarantined[parent]}"
                else:
                    state = parent_link.get("status") or "not exported"
                    step.reason = f"parent {parent[0]} {parent[1]} is not in QBO ({state})"
                break

