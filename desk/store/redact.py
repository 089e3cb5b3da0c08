"""Redaction of secret-shaped text before it reaches a log.

Key secrets (``ocx_sk_...``), session tokens (``ocx_sess_...``), and the values
of ``Bearer`` and ``x-api-key`` headers are replaced by a marker that keeps the
prefix (``ocx_sk_***``, ``Bearer ***``) so the reader knows what was hidden.
Redaction is idempotent: a marker is not itself secret-shaped.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

SECRET_PATTERN = re.compile(
    r"(?P<header>(?i:\bbearer)\s+|(?i:\bx-api-key)['\"]?\s*[:=]\s*['\"]?)[^\s'\",;)\]}*]+"
    r"|(?P<token>ocx_sk_|ocx_sess_)[A-Za-z0-9_-]+=*"
)


def _mask(match: re.Match[str]) -> str:
    return (match["header"] or match["token"]) + "***"


def redact(text: str) -> str:
    """`text` with every secret-shaped substring masked."""
    return SECRET_PATTERN.sub(_mask, text)


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, traceback and stack.

    The message is formatted with its arguments first, so a secret passed as a
    %-argument is caught too; the record then carries the redacted text and no
    arguments. Records are never dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad %-args: keep what was logged, minus the secrets
            message = f"{record.msg!s} % {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Add a RedactingFilter to `logger` (default: root) and each of its handlers, once.

    The handler filters catch records propagated from child loggers; the logger
    filter catches records logged on it directly. Handlers added later are not
    covered: call this after logging is configured.
    """
    target = logger if logger is not None else logging.getLogger()
    for filterer in (target, *target.handlers):
        if not any(isinstance(f, RedactingFilter) for f in filterer.filters):
            filterer.addFilter(RedactingFilter())


_ESCAPE = re.compile(r"\\(.)")  # a JSON escape pair


def redacted_json(event: dict[str, Any]) -> str:
    """`event` as JSON with every secret masked: within each string first (a secret
    after a tab or newline, which JSON escapes), then across strings in the JSON
    text (`"x-api-key" : "..."`). The text is laid out so that a mask cannot break
    it: a mask stops at a quote but not at a backslash, so `\\"` is written
    `\\u0022`; and a key is followed by ` : `, as no mask starts at whitespace."""
    text = json.dumps(_scrub(event), separators=(", ", " : "))
    return redact(_ESCAPE.sub(lambda m: r"\u0022" if m[1] == '"' else m[0], text))


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {redact(str(k)): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))  # strings, and anything else as its str (a stray Decimal)
