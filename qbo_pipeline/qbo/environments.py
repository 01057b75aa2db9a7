"""Where each QBO environment lives: API base URL, OpenID discovery URL, app links.

The minor version is pinned here and nowhere else: Intuit serves anything below 75 as 75
since August 2025, so asking for it explicitly keeps responses stable across environments.
"""

from __future__ import annotations

import os
from typing import Literal

MINOR_VERSION = 75

# The local sandbox: `qbo-pipeline run`/`ui` start it on a fixed loopback port (so links recorded by
# one run open after the next start) and export its address as QBO_LOCAL_URL.
LOCAL_URL_ENV = "QBO_LOCAL_URL"
LOCAL_PORT_ENV = "QBO_SANDBOX_PORT"
DEFAULT_LOCAL_PORT = 8790

Environment = Literal["production", "sandbox", "local"]

API_BASE = {
    "production": "https://quickbooks.api.intuit.com",
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
}
DISCOVERY = {
    "production": "https://developer.api.intuit.com/.well-known/openid_configuration",
    "sandbox": "https://developer.api.intuit.com/.well-known/openid_sandbox_configuration",
}
APP_BASE = {
    "production": "https://app.qbo.intuit.com",
    "sandbox": "https://app.sandbox.qbo.intuit.com",
}

# QBO web pages per entity: (page, query parameter)
_APP_PAGES = {
    "Customer": ("customerdetail", "nameId"),
    "Item": ("items", "itemId"),
    "Invoice": ("invoice", "txnId"),
    "Payment": ("recvpayment", "txnId"),
    "CreditMemo": ("creditmemo", "txnId"),
    "RefundReceipt": ("refundreceipt", "txnId"),
    "Account": ("register", "accountId"),
}


class LocalAddressError(ValueError):
    """A local company whose sandbox address cannot be known."""


def local_root() -> str:
    """The address of the sandbox `qbo-pipeline run` starts: ``$QBO_LOCAL_URL``, else its fixed port."""
    if os.environ.get(LOCAL_URL_ENV):
        return os.environ[LOCAL_URL_ENV].rstrip("/")
    port = os.environ.get(LOCAL_PORT_ENV, "").strip() or str(DEFAULT_LOCAL_PORT)
    if port == "0":
        raise LocalAddressError(
            f"the local sandbox runs on a free port ({LOCAL_PORT_ENV}=0), so its address is unknown here; set "
            f"companies[].base_url or export {LOCAL_URL_ENV} (start one with `qbo-pipeline sandbox serve`)")
    return f"http://127.0.0.1:{port}"


def _check(environment: str, root: str | None) -> str | None:
    if environment not in ("production", "sandbox", "local"):
        raise ValueError(f"unknown QBO environment {environment!r}; use production, sandbox or local")
    if environment == "local" and not root:
        return local_root()
    return root


def api_base_url(environment: str, root: str | None = None) -> str:
    """API root for an environment; ``root`` overrides it (for ``local``: the sandbox's, see ``local_root``)."""
    root = _check(environment, root)
    return (root or API_BASE[environment]).rstrip("/")


def discovery_url(environment: str, root: str | None = None) -> str:
    """OpenID discovery document URL: Intuit's for production/sandbox, ``{root}/.well-known/...`` for local."""
    root = _check(environment, root)
    if environment == "local":
        return f"{root.rstrip('/')}/.well-known/openid_configuration"
    return DISCOVERY[environment]


def app_url(environment: str, base: str | None, entity: str, qbo_id: str) -> str:
    """"View in QuickBooks" link for a record."""
    base = _check(environment, base)
    app_root = base.rstrip("/") if environment == "local" else APP_BASE[environment]
    page, param = _APP_PAGES.get(entity, (entity.lower(), "txnId"))
    return f"{app_root}/app/{page}?{param}={qbo_id}"
