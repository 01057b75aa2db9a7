"""The asset graph of one company: source -> validated -> payloads -> export.

Customers and items are small name lists: they are extracted whole on every run and the
export skips unchanged records by payload hash (changed-only upserts). Transactions are
partitioned daily by transaction date; a run over a range of days (a backfill, or what the
source sensor requests) is one run, not one run per day.

Every company gets its own copy of the graph under its key (``demo/qbo_invoices``): a
company's failures, limits and locks never touch another's, and its runs carry the
``qbo_pipeline/company`` tag that the run queue uses to keep one export per company.
The assets are thin: each one calls a stage of ``qbo_pipeline.sync``.
"""


from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg

from qbo_pipeline import sync
from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.defs import metadata
from qbo_pipeline.defs.partitions import transaction_partitions, window_for_context
from qbo_pipeline.defs.resources import PipelineResource, QboResource
from qbo_pipeline.schemas import ValidationResult
from qbo_pipeline.transform import TransformResult
from qbo_pipeline.transform.payload import Payload

BACKFILL_DAYS_PER_RUN = 92
COMPANY_TAG = "qbo_pipeline/company"

# source entity -> (payload asset name, export asset name, QBO entity)
MASTER = {
    "customers": ("customer_payloads", "qbo_customers", "Customer"),
    "products": ("item_payloads", "qbo_items", "Item"),
}
# export asset name -> (source entity, QBO entity, export assets it must follow)
TRANSACTION_EXPORTS = {
    "qbo_invoices": ("invoices", "Invoice", ("qbo_customers", "qbo_items")),
    "qbo_credit_memos": ("credits", "CreditMemo", ("qbo_invoices",)),
    "qbo_payments": ("payments", "Payment", ("qbo_invoices", "qbo_credit_memos")),
    "qbo_refund_receipts": ("refunds", "RefundReceipt", ("qbo_payments",)),
}


class ExportRunConfig(dg.Config):
    """Run options of an export asset."""

    dry_run: bool = False
    """Plan only: show create / update / skip with a field-level diff, write nothing to QuickBooks."""


def _key(company: str, name: str) -> dg.AssetKey:
    return dg.AssetKey([company, name])


def _check(company: str, asset: str, name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=_key(company, asset), description=description)


def _quarantine_check(company: str, asset: str) -> dg.AssetCheckSpec:
    return _check(company, asset, "quarantine_rate", "Share of source rows quarantined stays under the configured limit.")


def _normalisation_check(company: str, asset: str) -> dg.AssetCheckSpec:
    return _check(company, asset, "normalisation_report", "Names and texts were exported as they are in the source (no truncation or rename).")


def _export_checks(company: str, asset: str, *, reconcile: bool) -> list[dg.AssetCheckSpec]:
    specs = [_check(company, asset, "no_failed_or_blocked", "Every payload was exported or skipped; none failed or is blocked.")]
    if reconcile:
        specs.append(_check(company, asset, "reconciliation", "Counts and totals in QuickBooks match what was exported for these days."))
    return specs


def build_company_assets(config: PipelineConfig, company: str) -> list[dg.AssetsDefinition]:
    """All assets of one company."""
    return [*_master_assets(config, company), *_transaction_assets(config, company), _deactivations_asset(company)]


def _master_assets(config: PipelineConfig, company: str) -> list[dg.AssetsDefinition]:
    assets: list[dg.AssetsDefinition] = []
    previous_export: str | None = None
    for entity, (payload_name, export_name, qbo_entity) in MASTER.items():
        assets += _master_chain(company, entity, payload_name, export_name, qbo_entity, previous_export)
        previous_export = export_name
    return assets


