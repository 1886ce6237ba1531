"""When to poll a feed next (pure).

The policy, in the order the daemon applies it:

1. **Observed pace.** ``posting_gap`` estimates the time between posts from the
   publication dates in the feed's latest document (newest 20 distinct dates,
   bursts counted once); a feed silent for longer than that is treated as
   slower than it was (``silent_gap`` applies that to a stored gap).
2. **Publisher hints.** ``hinted_interval``: RSS ``<ttl>``/``sy:updatePeriod``
   (seconds, from parse), ``Cache-Control: max-age``, else ``Expires``.
3. **Interval.** ``poll_interval``: half the gap (the configured interval when
   there is no gap), clamped to [floor, ceiling]; a hint may lengthen it, past
   the ceiling if need be, up to MAX_HINT (24 h) or the ceiling if longer.
4. **When.** ``next_fetch_at``: the interval with +/-10% jitter so feeds
   configured together do not fire together; after failures, exponential
   backoff (interval x 2^errors) capped at MAX_BACKOFF; never sooner than the
   server's ``Retry-After`` (``retry_after``, capped at MAX_RETRY_AFTER).

What a poll writes to its feed follows from that, as one ``FeedUpdate``:
``answered`` (a 304, or a new body with ``document``), ``failed`` (410 Gone
sets the feed aside; 429 and 503 honour Retry-After; everything else backs
off). ``relocate`` follows a feed that moved permanently. ``resync`` is what
a change of the feed's config entry does to its schedule. ``backoff`` is the
one retry rule, also behind the link cache's retries (``links.link_expiry``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from .types import (
    DueFeed,
    FeedAnswer,
    FeedDocument,
    FeedSchedule,
    FeedSettings,
    FeedUpdate,
    Relocation,
    header_value,
)

JITTER = 0.10
MAX_BACKOFF = 24 * 3600.0
# backoff: 2**20 times any interval is past every cap; bounding the exponent
# keeps a corrupt or huge failure count from building an enormous number.
MAX_DOUBLINGS = 20
# A Retry-After is obeyed up to a week: longer is more likely a server bug
# (or a date in the wrong year) than a wish to be left alone for months.
MAX_RETRY_AFTER = 7 * 24 * 3600.0
# A publisher hint (ttl, max-age, Expires) may lengthen the interval past the
# configured ceiling, but not past a day: a feed is polled at least daily
# whatever it asks for.
MAX_HINT = 24 * 3600.0

# posting_gap
MAX_DATES = 20  # newest distinct dates used; older ones describe another era of the feed
CLOCK_SKEW = 5 * 60.0  # dates this far in the future still count (publisher's clock ahead)
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)  # before RSS existed: a placeholder or a bug
# Dates closer than this to the newest date of their burst count as one post:
# a poll cannot tell them apart anyway (the default min_interval is 10 min),
# and counting each would make a feed that posts 10 items at once every day
# look ten times as busy as it is.
BURST = 10 * 60.0

# poll_interval: poll at half the posting gap. A post lands at a uniformly
# random moment between polls, so it waits half a poll interval on average:
# a quarter of the gap, for about two requests per post. Polling at the gap
# itself would halve the requests but double the wait; polling faster than
# half the gap mostly finds nothing new (with Poisson posting, a poll every
# gap/2 finds a new post 39% of the time, every gap/4 only 22%).
GAP_FACTOR = 0.5


def _utc(value: datetime) -> datetime:
    """An aware datetime; naive ones (e.g. HTTP dates in "-0000") are taken as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def posting_gap(published: Sequence[datetime], now: datetime) -> float | None:
    """Seconds between the feed's posts, from its items' publication dates.

    Uses the newest MAX_DATES distinct dates that are neither before 1995 nor
    more than CLOCK_SKEW in the future; dates within BURST of the newest date
    of their burst count as one post. None with fewer than 2 posts left.

    The estimate is the mean gap: the span from the oldest to the newest post
    divided by the number of gaps. That is the maximum-likelihood estimate for
    Poisson posting, and it is what sets how many posts a poll interval
    catches. A median gap was rejected: bursts (several items a few minutes
    apart, then nothing for a day) make most gaps tiny, so the median says
    "every few minutes" for a daily feed.

    A feed silent for longer than that gap has probably slowed down (under
    Poisson posting, three gaps of silence happen 5% of the time): the
    estimate becomes the geometric mean of the gap and the silence. It equals
    the gap when the silence does, then grows more slowly than the silence, so
    a quiet night stretches an hourly feed's gap to about 3 h while a dormant
    feed drifts to the ceiling (an hourly feed silent for 30 days: 27 h).
    """
    now = _utc(now)
    latest = now + timedelta(seconds=CLOCK_SKEW)
    usable = sorted(
        {d for d in map(_utc, published) if EARLIEST <= d <= latest},
        reverse=True,
    )[:MAX_DATES]
    posts: list[datetime] = []  # newest first, one per burst
    for date in usable:
        if not posts or (posts[-1] - date).total_seconds() >= BURST:
            posts.append(date)
    if len(posts) < 2:
        return None
    gap = (posts[0] - posts[-1]).total_seconds() / (len(posts) - 1)
    return silent_gap(gap, posts[0], now)


