"""node-quickbooks (a real Node client library) against the sandbox: the scenario of
``clients/node_scenario.js`` over its documented API. Runs when ``node`` and the npm package are
present (``python bench/client_suites.py`` installs it under ``var/clients/node``); skipped otherwise,
since tests do not reach package registries."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "var" / "clients" / "node" / "node_modules"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.skipif(not (MODULES / "node-quickbooks").exists(),
                    reason="node-quickbooks is not installed (run python bench/client_suites.py once)")
def test_node_quickbooks_scenario(sandbox_unlimited):
    sys.path.insert(0, str(ROOT))
    from bench.client_suites import connect, run_node_scenario

    result = run_node_scenario(sandbox_unlimited.url, connect(sandbox_unlimited.url))
    assert result["counts"]["failed"] == 0, result["failed"]
    assert result["counts"]["passed"] == 13
