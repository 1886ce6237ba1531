"""schedule: posting gaps, publisher hints, Retry-After, the adaptive interval,
next_fetch_at's jitter, backoff and caps, with seeded random numbers; what a poll
writes to its feed (answered, failed, relocate) and what a config change does to
its schedule (resync), as tables."""

# S311: seeded random.Random makes the jitter reproducible here; nothing is cryptographic.
# ruff: noqa: S311

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from feedd.schedule import (
    BURST,
    CLOCK_SKEW,
    JITTER,
    MAX_BACKOFF,
    MAX_DATES,
    MAX_ERROR,
    MAX_HINT,
    MAX_RETRY_AFTER,
    MOVED_AFTER,
    IntervalPolicy,
    answered,
    backoff,
    document_seen,
    failed,
    hinted_interval,
    interval_after,
    next_fetch_at,
    poll_interval,
    posting_gap,
    relocate,
    resync,
    retry_after,
    silent_gap,
)
from feedd.types import (
    DueFeed,
    FeedAnswer,
    FeedDocument,
    FeedSchedule,
    FeedSettings,
    FeedSource,
    FeedUpdate,
    Relocation,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HOUR = 3600.0
MINUTE = 60.0
DAY = 86400.0


def delay(interval: float, errors: int, seed: int) -> float:
    result = next_fetch_at(NOW, interval, errors, random.Random(seed))
    return (result - NOW).total_seconds()


def test_deterministic_with_a_seeded_rng():
    assert delay(HOUR, 0, 7) == delay(HOUR, 0, 7)
    spread = random.Random(7).uniform(-JITTER, JITTER)
    assert delay(HOUR, 0, 7) == pytest.approx(HOUR * (1 + spread))


def test_result_is_aware_and_in_the_future():
    result = next_fetch_at(NOW, HOUR, 0, random.Random(1))
    assert result.tzinfo is not None
    assert result > NOW


@pytest.mark.parametrize("interval", [90.0, 900.0, HOUR, 86400.0])
def test_jitter_stays_within_ten_percent(interval):
    delays = [delay(interval, 0, seed) for seed in range(300)]
    assert all(interval * 0.9 <= d <= interval * 1.1 for d in delays)
    # It does spread: feeds configured together don't fire together.
    assert max(delays) - min(delays) > interval * 0.15
    assert len(set(delays)) > 250


@pytest.mark.parametrize("errors", range(1, 6))
def test_backoff_doubles_per_consecutive_error(errors):
    expected = 60.0 * 2**errors
    for seed in range(50):
        assert expected * 0.9 <= delay(60.0, errors, seed) <= expected * 1.1
    # With the same random numbers, each extra error exactly doubles the delay.
    assert delay(60.0, errors, 3) == pytest.approx(2 * delay(60.0, errors - 1, 3))


def test_backoff_grows_then_stops_at_the_cap():
    delays = [delay(HOUR, errors, 11) for errors in range(12)]
    assert delays == sorted(delays)
    assert delays[1] > delays[0]
    # 1h x 2^5 = 32h is over the 24h cap, and so is everything after it.
    assert delays[5] == delays[6] == delays[11]
    spread = random.Random(11).uniform(-JITTER, JITTER)
    assert delays[11] == pytest.approx(MAX_BACKOFF * (1 + spread))


@pytest.mark.parametrize("errors", [30, 64, 1_000, 10**9])
def test_backoff_cap_holds_for_any_error_count(errors):
    for seed in range(20):
        d = delay(60.0, errors, seed)
        assert MAX_BACKOFF * (1 - JITTER) <= d <= MAX_BACKOFF * (1 + JITTER)


def test_backoff_never_shortens_a_long_interval():
    """An interval longer than the cap is kept after errors, not cut to the cap."""
    week = 7 * 86400.0
    for errors in (0, 1, 5):
        for seed in range(20):
            assert week * 0.9 <= delay(week, errors, seed) <= week * 1.1


@pytest.mark.parametrize("errors", [0, -1, -5])
def test_no_or_negative_error_count_means_no_backoff(errors):
    assert delay(HOUR, errors, 5) == delay(HOUR, 0, 5)


@pytest.mark.parametrize("interval", [0.0, 0.01, 0.5])
def test_at_least_one_second(interval):
    for seed in range(20):
        assert delay(interval, 0, seed) >= 1.0


def test_default_rng_is_used_without_one():
    for _ in range(20):
        d = (next_fetch_at(NOW, HOUR, 0) - NOW).total_seconds()
        assert HOUR * 0.9 <= d <= HOUR * 1.1


# --- retry_after in next_fetch_at -------------------------------------------------


def delay_after(interval: float, errors: int, seed: int, after: float | None) -> float:
    result = next_fetch_at(NOW, interval, errors, random.Random(seed), retry_after=after)
    return (result - NOW).total_seconds()


def test_retry_after_none_changes_nothing():
    for errors in (0, 1, 4, 30):
        for seed in range(10):
            assert delay_after(HOUR, errors, seed, None) == delay(HOUR, errors, seed)


def test_retry_after_longer_than_the_backoff_is_waited_for_without_jitter_below():
    waits = [delay_after(60.0, 1, seed, 2 * HOUR) for seed in range(300)]
    assert all(2 * HOUR <= w <= 2 * HOUR * (1 + JITTER) for w in waits)
    assert len(set(waits)) > 250  # spread upward: one host's feeds don't return together


def test_retry_after_shorter_than_the_backoff_changes_nothing():
    for seed in range(20):
        assert delay_after(HOUR, 3, seed, 120.0) == delay(HOUR, 3, seed)


def test_retry_after_with_backoff_growth_and_cap():
    after = 10 * HOUR
    waits = [delay_after(HOUR, errors, 5, after) for errors in range(12)]
    assert waits == sorted(waits)
    # 1h, 2h, 4h, 8h are below the 10h Retry-After: the Retry-After holds them up.
    assert waits[0] == waits[1] == waits[2] == waits[3]
    assert after <= waits[0] <= after * (1 + JITTER)
    # 16h, then the 24h cap, pass it.
    assert waits[4] == pytest.approx(delay(HOUR, 4, 5))
    assert waits[5] == waits[11] == pytest.approx(delay(HOUR, 11, 5))


def test_retry_after_beyond_the_backoff_cap_still_wins():
    for seed in range(20):
        assert 2 * DAY <= delay_after(HOUR, 30, seed, 2 * DAY) <= 2 * DAY * (1 + JITTER)


def test_retry_after_is_capped():
    for seed in range(20):
        wait = delay_after(HOUR, 1, seed, 365 * DAY)
        assert MAX_RETRY_AFTER <= wait <= MAX_RETRY_AFTER * (1 + JITTER)
        assert delay_after(HOUR, 1, seed, float("inf")) == wait


@pytest.mark.parametrize("after", [0.0, -50.0, float("nan")])
def test_meaningless_retry_after_changes_nothing(after):
    for seed in range(10):
        assert delay_after(HOUR, 2, seed, after) == delay(HOUR, 2, seed)


# --- posting_gap -----------------------------------------------------------------


def every(step: float, count: int, newest: datetime) -> list[datetime]:
    return [newest - timedelta(seconds=step * i) for i in range(count)]


def test_hourly_feed_has_an_hourly_gap():
    dates = every(HOUR, 30, NOW - timedelta(minutes=10))
    assert posting_gap(dates, NOW) == pytest.approx(HOUR)


def test_order_does_not_matter():
    dates = every(HOUR, 30, NOW - timedelta(minutes=10))
    random.Random(3).shuffle(dates)
    assert posting_gap(dates, NOW) == pytest.approx(HOUR)


def test_only_the_newest_dates_count():
    assert MAX_DATES == 20
    recent = every(HOUR, MAX_DATES, NOW - timedelta(minutes=5))
    ancient = every(30 * DAY, 50, recent[-1] - timedelta(days=30))
    assert posting_gap(recent + ancient, NOW) == pytest.approx(HOUR)


@pytest.mark.parametrize(
    "dates",
    [
        [],
        [NOW - timedelta(hours=1)],
        [NOW - timedelta(hours=1)] * 10,  # a whole document stamped with one date
        every(60.0, 5, NOW - timedelta(hours=1)),  # one burst
    ],
)
def test_fewer_than_two_posts_give_none(dates):
    assert posting_gap(dates, NOW) is None


def test_bursts_with_identical_timestamps_count_once():
    # Five items at 09:00 every day: a daily feed, not one posting every 5 hours.
    days = every(DAY, 10, NOW - timedelta(hours=3))
    dates = [d for d in days for _ in range(5)]
    assert posting_gap(dates, NOW) == pytest.approx(DAY)


def test_bursts_seconds_apart_count_once():
    # Five items one minute apart every day: still daily. The 20 newest dates
    # are 4 bursts, 3 gaps of a day.
    dates = [
        d - timedelta(minutes=m) for d in every(DAY, 10, NOW - timedelta(hours=3)) for m in range(5)
    ]
    assert posting_gap(dates, NOW) == pytest.approx(DAY)


def test_a_steady_stream_faster_than_a_burst_stays_fast():
    # One item every 2 minutes: posts closer than BURST merge, but only
    # relative to the start of each burst, so the gap comes out at BURST.
    dates = every(120.0, 40, NOW - timedelta(minutes=1))
    assert posting_gap(dates, NOW) == pytest.approx(BURST)


def test_future_dates_are_ignored_beyond_the_clock_skew():
    hourly = every(HOUR, 10, NOW - timedelta(minutes=10))
    future = [
        NOW + timedelta(seconds=CLOCK_SKEW + 1),
        NOW + timedelta(days=1),
        datetime(2099, 1, 1, tzinfo=UTC),
    ]
    assert posting_gap(hourly + future, NOW) == pytest.approx(HOUR)
    assert posting_gap(future, NOW) is None


def test_dates_slightly_ahead_count():
    ahead = NOW + timedelta(minutes=2)
    assert posting_gap([ahead, ahead - timedelta(hours=1)], NOW) == pytest.approx(HOUR)


def test_absurd_dates_are_ignored():
    hourly = every(HOUR, 10, NOW - timedelta(minutes=10))
    absurd = [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1994, 12, 31, 23, 59, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ]
    assert posting_gap(hourly + absurd, NOW) == pytest.approx(HOUR)
    assert posting_gap([*absurd, NOW - timedelta(hours=1)], NOW) is None


def test_naive_and_offset_dates_are_instants_in_utc():
    plus2 = timezone(timedelta(hours=2))
    newest = NOW - timedelta(minutes=10)
    dates = [newest.astimezone(plus2), (newest - timedelta(hours=1)).replace(tzinfo=None)]
    assert posting_gap(dates, NOW) == pytest.approx(HOUR)
    assert posting_gap(every(HOUR, 5, NOW), NOW.replace(tzinfo=None)) == pytest.approx(HOUR)


def test_dormant_feed_is_lengthened_toward_its_silence():
    def gap_after(silence: float) -> float:
        result = posting_gap(every(HOUR, 20, NOW - timedelta(seconds=silence)), NOW)
        assert result is not None
        return result

    # Silent for less than the gap: unchanged; exactly the gap: still unchanged.
    assert gap_after(30 * MINUTE) == pytest.approx(HOUR)
    assert gap_after(HOUR) == pytest.approx(HOUR)
    silences = [2 * HOUR, 8 * HOUR, DAY, 10 * DAY, 120 * DAY]
    gaps = [gap_after(s) for s in silences]
    assert gaps == sorted(gaps)
    assert all(HOUR < g < s for g, s in zip(gaps, silences, strict=True))
    # A quiet night: polled every ~1.4 h instead of 30 min; dead for 4 months: daily.
    assert gap_after(8 * HOUR) == pytest.approx(8**0.5 * HOUR)
    interval = poll_interval(base=1800, floor=600, ceiling=DAY, gap=gap_after(120 * DAY), hint=None)
    assert interval == DAY


def test_silent_gap_is_the_dormancy_rule_on_a_stored_gap():
    newest = NOW - timedelta(days=10)
    observed = posting_gap(every(HOUR, 20, newest), newest)
    assert observed == pytest.approx(HOUR)  # no silence at the newest date itself
    assert silent_gap(observed, newest, NOW) == posting_gap(every(HOUR, 20, newest), NOW)
    assert silent_gap(HOUR, NOW - timedelta(minutes=20), NOW) == HOUR
    assert silent_gap(HOUR, NOW + timedelta(minutes=2), NOW) == HOUR
    assert silent_gap(HOUR, (NOW - timedelta(hours=4)).replace(tzinfo=None), NOW) == 2 * HOUR
    assert silent_gap(None, newest, NOW) is None
    assert silent_gap(HOUR, None, NOW) == HOUR


# --- poll_interval ---------------------------------------------------------------


def interval_for(gap: float | None, hint: float | None = None, **bounds: float) -> float:
    settings = {"base": 30 * MINUTE, "floor": 10 * MINUTE, "ceiling": DAY, **bounds}
    return poll_interval(gap=gap, hint=hint, **settings)


def test_hourly_feed_is_polled_every_half_hour():
    gap = posting_gap(every(HOUR, 20, NOW - timedelta(minutes=10)), NOW)
    assert interval_for(gap) == pytest.approx(30 * MINUTE)


def test_monthly_feed_is_polled_at_the_ceiling():
    gap = posting_gap(every(30 * DAY, 20, NOW - timedelta(days=3)), NOW)
    assert gap is not None
    assert gap >= 30 * DAY
    assert interval_for(gap) == DAY


def test_no_gap_means_the_configured_interval():
    assert interval_for(None) == 30 * MINUTE
    assert interval_for(None, base=5 * MINUTE) == 10 * MINUTE  # floor
    assert interval_for(None, base=3 * DAY) == DAY  # ceiling


def test_gap_is_clamped_to_floor_and_ceiling():
    assert interval_for(4 * HOUR) == 2 * HOUR
    assert interval_for(MINUTE) == 10 * MINUTE
    assert interval_for(10 * DAY) == DAY
    assert interval_for(HOUR, floor=2 * HOUR) == 2 * HOUR  # the user's own interval


def test_floor_wins_over_a_lower_ceiling():
    assert interval_for(None, floor=2 * HOUR, ceiling=HOUR) == 2 * HOUR
    assert interval_for(10 * DAY, floor=2 * HOUR, ceiling=HOUR) == 2 * HOUR
    assert interval_for(MINUTE, floor=2 * HOUR, ceiling=HOUR) == 2 * HOUR


def test_a_hint_only_lengthens():
    assert interval_for(4 * HOUR, hint=HOUR) == 2 * HOUR
    assert interval_for(4 * HOUR, hint=3 * HOUR) == 3 * HOUR
    assert interval_for(None, hint=HOUR) == HOUR
    assert interval_for(MINUTE, hint=15 * MINUTE) == 15 * MINUTE  # over the floor
    assert interval_for(HOUR, hint=HOUR, floor=2 * HOUR) == 2 * HOUR


def test_a_hint_passes_the_ceiling_up_to_a_day():
    assert MAX_HINT == DAY
    assert interval_for(HOUR, hint=12 * HOUR, ceiling=6 * HOUR) == 12 * HOUR
    assert interval_for(HOUR, hint=7 * DAY, ceiling=6 * HOUR) == MAX_HINT
    assert interval_for(HOUR, hint=7 * DAY) == DAY
    # A ceiling longer than a day is the hint's cap instead.
    assert interval_for(HOUR, hint=3 * DAY, ceiling=7 * DAY) == 3 * DAY
    assert interval_for(HOUR, hint=30 * DAY, ceiling=7 * DAY) == 7 * DAY


# --- hinted_interval -------------------------------------------------------------


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def hint(ttl: float | None = None, **headers: str) -> float | None:
    pairs = tuple((name.replace("_", "-"), value) for name, value in headers.items())
    return hinted_interval(ttl=ttl, headers=pairs, now=NOW)


def test_no_hints():
    assert hint() is None
    assert hint(content_type="application/rss+xml", etag='"x"') is None


def test_ttl_alone():
    assert hint(ttl=HOUR) == HOUR


@pytest.mark.parametrize("ttl", [0.0, -60.0, float("nan"), float("inf")])
def test_meaningless_ttl_is_ignored(ttl):
    assert hint(ttl=ttl) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=600", 600.0),
        ("public, max-age=600", 600.0),
        ("private,max-age=600 , must-revalidate", 600.0),
        ("Max-Age=600", 600.0),
        ('max-age="600"', 600.0),
        ("max-age=600, s-maxage=86400", 600.0),
        ("s-maxage=86400", None),
        ("max-age=0", None),
        ("max-age=99999999999999999999999", float(2**31)),
    ],
)
def test_max_age(value, expected):
    assert hint(cache_control=value) == expected


