"""A run killed while holding the company's export lock must not block every later run.

Found by the crash test: after a SIGKILL the lock row stayed, and each restart failed with
"company 'demo' is being exported by run ..." until an operator cleared it by hand. A lock
whose holder process is known to be gone (same machine, process no longer exists) is taken
over; a lock held by a living process still refuses a second run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from qbo_pipeline.ledger import ExportLockedError, Ledger

HOLD_AND_DIE = textwrap.dedent("""
    import os, signal, sys
    from qbo_pipeline.ledger import Ledger
    ledger = Ledger(sys.argv[1])
    with ledger.export_locked("demo", owner="run crashed"):
        os.kill(os.getpid(), signal.SIGKILL)
""")

HOLD_AND_WAIT = textwrap.dedent("""
    import sys
    from qbo_pipeline.ledger import Ledger
    ledger = Ledger(sys.argv[1])
    with ledger.export_locked("demo", owner="run alive"):
        print("locked", flush=True)
        sys.stdin.readline()
""")


def test_lock_of_a_killed_run_is_taken_over(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    Ledger(url).dispose()
    died = subprocess.run([sys.executable, "-c", HOLD_AND_DIE, url], timeout=60)
    assert died.returncode == -9
    ledger = Ledger(url)
    try:
        assert "run crashed" in ledger.export_lock("demo")["owner"]  # the crash left the lock behind
        with ledger.export_locked("demo", owner="run next"):
            assert "run next" in ledger.export_lock("demo")["owner"]
        assert ledger.export_lock("demo") is None
    finally:
        ledger.dispose()


def test_lock_of_a_living_run_still_refuses(tmp_path: Path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    Ledger(url).dispose()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_AND_WAIT, url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        ledger = Ledger(url)
        try:
            with pytest.raises(ExportLockedError, match="run alive"), ledger.export_locked("demo", owner="run second"):
                pass
        finally:
            ledger.dispose()
    finally:
        holder.communicate("done\n", timeout=30)
    assert holder.returncode == 0
