"""dedupe.decide: one intent per entry, by the four rules of its docstring."""

from __future__ import annotations

import pytest

from feedd.dedupe import decide, shared_urls
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


def test_a_url_shared_by_items_of_one_document_is_not_an_identity():
    # Podcast episodes that all link to the show's page are distinct stories.
    url = "https://x.example/show"
    intents = decide(Known(), [entry("a", url), entry("b", url), entry("c", url)])
    assert [i.action for i in intents] == [Action.INSERT, Action.INSERT, Action.INSERT]


def test_a_shared_url_is_not_linked_to_a_stored_article_either():
    url = "https://x.example/show"
    known = Known(urls=((url, 5),))
    intents = decide(known, [entry("a", url), entry("b", url)])
    assert actions(intents) == [(Action.INSERT, None), (Action.INSERT, None)]


def test_the_feeds_home_page_is_not_an_identity():
    home = "https://x.example/"
    known = Known(urls=((home, 5),))
    intents = decide(known, [entry("a", home)], site_url=home)
    assert actions(intents) == [(Action.INSERT, None)]
    assert decide(known, [entry("a", home)])[0].action == Action.LINK


def test_shared_urls():
    batch = [
        entry("a", "https://x.example/1"),
        entry("b", "https://x.example/1"),
        entry("c", "https://x.example/2"),
        entry("c", "https://x.example/2"),  # the same item twice: not sharing
        entry("d", None),
    ]
    assert shared_urls(batch) == {"https://x.example/1"}
    assert shared_urls(batch, "https://x.example/") == {"https://x.example/1", "https://x.example/"}


def test_an_updated_item_and_a_new_one_sharing_a_url_stay_distinct():
    known = Known(items=(KnownItem("a", 7, "old"),))
    url = "https://x.example/moved-story"
    intents = decide(known, [entry("a", url, "new"), entry("b", url)])
    assert actions(intents) == [(Action.UPDATE, 7), (Action.INSERT, None)]


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
        entry("fresh-shared-url", "https://x.example/fresh"),
        entry("fresh"),
    ]
    assert actions(decide(known, batch)) == [
        (Action.SKIP, 1),
        (Action.UPDATE, 2),
        (Action.LINK, 3),
        (Action.INSERT, None),
        (Action.INSERT, None),
        (Action.SKIP, None),
    ]
