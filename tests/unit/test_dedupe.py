"""dedupe.decide: one intent per entry, by the four rules of its docstring."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedd.dedupe import MIN_TEXT_MATCH_WORDS, decide, group_root, identity_keys, shared_urls
from feedd.types import Action, Enclosure, Entry, Kept, Known, KnownArticle, KnownItem


def art(id_: int, url: str | None, text_hash: str | None = None, words: int = 0) -> KnownArticle:
    return KnownArticle(id_, url, text_hash, words)


def entry(
    guid: str,
    url: str | None = None,
    content_hash: str = "h1",
    *,
    words: int = 0,
    text_hash: str | None = None,
) -> Entry:
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
        word_count=words,
        text_hash=text_hash,
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
        articles=(art(9, "https://x.example/shared"),),
    )
    unchanged = entry("a", "https://x.example/shared", "h1")
    changed = entry("a", "https://x.example/shared", "h2")
    assert actions(decide(known, [unchanged])) == [(Action.SKIP, 7)]
    assert actions(decide(known, [changed])) == [(Action.UPDATE, 7)]


# Rule 3: the same canonical URL stored (any feed) or earlier in this batch -> link.


def test_rule3_url_already_stored_links_to_that_article():
    known = Known(articles=(art(42, "https://x.example/story"),))
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
    known = Known(articles=(art(5, url),))
    intents = decide(known, [entry("a", url), entry("b", url)])
    assert actions(intents) == [(Action.INSERT, None), (Action.INSERT, None)]


def test_the_feeds_home_page_is_not_an_identity():
    home = "https://x.example/"
    known = Known(articles=(art(5, home),))
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
    known = Known(items=(KnownItem("old", 1, "h"),), articles=(art(1, "https://x.example/old"),))
    intents = decide(known, [entry("a", "https://x.example/a"), entry("b", "https://x.example/b")])
    assert actions(intents) == [(Action.INSERT, None), (Action.INSERT, None)]
    assert all(i.reason == "new" for i in intents)


@pytest.mark.parametrize("url", ["https://x.example/A", "http://x.example/a"])
def test_urls_are_compared_exactly(url):
    """decide compares canonical URLs as given; canonicalizing is links' job."""
    known = Known(articles=(art(1, "https://x.example/a"),))
    assert decide(known, [entry("n", url)])[0].action == Action.INSERT