def silent_gap(gap: float | None, last_post: datetime | None, now: datetime) -> float | None:
    """``gap`` lengthened for the silence since ``last_post``: posting_gap's dormancy rule.

    For a feed whose latest document brought no dates (a 304): its last
    observed gap and newest post date. Pass the gap as observed, not one
    already lengthened, or the silence counts twice (the result still never
    exceeds the silence). ``posting_gap(dates, newest_date)`` is the observed
    gap: with no silence there is nothing to lengthen. None in, None out.
    """
    if gap is None or last_post is None:
        return gap
    silence = (_utc(now) - _utc(last_post)).total_seconds()
    return math.sqrt(gap * silence) if silence > gap else gap


def _delta_seconds(value: str) -> int | None:
    """RFC 9110 delta-seconds (1*DIGIT, optionally quoted by lax servers), else None."""
    value = value.strip().strip('"').strip()
    if not value.isascii() or not value.isdigit():
        return None
    # RFC 9111 5.2: a value too large to hold means "a very long time" (2^31 s);
    # also keeps int() below Python's limit on digits.
    return int(value) if len(value) <= 10 else 2**31


def _http_date(value: str | None) -> datetime | None:
    """An HTTP date as an aware datetime, or None for anything malformed."""
    if not value:
        return None
    try:
        return _utc(parsedate_to_datetime(value.strip()))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _cache_hint(headers: tuple[tuple[str, str], ...], now: datetime) -> float | None:
    """Freshness lifetime in seconds from Cache-Control max-age, else Expires.

    ``no-cache``/``no-store`` mean the document may change at any moment, so
    they cancel both (RFC 9111 also makes such a response stale at once).
    ``s-maxage`` is for shared caches; feedd is a private one. ``Age`` is
    ignored: max-age is how often the publisher is willing to be asked.
    """
    directives: dict[str, str | None] = {}
    for key, value in headers:
        if key != "cache-control":
            continue
        for part in value.split(","):
            name, sep, arg = part.partition("=")
            directives.setdefault(name.strip().lower(), arg if sep else None)
    if "no-cache" in directives or "no-store" in directives:
        return None
    if "max-age" in directives:
        # A present but malformed max-age falls through to Expires, as a
        # cache would treat the response without it.
        max_age = _delta_seconds(directives["max-age"] or "")
        if max_age is not None:
            return float(max_age)
    expires = _http_date(header_value(headers, "expires"))
    if expires is None:
        return None  # absent, or "0"/"-1"/garbage: already expired, no hint
    date = _http_date(header_value(headers, "date")) or _utc(now)
    return (expires - date).total_seconds()


