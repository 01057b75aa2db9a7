"""When customers and items become inactive in QuickBooks: after the transactions that use them.

QBO refuses a transaction that points at an inactive customer or item (610). A billing
system, though, often marks a customer inactive together with its last invoice, and keeps
the history of customers that left long ago. So an export deactivates name-list records
last, after every transaction of the run, and a record that is inactive in the source but
was never exported is first created active, so that its history can point at it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from qbo_pipeline.transform.payload import Payload


def split_deactivations(
    payloads: list[Payload],
    links: Mapping[tuple[str, str], Mapping[str, Any]],
    needed: Callable[[], set[tuple[str, str]]] | None = None,
) -> tuple[list[Payload], list[Payload]]:
    """``(now, at_end)``: what to export with the name lists, and the deactivations for the end of the run.

    ``links`` are the ledger's links of these entities, keyed by ``(entity, source_id)``.
    ``needed`` returns the ``(entity, source_id)`` of names some source transaction points
    at; it is called only when an inactive name was never exported, and only those are
    created (None: create them all). A dormant name nothing points at stays out of QBO.
    """
    now: list[Payload] = []
    at_end: list[Payload] = []
    wanted: set[tuple[str, str]] | None = None
    for payload in payloads:
        if payload.action != "deactivate":
            now.append(payload)
            continue
        at_end.append(payload)
        key = (payload.entity, payload.source_id)
        if not (links.get(key) or {}).get("qbo_id"):
            if needed is not None:
                wanted = needed() if wanted is None else wanted
                if key not in wanted:
                    continue
            now.append(
                Payload(
                    payload.entity,
                    payload.source_id,
                    {**payload.body, "Active": True},
                    action="upsert",
                    lookup=payload.lookup,
                    txn_date=payload.txn_date,
                )
            )
    return now, at_end


REMOVALS = ("void", "delete")


def transaction_export_payloads(entity: str, payloads_by_entity: Mapping[str, list[Payload]]) -> list[Payload]:
    """The payloads the export of one transaction entity sends.

    QBO refuses to void or delete an invoice (or credit memo) that a payment still applies
    to, and the source's payment change that unapplies it is exported with the payments.
    So invoice and credit-memo removals wait for the payments export, whose engine run
    updates the payments first and removes afterwards.
    """
    own = list(payloads_by_entity.get(entity, []))
    if entity in ("invoices", "credits"):
        return [p for p in own if p.action not in REMOVALS]
    if entity == "payments":
        deferred = [
            p for other in ("invoices", "credits") for p in payloads_by_entity.get(other, []) if p.action in REMOVALS
        ]
        return own + deferred
    return own
