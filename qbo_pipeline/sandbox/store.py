"""SQLite persistence of the sandbox state, so a restart keeps every company, token and request id.

The working set lives in memory (``Company`` objects); every committed operation writes
the records it touched through to SQLite (WAL mode, one connection), so reads cost no I/O.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from qbo_pipeline.sandbox.entities import Company

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    realm TEXT NOT NULL, entity TEXT NOT NULL, id TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL, PRIMARY KEY (realm, entity, id));
CREATE TABLE IF NOT EXISTS companies (realm TEXT PRIMARY KEY, next_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS requestids (
    realm TEXT NOT NULL, requestid TEXT NOT NULL, status INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (realm, requestid));
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, body TEXT NOT NULL);
"""


class Store:
    """The sandbox's SQLite file: load everything at start, write through on every change."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def load_companies(self) -> dict[str, Company]:
        companies: dict[str, Company] = {}
        with self._lock:
            for realm, next_id in self._conn.execute("SELECT realm, next_id FROM companies"):
                companies[realm] = Company(realm=realm, next_id=next_id)
            for realm, entity, record_id, deleted, body in self._conn.execute(
                "SELECT realm, entity, id, deleted, body FROM records"
            ):
                company = companies.get(realm)
                if company is None:
                    continue
                target = company.tombstones if deleted else company.records
                record = json.loads(body)
                target.setdefault(entity, {})[record_id] = record
                if not deleted:
                    company.index(entity, record)
            for realm, requestid, status, body in self._conn.execute(
                "SELECT realm, requestid, status, body FROM requestids"
            ):
                if realm in companies:
                    companies[realm].requestids[requestid] = (status, bytes(body))
        return companies

    def save(self, company: Company, requestid: tuple[str, int, bytes] | None = None) -> None:
        """Write the records the last operation touched (and its request id) in one transaction."""
        dirty, company.dirty = company.dirty, set()
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.execute(
                    "INSERT INTO companies(realm, next_id) VALUES (?, ?) "
                    "ON CONFLICT(realm) DO UPDATE SET next_id=excluded.next_id",
                    (company.realm, company.next_id),
                )
                for entity, record_id in dirty:
                    live = company.records.get(entity, {}).get(record_id)
                    record = live if live is not None else company.tombstones.get(entity, {}).get(record_id)
                    if record is None:
                        continue
                    self._conn.execute(
                        "INSERT OR REPLACE INTO records(realm, entity, id, deleted, body) VALUES (?, ?, ?, ?, ?)",
                        (company.realm, entity, record_id, 0 if live is not None else 1,
                         json.dumps(record, separators=(",", ":"))),
                    )
                if requestid is not None:
                    self._conn.execute(
                        "INSERT OR REPLACE INTO requestids(realm, requestid, status, body) VALUES (?, ?, ?, ?)",
                        (company.realm, *requestid),
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def save_requestid(self, realm: str, requestid: str, status: int, body: bytes) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO requestids(realm, requestid, status, body) VALUES (?, ?, ?, ?)",
                (realm, requestid, status, body),
            )

    def wipe(self) -> None:
        with self._lock:
            for table in ("records", "companies", "requestids", "tokens", "settings"):
                self._conn.execute(f"DELETE FROM {table}")

    # tokens and settings are small JSON documents keyed by a string
    def put(self, table: str, key: str, body: dict[str, Any]) -> None:
        column = "token" if table == "tokens" else "key"
        with self._lock:
            self._conn.execute(
                f"INSERT OR REPLACE INTO {table}({column}, body) VALUES (?, ?)", (key, json.dumps(body))
            )

    def delete(self, table: str, key: str) -> None:
        column = "token" if table == "tokens" else "key"
        with self._lock:
            self._conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))

    def all(self, table: str) -> dict[str, dict[str, Any]]:
        column = "token" if table == "tokens" else "key"
        with self._lock:
            return {k: json.loads(v) for k, v in self._conn.execute(f"SELECT {column}, body FROM {table}")}
