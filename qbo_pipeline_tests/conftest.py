"""Project-wide pytest plugins: each area appends its fixture module to ``pytest_plugins``."""

import os
import sys
from pathlib import Path

# Tests never use the embedded sandbox's fixed port (8790, shared by everyone on this machine):
# `qbo-pipeline run`/`ui` started by a test pick a free port instead.
os.environ["QBO_SANDBOX_PORT"] = "0"

# `pytest` (unlike `python -m pytest`) does not put the repository root on sys.path, and the
# plugin modules below are imported by their dotted name.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

pytest_plugins = ["qbo_pipeline_tests.fixtures_sandbox"]
