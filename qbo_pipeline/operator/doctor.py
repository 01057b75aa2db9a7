"""``qbo-pipeline doctor``: a pre-flight of one QuickBooks company before exporting into it.

The checks themselves live in :mod:`qbo_pipeline.company_checks` (pure rules over gathered
facts), shared with the Dagster asset check ``qbo_company_preflight`` (``defs/checks.py``);
this module is the command: options, output and exit codes.
"""

from __future__ import annotations

import click

from qbo_pipeline.company_checks import (
    CHECKS,
    ERROR,
    OK,
    WARNING,
    CompanyFacts,
    Finding,
    doctor_findings,
    gather_facts,
    source_currencies,
)
from qbo_pipeline.operator.common import (
    EXIT_FINDINGS,
    EXIT_NOT_CONNECTED,
    Invocation,
    common_options,
    emit,
    operator_command,
)

_SYMBOL = {OK: "ok  ", WARNING: "WARN", ERROR: "FAIL"}


@click.command("doctor")
@click.option("--only", "only", multiple=True, type=click.Choice(CHECKS), help="Run only this check (repeatable).")
@click.option("--no-source", is_flag=True, help="Skip reading the source (the currency check then only compares "
                                                "home currencies).")
@common_options
@operator_command
def doctor_command(invocation: Invocation, only: tuple[str, ...], no_source: bool) -> None:
    """Pre-flight of the QuickBooks company: connection, token expiry and the settings an export needs.

    Checks the connection and token expiry (access, refresh, hard expiry where known), custom
    transaction numbers (on), automatically apply credits (off), the closing date against the
    sync start date, multicurrency against the source's currencies, the accounts and tax codes
    the configuration names, and the pinned minor version. Every finding names its fix.
    Exit 1 when a check fails, 3 when the company is not connected.
    """
    qbo_checks = set(CHECKS) - {"connection", "access_token", "refresh_token", "minor_version"}
    with_qbo = not only or bool(set(only) & qbo_checks)
    with_source = not no_source and (not only or "currencies" in only)
    if with_source:
        from qbo_pipeline.operator.preflight import check_sources

        check_sources(invocation.config, [invocation.company_key])
    facts = gather_facts(invocation.config, invocation.company_key, with_qbo=with_qbo, with_source=with_source)
    findings = doctor_findings(facts, invocation.config, only=only or None)
    counts = {s: sum(1 for f in findings if f.severity == s) for s in (OK, WARNING, ERROR)}
    connection = {k: facts.connection.get(k) for k in ("status", "realm_id", "access_expires_in", "refresh_expires_at",
                                                       "message")}
    data = {"company": invocation.company_key, "ok": counts[ERROR] == 0, "counts": counts,
            "connection": connection, "findings": [f.as_dict() for f in findings]}

    def human() -> None:
        click.echo(f"doctor: company {invocation.company_key!r} ({invocation.company.environment})")
        for f in findings:
            click.echo(f"  [{_SYMBOL[f.severity]}] {f.check}: {f.message}")
            if f.fix and f.severity != OK:
                click.echo(f"         fix: {f.fix}")
        click.echo(f"{counts[ERROR]} error(s), {counts[WARNING]} warning(s)")

    emit(invocation, data, human)
    if facts.connection.get("status") != "connected":
        raise click.exceptions.Exit(EXIT_NOT_CONNECTED)
    if counts[ERROR]:
        raise click.exceptions.Exit(EXIT_FINDINGS)


__all__ = ["CHECKS", "CompanyFacts", "Finding", "doctor_command", "doctor_findings", "gather_facts",
           "source_currencies"]
