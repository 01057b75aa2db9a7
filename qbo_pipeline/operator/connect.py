"""``qbo-pipeline connect`` and ``disconnect``: authorize a QuickBooks company, or revoke it.

Connect runs the OAuth2 authorization-code flow the way Intuit expects a desktop tool to:
the person opens the authorize URL in a browser and consents; Intuit redirects the browser
to the app's redirect URI, where a one-shot loopback listener catches the code, the
``state`` is checked (a mismatch is refused as a possible forgery), the code is exchanged
for tokens and the tokens are stored encrypted in the vault with the company's realm id.
"""

from __future__ import annotations

import html
import logging
import time
import webbrowser
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlsplit

import click

from qbo_pipeline.operator.common import (
    EXIT_FINDINGS,
    EXIT_USAGE,
    Invocation,
    OperatorError,
    common_options,
    emit,
    operator_command,
)

log = logging.getLogger("qbo_pipeline.operator.connect")

LOCAL_URL_ENV = "QBO_LOCAL_URL"
CALLBACK_TIMEOUT_S = 300.0

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>qbo-pipeline</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:4em auto"><h1>{title}</h1><p>{text}</p></body></html>"""


@dataclass
class CallbackOutcome:
    """What the browser brought back, and whether it was accepted."""

    url: str | None = None
    result: Any = None
    error: Exception | None = None


class CallbackListener:
    """A one-shot HTTP listener on the redirect URI's loopback host and port.

    It binds when created (so the browser can be sent to the authorize URL right after) and
    answers the first request to the redirect path with the outcome of ``handle(url)``.
    """

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise OperatorError(
                f"the redirect URI {redirect_uri} is not a loopback http address; `connect` can only listen on "
                "127.0.0.1/localhost (set companies[].redirect_uri to e.g. http://127.0.0.1:8765/callback and "
                "register it in the Intuit app)", EXIT_USAGE)
        self.redirect_uri = redirect_uri
        self.path = parts.path or "/"
        self.host = parts.hostname
        self.port = parts.port or 80
        self.outcome = CallbackOutcome()
        self._handle: Any = None
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if urlsplit(self.path).path != listener.path or listener.outcome.url is not None:
                    self.send_error(404)
                    return
                url = f"http://{parts.netloc}{self.path}"
                listener.outcome.url = url
                try:
                    listener.outcome.result = listener._handle(url)
                    status, title, text = 200, "Connected", "QuickBooks is connected. You can close this window."
                except Exception as exc:  # reported to the terminal as well
                    listener.outcome.error = exc
                    status, title, text = 400, "Not connected", str(exc)
                body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                log.debug("callback listener: " + format, *args)

        try:
            self.server = HTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            raise OperatorError(f"cannot listen on {self.host}:{self.port} for the OAuth redirect: {exc}",
                                EXIT_USAGE) from None

    def wait(self, handle: Any, timeout: float) -> CallbackOutcome:
        """Serve until the redirect arrived (handled by ``handle``) or ``timeout`` seconds passed."""
        self._handle = handle
        deadline = time.monotonic() + timeout
        self.server.timeout = 0.5
        try:
            while self.outcome.url is None:
                if time.monotonic() > deadline:
                    raise OperatorError(f"no OAuth redirect reached {self.redirect_uri} within {timeout:.0f}s; "
                                        "run `qbo-pipeline connect` again", EXIT_FINDINGS)
                self.server.handle_request()
        finally:
            self.server.server_close()
        return self.outcome


def company_for(invocation: Invocation, environment: str | None, base_url: str | None) -> Any:
    """The configured company, with ``--environment`` / ``--base-url`` applied."""
    company = invocation.company
    update: dict[str, Any] = {}
    if environment and environment != company.environment:
        log.warning("connecting company %s to %s although the configuration says %s; exports use the "
                    "configuration's environment, so change it there too", company.key, environment,
                    company.environment)
        update["environment"] = environment
    wanted_env = environment or company.environment
    if wanted_env == "local":
        from qbo_pipeline.qbo.environments import local_root

        root = base_url or company.base_url or local_root()  # the documented default: $QBO_LOCAL_URL or the fixed port
        update["base_url"] = root.rstrip("/")
    elif base_url:
        update["base_url"] = base_url.rstrip("/")
    return company.model_copy(update=update) if update else company


@click.command("connect")
@click.option("--environment", type=click.Choice(["production", "sandbox", "local"]), default=None,
              help="QBO environment to connect to (default: the company's configured environment).")
@click.option("--base-url", default=None, metavar="URL",
              help=f"API root of the local sandbox (environment local; default: base_url or ${LOCAL_URL_ENV}).")
@click.option("--no-browser", is_flag=True, help="Print the authorize URL instead of opening a browser.")
@click.option("--timeout", type=click.FloatRange(min=1), default=CALLBACK_TIMEOUT_S, show_default=True,
              help="Seconds to wait for the browser to come back to the redirect URI.")
