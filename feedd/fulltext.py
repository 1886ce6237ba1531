"""Article pages ([fulltext]): which new items' pages are fetched, and when a
page that failed is tried again. Pure: values in, decisions out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from .types import Entry

MODES = ("off", "auto", "always")

# A text shorter than this is a teaser, not an article ("auto").
SHORT_WORDS = 100


def pages_wanted(
    mode: str, entries: Sequence[Entry], kept_words: Sequence[int] = ()
) -> tuple[str | None, ...]:
    """Per new entry, why its page should be fetched, or None."""
    if mode == "always":
        return tuple("always" for _ in entries)
    if mode != "auto":
        return tuple(None for _ in entries)
    return tuple(
        entry.teaser or ("short" if entry.word_count < SHORT_WORDS else None) for entry in entries
    )


# A page that failed is tried again later each time; the outcomes a retry
# cannot mend (the page is gone, the address refused, a redirect loop) are
# not tried again.
RETRY_DELAYS = (timedelta(minutes=15), timedelta(hours=2), timedelta(hours=12))
FINAL_FAILURES = frozenset({"not_found", "blocked", "loop", "too_many_hops", "not_html"})


def retry_after(outcome: str, attempts: int, max_attempts: int) -> timedelta | None:
    """How long until a failed page is tried again; None: never (its article keeps
    the feed's text). ``attempts``: the attempts made, the failed one included."""
    if outcome in FINAL_FAILURES or attempts >= max_attempts:
        return None
    return RETRY_DELAYS[min(attempts, len(RETRY_DELAYS)) - 1]
