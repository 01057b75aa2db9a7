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


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: ignored where xdist is not loaded
def pytest_xdist_make_scheduler(config, log):
    """Under ``--dist loadgroup`` (``make test``) the reliability tests (crash, soak, signals: minutes of
    export processes each) form one group, run one after another on one worker as in a serial run: two
    of them side by side would put their timeouts at the mercy of each other's load. Every other test
    is its own unit and spreads freely. (The group is given here, on the controller, because xdist
    3.8's own ``xdist_group`` mark renames ``item._nodeid``, which pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class _ReliabilityInOneGroup(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("qbo_pipeline_tests/reliability/"):
                return "reliability"
            return super()._split_scope(nodeid)

    return _ReliabilityInOneGroup(config, log)
