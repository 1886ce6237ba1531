"""When to poll a feed next (pure).

This first policy: the feed's interval with +/-10% jitter so feeds configured
together do not fire together; after failures, exponential backoff
(interval x 2^errors) capped at MAX_BACKOFF. The polite-fetching issue adds
adaptive intervals, feed hints and Retry-After.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

JITTER = 0.10
MAX_BACKOFF = 24 * 3600.0


def next_fetch_at(
    now: datetime, interval: float, error_count: int, rng: random.Random | None = None
) -> datetime:
    """``error_count`` counts consecutive failures including the one just recorded."""
    delay = interval
    if error_count > 0:
        delay = max(interval, min(interval * 2 ** min(error_count, 20), MAX_BACKOFF))
    spread = (rng or random).uniform(-JITTER, JITTER)
    return now + timedelta(seconds=max(1.0, delay * (1 + spread)))