def test_the_largest_hint_wins():
    assert hint(ttl=HOUR, cache_control="max-age=600") == HOUR
    assert hint(ttl=600, cache_control="max-age=3600") == HOUR


@pytest.mark.parametrize("value", ["no-cache", "no-store", "max-age=3600, no-cache", "NO-STORE"])
def test_no_cache_and_no_store_cancel_the_header_hints(value):
    expires = http_date(NOW + timedelta(hours=2))
    assert hint(cache_control=value) is None
    assert hint(cache_control=value, expires=expires) is None
    assert hint(ttl=HOUR, cache_control=value) == HOUR  # the feed's own ttl still counts


def test_cache_control_headers_are_combined():
    pairs = (("cache-control", "public"), ("cache-control", "max-age=900"))
    assert hinted_interval(ttl=None, headers=pairs, now=NOW) == 900.0
    pairs = (("cache-control", "max-age=900"), ("cache-control", "no-cache"))
    assert hinted_interval(ttl=None, headers=pairs, now=NOW) is None


def test_expires_relative_to_the_date_header():
    # The server's clock is a day behind ours: only Expires - Date matters.
    date = NOW - timedelta(days=1)
    assert hint(date=http_date(date), expires=http_date(date + timedelta(hours=2))) == 2 * HOUR


