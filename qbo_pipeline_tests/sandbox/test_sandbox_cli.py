"""The ``serve`` command as users run it: a real process, a ready file, graceful stop."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
from click.testing import CliRunner

from qbo_pipeline.cli import main


def test_help_lists_the_options():
    result = CliRunner().invoke(main, ["sandbox", "serve", "--help"])
    assert result.exit_code == 0
    for option in ("--port", "--data", "--admin", "--time-scale", "--auto-consent", "--no-limits",
                   "--fault-429", "--ready-file"):
        assert option in result.output


def test_serve_writes_the_ready_file_keeps_state_and_stops_on_sigterm(tmp_path):
    data, ready = tmp_path / "sandbox.sqlite3", tmp_path / "url"
    process = subprocess.Popen(
        [sys.executable, "-m", "qbo_pipeline.sandbox", "serve", "--port", "0", "--data", str(data),
         "--ready-file", str(ready), "--auto-consent", "--admin"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert process.poll() is None and time.monotonic() < deadline, "sandbox did not start"
            time.sleep(0.05)
        url = ready.read_text().strip()
        assert httpx.get(f"{url}/.well-known/openid_configuration").json()["issuer"] == url
        assert httpx.get(f"{url}/admin/companies").json()["companies"] == ["9341453050298746"]
        answer = httpx.get(f"{url}/v3/company/9341453050298746/preferences",
                           headers={"Authorization": "Bearer x" * 3})
        assert answer.status_code == 401 and answer.headers["intuit_tid"]
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    assert f"QBO sandbox listening on {url}" in output
    assert data.exists()