def hinted_interval(
    *, ttl: float | None, headers: tuple[tuple[str, str], ...], now: datetime
) -> float | None:
    """How long the publisher asks feedd to wait at least, in seconds, or None.

    ``ttl`` is the feed's own hint in seconds (RSS ``<ttl>``, ``sy:update*``).
    ``headers`` are the last response's (lower-cased name, value) pairs:
    ``Cache-Control: max-age=N`` or, without one, ``Expires`` relative to the
    response's ``Date`` (``now`` when it has none or it is malformed).
    ``no-cache``/``no-store`` cancel the header hints. The largest hint wins:
    it is the publisher's strictest request. Hints that are zero, negative,
    not finite or malformed are ignored; this never raises. Uncapped here:
    poll_interval applies MAX_HINT.
    """
    hints = [ttl, _cache_hint(headers, now)]
    usable = [h for h in hints if h is not None and math.isfinite(h) and h > 0]
    return max(usable, default=None)


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from ``now`` for a ``Retry-After`` value, or None.

    Delta-seconds or an HTTP date; a date in the past gives 0. Capped at
    MAX_RETRY_AFTER. None when absent or malformed (negative numbers too).
    """
    if value is None:
        return None
    seconds = _delta_seconds(value)
    if seconds is not None:
        return min(float(seconds), MAX_RETRY_AFTER)
    date = _http_date(value)
    if date is None:
        return None
    return min(max(0.0, (date - _utc(now)).total_seconds()), MAX_RETRY_AFTER)


def poll_interval(
    *, base: float, floor: float, ceiling: float, gap: float | None, hint: float | None
) -> float:
    """The feed's adaptive interval in seconds.

    Without a gap (too few dated items), ``base``, the configured interval;
    with one, GAP_FACTOR (half) of it. Then clamped to [floor, ceiling]; when
    floor > ceiling, floor wins. A publisher ``hint`` lengthens the result: it
    wins over the floor (the user's own interval included) and over the
    ceiling, up to MAX_HINT (24 h) or the ceiling if that is longer. A
    publisher cannot push polling below daily, nor make it more frequent.
    """
    ceiling = max(ceiling, floor)
    wanted = base if gap is None or not math.isfinite(gap) else gap * GAP_FACTOR
    interval = min(max(wanted, floor), ceiling)
    if hint is not None and math.isfinite(hint):
        interval = max(interval, min(hint, max(MAX_HINT, ceiling)))
    return interval


def next_fetch_at(
    now: datetime,
    interval: float,
    error_count: int,
    rng: random.Random | None = None,
    *,
    retry_after: float | None = None,
) -> datetime:
    """When to poll next.

    ``error_count`` counts consecutive failures including the one just
    recorded. ``retry_after`` is the server's Retry-After in seconds (see
    ``retry_after()``); the wait is then at least that (capped at
    MAX_RETRY_AFTER), spread upward only, by up to JITTER, so feeds on one
    host told the same thing do not come back at the same second.
    """
    delay = backoff(interval, error_count, MAX_BACKOFF)
    spread = (rng or random).uniform(-JITTER, JITTER)
    wait = max(1.0, delay * (1 + spread))
    if retry_after is not None and not math.isnan(retry_after):
        at_least = min(max(0.0, retry_after), MAX_RETRY_AFTER)
        wait = max(wait, at_least * (1 + abs(spread)))
    return now + timedelta(seconds=wait)


def backoff(base: float, doublings: int, cap: float) -> float:
    """``base`` doubled ``doublings`` times, at most ``cap``, never less than ``base``.

    The one retry rule. A failing feed waits its interval x 2^errors, up to
    MAX_BACKOFF (``next_fetch_at``); a link that could not be resolved is
    tried again after links.RETRY_FIRST x 2^(failures - 1), up to
    links.RETRY_MAX (``links.link_expiry``). A count of zero or less doubles
    nothing; an interval already longer than the cap is not shortened by
    failing.
    """
    return max(base, min(math.ldexp(base, min(max(doublings, 0), MAX_DOUBLINGS)), cap))


# -- what a poll writes to its feed

# Statuses whose Retry-After is about the next request (RFC 9110 10.2.3): on
# any other status (a 500, a 404) it is not addressed to a poller's schedule.
RETRY_AFTER_STATUSES = frozenset({429, 503})
GONE = 410  # the feed was removed for good: it is set aside, not retried
# Characters of an error message kept on the feed: enough for any message of
# feedd's; a server's whole error page is not worth keeping.
MAX_ERROR = 2000
# A feed's address changes only after this many fetches in a row were moved
# (301/308) to the same URL: one misconfigured response must not lose a feed.
MOVED_AFTER = 3


@dataclass(frozen=True, slots=True)
class IntervalPolicy:
    """How far one feed's interval may follow its posting pace."""

    adaptive: bool  # False: the feed's own interval, lengthened only by publisher hints
    min_interval: float  # [fetch] min_interval, seconds
    max_interval: float  # [fetch] max_interval, seconds


