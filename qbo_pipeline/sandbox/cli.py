"""``qbo-pipeline sandbox ...``: run the local QBO sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import click

DEFAULT_DATA = Path("var") / "sandbox.db"  # the file `qbo-pipeline run` / `ui` give their embedded sandbox
DEFAULT_PORT = 8799  # not 8765: that is the OAuth callback port of `qbo-pipeline connect`


@click.group()
def sandbox() -> None:
    """The local QuickBooks Online sandbox (an emulator of the QBO v3 API with Intuit's OAuth)."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port; 0 picks a free one.")
@click.option("--data", "data_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite file holding the companies and tokens [default: $QBO_PIPELINE_STATE_DIR/sandbox.db "
                   "or var/sandbox.db, the file `run` and `ui` use]; created with a sample company on first start.")
@click.option("--admin", is_flag=True, help="Enable the /admin endpoints (faults, reset, clock, counters).")
@click.option("--time-scale", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Shrink every rate-limit window this many times (10: a minute lasts 6 s).")
@click.option("--auto-consent", is_flag=True, help="Answer the authorize page at once with a code (headless runs).")
@click.option("--no-limits", is_flag=True, help="Do not enforce Intuit's throttles.")
@click.option("--client-id", envvar="QBO_SANDBOX_CLIENT_ID", default="local-client-id", show_default=True)
@click.option("--client-secret", envvar="QBO_SANDBOX_CLIENT_SECRET", default="local-client-secret",
              show_default=True)
@click.option("--fault-429", type=click.FloatRange(0, 1), default=0.0, help="Probability of an injected 429.")
@click.option("--fault-500", type=click.FloatRange(0, 1), default=0.0, help="Probability of an injected 500.")
@click.option("--fault-503", type=click.FloatRange(0, 1), default=0.0, help="Probability of an injected 503.")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, help="Latency added to data requests.")
@click.option("--fault-close-after-commit", type=click.FloatRange(0, 1), default=0.0,
              help="Probability that a committed write's response is lost (connection closed).")
@click.option("--fault-one-name", type=click.FloatRange(0, 1), default=0.0,
              help='Probability of 6000 "You can only add or edit one name at a time".')
@click.option("--fault-stale-sync-token", type=click.FloatRange(0, 1), default=0.0,
              help="Probability that an update meets a record edited meanwhile (5010).")
@click.option("--fault-seed", type=int, default=None, help="Seed for reproducible fault draws.")
@click.option("--ready-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the base URL to this file once listening.")
@click.option("--country", type=click.Choice(["US", "CA", "GB"], case_sensitive=False), default="US",
              show_default=True, help="Country of the default company, created on first start: CA and GB use "
              "QBO's non-US tax model (a tax code on every line, GST/HST or VAT rates).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))
def serve(host: str, port: int, data_path: Path | None, admin: bool, time_scale: float, auto_consent: bool,
          no_limits: bool, client_id: str, client_secret: str, fault_429: float, fault_500: float,
          fault_503: float, latency_ms: float, fault_close_after_commit: float, fault_one_name: float,
          fault_stale_sync_token: float, fault_seed: int | None, ready_file: Path | None, country: str, log_level: str) -> None:
    """Serve the sandbox until interrupted (Ctrl-C)."""
    import os

    from qbo_pipeline.sandbox.app import create_app
    from qbo_pipeline.sandbox.sample import DEFAULT_REALM
    from qbo_pipeline.sandbox.server import bound_port, make_server

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("qbo_pipeline.sandbox")
    if data_path is None:
        data_path = Path(os.environ.get("QBO_PIPELINE_STATE_DIR", "var")) / DEFAULT_DATA.name
    faults = {"rate_429": fault_429, "rate_500": fault_500, "rate_503": fault_503, "latency_ms": latency_ms,
              "close_after_commit": fault_close_after_commit, "one_name_at_a_time": fault_one_name,
              "stale_sync_token": fault_stale_sync_token, "seed": fault_seed}
    app = create_app(data_path, admin=admin, time_scale=time_scale, faults=faults, auto_consent=auto_consent,
                     enforce_limits=not no_limits, client_id=client_id, client_secret=client_secret,
                     country=country.upper())
    server = make_server(app, host, port, log_level="warning")

    async def main() -> None:
        config = server.config
        if not config.loaded:
            config.load()
        server.lifespan = config.lifespan_class(config)
        await server.startup()
        if server.should_exit:
            raise click.ClickException(f"could not listen on {host}:{port}")
        url = f"http://{host}:{bound_port(server)}"
        log.info("QBO sandbox listening on %s (data %s, default company %s%s)", url, data_path, DEFAULT_REALM,
                 ", admin on" if admin else "")
        click.echo(f"QBO sandbox listening on {url}", err=True)
        if ready_file:
            ready_file.parent.mkdir(parents=True, exist_ok=True)
            ready_file.write_text(url + "\n")
        await server.main_loop()
        await server.shutdown()

    with contextlib.suppress(KeyboardInterrupt), server.capture_signals():
        asyncio.run(main())
