"""boilerplate: each rule on HTML fragments, what must survive, and the per-feed learner."""

from __future__ import annotations

import pytest

from feedd.boilerplate import (
    Removal,
    drop_learned_lines,
    has_line_boilerplate,
    learn_boilerplate,
    line_key,
    says_more,
    strip_boilerplate,
    suspect,
)
from feedd.normalize import clean_fragment, html_to_text, sanitize_html

STORY = "<p>The council voted on Tuesday to close the old bridge for repairs.</p>"
MORE = "<p>Work starts in March and should last until the autumn, officials said.</p>"
STORY_TEXT = (
    "The council voted on Tuesday to close the old bridge for repairs.\n"
    "Work starts in March and should last until the autumn, officials said."
)


def clean_text(fragment: str, learned: frozenset[str] = frozenset()) -> str | None:
    """What a reader gets: the rules, then the sanitizer, then plain text."""
    return html_to_text(sanitize_html(strip_boilerplate(fragment, learned).html))


def rules(fragment: str, learned: frozenset[str] = frozenset()) -> list[str]:
    return [removal.rule for removal in strip_boilerplate(fragment, learned).removed]


# -- boxes


@pytest.mark.parametrize(
    "box",
    [
        '<div class="read-more"><div class="read-more__title">Read more</div>'
        '<a href="/other">Minister resigns over budget row</a>'
        "<p>FILE PHOTO. \u00a9 Reuters / Jane Doe</p></div>",
        '<div class="sharedaddy sd-sharing-enabled"><h3>Share this:</h3>'
        '<a href="https://twitter.com/share">Twitter</a> <a href="/fb">Facebook</a></div>',
        '<div class="yarpp yarpp-related"><h3>Related posts:</h3><ol><li>'
        '<a href="/a">An older story</a></li></ol></div>',
        '<div class="jp-relatedposts" id="jp-relatedposts"><h3>Related</h3></div>',
        '<ul class="social-links"><li><a href="/tw">Follow us</a></li></ul>',
        '<div id="mc_embed_signup"><p>Subscribe to our newsletter!</p></div>',
        '<div class="newsletter-signup"><p>Get the best stories every morning.</p></div>',
        '<aside class="promo-box"><p>Try our app for free</p></aside>',
        '<div class="ad-container"><p>Advertisement</p></div>',
        '<div class="feedflare"><a href="http://feeds.feedburner.com/~ff/x?a=1">Email</a></div>',
        '<p><a class="more-link" href="/story">Continue reading <span>The story</span></a></p>',
    ],
)
def test_boxes_are_removed_with_their_content(box):
    assert clean_text(STORY + box + MORE) == STORY_TEXT
    assert "box" in rules(STORY + box + MORE)


def test_photo_credit_inside_a_read_more_box_goes_with_it():
    box = (
        '<div class="read-more"><a href="/x"><img src="https://example.com/p.jpg" alt="">'
        "Headline of another story</a><div>FILE PHOTO. \u00a9 Reuters / John Smith</div></div>"
    )
    text = clean_text(STORY + box + MORE)
    assert text == STORY_TEXT
    assert "Reuters" not in (sanitize_html(strip_boilerplate(STORY + box + MORE).html) or "")


@pytest.mark.parametrize(
    "fragment",
    [
        # Class names that only look like the rules' words.
        '<div class="github-project-share"><h4>afucher/Inquirer</h4><p>A project card.</p></div>',
        '<div class="relationship-advice"><p>Talk to each other.</p></div>',
        '<div class="header-image"><p>Caption of the picture.</p></div>',
        '<div class="loaded download"><p>Downloads are ready.</p></div>',
        # A heading whose id is a slug of its words.
        '<h2 id="the-social-reality">The social reality</h2><p>Paragraph.</p>',
    ],
)
def test_lookalike_classes_and_heading_ids_are_kept(fragment):
    assert strip_boilerplate(fragment).removed == ()
    assert strip_boilerplate(fragment).html == fragment


