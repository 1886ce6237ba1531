"""What a poll's result writes to its feed's row: one mapping for every backend.

``poll_columns`` turns schedule's ``FeedUpdate`` into column values, and
says which of three statements writes them (a failure touches the schedule
and the error; a 304 also the validators and interval; a new document also
what was learned from it). Timestamps stay datetimes: each backend stores
them in its own form.
"""

from __future__ import annotations

from typing import Any, Literal

from ..types import FeedUpdate

# Which columns the update sets: each kind includes the one before.
PollKind = Literal["failure", "not_modified", "document"]
TIMESTAMP_COLUMNS = ("fetched_at", "next_fetch_at", "last_post_at")


def poll_columns(feed_id: int, update: FeedUpdate) -> tuple[PollKind, dict[str, Any]]:
    """The statement's kind and its parameters (datetimes as they are)."""
    values: dict[str, Any] = {
        "id": feed_id,
        "state": update.state,
        "status": update.status,
        "fetched_at": update.fetched_at,
        "error_count": update.error_count,
        "error": update.error,
        "next_fetch_at": update.next_fetch_at,
    }
    answer = update.answer
    if answer is None:
        return "failure", values
    move = answer.relocation
    values.update(
        etag=answer.etag,
        last_modified=answer.last_modified,
        poll_interval=round(answer.poll_interval),
        final_url=move.final_url,
        moved_to=move.moved_to,
        moved_count=move.moved_count,
    )
    document = answer.document
    if document is None:
        return "not_modified", values
    values.update(
        body_hash=document.body_hash,
        title=document.title,
        site_url=document.site_url,
        posting_gap=None if document.posting_gap is None else round(document.posting_gap),
        last_post_at=document.last_post_at,
    )
    return "document", values
