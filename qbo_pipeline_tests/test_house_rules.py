"""The house rules, read from the imports of every module of the package (no module is run).

- only ``qbo`` speaks HTTP to Intuit: httpx and authlib are imported in ``qbo/`` (and the
  sandbox, which is a server of its own);
- only ``ledger`` writes state and only ``source`` reads the billing database: sqlalchemy
  is imported there and nowhere else (the token vault goes through ledger methods);
- Dagster is the orchestration layer only: ``defs/``, ``definitions.py``, ``runner.py``;
- the sandbox and the pipeline never import each other;
- ``defs/`` imports no ``operator`` module (operators call the stage API, Dagster wires it);
- no module imports another package's private names (``_decrypt``, ``_quote``...).

``violations`` is also run on deliberately broken snippets, so this test is seen failing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "qbo_pipeline"

HTTP_LIBRARIES = ("httpx", "authlib")
HTTP_ALLOWED = ("qbo/", "sandbox/")
SQL_ALLOWED = ("ledger/", "source/")
DAGSTER_LAYER = ("defs/", "definitions.py", "runner.py")
# Known exceptions, each with its reason; an entry here is a debt, not a rule.
DAGSTER_EXCEPTIONS: set[str] = set()


def _imported(tree: ast.AST, module: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(line, imported module, names)`` of every import, relative ones resolved against ``module``."""
    out: list[tuple[int, str, tuple[str, ...]]] = []
    package = module.split(".")[:-1]  # a module's package (for __init__, the package itself)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name, tuple(alias.name for alias in node.names)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append((node.lineno, node.args[0].value, ()))
    return out


def _top(name: str) -> str:
    return name.split(".")[0]


def violations(files: dict[str, str]) -> list[str]:
    """Broken rules in ``{path relative to qbo_pipeline/: source}``, one line each."""
    found: list[str] = []
    for path, source in sorted(files.items()):
        module = "qbo_pipeline." + path.removesuffix(".py").replace("/", ".")
        area = path.split("/")[0] + "/" if "/" in path else path
        in_sandbox = area == "sandbox/"
        for line, name, names in _imported(ast.parse(source, filename=path), module):
            where = f"qbo_pipeline/{path}:{line} imports {name}"
            if _top(name) in HTTP_LIBRARIES and area not in HTTP_ALLOWED:
                found.append(f"{where}: only qbo/ speaks HTTP to Intuit")
            if _top(name) == "sqlalchemy" and area not in SQL_ALLOWED:
                found.append(f"{where}: only ledger/ (state) and source/ (billing database) use SQL")
            if _top(name) == "dagster" and area not in DAGSTER_LAYER and path not in DAGSTER_EXCEPTIONS:
                found.append(f"{where}: Dagster belongs to defs/, definitions.py and runner.py")
            if _top(name) != "qbo_pipeline":
                continue
            parts = name.split(".")
            target = parts[1] if len(parts) > 1 else None
            imports_sandbox = target == "sandbox" or (target is None and "sandbox" in names)
            if in_sandbox and not (target == "sandbox" or (target is None and names == ("sandbox",))):
                found.append(f"{where}: the sandbox never imports the pipeline")
            if not in_sandbox and imports_sandbox:
                found.append(f"{where}: the pipeline never imports the sandbox")
            if area == "defs/" and (target == "operator" or (target is None and "operator" in names)):
                found.append(f"{where}: defs/ is wiring and imports no operator module")
            own = path.split("/")[0].removesuffix(".py")
            if target is not None and target != own:
                private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                if private:
                    found.append(f"{where}: private name(s) {', '.join(private)} of another package")
    return found


def _package_sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text() for p in PACKAGE.rglob("*.py")}


def test_the_package_keeps_the_house_rules():
    sources = _package_sources()
    assert len(sources) > 50  # the scan sees the package
    assert violations(sources) == []


@pytest.mark.parametrize(("path", "snippet", "rule"), [
    ("export/engine.py", "import httpx", "only qbo/ speaks HTTP"),
    ("operator/connect.py", "from authlib.integrations.httpx_client import OAuth2Client", "only qbo/ speaks HTTP"),
    ("qbo/auth.py", "import sqlalchemy as sa", "use SQL"),
    ("stages.py", "def f():\n    from sqlalchemy import select\n", "use SQL"),
    ("stages.py", "def f():\n    import dagster as dg\n", "Dagster belongs"),
    ("sandbox/app.py", "from qbo_pipeline.ledger import Ledger", "sandbox never imports the pipeline"),
    ("sandbox/app.py", "from ..ledger import Ledger", "sandbox never imports the pipeline"),
    ("export/engine.py", "from qbo_pipeline.sandbox.app import create_app", "pipeline never imports the sandbox"),
    ("cli.py", "from qbo_pipeline import sandbox", "pipeline never imports the sandbox"),
    ("cli.py", "import importlib\nimportlib.import_module('qbo_pipeline.sandbox.cli')", "never imports the sandbox"),
    ("defs/assets.py", "from qbo_pipeline.operator.status import status_data", "imports no operator module"),
    ("defs/assets.py", "from ..operator import common", "imports no operator module"),
    ("export/engine.py", "from qbo_pipeline.qbo.client import QboClient, _quote", "private name"),
])
def test_a_broken_rule_is_reported(path, snippet, rule):
    found = violations({path: snippet})
    assert len(found) == 1, found
    assert rule in found[0]
    assert found[0].startswith(f"qbo_pipeline/{path}:")


@pytest.mark.parametrize(("path", "snippet"), [
    ("qbo/client.py", "import httpx"),
    ("sandbox/app.py", "import httpx\nfrom qbo_pipeline.sandbox.store import Store\nfrom .errors import fault"),
    ("ledger/__init__.py", "import sqlalchemy as sa"),
    ("source/extract.py", "from sqlalchemy import select"),
    ("defs/assets.py", "import dagster as dg\nfrom qbo_pipeline.stages import sync_company"),
    ("runner.py", "import dagster as dg"),
    ("qbo/auth.py", "from qbo_pipeline.qbo.client import _quote"),
])
def test_what_the_rules_allow_is_not_reported(path, snippet):
    assert violations({path: snippet}) == []