def test_expires_relative_to_now_without_a_date():
    assert hint(expires=http_date(NOW + timedelta(hours=2))) == 2 * HOUR
    assert hint(date="yesterday-ish", expires=http_date(NOW + timedelta(hours=2))) == 2 * HOUR


def test_max_age_beats_expires():
    expires = http_date(NOW + timedelta(days=2))
    assert hint(cache_control="max-age=600", expires=expires) == 600.0
    # A malformed max-age is as good as none: Expires applies.
    assert hint(cache_control="max-age=ten", expires=expires) == 2 * DAY


@pytest.mark.parametrize(
    "expires", ["0", "-1", "", "tomorrow", http_date(NOW - timedelta(hours=1)), http_date(NOW)]
)
def test_expired_or_malformed_expires_gives_no_hint(expires):
    assert hint(expires=expires) is None


@pytest.mark.parametrize(
    "headers",
    [
        (("cache-control", "max-age=abc"),),
        (("cache-control", "max-age=-5"),),
        (("cache-control", "max-age=1.5"),),
        (("cache-control", "max-age=١٢٣"),),  # Arabic-Indic digits: isdigit() but not ASCII
        (("cache-control", "max-age"),),
        (("cache-control", "max-age="),),
        (("cache-control", ",,=,="),),
        (("cache-control", ""),),
        (("expires", "Sun, 99 Foo 2024 99:99:99 GMT"),),
        (("expires", "Mon, 01 Jan 99999 00:00:00 GMT"),),
        (("date", "\x00"), ("expires", "\x00")),
    ],
)
def test_malformed_headers_are_ignored(headers):
    assert hinted_interval(ttl=None, headers=headers, now=NOW) is None
    assert hinted_interval(ttl=HOUR, headers=headers, now=NOW) == HOUR


