"""The sandbox ASGI app: Intuit's OAuth endpoints, the v3 data API, admin endpoints and record pages.

``create_app`` is the factory tests, the ``serve`` command and benchmarks use. All state
lives in one ``Sandbox`` object; requests run on the event loop, so operations on a
company never interleave.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import json
import logging
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from qbo_pipeline.sandbox import documents as D
from qbo_pipeline.sandbox import errors as E
from qbo_pipeline.sandbox import preferences as P
from qbo_pipeline.sandbox import query as Q
from qbo_pipeline.sandbox import reports as R
from qbo_pipeline.sandbox.clock import AdjustableClock
from qbo_pipeline.sandbox.entities import (
    CDC_EXCLUDED,
    ENTITY_BY_JSON_NAME,
    ENTITY_BY_SEGMENT,
    NAME_FIELD,
    SALES_FORMS,
    SINGLETONS,
    Company,
    Rules,
    json_name,
    parse_time,
    qbo_time,
)
from qbo_pipeline.sandbox.faults import FaultInjector, FaultSettings
from qbo_pipeline.sandbox.limits import BATCH_ITEMS, RateLimiter
from qbo_pipeline.sandbox.oauth import OAuthError, OAuthServer
from qbo_pipeline.sandbox.sample import DEFAULT_REALM, build_company
from qbo_pipeline.sandbox.store import Store

log = logging.getLogger("qbo_pipeline.sandbox")

DEFAULT_CLIENT_ID = "local-client-id"
DEFAULT_CLIENT_SECRET = "local-client-secret"
MINIMUM_MINOR_VERSION = 75
CDC_LOOKBACK_DAYS = 30
CDC_MAX_OBJECTS = 1000
REQUESTID_MAX = 50
BATCH_REQUESTID_MAX = 36


class DropConnection(Exception):
    """Raised after a write committed to simulate a response lost on the wire."""


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


class Sandbox:
    """Everything the app knows: companies, tokens, limits, faults, counters."""

    def __init__(self, data_path: str | Path, *, admin: bool, time_scale: float, clock: Any,
                 faults: dict | None, auto_consent: bool, enforce_limits: bool,
                 client_id: str, client_secret: str, country: str = "US") -> None:
        self.clock = clock or AdjustableClock()
        self.country = country  # of the default company, created on first start and after a reset
        self.admin = admin
        self.auto_consent = auto_consent
        self.store = Store(data_path)
        self.oauth = OAuthServer(self.store, client_id, client_secret)
        monotonic = getattr(self.clock, "monotonic", None)
        if monotonic is None:
            import time

            monotonic = time.monotonic
        self.limiter = RateLimiter(monotonic, time_scale=time_scale, enabled=enforce_limits)
        self.time_scale = time_scale
        self.faults = FaultInjector(FaultSettings.from_dict(faults))
        self.requests: dict[str, dict[str, int]] = {}
        self.companies: dict[str, Company] = self.store.load_companies()
        for company in self.companies.values():
            _complete_preferences(company)
        if not self.companies:
            self.add_company(DEFAULT_REALM, country=country)

    def now(self) -> datetime:
        return self.clock.now()

    def add_company(self, realm: str, name: str | None = None, country: str = "US") -> Company:
        company = build_company(realm, self.now(), name, country=country)
        _complete_preferences(company)
        self.companies[realm] = company
        self.store.save(company)
        log.info("created company %s", realm)
        return company

    def count(self, realm: str, kind: str, amount: int = 1) -> None:
        counters = self.requests.setdefault(realm, {})
        counters[kind] = counters.get(kind, 0) + amount


def _complete_preferences(company: Company) -> None:
    """Every Preferences section QBO returns, whatever the sample company (or an older state file) set."""
    stored = company.table("Preferences").get("1")
    if stored is not None:
        full = P.with_defaults(stored)
        if full != stored:
            company.table("Preferences")["1"] = full
            company.dirty.add(("Preferences", "1"))


# ====================================================================== helpers
def _fault_response(fault: E.QBOFault, now: datetime) -> Response:
    return _json({"Fault": fault.fault(), "time": qbo_time(now)}, fault.status)


def _unauthorized(sandbox: Sandbox, detail: str) -> Response:
    body = E.authentication_envelope(detail, int(sandbox.now().timestamp() * 1000))
    return _json(body, 401)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _oauth_error(exc: OAuthError) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="sandbox"'} if exc.status == 401 else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _include(request: Request) -> str:
    return request.query_params.get("include", "")


# ====================================================================== OAuth endpoints
async def discovery(request: Request) -> Response:
    base = _base_url(request)
    return JSONResponse({
        "issuer": base,
        "authorization_endpoint": f"{base}/connect/oauth2",
        "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
        "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
        "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
        "jwks_uri": f"{base}/oauth2/v1/keys",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone",
                             "com.intuit.quickbooks.accounting", "com.intuit.quickbooks.payment"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"],
    })


async def jwks(request: Request) -> Response:
    return JSONResponse({"keys": []})


def _redirect_with_code(sandbox: Sandbox, params: dict[str, str], realm: str) -> Response:
    code = sandbox.oauth.issue_code(realm, params["redirect_uri"], params.get("scope", ""), sandbox.now())
    query = {"code": code, "state": params.get("state", ""), "realmId": realm}
    separator = "&" if "?" in params["redirect_uri"] else "?"
    return RedirectResponse(f"{params['redirect_uri']}{separator}{urlencode(query)}", status_code=302)


CONSENT_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Connect to QuickBooks (local sandbox)</title>
<style>body{{font-family:sans-serif;max-width:32em;margin:4em auto}}button{{font-size:1.1em;padding:.4em 1.4em}}</style>
</head><body><h1>Connect to QuickBooks</h1>
<p>The app <b>{client}</b> wants to access your QuickBooks company data ({scope}).</p>
<form method="post" action="/connect/oauth2">{hidden}
<label>Company <select name="realmId">{options}</select></label>
<p><button type="submit" name="decision" value="connect">Connect</button>
<button type="submit" name="decision" value="cancel">Cancel</button></p></form>
<p><small>Local QBO sandbox: no data leaves this machine.</small></p></body></html>"""