def _master_chain(
    company: str, entity: str, payload_name: str, export_name: str, qbo_entity: str, follows: str | None
) -> list[dg.AssetsDefinition]:
    source_name, validated_name = f"source_{entity}", f"validated_{entity}"

    @dg.asset(
        key=_key(company, source_name),
        group_name="source",
        kinds={"sql"},
        description=f"The {entity} of the billing database, mapped onto the canonical model.",
        metadata={"dagster/column_schema": metadata.column_schema(entity)},
        tags={COMPANY_TAG: company},
    )
    def source_asset(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.Output[dict]:
        config = pipeline.load()
        with sync.reader_for(config, company) as reader:
            frames = sync.extract_frames(reader, [entity])
        return dg.Output(frames, metadata=metadata.extract_metadata(frames))

    @dg.asset(
        key=_key(company, validated_name),
        ins={"frames": dg.AssetIn(key=_key(company, source_name))},
        group_name="validated",
        kinds={"pandera"},
        description=f"{entity.capitalize()} that pass their contract; failing rows are quarantined with a reason.",
        check_specs=[_quarantine_check(company, validated_name)],
        tags={COMPANY_TAG: company},
    )
    def validated_asset(context: dg.AssetExecutionContext, pipeline: PipelineResource, frames: dict):
        config = pipeline.load()
        with sync.reader_for(config, company) as reader:
            known = sync.known_source_ids(reader, ["customers"] if entity == "customers" else [])
        result = sync.validate_frames([entity], frames, known, config)[entity]
        sync.record_quarantine(config, company, context.run_id, result.quarantine)
        yield dg.Output(result, metadata=metadata.validation_metadata(entity, frames, result))
        yield metadata.quarantine_check(config, entity, frames, result, asset_key=_key(company, validated_name))

    @dg.asset(
        key=_key(company, payload_name),
        ins={"validated": dg.AssetIn(key=_key(company, validated_name))},
        group_name="payloads",
        kinds={"python"},
        description=f"QBO {qbo_entity} payloads built from the valid {entity}, following QBO's rules.",
        check_specs=[_normalisation_check(company, payload_name)],
        tags={COMPANY_TAG: company},
    )
    def payload_asset(context: dg.AssetExecutionContext, pipeline: PipelineResource, validated: ValidationResult):
        config = pipeline.load()
        context_values = sync.transform_context(config, company, [entity])
        result = sync.transform_valid([entity], {entity: validated}, config, **context_values)[entity]
        yield dg.Output(result, metadata=metadata.transform_metadata(result))
        yield metadata.normalisation_check(result, asset_key=_key(company, payload_name))

    deps = [_key(company, follows)] if follows else []

    @dg.asset(
        key=_key(company, export_name),
        ins={
            "payloads": dg.AssetIn(key=_key(company, payload_name)),
            "validated": dg.AssetIn(key=_key(company, validated_name)),
        },
        deps=deps,
        group_name="export",
        kinds={"quickbooks"},
        pool=f"qbo_export_{company}",
        description=f"{qbo_entity} records upserted into the company's QuickBooks (changed records only).",
        check_specs=_export_checks(company, export_name, reconcile=False),
        tags={COMPANY_TAG: company},
    )
    def export_asset(
        context: dg.AssetExecutionContext,
        config: ExportRunConfig,
        pipeline: PipelineResource,
        qbo: QboResource,
        payloads: Any,
        validated: ValidationResult,
    ) -> dg.MaterializeResult:
        return _export(
            context, config, pipeline, qbo, company, entity, qbo_entity, payloads, validated, window=None,
            select=lambda session, found: split_deactivations(
                found, session.ledger.links(company, qbo_entity), needed=lambda: _referenced_names(pipeline, company)
            )[0],
        )

    return [source_asset, validated_asset, payload_asset, export_asset]


def _referenced_names(pipeline: PipelineResource, company: str) -> set[tuple[str, str]]:
    with sync.reader_for(pipeline.load(), company) as reader:
        return sync.referenced_names(reader)


def _deactivations_asset(company: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=_key(company, "qbo_deactivations"),
        ins={
            "customers": dg.AssetIn(key=_key(company, "customer_payloads")),
            "items": dg.AssetIn(key=_key(company, "item_payloads")),
        },
        deps=[_key(company, name) for name in ("qbo_customers", "qbo_items", "qbo_refund_receipts")],
        group_name="export",
        kinds={"quickbooks"},
        pool=f"qbo_export_{company}",
        description="Customers and items inactive in the source, deactivated after every transaction of the run "
        "(QuickBooks refuses transactions for inactive names).",
        check_specs=_export_checks(company, "qbo_deactivations", reconcile=False),
        tags={COMPANY_TAG: company},
    )
    def deactivations(
        context: dg.AssetExecutionContext,
        config: ExportRunConfig,
        pipeline: PipelineResource,
        qbo: QboResource,
        customers: Any,
        items: Any,
    ) -> dg.MaterializeResult:
        payloads = [p for result in (customers, items) for p in result.payloads if p.action == "deactivate"]
        return _export(
            context, config, pipeline, qbo, company, "customers", "Customer/Item", TransformResult(payloads), None,
            window=None,
        )

    return deactivations


def _transaction_assets(config: PipelineConfig, company: str) -> list[dg.AssetsDefinition]:
    partitions = transaction_partitions(config)
    policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_DAYS_PER_RUN)
    common: dict[str, Any] = {"partitions_def": partitions, "backfill_policy": policy, "tags": {COMPANY_TAG: company}}

    @dg.asset(
        key=_key(company, "source_transactions"),
        group_name="source",
        kinds={"sql"},
        description="Invoices (with lines), credits, payments (with applications) and refunds of the days in the run.",
        **common,
    )
    def source_transactions(context: dg.AssetExecutionContext, pipeline: PipelineResource) -> dg.Output[dict]:
        config = pipeline.load()
        window = window_for_context(context)
        context.log.info(f"extracting transactions dated {window}")
        with sync.reader_for(config, company) as reader:
            frames = sync.extract_frames(reader, sync.TRANSACTION_ENTITIES, window)
        return dg.Output(frames, metadata={"window": str(window), **metadata.extract_metadata(frames)})

    @dg.asset(
        key=_key(company, "validated_transactions"),
        ins={"frames": dg.AssetIn(key=_key(company, "source_transactions"))},
        group_name="validated",
        kinds={"pandera"},
        description="Transactions that pass their contracts; failing rows are quarantined with a reason.",
        check_specs=[_quarantine_check(company, "validated_transactions")],
        **common,
    )
    def validated_transactions(context: dg.AssetExecutionContext, pipeline: PipelineResource, frames: dict):
        config = pipeline.load()
        with sync.reader_for(config, company) as reader:
            known = sync.known_source_ids(reader)
            currencies = sync.customer_currencies(reader)
        results = sync.validate_frames(sync.TRANSACTION_ENTITIES, frames, known, config, currencies=currencies)
        for result in results.values():
            sync.record_quarantine(config, company, context.run_id, result.quarantine)
        yield dg.Output(results, metadata=metadata.validations_metadata(frames, results))
        yield metadata.quarantine_checks(config, frames, results, asset_key=_key(company, "validated_transactions"))

    @dg.asset(
        key=_key(company, "transaction_payloads"),
        ins={"validated": dg.AssetIn(key=_key(company, "validated_transactions"))},
        group_name="payloads",
        kinds={"python"},
        description="QBO Invoice, CreditMemo, Payment and RefundReceipt payloads for the days in the run.",
        check_specs=[_normalisation_check(company, "transaction_payloads")],
        **common,
    )
    def transaction_payloads(context: dg.AssetExecutionContext, pipeline: PipelineResource, validated: dict):
        config = pipeline.load()
        context_values = sync.transform_context(config, company, sync.TRANSACTION_ENTITIES, validated=validated)
        results = sync.transform_valid(sync.TRANSACTION_ENTITIES, validated, config, **context_values)
        yield dg.Output(results, metadata=metadata.transforms_metadata(results))
        yield metadata.normalisation_checks(results, asset_key=_key(company, "transaction_payloads"))

    assets = [source_transactions, validated_transactions, transaction_payloads]
    for export_name, (entity, qbo_entity, follows) in TRANSACTION_EXPORTS.items():
        assets.append(_transaction_export(company, export_name, entity, qbo_entity, follows, common))
    return assets