# --- retry_after -----------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("120", 120.0), (" 120 ", 120.0), ("0", 0.0)])
def test_retry_after_seconds(value, expected):
    assert retry_after(value, NOW) == expected


def test_retry_after_http_date():
    assert retry_after(http_date(NOW + timedelta(seconds=90)), NOW) == 90.0
    assert retry_after("Sat, 01 Jun 2024 13:00:00 GMT", NOW) == HOUR


def test_retry_after_in_the_past_is_zero():
    assert retry_after(http_date(NOW - timedelta(days=1)), NOW) == 0.0


def test_retry_after_is_capped_at_a_week():
    assert MAX_RETRY_AFTER == 7 * DAY
    assert retry_after("99999999", NOW) == MAX_RETRY_AFTER
    assert retry_after("9" * 5000, NOW) == MAX_RETRY_AFTER
    assert retry_after(http_date(NOW + timedelta(days=365)), NOW) == MAX_RETRY_AFTER


@pytest.mark.parametrize(
    "value", [None, "", "  ", "soon", "-5", "1.5", "12abc", "+30", "Fri, 32 Foo 2024", "\x00"]
)
def test_retry_after_garbage_is_none(value):
    assert retry_after(value, NOW) is None


# --- backoff: the one retry rule ----------------------------------------------


