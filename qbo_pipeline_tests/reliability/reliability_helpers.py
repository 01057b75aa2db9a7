"""Shared pieces of the reliability tests: a demo export run through the real stages, and the
check that the books in QBO hold every valid source record exactly once with the right amounts.

The check reads QBO over HTTP (the sandbox's public data API) and compares *fingerprints*:
what a record looks like in QBO (customer name, date, document number, reference number,
line amounts, the invoices a payment is applied to), built once from the payloads the
pipeline meant to export and once from what QBO holds. Equal multisets mean nothing is
missing, nothing is doubled, and every amount and application is right.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from qbo_pipeline import sync
from qbo_pipeline.config import CompanyConfig, PipelineConfig, load_config
from qbo_pipeline.ledger import Ledger
from qbo_pipeline.qbo.auth import TokenVault, connect_headless
from qbo_pipeline.qbo.client import QboClient
from qbo_pipeline.transform import TransformContext
from qbo_pipeline.transform.payload import REF_KEY, Payload, iter_refs

ENTITIES = sync.MASTER_ENTITIES + sync.TRANSACTION_ENTITIES
CHECKED_ENTITIES = ("Customer", "Item", "Invoice", "CreditMemo", "Payment", "RefundReceipt")
CHILD_MODULE = "qbo_pipeline_tests.reliability.export_child"
ROOT = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class ExportSetup:
    """Everything an export process needs, written to a JSON file the child reads."""

    source_url: str
    ledger_url: str
    sandbox_url: str
    token_key: str
    lock_dir: str
    realm: str
    time_scale: float = 1.0
    export_options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(dataclasses.asdict(self)))
        return path

    @classmethod
    def read(cls, path: Path) -> ExportSetup:
        return cls(**json.loads(path.read_text()))

    def config(self) -> PipelineConfig:
        return load_config(overrides={"source": {"url": self.source_url}, "ledger": {"url": self.ledger_url},
                                      "export": self.export_options})

    def company(self) -> CompanyConfig:
        return CompanyConfig(key="demo", environment="local", base_url=self.sandbox_url)


def connect(workdir: Path, source_url: str, sandbox_url: str, *, time_scale: float = 1.0,
            export_options: dict[str, Any] | None = None) -> ExportSetup:
    """Connect the demo company to the sandbox through the real OAuth flow; tokens go into the
    ledger's encrypted vault, which every export process then shares."""
    key = Fernet.generate_key().decode()
    ledger_url = f"sqlite:///{workdir}/ledger.db"
    lock_dir = workdir / "locks"
    ledger = Ledger(ledger_url)
    try:
        vault = TokenVault(ledger, key, lock_dir=lock_dir)
        realm = connect_headless(vault, CompanyConfig(key="demo", environment="local", base_url=sandbox_url))
    finally:
        ledger.dispose()
    return ExportSetup(source_url, ledger_url, sandbox_url, key, str(lock_dir), realm, time_scale, export_options or {})


