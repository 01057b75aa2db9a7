"""QBO faults as typed errors, so each policy can catch exactly the kind it handles.

QBO reports problems as a Fault (capitalised JSON envelope, a lower-case one on 401, or
XML even when JSON was asked for), sometimes inside an HTTP 200. ``parse_fault`` reads all
of them; ``error_for`` picks the class from the code and HTTP status. Every error keeps
QBO's code, message, detail, element and the ``intuit_tid`` support asks for, plus a hint
telling the operator what to do.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import httpx

from qbo_pipeline.qbo.redact import redact


class QboError(Exception):
    """A request QBO refused or could not answer."""

    kind = "error"
    hint = "See QBO's message; fix the record or the configuration and run again."
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        detail: str | None = None,
        element: str | None = None,
        intuit_tid: str | None = None,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.code = code
        self.message = redact(message or "")
        self.detail = redact(detail or "")
        self.element = element or None
        self.intuit_tid = intuit_tid
        self.status = status
        self.errors = errors or []
        super().__init__(self.describe())

    def describe(self) -> str:
        parts = [f"QBO {self.kind}"]
        if self.code:
            parts.append(f"code {self.code}")
        if self.status:
            parts.append(f"HTTP {self.status}")
        text = f"{' '.join(parts)}: {self.message}"
        if self.detail and self.detail != self.message:
            text += f" ({self.detail})"
        if self.element:
            text += f" [field {self.element}]"
        if self.intuit_tid:
            text += f" intuit_tid={self.intuit_tid}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "message": self.message,
            "detail": self.detail,
            "element": self.element,
            "intuit_tid": self.intuit_tid,
            "status": self.status,
            "hint": self.hint,
        }


class AuthError(QboError):
    kind = "auth"
    hint = "The connection to QuickBooks is not authorized; reconnect the company (qbo-pipeline connect)."


class NeedsReconnectError(AuthError):
    kind = "needs_reconnect"
    hint = (
        "The refresh token was refused (invalid_grant: revoked, expired or already rotated); "
        "reconnect the company with `qbo-pipeline connect` to authorize again."
    )


class ThrottleError(QboError):
    kind = "throttle"
    hint = "QBO rate limit reached (500/min, 10/s, 10 concurrent, 40 batches/min); retried with backoff."
    retryable = True

    retry_after: float | None = None


class TransientError(QboError):
    kind = "transient"
    hint = "QBO or the network failed temporarily; the request is retried with the same request id."
    retryable = True


class StaleObjectError(QboError):
    kind = "stale_object"
    hint = "The record changed in QBO since it was read (SyncToken mismatch); it is read again and retried once."


class DuplicateNameError(QboError):
    kind = "duplicate_name"
    hint = (
        "A customer, vendor, employee, item or account already uses this name; the exporter links to it "
        "when it is the same record, or renames deterministically."
    )


class DuplicateDocNumberError(QboError):
    kind = "duplicate_doc_number"
    hint = "This DocNumber is already used in QBO; link the existing transaction or change the number."


class ValidationError(QboError):
    kind = "validation"
    hint = "QBO rejected a field of this record; correct it in the source (see the field named) and run again."


class NotFoundError(QboError):
    kind = "not_found"
    hint = (
        "A customer, item or transaction this record points at is inactive or deleted in QBO. If the "
        "pipeline made it inactive, the next run makes it active again for this record; if it was made "
        "inactive or deleted in QuickBooks, make it active there, or `qbo-pipeline unlink ENTITY SOURCE_ID` "
        "so that the next run creates it again."
    )


class ClosedPeriodError(QboError):
    kind = "closed_period"
    hint = (
        "The books are closed for this date in QBO (Account and Settings > Advanced > Close the books); "
        "move the closing date or record the change in an open period."
    )


class BusinessRuleError(QboError):
    kind = "business_rule"
    hint = "QBO refused the change by a business rule; see its message."


class ConcurrentEditError(BusinessRuleError):
    """6000 "You can only add or edit one name at a time": another write on the same list is in flight."""

    kind = "concurrent_edit"
    hint = "QBO was busy with another edit of the same list; retried with jitter."
    retryable = True


# code -> class, for codes whose meaning does not depend on the text
_BY_CODE: dict[str, type[QboError]] = {
    "3001": ThrottleError,
    "3200": AuthError,
    "3100": AuthError,
    "100": AuthError,
    "120": AuthError,
    "5010": StaleObjectError,
    "6240": DuplicateNameError,
    "6140": DuplicateDocNumberError,
    "610": NotFoundError,
    "2500": NotFoundError,
    "6200": ClosedPeriodError,
    "6210": ClosedPeriodError,
    "10000": TransientError,
    "1040": ValidationError,
    "4000": ValidationError,
    "4001": ValidationError,
}


def class_for(code: str | None, status: int | None, message: str = "", detail: str = "") -> type[QboError]:
    """The error class for a QBO fault code and HTTP status."""
    text = f"{message} {detail}".lower()
    if code == "6000" and ("one name at a time" in text or "one product or service at a time" in text):
        return ConcurrentEditError
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in (401, 403):
        return AuthError
    if status == 429 or "throttle" in text:
        return ThrottleError
    if status is not None and status >= 500:
        return TransientError
    if status == 404:
        return NotFoundError
    if code and code.isdigit():
        number = int(code)
        if 1 <= number < 500:
            return AuthError
        if 2000 <= number < 5000:
            return ValidationError
        if 5000 <= number < 10000:
            return BusinessRuleError
        if number >= 10000:
            return TransientError
    return ValidationError if status == 400 else QboError


def _errors_from_json(data: Any) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(data, dict):
        return [], None
    fault = data.get("Fault") or data.get("fault")
    if not isinstance(fault, dict):
        return [], None
    raw = fault.get("Error") or fault.get("error") or []
    errors = []
    for item in raw if isinstance(raw, list) else [raw]:
        errors.append(
            {
                "code": str(item.get("code") or item.get("Code") or "") or None,
                "message": item.get("Message") or item.get("message") or "",
                "detail": item.get("Detail") or item.get("detail") or "",
                "element": item.get("element") or item.get("Element") or None,
            }
        )
    return errors, fault.get("type")


def _errors_from_xml(text: str) -> list[dict[str, Any]]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return []
    errors = []
    for node in root.iter():
        if node.tag.rsplit("}", 1)[-1] != "Error":
            continue
        fields = {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in node}
        errors.append(
            {
                "code": node.get("code"),
                "message": fields.get("Message", ""),
                "detail": fields.get("Detail", ""),
                "element": node.get("element") or None,
            }
        )
    return errors


def fault_from_body(
    body: Any, *, status: int | None = None, intuit_tid: str | None = None
) -> QboError | None:
    """The error a decoded Fault dict describes (a batch item, a 200 with a Fault), or None."""
    errors, _ = _errors_from_json(body)
    if not errors:
        return None
    return _build(errors, status, intuit_tid)


def _build(errors: list[dict[str, Any]], status: int | None, intuit_tid: str | None) -> QboError:
    # the most specific error decides the class: a known code wins over a generic one
    chosen = errors[0]
    for error in errors:
        if error.get("code") in _BY_CODE:
            chosen = error
            break
    cls = class_for(chosen.get("code"), status, chosen.get("message", ""), chosen.get("detail", ""))
    return cls(
        chosen.get("message") or "QBO fault",
        code=chosen.get("code"),
        detail=chosen.get("detail"),
        element=chosen.get("element"),
        intuit_tid=intuit_tid,
        status=status,
        errors=errors,
    )


def parse_fault(response: httpx.Response) -> QboError:
    """The typed error for a QBO response that failed (JSON in either envelope, or XML)."""
    status = response.status_code
    tid = response.headers.get("intuit_tid")
    text = response.text or ""
    errors: list[dict[str, Any]] = []
    try:
        errors, _ = _errors_from_json(json.loads(text))
    except ValueError:
        if text.lstrip().startswith("<"):
            errors = _errors_from_xml(text)
    if not errors:
        message = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 429: "Too many requests"}.get(
            status, f"HTTP {status}"
        )
        errors = [{"code": None, "message": message, "detail": text[:300], "element": None}]
    error = _build(errors, status, tid)
    if isinstance(error, ThrottleError):
        try:
            error.retry_after = float(response.headers.get("Retry-After", ""))
        except ValueError:
            error.retry_after = None
    return error
