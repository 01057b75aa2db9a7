"""The contract between the transform and the export engine.

A transform turns canonical rows into QBO request bodies, but it cannot know QBO Ids:
a new invoice's customer may not exist in QBO yet, and the accounts and tax codes a
company uses are only known once we talk to it. So payload bodies carry *placeholders*
where a QBO reference goes, and the export engine resolves them from the sync ledger
and the company's lists just before the call:

- ``source_ref("Customer", "C17")``: the QBO record exported for source row C17.
  If that record failed, the dependent record is *blocked*, naming its parent.
- ``named_ref("Account", "Undeposited Funds")``: a name-list entry found (or created,
  for accounts the configuration needs) by name in the company.

Both resolve to QBO's reference shape ``{"value": "<Id>", "name": "<name>"}``, or to the
bare Id string when built with ``as_id=True`` (for ``LinkedTxn.TxnId``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

REF_KEY = "$ref"


def __getattr__(name: str) -> Any:
    """``EXPORT_ORDER`` (QBO entities, parents first) and ``QBO_ENTITY_FOR_SOURCE`` (canonical entity ->
    QBO entity) come from the entity registry, which imports the builders that import this module."""
    if name == "EXPORT_ORDER":
        from qbo_pipeline.entities import EXPORT_ORDER

        return EXPORT_ORDER
    if name == "QBO_ENTITY_FOR_SOURCE":
        from qbo_pipeline.entities import REGISTRY

        return {e.name: e.qbo_entity for e in REGISTRY}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


OWNERSHIP_PREFIX = "[qbo-pipeline "


def ownership_marker(entity: str, source_id: str) -> str:
    """The line every exported transaction carries in its PrivateNote: ``[qbo-pipeline Invoice 17]``.

    It is how the exporter later proves a QBO record with the same number is its own (a
    response lost after QBO committed) and not a person's (see ``export/ownership.py``).
    """
    return f"{OWNERSHIP_PREFIX}{entity} {source_id}]"


def with_marker(note: str | None, entity: str, source_id: str, limit: int = 4000) -> str:
    """``note`` (cut so the marker fits in ``limit``) followed by the ownership marker on its own line."""
    marker = ownership_marker(entity, source_id)
    if not note:
        return marker
    room = limit - len(marker) - 1
    return f"{note[:room].rstrip()}\n{marker}"


def source_ref(entity: str, source_id: str, *, as_id: bool = False) -> dict[str, Any]:
    """Placeholder for the QBO record exported from another source row."""
    return {REF_KEY: {"kind": "source", "entity": entity, "source_id": str(source_id), "as_id": as_id}}


def named_ref(entity: str, name: str, *, as_id: bool = False) -> dict[str, Any]:
    """Placeholder for a company list entry (Account, TaxCode, PaymentMethod, Term, Item) found by name."""
    return {REF_KEY: {"kind": "named", "entity": entity, "name": name, "as_id": as_id}}


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and REF_KEY in value


def iter_refs(body: Any) -> Iterator[dict[str, Any]]:
    """Every placeholder in a payload body, depth first."""
    if is_ref(body):
        yield body[REF_KEY]
    elif isinstance(body, dict):
        for value in body.values():
            yield from iter_refs(value)
    elif isinstance(body, list):
        for value in body:
            yield from iter_refs(value)


def resolve_refs(body: Any, resolve: Callable[[dict[str, Any]], tuple[str, str | None]]) -> Any:
    """A copy of ``body`` with each placeholder replaced by what ``resolve`` returns.

    ``resolve(ref) -> (qbo_id, display_name)``; it raises when a reference cannot be
    resolved, and the engine turns that into a blocked or failed record.
    """
    if is_ref(body):
        ref = body[REF_KEY]
        qbo_id, name = resolve(ref)
        if ref.get("as_id"):
            return qbo_id
        return {"value": qbo_id, "name": name} if name else {"value": qbo_id}
    if isinstance(body, dict):
        return {key: resolve_refs(value, resolve) for key, value in body.items()}
    if isinstance(body, list):
        return [resolve_refs(value, resolve) for value in body]
    return body


def payload_hash(body: dict[str, Any]) -> str:
    """Stable hash of a payload body (placeholders included): unchanged hash = nothing to send."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Payload:
    """One record to upsert into QBO.

    ``action`` is ``upsert`` (create or update), ``deactivate`` (name lists: Active=false),
    ``void`` or ``delete`` (transactions). ``lookup`` holds the natural keys the engine uses
    to find an existing QBO record before creating one (``DisplayName``, ``PrimaryEmailAddr``,
    ``Name``, ``Sku``, ``DocNumber``).
    """

    entity: str
    source_id: str
    body: dict[str, Any]
    action: str = "upsert"
    lookup: dict[str, str] = field(default_factory=dict)
    txn_date: str | None = None  # ISO date for transactions: partitions, closed-period checks

    @property
    def hash(self) -> str:
        return payload_hash({"action": self.action, "body": self.body})

    @property
    def depends_on(self) -> list[tuple[str, str]]:
        """(entity, source_id) of the pipeline records this one references."""
        return [(r["entity"], r["source_id"]) for r in iter_refs(self.body) if r["kind"] == "source"]