def test_a_box_holding_most_of_the_item_is_a_wrapper_and_stays():
    body = "<p>" + "A long paragraph of the actual story. " * 10 + "</p>"
    fragment = f'<div class="entry-content share-enabled social">{body}</div>'
    assert strip_boilerplate(fragment).removed == ()


# -- tracking pixels and ad links


@pytest.mark.parametrize(
    "pixel",
    [
        '<img src="http://feeds.feedburner.com/~r/Example/~4/AbCdEf" height="1" width="1" alt="">',
        '<img src="https://pixel.wp.com/b.gif?host=example.com&blog=1&post=2" alt="">',
        '<img src="https://stats.wordpress.com/b.gif?x=1" alt="" border="0">',
        '<img src="https://www.google-analytics.com/collect?v=1&tid=UA-1" alt="">',
        '<img src="https://ad.doubleclick.net/ddm/ad/abc" alt="">',
        '<img src="http://da.feedsportal.com/r/123/u/49/f/1/rc.img" alt="">',
        '<img src="https://tracker.example.net/open.gif?id=9" width="1" height="1">',
        '<img src="https://tracker.example.net/open.gif?id=9" width="0" height="0">',
        '<img src="https://tracker.example.net/o.gif" style="width:1px;height:1px;border:0">',
    ],
)
def test_tracking_pixels_are_removed(pixel):
    fragment = STORY + f"<p>{pixel}</p>" + MORE
    cleaned = sanitize_html(strip_boilerplate(fragment).html)
    assert cleaned == STORY + MORE
    assert rules(fragment) == ["pixel"]


def test_real_images_stay():
    fragment = (
        STORY + '<p><img src="https://example.com/bridge.jpg" width="640" height="480" '
        'alt="The bridge"></p><p><img src="https://example.com/1.png" width="1"></p>' + MORE
    )
    assert strip_boilerplate(fragment).removed == ()


def test_ad_and_share_button_links_are_removed_with_their_images():
    fragment = (
        STORY + '<p><a href="http://feedads.g.doubleclick.net/~at/abc/0/da">'
        '<img src="http://feedads.g.doubleclick.net/~at/abc/0/di" border="0"></a></p>'
        '<a href="http://feeds.wordpress.com/1.0/gofacebook/example.wordpress.com/1/">'
        '<img src="http://feeds.wordpress.com/1.0/facebook/example.wordpress.com/1/"></a>' + MORE
    )
    assert sanitize_html(strip_boilerplate(fragment).html) == STORY + MORE
    assert rules(fragment) == ["ad-link", "ad-link"]


# -- trailers


@pytest.mark.parametrize(
    "trailer",
    [
        '<p><a href="/story">Continue reading...</a></p>',
        '<a href="/story">Continue reading \u201cThe bridge\u201d \u2192</a>',
        "<p>Read more</p>",
        '<p><a href="https://rt.com/x">Read Full Article at RT.com</a></p>',
        "<p>Read the full article at The Daily Example</p>",
        "<p>Read the rest of this entry \u00bb</p>",
        '<p>The post <a href="/p">The bridge closes</a> appeared first on '
        '<a href="/">The Daily Example</a>.</p>',
        "<p>This article was originally published on The Conversation.</p>",
        "<p>Originally posted on my Medium.</p>",
        '<p><a href="/x">Seguir leyendo</a></p>',
        "<p>Weiterlesen</p>",
        "<p>Lire la suite</p>",
        '<p><a href="/x">Read full topic</a></p>',
    ],
)
def test_trailers_at_the_end_are_removed(trailer):
    assert clean_text(STORY + MORE + trailer) == STORY_TEXT
    assert rules(STORY + MORE + trailer) == ["trailer"]


def test_a_trailer_followed_by_one_short_line_is_still_found():
    fragment = STORY + MORE + '<p><a href="/x">Continue reading \u2192</a></p><p>Comments</p>'
    assert clean_text(fragment) == STORY_TEXT + "\nComments"