@common_options
@operator_command
def connect_command(invocation: Invocation, environment: str | None, base_url: str | None, no_browser: bool,
                    timeout: float) -> None:
    """Connect a company to QuickBooks through OAuth2 (authorization code, state checked).

    Opens the authorize URL in a browser (or prints it), listens once on the redirect URI
    (a loopback address registered in the Intuit app), checks the state, exchanges the code
    and stores the tokens encrypted in the ledger with the company's realm id.
    """
    from qbo_pipeline.ledger import Ledger
    from qbo_pipeline.qbo.auth import OAuthApp, authorization_url, discover, exchange_code, parse_callback
    from qbo_pipeline.qbo.errors import AuthError
    from qbo_pipeline.sync import open_vault

    company = company_for(invocation, environment, base_url)
    app = OAuthApp.from_company(company)
    try:
        discover(app.discovery_url)  # reachable before anything listens or opens a browser
    except AuthError as exc:
        where = ("is the local sandbox running? `qbo-pipeline ui` starts it, or `qbo-pipeline sandbox serve "
                 f"--port {urlsplit(app.discovery_url).port} --auto-consent`" if company.environment == "local"
                 else "check the network, or companies[].discovery_url")
        raise OperatorError(f"{exc.message}; {where}", EXIT_USAGE) from None
    listener = CallbackListener(app.redirect_uri)
    url, state = authorization_url(app)
    ledger = Ledger(invocation.config.ledger.url)
    try:
        vault = open_vault(invocation.config, ledger)

        def accept(callback_url: str) -> str:
            code, realm_id = parse_callback(callback_url, state)
            if company.realm_id and str(company.realm_id) != str(realm_id):
                raise OperatorError(f"the company chosen in QuickBooks (realm {realm_id}) is not the one configured "
                                    f"for {company.key!r} (realm_id {company.realm_id}); connect the right company")
            token = exchange_code(app, code)
            vault.store(company.key, realm_id, token, environment=company.environment,
                        token_endpoint=discover(app.discovery_url)["token_endpoint"], base_url=company.base_url)
            return realm_id

        message = (f"Open this URL in a browser and connect company {company.key!r} "
                   f"({company.environment}); waiting on {app.redirect_uri}:\n{url}")
        click.echo(message, err=invocation.as_json)
        if not no_browser:
            webbrowser.open(url)
        outcome = listener.wait(accept, timeout)
        if outcome.error is not None:
            if isinstance(outcome.error, OperatorError):
                raise outcome.error
            raise OperatorError(f"not connected: {outcome.error}", EXIT_FINDINGS)
        status = vault.status(company.key)
    finally:
        ledger.dispose()
    data = {"ok": True, "company": company.key, "environment": company.environment, "realm_id": outcome.result,
            "status": status["status"], "access_expires_in": status["access_expires_in"],
            "refresh_expires_at": status["refresh_expires_at"]}
    emit(invocation, data, lambda: click.echo(
        f"connected company {company.key!r} to QuickBooks realm {outcome.result} ({company.environment}); "
        "tokens stored encrypted in the ledger"))


def revoke_tokens(app: Any, token: dict[str, Any]) -> None:
    """Revoke the grant through ``qbo.auth.revoke`` (only ``qbo`` speaks HTTP to Intuit)."""
    from qbo_pipeline.qbo.auth import RevokeError, revoke

    try:
        revoke(app, token)
    except RevokeError as exc:
        raise OperatorError(f"{exc}; the tokens were kept (use --local-only to forget them without revoking)") from None


@click.command("disconnect")
@click.option("--local-only", is_flag=True, help="Forget the stored tokens without asking QuickBooks to revoke them.")
@common_options
@operator_command
def disconnect_command(invocation: Invocation, local_only: bool) -> None:
    """Revoke the company's QuickBooks authorization and forget its tokens.

    Calls the revocation endpoint named by Intuit's discovery document, deletes the
    encrypted tokens and marks the connection ``disconnected``; connect again to resume.
    """
    from qbo_pipeline.ledger import Ledger, utcnow
    from qbo_pipeline.qbo.auth import OAuthApp
    from qbo_pipeline.sync import open_vault

    company = invocation.company
    ledger = Ledger(invocation.config.ledger.url)
    try:
        vault = open_vault(invocation.config, ledger)
        token = vault.stored_token(company.key)
        revoked = False
        if token is not None:
            if not local_only:
                revoke_tokens(OAuthApp.from_company(company), token)
                revoked = True
            vault.forget(company.key)
            ledger.set_connection(company.key, status="disconnected", connected_at=None,
                                  message=f"disconnected by an operator at {utcnow():%Y-%m-%d %H:%M} UTC"
                                          + ("" if revoked else " (not revoked in QuickBooks)"))
    finally:
        ledger.dispose()
    data = {"ok": True, "company": company.key, "was_connected": token is not None, "revoked": revoked,
            "status": "disconnected" if token is not None else "not_connected"}

    def human() -> None:
        if token is None:
            click.echo(f"company {company.key!r} was not connected; nothing to do")
        else:
            click.echo(f"company {company.key!r} disconnected"
                       + ("; QuickBooks revoked its authorization" if revoked else " locally (not revoked)"))

    emit(invocation, data, human)
