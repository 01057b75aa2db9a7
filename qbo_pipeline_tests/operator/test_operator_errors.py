"""Every configuration, connection and mapping error: one line naming the file/key/URL and
the fix, exit code 2, found before anything starts (no sandbox, no OAuth, no file created)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from qbo_pipeline.cli import main
from qbo_pipeline.source.examples import build_hosting_billing_db
from qbo_pipeline.source.mapping import MAPPINGS_DIR
from qbo_pipeline_tests.operator.operator_helpers import OperatorEnv


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "var"
    folder.mkdir()
    monkeypatch.setenv("QBO_PIPELINE_STATE_DIR", str(folder))
    monkeypatch.setenv("DAGSTER_HOME", str(folder / "dagster_home"))
    for name in ("QBO_PIPELINE_CONFIG", "QBO_LOCAL_URL", "QBO_CLIENT_SECRET", "QBO_PIPELINE_TOKEN_KEY"):
        monkeypatch.delenv(name, raising=False)
    return folder


def _config(tmp_path: Path, **sections: Any) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(sections))
    return path


def _one_line_error(args: list[str], *needles: str) -> str:
    # `run` exports QBO_PIPELINE_CONFIG / QBO_LOCAL_URL for its Dagster processes: restore them after each call
    keep = {name: os.environ.get(name) for name in ("QBO_PIPELINE_CONFIG", "QBO_LOCAL_URL", "QBO_CLIENT_SECRET")}
    result = CliRunner().invoke(main, args, catch_exceptions=False, env=keep)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    for needle in needles:
        assert needle in result.output, result.output
    return result.output


def _nothing_started(state: Path) -> None:
    assert not (state / "sandbox.db").exists() and not (state / "dagster_home").exists()


def test_missing_source_database(state: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, source={"url": f"sqlite:///{tmp_path}/nope.db"})
    for command in (["run"], ["status"], ["doctor"], ["sync", "--invoice", "I1"]):
        _one_line_error([*command, "--config", str(config)], f"{config}: source.url", "nope.db does not exist")
    _nothing_started(state)
    assert not (tmp_path / "nope.db").exists()


def test_misspelt_dialect(state: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, source={"url": "postgres+psycopg2://u@127.0.0.1/billing"})
    _one_line_error(["run", "--config", str(config)], "source.url: unknown database dialect 'postgres+psycopg2'",
                    "use sqlite, postgresql+psycopg2 or mysql+pymysql")
    _nothing_started(state)


def test_unreachable_postgresql(state: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg2://billing:secret@127.0.0.1:{port}/billing"
    config = _config(tmp_path, source={"url": url})
    output = _one_line_error(["run", "--config", str(config)], f"cannot connect to postgresql+psycopg2://billing:***@127.0.0.1:{port}/billing",
                             "check the host, port")
    assert "secret" not in output
    _nothing_started(state)


def test_unreachable_ledger(state: Path, tmp_path: Path) -> None:
    build = tmp_path / "source.db"
    from qbo_pipeline.source.demo import init_demo_db

    init_demo_db(f"sqlite:///{build}", scale=0.005)
    config = _config(tmp_path, source={"url": f"sqlite:///{build}"},
                     ledger={"url": f"sqlite:///{tmp_path}/missing-folder/ledger.db"})
    _one_line_error(["run", "--config", str(config)], "ledger.url: the folder", "missing-folder does not exist")
    _nothing_started(state)


def test_state_folder_that_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no-such-state"
    monkeypatch.setenv("QBO_PIPELINE_STATE_DIR", str(missing))
    for command in (["connect", "--no-browser", "--timeout", "1"], ["status", "--no-source"], ["failed", "list"]):
        _one_line_error(command, f"QBO_PIPELINE_STATE_DIR={missing}: the state folder does not exist",
                        f"mkdir -p {missing}")
    assert not missing.exists()


def test_numeric_column_mapped_as_boolean_is_a_mapping_error_before_the_sandbox(state: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hosting.db'}"
    build_hosting_billing_db(url)
    mapping = yaml.safe_load((MAPPINGS_DIR / "hosting_billing.yaml").read_text())
    mapping["entities"]["products"]["columns"]["active"] = "monthly"  # NUMERIC(10, 2)
    mapping_path = tmp_path / "mapping.yaml"
    mapping_path.write_text(yaml.safe_dump(mapping))
    config = _config(tmp_path, source={"url": url, "mapping": str(mapping_path)})
    for command in (["run"], ["status"]):
        _one_line_error([*command, "--config", str(config)],
                        f"{mapping_path}: entity 'products', column 'active': source column 'monthly' has type NUMERIC",
                        "map a boolean or 0/1 column")
    _nothing_started(state)


def test_unknown_mapping_file_is_a_mapping_error(state: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, source={"url": f"sqlite:///{tmp_path}/x.db", "mapping": "example:nope"})
    (tmp_path / "x.db").touch()
    _one_line_error(["run", "--config", str(config)], "example:nope: no such example mapping")
    _nothing_started(state)


def test_invalid_pipeline_file_and_token_key(state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, options={"disambiguation": "name"})
    _one_line_error(["run", "--config", str(config)], f"{config}: options.disambiguation: 'name' is not allowed")
    _one_line_error(["status", "--config", str(tmp_path / "typo.yaml")], "typo.yaml: configuration file not found")
    monkeypatch.setenv("QBO_PIPELINE_TOKEN_KEY", "not-a-key")
    _one_line_error(["status", "--no-source"], "QBO_PIPELINE_TOKEN_KEY is not a valid Fernet key")


def test_local_company_without_base_url_uses_the_documented_default(state: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from qbo_pipeline.qbo.environments import api_base_url

    config = _config(tmp_path, companies=[{"key": "shop", "environment": "local"}])
    monkeypatch.setenv("QBO_SANDBOX_PORT", "8790")
    assert api_base_url("local", None) == "http://127.0.0.1:8790"  # the sandbox `run` starts
    monkeypatch.setenv("QBO_LOCAL_URL", "http://127.0.0.1:9999/")
    assert api_base_url("local", None) == "http://127.0.0.1:9999"
    monkeypatch.delenv("QBO_LOCAL_URL")
    monkeypatch.setenv("QBO_SANDBOX_PORT", "0")  # no fixed address: say what to set
    _one_line_error(["connect", "--config", str(config), "--no-browser", "--timeout", "1"],
                    "set companies[].base_url or export QBO_LOCAL_URL")


def test_ui_on_a_busy_port_is_one_line_and_starts_nothing(state: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _one_line_error(["ui", "--port", str(port)], f"port {port} on 127.0.0.1 is in use (wanted for the Dagster UI)",
                        "pass --port")
    _nothing_started(state)


def test_sandbox_port_taken_is_one_line(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qbo_pipeline.source.demo import builtin_demo_url, init_demo_db

    init_demo_db(builtin_demo_url(), scale=0.005)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("QBO_SANDBOX_PORT", str(port))
        _one_line_error(["run"], f"port {port} on 127.0.0.1 is in use (wanted for the local QBO sandbox)",
                        "--sandbox-port or QBO_SANDBOX_PORT")
    assert not (state / "sandbox.db").exists()


def test_failed_accepts_config_before_the_subcommand(operator_env: OperatorEnv, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QBO_PIPELINE_CONFIG")
    result = CliRunner().invoke(main, ["failed", "--config", str(operator_env.config_path), "list", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert '"queue": "failed"' in result.stdout
    other = _config(tmp_path, companies=[{"key": "other", "environment": "local", "base_url": "http://127.0.0.1:1"}])
    result = CliRunner().invoke(main, ["failed", "--config", str(other), "list", "--company", "demo"],
                                catch_exceptions=False)
    assert result.exit_code == 2 and "no company with key 'demo'" in result.output


def test_errors_are_one_line_on_stderr_from_the_real_command(state: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, source={"url": f"sqlite:///{tmp_path}/nope.db"})
    done = subprocess.run([str(Path(sys.executable).with_name("qbo-pipeline")), "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and "nope.db does not exist" in done.stderr


def test_run_against_a_sandbox_the_user_started_needs_no_client_secret(state: Path, sandbox_factory: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/auth.md: local mode uses the sandbox's development secret when QBO_CLIENT_SECRET is unset.

    What `run` prepares before Dagster starts (the export itself is covered by the Dagster tests;
    a whole run here would cost minutes): the company gets connected through OAuth and the
    Dagster resources find the secret variable set."""
    from qbo_pipeline.local import LOCAL_CLIENT_SECRET, embedded_session
    from qbo_pipeline.source.demo import builtin_demo_url, init_demo_db

    init_demo_db(builtin_demo_url(), scale=0.005)
    sandbox = sandbox_factory(enforce_limits=False)
    monkeypatch.setenv("QBO_LOCAL_URL", sandbox.url)  # `qbo-pipeline sandbox serve` started by the user
    monkeypatch.setenv("QBO_PIPELINE_CONFIG", "")
    with embedded_session(None) as session:
        assert session.sandbox_data is None  # the user's sandbox is used, none was started
        assert os.environ["QBO_CLIENT_SECRET"] == LOCAL_CLIENT_SECRET
    monkeypatch.delenv("QBO_CLIENT_SECRET")


def test_connect_to_a_sandbox_that_is_not_running(state: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = _config(tmp_path, companies=[{"key": "demo", "environment": "local",
                                           "base_url": f"http://127.0.0.1:{port}"}])
    _one_line_error(["connect", "--config", str(config), "--no-browser", "--timeout", "1"],
                    f"cannot read the OAuth discovery document at http://127.0.0.1:{port}/",
                    "is the local sandbox running?", f"sandbox serve --port {port}")