def test_a_read_more_link_ending_the_last_paragraph_is_removed():
    fragment = STORY + '<p>Work starts in March \u2026 <a href="/story">Read more</a></p>'
    assert clean_text(fragment) == STORY_TEXT.split("\n")[0] + "\nWork starts in March \u2026"
    assert rules(fragment) == ["trailer"]


@pytest.mark.parametrize(
    "paragraph",
    [
        # Sentences that start like a trailer but go on, or are not at the end.
        "<p>Read more about the bridge in our archive, where the whole history of the crossing "
        "since 1850 is told by the people who built it and those who walked over it.</p>",
        "<p>Continue reading the statement below, the mayor told reporters on Monday, "
        "because every word of it was weighed carefully by the lawyers of the city, she said, "
        "and nobody will be able to say later that the council had not warned them all "
        "about the closure, the detours and the cost of the work for the next ten years.</p>",
    ],
)
def test_long_paragraphs_that_start_like_a_trailer_stay(paragraph):
    assert strip_boilerplate(STORY + paragraph).removed == ()


def test_trailer_words_in_the_middle_stay():
    fragment = STORY + "<p>Read more</p>" + MORE + "<p>Another paragraph.</p><p>And one more.</p>"
    assert rules(fragment) == []


def test_an_item_that_is_only_a_trailer_is_not_emptied():
    assert strip_boilerplate('<p><a href="/x">Read more</a></p>').removed == ()
    assert clean_text('<p><a href="/x">Continue reading...</a></p>') == "Continue reading..."


def test_applet_trailer_is_the_last_line_only():
    fragment = STORY + MORE + "<p>from RT \u2013 Daily news</p>"
    assert clean_text(fragment) == STORY_TEXT
    assert rules(fragment) == ["applet"]
    # Not when something follows, not when it is a sentence, not when long.
    assert rules(STORY + "<p>from RT \u2013 Daily news</p>" + MORE) == []
    assert rules(STORY + "<p>From the start - it was clear.</p>") == []
    assert rules(STORY + "<p>from Tuesdays with Stories #641 Black Pleasantville</p>") == []


# -- related links


def test_related_line_of_links_is_removed():
    fragment = STORY + '<p>Related: <a href="/a">Bridge closures across the region</a></p>' + MORE
    assert clean_text(fragment) == STORY_TEXT
    assert rules(fragment) == ["related"]
    fragment = STORY + '<p><strong>Read more: <a href="/a">Older story</a></strong></p>' + MORE
    assert clean_text(fragment) == STORY_TEXT


def test_related_label_followed_by_headline_and_credit_is_removed():
    fragment = (
        STORY + "<p>Read more</p>"
        '<p><a href="/other">Minister resigns over budget row</a></p>'
        "<p>FILE PHOTO. \u00a9 Reuters / Jane Doe</p>" + MORE
    )
    assert clean_text(fragment) == STORY_TEXT
    assert rules(fragment) == ["related", "related", "related"]


def test_related_label_followed_by_prose_stays():
    fragment = STORY + "<p>Related:</p><p>The council will meet again next week.</p>" + MORE
    assert rules(fragment) == []
    fragment = STORY + "<p>Related: the council will <a href='/m'>meet again</a> soon.</p>"
    assert rules(fragment) == []


# -- what must survive


def test_normal_content_survives_untouched():
    fragment = (
        "<h2>What happened</h2>"
        + STORY
        + "<ul><li>Read the notice</li><li>Share your view at the meeting</li></ul>"
        "<ol><li>First step</li><li>Second step</li></ol>"
        "<blockquote><p>We had no choice, read more of the report and you will see.</p>"
        "</blockquote>"
        "<pre><code>Read more\nContinue reading...\n</code></pre>"
        "<p>Code: <code>read_more()</code></p>"
        '<figure><img src="https://example.com/b.jpg" alt="Bridge"><figcaption>The bridge in '
        "2020. Photo: Jane Doe</figcaption></figure>" + MORE
    )
    stripped = strip_boilerplate(fragment)
    assert stripped.removed == ()
    assert stripped.html == fragment


