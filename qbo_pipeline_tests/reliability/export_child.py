"""One export process for the crash and fault tests: extract -> validate -> transform -> export.

Run as ``python -m qbo_pipeline_tests.reliability.export_child SETUP.json``; the setup file
names the source, the ledger, the sandbox and the vault key (see ``ExportSetup``). The
process may be killed at any moment; the next one continues from the ledger. It prints
``REPORT {json}`` once the export finished.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from qbo_pipeline.export.engine import ExportEngine
from qbo_pipeline.ledger import Ledger
from qbo_pipeline_tests.reliability.reliability_helpers import ExportSetup, open_client, run_stages


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    setup = ExportSetup.read(Path(argv[0]))
    config = setup.config()
    stages = run_stages(config)
    ledger = Ledger(setup.ledger_url)
    client = open_client(setup, ledger, backoff_initial=0.05, backoff_max=0.5)
    try:
        report = ExportEngine(client, ledger, config, "demo").export(stages.payloads)
    finally:
        client.close()
        ledger.dispose()
    summary = {"status": report.status, "counts": report.counts, "write_requests": report.write_requests,
               "requests": report.requests, "records_written": report.records_written,
               "failed": [r.as_dict() for r in report.results if r.outcome in ("failed", "blocked")][:20]}
    print("REPORT " + json.dumps(summary, default=str), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
