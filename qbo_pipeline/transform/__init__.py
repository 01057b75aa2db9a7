"""Pure functions that turn validated canonical rows into QBO payloads following QBO's rules.

``build_payloads(entity, valid, config, context=...)`` dispatches to ``build_customers``,
``build_items``, ``build_invoices``, ``build_payments``, ``build_credit_memos`` and
``build_refund_receipts``. Nothing here does I/O: what a builder needs from outside its
frame comes in a :class:`TransformContext`.
"""

from __future__ import annotations

import logging

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.balances import invoice_states
from qbo_pipeline.transform.context import InvoiceState, TransformContext, TransformResult
from qbo_pipeline.transform.credit_memos import build_credit_memos
from qbo_pipeline.transform.customers import build_customers
from qbo_pipeline.transform.invoices import build_invoices
from qbo_pipeline.transform.items import build_items
from qbo_pipeline.transform.payments import build_payments, deposit_accounts
from qbo_pipeline.transform.refund_receipts import build_refund_receipts
from qbo_pipeline.transform.rules import LIMITS

log = logging.getLogger(__name__)

__all__ = [
    "LIMITS",
    "InvoiceState",
    "TransformContext",
    "TransformResult",
    "build_credit_memos",
    "build_customers",
    "build_invoices",
    "build_items",
    "build_payloads",
    "build_payments",
    "build_refund_receipts",
    "deposit_accounts",
    "invoice_states",
]

def build_payloads(entity: str, valid: dict[str, pd.DataFrame], config: PipelineConfig, *,
                   context: TransformContext | None = None) -> TransformResult:
    """Payloads for the valid rows of ``entity`` (frames as returned by ``schemas.validate``).

    The builder and the frames it takes come from the entity registry (imported here, not at
    the top: the registry refers to the builders of this package)."""
    from qbo_pipeline import entities

    try:
        spec = entities.entity(entity)
    except KeyError:
        raise ValueError(f"unknown entity {entity!r}; expected one of {', '.join(entities.NAMES)}") from None
    result = spec.build_payloads(valid, config, context)
    log.info("%s: %d payload(s), %d skipped by rule, %d value(s) normalised", entity, len(result.payloads),
             len(result.skipped), len(result.normalisations))
    return result