def test_code_block_at_the_end_is_never_a_trailer():
    fragment = STORY + "<pre>Read more</pre>"
    assert strip_boilerplate(fragment).removed == ()


def test_suspect_is_a_superset_of_what_the_rules_remove():
    assert not suspect(STORY + MORE)
    assert suspect(STORY + '<div class="share-buttons">x</div>')
    assert suspect(STORY + '<img src="x.gif" width="1" height="1">')
    assert suspect(STORY + "<p>Continue reading</p>")
    assert suspect(STORY + "<p>Related: <a href='/'>x</a></p>")


def test_nothing_removed_returns_the_same_string():
    fragment = STORY + "<p>Comments are <b>open</b></p>"
    assert strip_boilerplate(fragment).html is fragment


# -- the per-feed learner


def test_learner_finds_lines_in_most_items():
    footer = "Thanks for reading! Support this blog on Ko-fi."
    texts = [f"Story number {n} is about something else.\n{footer}" for n in range(6)]
    texts[0] = "A story without the footer."
    learned = learn_boilerplate(texts)
    assert learned == frozenset({line_key(footer)})


def test_learner_needs_enough_items_and_a_majority():
    footer = "Reply via email"
    assert learn_boilerplate([f"Story {n}\n{footer}" for n in range(4)]) == frozenset()
    texts = [f"Story {n}\n{footer}" if n < 3 else f"Story {n}" for n in range(6)]
    assert learn_boilerplate(texts) == frozenset()  # 3 of 6 is not 60%
    texts = [f"Story {n}\n{footer}" if n < 4 else f"Story {n}" for n in range(6)]
    assert learn_boilerplate(texts) == frozenset({"reply via email"})


def test_learner_ignores_empty_items_and_counts_a_line_once_per_item():
    texts = [None, "", *["Tags\nTags\nStory"] * 2, "Other", "Other 2", "Other 3"]
    assert learn_boilerplate(texts) == frozenset()


def test_learned_lines_at_the_edges_and_long_ones_are_dropped():
    learned = frozenset(
        {
            line_key("[If the formatting looks odd, visit the original article]"),
            line_key("Reply via email"),
            line_key("Some links in this post are affiliate links; we may earn a commission."),
        }
    )
    fragment = (
        "<p>[If the formatting looks odd, visit the original article]</p>"
        + STORY
        + "<p>Some links in this post are affiliate links; we may earn a commission.</p>"
        + MORE
        + '<p><a href="mailto:me@example.com">Reply via email</a></p>'
    )
    assert clean_text(fragment, learned) == STORY_TEXT
    assert rules(fragment, learned) == ["learned", "learned", "learned"]


def test_learned_headings_and_short_labels_in_the_middle_stay():
    learned = frozenset({"introduction", "what we found", "shownotes:"})
    fragment = (
        "<p>Shownotes:</p>"
        + STORY
        + "<h2>Introduction</h2>"
        + MORE
        + "<p><b>What we found</b></p><p>The bridge is older than we thought.</p>"
    )
    assert rules(fragment, learned) == []


def test_learned_lines_never_empty_an_item():
    learned = frozenset({"reply via email", "tags"})
    assert strip_boilerplate("<p>Reply via email</p><p>Tags</p>", learned).removed == ()


def test_drop_learned_lines_on_plain_text():
    learned = frozenset({"reply via email"})
    assert drop_learned_lines("Story\nReply via email", learned) == "Story"
    assert drop_learned_lines("Reply via email", learned) is None
    assert drop_learned_lines("Story", frozenset()) == "Story"
    assert drop_learned_lines(None, learned) is None


def test_line_key():
    assert line_key("  Reply   VIA\temail ") == "reply via email"


# -- the text-side check normalize uses before a second pass


