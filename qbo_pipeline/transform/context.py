"""What a builder may know from outside its frame, and what it returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from qbo_pipeline.transform.payload import Payload
from qbo_pipeline.transform.rules import NORMALISATION_COLUMNS, SKIPPED_COLUMNS


@dataclass(frozen=True)
class InvoiceState:
    """What the source says about an invoice as a whole (see ``invoice_states``)."""

    status: str
    customer_id: str
    total: Decimal
    balance: Decimal
    last_change: str  # ISO date of the invoice's last change (the closing date of a closed invoice)


@dataclass(frozen=True)
class TransformContext:
    """Facts from earlier syncs or other entities, handed in by the caller (never read here).

    - ``claimed_names``: casefolded Customer DisplayName -> source id already holding it in
      QBO (from the ledger), so the same customer keeps its name across runs.
    - ``claimed_item_names``: the same for Item names.
    - ``invoices``: source invoice id -> :class:`InvoiceState` (status, total, open balance),
      for the unpaid-before-start rule, payments of kept invoices, credits applied to
      invoices and bad debt on closed unpaid invoices. Build it with
      :func:`qbo_pipeline.transform.balances.invoice_states`. ``invoice_statuses`` and
      ``invoice_balances`` are the plain alternative (enough for every rule except bad debt
      on closed unpaid invoices, which needs the customer and closing date of ``invoices``).
    - ``payment_deposit_accounts``: source payment id -> account the payment went to, for
      refunds that leave "the same account as payments".
    """

    claimed_names: Mapping[str, str] = field(default_factory=dict)
    claimed_item_names: Mapping[str, str] = field(default_factory=dict)
    invoices: Mapping[str, InvoiceState] = field(default_factory=dict)
    invoice_statuses: Mapping[str, str] = field(default_factory=dict)
    invoice_balances: Mapping[str, Decimal | float] = field(default_factory=dict)

    def statuses(self) -> dict[str, str]:
        """Source invoice id -> status, from ``invoices`` and the plain ``invoice_statuses``."""
        return {**self.invoice_statuses, **{k: v.status for k, v in self.invoices.items()}}

    def balances(self) -> dict[str, Decimal]:
        """Source invoice id -> open balance, from ``invoices`` and the plain ``invoice_balances``."""
        plain = {k: Decimal(repr(v)) if isinstance(v, float) else Decimal(v) for k, v in self.invoice_balances.items()}
        return {**plain, **{k: v.balance for k, v in self.invoices.items()}}
    payment_deposit_accounts: Mapping[str, str] = field(default_factory=dict)


@dataclass
class TransformResult:
    """Payloads in export order, the rows skipped by a named rule, and every value changed."""

    payloads: list[Payload]
    skipped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SKIPPED_COLUMNS))
    normalisations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NORMALISATION_COLUMNS))
