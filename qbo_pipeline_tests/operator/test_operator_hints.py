"""Hints that are true: every `qbo-pipeline ...` command named in a message of the package exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click

from qbo_pipeline.cli import main

PACKAGE = Path(__file__).resolve().parents[2] / "qbo_pipeline"
_NAMED = re.compile(r"qbo-pipeline((?: [a-z][a-z0-9-]*)+)")


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal, f-strings with their placeholders as ``{}``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)
            found.append((node.lineno, text))
    return found


def named_commands() -> list[tuple[str, list[str]]]:
    """``(where, words)`` for each mention of ``qbo-pipeline WORD ...`` in the package's strings."""
    mentions = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, text in _strings(ast.parse(path.read_text(), str(path))):
            for match in _NAMED.finditer(text):
                mentions.append((f"{path.relative_to(PACKAGE.parent)}:{line}", match.group(1).split()))
    return mentions


def resolve(words: list[str]) -> str | None:
    """None when ``qbo-pipeline WORDS...`` starts with a real command (group, then subcommand); else why not."""
    command: click.Command = main
    ctx = click.Context(main)
    for depth, word in enumerate(words):
        if not isinstance(command, click.Group):
            return None  # the rest are arguments of a command
        sub = command.get_command(ctx, word)
        if sub is None:
            if depth > 0 and not word.isidentifier() and "-" not in word:
                return None
            return f"no command {' '.join(words[:depth + 1])!r}"
        command = sub
    return None


def test_the_package_names_commands_in_its_messages() -> None:
    mentions = named_commands()
    assert len(mentions) > 20  # hints, docstrings and errors do name commands
    assert any(words[0] == "connect" for _, words in mentions)


def test_every_command_named_in_a_message_exists() -> None:
    wrong = [f"{where}: qbo-pipeline {' '.join(words)} ({why})"
             for where, words in named_commands() if (why := resolve(words))]
    assert not wrong, "\n".join(wrong)


def test_the_check_catches_a_command_that_does_not_exist() -> None:
    assert resolve(["ledger", "unlink"]) == "no command 'ledger'"
    assert resolve(["failed", "purge"]) == "no command 'failed purge'"
    assert resolve(["failed", "retry", "--all"]) is None and resolve(["connect", "--company", "demo"]) is None


def test_every_command_named_in_the_docs_exists() -> None:
    """Commands in backticks or at the start of a code-block line of README.md and docs/*.md."""
    root = PACKAGE.parent
    quoted = re.compile(r"(?:`|^\s*(?:\$ )?)qbo-pipeline((?: [a-z][a-z0-9-]*)+)")
    wrong = []
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in quoted.finditer(line):
                if why := resolve(match.group(1).split()):
                    wrong.append(f"{path.name}:{number}: {match.group(0).strip()} ({why})")
    assert not wrong, "\n".join(wrong)
