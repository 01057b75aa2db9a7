"""Checks made before anything starts: state folder, source database, mapping, ports.

A wrong path, a misspelt dialect or a mapping that does not fit the database must stop a
command with one line that names the file, key or URL and the fix, before a sandbox is
started, OAuth is contacted or a file is created. In particular a SQLite source that does
not exist is never opened (SQLite would create an empty file, which then looks like a
source with no tables to every later command).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from qbo_pipeline.config import STATE_DIR_ENV, PipelineConfig, state_dir
from qbo_pipeline.source.database import DatabaseCheckError, check_database, hide_password, sqlite_file

__all__ = ["DatabaseCheckError", "PreflightError", "check_database", "hide_password", "sqlite_file"]


class PreflightError(ValueError):
    """A configuration or connection problem found before the command started: one line with the fix."""


def check_state_dir(*, create: bool) -> Path:
    """The state folder; a folder named by ``$QBO_PIPELINE_STATE_DIR`` must exist unless ``create``.

    The default ``./var`` is the project's own and is created when missing.
    """
    folder = state_dir()
    if folder.is_dir():
        return folder
    if folder.exists():
        raise PreflightError(f"{STATE_DIR_ENV}={folder}: not a folder; point {STATE_DIR_ENV} at a folder")
    if create or not os.environ.get(STATE_DIR_ENV):
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    raise PreflightError(f"{STATE_DIR_ENV}={folder}: the state folder does not exist; create it "
                         f"(mkdir -p {folder}) or fix {STATE_DIR_ENV}")


def source_sections(config: PipelineConfig, company_keys: list[str] | None = None) -> list[tuple[str, Any]]:
    """``(where, SourceConfig)`` of every billing database the companies read, each once."""
    seen: dict[tuple[str, str], tuple[str, Any]] = {}
    for company in config.companies:
        if company_keys is not None and company.key not in company_keys:
            continue
        if company.source is not None:
            where = f"{config.path}: companies[{company.key}].source.url"
            source = company.source
        else:
            where = f"{config.path}: source.url"
            source = config.source
        seen.setdefault((source.url, source.mapping), (where, source))
    return list(seen.values())


def check_source(url: str, mapping: str, where: str) -> None:
    """The source database is reachable and the mapping fits it (tables, columns, types)."""
    from qbo_pipeline.source.demo import builtin_demo_url
    from qbo_pipeline.source.mapping import load_mapping

    path = sqlite_file(url)
    if path is not None and not path.exists() and url == builtin_demo_url():
        raise PreflightError(f"{where}: the demo source {path} is not built yet; `qbo-pipeline run` builds it "
                             "(or `qbo-pipeline demo init`)")
    engine = check_database(url, where)
    try:
        load_mapping(mapping, engine)  # MappingError names the mapping file, entity and column
    finally:
        engine.dispose()


def check_sources(config: PipelineConfig, company_keys: list[str] | None = None) -> None:
    for where, source in source_sections(config, company_keys):
        check_source(source.url, source.mapping, where)


def check_ledger(config: PipelineConfig) -> None:
    """The ledger's database can be opened (its SQLite file is created when its folder exists)."""
    check_database(config.ledger.url, f"{config.path}: ledger.url", must_exist=False).dispose()


def check_port_free(port: int, what: str, fix: str, host: str = "127.0.0.1") -> None:
    """A clear error when ``host:port`` is taken, instead of a second server or a traceback later."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PreflightError(f"port {port} on {host} is in use (wanted for {what}); {fix}") from None
