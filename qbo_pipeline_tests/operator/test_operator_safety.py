"""Never touch the user's data by mistake: where the demo is built, what `demo init` refuses,
and commands that are safe on a fresh checkout in any order."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner

from qbo_pipeline.cli import main
from qbo_pipeline.config import load_config
from qbo_pipeline.local import ensure_demo_source
from qbo_pipeline.source.demo import builtin_demo_url, init_demo_db


@pytest.fixture
def fresh_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder with nothing in it and the built-in defaults (no pipeline file)."""
    state = tmp_path / "var"
    monkeypatch.setenv("QBO_PIPELINE_STATE_DIR", str(state))
    monkeypatch.setenv("DAGSTER_HOME", str(state / "dagster_home"))
    for name in ("QBO_PIPELINE_CONFIG", "QBO_LOCAL_URL", "QBO_CLIENT_SECRET", "QBO_PIPELINE_TOKEN_KEY"):
        monkeypatch.delenv(name, raising=False)
    return state


def _invoke(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sorted(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_missing_configured_source_is_an_error_never_a_new_demo(fresh_checkout: Path, tmp_path: Path) -> None:
    typo = tmp_path / "billing" / "bililng.db"  # the folder exists, the file name is misspelt
    typo.parent.mkdir()
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({"source": {"url": f"sqlite:///{typo}"}}))
    result = _invoke("run", "--config", str(config))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and str(typo) in result.output and "does not exist" in result.output
    assert not typo.exists()  # not created, not filled with demo invoices
    assert not (fresh_checkout / "sandbox.db").exists()  # checked before the sandbox started
    # the same configuration may ask for the demo explicitly
    built = ensure_demo_source(load_config(config), scale=0.005, reset=False, demo=True)
    assert built and built["invoices"] > 0 and typo.exists()


def test_status_before_run_leaves_nothing_that_breaks_run(fresh_checkout: Path) -> None:
    fresh_checkout.mkdir()
    result = _invoke("status")
    assert result.exit_code == 2 and "`qbo-pipeline run` builds it" in result.output
    assert not (fresh_checkout / "demo_source.db").exists()
    # what `run` does first: the built-in demo path gets the demo (an empty file left by an older
    # version counts as missing)
    (fresh_checkout / "demo_source.db").touch()
    built = ensure_demo_source(load_config(), scale=0.005, reset=False)
    assert built and built["customers"] > 0
    assert ensure_demo_source(load_config(), scale=0.005, reset=False) is None  # built once, then left alone


def test_demo_init_refuses_a_database_with_tables_unless_forced(tmp_path: Path, fresh_checkout: Path) -> None:
    url = f"sqlite:///{tmp_path / 'books.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE customers (id TEXT PRIMARY KEY, note TEXT)"))
        conn.execute(sa.text("CREATE TABLE ledger_entries (id INTEGER PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO customers VALUES ('mine', 'real data')"))
    engine.dispose()
    result = _invoke("demo", "init", "--url", url, "--scale", "0.005")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "is not empty (tables: customers, ledger_entries)" in result.output and "--force" in result.output
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT note FROM customers")).scalar() == "real data"
    engine.dispose()
    result = _invoke("demo", "init", "--url", url, "--scale", "0.005", "--force")
    assert result.exit_code == 0, result.output
    assert "ledger_entries" in _tables(url)  # --force drops only the canonical tables


def test_demo_init_writes_only_where_asked(tmp_path: Path, fresh_checkout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "real.db"
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({"source": {"url": f"sqlite:///{elsewhere}"}}))
    monkeypatch.setenv("QBO_PIPELINE_CONFIG", str(config))
    for command in (["demo", "init", "--scale", "0.005"], ["demo", "mutate"]):
        result = _invoke(*command)
        assert result.exit_code == 2 and "pass --url explicitly" in result.output, command
    assert not elsewhere.exists()
    monkeypatch.delenv("QBO_PIPELINE_CONFIG")
    result = _invoke("demo", "init", "--scale", "0.005")  # the built-in demo path: fine
    assert result.exit_code == 0 and Path(builtin_demo_url().removeprefix("sqlite:///")).exists()


def test_init_demo_db_never_drops_by_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    init_demo_db(url, scale=0.005, seed=1)
    with pytest.raises(ValueError, match="is not empty"):
        init_demo_db(url, scale=0.005, seed=2)
    assert init_demo_db(url, scale=0.005, seed=2, force=True)["customers"] > 0
