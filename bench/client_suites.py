"""Real QBO client libraries against a local sandbox, changing nothing but base URLs and credentials.

    python bench/client_suites.py [--python-suite DIR] [--node-suite DIR] [--no-scenario]

Starts a sandbox on a free loopback port (fresh state file under ``var/clients/``), connects
through the OAuth code flow, then runs:

* the Node scenario ``qbo_pipeline_tests/sandbox/clients/node_scenario.js`` over node-quickbooks'
  documented API (create customer, item, invoice, payment; query; reports), when ``node`` and
  the npm package are present (``npm install node-quickbooks`` under ``var/clients/node``;
  this script runs it once if ``npm`` is there) -- skipped with a message otherwise;
* ``--python-suite DIR``: python-quickbooks' own ``tests/integration`` from a checkout of
  ej2/python-quickbooks, imported from that checkout; a pytest plugin points intuitlib's sandbox
  discovery URL and the client's sandbox base URL at the local sandbox;
* ``--node-suite DIR``: node-quickbooks' own mocha suite (``test/*.js``) from a checkout of
  mcohen01/node-quickbooks with its ``npm install`` done; ``config.js`` gets the credentials and a
  ``--require`` file sets ``QuickBooks.V3_ENDPOINT_BASE_URL``.

Prints one line per suite (passed / failed / skipped) and writes the details to
``var/clients/results.json``. Nothing here is timed: it is a compatibility run, not a benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qbo_pipeline.sandbox.app import create_app  # noqa: E402
from qbo_pipeline.sandbox.server import run_in_thread  # noqa: E402

WORK = ROOT / "var" / "clients"
SCENARIO = ROOT / "qbo_pipeline_tests" / "sandbox" / "clients" / "node_scenario.js"
CLIENT_ID, CLIENT_SECRET = "local-client-id", "local-client-secret"
REDIRECT = "http://localhost:8000/callback"

PYTEST_PLUGIN = '''
"""Points python-quickbooks' integration suite at the local sandbox (base URLs only)."""
import os
import intuitlib.config
from quickbooks.client import QuickBooks

