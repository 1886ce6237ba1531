"""schedule.next_fetch_at: jitter, backoff and its cap, with seeded random numbers."""

# S311: seeded random.Random makes the jitter reproducible here; nothing is cryptographic.
# ruff: noqa: S311

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from feedd.schedule import JITTER, MAX_BACKOFF, next_fetch_at

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HOUR = 3600.0


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
