"""What every operator command shares: --help, --json errors on stdout, exit codes 2 and 3."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qbo_pipeline.cli import main
from qbo_pipeline_tests.operator.operator_helpers import OperatorEnv

COMMANDS = [["connect"], ["disconnect"], ["doctor"], ["status"], ["failed"], ["failed", "list"], ["failed", "retry"],
            ["failed", "ignore"], ["failed", "clear"], ["failed", "export-csv"], ["link"], ["unlink"], ["sync"],
            ["unlock"], ["quarantine"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and result.stdout.startswith(f"Usage: main {' '.join(command)}")
    if command != ["failed"]:
        assert "--company KEY" in result.stdout and "--config FILE" in result.stdout
    assert command == ["failed"] or command == ["failed", "export-csv"] or "--json" in result.stdout


def test_unknown_company_is_a_configuration_error(operator_env: OperatorEnv) -> None:
    result = operator_env.invoke("status", "--company", "nope", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert error["ok"] is False and error["exit_code"] == 2 and "no company with key 'nope'" in error["error"]
    assert "no company with key 'nope'" in result.stderr  # the person at the terminal sees it too


def test_commands_needing_quickbooks_exit_3_when_not_connected(operator_env: OperatorEnv) -> None:
    for args in (["sync", "--customer", "C00001"], ["link", "customer", "C00001", "1"]):
        result = operator_env.invoke(*args, "--json")
        assert result.exit_code == 3, args
        error = json.loads(result.stdout)  # nothing but the JSON document on stdout
        assert error["exit_code"] == 3 and "qbo-pipeline connect --company demo" in error["error"]
