"""`qbo-pipeline run` and `ui` write the project's SQLite instance file into ``$DAGSTER_HOME`` only
when none is there or the one there is the project's own copy: a team's PostgreSQL instance file
(docs/dagster.postgres.yaml, docs/deployment.md) is never replaced by the SQLite one."""

from __future__ import annotations

from pathlib import Path

import pytest

from qbo_pipeline.local import WRITTEN_MARK, prepare_dagster_home, project_root

TEMPLATE = project_root() / "dagster.yaml"
POSTGRES = project_root() / "docs" / "dagster.postgres.yaml"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(folder))
    return folder


def test_an_empty_home_gets_the_projects_instance_file(home: Path) -> None:
    assert prepare_dagster_home() == home.resolve()
    assert (home / "dagster.yaml").read_bytes() == TEMPLATE.read_bytes()


def test_a_users_postgres_instance_file_is_never_overwritten(home: Path) -> None:
    home.mkdir()
    (home / "dagster.yaml").write_bytes(POSTGRES.read_bytes())
    prepare_dagster_home()
    prepare_dagster_home()
    assert (home / "dagster.yaml").read_bytes() == POSTGRES.read_bytes()


def test_the_projects_copy_edited_by_the_user_is_theirs(home: Path) -> None:
    prepare_dagster_home()
    edited = TEMPLATE.read_text().replace("max_concurrent_runs: 4", "max_concurrent_runs: 2")
    assert edited != TEMPLATE.read_text()
    (home / "dagster.yaml").write_text(edited)
    prepare_dagster_home()
    assert (home / "dagster.yaml").read_text() == edited


def test_an_older_projects_copy_is_refreshed(home: Path) -> None:
    """A copy the project wrote and nobody edited follows the project's file when it changes."""
    import hashlib

    home.mkdir()
    older = "telemetry:\n  enabled: false\n"
    (home / "dagster.yaml").write_text(older)
    (home / WRITTEN_MARK).write_text(hashlib.sha256(older.encode()).hexdigest() + "\n")
    prepare_dagster_home()
    assert (home / "dagster.yaml").read_bytes() == TEMPLATE.read_bytes()


def test_a_copy_written_before_the_digest_existed_is_refreshed(home: Path) -> None:
    home.mkdir()
    first_line = TEMPLATE.read_text().splitlines()[0]
    (home / "dagster.yaml").write_text(first_line + "\ntelemetry:\n  enabled: false\n")
    prepare_dagster_home()
    assert (home / "dagster.yaml").read_bytes() == TEMPLATE.read_bytes()
