"""Docs that match the code: every command block of README.md and docs/*.md marked runnable runs.

The convention (documented at the top of docs/operations.md): a fenced block preceded by the
line ``<!-- runnable -->`` is run with bash (``set -e``: every command must exit 0) from the
repository root, with a fresh temporary state folder (``QBO_PIPELINE_STATE_DIR``,
``DAGSTER_HOME``), no pipeline file and the project's ``qbo-pipeline`` first on ``PATH``.
Mark only blocks that finish in seconds and need no server (``--help``, ``demo init``,
``status --no-source --json``, ...).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- runnable -->"
_FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")


def runnable_blocks(path: Path) -> list[tuple[int, str]]:
    """``(line, script)`` of every fenced block directly after the marker line."""
    lines = path.read_text().splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        if lines[index].strip() == MARKER:
            start = index + 1
            while start < len(lines) and not lines[start].strip():
                start += 1
            fence = _FENCE.match(lines[start]) if start < len(lines) else None
            if fence is None:
                raise AssertionError(f"{path.name}:{index + 1}: {MARKER} is not followed by a fenced code block")
            end = start + 1
            while end < len(lines) and not lines[end].startswith(fence.group(1)):
                end += 1
            blocks.append((start + 1, "\n".join(lines[start + 1:end])))
            index = end
        index += 1
    return blocks


def _all_blocks() -> list[tuple[str, int, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found += [(path.name, line, script) for line, script in runnable_blocks(path)]
    return found


BLOCKS = _all_blocks()


def test_the_docs_mark_runnable_blocks() -> None:
    assert {name for name, _, _ in BLOCKS} >= {"README.md", "operations.md", "configuration.md"}


@pytest.mark.parametrize(("doc", "line", "script"), BLOCKS, ids=[f"{d}:{n}" for d, n, _ in BLOCKS])
def test_runnable_block(doc: str, line: int, script: str, tmp_path: Path) -> None:
    state = tmp_path / "var"
    state.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "DAGSTER_"))}
    env.update(QBO_PIPELINE_STATE_DIR=str(state), DAGSTER_HOME=str(state / "dagster_home"), QBO_SANDBOX_PORT="0",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, f"{doc}:{line} exited {done.returncode}\n{script}\n--- stdout\n{done.stdout[-3000:]}" \
                                 f"\n--- stderr\n{done.stderr[-3000:]}"