@dataclass
class StageOutput:
    """The payloads of one pass through extract -> validate -> transform, with the accounting."""

    payloads: list[Payload]
    validated: dict[str, Any]
    transformed: dict[str, Any]

    @property
    def quarantine(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for result in self.validated.values():
            if result.quarantine is not None and not result.quarantine.empty:
                rows.extend(result.quarantine.to_dict("records"))
        return rows


def run_stages(config: PipelineConfig, company: str = "demo") -> StageOutput:
    """Extract, validate and transform the whole source, as one full sync does."""
    with sync.reader_for(config, company) as reader:
        frames = sync.extract_frames(reader, ENTITIES)
        known = sync.known_source_ids(reader)
        currencies = sync.customer_currencies(reader)  # as the stage API does: a foreign-currency row is quarantined
    validated = sync.validate_frames(ENTITIES, frames, known, config, currencies=currencies)
    context = sync.transform_context(config, company, ENTITIES, validated=validated)
    accepted = {f.name for f in dataclasses.fields(TransformContext)}
    context = {k: v for k, v in context.items() if k in accepted}
    transformed = sync.transform_valid(ENTITIES, validated, config, **context)
    payloads = [p for entity in ENTITIES for p in transformed[entity].payloads]
    return StageOutput(payloads, validated, transformed)


def open_client(setup: ExportSetup, ledger: Ledger, **options: Any) -> QboClient:
    from qbo_pipeline.qbo.limits import RateLimiter

    vault = TokenVault(ledger, setup.token_key, lock_dir=setup.lock_dir)
    options.setdefault("limiter", RateLimiter(time_scale=setup.time_scale))
    options.setdefault("time_scale", setup.time_scale)
    return QboClient(setup.sandbox_url, setup.realm, vault.token_source(setup.company()), **options)


def spawn_export(setup_file: Path, *, log_file: Path | None = None) -> subprocess.Popen:
    """Start one export process (extract -> validate -> transform -> engine.export)."""
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen([sys.executable, "-m", CHILD_MODULE, str(setup_file)], cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        if log_file:
            out.close()


def export_to_completion(setup_file: Path, log_file: Path, *, timeout: float = 120) -> dict[str, Any]:
    """Run an export process until it ends; returns the report it printed last."""
    process = spawn_export(setup_file, log_file=log_file)
    code = process.wait(timeout=timeout)
    lines = [line for line in log_file.read_text().splitlines() if line.startswith("REPORT ")]
    if code != 0 or not lines:
        raise AssertionError(f"export process exited {code}; log tail:\n{log_file.read_text()[-3000:]}")
    return json.loads(lines[-1].removeprefix("REPORT "))


# ----------------------------------------------------------------------------- the check


def _ref_target(value: Any) -> dict[str, Any] | None:
    return value[REF_KEY] if isinstance(value, dict) and REF_KEY in value else None


def _money(value: Any) -> float:
    return round(float(value or 0.0), 2)


class Expected:
    """Fingerprints of the records the pipeline is meant to have in QBO, from its payloads."""

    def __init__(self, payloads: list[Payload]) -> None:
        self.by_key = {(p.entity, p.source_id): p for p in payloads}
        # the books check covers the billing records (CHECKED_ENTITIES); the bookkeeping entities
        # (deposits, expenses, journal entries...) are counted to the cent by qbo_pipeline_tests/bookkeeping
        self.upserts = [p for p in payloads if p.action == "upsert" and p.entity in CHECKED_ENTITIES]
        needed = {tuple(key) for p in self.upserts for key in p.depends_on}
        # A name removed in the source (inactive customer, discontinued item) that records of the
        # same export still point at is created, its records exported, then it is deactivated.
        self.needed_inactive = [p for p in payloads if p.action == "deactivate" and (p.entity, p.source_id) in needed]
        self.named_items = sorted({ref["name"] for p in payloads if p.action == "upsert" for ref in iter_refs(p.body)
                                   if ref["kind"] == "named" and ref["entity"] == "Item"})

    def customer_name(self, ref: Any) -> str:
        target = _ref_target(ref)
        if target is None:
            raise AssertionError(f"unexpected customer reference {ref!r}")
        return self.by_key[("Customer", target["source_id"])].body["DisplayName"]

    def linked_key(self, linked: dict[str, Any]) -> tuple:
        target = _ref_target(linked["TxnId"])
        payload = self.by_key[(target["entity"], target["source_id"])]
        return (linked["TxnType"], self.doc_key(payload.entity, payload.body, self.customer_name(payload.body["CustomerRef"])))

    @staticmethod
    def doc_key(entity: str, body: dict[str, Any], customer: str) -> tuple:
        """What tells one transaction from another in QBO without its Id."""
        return doc_key(entity, body, customer)

    def fingerprint(self, payload: Payload) -> tuple:
        body = payload.body
        active = payload.action == "upsert" and body.get("Active", True) is not False
        if payload.entity == "Customer":
            return ("Customer", body["DisplayName"], active)
        if payload.entity == "Item":
            return ("Item", body["Name"], body.get("Type"), _money(body.get("UnitPrice")), active)
        customer = self.customer_name(body["CustomerRef"])
        key = self.doc_key(payload.entity, body, customer)
        if payload.entity == "Payment":
            applied = tuple(sorted((self.linked_key(link), _money(line.get("Amount")))
                                   for line in body.get("Line", []) for link in line.get("LinkedTxn", [])))
            return (*key, _money(body.get("TotalAmt")), applied)
        return (*key, _sales_lines(body.get("Line", [])))

    def fingerprints(self) -> Counter:
        prints = Counter(self.fingerprint(p) for p in self.upserts + self.needed_inactive)
        prints.update(("NamedItem", name) for name in self.named_items)
        return prints


def doc_key(entity: str, record: dict[str, Any], customer: str) -> tuple:
    """What tells one transaction from another without its Id. Only invoices carry the
    pipeline's DocNumber; QBO numbers the other kinds itself."""
    return (entity, customer, str(record.get("TxnDate")), (record.get("DocNumber") or "") if entity == "Invoice" else "",
            record.get("PaymentRefNum") or "", record.get("PrivateNote") or "")


def _sales_lines(lines: list[dict[str, Any]]) -> tuple:
    """Amounts of the lines a user typed (QBO adds its own subtotal line)."""
    return tuple(sorted(_money(line.get("Amount")) for line in lines if line.get("DetailType") != "SubTotalLineDetail"))


def exportable(payloads: list[Payload]) -> tuple[list[Payload], list[Payload]]:
    """(payloads whose every dependency is itself a payload, the others). A record pointing at a
    quarantined one (the source changed a customer into an invalid one after its invoices were
    exported) is blocked by the engine; what QBO holds of it is what an earlier run exported."""
    keys = {(p.entity, p.source_id) for p in payloads}
    dropped: list[Payload] = []
    kept = list(payloads)
    while True:
        bad = [p for p in kept if any(tuple(dep) not in keys for dep in p.depends_on)]
        if not bad:
            return kept, dropped
        dropped.extend(bad)
        keys -= {(p.entity, p.source_id) for p in bad}
        kept = [p for p in kept if (p.entity, p.source_id) in keys]


class Actual:
    """Fingerprints of the records QBO holds (apart from the sample company's own), read over HTTP.

    ``ignore_customers``: display names of customers quarantined in the source now; they and
    their transactions are left out (see ``exportable``)."""

    def __init__(self, client: QboClient, baseline: dict[str, set[str]], expected: Expected,
                 ignore_customers: frozenset[str] | set[str] = frozenset()) -> None:
        self.named_items = set(expected.named_items)
        self.deactivated_names = {p.body.get("DisplayName") or p.body.get("Name") for p in expected.needed_inactive}
        self.customers = {r["Id"]: r["DisplayName"] for r in client.query_all("Customer", "Active IN (true, false)")}
        self.ignored = 0
        self.records: dict[str, list[dict[str, Any]]] = {}
        for entity in CHECKED_ENTITIES:
            where = "Active IN (true, false)" if entity in ("Customer", "Item") else None
            rows = [r for r in client.query_all(entity, where) if r["Id"] not in baseline.get(entity, set())]
            kept = [r for r in rows if not self._ignored(entity, r, ignore_customers)]
            self.ignored += len(rows) - len(kept)
            self.records[entity] = kept
        self.by_id = {(entity, r["Id"]): r for entity, rows in self.records.items() for r in rows}

    def _ignored(self, entity: str, record: dict[str, Any], names: frozenset[str] | set[str]) -> bool:
        if not names:
            return False
        if entity == "Customer":
            return record["DisplayName"] in names
        ref = record.get("CustomerRef")
        return bool(ref) and self.customers.get(ref["value"]) in names

    def doc_key(self, entity: str, record: dict[str, Any]) -> tuple:
        customer = self.customers.get(record["CustomerRef"]["value"], f"?{record['CustomerRef']['value']}")
        return doc_key(entity, record, customer)

    def fingerprint(self, entity: str, record: dict[str, Any]) -> tuple:
        active = record.get("Active", True) is not False
        if active and (record.get("DisplayName") or record.get("Name")) in self.deactivated_names \
                and _money(record.get("Balance")) != 0:
            active = False  # QBO keeps a name with an open balance active (6220); the engine reports it
        if entity == "Customer":
            return ("Customer", record["DisplayName"], active)
        if entity == "Item" and record["Name"] in self.named_items:
            return ("NamedItem", record["Name"])
        if entity == "Item":
            return ("Item", record["Name"], record.get("Type"), _money(record.get("UnitPrice")), active)
        key = self.doc_key(entity, record)
        if entity == "Payment":
            applied = []
            for line in record.get("Line", []):
                for link in line.get("LinkedTxn", []):
                    target = self.by_id.get((link["TxnType"], str(link["TxnId"])))
                    target_key = self.doc_key(link["TxnType"], target) if target else ("missing", link["TxnId"])
                    applied.append(((link["TxnType"], target_key), _money(line.get("Amount"))))
            return (*key, _money(record.get("TotalAmt")), tuple(sorted(applied)))
        return (*key, _sales_lines(record.get("Line", [])))

    def fingerprints(self) -> Counter:
        return Counter(self.fingerprint(entity, r) for entity, rows in self.records.items() for r in rows)


def baseline_ids(client: QboClient) -> dict[str, set[str]]:
    """Ids of the records a fresh sandbox company already holds (its sample data)."""
    return {entity: {r["Id"] for r in client.query_all(entity, "Active IN (true, false)" if entity in ("Customer", "Item")
                                                        else None)}
            for entity in CHECKED_ENTITIES}


def books_difference(expected: Expected, actual: Actual) -> dict[str, Any]:
    """What QBO lacks, what it holds twice or more, and what it holds that nobody asked for."""
    want, have = expected.fingerprints(), actual.fingerprints()
    missing = want - have
    extra = have - want
    doubled = {fp: n for fp, n in have.items() if n > 1}
    by_entity = Counter(fp[0] for fp in have.elements())
    return {"missing": list(missing.elements()), "extra": list(extra.elements()), "doubled": doubled,
            "expected": sum(want.values()), "found": sum(have.values()), "by_entity": dict(by_entity)}


def assert_books_right(expected: Expected, actual: Actual) -> dict[str, Any]:
    """Every valid record exactly once, amounts and payment applications right; nothing else."""
    diff = books_difference(expected, actual)
    problems = []
    for name in ("missing", "extra"):
        if diff[name]:
            problems.append(f"{len(diff[name])} {name}, e.g. {diff[name][:3]}")
    if diff["doubled"]:
        problems.append(f"{len(diff['doubled'])} records more than once, e.g. {list(diff['doubled'].items())[:3]}")
    assert not problems, "; ".join(problems)
    assert diff["expected"] == diff["found"] > 0
    return diff


# ----------------------------------------------------------------------------- the hostile corpus

CORPUS_FILE = Path(__file__).resolve().parent / "data" / "hostile_rows.jsonl"
ROW_DEFAULTS = {"updated_at": "2026-03-10 12:00:00"}
TABLE_DEFAULTS = {"customers": {"active": 1, "deleted": 0}, "products": {"active": 1, "taxable": 0, "deleted": 0},
                  "invoices": {"deleted": 0}, "payments": {"deleted": 0}, "credits": {"deleted": 0},
                  "refunds": {"deleted": 0}, "invoice_lines": {"line_no": 1}}


@dataclass(frozen=True)
class CorpusCase:
    """One hostile input: the rows it adds to the canonical tables and what must become of it.

    ``expect``: ``quarantine`` (with a reason that is a sentence), ``export`` (verbatim), or
    ``blocked`` (a child of a quarantined parent: not exported, and its reason carries the
    parent's, ``reason_of`` = "table:id"). ``reason_contains``: a regular expression one of the
    reasons must match (case-insensitive); ``max_reasons``: at most this many reasons (one clear
    reason rather than a cascade). ``gap`` + ``owner``: a known weakness, a strict expected failure."""

    case: str
    expect: str  # quarantine | export | blocked
    rows: dict[str, list[dict[str, Any]]]
    gap: str = ""  # a known weakness: what happens instead of the expectation
    note: str = ""
    owner: str = ""  # who fixes it (an engineer of the session)
    reason_contains: str = ""
    max_reasons: int = 0
    reason_of: str = ""  # "table:id" of the quarantined parent
    subject: str = ""  # "table:id" the case is about, when not its first parent row

    @property
    def record(self) -> tuple[str, str]:
        """The exported entity and source id the case is about (its subject, else its first parent row)."""
        if self.subject:
            table, source_id = self.subject.split(":", 1)
            return table, source_id
        for entity, table in (("customers", "customers"), ("products", "products"), ("invoices", "invoices"),
                              ("payments", "payments"), ("credits", "credits"), ("refunds", "refunds")):
            if table in self.rows:
                return entity, str(self.rows[table][0]["id"])
        raise ValueError(f"corpus case {self.case!r} has no parent row")


CORPUS_FIELDS = {f.name for f in dataclasses.fields(CorpusCase)}


def load_corpus(path: Path = CORPUS_FILE) -> list[CorpusCase]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            data = json.loads(line)
            if data.get("expect") not in ("quarantine", "export", "blocked"):
                raise ValueError(f"{path}:{number}: expect must be quarantine, export or blocked")
            unknown = set(data) - CORPUS_FIELDS
            if unknown:
                raise ValueError(f"{path}:{number}: unknown fields {sorted(unknown)}")
            cases.append(CorpusCase(**data))
    return cases


def _sql_value(value: Any) -> tuple[str, list[Any]]:
    """SQL text and parameters for a corpus value, with the corpus' escapes for what JSON cannot hold."""
    if isinstance(value, dict) and "$bytes_hex" in value:
        bytes.fromhex(value["$bytes_hex"])  # checked here so a typo is a clear error
        return f"CAST(X'{value['$bytes_hex']}' AS TEXT)", []  # text that is not UTF-8
    if isinstance(value, dict) and "$float" in value:
        return "?", [float(value["$float"])]
    if isinstance(value, dict) and "$repeat" in value:
        text, times = value["$repeat"]
        return "?", [text * int(times)]
    return "?", [value]


def insert_corpus(sqlite_path: Path, cases: list[CorpusCase]) -> None:
    """Write the hostile rows into a SQLite source, bypassing every type check on the way in
    (SQLite keeps text in a numeric column as text, as a sloppy source system would)."""
    import sqlite3

    with sqlite3.connect(sqlite_path) as conn:
        for case in cases:
            for table, rows in case.rows.items():
                for row in rows:
                    full = {**ROW_DEFAULTS, **TABLE_DEFAULTS.get(table, {}), **row}
                    parts = [_sql_value(v) for v in full.values()]
                    sql = (f"INSERT INTO {table} ({', '.join(full)}) "
                           f"VALUES ({', '.join(p[0] for p in parts)})")
                    conn.execute(sql, [param for p in parts for param in p[1]])
