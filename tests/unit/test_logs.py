"""Log formatting and setup: the text and JSON lines, levels, handler replacement."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from types import TracebackType

import pytest

from feedd.logs import (
    HANDLER_NAME,
    JsonFormatter,
    TextFormatter,
    outcome_fields,
    resolve_level,
    setup_logging,
)
from feedd.types import Outcome, Status

LOGGERS = ("", "httpx", "httpcore", "apscheduler")
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Leave the root logger (and the quieted libraries) as each test found them."""
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def record(
    msg: str = "hello %s",
    args: tuple[object, ...] = ("world",),
    level: int = logging.INFO,
    exc_info: ExcInfo | None = None,
    extra: dict[str, object] | None = None,
) -> logging.LogRecord:
    rec = logging.getLogger("feedd.test").makeRecord(
        "feedd.test", level, __file__, 1, msg, args, exc_info, extra=extra
    )
    rec.created = 1795842000.25  # 2026-11-28T05:00:00.250Z
    return rec


def exc_info() -> ExcInfo:
    try:
        raise KeyError("missing")
    except KeyError as exc:
        return (type(exc), exc, exc.__traceback__)


FAILED = Outcome(
    url="https://example.org/feed.xml",
    status=Status.FAILED,
    error="connection refused",
    duration=0.123456,
)
OK = Outcome(
    url="https://example.org/ok.xml",
    status=Status.OK,
    new=3,
    updated=1,
    linked=2,
    unchanged=7,
    http_status=200,
    duration=1.5,
    links_resolved=4,
    links_failed=1,
)


# -- text


def test_text_line() -> None:
    assert TextFormatter().format(record()) == "2026-11-28T05:00:00Z INFO hello world"


def test_text_traceback_follows_the_line() -> None:
    text = TextFormatter().format(record("boom", (), logging.ERROR, exc_info()))
    first, *rest = text.splitlines()
    assert first == "2026-11-28T05:00:00Z ERROR boom"
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "KeyError: 'missing'"


def test_text_warning_is_one_line() -> None:
    text = TextFormatter().format(record("%s: failed: %s", (FAILED.url, FAILED.error), 30))
    assert text == (
        "2026-11-28T05:00:00Z WARNING https://example.org/feed.xml: failed: connection refused"
    )


# -- JSON


def test_json_line_fields() -> None:
    line = JsonFormatter().format(record())
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-11-28T05:00:00.250Z",
        "level": "info",
        "logger": "feedd.test",
        "message": "hello world",
    }


def test_json_outcome_fields() -> None:
    line = JsonFormatter().format(record("polled", (), extra=outcome_fields(OK)))
    data = json.loads(line)
    assert data["message"] == "polled"
    assert data["feed"] == "https://example.org/ok.xml"
    assert data["status"] == "ok"
    assert data["http_status"] == 200
    assert data["duration"] == 1.5
    assert (data["new"], data["updated"], data["linked"], data["unchanged"]) == (3, 1, 2, 7)
    assert (data["links_resolved"], data["links_failed"]) == (4, 1)
    assert "error" not in data
    assert "traceback" not in data


def test_json_only_known_extras() -> None:
    data = json.loads(JsonFormatter().format(record(extra={"event": "tick", "secret": "x"})))
    assert data["event"] == "tick"
    assert "secret" not in data


def test_json_traceback() -> None:
    data = json.loads(JsonFormatter().format(record("bug", (), logging.ERROR, exc_info())))
    assert data["level"] == "error"
    assert data["message"] == "bug"
    assert data["traceback"].startswith("Traceback (most recent call last):")
    assert data["traceback"].endswith("KeyError: 'missing'")


def test_json_keeps_non_ascii() -> None:
    line = JsonFormatter().format(record("Überschrift %s", ("日本語",), extra={"feed": "ü"}))
    assert "Überschrift 日本語" in line
    assert json.loads(line)["feed"] == "ü"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")

    def __repr__(self) -> str:
        raise RuntimeError("no")