async def authorize(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    if request.method == "POST":
        params = {k: str(v) for k, v in (await request.form()).items()}
    else:
        params = dict(request.query_params)
    try:
        sandbox.oauth.check_authorize_request(params)
    except OAuthError as exc:
        return HTMLResponse(f"<h1>Authorization error</h1><p>{html.escape(exc.error)}: "
                            f"{html.escape(exc.description)}</p>", status_code=400)
    if request.method == "POST":
        if params.get("decision") == "cancel":
            query = {"error": "access_denied", "state": params.get("state", "")}
            return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=302)
        realm = params.get("realmId") or DEFAULT_REALM
        if realm not in sandbox.companies:
            return HTMLResponse("<h1>Unknown company</h1>", status_code=400)
        return _redirect_with_code(sandbox, params, realm)
    if sandbox.auto_consent:
        return _redirect_with_code(sandbox, params, DEFAULT_REALM if DEFAULT_REALM in sandbox.companies
                                   else next(iter(sandbox.companies)))
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(params.get(k, ""))}">'
        for k in ("client_id", "response_type", "scope", "redirect_uri", "state"))
    options = "".join(
        f'<option value="{html.escape(realm)}">'
        f'{html.escape(company.table("CompanyInfo").get("1", {}).get("CompanyName", realm))} ({realm})</option>'
        for realm, company in sandbox.companies.items())
    return HTMLResponse(CONSENT_PAGE.format(client=html.escape(params["client_id"]),
                                            scope=html.escape(params.get("scope", "")),
                                            hidden=hidden, options=options))


