"""The read side's pure parts: one duration parser, one error tree, the fields a
Reader answers and the SQLite columns behind them."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime, timedelta

import pytest

from feedd import errors, metrics, opml
from feedd.config import duration_seconds, parse_duration
from feedd.query import parse_when
from feedd.store.reading import ARTICLE_FIELDS
from feedd.store.sqlite.reading import COLUMNS

NOW = datetime(2025, 6, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("2 d", 172_800),
        ("1H", 3600),
        ("1.5h", 5400),
        ("1w2d", 777_600),
        ("", None),
        ("5", None),  # a string needs a unit
        ("1h30", None),
        ("-5m", None),
        ("1e3s", None),
        ("2025-06-03", None),
    ],
)
def test_duration_seconds(text, seconds):
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["90s", "1h30m", "2 d", "1w"])
def test_since_and_the_config_read_durations_alike(text):
    assert parse_when(text, NOW) == NOW - timedelta(seconds=parse_duration(text))


def test_a_duration_before_year_one_is_a_bad_time():
    with pytest.raises(errors.BadQuery, match="bad time"):
        parse_when("1000000w", NOW)


def test_every_error_is_in_the_tree():
    defined = [
        cls
        for _name, cls in inspect.getmembers(errors, inspect.isclass)
        if cls.__module__ == errors.__name__
    ]
    assert {cls.__name__ for cls in defined} >= {
        "QueryError",
        "BadQuery",
        "OpmlError",
        "BadRequest",
    }
    drawn = re.findall(r"[├└]── (\w+)", errors.__doc__ or "")
    for cls in defined:
        assert cls is errors.FeeddError or issubclass(cls, errors.FeeddError), cls
        assert cls is errors.FeeddError or cls.__name__ in drawn, f"{cls.__name__} not drawn"
    # Raised under the names their modules always used.
    assert opml.OpmlError is errors.OpmlError
    assert metrics.BadRequest is errors.BadRequest


def test_the_sqlite_reader_answers_every_field():
    assert tuple(COLUMNS) == ARTICLE_FIELDS