@pytest.mark.parametrize(
    "text",
    [
        "Story.\nContinue reading...",
        "Story.\nThe post X appeared first on Y.\nComments",
        "Story ends here \u2026 Read more",
        "Story.\nfrom RT \u2013 Daily news",
        "Story.\nRelated: Another story\nMore story.",
        "Story.\nRead more\nA headline\nMore story.",
    ],
)
def test_has_line_boilerplate_sees_candidates(text):
    assert has_line_boilerplate(text)


@pytest.mark.parametrize(
    "text",
    [None, "", STORY_TEXT, "Read more about the bridge in the archive of the city council.\nEnd."],
)
def test_has_line_boilerplate_lets_plain_stories_through(text):
    assert not has_line_boilerplate(text)


def test_a_bare_more_link_is_found_through_normalize():
    fragment = STORY + '<p>Work starts soon. <a href="/s">More \u00bb</a></p>'
    _, text, removed = clean_fragment(fragment)
    assert text == STORY_TEXT.split("\n")[0] + "\nWork starts soon."
    assert [r.rule for r in removed] == ["trailer"]


# -- calls to action, lists of tags, "More:", photo credits, widgets, title and byline


@pytest.mark.parametrize(
    "line",
    [
        "<p>Listen to the weekly podcast on Apple Podcasts, Spotify, or YouTube. Become a paid "
        "subscriber for access to this episode's bonus content and to power our journalism.</p>",
        "<p>Become a paid subscriber to read every story.</p>",
        "<p>Subscribe to my RSS feed :D</p>",
        "<p>Want to stay updated? Subscribe to my spam-free email list.</p>",
        "<p>SUBSCRIBE NOW</p>",
        "<p>Support us on Patreon to support more projects like this one.</p>",
        '<p>Corrections? Additions? Open a <a href="https://github.com/x/pulls">Pull Request</a>'
        " to submit your change. Any help would be greatly appreciated.</p>",
    ],
)
def test_calls_to_action_at_the_end_are_removed(line):
    assert clean_text(STORY + MORE + line) == STORY_TEXT
    assert rules(STORY + MORE + line) == ["cta"]


def test_a_call_to_action_at_the_top_goes_with_its_icon():
    fragment = (
        '<div class="kg-callout-card"><div class="kg-callout-emoji">\U0001f318</div>'
        '<div class="kg-callout-text">Subscribe to 404 Media to get The Abstract, our newsletter '
        "about the most exciting science news of the week.</div></div>" + STORY + MORE
    )
    assert clean_text(fragment) == STORY_TEXT
    assert rules(fragment) == ["cta", "cta"]


@pytest.mark.parametrize(
    "fragment",
    [
        # About subscriptions, not asking for one.
        STORY + MORE + "<p>The decision cost the paper 250,000 subscribers, she said.</p>",
        STORY + MORE + "<p>We subscribe to drag events and update the model from them.</p>",
        # A call to action in the middle of the story is the story's.
        STORY
        + MORE
        + "<p>Subscribe to my RSS feed :D</p>"
        + "<p>Another paragraph of the story goes on here at some length.</p>"
        + "<p>And a last one, as long as the others are.</p>",
        # A label for what follows (a link) is not dropped alone.
        STORY + MORE + '<p>Support me on Patreon:</p><p><a href="/p">patreon.com/me</a></p>',
    ],
)
def test_sentences_about_subscriptions_stay(fragment):
    assert rules(fragment) == []


@pytest.mark.parametrize(
    "line",
    [
        "<p><em>Tags: methane, climate change, COVID-19, INGA314.AI, scope analysis</em></p>",
        "<p><strong>Categories:</strong>&nbsp;Climate, Technology Analysis, Governance</p>",
        '<p>Tags: <a href="/t/a">art</a> \u00b7 <a href="/t/b">art school</a> \u00b7 '
        '<a href="/t/c">video</a></p>',
        '<p>Filed under <a href="/c/a">Politics</a>, <a href="/c/b">Europe</a></p>',
    ],
)
def test_tag_lists_at_the_end_are_removed(line):
    assert clean_text(STORY + MORE + line) == STORY_TEXT
    assert rules(STORY + MORE + line) == ["taxonomy"]


