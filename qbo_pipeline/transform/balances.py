"""Invoice totals and open balances computed from the source frames (pure, vectorized)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from qbo_pipeline.transform.context import InvoiceState
from qbo_pipeline.transform.invoices import invoice_total_cents
from qbo_pipeline.transform.rules import iso_date, to_cents


def _cents_by(keys: pd.Series, amounts: pd.Series) -> pd.Series:
    if keys.empty:
        return pd.Series(dtype="int64")
    return pd.Series(to_cents(amounts.to_numpy()), index=keys.to_numpy()).groupby(level=0).sum()


def invoice_states(invoices: pd.DataFrame, invoice_lines: pd.DataFrame,
                   payment_applications: pd.DataFrame | None = None,
                   credits: pd.DataFrame | None = None, *, inclusive: bool = False) -> dict[str, InvoiceState]:
    """Per invoice: status, customer, total (lines minus discounts, plus billed tax, minus the
    invoice discount), and balance after the payment applications, the (not deleted) credits
    that name it and the credit notes that credit it."""
    net = invoice_total_cents(invoices, invoice_lines, inclusive=inclusive)
    paid = pd.Series(dtype="int64")
    if payment_applications is not None and not payment_applications.empty:
        paid = _cents_by(payment_applications["invoice_id"], payment_applications["amount"])
    credited = pd.Series(dtype="int64")
    if credits is not None and not credits.empty:
        live = credits[credits["invoice_id"].notna() & ~credits["deleted"].astype(bool)]
        credited = _cents_by(live["invoice_id"], live["amount"])
    if "kind" in invoices and "credited_invoice_id" in invoices:
        notes = (invoices["kind"] == "credit_note").to_numpy() & invoices["credited_invoice_id"].notna().to_numpy() \
            & ~invoices["deleted"].astype(bool).to_numpy()
        if notes.any():
            by_note = pd.Series(net.to_numpy()[notes], index=invoices["credited_invoice_id"].to_numpy()[notes])
            credited = credited.add(by_note.groupby(level=0).sum(), fill_value=0)
    ids = invoices["id"].astype(str)
    total = ids.map(net).fillna(0).to_numpy(dtype="int64")
    balance = total - ids.map(paid).fillna(0).to_numpy(dtype="int64") - ids.map(credited).fillna(0).to_numpy(dtype="int64")
    states = {}
    for sid, status, customer, changed, t, b in zip(ids, invoices["status"], invoices["customer_id"],
                                                    invoices["updated_at"], total, balance, strict=True):
        states[str(sid)] = InvoiceState(str(status), str(customer), Decimal(int(t)).scaleb(-2),
                                        Decimal(int(np.int64(b))).scaleb(-2), iso_date(changed) or "")
    return states
