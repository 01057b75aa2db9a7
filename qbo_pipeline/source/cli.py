"""``qbo-pipeline demo``: build and evolve the demo billing database."""

from __future__ import annotations

from datetime import date, datetime

import click

from qbo_pipeline.source.demo import (
    DEFAULT_SCALE,
    DemoTargetError,
    builtin_demo_url,
    init_demo_db,
    mutate_demo_db,
)


def _default_url() -> str:
    """The built-in demo database; a pipeline file whose source is elsewhere (perhaps real billing
    data) is never written to unless its URL is given explicitly with --url."""
    from qbo_pipeline.config import load_config, state_dir

    url = load_config().source.url
    demo_url = builtin_demo_url()
    if url != demo_url:
        raise DemoTargetError(
            f"the configured source.url ({_hide_password(url)}) is not the built-in demo database; the demo "
            "writes only where you say: pass --url explicitly")
    state_dir().mkdir(parents=True, exist_ok=True)
    return url


def _hide_password(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


@click.group()
def demo() -> None:
    """Build the demo billing database (canonical schema) and simulate ongoing business."""


@demo.command("init")
@click.option("--url", default=None, metavar="URL",
              help="SQLAlchemy URL of an empty database to fill; default: the built-in demo database "
                   "(var/demo_source.db).")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_SCALE, show_default=True,
              help="Size: 1.0 = ~2,000 customers, 300 products, 20,000 invoices, 15,000 payments.")
@click.option("--seed", type=int, default=42, show_default=True, help="Random seed; the same seed gives the same rows.")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Date the data is built around (transactions span the 12 months before it); default: today.")
@click.option("--force", is_flag=True,
              help="Build even if the database already has tables: drop and recreate the canonical tables.")
def init_command(url: str | None, scale: float, seed: int, today: datetime | None, force: bool) -> None:
    """Fill an empty database at URL with deterministic demo data (canonical schema).

    A database that already holds tables is refused; --force drops and recreates the
    canonical tables (customers, products, invoices, ...) only.
    """
    url = url or _default_url()
    day: date | None = today.date() if today else None
    counts = init_demo_db(url, scale=scale, seed=seed, today=day, force=force)
    click.echo(f"demo database {_hide_password(url)} (scale {scale}, seed {seed}):")
    for table, count in counts.items():
        click.echo(f"  {table:<22}{count:>8}")


@demo.command("mutate")
@click.option("--url", default=None, metavar="URL",
              help="SQLAlchemy URL of the demo database; default: the built-in demo database (var/demo_source.db).")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed for what changes.")
@click.option("--new", "new", type=click.IntRange(min=0), default=10, show_default=True,
              help="New invoices to create (with some new customers and payments).")
@click.option("--edits", type=click.IntRange(min=0), default=10, show_default=True,
              help="Existing customers, invoices and invoice lines to edit.")
def mutate_command(url: str | None, seed: int, new: int, edits: int) -> None:
    """Simulate ongoing business: new and edited rows stamped with the current time."""
    url = url or _default_url()
    try:
        result = mutate_demo_db(url, seed=seed, new=new, edits=edits)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"demo database {_hide_password(url)} changed at {result['now']:%Y-%m-%d %H:%M:%S} UTC:")
    for verb, changes in (("created", result["created"]), ("edited", result["edited"])):
        for table, ids in changes.items():
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            click.echo(f"  {verb} {len(ids):>3} {table}: {shown}")
