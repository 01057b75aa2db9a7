"""Benchmark result rows and the docs/benchmarks.md report."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime


@dataclass
class Result:
    """One measured figure; ``target`` says what it must reach, ``passed`` whether it did."""

    name: str
    value: float
    unit: str
    target: str = ""
    passed: bool | None = None
    note: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def machine() -> dict:
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def render(stored: dict) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`); each section names the machine it ran on.",
        "Targets live here, never in timed tests.",
        "",
    ]
    for name in sorted(stored):
        section = stored[name]
        m = section["machine"]
        lines += [
            f"## {name}",
            "",
            f"Ran {m['when']} on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}.",
            "",
            "| figure | value | unit | target | met | note |",
            "|---|---:|---|---|---|---|",
        ]
        for r in section["results"]:
            met = {True: "yes", False: "**no**", None: ""}[r.get("passed")]
            lines.append(f"| {r['name']} | {r['value']} | {r['unit']} | {r.get('target', '')} | {met} | {r.get('note', '')} |")
        lines.append("")
    return "\n".join(lines)