@pytest.mark.parametrize(
    ("base", "doublings", "cap", "expected"),
    [
        (600.0, 0, DAY, 600.0),  # no failure, no doubling
        (600.0, -3, DAY, 600.0),  # nonsense counts double nothing
        (600.0, 1, DAY, 1200.0),
        (600.0, 3, DAY, 4800.0),
        (600.0, 8, DAY, DAY),  # 153,600 s, capped
        (600.0, 10**9, DAY, DAY),  # any count: the exponent is bounded
        (2 * DAY, 3, DAY, 2 * DAY),  # an interval past the cap is not shortened
        # The link cache's parameters (links.RETRY_FIRST, links.RETRY_MAX).
        (HOUR, 0, 7 * DAY, HOUR),
        (HOUR, 7, 7 * DAY, 128 * HOUR),
        (HOUR, 8, 7 * DAY, 7 * DAY),
    ],
)
def test_backoff(base, doublings, cap, expected):
    assert backoff(base, doublings, cap) == expected


# --- what a poll writes: the classifier ---------------------------------------


class NoJitter(random.Random):
    """next_fetch_at without its random spread, so a table can give exact times."""

    def uniform(self, a: float, b: float) -> float:
        return 0.0


def due(
    *,
    interval: float = 600.0,
    errors: int = 0,
    poll: float | None = None,
    final_url: str | None = None,
    moved_to: str | None = None,
    moved_count: int = 0,
    gap: float | None = None,
    last_post: datetime | None = None,
) -> DueFeed:
    url = "https://a.example/feed"
    return DueFeed(
        1,
        url,
        interval,
        errors,
        FeedSource(url, '"old"', None, "oldhash", final_url),
        poll_interval=poll,
        posting_gap=gap,
        last_post_at=last_post,
        moved_to=moved_to,
        moved_count=moved_count,
    )


