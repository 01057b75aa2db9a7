"""Where each QBO environment lives: API base URL, OpenID discovery URL, app links.

The minor version is pinned here and nowhere else: Intuit serves anything below 75 as 75
since August 2025, so asking for it explicitly keeps responses stable across environments.
"""

from __future__ import annotations

from typing import Literal

MINOR_VERSION = 75

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


def _check(environment: str, root: str | None) -> None:
    if environment not in ("production", "sandbox", "local"):
        raise ValueError(f"unknown QBO environment {environment!r}; use production, sandbox or local")
    if environment == "local" and not root:
        raise ValueError("the local environment needs a base URL (the local sandbox root, e.g. http://127.0.0.1:8000)")


def api_base_url(environment: str, root: str | None = None) -> str:
    """API root for an environment; ``root`` overrides it (and is required for ``local``)."""
    _check(environment, root)
    return (root or API_BASE[environment]).rstrip("/")


def discovery_url(environment: str, root: str | None = None) -> str:
    """OpenID discovery document URL: Intuit's for production/sandbox, ``{root}/.well-known/...`` for local."""
    _check(environment, root)
    if environment == "local":
        return f"{root.rstrip('/')}/.well-known/openid_configuration"
    return DISCOVERY[environment]


def app_url(environment: str, base: str | None, entity: str, qbo_id: str) -> str:
    """"View in QuickBooks" link for a record."""
    _check(environment, base)
    app_root = base.rstrip("/") if environment == "local" else APP_BASE[environment]
    page, param = _APP_PAGES.get(entity, (entity.lower(), "txnId"))
    return f"{app_root}/app/{page}?{param}={qbo_id}"
