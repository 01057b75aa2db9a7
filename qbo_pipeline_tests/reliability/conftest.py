"""Fixtures of the reliability tests: a demo source, a sandbox in its own process, a connection.

The sandbox runs as a separate process (``python -m qbo_pipeline.sandbox serve``) so that an
export process killed with SIGKILL leaves it up, exactly as Intuit's servers stay up when
the pipeline's machine dies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from qbo_pipeline.ledger import Ledger
from qbo_pipeline.local import local_sandbox
from qbo_pipeline.source.demo import init_demo_db
from qbo_pipeline_tests.reliability.reliability_helpers import (
    Actual,
    Expected,
    ExportSetup,
    baseline_ids,
    connect,
    open_client,
)

DEMO_SCALE = 0.02  # about 40 customers, 13 items, 385 invoices, 300 payments
DEMO_SEED = 42


@dataclass
class DemoExport:
    """A demo source, a sandbox process and a connected company, ready for export processes."""

    workdir: Path
    setup: ExportSetup
    setup_file: Path
    baseline: dict[str, set[str]]

    @property
    def url(self) -> str:
        return self.setup.sandbox_url

    def admin(self, method: str, path: str, json: Any = None) -> Any:
        answer = httpx.request(method, f"{self.url}/admin/{path.lstrip('/')}", json=json, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def requests_made(self) -> int:
        return int(self.admin("GET", "requests").get(self.setup.realm, {}).get("total", 0))

    def writes_made(self) -> int:
        """Write requests (batches and single writes) the sandbox has answered for the company."""
        counters = self.admin("GET", "requests").get(self.setup.realm, {})
        return int(counters.get("batch", 0)) + int(counters.get("writes", 0))

    def actual(self, expected: Expected) -> Actual:
        ledger = Ledger(self.setup.ledger_url)
        client = open_client(self.setup, ledger)
        try:
            return Actual(client, self.baseline, expected)
        finally:
            client.close()
            ledger.dispose()


@pytest.fixture
def demo_export_factory(tmp_path: Path) -> Iterator[Callable[..., DemoExport]]:
    """``make(*sandbox_args, scale=, time_scale=, export_options=) -> DemoExport``; sandbox processes stop at teardown.

    ``time_scale`` shrinks the export client's waits (its limiter's windows and 429 pauses)
    the way ``--time-scale`` shrinks the sandbox's."""
    with contextlib.ExitStack() as stack:

        def make(*sandbox_args: str, scale: float = DEMO_SCALE, name: str = "demo", time_scale: float = 1.0,
                 export_options: dict[str, Any] | None = None) -> DemoExport:
            workdir = tmp_path / name
            workdir.mkdir()
            source_url = f"sqlite:///{workdir}/source.db"
            init_demo_db(source_url, scale=scale, seed=DEMO_SEED)
            url = stack.enter_context(local_sandbox(workdir / "sandbox.sqlite3", extra_args=("--admin", *sandbox_args)))
            setup = connect(workdir, source_url, url, time_scale=time_scale, export_options=export_options)
            ledger = Ledger(setup.ledger_url)
            client = open_client(setup, ledger)
            try:
                baseline = baseline_ids(client)
            finally:
                client.close()
                ledger.dispose()
            return DemoExport(workdir, setup, setup.write(workdir / "setup.json"), baseline)

        yield make
