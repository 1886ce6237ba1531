"""Log setup: one handler on the root logger, readable text or JSON lines.

Text (the default) is ``2026-11-28T05:00:00Z INFO message``, times in UTC.
JSON is one object per line, for journald or a log shipper::

    {"time": "2026-11-28T05:00:00.123Z", "level": "info", "logger": "feedd",
     "message": "...", "feed": "https://example.org/feed.xml", "status": "ok", ...}

with the structured fields of EXTRA_FIELDS when the call passed them
(``log.info(..., extra=outcome_fields(outcome))``), and ``traceback`` when the
record carries an exception. Expected failures (a feed down) are logged as a
one-line warning without exc_info; bugs with ``log.exception``, which both
formats render with the full traceback.

The formatters never raise: a value JSON cannot hold is written as its str(),
a message whose arguments do not match its format string is written as is.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from datetime import UTC, datetime
from typing import IO

from .types import Outcome

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# Record attributes (set with ``extra=``) copied into JSON lines, in this order.
EXTRA_FIELDS = (
    "event",
    "feed",
    "status",
    "http_status",
    "duration",
    "new",
    "updated",
    "linked",
    "unchanged",
    "links_resolved",
    "links_failed",
    "error",
)

# Libraries that log every request or job run at INFO: quiet below WARNING
# unless we are debugging.
NOISY_LOGGERS = ("httpx", "httpcore", "apscheduler")

# The name of the handler setup_logging installs, so that a second call (a
# config reload) replaces it and leaves other handlers (pytest's) alone.
HANDLER_NAME = "feedd"


def resolve_level(level: str, verbose: int = 0, quiet: int = 0) -> int:
    """A config level name moved by -v (more output) and -q (less), as a logging level."""
    try:
        base = LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}") from None
    return max(logging.DEBUG, min(base - 10 * verbose + 10 * quiet, logging.CRITICAL))


def setup_logging(
    level: str,
    fmt: str,
    *,
    verbose: int = 0,
    quiet: int = 0,
    stream: IO[str] | None = None,
) -> None:
    """Send every log record at ``level`` or above to stderr (or ``stream``) as ``fmt``.

    ``level`` is "debug", "info", "warning" or "error"; each -v moves it one
    level more verbose, each -q one less. ``fmt`` is "text" or "json". Calling
    again (on reload) replaces the handler installed by the previous call.
    """
    numeric = resolve_level(level, verbose, quiet)
    formatter: logging.Formatter
    if fmt == "text":
        formatter = TextFormatter()
    elif fmt == "json":
        formatter = JsonFormatter()
    else:
        raise ValueError(f'unknown log format {fmt!r} (expected "text" or "json")')

    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
        # Not closed: the stream is stderr (or the caller's), not ours to close.
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in NOISY_LOGGERS:
        # Set on every call, so a reload from debug back to info quiets them again.
        logging.getLogger(name).setLevel(
            logging.NOTSET if numeric <= logging.DEBUG else max(logging.WARNING, numeric)
        )


def outcome_fields(outcome: Outcome) -> dict[str, object]:
    """The ``extra=`` fields for the one log line of a feed poll.

    None values (no HTTP status when the request never got an answer, no
    error on success) are left out.
    """
    fields: dict[str, object] = {
        "feed": outcome.url,
        "status": outcome.status.value,
        "http_status": outcome.http_status,
        "duration": round(outcome.duration, 3),
        "new": outcome.new,
        "updated": outcome.updated,
        "linked": outcome.linked,
        "unchanged": outcome.unchanged,
        "links_resolved": outcome.links_resolved,
        "links_failed": outcome.links_failed,
        "error": outcome.error,
    }
    return {key: value for key, value in fields.items() if value is not None}


def _utc(created: float) -> datetime:
    return datetime.fromtimestamp(created, UTC)


def _message(record: logging.LogRecord) -> str:
    """record.getMessage(), or something readable when the arguments do not fit."""
    try:
        return record.getMessage()
    except Exception:
        return f"{_safe_str(record.msg)} (bad log arguments: {_safe_str(record.args)})"


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:
        try:
            return repr(value)
        except Exception:
            return f"<unprintable {type(value).__name__}>"


def _jsonable(value: object) -> object:
    """The value itself when JSON holds it exactly, else its str()."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return _safe_str(value)


class TextFormatter(logging.Formatter):
    """``2026-11-28T05:00:00Z LEVEL message``, then the traceback, if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc(record.created):%Y-%m-%dT%H:%M:%SZ} {record.levelname} {_message(record)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, EXTRA_FIELDS, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        created = _utc(record.created)
        data: dict[str, object] = {
            "time": f"{created:%Y-%m-%dT%H:%M:%S}.{created.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _message(record),
        }
        attributes = record.__dict__
        for name in EXTRA_FIELDS:
            if name in attributes:
                data[name] = _jsonable(attributes[name])
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["traceback"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, ensure_ascii=False)
