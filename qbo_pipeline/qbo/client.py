"""The QBO Accounting API client: one company, JSON, typed errors, limits and retries.

Every write carries a ``requestid`` (generated when the caller gives none) that stays the
same across retries, so QBO answers a retried request with the original response instead
of writing twice. Throttles (429), 5xx, QBO's 10000 system faults, "one name at a time"
(6000) and dropped connections are retried with exponential backoff and jitter (tenacity);
everything else is raised at once as a ``QboError`` subclass.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_exponential_jitter,
)

from qbo_pipeline.qbo import redact
from qbo_pipeline.qbo.environments import MINOR_VERSION
from qbo_pipeline.qbo.errors import (
    AuthError,
    ConcurrentEditError,
    QboError,
    ThrottleError,
    TransientError,
    fault_from_body,
    parse_fault,
)
from qbo_pipeline.qbo.limits import RateLimiter

log = logging.getLogger("qbo_pipeline.qbo")
redact.install("qbo_pipeline.qbo")

# A source of bearer tokens: ``source(force_refresh=False, rejected=None) -> str``; after a 401
# it is called with force_refresh=True and the token QBO refused.
TokenSource = Callable[..., str]

VOID_BY_UPDATE = {"Payment", "SalesReceipt", "BillPayment"}


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, ThrottleError | TransientError | ConcurrentEditError):
        return True
    return isinstance(exc, httpx.TransportError)


def _quote(value: str) -> str:
    """A value quoted for QBO's query language (apostrophes escaped with a backslash)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