def test_tags_and_categories_lines_both_go():
    fragment = STORY + MORE + "<p>Tags: a, b</p><p>Categories: Climate, Governance</p>"
    assert clean_text(fragment) == STORY_TEXT
    assert rules(fragment) == ["taxonomy", "taxonomy"]


@pytest.mark.parametrize(
    "line",
    [
        # Real sentences with the labels' words.
        "<p>Tags: I never use them, because they clutter the page.</p>",
        "<p>Tags are how readers find older posts on this blog, and I add three to each.</p>",
        "<p>Posted in the morning, the letter reached the council by noon</p>",  # not links
        "<p>Label: Sub Pop</p>",  # a review's record label
        "<p>Categories: the ones we used in 2019 were too broad and too many to be useful</p>",
    ],
)
def test_sentences_with_tag_words_stay(line):
    assert rules(STORY + MORE + line) == []


def test_a_more_line_of_links_is_related():
    fragment = (
        "<p>The decade was full of contradictions.<br><br>More: "
        '<a href="/a">Frances Ryan on the 2000s</a> | <a href="/b">Liv Little on the 2010s</a>'
        "</p>" + STORY
    )
    assert (
        clean_text(fragment)
        == "The decade was full of contradictions.\n" + STORY_TEXT.split("\n")[0]
    )
    assert rules(fragment) == ["related"]


def test_a_more_sentence_stays():
    fragment = STORY + "<p>More: the council will <a href='/m'>meet again</a> next week.</p>"
    assert rules(fragment + MORE) == []
    assert rules(STORY + "<p>There is more: the bridge will close twice.</p>" + MORE) == []


@pytest.mark.parametrize(
    "credit",
    [
        "(Image credit: Kevin Frayer)",
        "Photo credit: Jane Doe/Reuters",
        "(Photo: AP)",
        "(Credit: AP)",
    ],
)
def test_photo_credit_lines_are_removed_anywhere(credit):
    fragment = STORY + f"<p>{credit}</p>" + MORE
    assert clean_text(fragment) == STORY_TEXT
    assert rules(fragment) == ["credit"]


@pytest.mark.parametrize(
    "line",
    [
        "<p>Credit card fees rose again this year.</p>",
        "<p>Credits: music by Jane Doe, artwork by John Smith.</p>",  # a podcast's own credits
        "<p>Photo credit: the whole team spent a week on this shot in the rain.</p>",
        "<p>The bridge in 2020 (Photo: Jane Doe) was still open.</p>",
    ],
)
def test_sentences_about_credits_stay(line):
    assert rules(STORY + line + MORE) == []


def test_reveal_contact_links_and_flattr_buttons_are_removed_alone():
    fragment = (
        "<p>CONTACT INFO Mtn. View Rental Center "
        '<a href="/fb/sfo/apa/1" class="showcontact" title="click to show contact info">'
        "show contact info</a> Remodeled 1 bedroom apartment.</p>"
        "<table><tr><td>Tim Pritlove</td><td>"
        '<a class="FlattrButton" rel="flattr;uid:tim" href="https://cre.fm/x">'
        "Flattr Tim Pritlove@CRE207</a></td></tr></table>"
        '<p><a href="https://flattr.com/thing/1234">Flattr this!</a></p>'
    )
    text = clean_text(fragment)
    assert (
        text == "CONTACT INFO Mtn. View Rental Center Remodeled 1 bedroom apartment.\nTim Pritlove"
    )
    assert rules(fragment) == ["widget", "widget", "widget"]


def test_links_that_only_mention_contacts_or_numbers_stay():
    fragment = (
        STORY + '<p>The <a href="/c">contact info</a> of the council is on '
        '<a href="/show">show the number of votes</a> page.</p>'
    )
    assert rules(fragment) == []


