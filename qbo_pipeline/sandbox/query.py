"""The QBO query language: ``SELECT * | count(*) FROM E [WHERE ...] [ORDERBY ...] [STARTPOSITION n] [MAXRESULTS m]``.

Parsing errors answer 4000 (QueryParserError), unknown entities, properties or bad
paging answer 4001 (QueryValidationError), in Intuit's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qbo_pipeline.sandbox import errors as E
from qbo_pipeline.sandbox.entities import ENTITY_BY_SEGMENT, NAME_LISTS, get_path, json_name, parse_time

DEFAULT_MAX_RESULTS = 100
MAX_MAX_RESULTS = 1000

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:\\.|[^'\\])*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>)"
    r"|(?P<punct>[(),*])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)

# Properties that may appear in WHERE / ORDERBY, per entity (case-insensitive), beyond the common ones.
COMMON_FIELDS = {"Id", "SyncToken", "MetaData.CreateTime", "MetaData.LastUpdatedTime", "domain", "sparse"}
FIELDS: dict[str, set[str]] = {
    "Customer": {"DisplayName", "GivenName", "FamilyName", "MiddleName", "CompanyName", "FullyQualifiedName",
                 "PrimaryEmailAddr", "PrimaryEmailAddr.Address", "Active", "Balance", "BalanceWithJobs",
                 "Job", "ParentRef", "Level", "Title", "Suffix", "PrintOnCheckName", "Taxable", "Notes"},
    "Item": {"Name", "Sku", "Type", "Active", "FullyQualifiedName", "UnitPrice", "Taxable", "QtyOnHand",
             "IncomeAccountRef", "Description", "TrackQtyOnHand"},
    "Account": {"Name", "AccountType", "AccountSubType", "Classification", "Active", "FullyQualifiedName",
                "AcctNum", "CurrentBalance", "SubAccount"},
    "Invoice": {"DocNumber", "TxnDate", "DueDate", "CustomerRef", "TotalAmt", "Balance", "PrivateNote",
                "EmailStatus", "PrintStatus"},
    "CreditMemo": {"DocNumber", "TxnDate", "CustomerRef", "TotalAmt", "Balance", "RemainingCredit", "PrivateNote"},
    "RefundReceipt": {"DocNumber", "TxnDate", "CustomerRef", "TotalAmt", "PrivateNote", "PaymentRefNum",
                      "DepositToAccountRef"},
    "Payment": {"TxnDate", "CustomerRef", "TotalAmt", "UnappliedAmt", "PaymentRefNum", "PrivateNote",
                "DepositToAccountRef", "PaymentMethodRef"},
    "TaxCode": {"Name", "Active", "Taxable", "Description"},
    "TaxRate": {"Name", "Active", "RateValue"},
    "PaymentMethod": {"Name", "Active", "Type"},
    "Term": {"Name", "Active", "DueDays", "Type"},
    "CompanyInfo": {"CompanyName", "Country"},
    "Preferences": set(),
    "SalesReceipt": {"DocNumber", "TxnDate", "CustomerRef", "TotalAmt", "PrivateNote", "PaymentRefNum",
                     "DepositToAccountRef", "PaymentMethodRef", "Balance", "EmailStatus", "PrintStatus",
                     "CurrencyRef"},
    "Estimate": {"DocNumber", "TxnDate", "CustomerRef", "TotalAmt", "PrivateNote", "TxnStatus", "ExpirationDate",
                 "EmailStatus", "PrintStatus", "CurrencyRef"},
    "Deposit": {"TxnDate", "TotalAmt", "PrivateNote", "DepositToAccountRef", "CurrencyRef"},
    "Bill": {"DocNumber", "TxnDate", "DueDate", "VendorRef", "TotalAmt", "Balance", "PrivateNote", "APAccountRef",
             "SalesTermRef", "CurrencyRef"},
    "VendorCredit": {"DocNumber", "TxnDate", "VendorRef", "TotalAmt", "Balance", "PrivateNote", "APAccountRef",
                     "CurrencyRef"},
    "Purchase": {"DocNumber", "TxnDate", "PaymentType", "AccountRef", "EntityRef", "TotalAmt", "PrivateNote",
                 "Credit", "CurrencyRef"},
    "PurchaseOrder": {"DocNumber", "TxnDate", "VendorRef", "TotalAmt", "POStatus", "PrivateNote", "APAccountRef",
                      "CurrencyRef"},
    "BillPayment": {"DocNumber", "TxnDate", "VendorRef", "TotalAmt", "PayType", "PrivateNote", "CurrencyRef"},
    "JournalEntry": {"DocNumber", "TxnDate", "TotalAmt", "PrivateNote", "Adjustment", "CurrencyRef"},
    "Class": {"Name", "Active", "FullyQualifiedName", "SubClass", "ParentRef"},
    "Department": {"Name", "Active", "FullyQualifiedName", "SubDepartment", "ParentRef"},
    "TaxAgency": {"DisplayName", "TaxTrackedOnSales", "TaxTrackedOnPurchases"},
    "TimeActivity": {"TxnDate", "NameOf", "EmployeeRef", "VendorRef", "CustomerRef", "ItemRef", "BillableStatus",
                     "Hours", "Minutes", "Description"},
    "ExchangeRate": {"SourceCurrencyCode", "TargetCurrencyCode", "AsOfDate", "Rate"},
    "Budget": {"Name", "StartDate", "EndDate", "BudgetType", "BudgetEntryType", "Active"},
    "Transfer": {"TxnDate", "Amount", "FromAccountRef", "ToAccountRef", "PrivateNote", "CurrencyRef"},
    "CreditCardPayment": {"TxnDate", "Amount", "CreditCardAccountRef", "BankAccountRef", "VendorRef",
                          "PrivateNote", "CurrencyRef"},
    "Attachable": {"FileName", "Note", "ContentType", "Category", "Size", "AttachableRef.EntityRef",
                   "AttachableRef.EntityRef.Type", "AttachableRef.EntityRef.value"},
}
FIELDS["Vendor"] = FIELDS["Employee"] = FIELDS["Customer"]
_LOOKUP = {entity: {f.lower(): f for f in fields | COMMON_FIELDS} for entity, fields in FIELDS.items()}


@dataclass
class Condition:
    field: str
    op: str
    values: list[Any]


@dataclass
class Query:
    entity: str
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    text = text.rstrip().rstrip(";")
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            column = pos + 1 + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise E.query_parse_error(
                f'Encountered " <UNKNOWN> "{text[pos:].strip()[:20]}"" at line 1, column {column}.')
        kind = match.lastgroup or "word"
        out.append((kind, match.group(kind), match.start(kind) + 1))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def fail(self, expected: str) -> E.QBOFault:
        token = self.peek()
        if token is None:
            return E.query_parse_error(f'Encountered "<EOF>" at end of query; expected {expected}.')
        return E.query_parse_error(
            f'Encountered " <{token[0].upper()}> "{token[1]} "" at line 1, column {token[2]}. Was expecting {expected}.')

    def take(self, kind: str | None = None, word: str | None = None) -> str:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (word and token[1].upper() != word):
            raise self.fail(word or kind or "a token")
        self.pos += 1
        return token[1]

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].upper() in words

    def value(self) -> Any:
        token = self.peek()
        if token is None:
            raise self.fail("a value")
        self.pos += 1
        kind, text, _ = token
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "number":
            return float(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        if kind == "word" and text.upper() == "CURRENT_DATE":
            return datetime.now().date().isoformat()
        self.pos -= 1
        raise self.fail("a quoted value")


def parse(text: str) -> Query:
    """Parse a QBO select statement."""
    if not text or not text.strip():
        raise E.query_parse_error("Encountered \"<EOF>\" at line 1, column 1. The query is empty.")
    parser = _Parser(text)
    parser.take("word", "SELECT")
    count = False
    if parser.peek() and parser.peek()[1] == "*":
        parser.pos += 1
    elif parser.is_word("COUNT"):
        parser.pos += 1
        parser.take("punct")
        parser.take("punct")
        parser.take("punct")
        count = True
    else:
        # projections (e.g. "SELECT *, Sku") are tolerated: every field is returned anyway
        raise parser.fail("* or count(*)")
    while parser.peek() and parser.peek()[1] == ",":
        parser.pos += 1
        parser.take("word")
    parser.take("word", "FROM")
    entity_word = parser.take("word")
    entity = ENTITY_BY_SEGMENT.get(entity_word.lower())
    if entity is None:
        raise E.query_invalid(f"Entity {entity_word} is not supported")
    query = Query(entity=entity, count=count)
    if parser.is_word("WHERE"):
        parser.pos += 1
        while True:
            name = _field(entity, parser.take("word"))
            token = parser.peek()
            if token and token[0] == "op":
                op = parser.take("op")
                if op == "!=":
                    raise E.query_parse_error(f'Encountered " "!=" "!= "" at line 1, column {token[2]}.')
                query.where.append(Condition(name, op, [parser.value()]))
            elif parser.is_word("IN"):
                parser.pos += 1
                parser.take("punct")
                values = [parser.value()]
                while parser.peek() and parser.peek()[1] == ",":
                    parser.pos += 1
                    values.append(parser.value())
                if not parser.peek() or parser.peek()[1] != ")":
                    raise parser.fail('")"')
                parser.pos += 1
                query.where.append(Condition(name, "IN", values))
            elif parser.is_word("LIKE"):
                parser.pos += 1
                query.where.append(Condition(name, "LIKE", [parser.value()]))
            else:
                raise parser.fail("an operator (=, IN, <, >, <=, >=, LIKE)")
            if name == "Id" and query.where[-1].op not in ("=", "IN"):
                raise E.query_invalid(f"Property Id only supports = and IN, not {query.where[-1].op}")
            if parser.is_word("AND"):
                parser.pos += 1
                continue
            if parser.is_word("OR"):
                raise parser.fail("AND (OR is not supported)")
            break
    if parser.is_word("ORDERBY", "ORDER"):
        if parser.take("word").upper() == "ORDER":
            parser.take("word", "BY")
        while True:
            name = _field(entity, parser.take("word"))
            descending = False
            if parser.is_word("ASC", "DESC"):
                descending = parser.take("word").upper() == "DESC"
            query.order.append((name, descending))
            if parser.peek() and parser.peek()[1] == ",":
                parser.pos += 1
                continue
            break
    while parser.is_word("STARTPOSITION", "MAXRESULTS"):
        keyword = parser.take("word").upper()
        token = parser.peek()
        if not token or token[0] != "number" or "." in token[1]:
            raise parser.fail("an integer")
        parser.pos += 1
        number = int(token[1])
        if number < 1:
            raise E.query_invalid(f"value {number} is too small. Min allowed value is 1")
        if keyword == "MAXRESULTS":
            if number > MAX_MAX_RESULTS:
                raise E.query_invalid(f"value {number} is too large. Max allowed value is {MAX_MAX_RESULTS}")
            query.max_results = number
        else:
            query.start = number
    if parser.peek() is not None:
        raise parser.fail("<EOF>")
    return query


def _field(entity: str, name: str) -> str:
    lookup = _LOOKUP.get(entity, {})
    key = name.lower()
    if key.startswith("metadata."):
        key = "metadata." + key.split(".", 1)[1]
    real = lookup.get(key)
    if real is None:
        raise E.query_invalid(f"Property {name} not found for Entity {entity}")
    return real


def _scalar(value: Any) -> Any:
    if isinstance(value, dict):  # references compare on their Id
        return value.get("value", value.get("Address"))
    return value


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _compare(field_name: str, left: Any, right: Any) -> int | None:
    left = _scalar(left)
    if left is None:
        return None
    if isinstance(right, str) and isinstance(left, str) and not field_name.endswith(("Time", "Date")) \
            and not (_is_number(right) and _is_number(left)):
        a_str, b_str = left.lower(), right.lower()
        return (a_str > b_str) - (a_str < b_str)
    if isinstance(right, bool) or isinstance(left, bool):
        left_bool = left if isinstance(left, bool) else str(left).lower() == "true"
        right_bool = right if isinstance(right, bool) else str(right).lower() == "true"
        return (left_bool > right_bool) - (left_bool < right_bool)
    if field_name.endswith(("Time", "Date")):
        try:
            a, b = parse_time(str(left)), parse_time(str(right))
        except ValueError:
            raise E.query_invalid(f"Invalid date value {right!r} for {field_name}") from None
        return (a > b) - (a < b)
    try:
        a_num, b_num = float(left), float(right)
        return (a_num > b_num) - (a_num < b_num)
    except (TypeError, ValueError):
        a_str, b_str = str(left).lower(), str(right).lower()
        return (a_str > b_str) - (a_str < b_str)


def _matches(record: dict, cond: Condition) -> bool:
    if cond.field.startswith("AttachableRef."):  # a list: any attached entity may match
        inner = cond.field.split(".", 1)[1].replace("EntityRef.Type", "EntityRef.type")
        return any(_matches(ref, Condition(inner, cond.op, cond.values))
                   for ref in record.get("AttachableRef") or [] if isinstance(ref, dict))
    value = get_path(record, cond.field)
    if cond.op == "LIKE":
        pattern = "^" + ".*".join(re.escape(part) for part in str(cond.values[0]).split("%")) + "$"
        return value is not None and re.match(pattern, str(_scalar(value)), re.IGNORECASE | re.DOTALL) is not None
    if cond.op == "IN":
        return any(_compare(cond.field, value, v) == 0 for v in cond.values)
    result = _compare(cond.field, value, cond.values[0])
    if result is None:
        return False
    return {"=": result == 0, "<": result < 0, ">": result > 0, "<=": result <= 0, ">=": result >= 0}[cond.op]


# Without ORDERBY QBO lists the chart of accounts by name, as its UI does (python-quickbooks' suite,
# written against Intuit's sandbox, relies on it: its first account is Accounts Payable, its first
# asset account Accounts Receivable); other entities come in Id order.
NAME_ORDERED = {"Account"}


def _sort_key(value: Any) -> tuple:
    value = _scalar(value)
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, float(value))
    try:
        return (1, float(value))
    except ValueError:
        return (2, str(value).lower())


def run(query: Query, records: dict[str, dict]) -> dict:
    """Evaluate a parsed query over one entity's records; returns the QueryResponse object."""
    conditions = list(query.where)
    if query.entity in NAME_LISTS and not any(c.field == "Active" for c in conditions):
        conditions.append(Condition("Active", "=", [True]))
    hits = [r for r in records.values() if all(_matches(r, c) for c in conditions)]
    if query.count:
        return {"totalCount": len(hits)}
    if query.order:
        for name, descending in reversed(query.order):
            hits.sort(key=lambda r, n=name: _sort_key(get_path(r, n)), reverse=descending)
    elif query.entity in NAME_ORDERED:
        hits.sort(key=lambda r: str(r.get("FullyQualifiedName") or "").lower())
    else:
        hits.sort(key=lambda r: int(r["Id"]) if str(r["Id"]).isdigit() else 0)
    if query.entity == "TaxCode":  # QBO's documented quirk: TaxCode queries ignore MAXRESULTS
        page = hits[query.start - 1:]
    else:
        page = hits[query.start - 1: query.start - 1 + query.max_results]
    if not page:
        return {}
    return {json_name(query.entity): page, "startPosition": query.start, "maxResults": len(page)}
