"""fulltext: which new items' pages the "off", "auto" and "always" modes fetch, on
items normalized from small fragments of the shapes real feeds have."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedd.fulltext import (
    MODES,
    SHORT_FEED_ITEMS,
    SHORT_FEED_SHARE,
    SHORT_WORDS,
    TRAILER_WORDS,
    is_media,
    pages_wanted,
    short_feed,
)
from feedd.normalize import normalize_entry
from feedd.types import Enclosure, Entry, RawEntry

SENTENCE = "The council voted on Tuesday to close the old bridge for repairs. "  # 12 words


def item(
    n: int,
    summary: str | None = None,
    content: str | None = None,
    *,
    title: str | None = "A headline",
    link: str | None = "https://example.com/story",
    enclosures: tuple[tuple[str, str | None, int | None], ...] = (),
) -> Entry:
    """An item as a feed gives it, normalized."""
    raw = RawEntry(
        id=f"id-{n}",
        link=link and f"{link}/{n}",
        title=title and f"{title} {n}",
        summary=summary,
        content=content,
        author=None,
        published=datetime(2024, 1, 2, tzinfo=UTC),
        updated=None,
        published_raw=None,
        updated_raw=None,
        extra=(("enclosures", enclosures),) if enclosures else (),
    )
    return normalize_entry(raw, link=raw.link, url=raw.link, base_url="https://example.com/")


def paragraphs(count: int) -> str:
    """A full post: ``count`` paragraphs of 36 words."""
    return "".join(f"<p>{SENTENCE * 3}</p>" for _ in range(count))


def auto(entries, kept_words=()):
    return pages_wanted("auto", entries, kept_words)


# -- the modes


def test_the_modes():
    assert MODES == ("off", "auto", "always")
    with pytest.raises(ValueError, match="fulltext mode 'sometimes'"):
        pages_wanted("sometimes", [])


def test_off_fetches_nothing_and_always_every_item_with_a_link():
    entries = [item(1, "<p>One line.</p> <a href='/1'>Read more</a>"), item(2, paragraphs(20))]
    unlinked = item(3, "<p>Anything.</p>", link=None)
    assert pages_wanted("off", [*entries, unlinked]) == (None, None, None)
    assert pages_wanted("always", [*entries, unlinked]) == ("always", "always", None)
    assert pages_wanted("auto", []) == ()


# -- auto: an item's own evidence


RT = (
    "Russia and the US will hold talks on arms control on January 10, it was reported."
    '<br/><a href="https://www.rt.com/russia/544563/">Read Full Article at RT.com</a>'
)


def test_rt_teasers_are_fetched_for_their_trailer():
    """RT: one paragraph, then "Read Full Article at RT.com"; fetched even alone."""
    assert auto([item(1, RT)]) == ("trailer",)


def test_wordpress_excerpts_are_fetched_for_their_ellipsis():
    excerpt = (
        f"<p>{SENTENCE * 4}He came to fill a void [&#8230;]</p>"
        "<p>The post <a href='/p'>A Life</a> appeared first on <a href='/'>Tempo</a>.</p>"
    )
    assert auto([item(1, excerpt)]) == ("ellipsis",)


def test_full_wordpress_posts_are_left_alone():
    """Their "appeared first on" trailer ends full posts too: no evidence of a cut."""
    post = paragraphs(12) + "<p>The post <a href='/p'>A Life</a> appeared first on Tempo.</p>"
    entries = [item(n, None, post) for n in range(10)]
    assert auto(entries) == (None,) * 10


def test_a_long_text_ending_in_a_trailer_or_an_ellipsis_is_a_full_article():
    """ "Read more" at the end of a long article links elsewhere; "Stay tuned…" ends one."""
    read_more = item(1, None, paragraphs(12) + "<p><a href='/other'>Read more</a></p>")
    tuned = item(2, None, paragraphs(5) + "<p>Stay tuned\u2026</p>")
    assert (read_more.teaser, tuned.teaser) == ("trailer", "ellipsis")
    assert (read_more.word_count, tuned.word_count) >= (TRAILER_WORDS, SHORT_WORDS)
    assert auto([read_more, tuned]) == (None, None)


def test_trailer_and_ellipsis_bounds():
    base = item(1, "<p>A summary.</p>")
    trailer = dataclasses.replace(base, teaser="trailer")
    ellipsis = dataclasses.replace(base, teaser="ellipsis")
    sized = [
        dataclasses.replace(trailer, word_count=TRAILER_WORDS - 1),
        dataclasses.replace(trailer, word_count=TRAILER_WORDS),
        dataclasses.replace(ellipsis, word_count=SHORT_WORDS - 1),
        dataclasses.replace(ellipsis, word_count=SHORT_WORDS),
    ]
    assert auto(sized) == ("trailer", None, "ellipsis", None)


# -- auto: a feed of teasers


def news_summary(n: int) -> Entry:
    """A news site's item: a one- or two-sentence summary, no trailer, no ellipsis."""
    return item(n, f"<p>{SENTENCE * (1 + n % 3)}</p>")


def test_a_feed_of_short_summaries_without_trailers_is_a_short_feed():
    entries = [news_summary(n) for n in range(12)]
    assert auto(entries) == ("short feed",) * 12


def test_a_full_content_feed_is_left_alone():
    entries = [item(n, "<p>An excerpt.</p>", paragraphs(8 + n)) for n in range(10)]
    assert auto(entries) == (None,) * 10


