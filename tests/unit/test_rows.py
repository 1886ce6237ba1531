"""store.rows.poll_columns: what a poll's result writes, whatever the backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feedd.store.rows import poll_columns
from feedd.types import FeedAnswer, FeedDocument, FeedUpdate, Relocation

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def test_each_kind_of_poll_sets_its_columns_and_no_more():
    failed = FeedUpdate("failing", 503, NOW, 2, "HTTP 503", NOW + timedelta(hours=1))
    kind, values = poll_columns(7, failed)
    assert kind == "failure"
    assert set(values) == {"id", "state", "status", "fetched_at", "error_count", "error",
                           "next_fetch_at"}  # fmt: skip
    assert values["fetched_at"] is NOW  # datetimes as they are: the backend formats them

    answer = FeedAnswer('"v2"', None, 1800.4, Relocation(None, None, 0))
    kind, values = poll_columns(7, FeedUpdate("ok", 304, NOW, 0, None, NOW, answer))
    assert kind == "not_modified"
    assert values["etag"] == '"v2"' and values["poll_interval"] == 1800
    assert "body_hash" not in values  # a 304 keeps the stored document's

    document = FeedDocument("abc", "Title", None, 3600.0, NOW - timedelta(hours=2))
    with_body = FeedUpdate("ok", 200, NOW, 0, None, NOW, FeedAnswer(None, None, 900.0,
                           Relocation(None, None, 0), document))  # fmt: skip
    kind, values = poll_columns(7, with_body)
    assert kind == "document"
    assert (values["body_hash"], values["posting_gap"]) == ("abc", 3600)
    assert values["last_post_at"] == NOW - timedelta(hours=2)
