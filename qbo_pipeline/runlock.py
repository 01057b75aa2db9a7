"""One export per company on this machine, seen at once by a second caller; nothing left held by a kill.

An export holds an OS file lock (``flock``) on ``<state>/locks/export-<company>.lock`` for
its whole run, whoever started it (``qbo-pipeline run``, the daemon, the UI). The kernel
drops the lock when the holding process ends, however it ends (SIGKILL included), so a
killed run can never block a later one. The file names its holder (run, process, since
when), so the caller that waits says what it waits for. The ledger's own export lock
stays as the guard across machines; this one is the guard a person sees on one machine.

The same kind of lock serialises the first use of the Dagster instance (``initialised_once``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qbo_pipeline.config import state_dir

POLL_SECONDS = 0.2
REPEAT_WAIT_MESSAGE_SECONDS = 60.0


class CompanyBusyError(RuntimeError):
    """Another export of the company holds the lock, and the caller chose not to wait."""


@dataclass(frozen=True)
class Holder:
    """Who holds a company's export lock."""

    run_id: str  # what holds it: "run 1a2b3c4d", "qbo-pipeline ui"
    pid: int
    host: str
    since: datetime

    def describe(self, what: str) -> str:
        local = self.since.astimezone()
        return f"{what} is running since {local:%H:%M} ({self.run_id}, process {self.pid})"


def _path(name: str) -> Path:
    return state_dir() / "locks" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock"


def lock_path(company: str) -> Path:
    return _path(f"export-{company}")


def _read(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None
    if not data:
        return None
    return Holder(str(data["run_id"]), int(data["pid"]), str(data["host"]), datetime.fromisoformat(data["since"]))


def read_holder(company: str) -> Holder | None:
    """The holder written into the company's lock file (None when free or unreadable)."""
    return _read(lock_path(company))


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def _exclusive(path: Path, what: str, run_id: str, *, on_wait: Callable[[str], None], wait: bool) -> Iterator[Holder]:
    """Hold ``path``'s lock; wait (saying why, again every minute) or raise ``CompanyBusyError``.

    The wait polls, so SIGTERM and Ctrl-C end it at once.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        started = time.monotonic()
        said_at: float | None = None
        while not _try_lock(fd):
            holder = _read(path)
            busy = holder.describe(what) if holder else f"{what} is running"
            if not wait:
                raise CompanyBusyError(busy)
            now = time.monotonic()
            if said_at is None or now - said_at >= REPEAT_WAIT_MESSAGE_SECONDS:
                waited = f" ({(now - started) / 60:.0f} min so far)" if said_at is not None else ""
                on_wait(f"{busy}; waiting{waited}")
                said_at = now
            time.sleep(POLL_SECONDS)
        holder = Holder(run_id, os.getpid(), socket.gethostname(), datetime.now(UTC))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"run_id": run_id, "pid": holder.pid, "host": holder.host,
                                  "since": holder.since.isoformat()}).encode(), 0)
        try:
            yield holder
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def company_export_lock(
    company: str, run_id: str, *, on_wait: Callable[[str], None], wait: bool = True
) -> contextlib.AbstractContextManager[Holder]:
    """Hold the company's export lock for a run: "an export of demo is running since 10:02 ...; waiting"."""
    return _exclusive(lock_path(company), f"an export of {company}", f"run {run_id[:8]}", on_wait=on_wait, wait=wait)


def local_sandbox_lock(
    command: str, *, on_wait: Callable[[str], None], wait: bool = True
) -> contextlib.AbstractContextManager[Holder]:
    """Hold the embedded sandbox (one process and one data file per state folder) for a command."""
    return _exclusive(_path("local-sandbox"), "a command on the local sandbox", f"qbo-pipeline {command}",
                      on_wait=on_wait, wait=wait)


def process_is_gone(pid: int, host: str) -> bool:
    """True when ``pid`` on this host no longer runs (a process on another host is never judged)."""
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextlib.contextmanager
def initialised_once(folder: Path, *, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Serialise first use of a folder's storage across processes (two concurrent first runs of a
    SQLite Dagster instance each stamped its schema, leaving two alembic heads)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / ".init.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        said = False
        while not _try_lock(fd):
            if on_wait and not said:
                on_wait(f"waiting for another process to finish setting up {folder}")
                said = True
            time.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)
