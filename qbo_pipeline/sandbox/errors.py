"""QBO faults in Intuit's shapes: the ``Fault`` envelope, the 401 lower-case envelope, throttling."""

from __future__ import annotations

from typing import Any


class QBOFault(Exception):
    """A QBO error answer: HTTP status, Intuit error code, message, detail and element."""

    def __init__(
        self,
        code: str | int,
        message: str,
        detail: str = "",
        *,
        element: str = "",
        status: int = 400,
        fault_type: str = "ValidationFault",
    ) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = str(code)
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.fault_type = fault_type

    def fault(self) -> dict[str, Any]:
        return {
            "Error": [
                {"Message": self.message, "Detail": self.detail, "code": self.code, "element": self.element}
            ],
            "type": self.fault_type,
        }


def duplicate_name(kind: str = "customer, vendor or employee") -> QBOFault:
    return QBOFault(
        6240,
        "Duplicate Name Exists Error",
        f"The name supplied already exists. : Another {kind} is already using this name. "
        "Please use a different name.",
    )


def stale_object() -> QBOFault:
    return QBOFault(
        5010,
        "Stale Object Error",
        "Stale Object Error : You and root were working on this at the same time. "
        "root finished before you did, so your work was not saved.",
    )


def object_not_found(entity: str, entity_id: str, deleted: bool = False) -> QBOFault:
    detail = (
        "Object Not Found : Another user has deleted this transaction."
        if deleted
        else f"Object Not Found : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. ({entity} Id={entity_id})"
    )
    return QBOFault(610, "Object Not Found", detail)


def invalid_reference(element: str, value: Any, entity: str) -> QBOFault:
    return QBOFault(
        2500,
        "Invalid Reference Id",
        f"Invalid Reference Id : {entity} assigned to this transaction has been deleted or does not exist. "
        f"The reference ID is invalid: {value}",
        element=element,
    )


def required(element: str) -> QBOFault:
    return QBOFault(
        2020,
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {element} is missing in the request",
        element=element,
    )


def bad_length(element: str, max_length: int, supplied: int) -> QBOFault:
    return QBOFault(
        2050,
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. Min:0 Max:{max_length} supported. "
        f"Supplied length:{supplied}",
        element=element,
    )


def business(detail: str, element: str = "") -> QBOFault:
    return QBOFault(
        6000,
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {detail}",
        element=element,
    )


def unsupported(operation: str, entity: str) -> QBOFault:
    return QBOFault(
        500, "Unsupported Operation", f"Operation {operation} is not supported for {entity}."
    )


def throttled() -> QBOFault:
    return QBOFault(
        3001,
        "message=ThrottleExceeded; errorCode=003001; statusCode=429",
        "The request limit was reached.  Try again later",
        status=429,
        fault_type="SERVICE",
    )


def forbidden() -> QBOFault:
    return QBOFault(
        3100,
        "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
        "The application is not authorized to access this company.",
        status=403,
        fault_type="SERVICE",
    )


def system_failure(detail: str = "An application error has occurred while processing your request") -> QBOFault:
    return QBOFault(
        10000,
        "An application error has occurred while processing your request",
        f"System Failure Error: {detail}",
        status=500,
        fault_type="SystemFault",
    )


def query_parse_error(detail: str) -> QBOFault:
    return QBOFault(4000, "Error parsing query", f"QueryParserError: {detail}")


def query_invalid(detail: str) -> QBOFault:
    return QBOFault(4001, "Invalid query", f"QueryValidationError: {detail}")


def authentication_envelope(detail: str, time_ms: int) -> dict[str, Any]:
    """The lower-case 401 body Intuit returns for missing, bad or expired access tokens."""
    return {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": time_ms,
        "status": None,
        "cdcresponse": [],
    }
