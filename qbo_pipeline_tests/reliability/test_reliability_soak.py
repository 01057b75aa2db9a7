"""The small soak (``soak.py``, the harness ``make bench`` runs with 100 kills or more).

``qbo-pipeline run`` is SIGKILLed (its whole process group) a few times, at random moments
and right after its writes reached the sandbox, while the sandbox injects faults and the
source changes between attempts. Then a clean run must finish on its own, QBO must hold
every valid record exactly once with the right amounts and payment applications, nothing
may be left held (Dagster runs, pool slots, the ledger lock) and one more run writes nothing.

``QBO_SOAK_KILLS`` (default 2) and ``QBO_SOAK_SCALE`` (default 0.005) make it longer.
The PostgreSQL variant runs the same soak on ``docs/dagster.postgres.yaml`` and skips with
a message where the server is unreachable (``QBO_TEST_PG_URL``, default the local ``test``).
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from qbo_pipeline_tests.reliability.soak import SoakOptions, soak

KILLS = int(os.environ.get("QBO_SOAK_KILLS", "2"))
DAEMON_KILLS = int(os.environ.get("QBO_SOAK_DAEMON_KILLS", "2"))
SCALE = float(os.environ.get("QBO_SOAK_SCALE", "0.005"))
PG_URL = os.environ.get("QBO_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _small(**overrides) -> SoakOptions:
    options = SoakOptions(kills=KILLS, scale=SCALE, stall_seconds=40, run_timeout=300, repair_stuck=False,
                          max_seconds=240)
    for key, value in overrides.items():
        setattr(options, key, value)
    return options


@pytest.mark.timeout(600)
def test_small_soak_sigkills_of_qbo_pipeline_run_leave_the_books_right(tmp_path, record_property):
    report = soak(tmp_path, _small())
    print("\n" + report.summary())
    record_property("soak", report.as_dict())
    assert report.kills >= 1, report.attempts
    assert not report.problems, report.summary() + "\n" + "\n".join(s["tail"] for s in report.stuck)[-3000:]


def _postgres_url() -> str:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means skip
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}")
    return PG_URL


@pytest.fixture
def postgres_instance_url():
    """A fresh schema-less database on the server for one Dagster instance; dropped afterwards."""
    base = _postgres_url()
    name = f"soak_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.timeout(600)
def test_small_soak_on_the_postgres_instance(tmp_path, postgres_instance_url, monkeypatch, record_property):
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_instance_url)
    report = soak(tmp_path, _small(instance="postgres"))
    print("\n" + report.summary())
    record_property("soak_postgres", report.as_dict())
    assert report.storage.startswith("Postgres"), report.summary()
    assert report.kills >= 1, report.attempts
    assert not report.problems, report.summary()


@pytest.mark.timeout(900)
def test_small_soak_sigkills_of_daemon_launched_runs_leave_the_books_right(tmp_path, record_property):
    """Runs the ``dagster-daemon`` launches (the source sensor's, a backfill's) SIGKILLed: their run
    worker, or the whole daemon with its code server. The sensor's run after the kills must finish on
    its own; then the same checks as above."""
    # 2 kills: a sensor's run's worker, then a backfill's run with the whole daemon
    report = soak(tmp_path, _small(daemon=True, kills=DAEMON_KILLS, daemon_kill_share=0.5, max_seconds=420))
    print("\n" + report.summary())
    record_property("soak_daemon", report.as_dict())
    assert report.kills >= 1, report.attempts
    assert {a.kind for a in report.attempts} <= {"sensor", "backfill"}, report.attempts
    assert report.daemon_final_run.get("ok"), report.daemon_final_run
    assert not report.problems, report.summary() + "\n" + "\n".join(s["tail"] for s in report.stuck)[-3000:]
