"""Keep OAuth secrets out of logs, metadata and error texts.

Tokens end up in strings by accident (an httpx error quoting a request, a repr of a
token dict). ``redact`` masks them by shape and by the exact values registered at run
time; ``RedactingFilter`` applies it to every record of the ``qbo_pipeline`` loggers.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "[REDACTED]"

_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/=]{8,}"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]{8,}"),
    # a key name on its own (not the end of another word: QBO's "errorCode=003001" is no secret)
    re.compile(r"(?i)((?<![A-Za-z0-9_])[\"']?(?:access_token|refresh_token|id_token|client_secret|code)[\"']?\s*[:=]\s*[\"']?)[^\"'&,\s}]{6,}"),
    re.compile(r"(RT1-)[A-Za-z0-9\-]{6,}"),
    re.compile(r"()eyJ[A-Za-z0-9\-_]{10,}\.[A-Za-z0-9\-_.]*"),
]

_known: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value so it is masked wherever it appears."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """``text`` with tokens, secrets and authorization codes masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """Logging filter that rewrites each record's message with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install(logger_name: str = "qbo_pipeline") -> None:
    """Attach the filter to a logger and its handlers (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
