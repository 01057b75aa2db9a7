"""Source-layer fixtures: one isolated database per backend (SQLite, PostgreSQL, MariaDB/MySQL).

PostgreSQL tests get a fresh schema (``search_path`` in the URL), MySQL tests a fresh
database; both are dropped afterwards. Unreachable servers skip with a clear message.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa

from qbo_pipeline.source.demo import init_demo_db

POSTGRES_URL = os.environ.get("QBO_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("QBO_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
DEMO_TODAY = date(2026, 6, 15)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mysql"]


def _reachable(url: str) -> str | None:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except Exception as exc:  # any driver error means "not here"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _server_status() -> dict[str, str | None]:
    return {"postgres": _reachable(POSTGRES_URL), "mysql": _reachable(MYSQL_URL)}


def _isolated_database(backend: str, status: dict[str, str | None], tmp_dir) -> Iterator[str]:
    name = f"qbo_src_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / (name + '.db')}"
        return
    server = POSTGRES_URL if backend == "postgres" else MYSQL_URL
    if status[backend]:
        pytest.skip(f"{backend} server at {sa.make_url(server).render_as_string()} is unreachable: {status[backend]}")
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    if backend == "postgres":
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {name}"))
        url = sa.make_url(server).update_query_dict({"options": f"-csearch_path={name}"})
        drop = f"DROP SCHEMA {name} CASCADE"
    else:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
        url = sa.make_url(server).set(database=name).update_query_dict({"charset": "utf8mb4"})
        drop = f"DROP DATABASE {name}"
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(drop))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_db_url(request, _server_status, tmp_path) -> Iterator[str]:
    """A fresh empty database on each backend, dropped after the test."""
    yield from _isolated_database(request.param, _server_status, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def demo_db_url(request, _server_status, tmp_path_factory) -> Iterator[str]:
    """The default-scale demo database (today = DEMO_TODAY) on each backend, shared by a module.

    Tests that change rows must use ``fresh_demo_db_url`` instead.
    """
    for url in _isolated_database(request.param, _server_status, tmp_path_factory.mktemp("demo")):
        init_demo_db(url, seed=42, today=DEMO_TODAY)
        yield url


@pytest.fixture
def fresh_demo_db_url(empty_db_url) -> str:
    """A demo database of its own (small scale), for tests that change rows."""
    init_demo_db(empty_db_url, scale=0.01, seed=3, today=DEMO_TODAY)
    return empty_db_url


@pytest.fixture(scope="session")
def demo_today() -> date:
    """The ``today`` the shared demo databases are built around."""
    return DEMO_TODAY


@pytest.fixture(params=BACKENDS[1:])
def server_db_url(request, _server_status, tmp_path) -> Iterator[str]:
    """A fresh empty database on each database server (PostgreSQL, MySQL), not SQLite."""
    yield from _isolated_database(request.param, _server_status, tmp_path)


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def postgres_db_url(request, _server_status, tmp_path) -> Iterator[str]:
    """A fresh schema on the PostgreSQL server."""
    yield from _isolated_database(request.param, _server_status, tmp_path)