def test_mixed_batch():
    known = Known(
        items=(KnownItem("same", 1, "h1"), KnownItem("edited", 2, "h1")),
        articles=(art(3, "https://x.example/elsewhere"),),
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


# Enrichment: the same story arriving fuller replaces the stored text.


def test_a_fuller_copy_of_a_stored_story_enriches_it():
    known = Known(articles=(art(4, "https://x.example/story", None, 12),))
    [intent] = decide(known, [entry("pub-1", "https://x.example/story", words=600)])
    assert (intent.action, intent.article_id) == (Action.ENRICH, 4)
    [thinner] = decide(known, [entry("ift-1", "https://x.example/story", words=12)])
    assert (thinner.action, thinner.article_id) == (Action.LINK, 4)


def test_the_same_long_text_under_another_url_is_the_same_story():
    words = MIN_TEXT_MATCH_WORDS
    known = Known(articles=(art(8, "https://a.example/1", "t1", words),))
    [intent] = decide(known, [entry("b", "https://b.example/9", words=words, text_hash="t1")])
    assert (intent.action, intent.article_id) == (Action.LINK, 8)
    assert "same text" in intent.reason


def test_a_short_text_is_no_identity():
    known = Known(articles=(art(8, "https://a.example/1", "t1", 3),))
    short = entry("b", "https://b.example/9", words=MIN_TEXT_MATCH_WORDS - 1, text_hash="t1")
    assert decide(known, [short])[0].action == Action.INSERT


def test_group_root_is_the_earliest_published_whatever_the_order():
    early = datetime(2024, 1, 1, 9, tzinfo=UTC)
    late = datetime(2024, 1, 1, 12, tzinfo=UTC)
    members = [(5, late), (9, early), (2, None), (7, early)]
    for order in (members, members[::-1], sorted(members)):
        assert group_root(order) == 7  # the earliest; the smaller id among equals
    assert group_root([(3, None), (1, None)]) == 1


def test_the_oldest_of_articles_sharing_a_url_or_a_text_is_the_one() -> None:
    # The database may return them in any order; the choice must not depend on it.
    words = MIN_TEXT_MATCH_WORDS + 10
    twins = [
        KnownArticle(7, "https://x.example/story", "t1", 10),
        KnownArticle(3, "https://x.example/story", "t1", 10),
    ]
    same_url = entry("g-new", "https://x.example/story", words=words, text_hash="t2")
    same_text = entry("g-new", "https://y.example/elsewhere", words=words, text_hash="t1")
    for articles in (twins, twins[::-1]):
        known = Known(articles=tuple(articles))
        assert actions(decide(known, [same_url])) == [(Action.ENRICH, 3)]
        assert actions(decide(known, [same_text])) == [(Action.ENRICH, 3)]


# Stories within one batch: a double post is one article, whatever the order.


def copy(
    guid: str,
    url: str | None,
    title: str,
    text: str | None = None,
    *,
    words: int | None = None,
    text_hash: str | None = None,
    enclosures: tuple[Enclosure, ...] = (),
) -> Entry:
    return Entry(
        guid=guid,
        link=url,
        url=url,
        title=title,
        summary=None,
        content_text=text,
        content_html=None,
        author=None,
        published_at=None,
        updated_at=None,
        tags=(),
        content_hash=f"h-{guid}",
        word_count=len((text or "").split()) if words is None else words,
        text_hash=text_hash,
        enclosures=enclosures,
    )


LEAD = "Russia and the US will hold security talks in Geneva in January, the Kremlin said"
STORY = "https://www.rt.com/russia/544702-russia-us-security-talks/"


def stories(intents) -> set[frozenset[str]]:
    """The batch's articles as sets of guids (an inserted guid names its article)."""
    article_of: dict[str, str] = {}
    for intent in intents:
        if intent.action is Action.INSERT:
            article_of[intent.entry.guid] = intent.entry.guid
        elif intent.article_id is not None:
            article_of[intent.entry.guid] = f"stored {intent.article_id}"
        elif intent.same_as is not None:
            article_of[intent.entry.guid] = intent.same_as
    groups: dict[str, set[str]] = {}
    for guid, article in article_of.items():
        groups.setdefault(article, set()).add(guid)
    return {frozenset(members) for members in groups.values()}


def test_a_story_posted_twice_in_one_document_is_one_article_in_either_order():
    thin = copy("ift-1", STORY, "Russia-US security talks set", LEAD)
    fuller = copy("ift-2", STORY, "Russia-US security talks set", f"{LEAD}. More follows here.")
    for batch in ([thin, fuller], [fuller, thin]):
        intents = {i.entry.guid: i for i in decide(Known(), batch)}
        assert intents["ift-2"].action is Action.INSERT  # the fuller copy, in either order
        assert (intents["ift-1"].action, intents["ift-1"].same_as) == (Action.LINK, "ift-2")


def test_a_double_post_of_a_stored_story_links_both_copies():
    known = Known(articles=(KnownArticle(9, STORY, None, 300, "Russia-US talks", LEAD),))
    batch = [
        copy("ift-1", STORY, "Russia-US security talks set", LEAD),
        copy("ift-2", STORY, "Russia-US security talks set!", LEAD),
    ]
    assert actions(decide(known, batch)) == [(Action.LINK, 9), (Action.LINK, 9)]


def test_copies_on_one_url_are_one_story_by_title_or_by_lead():
    same_title = [copy("a", STORY, "Talks set"), copy("b", STORY, "TALKS  set.")]
    lead = [copy("a", STORY, "Talks set", LEAD), copy("b", STORY, "Other", f"{LEAD}, and more")]
    for batch in (same_title, lead):
        assert stories(decide(Known(), batch)) == {frozenset({"a", "b"})}


def test_a_short_common_opening_is_not_a_lead():
    batch = [copy("a", STORY, "Episode 1", "Listen now"), copy("b", STORY, "Ep 2", "Listen now")]
    assert stories(decide(Known(), batch)) == {frozenset({"a"}), frozenset({"b"})}


def test_near_duplicate_texts_on_one_url_are_one_story():
    batch = [copy("a", STORY, "One", "text one"), copy("b", STORY, "Two", "text two")]
    assert len(stories(decide(Known(), batch))) == 2
    together = decide(Known(), batch, alike=lambda x, y: True)
    assert stories(together) == {frozenset({"a", "b"})}


def test_a_mixed_group_on_one_url_splits_by_story():
    show = "https://x.example/show"
    known = Known(articles=(KnownArticle(5, show, None, 10, "Show page"),))
    batch = [
        copy("ep1", show, "Episode 1: pilots"),
        copy("ep1-again", show, "Episode 1: Pilots"),
        copy("ep2", show, "Episode 2: engines"),
    ]
    intents = decide(known, batch)
    assert stories(intents) == {frozenset({"ep1", "ep1-again"}), frozenset({"ep2"})}
    # The URL is the site's: nothing is linked to the article stored under it.
    assert all(i.article_id is None for i in intents)


def test_a_thin_copy_on_a_shared_url_joins_the_stored_article_with_its_title():
    show = "https://x.example/show"
    known = Known(articles=(KnownArticle(5, show, None, 400, "Episode 1: pilots", LEAD),))
    batch = [copy("ep1", show, "Episode 1: Pilots"), copy("ep2", show, "Episode 2: engines")]
    assert actions(decide(known, batch)) == [(Action.LINK, 5), (Action.INSERT, None)]
    lead_only = [copy("ep1", show, "Something", LEAD), copy("ep2", show, "Episode 2")]
    assert actions(decide(known, lead_only))[0] == (Action.LINK, 5)


def test_a_full_item_with_a_stored_articles_title_on_a_shared_url_is_its_own_story():
    page = "https://x.example/comment-page-1/"
    stored = " ".join(f"stored{n}" for n in range(40))
    known = Known(articles=(KnownArticle(5, page, None, 40, "By: Graham Morris", stored),))
    other = " ".join(f"other{n}" for n in range(40))
    batch = [copy("c2", page, "By: Graham Morris", other), copy("c3", page, "By: Ann")]
    assert actions(decide(known, batch)) == [(Action.INSERT, None), (Action.INSERT, None)]


def test_the_same_long_text_twice_in_one_batch_is_one_article():
    words = MIN_TEXT_MATCH_WORDS
    batch = [
        copy("a", "https://a.example/1", "Talks", words=words, text_hash="t"),
        copy("b", "https://b.example/2", "Talks", words=words, text_hash="t"),
    ]
    assert stories(decide(Known(), batch)) == {frozenset({"a", "b"})}


def test_one_text_under_different_titles_in_one_document_is_a_template():
    """Product pages with the same description are not one story posted twice."""
    words = MIN_TEXT_MATCH_WORDS
    batch = [
        copy("a", "https://a.example/phono", "PhonoBlock", words=words, text_hash="t"),
        copy("b", "https://a.example/synth", "SynthaBlock", words=words, text_hash="t"),
    ]
    assert stories(decide(Known(), batch)) == {frozenset({"a"}), frozenset({"b"})}


def test_one_title_over_two_full_texts_on_one_url_is_two_stories():
    """Comments titled "By: <author>" on one page: the title alone proves nothing."""
    page = "https://x.example/comment-page-1/"
    first = " ".join(f"first{n}" for n in range(40))
    second = " ".join(f"second{n}" for n in range(40))
    batch = [
        copy("c1", page, "By: Graham Morris", first),
        copy("c2", page, "By: Graham Morris", second),
    ]
    assert stories(decide(Known(), batch)) == {frozenset({"c1"}), frozenset({"c2"})}
    thin = [copy("c1", page, "By: Graham Morris", first), copy("c2", page, "By: Graham Morris")]
    assert stories(decide(Known(), thin)) == {frozenset({"c1", "c2"})}


def test_a_stored_item_of_this_feed_and_a_new_copy_of_it_are_one_article():
    """Whole digest (the stored item is an entry) and incremental (it is kept) agree."""
    stored = KnownItem("ift-1", 7, "h-ift-1", None, "Russia-US security talks set", LEAD, 15)
    known = Known(items=(stored,))
    old = copy("ift-1", STORY, "Russia-US security talks set", LEAD)
    new = copy("ift-2", STORY, "Russia-US security talks set", LEAD)
    whole = decide(known, [old, new])
    incremental = decide(known, [new], kept=[Kept("ift-1", STORY, None, None, "r", 40)])
    assert actions(whole) == [(Action.SKIP, 7), (Action.LINK, 7)]
    assert actions(incremental) == [(Action.LINK, 7)]


def test_the_same_episode_in_another_feed_is_one_article():
    mp3 = "https://cdn.example/ep62.mp3"
    known = Known(articles=(KnownArticle(3, None, None, 40),), episodes=(("ep-62", mp3, 3),))
    episode = copy("ep-62", "https://show.example/", "62", enclosures=(Enclosure(mp3, None, None),))
    other = copy(
        "ep-62", "https://show.example/", "62", enclosures=(Enclosure("https://x/o", None, None),)
    )
    assert actions(decide(known, [episode])) == [(Action.LINK, 3)]
    assert actions(decide(known, [other])) == [(Action.INSERT, None)]


@given(st.permutations(range(7)))
def test_the_stories_do_not_depend_on_the_order_of_items(order):
    words = MIN_TEXT_MATCH_WORDS
    items = [
        copy("a", STORY, "Talks set", LEAD),
        copy("b", STORY, "Talks set", f"{LEAD} and more words here"),
        copy("c", "https://x.example/show", "Episode 1"),
        copy("d", "https://x.example/show", "Episode 2"),
        copy("e", "https://y.example/1", "E", words=words, text_hash="t"),
        copy("f", "https://y.example/2", "E", words=words, text_hash="t"),
        copy("g", None, "G"),
    ]
    known = Known(articles=(KnownArticle(4, "https://y.example/2", None, 10),))
    batch = [items[i] for i in order]
    intents = {i.entry.guid: (i.action, i.article_id, i.same_as) for i in decide(known, batch)}
    assert intents == {
        "a": (Action.LINK, None, "b"),
        "b": (Action.INSERT, None, None),
        "c": (Action.INSERT, None, None),
        "d": (Action.INSERT, None, None),
        "e": (Action.ENRICH, 4, None),  # the fuller copy, the smaller guid on a tie
        "f": (Action.LINK, 4, None),
        "g": (Action.INSERT, None, None),
    }


def test_identity_keys_name_what_another_feed_could_share():
    """URL, text and near-duplicate bands, and an episode's guid; never a plain
    item's guid, which only its own feed (held by one poller) can meet."""
    plain = entry("g1", "https://example.com/a", text_hash="t1")
    episode = dataclasses.replace(
        entry("ep-7"), enclosures=(Enclosure("https://cdn.example/ep7.mp3", "audio/mpeg", None),)
    )
    assert identity_keys([plain, episode], ["b1", "b2"]) == {
        "url https://example.com/a",
        "text t1",
        "guid ep-7",
        "band b1",
        "band b2",
    }
    assert identity_keys([entry("g2")]) == frozenset()