def test_a_blog_with_some_short_posts_is_not_a_short_feed():
    """Three short posts in ten: a blog, not a feed of teasers; its long items never count."""
    entries = [news_summary(n) for n in range(3)] + [item(n, paragraphs(10)) for n in range(3, 10)]
    assert auto(entries) == (None,) * 10


def test_the_short_feed_rule_on_word_counts():
    short, long_ = SHORT_WORDS - 1, SHORT_WORDS
    assert short_feed([short] * SHORT_FEED_ITEMS)
    assert not short_feed([short] * (SHORT_FEED_ITEMS - 1))
    shorts = int(10 * SHORT_FEED_SHARE)
    assert short_feed([short] * shorts + [long_] * (10 - shorts))
    assert not short_feed([short] * (shorts - 1) + [long_] * (11 - shorts))


def test_a_short_feeds_long_item_is_not_fetched_for_the_feed():
    entries = [news_summary(n) for n in range(9)] + [item(9, paragraphs(6))]
    assert auto(entries) == ("short feed",) * 9 + (None,)


def test_kept_items_count_as_they_would_in_the_whole_document():
    """The pipeline asks about new items only, with the others' word counts."""
    entries = [news_summary(n) for n in range(10)]
    for new in range(10):
        others = [entry.word_count for k, entry in enumerate(entries) if k != new]
        assert auto([entries[new]], others) == ("short feed",)
    assert auto([entries[0]]) == (None,), "alone, one item says nothing of its feed"
    assert auto([entries[0]], [400] * 9) == (None,), "kept long items: not a short feed"


@given(st.lists(st.integers(min_value=0, max_value=3 * SHORT_WORDS), min_size=1, max_size=30))
def test_the_decision_does_not_depend_on_which_items_are_new(words):
    base = item(1, "<p>A summary.</p>")
    entries = [dataclasses.replace(base, word_count=count) for count in words]
    whole = auto(entries)
    for new in range(len(entries)):
        kept = [entry.word_count for k, entry in enumerate(entries) if k != new]
        assert auto([entries[new]], kept) == (whole[new],)


# -- auto: link blogs, tweet-like feeds, media


def test_a_link_blog_looks_like_a_feed_of_teasers():
    """A link blog's titled, short, complete posts (kottke.org's shape) cannot be told
    from news summaries by their length: they are fetched, and the page gives the
    same post. Decided so because the other way misses the summaries of news sites,
    which have the same shape; set such a feed's fulltext to "off"."""
    entries = [
        item(n, None, f"<p>{SENTENCE}<a href='https://elsewhere.example/{n}'>Via</a>.</p>")
        for n in range(10)
    ]
    assert auto(entries) == ("short feed",) * 10


def test_a_tweet_like_feed_is_left_alone():
    """Posts without a title (Mastodon, micro.blog, Tumblr) are whole however short."""
    entries = [item(n, f"<p>{SENTENCE}#fediverse</p>", title=None) for n in range(10)]
    assert auto(entries) == (None,) * 10


def test_an_untitled_post_cut_by_a_trailer_is_still_fetched():
    """Tumblr's "Keep reading" cut: the post's own evidence counts without a title."""
    cut = item(1, f"<p>{SENTENCE}</p><p><a href='/x'>Keep reading</a></p>", title=None)
    assert auto([cut]) == ("trailer",)


def test_podcast_episodes_are_their_audio():
    episodes = [
        item(n, f"<p>{SENTENCE}and more...</p>", enclosures=((f"/e{n}.mp3", "audio/mpeg", 1),))
        for n in range(10)
    ]
    assert [entry.teaser for entry in episodes] == ["ellipsis"] * 10
    assert auto(episodes) == (None,) * 10


@pytest.mark.parametrize(
    ("link", "enclosure", "html", "media"),
    [
        ("https://www.youtube.com/watch?v=abc", None, "<p>A video.</p>", True),
        ("https://youtu.be/abc", None, "<p>A video.</p>", True),
        ("https://vimeo.com/123", None, "<p>A video.</p>", True),
        ("https://example.com/ep1", ("https://example.com/ep1.mp3", "x-audio/mp3"), "", True),
        ("https://example.com/v", ("https://example.com/v.mp4", "video/mp4"), "", True),
        ("https://example.com/comic/61", None, "<img src='/61.png'>", True),
        ("https://example.com/story", ("https://example.com/lead.jpg", "image/jpeg"), "", False),
        ("https://notyoutube.com/watch", None, "<p>A page.</p>", False),
        ("https://example.com/story", None, "<p>A story <img src='/a.png'></p>", False),
    ],
)
def test_is_media(link, enclosure, html, media):
    enclosures = (Enclosure(enclosure[0], enclosure[1], None),) if enclosure else ()
    words = 0 if html.startswith("<img") else 3
    entry = dataclasses.replace(
        item(1, "<p>x</p>"),
        url=link,
        link=link,
        enclosures=enclosures,
        content_html=html or None,
        word_count=words,
    )
    assert is_media(entry) is media


def test_youtube_channel_feeds_are_left_alone():
    videos = [
        item(n, f"<p>{SENTENCE}</p>", link="https://www.youtube.com/watch?v=abc") for n in range(10)
    ]
    assert auto(videos) == (None,) * 10


def test_title_only_items_of_a_feed_are_fetched():
    """A feed of headlines without text (Hacker News, a journal's table of contents)."""
    entries = [item(n, None) for n in range(10)]
    assert {entry.word_count for entry in entries} == {0}
    assert auto(entries) == ("short feed",) * 10