async def token(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        sandbox.oauth.authenticate_client(request.headers.get("authorization"))
        form = await request.form()
        grant_type = form.get("grant_type")
        hard = request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true"
        if grant_type == "authorization_code":
            if not form.get("code"):
                raise OAuthError("invalid_request", "code is required")
            answer = sandbox.oauth.exchange_code(str(form["code"]), str(form.get("redirect_uri", "")),
                                                 sandbox.now(), hard)
        elif grant_type == "refresh_token":
            if not form.get("refresh_token"):
                raise OAuthError("invalid_request", "refresh_token is required")
            answer = sandbox.oauth.refresh_tokens(str(form["refresh_token"]), sandbox.now(), hard)
        else:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    except OAuthError as exc:
        return _oauth_error(exc)
    return JSONResponse(answer, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


async def revoke(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    try:
        sandbox.oauth.authenticate_client(request.headers.get("authorization"))
        raw = await request.body()
        try:
            token_value = json.loads(raw or b"{}").get("token")
        except (ValueError, AttributeError):
            form = await request.form()
            token_value = form.get("token")
        if not token_value:
            raise OAuthError("invalid_request", "token is required")
        sandbox.oauth.revoke(str(token_value))
    except OAuthError as exc:
        return _oauth_error(exc)
    return Response(status_code=200)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


async def userinfo(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    access, detail = sandbox.oauth.check_access(_bearer(request), sandbox.now())
    if access is None:
        return _unauthorized(sandbox, detail)
    return JSONResponse({"sub": f"local-user-{access.realm}", "email": "sandbox.user@example.com",
                         "emailVerified": True, "givenName": "Sandbox", "familyName": "User", "realmid": access.realm})


# ====================================================================== data API
def _entity(segment: str) -> str:
    entity = ENTITY_BY_SEGMENT.get(segment.lower())
    if entity is None:
        raise E.QBOFault(610 if segment else 2020, "Object Not Found",
                         f"Object Not Found : Unsupported entity or resource {segment!r}", status=404
                         if segment else 400)
    return entity


def _single_entity(body: Any) -> tuple[dict, str | None]:
    """A body is the bare entity object; some clients wrap it as {"Customer": {...}}."""
    if not isinstance(body, dict):
        raise E.QBOFault(2010, "Request has invalid or unsupported property",
                         "The request body must be a JSON object")
    if len(body) == 1:
        (key, value), = body.items()
        if key in ENTITY_BY_JSON_NAME and isinstance(value, dict):
            return value, ENTITY_BY_JSON_NAME[key]
    return body, None


def _execute_write(rules: Rules, entity: str, body: dict, operation: str, include: str,
                   sandbox: Sandbox) -> dict:
    """One create / update / delete / void, with the injected 6000 and stale-SyncToken faults."""
    if sandbox.faults.draw("one_name_at_a_time"):
        noun = "product or service" if entity == "Item" else "name"
        raise E.business(f"You can only add or edit one {noun} at a time. Please try again.")
    if operation == "delete":
        return rules.delete(entity, body)
    if operation == "void":
        return rules.void(entity, body)
    if body.get("Id") or operation == "update":
        if body.get("Id") and sandbox.faults.draw("stale_sync_token"):
            stored = rules.company.table(entity).get(str(body["Id"]))
            if stored is not None:  # as if someone edited the record in the QBO UI meanwhile
                stored["SyncToken"] = str(int(stored["SyncToken"]) + 1)
                rules.company.dirty.add((entity, stored["Id"]))
        return rules.update(entity, body, include)
    return rules.create(entity, body, include)


def _operation(request: Request) -> str:
    operation = request.query_params.get("operation", "").lower()
    include = _include(request).lower()
    if operation == "update" and "void" in include.split(","):
        return "void"
    if operation in ("", "create", "update", "delete", "void"):
        return operation
    raise E.QBOFault(2010, "Request has invalid or unsupported property",
                     f"Unsupported operation {operation!r}", element="operation")


def _run_query(company: Company, text: str) -> dict:
    parsed = Q.parse(text)
    return Q.run(parsed, _candidates(company, parsed))


def _candidates(company: Company, parsed: Q.Query) -> dict[str, dict]:
    """Narrow a query by the indexes (Id, unique name, DocNumber) before scanning; ``run`` still checks all."""
    records = company.table(parsed.entity)
    for cond in parsed.where:
        if cond.field == "Id" and cond.op in ("=", "IN"):
            wanted = {str(v).removesuffix(".0") if isinstance(v, float) else str(v) for v in cond.values}
            return {i: records[i] for i in wanted if i in records}
        if cond.op == "=" and isinstance(cond.values[0], str):
            if cond.field == NAME_FIELD.get(parsed.entity):
                owner = company.name_owner(parsed.entity, cond.values[0])
                return {owner: records[owner]} if owner in records else {}
            if cond.field == "DocNumber" and parsed.entity in SALES_FORMS:
                ids = company.doc_numbers.get(parsed.entity, {}).get(cond.values[0], set())
                if ids:  # values compare case-insensitively, so a miss falls back to the scan
                    return {i: records[i] for i in ids if i in records}
    return records


def _cdc(sandbox: Sandbox, company: Company, entities: str, changed_since: str) -> dict:
    if not entities:
        raise E.required("entities")
    if not changed_since:
        raise E.required("changedSince")
    try:
        since = parse_time(changed_since)
    except ValueError:
        raise E.QBOFault(2070, "Invalid Date", f"changedSince is not a date or date-time: {changed_since}",
                         element="changedSince") from None
    if since < sandbox.now() - timedelta(days=CDC_LOOKBACK_DAYS):
        raise E.business(f"changedSince must be within the last {CDC_LOOKBACK_DAYS} days.", element="changedSince")
    responses, remaining = [], CDC_MAX_OBJECTS
    for segment in entities.split(","):
        entity = _entity(segment.strip())
        if entity in CDC_EXCLUDED or entity in SINGLETONS:
            raise E.query_invalid(f"CDC is not supported for {entity}")

        def changed(records: dict[str, dict], since_=since) -> list[dict]:
            hits = [(parse_time(r["MetaData"]["LastUpdatedTime"]), r) for r in records.values()
                    if "MetaData" in r]
            return [r for when, r in sorted(hits, key=lambda pair: pair[0]) if when >= since_]

        found = changed(company.table(entity)) + changed(company.tombstones.get(entity, {}))
        found = found[:remaining]
        remaining -= len(found)
        if found:
            responses.append({json_name(entity): found, "startPosition": 1, "maxResults": len(found),
                              "totalCount": len(found)})
        else:
            responses.append({})
    return {"CDCResponse": [{"QueryResponse": responses}]}


def _invalid_value(exc: Exception) -> E.QBOFault:
    """A value of the wrong type somewhere in the request (e.g. a string where QBO wants a number)."""
    log.debug("invalid request value", exc_info=exc)
    return E.QBOFault(2010, "Request has invalid or unsupported property",
                      f"Property Name:Can not parse a value of the request : {exc}")


def _batch(sandbox: Sandbox, company: Company, body: Any) -> dict:
    items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise E.required("BatchItemRequest")
    if len(items) > BATCH_ITEMS:
        raise E.QBOFault(1040, "Batch size exceeds allowed limit",
                         f"Batch size exceeds allowed limit: {len(items)} items supplied, at most {BATCH_ITEMS}.")
    rules = Rules(company, sandbox.now())
    answers = []
    writes = 0
    for item in items:
        bid = item.get("bId") if isinstance(item, dict) else None
        answer: dict[str, Any] = {"bId": bid}
        try:
            if not isinstance(item, dict) or not bid:
                raise E.required("bId")
            if "Query" in item:
                answer["QueryResponse"] = _run_query(company, str(item["Query"]))
            else:
                operation = str(item.get("operation", "")).lower()
                if operation not in ("create", "update", "delete"):
                    raise E.QBOFault(2010, "Request has invalid or unsupported property",
                                     f"Unsupported batch operation {operation!r}", element="operation")
                names = [k for k in item if k in ENTITY_BY_JSON_NAME]
                if len(names) != 1:
                    raise E.QBOFault(2010, "Request has invalid or unsupported property",
                                     "Each batch item needs exactly one entity object", element="BatchItemRequest")
                entity = ENTITY_BY_JSON_NAME[names[0]]
                if str(item.get("optionsData", "")).lower() == "void":
                    operation = "void"
                writes += 1
                result = _execute_write(rules, entity, item[names[0]], operation, "", sandbox)
                answer[json_name(entity)] = result
        except E.QBOFault as fault:
            answer["Fault"] = fault.fault()
        except (TypeError, ValueError, AttributeError) as exc:
            answer["Fault"] = _invalid_value(exc).fault()
        answers.append(answer)
    sandbox.count(company.realm, "batch_items", len(items))
    sandbox.count(company.realm, "batch_write_items", writes)
    return {"BatchItemResponse": answers}


async def data_api(request: Request) -> Response:
    response = await _data_api(request)
    response.headers["intuit_tid"] = uuid.uuid4().hex  # Intuit's per-request trace id, for client logs
    return response


async def _data_api(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    realm = request.path_params["realm"]
    rest = request.path_params["rest"].strip("/")
    access, detail = sandbox.oauth.check_access(_bearer(request), sandbox.now())
    if access is None:
        return _unauthorized(sandbox, detail)
    now = sandbox.now()
    if access.realm != realm or realm not in sandbox.companies:
        return _fault_response(E.forbidden(), now)
    company = sandbox.companies[realm]
    segments = rest.split("/")
    kind = _request_kind(request.method, segments)
    is_batch = kind == "batch"
    refused = sandbox.limiter.admit(realm, is_batch)
    if refused:
        sandbox.count(realm, "throttled")
        sandbox.faults.stats[f"limit_{refused}"] = sandbox.faults.stats.get(f"limit_{refused}", 0) + 1
        return _fault_response(E.throttled(), now)
    try:
        sandbox.count(realm, "total")
        sandbox.count(realm, kind)
        if sandbox.faults.settings.latency_ms > 0:
            sandbox.faults.count("latency")
            await asyncio.sleep(sandbox.faults.settings.latency_ms / 1000.0)
            now = sandbox.now()
        if sandbox.faults.draw("rate_429"):
            return _fault_response(E.throttled(), now)
        if sandbox.faults.draw("rate_500"):
            return _fault_response(E.system_failure(), now)
        if sandbox.faults.draw("rate_503"):
            return _json({"Fault": {"Error": [{"Message": "Service Unavailable", "code": "10000",
                                               "Detail": "The service is temporarily unavailable. Try again later."}],
                                    "type": "SystemFault"}, "time": qbo_time(now)}, 503)
        return await _dispatch(request, sandbox, company, segments, kind)
    finally:
        sandbox.limiter.release(realm)


def _request_kind(method: str, segments: list[str]) -> str:
    head = segments[0].lower() if segments else ""
    if head == "batch":
        return "batch"
    if head == "cdc":
        return "cdc"
    if head == "query":
        return "queries"
    if head == "reports":
        return "reports"
    return "writes" if method == "POST" else "reads"


async def _dispatch(request: Request, sandbox: Sandbox, company: Company, segments: list[str],
                    kind: str) -> Response:
    now = sandbox.now()
    requestid = request.query_params.get("requestid")
    try:
        if requestid is not None and request.method == "POST":
            limit = BATCH_REQUESTID_MAX if kind == "batch" else REQUESTID_MAX
            if len(requestid) > limit:
                raise E.business(f"You cannot enter more than {limit} characters in the request_id field")
            replay = company.requestids.get(requestid)
            if replay is not None:
                sandbox.count(company.realm, "replayed")
                return Response(replay[1], status_code=replay[0], media_type="application/json")
        if request.method == "GET" and len(segments) == 3 and segments[2].lower() == "pdf":
            record = Rules(company, now).read(_entity(segments[0]), segments[1])
            name = company.table("CompanyInfo").get("1", {}).get("CompanyName", company.realm)
            return Response(D.render_pdf(_entity(segments[0]), record, name), media_type="application/pdf")
        try:
            body = await _execute(request, sandbox, company, segments, kind)
        except (TypeError, ValueError, AttributeError) as exc:
            raise _invalid_value(exc) from exc
        status = 200
        if kind != "reports":  # a report carries its time in Header.Time
            body["time"] = qbo_time(now)
    except E.QBOFault as fault:
        company.dirty.clear()
        status, body = fault.status, {"Fault": fault.fault(), "time": qbo_time(now)}
    payload = json.dumps(body, separators=(",", ":")).encode()
    if request.method == "POST" and kind != "queries":
        record = (requestid, status, payload) if requestid else None
        if record:
            company.requestids[requestid] = (status, payload)
        if company.dirty or record:
            sandbox.store.save(company, record)
        if status == 200 and kind in ("writes", "batch") and sandbox.faults.draw("close_after_commit"):
            raise DropConnection()
    return Response(payload, status_code=status, media_type="application/json")


async def _execute(request: Request, sandbox: Sandbox, company: Company, segments: list[str], kind: str) -> dict:
    if kind == "queries":
        if request.method == "POST":
            text = (await request.body()).decode("utf-8", "replace")
        else:
            text = request.query_params.get("query", "")
        return {"QueryResponse": _run_query(company, text)}
    if kind == "cdc":
        return _cdc(sandbox, company, request.query_params.get("entities", ""),
                    request.query_params.get("changedSince", ""))
    if kind == "reports":
        return _report(request, sandbox, company, segments)
    if kind == "batch":
        if request.method != "POST":
            raise E.unsupported("GET", "batch")
        return _batch(sandbox, company, await _read_json(request))
    if segments[0].lower() == "upload":
        return await _upload(request, sandbox, company)
    entity = _entity(segments[0])
    rules = Rules(company, sandbox.now())
    if request.method == "GET":
        if entity in SINGLETONS:
            return {entity: company.table(entity)["1"]}
        if entity == "ExchangeRate" and (len(segments) < 2 or not segments[1]):
            params = {k.lower(): v for k, v in request.query_params.items()}
            return {entity: rules.exchange_rate(params.get("sourcecurrencycode", ""), params.get("asofdate"))}
        if len(segments) < 2 or not segments[1]:
            raise E.required("Id")
        return {json_name(entity): _decorate(request, company, entity, rules.read(entity, segments[1]))}
    if len(segments) == 3 and segments[2].lower() == "send":
        record = rules.read(entity, segments[1])
        return {entity: D.send(company, entity, record, request.query_params.get("sendTo"), sandbox.now())}
    body, wrapped = _single_entity(await _read_json(request))
    if wrapped and wrapped != entity:
        raise E.QBOFault(2010, "Request has invalid or unsupported property",
                         f"The body holds a {wrapped}, the URL names {entity}")
    operation = _operation(request)
    if entity in SINGLETONS:
        body = {**body, "Id": "1"}
    written = _execute_write(rules, entity, body, operation, _include(request), sandbox)
    return {json_name(entity): _decorate(request, company, entity, written)}


def _decorate(request: Request, company: Company, entity: str, record: dict) -> dict:
    """Read-time fields that need the request's base URL: invoice links and attachment download URIs."""
    if entity == "Invoice" and "invoicelink" in _include(request).lower().split(",") and "Id" in record:
        return {**record, "InvoiceLink": f"{_base_url(request)}/app/invoice?txnId={record['Id']}"
                                          f"&companyId={company.realm}"}
    if entity == "Attachable" and record.get("Id") in company.table("_AttachableFile"):
        return {**record, "TempDownloadUri": f"{_base_url(request)}/attachments/{company.realm}/{record['Id']}"}
    return record


def _multipart(body: bytes, content_type: str) -> dict[str, tuple[dict[str, str], bytes]]:
    """Form parts by name, read leniently like QBO: CRLF or bare LF line ends, base64 transfer encoding."""
    found = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not found:
        raise E.QBOFault(2010, "Request has invalid or unsupported property",
                         "The upload is not multipart/form-data with a boundary", element="Content-Type")
    parts: dict[str, tuple[dict[str, str], bytes]] = {}
    for chunk in body.split(b"--" + found.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.lstrip(b"\r\n")
        gap = re.search(rb"\r?\n\r?\n", chunk)
        head, data = (chunk[:gap.start()], chunk[gap.end():]) if gap else (chunk, b"")
        data = data[:-2] if data.endswith(b"\r\n") else data[:-1] if data.endswith(b"\n") else data
        headers = {}
        for line in re.split(rb"\r?\n", head):
            if b":" in line:
                key, value = line.split(b":", 1)
                headers[key.strip().lower().decode("latin-1")] = value.strip().decode("utf-8", "replace")
        if headers.get("content-transfer-encoding", "").lower() == "base64":
            data = base64.b64decode(b"".join(data.split()))
        disposition = headers.get("content-disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        headers["filename"] = filename.group(1) if filename else ""
        if name:
            parts[name.group(1)] = (headers, data)
    return parts


async def _upload(request: Request, sandbox: Sandbox, company: Company) -> dict:
    """POST /upload (multipart): file_metadata_N (an Attachable as JSON) with file_content_N (the file)."""
    if request.method != "POST":
        raise E.unsupported("GET", "upload")
    parts = _multipart(await request.body(), request.headers.get("content-type", ""))
    rules = Rules(company, sandbox.now())
    answers = []
    indexes = sorted(name.rsplit("_", 1)[1] for name in parts if name.startswith("file_content_"))
    if not indexes:
        raise E.required("file_content_0")
    for index in indexes:
        headers, data = parts[f"file_content_{index}"]
        raw_meta = parts.get(f"file_metadata_{index}", ({}, b""))[1]
        try:
            metadata = json.loads(raw_meta) if raw_meta.strip() else {}
        except ValueError:
            metadata = None
        if isinstance(metadata, dict) and isinstance(metadata.get("Attachable"), dict):
            metadata = metadata["Attachable"]
        if not isinstance(metadata, dict):
            answers.append({"Fault": E.QBOFault(
                6040, "The file metadata must be of Attachable type",
                f"The file metadata submitted must be of Attachable type. Supplied Type: {type(metadata).__name__}, "
                f"request parameter: file_metadata_{index}").fault()})
            continue
        try:
            record = rules.upload(metadata, headers.get("filename", ""), headers.get("content-type", ""), data)
            answers.append({"Attachable": _decorate(request, company, "Attachable", record)})
        except E.QBOFault as fault:
            answers.append({"Fault": fault.fault()})
    return {"AttachableResponse": answers}


async def attachment_file(request: Request) -> Response:
    """An uploaded file's bytes (the TempDownloadUri of an Attachable)."""
    sandbox: Sandbox = request.app.state.sandbox
    company = sandbox.companies.get(request.path_params["realm"])
    stored = company.table("_AttachableFile").get(request.path_params["id"]) if company else None
    if stored is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    return Response(base64.b64decode(stored["Data"]), media_type=stored.get("ContentType") or "application/octet-stream")


def _report(request: Request, sandbox: Sandbox, company: Company, segments: list[str]) -> dict:
    """``GET .../reports/{name}``: a report computed from the company's data (``reports.py``)."""
    name = segments[1] if len(segments) > 1 else ""
    if request.method != "GET" or len(segments) != 2 or not name:
        raise R.unknown_report(request.url.path, str(request.url))
    return R.run_report(company, name, dict(request.query_params), sandbox.now(),
                        path=request.url.path, url=str(request.url))


async def _read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise E.QBOFault(2010, "Request has invalid or unsupported property",
                         f"The request body is not valid JSON: {exc}") from None


# ====================================================================== pages
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:50em;margin:2em auto}}td,th{{padding:.2em .8em;text-align:left}}
</style></head><body><p><small>QuickBooks Online (local sandbox) &middot; company {realm}</small></p>
<h1>{title}</h1>{content}</body></html>"""


def _find(sandbox: Sandbox, entity: str, record_id: str, realm: str | None) -> tuple[str, dict] | None:
    realms = [realm] if realm else list(sandbox.companies)
    for candidate in realms:
        company = sandbox.companies.get(candidate)
        if company and record_id in company.table(entity):
            return candidate, company.table(entity)[record_id]
    return None


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                               for k, v in pairs if v not in (None, "")) + "</table>"


async def invoice_page(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    found = _find(sandbox, "Invoice", request.query_params.get("txnId", ""),
                  request.query_params.get("companyId") or request.query_params.get("realmId"))
    if found is None:
        return HTMLResponse("<h1>Invoice not found</h1>", status_code=404)
    realm, inv = found
    lines = "".join(
        f"<tr><td>{html.escape(str(line.get('DetailType')))}</td><td>"
        f"{html.escape(str((line.get('SalesItemLineDetail') or {}).get('ItemRef', {}).get('name', '')))}</td>"
        f"<td>{html.escape(str(line.get('Description', '')))}</td><td>{line.get('Amount', 0):.2f}</td></tr>"
        for line in inv.get("Line", []))
    content = _rows([("Invoice no.", inv.get("DocNumber")), ("Customer", inv["CustomerRef"].get("name")),
                     ("Date", inv.get("TxnDate")), ("Due date", inv.get("DueDate")),
                     ("Total", f"{inv['TotalAmt']:.2f}"), ("Balance due", f"{inv['Balance']:.2f}"),
                     ("Memo", inv.get("PrivateNote")), ("Id / SyncToken", f"{inv['Id']} / {inv['SyncToken']}")])
    content += f"<h2>Lines</h2><table><tr><th>Type</th><th>Product</th><th>Description</th><th>Amount</th></tr>{lines}</table>"
    return HTMLResponse(PAGE.format(title=f"Invoice {html.escape(str(inv.get('DocNumber', inv['Id'])))}",
                                    realm=realm, content=content))


async def customer_page(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    found = _find(sandbox, "Customer", request.query_params.get("nameId", ""),
                  request.query_params.get("companyId") or request.query_params.get("realmId"))
    if found is None:
        return HTMLResponse("<h1>Customer not found</h1>", status_code=404)
    realm, cust = found
    content = _rows([("Display name", cust["DisplayName"]), ("Full name", cust.get("FullyQualifiedName")),
                     ("Company", cust.get("CompanyName")),
                     ("Email", (cust.get("PrimaryEmailAddr") or {}).get("Address")),
                     ("Open balance", f"{cust.get('Balance', 0):.2f}"), ("Active", cust.get("Active")),
                     ("Id / SyncToken", f"{cust['Id']} / {cust['SyncToken']}")])
    return HTMLResponse(PAGE.format(title=html.escape(cust["DisplayName"]), realm=realm, content=content))


async def home(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    base = _base_url(request)
    return HTMLResponse(PAGE.format(
        title="Local QBO sandbox", realm=", ".join(sandbox.companies),
        content=f"<p>Data API: <code>{base}/v3/company/&lt;realmId&gt;/...</code><br>"
                f"Discovery: <a href='/.well-known/openid_configuration'>/.well-known/openid_configuration</a></p>"))


# ====================================================================== admin
async def _admin_body(request: Request) -> dict:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


async def admin_endpoint(request: Request) -> Response:
    sandbox: Sandbox = request.app.state.sandbox
    if not sandbox.admin:
        return JSONResponse({"error": "admin endpoints are disabled; start the sandbox with --admin"}, 404)
    action = request.path_params["action"].strip("/")
    try:
        body = await _admin_body(request) if request.method == "POST" else {}
        return _admin_action(sandbox, request.method, action.split("/"), body)
    except (ValueError, TypeError) as exc:
        return JSONResponse({"error": str(exc)}, 400)
    except KeyError as exc:
        return JSONResponse({"error": f"unknown company or record {exc}"}, 404)


def _admin_action(sandbox: Sandbox, method: str, parts: list[str], body: dict) -> Response:
    head = parts[0]
    if head == "faults" and len(parts) == 1:
        if method == "POST":  # merges into the current settings; {"replace": true} starts from none
            values = {k: v for k, v in body.items() if k != "replace"}
            base = None if body.get("replace") else sandbox.faults.settings
            sandbox.faults.configure(FaultSettings.from_dict(values, base=base))
        return JSONResponse(sandbox.faults.as_dict())
    if head == "faults" and parts[1:] == ["stats"]:
        return JSONResponse(dict(sandbox.faults.stats))
    if head == "reset" and method == "POST":
        sandbox.store.wipe()
        sandbox.companies.clear()
        sandbox.requests.clear()
        sandbox.faults.stats.clear()
        sandbox.limiter.reset()
        if body.get("tokens"):
            sandbox.oauth.access.clear()
            sandbox.oauth.refresh.clear()
            sandbox.oauth.codes.clear()
        else:
            for token_value, access in sandbox.oauth.access.items():
                sandbox.store.put("tokens", token_value, {"kind": "access", "realm": access.realm,
                                                          "grant": access.grant, "expires": access.expires})
            for token_value, refresh_body in sandbox.oauth.refresh.items():
                sandbox.store.put("tokens", token_value, refresh_body)
        sandbox.add_company(DEFAULT_REALM, country=sandbox.country)
        return JSONResponse({"reset": True, "companies": list(sandbox.companies)})
    if head == "requests":
        if method == "POST":  # POST /admin/requests resets the counters
            sandbox.requests.clear()
        return JSONResponse(sandbox.requests)
    if head == "tokens" and parts[1:] == ["expire"] and method == "POST":
        return JSONResponse({"expired": sandbox.oauth.expire_access(body.get("realm"))})
    if head == "tokens" and parts[1:] == ["revoke"] and method == "POST":
        realm = body.get("realm")
        return JSONResponse({"revoked": sandbox.oauth.revoke_grants(lambda g, r: realm is None or r == realm)})
    if head == "clock" and parts[1:] == ["advance"] and method == "POST":
        if not hasattr(sandbox.clock, "advance"):
            raise ValueError("this sandbox's clock cannot be advanced")
        moment = sandbox.clock.advance(float(body.get("seconds", 0)))
        return JSONResponse({"now": moment.astimezone(UTC).isoformat()})
    if head == "clock":
        return JSONResponse({"now": sandbox.now().astimezone(UTC).isoformat()})
    if head == "companies" and len(parts) == 1:
        if method == "POST":
            realm = str(body.get("realm") or _new_realm(sandbox))
            if not realm.isdigit():
                raise ValueError("realm must be digits")
            if realm in sandbox.companies:
                raise ValueError(f"company {realm} exists")
            sandbox.add_company(realm, body.get("name"), country=str(body.get("country") or "US"))
            return JSONResponse({"realm": realm}, 201)
        return JSONResponse({"companies": list(sandbox.companies)})
    if head == "companies" and len(parts) == 3:
        company = sandbox.companies[parts[1]]
        if parts[2] == "counts":
            counts = {}
            for entity in sorted(set(company.records) | set(company.tombstones)):
                records = company.records.get(entity, {}).values()
                counts[entity] = {
                    "active": sum(1 for r in records if r.get("Active", True) is not False),
                    "inactive": sum(1 for r in records if r.get("Active", True) is False),
                    "deleted": len(company.tombstones.get(entity, {})),
                    "total": len(records),
                }
            return JSONResponse(counts)
        if parts[2] == "preferences" and method == "POST":
            rules = Rules(company, sandbox.now())
            prefs = company.table("Preferences")["1"]
            merged = {**prefs}
            for section, values in body.items():
                if isinstance(values, dict) and isinstance(merged.get(section), dict):
                    merged[section] = {**merged[section], **values}
                else:
                    merged[section] = values
            merged["sparse"] = False
            result = rules.update("Preferences", merged)
            sandbox.store.save(company)
            return JSONResponse(result)
    raise KeyError("/".join(parts))


def _new_realm(sandbox: Sandbox) -> str:
    candidate = int(DEFAULT_REALM) + len(sandbox.companies)
    while str(candidate) in sandbox.companies:
        candidate += 1
    return str(candidate)


# ====================================================================== the app
class _DropMiddleware:
    """Turns ``DropConnection`` into a response that starts and never finishes, so the client loses it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except DropConnection:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
            await send({"type": "http.response.body", "body": b'{"', "more_body": True})
            raise


def create_app(data_path: str | Path, *, admin: bool = False, time_scale: float = 1.0, clock: Any = None,
               faults: dict | None = None, auto_consent: bool = False, enforce_limits: bool = True,
               client_id: str | None = None, client_secret: str | None = None, country: str = "US") -> Starlette:
    """The sandbox as an ASGI app; state kept in the SQLite file ``data_path``; ``country`` (US, CA,
    GB) is the default company's, which decides its tax model (``tax.py``)."""
    sandbox = Sandbox(
        data_path, admin=admin, time_scale=time_scale, clock=clock, faults=faults, auto_consent=auto_consent,
        enforce_limits=enforce_limits, country=country,
        client_id=client_id or os.environ.get("QBO_SANDBOX_CLIENT_ID") or DEFAULT_CLIENT_ID,
        client_secret=client_secret or os.environ.get("QBO_SANDBOX_CLIENT_SECRET") or DEFAULT_CLIENT_SECRET,
    )
    routes = [
        Route("/", home),
        Route("/.well-known/openid_configuration", discovery),
        Route("/oauth2/v1/keys", jwks),
        Route("/connect/oauth2", authorize, methods=["GET", "POST"]),
        Route("/oauth2/v1/tokens/bearer", token, methods=["POST"]),
        Route("/v2/oauth2/tokens/revoke", revoke, methods=["POST"]),
        Route("/v1/openid_connect/userinfo", userinfo),
        Route("/v3/company/{realm}/{rest:path}", data_api, methods=["GET", "POST"]),
        Route("/app/invoice", invoice_page),
        Route("/app/customerdetail", customer_page),
        Route("/attachments/{realm}/{id}", attachment_file),
        Route("/admin/{action:path}", admin_endpoint, methods=["GET", "POST"]),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        sandbox.store.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    app.add_middleware(_DropMiddleware)
    return app