def _transaction_export(
    company: str, export_name: str, entity: str, qbo_entity: str, follows: tuple[str, ...], common: dict[str, Any]
) -> dg.AssetsDefinition:
    @dg.asset(
        key=_key(company, export_name),
        ins={
            "payloads": dg.AssetIn(key=_key(company, "transaction_payloads")),
            "validated": dg.AssetIn(key=_key(company, "validated_transactions")),
        },
        deps=[_key(company, name) for name in follows],
        group_name="export",
        kinds={"quickbooks"},
        pool=f"qbo_export_{company}",
        description=f"{qbo_entity} records upserted into QuickBooks for the days in the run.",
        check_specs=_export_checks(company, export_name, reconcile=True),
        **common,
    )
    def export_asset(
        context: dg.AssetExecutionContext,
        config: ExportRunConfig,
        pipeline: PipelineResource,
        qbo: QboResource,
        payloads: dict,
        validated: dict,
    ) -> dg.MaterializeResult:
        window = window_for_context(context)
        by_entity = {name: result.payloads for name, result in payloads.items()}
        return _export(
            context, config, pipeline, qbo, company, entity, qbo_entity, payloads[entity], validated[entity], window=window,
            select=lambda _session, _found: transaction_export_payloads(entity, by_entity),
        )

    return export_asset


def _export(
    context: dg.AssetExecutionContext,
    run_config: ExportRunConfig,
    pipeline: PipelineResource,
    qbo: QboResource,
    company: str,
    entity: str,
    qbo_entity: str,
    transform: Any,
    validation: ValidationResult | None,
    *,
    window: sync.Window | None,
    select: Callable[[Any, list[Any]], list[Any]] | None = None,
) -> dg.MaterializeResult:
    config = pipeline.load()
    asset_key = context.asset_key
    with qbo.session(config, company) as session:
        payloads = select(session, transform.payloads) if select else transform.payloads
        context.log.info(
            f"{'planning' if run_config.dry_run else 'exporting'} {len(payloads)} {qbo_entity} payload(s)"
            + (f" dated {window}" if window else "")
        )
        report = session.export(payloads, dry_run=run_config.dry_run, run_id=f"{context.run_id}:{asset_key.path[-1]}")
        checks = [metadata.failed_check(report, asset_key=asset_key)]
        if window is not None:
            checks.append(metadata.reconciliation_check(session, qbo_entity, payloads, report, asset_key=asset_key))
        meta = metadata.export_metadata(
            session, entity, qbo_entity, report, transform=transform, validation=validation, dry_run=run_config.dry_run
        )
    return dg.MaterializeResult(metadata=meta, check_results=checks)


# -- the old per-entity export split (export/lifecycle.py was removed: the stage API exports a company in
# one engine run). Kept here only so this graph keeps working until dagster12's rewrite replaces this file.

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
