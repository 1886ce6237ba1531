"""How the read commands' input is read: pure.

``feedd articles/search/show/feeds/stats/tail/export`` (cli_query.py) turn
their options into a ``Filters`` value and a tuple of field names here, then
ask a ``feedd.store.Reader`` for rows; the SQL that answers lives with the
SQLite backend (``feedd.store.sqlite.reading``), so another backend answers
the same commands without a change here or in the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from .config import duration_seconds
from .errors import BadQuery
from .store.reading import ARTICLE_FIELDS

# -- --since / --until


def parse_when(value: str, now: datetime) -> datetime:
    """A point in time from a duration before ``now`` ("2d", "12h", "1h30m")
    or an ISO date or datetime (naive means UTC). Raises BadQuery."""
    text = value.strip()
    try:
        seconds = duration_seconds(text)
        if seconds is not None:
            return now - timedelta(seconds=seconds)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except (ValueError, OverflowError):
        # OverflowError: a duration reaching before year 1 ("1000000w").
        raise BadQuery(
            f"bad time {value!r}: expected a duration such as 2d, 12h or 30m, "
            "or an ISO date or datetime such as 2025-06-03 or 2025-06-03T09:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# -- what to list

DEFAULT_FIELDS = ("id", "date", "feeds", "title", "url")
EXPORT_FIELDS = (
    "id",
    "url",
    "title",
    "summary",
    "content_text",
    "content_html",
    "author",
    "published_at",
    "updated_at",
    "first_seen_at",
    "language",
    "tags",
    "feeds",
)


def parse_fields(value: str | None, default: Sequence[str] = DEFAULT_FIELDS) -> tuple[str, ...]:
    """--fields a,b,c: validated against ARTICLE_FIELDS. Raises BadQuery."""
    if value is None:
        return tuple(default)
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in ARTICLE_FIELDS]
    if unknown or not names:
        raise BadQuery(
            f"unknown field(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(ARTICLE_FIELDS)}"
        )
    return names
