"""Products -> QBO Item payloads (Service, NonInventory, Inventory) with their accounts."""

from __future__ import annotations

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.names import disambiguate
from qbo_pipeline.transform.payload import Payload, named_ref
from qbo_pipeline.transform.product_names import TEMPLATE_RULE, is_derived, is_template
from qbo_pipeline.transform.rules import LIMITS, Report, cents_to_float, money, text

ITEM_TYPES = {"service": "Service", "non_inventory": "NonInventory", "inventory": "Inventory"}


def build_items(products: pd.DataFrame, config: PipelineConfig,
                context: TransformContext | None = None) -> TransformResult:
    """One Item payload per product; ``Sku`` is the source catalog id.

    Accounts: the product's own, else ``accounts.service_income`` for services and
    ``accounts.income`` otherwise; expense is ``accounts.cost_of_goods_sold``; inventory items
    also get ``accounts.inventory_asset``, quantity tracking and ``InvStartDate`` = the sync
    start date. Same-name products get `` (sku)`` or `` (source id)``.
    """
    context = context or TransformContext()
    report = Report("products")
    accounts, options = config.accounts, config.options
    max_len = min(options.name_max_length, LIMITS["Name"])
    rows = sorted(products.to_dict("records"), key=lambda r: str(r["id"]))
    if options.product_name_tokens:  # a template is not an item: the products its filled names make are
        for row in [r for r in rows if is_template(r["name"]) and not is_derived(str(r["id"]))]:
            report.skip(str(row["id"]), TEMPLATE_RULE, "A product name template: each invoice line billing it "
                                                       "creates the product its filled name makes.")
            rows.remove(row)
    bases = {}
    for row in rows:
        sid = str(row["id"])
        bases[sid] = report.fit(sid, "Name", text(row["name"]) or text(row["sku"]) or sid, max_len, name=True)
    skus = {str(r["id"]): text(r["sku"]) for r in rows}
    names = disambiguate(bases, skus, context.claimed_item_names, max_len, report, "Name")
    payloads = []
    for row in rows:
        sid = str(row["id"])
        kind = text(row["type"]) or "service"
        item_type = ITEM_TYPES[kind]
        body: dict = {"Name": names[sid], "Type": item_type}
        sku = report.fit(sid, "Sku", text(row["sku"]))
        if sku:
            body["Sku"] = sku
        description = report.fit(sid, "Description", text(row["description"]), options.description_max_length)
        if description:
            body["Description"] = description
        if row["unit_price"] == row["unit_price"] and row["unit_price"] is not None:
            body["UnitPrice"] = cents_to_float(int(money(row["unit_price"]) * 100))
        if row["cost"] == row["cost"] and row["cost"] is not None:
            body["PurchaseCost"] = cents_to_float(int(money(row["cost"]) * 100))
        body["Taxable"] = bool(row["taxable"])
        default_income = accounts.service_income if item_type == "Service" else accounts.income
        body["IncomeAccountRef"] = named_ref("Account", text(row["income_account"]) or default_income)
        body["ExpenseAccountRef"] = named_ref("Account", text(row["expense_account"]) or accounts.cost_of_goods_sold)
        if item_type == "Inventory":
            body["AssetAccountRef"] = named_ref("Account", accounts.inventory_asset)
            body["TrackQtyOnHand"] = True
            qty = row["qty_on_hand"]
            body["QtyOnHand"] = float(qty) if qty == qty and qty is not None else 0.0
            body["InvStartDate"] = options.sync_start_date.isoformat()
        active = bool(row["active"]) and not bool(row["deleted"])
        body["Active"] = active
        lookup = {"Name": names[sid]}
        if sku:
            lookup["Sku"] = sku
        payloads.append(Payload("Item", sid, body, action="upsert" if active else "deactivate", lookup=lookup))
    skipped, normalisations = report.frames()
    return TransformResult(payloads, skipped, normalisations)
