"""Probing a database URL before anything starts: parse it, find its driver, connect once.

Used by the pre-flight checks for the billing database and the ledger. A SQLite file that
does not exist is never opened here: SQLite would create an empty file, which every later
command would then take for a source with no tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa


class DatabaseCheckError(ValueError):
    """A database URL that cannot be used: one line naming the key, the URL and the fix."""


def hide_password(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 (an unparsable URL is shown as given; it is reported separately)
        return url


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for other databases and in-memory SQLite)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _engine(url: str, where: str) -> Any:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseCheckError(f"{where}: {url!r} is not a database URL; write it as "
                             "sqlite:///path.db, postgresql+psycopg2://user@host/db or mysql+pymysql://user@host/db") from None
    try:
        return sa.create_engine(parsed)
    except sa.exc.NoSuchModuleError:
        raise DatabaseCheckError(f"{where}: unknown database dialect {parsed.drivername!r} in {hide_password(url)}; "
                             "use sqlite, postgresql+psycopg2 or mysql+pymysql") from None
    except ModuleNotFoundError as exc:
        raise DatabaseCheckError(f"{where}: the driver {exc.name!r} for {parsed.drivername!r} is not installed; "
                             "use sqlite, postgresql+psycopg2 or mysql+pymysql") from None


def check_database(url: str, where: str, *, must_exist: bool = True) -> Any:
    """An engine for ``url`` that has connected once; a clear error when it cannot.

    A SQLite file that does not exist is reported without opening it (opening would create it).
    """
    engine = _engine(url, where)
    path = sqlite_file(url)
    if path is not None:
        if must_exist and not path.exists():
            engine.dispose()
            raise DatabaseCheckError(f"{where}: the SQLite file {path} does not exist; fix the path (nothing was created)")
        if not path.parent.is_dir():
            engine.dispose()
            raise DatabaseCheckError(f"{where}: the folder {path.parent} does not exist; create it or fix the path")
    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise DatabaseCheckError(f"{where}: cannot connect to {hide_password(url)}: {first_line}; check the host, "
                             "port, database name and credentials") from None
    return engine