class QboClient:
    """Talks to one QBO company (realm)."""

    def __init__(
        self,
        base_url: str,
        realm_id: str,
        token_source: TokenSource | str,
        *,
        limiter: RateLimiter | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 120.0,
        max_attempts: int = 6,
        backoff_initial: float = 0.5,
        backoff_max: float = 60.0,
        time_scale: float = 1.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.realm_id = str(realm_id)
        self._token_source = token_source
        self.limiter = limiter
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial / time_scale
        self.backoff_max = backoff_max / time_scale
        self.time_scale = time_scale
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json"},
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=20),
        )
        self.requests_made = 0
        self.write_requests = 0

    # -- plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> QboClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _token(self, force_refresh: bool = False, rejected: str | None = None) -> str:
        if isinstance(self._token_source, str):
            return self._token_source
        if force_refresh:
            try:
                token = self._token_source(force_refresh=True, rejected=rejected)
            except TypeError:  # a simpler token source without ``rejected``
                token = self._token_source(force_refresh=True)
        else:
            token = self._token_source(force_refresh=False)
        redact.register_secret(token)
        return token

    def url(self, path: str) -> str:
        return f"{self.base_url}/v3/company/{self.realm_id}/{path}"

    def _send_once(self, method: str, path: str, params: dict[str, Any], json_body: Any, content: str | None,
                   *, batch: bool, write: bool) -> dict[str, Any]:
        params = {**params, "minorversion": MINOR_VERSION}
        headers = {}
        if content is not None:
            headers["Content-Type"] = "application/text"
        token: str | None = None
        for auth_attempt in (0, 1):
            token = self._token(force_refresh=auth_attempt == 1, rejected=token)
            headers["Authorization"] = f"Bearer {token}"
            slot = self.limiter.slot(batch=batch) if self.limiter else _null_slot()
            with slot:
                self.requests_made += 1
                if write:
                    self.write_requests += 1
                response = self._http.request(
                    method, self.url(path), params=params, json=json_body, content=content, headers=headers
                )
            if response.status_code == 401 and auth_attempt == 0 and not isinstance(self._token_source, str):
                log.info("QBO answered 401; refreshing the access token once")
                continue
            break
        if response.status_code >= 400:
            error = parse_fault(response)
            if isinstance(error, ThrottleError) and self.limiter is not None:
                self.limiter.pause(error.retry_after or self.limiter.throttle_pause())
            raise error
        try:
            data = response.json()
        except ValueError as exc:
            raise TransientError(
                "QBO returned a body that is not JSON", status=response.status_code,
                detail=response.text[:200], intuit_tid=response.headers.get("intuit_tid"),
            ) from exc
        fault = fault_from_body(data, status=response.status_code, intuit_tid=response.headers.get("intuit_tid"))
        if fault is not None:
            raise fault
        return data

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("QBO request retried (attempt %d): %s", state.attempt_number, redact.redact(str(exc)))

    def _wait(self, state: RetryCallState) -> float:
        base = wait_exponential_jitter(initial=self.backoff_initial, max=self.backoff_max)(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ThrottleError) and exc.retry_after:
            return max(base, min(exc.retry_after, self.backoff_max))
        return base

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None,
                content: str | None = None, batch: bool = False, write: bool = False) -> dict[str, Any]:
        """Send one request with retries; raises a ``QboError`` subclass when QBO refuses it.

        Retries keep the request id, so QBO replays a request it already committed. The one
        exception is 6000 "one name at a time": QBO refused it (nothing was written) and would
        replay that refusal for the same id, so its retry gets a derived id.
        """
        params = dict(params or {})
        base_rid = params.get("requestid")
        refusals = [0]

        def send() -> dict[str, Any]:
            if refusals[0] and base_rid:
                limit = 36 if batch else 50
                suffix = f"-r{refusals[0]}"
                params["requestid"] = base_rid[: limit - len(suffix)] + suffix
            try:
                return self._send_once(method, path, params, json, content, batch=batch, write=write)
            except ConcurrentEditError:
                refusals[0] += 1
                raise

        def stop(state: RetryCallState) -> bool:
            # a "one name at a time" refusal wrote nothing: it does not use up the budget
            # meant for other faults (up to as many again)
            return state.attempt_number >= self.max_attempts + min(refusals[0], self.max_attempts)

        retrying = Retrying(
            retry=retry_if_exception(_retryable),
            stop=stop,
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(send)
        except httpx.TransportError as exc:
            raise TransientError(f"network error talking to QBO: {type(exc).__name__}: {exc}") from exc

    # -- entities ------------------------------------------------------------------------

    @staticmethod
    def _request_id(request_id: str | None) -> str:
        rid = request_id or uuid.uuid4().hex
        if len(rid) > 50:
            raise ValueError(f"QBO request ids are at most 50 characters (got {len(rid)})")
        return rid

    def create(self, entity: str, body: dict[str, Any], *, request_id: str | None = None) -> dict[str, Any]:
        """Create a record; returns the created entity (with Id and SyncToken)."""
        data = self.request("POST", entity.lower(), params={"requestid": self._request_id(request_id)},
                            json=body, write=True)
        return data[entity]

    def read(self, entity: str, qbo_id: str) -> dict[str, Any]:
        return self.request("GET", f"{entity.lower()}/{qbo_id}")[entity]

    def update(self, entity: str, body: dict[str, Any], *, sparse: bool = True,
               request_id: str | None = None) -> dict[str, Any]:
        """Update a record (sparse by default: fields not sent stay as they are in QBO)."""
        if "Id" not in body or "SyncToken" not in body:
            raise ValueError("an update needs the record's Id and current SyncToken")
        body = {**body, "sparse": sparse}
        data = self.request("POST", entity.lower(), params={"requestid": self._request_id(request_id)},
                            json=body, write=True)
        return data[entity]

    def delete(self, entity: str, qbo_id: str, sync_token: str, *, request_id: str | None = None) -> dict[str, Any]:
        data = self.request("POST", entity.lower(),
                            params={"operation": "delete", "requestid": self._request_id(request_id)},
                            json={"Id": qbo_id, "SyncToken": sync_token}, write=True)
        return data.get(entity, data)

    def void(self, entity: str, qbo_id: str, sync_token: str, *, request_id: str | None = None) -> dict[str, Any]:
        """Void a transaction: Invoice via operation=void, Payment/SalesReceipt via update&include=void."""
        params: dict[str, Any] = {"requestid": self._request_id(request_id)}
        body: dict[str, Any] = {"Id": qbo_id, "SyncToken": sync_token}
        if entity in VOID_BY_UPDATE:
            params.update(operation="update", include="void")
            body["sparse"] = True
        else:
            params["operation"] = "void"
        data = self.request("POST", entity.lower(), params=params, json=body, write=True)
        return data.get(entity, data)

    def query(self, statement: str) -> dict[str, Any]:
        """Run a QBO query; returns the QueryResponse dict."""
        return self.request("POST", "query", content=statement).get("QueryResponse", {})

    def query_all(self, entity: str, where: str | None = None, *, page_size: int = 1000) -> list[dict[str, Any]]:
        """Every record of ``entity`` matching ``where``, reading page after page."""
        rows: list[dict[str, Any]] = []
        start = 1
        while True:
            statement = f"SELECT * FROM {entity}"
            if where:
                statement += f" WHERE {where}"
            statement += f" STARTPOSITION {start} MAXRESULTS {page_size}"
            page = self.query(statement).get(entity, [])
            rows.extend(page)
            if len(page) < page_size:
                return rows
            start += page_size

    def query_in(self, entity: str, field: str, values: list[str], *, include_inactive: bool = False,
                 max_results: int = 1000) -> list[dict[str, Any]]:
        """Records whose ``field`` is one of ``values`` (quoted here), in one query: callers keep
        ``values`` short enough that ``max_results`` covers every match."""
        if not values:
            return []
        where = f"{field} IN ({', '.join(_quote(str(v)) for v in values)})"
        if include_inactive:
            where += " AND Active IN (true, false)"
        return self.query(f"SELECT * FROM {entity} WHERE {where} MAXRESULTS {max_results}").get(entity, [])

    def find(self, entity: str, field: str, value: str, *, include_inactive: bool = False) -> list[dict[str, Any]]:
        """Records whose ``field`` equals ``value`` (inactive ones too when asked)."""
        where = f"{field} = {_quote(value)}"
        if include_inactive:
            where += " AND Active IN (true, false)"
        return self.query(f"SELECT * FROM {entity} WHERE {where}").get(entity, [])

    def batch(self, items: list[dict[str, Any]], *, request_id: str | None = None) -> dict[str, dict[str, Any]]:
        """Send up to 30 BatchItemRequests; returns each item's response by ``bId``.

        Items fail one by one (a ``Fault`` in the item's response); use
        ``errors.fault_from_body`` on an item to get its typed error.
        """
        if not items:
            return {}
        if len(items) > 30:
            raise ValueError(f"QBO accepts at most 30 items per batch (got {len(items)})")
        rid = request_id or uuid.uuid4().hex
        if len(rid) > 36:
            raise ValueError("batch request ids are at most 36 characters")
        writes = any("operation" in item for item in items)
        data = self.request("POST", "batch", params={"requestid": rid}, json={"BatchItemRequest": items},
                            batch=True, write=writes)
        return {item["bId"]: item for item in data.get("BatchItemResponse", [])}

    def cdc(self, entities: list[str], changed_since: str) -> dict[str, list[dict[str, Any]]]:
        """Changed records per entity since a date (QBO keeps 30 days)."""
        data = self.request("GET", "cdc", params={"entities": ",".join(entities), "changedSince": changed_since})
        out: dict[str, list[dict[str, Any]]] = {}
        for block in data.get("CDCResponse", []):
            for response in block.get("QueryResponse", []):
                for key, value in response.items():
                    if isinstance(value, list):
                        out.setdefault(key, []).extend(value)
        return out

    def preferences(self) -> dict[str, Any]:
        return self.request("GET", "preferences").get("Preferences", {})

    def company_info(self) -> dict[str, Any]:
        return self.request("GET", f"companyinfo/{self.realm_id}").get("CompanyInfo", {})

    def book_close_date(self) -> str | None:
        """The date up to which the books are closed (``None`` when they are not)."""
        prefs = self.preferences()
        return (prefs.get("AccountingInfoPrefs") or {}).get("BookCloseDate")


class _null_slot:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


__all__ = ["QboClient", "QboError", "AuthError", "TokenSource"]
