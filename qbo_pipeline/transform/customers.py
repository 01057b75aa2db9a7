"""Customers -> QBO Customer payloads (jobs under their parent), with unique display names."""

from __future__ import annotations

import pandas as pd

from qbo_pipeline.config import PipelineConfig
from qbo_pipeline.transform.context import TransformContext, TransformResult
from qbo_pipeline.transform.names import disambiguate
from qbo_pipeline.transform.payload import Payload, source_ref
from qbo_pipeline.transform.rules import LIMITS, Report, id_order, text, valid_email, valid_phone


def _base_name(row: dict) -> str | None:
    person = " ".join(p for p in (text(row["given_name"]), text(row["family_name"])) if p)
    return text(row["display_name"]) or text(row["company_name"]) or (person or None)


def _depths(customers: pd.DataFrame) -> dict[str, int]:
    parents = dict(zip(customers["id"], customers["parent_id"], strict=False))
    depths: dict[str, int] = {}
    for cid in parents:
        depth, current, seen = 0, parents[cid], {cid}
        while isinstance(current, str) and current in parents and current not in seen:
            seen.add(current)
            depth += 1
            current = parents[current]
        depths[cid] = depth
    return depths


def build_customers(customers: pd.DataFrame, config: PipelineConfig,
                    context: TransformContext | None = None) -> TransformResult:
    """One Customer payload per row, parents before their jobs.

    Same-name customers are never merged: the one that already holds the name in QBO (or
    the smallest source id) keeps it, the others get a suffix by ``options.disambiguation``.
    Inactive or deleted customers become ``deactivate`` payloads (QBO cannot delete names).
    """
    context = context or TransformContext()
    report = Report("customers")
    options = config.options
    max_len = min(options.name_max_length, LIMITS["DisplayName"])
    rows = customers.to_dict("records")
    bases: dict[str, str] = {}
    for row in rows:
        sid = str(row["id"])
        bases[sid] = report.fit(sid, "DisplayName", _base_name(row) or sid, max_len, name=True)
    emails = {}
    for row in rows:
        sid, email = str(row["id"]), text(row["email"])
        email = email.strip() if email else None
        if email and not valid_email(email):
            # QBO accepts a customer without an e-mail: drop the field, keep the customer
            report.changed(sid, "PrimaryEmailAddr.Address", email, "", "invalid_dropped")
            email = None
        emails[sid] = email
    names = disambiguate(bases, emails if options.disambiguation == "email" else {}, context.claimed_names,
                         max_len, report, "DisplayName")
    depths = _depths(customers)
    rows.sort(key=lambda r: (depths.get(r["id"], 0), id_order(r["id"])))
    payloads = []
    for row in rows:
        sid = str(row["id"])
        body: dict = {"DisplayName": names[sid]}
        for source, target in (("company_name", "CompanyName"), ("given_name", "GivenName"),
                               ("family_name", "FamilyName")):
            value = report.fit(sid, target, text(row[source]), name=True)
            if value:
                body[target] = value
        email = emails[sid]
        if email:
            body["PrimaryEmailAddr"] = {"Address": email}
        phone = text(row["phone"])
        if phone and not valid_phone(phone):
            report.changed(sid, "PrimaryPhone.FreeFormNumber", phone, "", "invalid_dropped")
            phone = None
        phone = report.fit(sid, "PrimaryPhone.FreeFormNumber", phone)
        if phone:
            body["PrimaryPhone"] = {"FreeFormNumber": phone}
        address = {}
        for source, target in (("bill_line1", "Line1"), ("bill_line2", "Line2"), ("bill_city", "City"),
                               ("bill_region", "CountrySubDivisionCode"), ("bill_postal_code", "PostalCode"),
                               ("bill_country", "Country")):
            value = report.fit(sid, f"BillAddr.{target}", text(row[source]))
            if value:
                address[target] = value
        if address:
            body["BillAddr"] = address
        parent = text(row["parent_id"])
        if parent:
            body["Job"] = True
            body["ParentRef"] = source_ref("Customer", parent)
        currency = text(row["currency"])
        if currency and currency != options.home_currency:
            body["CurrencyRef"] = {"value": currency}
        active = bool(row["active"]) and not bool(row["deleted"])
        body["Active"] = active
        lookup = {"DisplayName": names[sid]}
        if email:
            lookup["PrimaryEmailAddr"] = email
        payloads.append(Payload("Customer", sid, body, action="upsert" if active else "deactivate", lookup=lookup))
    skipped, normalisations = report.frames()
    return TransformResult(payloads, skipped, normalisations)