def after(seconds: float | None) -> datetime | None:
    return None if seconds is None else NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("status", "retry", "feed", "state", "errors", "wait"),
    [
        # Any failure backs off from the interval in use: x 2^errors.
        (500, None, due(), "failing", 1, 1200.0),
        (None, None, due(), "failing", 1, 1200.0),  # no response (timeout, refused)
        (200, None, due(), "failing", 1, 1200.0),  # a body that is not a feed
        (404, None, due(errors=2, poll=900.0), "failing", 3, 7200.0),  # adaptive interval
        (500, None, due(interval=HOUR, errors=9), "failing", 10, MAX_BACKOFF),
        (500, None, due(interval=2 * DAY, errors=3), "failing", 4, 2 * DAY),
        # 429 and 503 wait at least their Retry-After, in seconds or as a date.
        (429, "7200", due(), "failing", 1, 7200.0),
        (503, "60", due(), "failing", 1, 1200.0),  # shorter than the backoff: backoff
        (503, "Sat, 01 Jun 2024 15:00:00 GMT", due(), "failing", 1, 3 * HOUR),
        (429, "99999999", due(), "failing", 1, MAX_RETRY_AFTER),
        (429, "soon", due(), "failing", 1, 1200.0),  # malformed: ignored
        (429, None, due(errors=1), "failing", 2, 2400.0),
        # Retry-After on any other status is not about polling.
        (500, "7200", due(), "failing", 1, 1200.0),
        (301, "7200", due(), "failing", 1, 1200.0),
        # 410 Gone: set aside, never scheduled, whatever else it says.
        (410, None, due(), "gone", 1, None),
        (410, "60", due(errors=4, poll=900.0), "gone", 5, None),
    ],
)
def test_failed(status, retry, feed, state, errors, wait):
    update = failed(
        feed, status=status, error="boom", retry_after_value=retry, now=NOW, rng=NoJitter()
    )
    assert update == FeedUpdate(state, status, NOW, errors, "boom", after(wait))
    assert update.answer is None  # validators, interval, title and relocation stay as stored


