"""digest: parse -> links -> normalize -> sign, whole or incremental.

The incremental path must give exactly what the whole one gives: these tests
digest a document whole, then the next version of it with the memory the
first left, and compare with a whole digest of that next version.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from feedd import boilerplate, digest
from feedd.boilerplate import MIN_ITEMS, Learned, learn_lines

URL = "https://news.example/feed.xml"
SIGNATURE = "Follow us on Mastodon for more stories like this one."
WORDS = ["river", "stone", "harbor", "lantern", "meadow", "orbit", "cedar", "signal", "quartz"]


def story(number: int) -> str:
    words = random.Random(number).choices(WORDS, k=60)  # noqa: S311 - test text
    return " ".join(words)


def item(number: int, *, title: str | None = None, signed: bool = True) -> str:
    text = f"<p>{story(number)}</p>" + (f"<p>{SIGNATURE}</p>" if signed else "")
    return (
        f"<item><guid>https://news.example/{number}</guid>"
        f"<link>https://news.example/{number}?utm_source=rss</link>"
        f"<title>{title or f'Story {number}'}</title>"
        f"<pubDate>Mon, 0{1 + number % 9} Jan 2024 10:00:00 GMT</pubDate>"
        f"<description><![CDATA[{text}]]></description></item>"
    )


def document(*items: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        f"<link>https://news.example/</link>{''.join(items)}</channel></rss>"
    ).encode()


def memory_after(digested: digest.Digest) -> digest.Memory:
    """The memory a stored digest leaves for the next one."""
    memory = digest.Memory.from_state(digested.state)
    assert memory is not None
    return memory


def test_a_new_item_is_the_only_one_cleaned_and_matches_a_whole_digest() -> None:
    first = digest.digest(document(*(item(n) for n in range(1, 11))), URL, None)
    assert memory_after(first).learned.lines == {SIGNATURE.casefold()}  # the feed's boilerplate
    body = document(item(11), *(item(n) for n in range(1, 11)))

    incremental = digest.digest(body, URL, None, memory_after(first))
    whole = digest.digest(body, URL, None)

    assert [e.guid for e in incremental.entries] == ["https://news.example/11"]
    assert incremental.entries[0] == whole.entries[0]
    assert SIGNATURE not in (incremental.entries[0].content_text or "")
    assert incremental.signatures == whole.signatures[:1]
    assert [
        (k.guid, k.url, k.published_at, k.raw_hash, k.word_count) for k in incremental.kept
    ] == [(e.guid, e.url, e.published_at, e.raw_hash, e.word_count) for e in whole.entries[1:]]
    # What was learned, and what from, still holds; the last document is this one.
    memory, after = memory_after(first), memory_after(incremental)
    assert (after.learned, after.learned_from) == (memory.learned, memory.learned_from)
    assert after.last == memory_after(whole).last


def test_an_edited_item_is_cleaned_again() -> None:
    first = digest.digest(document(*(item(n) for n in range(1, 11))), URL, None)
    body = document(item(1, title="Story 1, corrected"), *(item(n) for n in range(2, 11)))

    incremental = digest.digest(body, URL, None, memory_after(first))

    assert [e.title for e in incremental.entries] == ["Story 1, corrected"]
    assert incremental.entries[0] == digest.digest(body, URL, None).entries[0]
    assert len(incremental.kept) == 9


def test_too_many_changes_for_what_was_learned_clean_the_whole_document() -> None:
    # Six of ten items now come without the signature: it may no longer be the
    # feed's boilerplate, so every item's text may change.
    first = digest.digest(document(*(item(n) for n in range(1, 11))), URL, None)
    body = document(*(item(n, signed=n > 6) for n in range(1, 11)))

    redone = digest.digest(body, URL, None, memory_after(first))

    assert redone.kept == ()
    assert redone == digest.digest(body, URL, None)
    assert memory_after(redone).learned.lines == frozenset()


def test_a_repeated_guid_cleans_the_whole_document() -> None:
    # dedupe keeps the first of two items with one guid: it needs them all, in order.
    first = digest.digest(document(*(item(n) for n in range(1, 11))), URL, None)
    body = document(item(3, title="Story 3 again"), *(item(n) for n in range(1, 11)))

    redone = digest.digest(body, URL, None, memory_after(first))

    assert redone.kept == ()
    assert redone == digest.digest(body, URL, None)


def test_another_address_cleans_everything_again() -> None:
    # Relative links in the content resolve against the document's address.
    first = digest.digest(document(*(item(n) for n in range(1, 11))), URL, None)
    body = document(*(item(n) for n in range(1, 11)))
    moved = "https://mirror.example/feed.xml"

    redone = digest.digest(body, moved, None, memory_after(first))

    assert redone.kept == ()
    assert redone.entries == digest.digest(body, moved, None).entries


def test_an_item_back_in_the_document_is_cleaned_again() -> None:
    # Only the last document's items are kept: one that left and came back may
    # have been deleted meanwhile (retention).
    first = digest.digest(document(*(item(n) for n in range(1, 11))), URL, None)
    second = digest.digest(
        document(*(item(n) for n in range(2, 11))), URL, None, memory_after(first)
    )
    assert (len(second.entries), len(second.kept)) == (0, 9)

    again = digest.digest(
        document(*(item(n) for n in range(1, 11))), URL, None, memory_after(second)
    )

    assert [e.guid for e in again.entries] == ["https://news.example/1"]
    assert again.entries[0] == first.entries[0]


def test_a_state_from_elsewhere_is_no_memory() -> None:
    assert digest.Memory.from_state("not json") is None
    assert digest.Memory.from_state('{"lines": []}') is None


# -- what is learned, and when it provably stays learned

# Items as sets of lines: two template lines that most items carry, plus others.
ITEM = st.one_of(
    st.none(),
    st.builds(
        lambda first, second, others: (
            ({"template one"} if first else set())
            | ({"template two"} if second else set())
            | others
        ),
        st.booleans().filter(lambda _: True),
        st.booleans(),
        st.sets(st.sampled_from([f"line {n}" for n in range(6)]), max_size=3),
    ),
)


def as_text(lines: set[str] | None) -> str | None:
    return "\n".join(sorted(lines)) if lines else None


@settings(max_examples=400)
@given(st.lists(ITEM, min_size=3, max_size=16), st.data())
def test_learned_lines_hold_within_the_changes_they_allow(
    before: list[set[str] | None], data: st.DataObject
) -> None:
    learned = learn_lines([as_text(lines) for lines in before])
    removed = data.draw(st.integers(0, len(before)))
    added = data.draw(st.lists(ITEM, max_size=6))
    after = before[removed:] + added
    if learned.holds_after(removed + len(added)):
        assert learn_lines([as_text(lines) for lines in after]).lines == learned.lines


def test_learned_lines_hold_within_the_changes_they_allow_exhaustively() -> None:
    # Every document of up to 12 texts, with a template line in c of them, and
    # every way up to 4 items can be removed or added (with or without it);
    # with and without a line that every text has (learned from 5 texts on).
    def texts(with_line: int, without: int, start: int, anchor: str) -> list[str | None]:
        unique = iter(range(start, start + with_line + without))
        return [f"story {next(unique)}{anchor}\ntemplate" for _ in range(with_line)] + [
            f"story {next(unique)}{anchor}" for _ in range(without)
        ]

    checked = 0
    for anchor, present in itertools.product(("", "\nsigned"), range(13)):
        for count in range(present + 1):
            learned = learn_lines(texts(count, present - count, 0, anchor))
            for changes in range(5):
                if not learned.holds_after(changes):
                    continue
                for gone_with in range(min(count, changes) + 1):
                    for gone_without in range(min(present - count, changes - gone_with) + 1):
                        left = changes - gone_with - gone_without
                        for new_with in range(left + 1):
                            new_without = left - new_with
                            after = texts(
                                count - gone_with + new_with,
                                present - count - gone_without + new_without,
                                100,
                                anchor,
                            )
                            assert learn_lines(after).lines == learned.lines, (
                                present,
                                count,
                                changes,
                                gone_with,
                                gone_without,
                                new_with,
                            )
                            checked += 1
    assert checked > 2000


def test_learning_counts() -> None:
    texts = [f"story {n}\nshared line" for n in range(MIN_ITEMS)] + [None, "other\nstory 0"]
    learned = learn_lines(texts)
    assert learned == Learned(frozenset({"shared line"}), MIN_ITEMS + 1, MIN_ITEMS, 2)
    assert boilerplate.learn_boilerplate(texts) == learned.lines
    assert learned.holds_after(0)
    assert not learned.holds_after(MIN_ITEMS)
    # Nothing learned, nothing close: a few changes cannot make a line learned.
    plain = learn_lines([f"story {n}\nread more" if n < 3 else f"story {n}" for n in range(10)])
    assert plain == Learned(frozenset(), 10, 0, 3)
    assert plain.holds_after(4)
    assert not plain.holds_after(5)  # 3 of 5 texts left


def test_a_feed_without_boilerplate_is_digested_incrementally() -> None:
    first = digest.digest(document(*(item(n, signed=False) for n in range(1, 11))), URL, None)
    body = document(item(11, signed=False), *(item(n, signed=False) for n in range(1, 11)))

    incremental = digest.digest(body, URL, None, memory_after(first))

    assert len(incremental.kept) == 10
    assert incremental.entries == digest.digest(body, URL, None).entries[:1]
