"""Values every backend computes alike, so that a database moved from one to
the other (``feedd migrate-db``) compares equal: the fingerprint of a feed's
config entry and the hash of an article version."""

from __future__ import annotations

import hashlib
import json

from ..types import FeedSettings


def settings_hash(feed: FeedSettings) -> str:
    """Fingerprint of a feed's config entry (credentials and headers left out):
    what sync_feeds compares. Process-level settings (user agent, workers, log)
    are not in it, so pollers whose configs differ only in those agree."""
    fields = [feed.url, feed.name, feed.interval, feed.tags, feed.enabled, feed.resolve]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:16]


def revision_hash(title: str | None, summary: str | None, text: str | None) -> str:
    """article_revisions.content_hash: sha256 of the three fields, unit-separated."""
    joined = "\x1f".join(part or "" for part in (title, summary, text))
    return hashlib.sha256(joined.encode()).hexdigest()