ROOT = os.environ["QBO_SANDBOX_ROOT"]
intuitlib.config.DISCOVERY_URL["sandbox"] = ROOT + "/.well-known/openid_configuration"
QuickBooks.sandbox_api_url_v3 = ROOT + "/v3"
QuickBooks.api_url_v3 = ROOT + "/v3"
'''

NODE_BASE_URL = '''// Points node-quickbooks at the local sandbox (base URLs only).
var QuickBooks = require('./index')
var root = process.env.QBO_SANDBOX_ROOT
QuickBooks.V3_ENDPOINT_BASE_URL = root + '/v3/company/'
QuickBooks.TOKEN_URL = root + '/oauth2/v1/tokens/bearer'
QuickBooks.REVOKE_URL = root + '/v2/oauth2/tokens/revoke'
QuickBooks.USER_INFO_URL = root + '/v1/openid_connect/userinfo'
'''


def connect(root: str) -> dict[str, str]:
    """Tokens for the default company through the authorization-code flow (auto-consent)."""
    start = httpx.get(f"{root}/connect/oauth2", params={
        "client_id": CLIENT_ID, "response_type": "code", "scope": "com.intuit.quickbooks.accounting",
        "redirect_uri": REDIRECT, "state": "suites"}, follow_redirects=False)
    query = parse_qs(urlsplit(start.headers["location"]).query)
    tokens = httpx.post(f"{root}/oauth2/v1/tokens/bearer", auth=(CLIENT_ID, CLIENT_SECRET), data={
        "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": REDIRECT})
    tokens.raise_for_status()
    return {**tokens.json(), "realmId": query["realmId"][0]}


def run_python_suite(root: str, tokens: dict[str, str], suite: Path) -> dict:
    plugin_dir = Path(tempfile.mkdtemp(prefix="qbo-suite-"))
    (plugin_dir / "qbo_sandbox_plugin.py").write_text(PYTEST_PLUGIN)
    env = {**os.environ, "QBO_SANDBOX_ROOT": root, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
           "REFRESH_TOKEN": tokens["refresh_token"], "COMPANY_ID": tokens["realmId"],
           "OAUTHLIB_INSECURE_TRANSPORT": "1",
           "PYTHONPATH": os.pathsep.join([str(plugin_dir), str(suite)])}
    report = WORK / "python-suite.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/integration", "-p", "qbo_sandbox_plugin", "-q", "-rf",
         "-p", "no:cacheprovider", "--tb=line", "-o", "addopts="],
        cwd=suite, env=env, capture_output=True, text=True, timeout=1200)
    report.write_text(proc.stdout + proc.stderr)
    shutil.rmtree(plugin_dir, ignore_errors=True)
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|error|errors|skipped)", proc.stdout)}
    failures = re.findall(r"^FAILED (\S+)", proc.stdout, re.M)
    return {"suite": "python-quickbooks tests/integration", "counts": counts, "failed": failures,
            "log": str(report)}


def _npm_install(directory: Path, *packages: str) -> bool:
    if shutil.which("npm") is None:
        return False
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["npm", "install", "--no-audit", "--no-fund", *packages], cwd=directory,
                          capture_output=True, text=True, timeout=600)
    return proc.returncode == 0


def run_node_suite(root: str, tokens: dict[str, str], suite: Path) -> dict:
    if shutil.which("node") is None:
        return {"suite": "node-quickbooks test/", "skipped": "node is not installed"}
    if not (suite / "node_modules" / "mocha").exists() and not _npm_install(suite):
        return {"suite": "node-quickbooks test/", "skipped": "npm install failed or npm is missing"}
    # Two defects of the suite's own environment, corrected without touching library or tests:
    # its devDependencies pin bluebird 2.9.25 over the runtime dependency 3.3.4 (bluebird 2's
    # promisify resolves [body, response], so every find* fails), and test/cdc.js requires
    # moment, which package.json does not list.
    runtime = json.loads((suite / "package.json").read_text())["dependencies"]["bluebird"]
    installed = json.loads((suite / "node_modules" / "bluebird" / "package.json").read_text())["version"]
    if installed != runtime.lstrip("^~") or not (suite / "node_modules" / "moment").exists():
        _npm_install(suite, "--no-save", f"bluebird@{runtime}", "moment")
    config = {"consumerKey": CLIENT_ID, "consumerSecret": CLIENT_SECRET, "token": tokens["access_token"],
              "tokenSecret": False, "realmId": tokens["realmId"], "useSandbox": True, "debug": False,
              "testEmail": "sandbox.user@example.com", "minorversion": 75, "oauthversion": "2.0",
              "refreshToken": tokens["refresh_token"]}
    original = (suite / "config.js").read_text()
    (suite / "config.js").write_text("module.exports = " + json.dumps(config, indent=2) + "\n")
    (suite / "sandbox-base-url.js").write_text(NODE_BASE_URL)
    counts = {"passed": 0, "failed": 0, "pending": 0}
    failures: list[str] = []
    logs = {}
    try:
        for test_file in sorted((suite / "test").glob("*.js")):  # one mocha run per file: a file that
            report = WORK / f"mocha-{test_file.stem}.json"          # cannot load fails alone
            report.unlink(missing_ok=True)
            proc = subprocess.run(  # the JSON report goes to a file: the tests console.log to stdout
                ["node", "node_modules/mocha/bin/mocha.js", "--require", "./sandbox-base-url.js", "--reporter",
                 "json", "--reporter-option", f"output={report}", "--exit", f"test/{test_file.name}"],
                cwd=suite, env={**os.environ, "QBO_SANDBOX_ROOT": root}, capture_output=True, text=True,
                timeout=1200)
            logs[test_file.name] = {"stdout": proc.stdout[-4000:], "stderr": proc.stderr[-4000:]}
            try:
                result = json.loads(report.read_text())
            except (OSError, ValueError):
                counts["failed"] += 1
                first = next((line for line in proc.stderr.splitlines() if line.startswith("Error")), proc.stderr[:200])
                failures.append(f"{test_file.name} did not load: {first}")
                continue
            stats = result["stats"]
            counts["passed"] += stats["passes"]
            counts["failed"] += stats["failures"]
            counts["pending"] += stats["pending"]
            failures += [f"{test_file.name}: {t['fullTitle']}: {t['err'].get('message', '')[:200]}"
                         for t in result["failures"]]
    finally:
        (suite / "config.js").write_text(original)
    (WORK / "node-suite.json").write_text(json.dumps(logs, indent=1))
    return {"suite": "node-quickbooks test/", "counts": counts, "failed": failures,
            "log": str(WORK / "node-suite.json")}


def run_node_scenario(root: str, tokens: dict[str, str]) -> dict:
    if shutil.which("node") is None:
        return {"suite": "node-quickbooks scenario", "skipped": "node is not installed"}
    modules = WORK / "node"
    if not (modules / "node_modules" / "node-quickbooks").exists() and not _npm_install(modules, "node-quickbooks"):
        return {"suite": "node-quickbooks scenario", "skipped": "node-quickbooks is not installed (npm failed)"}
    env = {**os.environ, "QBO_SANDBOX_ROOT": root, "QBO_ACCESS_TOKEN": tokens["access_token"],
           "QBO_REFRESH_TOKEN": tokens["refresh_token"], "QBO_REALM": tokens["realmId"],
           "QBO_CLIENT_ID": CLIENT_ID, "QBO_CLIENT_SECRET": CLIENT_SECRET,
           "NODE_PATH": str(modules / "node_modules")}
    proc = subprocess.run(["node", str(SCENARIO)], env=env, capture_output=True, text=True, timeout=300)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    passed = [r["step"] for r in lines if r.get("ok")]
    failed = [f"{r['step']}: {r.get('error')}" for r in lines if not r.get("ok")]
    if proc.returncode and not failed:
        failed.append(proc.stderr[-2000:])
    return {"suite": "node-quickbooks scenario", "counts": {"passed": len(passed), "failed": len(failed)},
            "failed": failed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python-suite", type=Path, help="checkout of ej2/python-quickbooks")
    parser.add_argument("--node-suite", type=Path, help="checkout of mcohen01/node-quickbooks (npm installed)")
    parser.add_argument("--no-scenario", action="store_true", help="skip the Node scenario")
    parser.add_argument("--limits", action="store_true", help="enforce Intuit's rate limits (off by default)")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / "sandbox-suites.db"
    results = []
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data}{suffix}").unlink(missing_ok=True)
    app = create_app(data, auto_consent=True, enforce_limits=args.limits)
    with run_in_thread(app) as root:
        tokens = connect(root)
        if not args.no_scenario:
            results.append(run_node_scenario(root, tokens))
        if args.python_suite:
            results.append(run_python_suite(root, tokens, args.python_suite.resolve()))
        if args.node_suite:
            results.append(run_node_suite(root, connect(root), args.node_suite.resolve()))
    (WORK / "results.json").write_text(json.dumps(results, indent=2))
    failed = False
    for result in results:
        if "skipped" in result:
            print(f"{result['suite']}: skipped ({result['skipped']})")
            continue
        if "error" in result:
            print(f"{result['suite']}: could not run: {result['error']}")
            failed = True
            continue
        print(f"{result['suite']}: " + ", ".join(f"{v} {k}" for k, v in result["counts"].items()))
        for failure in result.get("failed", []):
            print(f"    FAILED {failure}")
        failed = failed or bool(result["counts"].get("failed"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
