"""dedupe.decide: one intent per entry, by the four rules of its docstring."""

from __future__ import annotations

import pytest

from feedd.dedupe import decide
from feedd.types import Action, Entry, Known, KnownItem


def entry(guid: str, url: str | None = None, content_hash: str = "h1") -> Entry:
    return Entry(
        guid=guid,
        link=url,
        url=url,
        title=f"title {guid}",
        summary=None,
        content_text=None,
        content_html=None,
        author=None,
        published_at=None,
        updated_at=None,
        tags=(),
        content_hash=content_hash,
    )


def actions(intents) -> list[tuple[Action, int | None]]:
    return [(intent.action, intent.article_id) for intent in intents]


def test_empty_batch():
    assert decide(Known(), []) == ()


def test_one_intent_per_entry_in_order_carrying_the_entry():
    batch = [entry("a", "https://x.example/a"), entry("b"), entry("a")]
    intents = decide(Known(), batch)
    assert len(intents) == 3
    assert [intent.entry for intent in intents] == batch
    assert all(intent.reason for intent in intents)


def test_accepts_any_iterable():
    intents = decide(Known(), (e for e in [entry("a"), entry("b")]))
    assert actions(intents) == [(Action.INSERT, None), (Action.INSERT, None)]


# Rule 1: the same guid earlier in this batch -> skip.


def test_rule1_guid_repeated_in_batch_is_skipped():
    intents = decide(
        Known(), [entry("a", "https://x.example/a"), entry("a", "https://x.example/b")]
    )
    assert actions(intents) == [(Action.INSERT, None), (Action.SKIP, None)]
    assert "repeated" in intents[1].reason


def test_rule1_applies_before_the_stored_guid():
    """A repeat of a stored, changed item is updated once, then skipped."""
    known = Known(items=(KnownItem("a", 7, "old"),))
    intents = decide(known, [entry("a", content_hash="new"), entry("a", content_hash="newer")])
    assert actions(intents) == [(Action.UPDATE, 7), (Action.SKIP, None)]


# Rule 2: the same guid already stored for this feed -> skip if unchanged, else update.


def test_rule2_stored_guid_unchanged_is_skipped():
    known = Known(items=(KnownItem("a", 7, "h1"),))
    [intent] = decide(known, [entry("a", content_hash="h1")])
    assert (intent.action, intent.article_id, intent.reason) == (Action.SKIP, 7, "unchanged")


def test_rule2_stored_guid_changed_is_updated():
    known = Known(items=(KnownItem("a", 7, "h1"),))
    [intent] = decide(known, [entry("a", content_hash="h2")])
    assert (intent.action, intent.article_id) == (Action.UPDATE, 7)
    assert "changed" in intent.reason


def test_rule2_stored_without_hash_is_updated():
    known = Known(items=(KnownItem("a", 7, None),))
    assert actions(decide(known, [entry("a")])) == [(Action.UPDATE, 7)]


def test_rule2_comes_before_the_url_rule():
    """A stored guid whose URL belongs to another article is still this feed's item."""
    known = Known(
        items=(KnownItem("a", 7, "h1"),),
        urls=(("https://x.example/shared", 9),),
    )
    unchanged = entry("a", "https://x.example/shared", "h1")
    changed = entry("a", "https://x.example/shared", "h2")
    assert actions(decide(known, [unchanged])) == [(Action.SKIP, 7)]
    assert actions(decide(known, [changed])) == [(Action.UPDATE, 7)]


# Rule 3: the same canonical URL stored (any feed) or earlier in this batch -> link.


def test_rule3_url_already_stored_links_to_that_article():
    known = Known(urls=(("https://x.example/story", 42),))
    [intent] = decide(known, [entry("new-guid", "https://x.example/story")])
    assert (intent.action, intent.article_id) == (Action.LINK, 42)
    assert "stored" in intent.reason


def test_rule3_url_earlier_in_batch_links():
    batch = [entry("a", "https://x.example/story"), entry("b", "https://x.example/story")]
    intents = decide(Known(), batch)
    assert actions(intents) == [(Action.INSERT, None), (Action.LINK, None)]
    assert "earlier" in intents[1].reason


def test_rule3_three_items_one_story():
    url = "https://x.example/story"
    intents = decide(Known(), [entry("a", url), entry("b", url), entry("c", url)])
    assert [i.action for i in intents] == [Action.INSERT, Action.LINK, Action.LINK]


def test_rule3_url_of_an_updated_item_earlier_in_batch_links():
    """Rule 3 says "or earlier in this batch". That holds when the earlier entry is an
    update of a stored item whose URL changed, too. Inserting a second article would
    store one story twice."""
    known = Known(items=(KnownItem("a", 7, "old"),))
    url = "https://x.example/moved-story"
    intents = decide(known, [entry("a", url, "new"), entry("b", url)])
    assert intents[0].action == Action.UPDATE
    assert intents[1].action == Action.LINK


def test_rule3_entries_without_url_are_never_linked():
    intents = decide(Known(), [entry("a", None), entry("b", None)])
    assert actions(intents) == [(Action.INSERT, None), (Action.INSERT, None)]


# Rule 4: otherwise insert.


def test_rule4_new_entries_are_inserted():
    known = Known(items=(KnownItem("old", 1, "h"),), urls=(("https://x.example/old", 1),))
    intents = decide(known, [entry("a", "https://x.example/a"), entry("b", "https://x.example/b")])
    assert actions(intents) == [(Action.INSERT, None), (Action.INSERT, None)]
    assert all(i.reason == "new" for i in intents)


@pytest.mark.parametrize("url", ["https://x.example/A", "http://x.example/a"])
def test_urls_are_compared_exactly(url):
    """decide compares canonical URLs as given; canonicalizing is links' job."""
    known = Known(urls=(("https://x.example/a", 1),))
    assert decide(known, [entry("n", url)])[0].action == Action.INSERT


def test_mixed_batch():
    known = Known(
        items=(KnownItem("same", 1, "h1"), KnownItem("edited", 2, "h1")),
        urls=(("https://x.example/elsewhere", 3),),
    )
    batch = [
        entry("same", "https://x.example/same", "h1"),
        entry("edited", "https://x.example/edited", "h2"),
        entry("from-other-feed", "https://x.example/elsewhere"),
        entry("fresh", "https://x.example/fresh"),
        entry("fresh-dup-url", "https://x.example/fresh"),
        entry("fresh"),
    ]
    assert actions(decide(known, batch)) == [
        (Action.SKIP, 1),
        (Action.UPDATE, 2),
        (Action.LINK, 3),
        (Action.INSERT, None),
        (Action.LINK, None),
        (Action.SKIP, None),
    ]
