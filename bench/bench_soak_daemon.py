"""The black-box soak, daemon variant: runs the ``dagster-daemon`` launches killed (>= 30 by default).

Each attempt changes the source and lets the ``source_changes`` sensor launch the export (the
harness forgets the sensor's last tick so it does not wait its 5 minutes), or, in turn, launches a
backfill of the company (``dagster job backfill``, queued and launched by the daemon); then it
SIGKILLs the run's worker (the process the daemon's code server spawned for it) at a random
moment or right after its first writes, or, one time in four, the whole daemon with its code
server and workers, and starts the daemon again. At the end, faults off, the sensor's next run
must finish on its own; then the same checks as ``bench_soak`` (books, leftovers, the run after).
Same environment variables as ``bench_soak``; the report goes to ``bench/last_soak_daemon.json``.
"""

from __future__ import annotations

from bench import bench_soak
from bench.results import Result


def run() -> list[Result]:
    return bench_soak.run(daemon=True)
