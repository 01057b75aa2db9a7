"""Run the benchmarks and write docs/benchmarks.md with the machine they ran on.

Each ``bench/bench_<name>.py`` module has ``run() -> list[Result]``. ``python -m bench``
runs them all; ``python -m bench NAME ...`` runs some and keeps the others' last results.
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
from pathlib import Path

import bench.results as results

ROOT = Path(__file__).resolve().parent.parent
RESULTS_FILE = ROOT / "bench" / "last_results.json"
REPORT = ROOT / "docs" / "benchmarks.md"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in (ROOT / "bench").glob("bench_*.py"))


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = set(names) - set(available())
    if unknown:
        print(f"unknown benchmark(s) {sorted(unknown)}; available: {available()}", file=sys.stderr)
        return 2
    for name in names:
        print(f"== bench {name}", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        rows = [r.as_dict() for r in module.run()]
        for row in rows:
            print(f"   {row['name']}: {row['value']} {row['unit']}  {row.get('target') or ''}", flush=True)
        # read again just before writing: another benchmark may have finished in the meantime
        stored = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {}
        stored[name] = {"machine": results.machine(), "results": rows}
        RESULTS_FILE.write_text(json.dumps(stored, indent=2, sort_keys=True))
    REPORT.write_text(results.render(json.loads(RESULTS_FILE.read_text())))
    print(f"wrote {REPORT.relative_to(ROOT)} ({platform.node()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
