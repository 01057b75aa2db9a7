"""The ledger's tables (SQLAlchemy Core), built with an optional name prefix and schema.

The prefix lets several ledgers share one database (tests, or a team's PostgreSQL).
"""

from __future__ import annotations

import sqlalchemy as sa


def build_tables(prefix: str = "", schema: str | None = None) -> tuple[sa.MetaData, dict[str, sa.Table]]:
    md = sa.MetaData(schema=schema)
    now = sa.func.current_timestamp()

    def table(name: str, *columns: sa.SchemaItem) -> sa.Table:
        return sa.Table(f"{prefix}{name}", md, *columns)

    links = table(
        "links",
        sa.Column("company", sa.String(64), primary_key=True),
        sa.Column("entity", sa.String(32), primary_key=True),
        sa.Column("source_id", sa.String(128), primary_key=True),
        sa.Column("qbo_id", sa.String(32)),
        sa.Column("sync_token", sa.String(16)),
        sa.Column("payload_hash", sa.String(64), comment="hash of the last payload QBO accepted"),
        sa.Column("attempted_hash", sa.String(64), comment="hash of the last payload sent (accepted or not)"),
        sa.Column("body", sa.JSON, comment="last accepted payload body (placeholders kept), for diffs"),
        sa.Column("status", sa.String(16), nullable=False, default="pending",
                  comment="exported|failed|blocked|skipped|deactivated|voided|deleted|linked|pending"),
        sa.Column("attempts", sa.Integer, nullable=False, default=0),
        sa.Column("last_error", sa.Text),
        sa.Column("error_code", sa.String(16)),
        sa.Column("hint", sa.Text),
        sa.Column("intuit_tid", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("name", sa.Text, comment="DisplayName / Name / DocNumber in QBO"),
        sa.Column("manual", sa.Boolean, nullable=False, default=False, comment="linked by an operator"),
        sa.Column("run_id", sa.String(64)),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=now),
    )
    outbox = table(
        "outbox",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("company", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("payload_hash", sa.String(64)),
        sa.Column("batch_request_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False, comment="pending|done|failed"),
        sa.Column("run_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=now),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=now),
        sa.Index(f"ix_{prefix}outbox_record", "company", "entity", "source_id", "state"),
    )
    runs = table(
        "runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("company", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
        sa.Column("counts", sa.JSON),
        sa.Column("write_requests", sa.Integer),
        sa.Column("message", sa.Text),
    )
    record_results = table(
        "record_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False, index=True),
        sa.Column("company", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("qbo_id", sa.String(32)),
        sa.Column("error_code", sa.String(16)),
        sa.Column("message", sa.Text),
        sa.Column("hint", sa.Text),
        sa.Column("intuit_tid", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("at", sa.DateTime, nullable=False, server_default=now),
        sa.Index(f"ix_{prefix}results_record", "company", "entity", "source_id"),
    )
    tokens = table(
        "tokens",
        sa.Column("company", sa.String(64), primary_key=True),
        sa.Column("realm_id", sa.String(32), nullable=False),
        sa.Column("ciphertext", sa.Text, nullable=False, comment="Fernet-encrypted JSON of the token response"),
        sa.Column("access_expires_at", sa.Float, nullable=False, comment="unix time"),
        sa.Column("refresh_expires_at", sa.Float),
        sa.Column("version", sa.Integer, nullable=False, default=1),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=now),
    )
    connections = table(
        "connections",
        sa.Column("company", sa.String(64), primary_key=True),
        sa.Column("realm_id", sa.String(32)),
        sa.Column("environment", sa.String(16)),
        sa.Column("base_url", sa.Text),
        sa.Column("token_endpoint", sa.Text),
        sa.Column("status", sa.String(24), nullable=False, comment="connected|needs_reconnect"),
        sa.Column("message", sa.Text),
        sa.Column("connected_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=now),
    )
    fingerprints = table(
        "source_fingerprints",
        sa.Column("company", sa.String(64), primary_key=True),
        sa.Column("source_table", sa.String(32), primary_key=True, comment="canonical table, e.g. payments"),
        sa.Column("source_id", sa.String(128), primary_key=True,
                  comment="row id (child tables: the parent id, one fingerprint for all its children)"),
        sa.Column("fingerprint", sa.String(16), nullable=False, comment="64-bit content hash, hex"),
    )
    quarantine = table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), index=True),
        sa.Column("company", sa.String(64)),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(128)),
        sa.Column("kind", sa.String(16), nullable=False, default="row", comment="row | normalisation"),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("data", sa.JSON),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=now),
    )
    sync_reports = table(
        "sync_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), index=True),
        sa.Column("company", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False, server_default=now),
        sa.Column("report", sa.JSON, nullable=False),
    )
    export_locks = table(
        "export_locks",
        sa.Column("company", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("acquired_at", sa.DateTime, nullable=False),
    )
    source_cursors = table(
        "source_cursors",
        sa.Column("company", sa.String(64), primary_key=True),
        sa.Column("source_table", sa.String(64), primary_key=True,
                  comment="canonical parent table; its watermark covers its child table"),
        sa.Column("watermark", sa.DateTime, comment="latest updated_at exported; None: the table was empty"),
        sa.Column("run_id", sa.String(64), comment="the run whose export finished with this cursor"),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=now),
    )
    drift_cursors = table(  # issue 14: where the last drift (CDC) pass of a company read up to
        "drift_cursors",
        sa.Column("company", sa.String(64), primary_key=True),
        sa.Column("checked_until", sa.DateTime, nullable=False, comment="UTC; the next CDC pass starts here"),
        sa.Column("run_id", sa.String(64)),
        sa.Column("updated_at", sa.DateTime, nullable=False, server_default=now),
    )
    drift = table(  # records the pipeline wrote that a person changed or deleted in QBO since
        "drift",
        sa.Column("company", sa.String(64), primary_key=True),
        sa.Column("entity", sa.String(32), primary_key=True),
        sa.Column("source_id", sa.String(128), primary_key=True),
        sa.Column("qbo_id", sa.String(32)),
        sa.Column("kind", sa.String(16), nullable=False, comment="edited | deleted"),
        sa.Column("fields", sa.JSON, comment="fields whose QBO value differs from what the pipeline wrote"),
        sa.Column("our_sync_token", sa.String(16)),
        sa.Column("qbo_sync_token", sa.String(16)),
        sa.Column("qbo_updated_at", sa.String(40), comment="QBO MetaData.LastUpdatedTime"),
        sa.Column("status", sa.String(16), nullable=False, comment="open | overwrite (operator approved)"),
        sa.Column("detected_at", sa.DateTime, nullable=False, server_default=now),
        sa.Column("run_id", sa.String(64)),
    )
    return md, {
        "source_fingerprints": fingerprints,
        "drift_cursors": drift_cursors,
        "drift": drift,
        "links": links,
        "outbox": outbox,
        "runs": runs,
        "record_results": record_results,
        "tokens": tokens,
        "connections": connections,
        "quarantine": quarantine,
        "sync_reports": sync_reports,
        "export_locks": export_locks,
        "source_cursors": source_cursors,
    }
