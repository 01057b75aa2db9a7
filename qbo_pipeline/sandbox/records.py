"""Small helpers every sandbox module shares: QBO's times and dotted-path access to records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

COMPANY_TZ = ZoneInfo("America/Los_Angeles")


def qbo_time(moment: datetime) -> str:
    """QBO's response time: company-local with offset and milliseconds."""
    return moment.astimezone(COMPANY_TZ).isoformat(timespec="milliseconds")


def meta_time(moment: datetime) -> str:
    return moment.astimezone(COMPANY_TZ).isoformat(timespec="seconds")


def parse_time(text: str) -> datetime:
    """A date or date-time from a query, CDC or MetaData; naive values are company-local."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), COMPANY_TZ)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not a date or date-time: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=COMPANY_TZ)


def get_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def ref_value(obj: Any, path: str) -> str | None:
    """The Id a reference field holds (``{"value": "12"}`` or a bare "12"), as a string."""
    value = get_path(obj, path)
    if isinstance(value, dict):
        value = value.get("value")
    return None if value in (None, "") else str(value)
