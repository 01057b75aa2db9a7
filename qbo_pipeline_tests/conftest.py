"""Project-wide pytest plugins: each area appends its fixture module to ``pytest_plugins``."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# Tests never use the embedded sandbox's fixed port (8790, shared by everyone on this machine):
# `qbo-pipeline run`/`ui` started by a test pick a free port instead.
os.environ["QBO_SANDBOX_PORT"] = "0"

# `pytest` (unlike `python -m pytest`) does not put the repository root on sys.path, and the
# plugin modules below are imported by their dotted name.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

# Under pytest-xdist (`make test` runs two workers) each worker gets a state folder and a Dagster
# home of its own, laid out as `make test` lays out var/ (the project's dagster.yaml in DAGSTER_HOME),
# so a test that falls back to the default state (token key, locks, instance) never shares it with
# a test running at the same moment in the other worker.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    _STATE = Path(tempfile.mkdtemp(prefix=f"qbo-test-state-{_WORKER}-"))
    atexit.register(shutil.rmtree, _STATE, ignore_errors=True)
    (_STATE / "dagster_home").mkdir()
    shutil.copyfile(Path(_ROOT) / "dagster.yaml", _STATE / "dagster_home" / "dagster.yaml")
    os.environ["QBO_PIPELINE_STATE_DIR"] = str(_STATE)
    os.environ["DAGSTER_HOME"] = str(_STATE / "dagster_home")

pytest_plugins = ["qbo_pipeline_tests.fixtures_sandbox"]


def pytest_collection_modifyitems(config, items) -> None:
    """Under ``--dist loadgroup`` the reliability tests (crash, soak, signals: minutes of export
    processes each) run one after another on one worker, as they do in a serial run: two of them side
    by side would put their timeouts at the mercy of each other's load. Everything else spreads freely."""
    for item in items:
        if "qbo_pipeline_tests/reliability/" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("reliability"))
