"""Fault parsing: both JSON envelopes, XML, batch items, and the error class per code."""

from __future__ import annotations

import httpx
import pytest

from qbo_pipeline.qbo import errors as e


def _response(status: int, text: str, content_type: str = "application/json", tid: str = "tid-1") -> httpx.Response:
    return httpx.Response(status, text=text, headers={"Content-Type": content_type, "intuit_tid": tid})


def test_capitalised_json_fault_becomes_duplicate_name_error_with_all_fields():
    body = ('{"Fault":{"Error":[{"Message":"Duplicate Name Exists Error","Detail":"The name supplied already exists.",'
            '"code":"6240","element":"DisplayName"}],"type":"ValidationFault"},"time":"2017-09-29T09:17:31.892-07:00"}')
    error = e.parse_fault(_response(400, body))
    assert isinstance(error, e.DuplicateNameError)
    assert (error.code, error.element, error.intuit_tid, error.status) == ("6240", "DisplayName", "tid-1", 400)
    assert "already exists" in error.detail and "intuit_tid=tid-1" in str(error)
    assert error.hint and error.as_dict()["kind"] == "duplicate_name"


def test_lower_case_401_envelope_is_auth_error():
    body = ('{"warnings":null,"intuitObject":null,"fault":{"error":[{"message":"message=AuthenticationFailed; '
            'errorCode=003200; statusCode=401","detail":"Token expired","code":"3200","element":null}],'
            '"type":"AUTHENTICATION"},"report":null,"batchItemResponse":[]}')
    error = e.parse_fault(_response(401, body))
    assert isinstance(error, e.AuthError) and error.code == "3200" and error.detail == "Token expired"


def test_xml_throttle_fault_even_when_json_was_asked():
    body = """<IntuitResponse time="2016-12-07T15:27:09.527-08:00" xmlns="http://schema.intuit.com/finance/v3">
  <Fault type="SERVICE"><Error code="3001">
    <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>
    <Detail>The request limit was reached.  Try again later</Detail>
  </Error></Fault></IntuitResponse>"""
    error = e.parse_fault(httpx.Response(429, text=body, headers={"Retry-After": "7"}))
    assert isinstance(error, e.ThrottleError) and error.retryable
    assert error.code == "3001" and error.retry_after == 7.0 and "request limit" in error.detail


@pytest.mark.parametrize(
    ("code", "status", "message", "cls"),
    [
        ("5010", 400, "Stale Object Error", e.StaleObjectError),
        ("610", 400, "Object Not Found", e.NotFoundError),
        ("6210", 400, "Account Period Closed", e.ClosedPeriodError),
        ("6000", 400, "You can only add or edit one name at a time. Please try again.", e.ConcurrentEditError),
        ("6000", 400, "You must set a transaction amount.", e.BusinessRuleError),
        ("2050", 400, "String length", e.ValidationError),
        ("10000", 500, "An application error has occurred", e.TransientError),
        (None, 503, "Service Unavailable", e.TransientError),
        ("6140", 400, "Duplicate Doc Num", e.DuplicateDocNumberError),
    ],
)
def test_error_class_by_code(code, status, message, cls):
    body = {"Fault": {"Error": [{"Message": message, "Detail": message, "code": code}], "type": "ValidationFault"}}
    assert type(e.fault_from_body(body, status=status)) is cls


def test_non_fault_body_and_html_error_page():
    assert e.fault_from_body({"Customer": {"Id": "1"}}) is None
    error = e.parse_fault(_response(502, "<html>Bad gateway</html>", "text/html"))
    assert isinstance(error, e.TransientError) and error.status == 502


def test_error_texts_never_carry_tokens():
    error = e.ValidationError("bad", detail="Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig refresh_token=RT1-abcdef123456")
    assert "eyJ" not in str(error) and "RT1-abcdef" not in str(error)