def interval_after(
    feed: DueFeed,
    policy: IntervalPolicy,
    *,
    headers: tuple[tuple[str, str], ...],
    ttl: float | None,
    dates: Sequence[datetime] | None,
    now: datetime,
) -> float:
    """The feed's next interval: adaptive within the policy's bounds unless the
    feed pins it, never shorter than the publisher's hints. ``dates`` are the
    publication dates of the document's items (None: no new document, keep the
    last rhythm, stretched by the silence since its newest post)."""
    hint = hinted_interval(ttl=ttl, headers=headers, now=now)
    if not policy.adaptive:
        return poll_interval(
            base=feed.interval, floor=feed.interval, ceiling=feed.interval, gap=None, hint=hint
        )
    if dates is None:
        gap = silent_gap(feed.posting_gap, feed.last_post_at, now)
    else:
        gap = posting_gap(dates, now)
    return poll_interval(
        base=feed.interval,
        floor=policy.min_interval,
        ceiling=policy.max_interval,
        gap=gap,
        hint=hint,
    )


def relocate(feed: DueFeed, moved_to: str | None) -> Relocation:
    """Count permanent moves; adopt the new address after MOVED_AFTER in a row."""
    if moved_to is None:
        return Relocation(feed.source.final_url, None, 0)
    count = feed.moved_count + 1 if moved_to == feed.moved_to else 1
    if count >= MOVED_AFTER:
        return Relocation(moved_to, None, 0)
    return Relocation(feed.source.final_url, moved_to, count)


def document_seen(
    body_hash: str,
    title: str | None,
    site_url: str | None,
    dates: Sequence[datetime],
    now: datetime,
) -> FeedDocument:
    """What a new body says about its feed. ``dates`` are its items' publication
    dates; the newest one not in the future (beyond CLOCK_SKEW) is the last post."""
    last_post_at = max((d for d in dates if d <= now + timedelta(seconds=CLOCK_SKEW)), default=None)
    # Measured up to the newest post: the silence since then is added when the
    # gap is used (silent_gap), so it is not stored twice.
    gap = posting_gap(dates, last_post_at) if last_post_at else None
    return FeedDocument(body_hash, title, site_url, gap, last_post_at)


def answered(
    feed: DueFeed,
    *,
    status: int,
    etag: str | None,
    last_modified: str | None,
    moved_to: str | None,
    interval: float,
    now: datetime,
    document: FeedDocument | None = None,
    rng: random.Random | None = None,
) -> FeedUpdate:
    """The feed answered (a 304, or a new body described by ``document``): its
    failures are forgotten, it is polled again after ``interval`` (jittered)."""
    answer = FeedAnswer(etag, last_modified, interval, relocate(feed, moved_to), document)
    return FeedUpdate("ok", status, now, 0, None, next_fetch_at(now, interval, 0, rng), answer)


def failed(
    feed: DueFeed,
    *,
    status: int | None,
    error: str,
    retry_after_value: str | None,
    now: datetime,
    rng: random.Random | None = None,
) -> FeedUpdate:
    """The poll failed: 410 Gone sets the feed aside (not polled until its config
    entry changes, ``resync``); otherwise it backs off from its interval in use,
    and after a 429 or 503 waits at least the server's ``retry_after_value``."""
    errors = feed.error_count + 1
    error = error[:MAX_ERROR]
    if status == GONE:
        return FeedUpdate("gone", status, now, errors, error, None)
    wait = retry_after(retry_after_value, now) if status in RETRY_AFTER_STATUSES else None
    interval = feed.poll_interval or feed.interval
    at = next_fetch_at(now, interval, errors, rng, retry_after=wait)
    return FeedUpdate("failing", status, now, errors, error, at)


# -- a feed's config entry changed


def resync(stored: FeedSchedule, configured: FeedSettings, *, edited: bool) -> FeedSchedule:
    """The schedule once the feed's config entry is stored again.

    ``edited``: the entry differs from the stored one (rather than a feed
    removed from the config coming back as it was). A changed interval counts
    from the last fetch, not from the next one already planned, and forgets
    the adaptive interval learned under the old one. A gone feed (HTTP 410)
    is tried again, at once, when its entry is edited: the user has looked at
    it. Intervals are compared in whole seconds, as they are stored.
    """
    interval = float(round(configured.interval))
    state, next_at, poll = stored.state, stored.next_fetch_at, stored.poll_interval
    if interval != stored.interval:
        poll = None
        if stored.last_fetched_at is not None:
            next_at = stored.last_fetched_at + timedelta(seconds=interval)
    if state == "gone" and edited:
        state, next_at = "new", None
    return FeedSchedule(state, interval, stored.last_fetched_at, next_at, poll)
