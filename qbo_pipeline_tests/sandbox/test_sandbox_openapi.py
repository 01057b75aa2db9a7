"""Fuzz the sandbox with schemathesis from its OpenAPI description: no input may cause a server error."""

from __future__ import annotations

from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from qbo_pipeline.sandbox.app import create_app  # noqa: E402
from qbo_pipeline.sandbox.server import run_in_thread  # noqa: E402
from qbo_pipeline_tests.fixtures_sandbox import basic_auth, sandbox_tokens  # noqa: E402

SPEC = Path(__file__).resolve().parents[2] / "docs" / "sandbox-openapi.yaml"
schema = schemathesis.openapi.from_path(SPEC)


@schemathesis.serializer("application/text")
def _query_text(ctx, value) -> bytes:
    """QBO's POST /query takes the select statement as the raw body (Content-Type application/text)."""
    return value.encode() if isinstance(value, str) else str(value).encode()


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    app = create_app(tmp_path_factory.mktemp("fuzz") / "sandbox.sqlite3", auto_consent=True,
                     enforce_limits=False)
    with run_in_thread(app) as url:
        yield url, sandbox_tokens(url)["access_token"]


def test_spec_lists_the_emulated_endpoints():
    paths = set(schema.raw_schema["paths"])
    for path in ("/oauth2/v1/tokens/bearer", "/v3/company/{realmId}/{entity}", "/v3/company/{realmId}/query",
                 "/v3/company/{realmId}/batch", "/v3/company/{realmId}/cdc", "/.well-known/openid_configuration"):
        assert path in paths


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_input_causes_a_server_error(case, fuzz_target):
    url, access_token = fuzz_target
    headers = {"Accept": "application/json"}
    if case.path.startswith("/v3/"):
        headers["Authorization"] = f"Bearer {access_token}"
    elif case.path.startswith(("/oauth2", "/v2/oauth2")):
        headers["Authorization"] = basic_auth()
    response = case.call(base_url=url, headers=headers, allow_redirects=False)
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500