def test_the_title_repeated_as_the_first_line_and_the_byline_are_removed():
    fragment = (
        "<article><header><h1>Embedded Software</h1><p>Posted on August 25, 2019</p></header>"
        + STORY
        + MORE
        + "</article>"
    )
    stripped = strip_boilerplate(fragment, title="Embedded  software")
    assert html_to_text(sanitize_html(stripped.html)) == STORY_TEXT
    assert [removal.rule for removal in stripped.removed] == ["title", "byline"]
    # Without the title, the byline under a heading still goes, the heading stays.
    assert rules(fragment) == ["byline"]
    assert has_line_boilerplate("Embedded Software\nPosted on August 25, 2019\nStory.")
    assert has_line_boilerplate("Embedded Software\nStory.", "Embedded Software")


@pytest.mark.parametrize(
    "fragment",
    [
        # A paragraph that starts with the title's words and goes on.
        "<p>Embedded software is what runs on devices that are tiny by today's standards.</p>"
        + STORY,
        # The title further down is a reference to it, not a repeat at the top.
        STORY + "<p>Embedded Software</p>" + MORE,
        # A sentence that starts like a byline.
        "<p>Published on 3 March 2021, the report found that the bridge was unsafe for trucks "
        "and for the buses that cross it every morning.</p>" + STORY,
        # A byline further down.
        STORY + MORE + "<p>Posted on August 25, 2019</p><p>Another paragraph of the story.</p>",
    ],
)
def test_the_title_and_byline_rules_keep_real_paragraphs(fragment):
    assert strip_boilerplate(fragment, title="Embedded Software").removed == ()
    assert not has_line_boilerplate(html_to_text(fragment), "Embedded Software")


def test_an_item_that_is_only_its_title_is_not_emptied():
    fragment = "<p>Lover's Eye</p>"
    assert strip_boilerplate(fragment, title="Lover's Eye").removed == ()


@pytest.mark.parametrize(
    "text",
    [
        "Story.\nTags: a, b",
        "Story.\nSubscribe to my RSS feed :D",
        "\U0001f318\nSubscribe to our newsletter for more.\nStory.",
        "Story.\n(Image credit: AP)\nMore story.",
        "Story.\nMore: A | B\nMore story.",
        "Posted on August 25, 2019\nStory.",
    ],
)
def test_has_line_boilerplate_sees_the_new_rules(text):
    assert has_line_boilerplate(text)


def test_suspect_sees_the_new_rules():
    assert suspect(STORY + '<a class="FlattrButton" href="/x">Flattr</a>')
    assert suspect(STORY + '<a href="/x">show contact info</a>')
    assert suspect(STORY + "<p>Tags: a, b</p>")
    assert suspect(STORY + "<p>(Image credit: AP)</p>")
    assert suspect(STORY + "<p>Subscribe to my RSS feed</p>")


# -- what a removal says about the item


@pytest.mark.parametrize(
    ("rule", "text", "more"),
    [
        ("trailer", "Continue reading...", True),
        ("trailer", "Read Full Article at RT.com", True),
        ("trailer", "Read more", True),
        ("trailer", "Read full topic", True),
        ("trailer", "Seguir leyendo", True),
        ("box", "Continue Reading", True),
        ("box", "Read More \u00bb", True),
        # where the item was published, not that it goes on there
        ("trailer", "The post A Fleeting Life appeared first on Morning Tempo.", False),
        ("trailer", "This article was originally published on The Conversation.", False),
        ("trailer", "Artykuł Zapytanie ofertowe pochodzi z serwisu OpenStreetMap Polska.", False),
        # boxes of other kinds, other rules
        ("box", "Learn more", False),
        ("box", "Related posts: Japanese Designer New Year\u2019s Cards", False),
        ("related", "Read more: Another story", False),
        ("applet", "from RT \u2013 Daily news", False),
    ],
)
def test_says_more_tells_a_cut_from_a_signature(rule, text, more):
    assert says_more(Removal(rule, text)) is more