def test_failed_keeps_a_bounded_error_message():
    page = "<html>" + "x" * 10_000
    update = failed(due(), status=500, error=page, retry_after_value=None, now=NOW)
    assert update.error == page[:MAX_ERROR]


def test_failed_is_jittered_like_any_schedule():
    update = failed(
        due(), status=500, error="x", retry_after_value=None, now=NOW, rng=random.Random(3)
    )
    spread = random.Random(3).uniform(-JITTER, JITTER)
    assert update.next_fetch_at == NOW + timedelta(seconds=1200.0 * (1 + spread))


DOCUMENT = FeedDocument(
    "newhash", "Title", "https://a.example/", 3 * HOUR, NOW - timedelta(hours=1)
)


@pytest.mark.parametrize(
    ("feed", "status", "document"),
    [
        (due(errors=5), 304, None),  # not modified: the stored document stands
        (due(errors=0), 200, DOCUMENT),
        (due(errors=3, poll=900.0), 200, DOCUMENT),  # an answer forgets the failures
        (due(), 200, FeedDocument("h", None, None, None, None)),
    ],
)
def test_answered(feed, status, document):
    update = answered(
        feed,
        status=status,
        etag='"new"',
        last_modified=None,
        moved_to=None,
        interval=HOUR,
        now=NOW,
        document=document,
        rng=NoJitter(),
    )
    answer = FeedAnswer('"new"', None, HOUR, Relocation(None, None, 0), document)
    assert update == FeedUpdate("ok", status, NOW, 0, None, NOW + timedelta(hours=1), answer)


NEW = "https://b.example/feed"
OTHER = "https://c.example/feed"


@pytest.mark.parametrize(
    ("feed", "moved_to", "expected"),
    [
        (due(), None, Relocation(None, None, 0)),
        (due(final_url=NEW), None, Relocation(NEW, None, 0)),  # moved once: stays moved
        (due(), NEW, Relocation(None, NEW, 1)),
        (due(moved_to=NEW, moved_count=1), NEW, Relocation(None, NEW, 2)),
        (due(moved_to=NEW, moved_count=MOVED_AFTER - 1), NEW, Relocation(NEW, None, 0)),
        (due(moved_to=NEW, moved_count=2), OTHER, Relocation(None, OTHER, 1)),  # elsewhere
        (due(moved_to=NEW, moved_count=2), None, Relocation(None, None, 0)),  # interrupted
    ],
)
def test_relocate(feed, moved_to, expected):
    assert relocate(feed, moved_to) == expected
    update = answered(
        feed, status=200, etag=None, last_modified=None, moved_to=moved_to, interval=HOUR, now=NOW
    )
    assert update.answer is not None
    assert update.answer.relocation == expected


ADAPTIVE = IntervalPolicy(adaptive=True, min_interval=10 * MINUTE, max_interval=DAY)
PINNED = IntervalPolicy(adaptive=False, min_interval=10 * MINUTE, max_interval=DAY)
HOURLY = [NOW - timedelta(hours=h) for h in range(10)]
DAILY = [NOW - timedelta(days=d) for d in range(5)]
HALF_HOUR = due(interval=1800.0)
# Posted every 2 hours, last an hour ago / eight hours ago.
ON_PACE = due(interval=1800.0, gap=2 * HOUR, last_post=NOW - timedelta(hours=1))
SILENT = due(interval=1800.0, gap=2 * HOUR, last_post=NOW - timedelta(hours=8))
PINNED_45M = due(interval=2700.0)
MAX_AGE_2H = (("cache-control", "max-age=7200"),)