def test_json_never_raises_on_odd_values() -> None:
    extra: dict[str, object] = {
        "duration": float("nan"),
        "new": float("inf"),
        "error": ValueError("bad"),
        "feed": b"bytes",
        "status": Unprintable(),
        "updated": {"a": {1, 2}},
    }
    data = json.loads(JsonFormatter().format(record("x", (), extra=extra)))
    assert data["duration"] == "nan"
    assert data["new"] == "inf"
    assert data["error"] == "bad"
    assert data["feed"] == "b'bytes'"
    assert data["status"] == "<unprintable Unprintable>"
    assert data["updated"] == str({"a": {1, 2}})


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_bad_arguments_do_not_raise(formatter: logging.Formatter) -> None:
    text = formatter.format(record("%d items", ("many",)))
    assert "%d items" in text
    assert "many" in text


# -- outcome_fields


def test_outcome_fields_failed() -> None:
    assert outcome_fields(FAILED) == {
        "feed": "https://example.org/feed.xml",
        "status": "failed",
        "duration": 0.123,
        "new": 0,
        "updated": 0,
        "linked": 0,
        "unchanged": 0,
        "links_resolved": 0,
        "links_failed": 0,
        "error": "connection refused",
    }


def test_outcome_fields_are_valid_extra() -> None:
    # logging refuses extra keys that clash with LogRecord attributes.
    logging.getLogger("feedd.test").makeRecord(
        "feedd.test", logging.INFO, __file__, 1, "m", (), None, extra=outcome_fields(OK)
    )


# -- setup_logging


def test_levels() -> None:
    assert resolve_level("info") == logging.INFO
    assert resolve_level("info", verbose=1) == logging.DEBUG
    assert resolve_level("info", verbose=5) == logging.DEBUG
    assert resolve_level("warning", quiet=1) == logging.ERROR
    assert resolve_level("error", quiet=3) == logging.CRITICAL
    assert resolve_level("debug", verbose=1, quiet=2) == logging.INFO
    with pytest.raises(ValueError, match="unknown log level"):
        resolve_level("loud")


def test_setup_rejects_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        setup_logging("info", "xml")


def test_setup_text_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("info", "text")
    log = logging.getLogger("feedd.test")
    log.debug("hidden")
    log.info("shown %d", 1)
    err = capsys.readouterr().err
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO shown 1\n", err), err


def test_setup_again_replaces_its_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("info", "text", stream=first)
    setup_logging("debug", "json", stream=second)
    root = logging.getLogger()
    assert [h.get_name() for h in root.handlers].count(HANDLER_NAME) == 1
    log = logging.getLogger("feedd.test")
    log.debug("debug now")
    log.warning("feed down", extra=outcome_fields(FAILED))
    assert first.getvalue() == ""
    lines = [json.loads(line) for line in second.getvalue().splitlines()]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("debug", "debug now"),
        ("warning", "feed down"),
    ]
    assert lines[1]["feed"] == FAILED.url
    assert lines[1]["error"] == "connection refused"
    assert "traceback" not in lines[1]


def test_setup_leaves_other_handlers() -> None:
    other = logging.StreamHandler(io.StringIO())
    root = logging.getLogger()
    root.addHandler(other)
    try:
        setup_logging("info", "text", stream=io.StringIO())
        setup_logging("info", "text", stream=io.StringIO())
        assert other in root.handlers
    finally:
        root.removeHandler(other)


def test_log_exception_renders_traceback() -> None:
    stream = io.StringIO()
    setup_logging("info", "json", stream=stream)
    try:
        int("not a number")
    except ValueError:
        logging.getLogger("feedd.test").exception("poll crashed")
    (data,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert data["message"] == "poll crashed"
    assert "Traceback (most recent call last):" in data["traceback"]
    assert "ValueError: invalid literal for int()" in data["traceback"]


def test_noisy_libraries_quiet_unless_debug() -> None:
    setup_logging("info", "text", stream=io.StringIO())
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.WARNING
    setup_logging("info", "text", verbose=1, stream=io.StringIO())
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.DEBUG
    setup_logging("error", "text", stream=io.StringIO())
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.ERROR
    setup_logging("info", "text", stream=io.StringIO())  # a reload back from debug
    assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.WARNING