@pytest.mark.parametrize(
    ("policy", "feed", "headers", "ttl", "dates", "expected"),
    [
        # A new document: half its posting gap, within [min, max].
        (ADAPTIVE, HALF_HOUR, (), None, HOURLY, 1800.0),
        (ADAPTIVE, HALF_HOUR, (), None, DAILY, DAY / 2),
        (ADAPTIVE, HALF_HOUR, (), None, [], 1800.0),  # no gap: the configured interval
        # No new document (a 304): the stored gap, stretched by the silence since.
        (ADAPTIVE, ON_PACE, (), None, None, HOUR),
        (ADAPTIVE, SILENT, (), None, None, 2 * HOUR),  # sqrt(2 h x 8 h) / 2
        (ADAPTIVE, HALF_HOUR, (), None, None, 1800.0),
        # The feed's own interval pins it; only a publisher hint lengthens it.
        (PINNED, PINNED_45M, (), None, HOURLY, 2700.0),
        (PINNED, PINNED_45M, MAX_AGE_2H, None, HOURLY, 7200.0),
        (ADAPTIVE, HALF_HOUR, (), 3 * HOUR, HOURLY, 3 * HOUR),
    ],
)
def test_interval_after(policy, feed, headers, ttl, dates, expected):
    got = interval_after(feed, policy, headers=headers, ttl=ttl, dates=dates, now=NOW)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize(
    ("dates", "gap", "last_post"),
    [
        ([], None, None),
        ([NOW - timedelta(hours=1)], None, NOW - timedelta(hours=1)),
        # The gap is measured up to the newest post: silence is not stored.
        ([NOW - timedelta(days=10), NOW - timedelta(days=11)], DAY, NOW - timedelta(days=10)),
        # A date beyond the clock skew is not the last post.
        (
            [NOW + timedelta(days=1), NOW - timedelta(hours=2), NOW - timedelta(hours=4)],
            2 * HOUR,
            NOW - timedelta(hours=2),
        ),
        ([NOW + timedelta(seconds=CLOCK_SKEW)], None, NOW + timedelta(seconds=CLOCK_SKEW)),
    ],
)
def test_document_seen(dates, gap, last_post):
    assert document_seen("h", "T", None, dates, NOW) == FeedDocument("h", "T", None, gap, last_post)


# --- resync: a config entry changed -------------------------------------------

FETCHED = NOW - timedelta(minutes=10)
PLANNED = NOW + timedelta(hours=1)


def stored(
    state: str = "ok",
    interval: float = 1800.0,
    fetched: datetime | None = FETCHED,
    next_at: datetime | None = PLANNED,
    poll: float | None = 3600.0,
) -> FeedSchedule:
    return FeedSchedule(state, interval, fetched, next_at, poll)


def configured(interval: float = 1800.0) -> FeedSettings:
    return FeedSettings("https://a.example/feed", None, interval, (), True)


@pytest.mark.parametrize(
    ("before", "entry", "edited", "expected"),
    [
        # Renamed, retagged, re-enabled: the schedule stands.
        (stored(), configured(), True, stored()),
        (stored(), configured(), False, stored()),
        (stored("failing"), configured(), True, stored("failing")),
        (stored("new", fetched=None, next_at=None, poll=None), configured(), True,
         stored("new", fetched=None, next_at=None, poll=None)),
        # A new interval counts from the last fetch and forgets the learned one.
        (stored(), configured(900.0), True,
         stored(interval=900.0, next_at=FETCHED + timedelta(minutes=15), poll=None)),
        (stored("failing"), configured(7200.0), True,
         stored("failing", interval=7200.0, next_at=FETCHED + timedelta(hours=2), poll=None)),
        (stored(fetched=None, next_at=None), configured(900.0), True,
         stored(interval=900.0, fetched=None, next_at=None, poll=None)),  # never fetched: due
        # Whole seconds, as stored: 1800.4 s is the same interval.
        (stored(), configured(1800.4), True, stored()),
        (stored(), configured(1800.6), True,
         stored(interval=1801.0, next_at=FETCHED + timedelta(seconds=1801), poll=None)),
        # A gone feed is tried again, at once, when its entry is edited...
        (stored("gone", next_at=None), configured(), True,
         stored("new", next_at=None)),
        (stored("gone", next_at=None), configured(900.0), True,
         stored("new", interval=900.0, next_at=None, poll=None)),
        # ...not when it only comes back to the config as it was.
        (stored("gone", next_at=None), configured(), False, stored("gone", next_at=None)),
    ],
)  # fmt: skip
def test_resync(before, entry, edited, expected):
    assert resync(before, entry, edited=edited) == expected
