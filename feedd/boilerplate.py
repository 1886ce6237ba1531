"""Boilerplate in feed items: what is not the story, found by rules and by repetition.

Pure functions on HTML fragments and text, used by normalize. Two
kinds of evidence:

**Rules** (``strip_boilerplate``), on the item's HTML. The first three need
the raw fragment (the sanitizer drops class, id and style); the line rules
work on any HTML, and normalize runs them on the sanitized HTML, only when
the text shows a candidate (``has_line_boilerplate``):

- ``box``: an element whose class names it a related-links, read-more, share,
  social, newsletter/sign-up, promo, sponsor or ad box (``CLASS_RULES``),
  removed with everything in it, photo credits included. Not when it holds
  most of the item's text: a wrapper is not a box.
- ``pixel``: 1x1 images and images from known tracking hosts (``PIXEL_SOURCE``).
- ``ad-link``: links to ad servers, feed "flare" and share-button hosts
  (``AD_LINK``), removed with their images.
- ``related``: a line "Read more: <a>headline</a>" (label, then only link
  text), and a label line ("Read more", "Related posts:") followed by lines
  that are only a link, and a photo credit right after them.
- ``trailer``: among the last lines, "Read more", "Continue reading ...",
  "Read the full article at X", "The post X appeared first on Y",
  "Originally published at X" and their usual translations; also such a
  link at the very end of the last paragraph.
- ``applet``: the last line alone, short, "from <source> - <section>" (what
  applet-made feeds append, "from RT - Daily news").
- ``widget``: links that are controls or badges, not text: "show contact
  info" (classified ads), Flattr buttons. Only the link goes, not its line.
- ``cta``: a call to subscribe, to pay or to send corrections ("Become a paid
  subscriber ...", "Subscribe to our newsletter", "Corrections? Additions?
  Open a Pull Request"), told by how the line starts, among the first two or
  the last lines only; with the icon (an emoji) just before it.
- ``taxonomy``: among the last lines, "Tags: a, b, c", "Categories: ...",
  "Filed under <links>": a label and a list of short names, no sentence.
- ``related`` also takes "More: <a>x</a> | <a>y</a>" (only link text after it).
- ``credit``: a photo credit alone on its line, anywhere: "(Image credit: AP)",
  "Photo credit: Jane Doe", "(Photo: Reuters)".
- ``title`` and ``byline``: the first line when it repeats the item's title
  (given by the caller: ``strip_boilerplate(..., title=...)``), and a "Posted
  on <date> (by <name>)" line at the top (first, or after the title or a
  heading). A paragraph that starts with the title and goes on stays.

**Repetition** (``learn_boilerplate``): over the recent items of one feed, a
line found in most of them (60% of at least 5 items) is the feed's template,
not its story; ``strip_boilerplate(..., learned=...)`` drops it (rule
``learned``).

Precision first (a wrong removal loses story text; a missed one leaves some
noise): lines inside ``<pre>`` are never dropped; an item is never emptied
(when every line would go, nothing goes); trailers are only looked for in the
last lines. ``bench/boilerplate_audit.py`` counts what each rule removes on the
real-world corpus and prints a sample to check by eye.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

# -- what the rules look for

# Class names, split on "-" and "_" into parts. A part alone is not enough
# where real content uses it too ("github-project-share" is a project card).
_BOX_PARTS = frozenset(
    {
        # related links
        "related",
        "relatedposts",
        "yarpp",
        # share and social buttons
        "sharedaddy",
        "sharing",
        "addtoany",
        "a2a",
        "shareaholic",
        "sharethis",
        "feedflare",
        "social",
        "sociable",
        # newsletters and sign-up forms
        "newsletter",
        "subscribe",
        "subscription",
        "signup",
        # promos and ads
        "promo",
        "promoted",
        "sponsor",
        "sponsored",
        "advert",
        "advertisement",
        "advertising",
        "adsbygoogle",
        "ad",
        "ads",
        "outbrain",
        "taboola",
    }
)
_BOX_TOKENS = frozenset(
    {
        "share",
        "share-buttons",
        "share-links",
        "share-bar",
        "share-box",
        "share-tools",
        "read-more",
        "readmore",
        "read_more",
        "more-link",
        "continue-reading",
        "learn-more",
        "mc_embed_signup",
        "mc_embed_shell",
    }
)
# Ids: only these exact ones (heading ids are slugs of the heading's text,
# "the-social-reality", and say nothing about the element).
_BOX_IDS = frozenset(
    {
        "jp-relatedposts",
        "related-posts",
        "mc_embed_signup",
        "mc_embed_shell",
        "newsletter",
        "share-buttons",
        "social-share",
    }
)
CLASS_RULES = (_BOX_PARTS, _BOX_TOKENS, _BOX_IDS)

# Where tracking pixels come from, and links that are ads or share buttons.
PIXEL_SOURCE = re.compile(
    r"(?i)^(?:https?:)?//(?:[^/]*\.)?(?:"
    r"feeds\.feedburner\.com/~[rf]/|feedburner\.com/~[rf]/|pixel\.wp\.com/|stats\.wordpress\.com/|"
    r"stats\.wp\.com/|feeds\.wordpress\.com/1\.0/|feedsportal\.com/|doubleclick\.net/|"
    r"google-analytics\.com/|pixel\.quantserve\.com/|pheedo\.com/|pheedcontent\.com/|"
    r"feeds\.feedblitz\.com/~/i/|mf\.feeds\.reuters\.com/|rss\.buysellads\.com/"
    r")"
)
AD_LINK = re.compile(
    r"(?i)^(?:https?:)?//(?:[^/]*\.)?(?:"
    r"feeds\.feedburner\.com/~(?:ff|a|at)/|feedburner\.com/~(?:ff|a|at)/|"
    r"feeds\.wordpress\.com/1\.0/|feedads\.g\.doubleclick\.net/|ad\.doubleclick\.net/|"
    r"pheedo\.com/|pheedcontent\.com/|da\.feedsportal\.com/|rss\.buysellads\.com/"
    r")"
)
_PIXEL_SIZE = re.compile(r"^\s*[01](?:\.0*)?\s*(?:px)?\s*$")
_PIXEL_STYLE = re.compile(r"(?i)(?:^|;)\s*(?:width|height)\s*:\s*[01](?:px)?\s*(?=;|$)")

# A label that introduces related links; the rest of the line must be link text.
_RELATED_LABEL = (
    r"(?:read more|related(?: (?:articles?|stories|story|posts?|coverage|content|reading|links?))?"
    r"|read also|also read|more on this(?: story| topic)?|recommended(?: reading| for you)?"
    r"|you (?:may|might) also (?:like|enjoy)|lee también|lesen sie auch|mehr zum thema"
    r"|à lire aussi|lire aussi|leia também|leggi anche)"
)
# Colons (also full-width), guillemets, ">", bars and dashes.
_SEPARATOR = "[:\uff1a\u00bb\u203a>|\\-\u2013\u2014]"
_RELATED_LINE = re.compile(rf"(?i){_RELATED_LABEL}\s*{_SEPARATOR}\s*(?P<rest>\S.*)")
_LABEL_LINE = re.compile(rf"(?i){_RELATED_LABEL}\s*[:\uff1a\u00bb\u203a>]?")
_CREDIT = re.compile(
    r"(?i)(?:(?:file )?(?:photo|image|picture|foto|bild)\b|credit\b|©|\(c\)\s).{0,200}"
    r"|.{0,200}(?:©|\b(?:getty images|reuters|afp|ap photo|shutterstock|epa)\b).{0,200}"
)

# Whole lines near the end. Anchored at both ends: a real sentence that
# happens to start with "Read more" and goes on is not matched.
# Punctuation a trailer ends with: dots, colons, guillemets, arrows, ellipses, "[...]".
_END = "\\s*(?:[.:!\u00bb\u203a\u2192>]+|\\.\\.\\.|\u2026|\\[\u2026\\]|\\[\\.\\.\\.\\])?"
_TRAILER = re.compile(
    r"(?i)(?:"
    rf"(?:continue|keep) reading\b.{{0,160}}"
    r"|read (?:the )?(?:full|whole|entire|complete|original|rest of the) "
    r"(?:article|story|post|topic|text|piece|review|entry|report|thread|interview)\b.{0,120}"
    rf"|read (?:the )?rest(?: of (?:this|the) (?:entry|post|article|story))?{_END}"
    rf"|read more(?: (?:at|on|from|in) .{{1,60}})?{_END}"
    rf"|(?:click|tap) here to (?:read|continue|see|view)\b.{{0,120}}"
    rf"|view (?:the )?(?:full|original) (?:article|post|story)\b.{{0,80}}"
    r"|(?:the|this) (?:post|article|entry) .{1,300} (?:appeared|was published) first on .{1,200}"
    r"|(?:this (?:post|article|story|entry|piece) (?:was )?)?(?:originally|first) "
    r"(?:published|posted|appeared) (?:on|at|in|by) .{1,200}"
    rf"|artykuł .{{1,300}} pochodzi z serwisu .{{1,200}}"
    rf"|(?:seguir|sigue|continuar) leyendo{_END}|leer más{_END}|weiterlesen{_END}|mehr lesen{_END}"
    rf"|lire la suite{_END}|continua(?:re)? a leggere{_END}|leggi (?:tutto|di più){_END}"
    rf"|leia mais{_END}|continue lendo{_END}|lees verder{_END}|czytaj (?:dalej|więcej){_END}"
    r")"
)
# A trailer link at the end of the last paragraph: "... the first lines. <a>Read more</a>".
_TRAILER_LINK_TEXT = (
    r"(?:continue reading\b.{0,160}|read (?:more|on|the rest|full (?:article|story|post))"
    rf"{_END}|more{_END}|(?:seguir|sigue) leyendo|leer más|weiterlesen|lire la suite|leia mais)"
)
_TRAILER_LINK = re.compile(f"(?i){_TRAILER_LINK_TEXT}")
_TRAILER_LINK_END = re.compile(f"(?i){_TRAILER_LINK_TEXT}$")
# Trailers that only say where the item was published, not that it goes on there:
# WordPress appends "The post X appeared first on Y" to full posts as well as to
# excerpts (and its Polish form "Artykuł X pochodzi z serwisu Y"); "Originally
# published at X" ends cross-posted full posts. ``says_more`` leaves them out.
_PUBLISHED_AT = re.compile(
    r"(?i)(?:the|this) (?:post|article|entry) .{1,300} (?:appeared|was published) first on "
    r"|(?:this (?:post|article|story|entry|piece) (?:was )?)?(?:originally|first) "
    r"(?:published|posted|appeared) (?:on|at|in|by) "
    r"|artykuł .{1,300} pochodzi z serwisu "
)
# "from <source> - <section>", no sentence (no final stop); the dashes are en, em and hyphen.
_APPLET = re.compile("(?i)from \\S.{0,40}? [\u2013\u2014-] \\S.{0,40}(?<![.!?])")
_APPLET_MAX = 60

# A related line may also be labelled just "More:" ("More: <a>x</a> | <a>y</a>"),
# when the rest is only link text (the colon is required: "More" alone is a word).
_MORE_LINE = re.compile("(?i)more\\s*[:\uff1a]\\s*(?P<rest>\\S.*)")

# A call to subscribe, to pay or to send corrections, told by how the line
# starts: imperatives addressed to the reader, not sentences about the topic
# ("a decision that cost it 250,000 subscribers" stays). Only at the top or
# the end of an item.
_PODCAST_APPS = (
    r"(?:apple podcasts|itunes|spotify|youtube|google podcasts|overcast|pocket casts|castbox"
    r"|stitcher|your (?:favou?rite )?(?:podcast )?(?:app|player))"
)
_CTA = re.compile(
    r"(?i)(?:"
    r"become an? (?:paid |paying |premium |free )?(?:subscriber|patron|supporter|paid member)\b"
    r"|(?:please )?consider (?:subscribing|supporting (?:us|me|this|our)"
    r"|becoming an? (?:paid |paying )?(?:subscriber|patron|supporter|member))\b"
    r"|subscribe (?:now|today|here|for free"
    r"|(?:to|on|via) (?:my|our|the|this) (?:[\w-]+ ){0,3}?"
    r"(?:newsletter|blog|feed|rss|channel|podcast|list|substack|site|updates)\b"
    r"|to [^.!?]{1,40}? to (?:get|receive|read|support)\b)"
    r"|sign up (?:for|to) (?:my|our|the) (?:[\w-]+ ){0,2}?(?:newsletter|mailing list|email list)\b"
    r"|support (?:me|us|this (?:blog|podcast|show|work|site|channel)) (?:on|via|at) \S"
    rf"|listen (?:to [^.!?]{{1,60}}? )?on {_PODCAST_APPS}"
    r"|want to stay (?:updated|up to date|in the loop)\?"
    r"|corrections\? additions\?"
    r"|(?:found|spotted|see) an? (?:typo|error|mistake)(?: in this (?:post|article|page))?\?"
    r")"
)
_CTA_MAX = 700  # characters: a call to action is a paragraph at most
_HEAD_LINES = 2  # calls to action and bylines are looked for among the first lines only
# A line of one or two symbols (an emoji, an icon) just before a call to action is its icon.
_ICON = re.compile(r"[^\w\s]{1,3}")
# "Tags: a, b, c", "Filed under <a>x</a>, <a>y</a>": a label, then a list of short
# names (at most _TAXONOMY_WORDS words each), no sentence (no stop). The labels
# without a colon ("Posted in", "Filed under") need a list of links. Not "Label:"
# alone: a review's last lines name the record label.
_TAXONOMY_LABEL = (
    r"(?:tags|tagged(?: with| as| in)?|categor(?:y|ies)|filed (?:under|in)|posted in|labels"
    r"|topics|schlagw(?:ö|oe)rter|kategorien?|etiquetas|categor[ií]as?|cat[ée]gories"
    r"|[ée]tiquettes|categorie)"
)
_TAXONOMY = re.compile(rf"(?i){_TAXONOMY_LABEL}(?P<colon>\s*[:\uff1a]|\s)\s*(?P<rest>\S.*)")
_SENTENCE_END = re.compile(r"[.!?:](?:\s|$)")
_TAXONOMY_SPLIT = re.compile(r"\s*[,;|\u00b7\u2022/]\s*")
_TAXONOMY_WORDS = 4
# A photo credit alone on its line: "(Image credit: AP)", "Photo credit: Jane Doe",
# "(Photo: Reuters)", "(Credit: AP)". Not "Credit card fees rose" (brackets, or a
# picture's name and a colon, are needed), not a podcast's "Credits: music by X",
# nor a sentence after the colon (at most _CREDIT_WORDS words).
_MEDIA_KIND = (
    r"(?:image|photo|photograph|picture|illustration|video|graphic|cover|header|lead|top"
    r"|featured)(?: image| photo)?"
)
_CREDIT_LINE = re.compile(
    r"(?i)(?:"
    rf"\(\s*(?:{_MEDIA_KIND} )?credits?\s*[:\uff1a\u2013\u2014-]?\s*(?P<a>[^()]{{1,100}})\)"
    rf"|{_MEDIA_KIND} credits?\s*[:\uff1a]\s*(?P<b>[^()]{{1,100}})"
    rf"|\(\s*{_MEDIA_KIND}s?\s*[:\uff1a]\s*(?P<c>[^()]{{1,100}})\)"
    r")"
)
_CREDIT_WORDS = 8
# "Posted on August 25, 2019 by Jane": a byline at the top, with a year in it.
_BYLINE = re.compile(r"(?i)(?:posted|published|written)(?: on| by| at)? \S.{0,100}")
_BYLINE_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_BYLINE_WORDS = 14
# Links that are page controls or badges, not text, removed alone (rule ``widget``):
# "show contact info" and the like (classified ads hide a phone number or an
# address behind them), and Flattr buttons (Flattr's script finds them by their
# class or rel; their text is "Flattr <name>").
_REVEAL = re.compile(
    r"(?i)(?:click (?:here )?to )?(?:show|reveal|view|display) (?:the )?"
    r"(?:contact (?:info|information|details)|(?:phone |telephone )?number|phone"
    r"|e-?mail(?: address)?)"
)
_FLATTR_HREF = re.compile(r"(?i)^(?:https?:)?//(?:[^/]*\.)?flattr\.com/(?:submit|thing|profile)")
# What comes before "contact", "phone", "number", "mail" in a reveal link's text:
# looked for just before each of those words (a regex over the whole fragment
# would cost more than the rest of the hints together).
_REVEAL_BEFORE = re.compile(r"(?:show|reveal|view|display) (?:the )?(?:tele|e-?)?$")
_REVEAL_OBJECTS = ("contact", "phone", "number", "mail")
_TAIL_LINES = 3  # trailers are looked for among the last lines only
_TRAILER_MAX = 400  # characters; a longer line is a paragraph
_RELATED_MAX = 300
_LINK_SHARE = 0.9  # "only link text": at least this share of the characters
_SENTENCE_WORDS = 8  # a repeated line this long is a sentence (a footer), not a label
_BOX_SHARE = 0.5  # a box holding more of the item's text than this is a wrapper

# Tags that end a line, as in normalize.html_to_text (br too).
_BLOCK = frozenset(
    (
        *("p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6"),
        *("blockquote", "pre", "table", "tr", "thead", "tbody", "section", "article", "aside"),
        *("header", "footer", "nav", "figure", "figcaption", "details", "summary", "hr"),
    )
)
# Removed by the sanitizer with their content: their text is never a line.
_SKIP = frozenset(
    (
        *("script", "style", "iframe", "noscript", "object", "embed", "svg", "math", "form"),
        *("template", "textarea", "select", "button", "head", "title", "-comment"),
    )
)
_HEADINGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6", "dt", "th"))
_MEDIA = "img, video, audio, picture, source, iframe, embed, object"
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u2028\u2029]+")
_INVISIBLE = re.compile(r"[\u200b\ufeff]")

# Cheap looks at the raw fragment, lower-cased: is a DOM pass worth it, and
# are lines worth building? Substring tests and literal-prefixed regexes.
# Two patterns, each starting with a literal the regex engine scans for fast
# (the id one also matches "valid=": a hint may be a false alarm, never a miss).
_CLASS_VALUE = re.compile(r"""class\s*=\s*["']?([^"'>]*)""")
_ID_VALUE = re.compile(r"""id\s*=\s*["']?([^"'>]*)""")
_BOX_WORDS = (
    *("relat", "shar", "social", "sociable", "newsletter", "subscri", "signup", "promo"),
    *("sponsor", "advert", "outbrain", "taboola", "flare", "yarpp", "a2a", "more", "mc_embed"),
)
_AD_CLASS = re.compile(r"(?:^|[\s_-])ads?(?:$|[\s_-])")
_PIXEL_HINTS = (
    *("feedburner.com/~", "pixel.wp.com", "stats.wordpress.com", "stats.wp.com"),
    *("feeds.wordpress.com", "feedsportal", "doubleclick", "google-analytics", "quantserve"),
    *("pheed", "feedblitz", "buysellads", "mf.feeds.reuters"),
)
# A 1x1 image has a width of 0 or 1: looking for the width alone is enough for a hint.
_PIXEL_SIZE_HINT = re.compile(r"width\s*[=:]\s*[\"']?\s*[01](?:px)?\b")
_RELATED_HINTS = (
    *("related", "read more", "read also", "also read", "recommended", "also like"),
    *("also enjoy", "more on this", "lee también", "lesen sie auch", "mehr zum thema"),
    *("lire aussi", "leia também", "leggi anche"),
)
_TRAILER_HINTS = (
    *("read more", "read the", "read full", "read on", "continue reading", "keep reading"),
    *("appeared first", "originally", "first published", "first posted", "click here"),
    *("tap here", "view the", "view full", "view original", "leyendo", "leer más"),
    *("weiterlesen", "mehr lesen", "la suite", "a leggere", "leggi ", "leia mais", "lendo"),
    *("lees verder", "czytaj", "pochodzi z serwisu", "read&nbsp;more"),
)
# Hints of the newer line rules: calls to action, lists of tags, "More:", credits.
_CTA_HINTS = (
    *("subscri", "become a", "consider ", "sign up", "support ", "listen ", "stay updated"),
    *("up to date", "in the loop", "corrections?", "typo", "error", "mistake"),
)
_TAXONOMY_HINTS = (
    *("tag", "categor", "filed ", "posted in", "label", "topics", "schlagw", "kategor"),
    *("etiquet", "catégor", "étiquet"),
)
_ANYWHERE_HINTS = ("more:", "more\uff1a", "credit", "(photo", "(image", "(picture", "(illustr")
_TAIL_CHARS = 3000  # trailers are in the last lines: their hints are looked for in this much
_APPLET_CHARS = 400  # "from X - Y" ends the item: looked for in this much
_HEAD_CHARS = 2000  # a byline starts the item: looked for in this much


# A line is learned when it is in 3/5 of a feed's items, and there are at least
# MIN_ITEMS items with a text.
MIN_ITEMS = 5


def _needed(texts: int) -> int:
    """In how many of ``texts`` texts a line must be to be learned: 3/5 of them,
    rounded up (integers: the bounds of ``Learned.holds_after`` are exact)."""
    return -(-3 * texts // 5)


@dataclass(frozen=True, slots=True)
class Removal:
    """One thing a rule took out: the rule's name and the text it held."""

    # box | pixel | ad-link | widget | related | trailer | applet | cta | taxonomy |
    # credit | title | byline | learned
    rule: str
    text: str


@dataclass(frozen=True, slots=True)
class Stripped:
    html: str  # the fragment itself when nothing was removed
    removed: tuple[Removal, ...]


def line_key(line: str) -> str:
    """How lines are compared: case-folded, whitespace collapsed."""
    return " ".join(line.casefold().split())


def suspect(fragment: str) -> bool:
    """Whether the fragment may hold rule-based boilerplate (a fast look, no parsing)."""
    low = fragment.lower()
    return _box_hint(low) or _pixel_hint(low) or _widget_hint(low) or _line_hint(low)


def _box_hint(low: str) -> bool:
    values = " ".join((*_CLASS_VALUE.findall(low), *_ID_VALUE.findall(low)))
    return any(word in values for word in _BOX_WORDS) or _AD_CLASS.search(values) is not None


def _pixel_hint(low: str) -> bool:
    return any(hint in low for hint in _PIXEL_HINTS) or (
        "width" in low and _PIXEL_SIZE_HINT.search(low) is not None
    )


def _widget_hint(low: str) -> bool:
    if "flattr" in low:
        return True
    for word in _REVEAL_OBJECTS:
        start = low.find(word)
        while start != -1:
            if _REVEAL_BEFORE.search(low, max(0, start - 14), start):
                return True
            start = low.find(word, start + 1)
    return False


def _line_hint(low: str) -> bool:
    tail = low[-_TAIL_CHARS:]
    return (
        any(hint in tail for hint in _TRAILER_HINTS)
        or "from " in low[-_APPLET_CHARS:]
        or any(hint in low for hint in _RELATED_HINTS)
        or any(hint in low for hint in _ANYWHERE_HINTS)
        or any(hint in low for hint in _CTA_HINTS)  # the top or the end: both ends of a long item
        or any(hint in tail for hint in _TAXONOMY_HINTS)
        or any(hint in low[:_HEAD_CHARS] for hint in ("posted", "published", "written"))
    )


def learn_boilerplate(texts: Sequence[str | None]) -> frozenset[str]:
    """Lines (as ``line_key``) that most of a feed's recent items share.

    ``texts`` are the plain texts (one paragraph per line) of the feed's most
    recent items, as normalized *without* learned lines (otherwise what was
    learned disappears from the input and is forgotten the next time). A line
    is boilerplate when it is in at least 3/5 of them and there are at least
    ``MIN_ITEMS`` items. Items with no text do not count.
    """
    return learn_lines(texts).lines


@dataclass(frozen=True, slots=True)
class Learned:
    """What ``learn_lines`` found, and how far each line was from the threshold."""

    lines: frozenset[str]  # the learned lines (``line_key``)
    present: int  # items with a text
    weakest: int  # the fewest items a learned line was in (0: none learned)
    strongest_other: int  # the most items a line not learned was in

    def holds_after(self, changes: int) -> bool:
        """Whether the same lines are learned from any document that differs from
        this one by at most ``changes`` items added or removed.

        A line is learned when its count c reaches 3/5 of the number of texts
        n. Each item added or removed moves c - 3n/5 by 3/5 at most (removing
        a text without the line, or adding one without it), so after
        ``changes`` items a learned line still has c - 3n/5 >= 0 if it had
        c >= 3(n + changes)/5, and a line not learned still misses if it had
        c < 3(n - changes)/5; a line never seen had c = 0. Lets a document
        whose items mostly did not change keep what was learned without its
        old items' texts (digest's incremental path)."""
        fewest = self.present - changes  # texts there can be now, at the least
        if fewest < MIN_ITEMS:
            if self.lines:
                return False  # too few texts may be left to learn them
            if self.present + changes < MIN_ITEMS:
                return True  # too few texts to learn anything, whatever they say
            # Coarser near the MIN_ITEMS floor, where the argument above fails:
            # a line needs _needed(MIN_ITEMS) texts at least, and each change
            # adds it to one more at most.
            return self.strongest_other + changes < _needed(MIN_ITEMS)
        learned_stay = not self.lines or self.weakest >= _needed(self.present + changes)
        return learned_stay and self.strongest_other < _needed(fewest)


def learn_lines(texts: Sequence[str | None]) -> Learned:
    """``learn_boilerplate``, with the counts ``Learned.holds_after`` needs."""
    present = [text for text in texts if text]
    seen: Counter[str] = Counter()
    for text in present:
        seen.update({line_key(line) for line in text.split("\n") if line.strip()})
    seen.pop("", None)
    needed = _needed(len(present))
    learned = (
        frozenset(key for key, count in seen.items() if count >= needed)
        if len(present) >= MIN_ITEMS
        else frozenset()
    )
    return Learned(
        learned,
        len(present),
        min((seen[key] for key in learned), default=0),
        max((count for key, count in seen.items() if key not in learned), default=0),
    )


def droppable_learned(line: str) -> bool:
    """A learned line may go unless it is a label for what follows ("Shownotes:")."""
    return not line.rstrip().endswith((":", "\uff1a"))


def has_line_boilerplate(text: str | None, title: str | None = None) -> bool:
    """Whether a plain text (one paragraph per line) shows what the line rules
    remove: a trailer, a call to action or a list of tags among its last lines,
    a trailer link ending the last one, an applet trailer, a related-links
    label, a photo credit; at the top, the item's ``title`` repeated, a byline
    or a call to action. Exact on the text; the HTML pass then decides with
    the links and the structure it sees."""
    if not text:
        return False
    lines = text.split("\n")
    last = lines[-1]
    if len(last) <= _APPLET_MAX and _APPLET.fullmatch(last):
        return True
    if _TRAILER_LINK_END.search(last[-200:]):
        return True
    for line in lines[-_TAIL_LINES - 1 :]:
        if len(line) <= _TRAILER_MAX and _TRAILER.fullmatch(line):
            return True
        if is_call_to_action(line) or _taxonomy(line) is not None:
            return True
    # The top: a title, a byline and an icon may come before a call to action.
    if title and line_key(lines[0]) == line_key(title):
        return True
    if any(is_byline(line) for line in lines[:2]):
        return True
    if any(is_call_to_action(line) for line in lines[: _HEAD_LINES + 2]):
        return True
    return any(
        len(line) <= _RELATED_MAX
        and (
            _RELATED_LINE.fullmatch(line)
            or _LABEL_LINE.fullmatch(line)
            or (line[:4].lower() == "more" and _MORE_LINE.fullmatch(line))
            or is_credit(line)
        )
        for line in lines
    )


def is_call_to_action(line: str) -> bool:
    """Whether a line asks the reader to subscribe, pay or send corrections (``_CTA``);
    not when it ends with a colon: it is then the label of what follows (a link)."""
    return (
        len(line) <= _CTA_MAX
        and _CTA.match(line) is not None
        and not line.rstrip().endswith((":", "\uff1a"))
    )


def is_credit(line: str) -> bool:
    """Whether a line is a photo credit and nothing else (``_CREDIT_LINE``)."""
    if len(line) > _RELATED_MAX or ("(" not in line and ":" not in line and "\uff1a" not in line):
        return False  # every form has brackets or a colon
    match = _CREDIT_LINE.fullmatch(line)
    if match is None:
        return False
    name = match["a"] or match["b"] or match["c"] or ""
    return len(name.split()) <= _CREDIT_WORDS


def says_more(removal: Removal) -> bool:
    """Whether a removal says that the item goes on at its page: a trailer such as
    "Continue reading", "Read more", "Read the full article at X", "Seguir
    leyendo" (rule ``trailer``), or a read-more box holding only such words
    (rule ``box``, "Continue Reading"). Not a trailer that only names where the
    item was published (``_PUBLISHED_AT``: "The post X appeared first on Y")."""
    text = " ".join(removal.text.split())
    if removal.rule == "trailer":
        return _PUBLISHED_AT.match(text) is None
    if removal.rule == "box":
        return (
            len(text) <= _TRAILER_MAX
            and (_TRAILER_LINK.fullmatch(text) is not None or _TRAILER.fullmatch(text) is not None)
            and _PUBLISHED_AT.match(text) is None
        )
    return False


def is_related_label(line: str) -> bool:
    """Whether a line is only the label of a related-links box ("Read more",
    "Related", "Lesen Sie auch"; ``_LABEL_LINE``)."""
    return len(line) <= _RELATED_MAX and _LABEL_LINE.fullmatch(line.strip()) is not None


def is_photo_caption(line: str) -> bool:
    """Whether a line reads as a picture's caption or credit ("FILE PHOTO. © Reuters /
    ...", ``_CREDIT``): looser than ``is_credit``, for a line already known to sit in
    a related box."""
    return len(line) <= _RELATED_MAX and _CREDIT.fullmatch(line.strip()) is not None


def is_byline(line: str) -> bool:
    """Whether a line is "Posted on <date> (by <author>)" and nothing else."""
    return (
        _BYLINE.fullmatch(line) is not None
        and _BYLINE_YEAR.search(line) is not None
        and len(line.split()) <= _BYLINE_WORDS
    )


def _taxonomy(line: str) -> re.Match[str] | None:
    """The match of a "Tags: a, b, c" line: a label, then short names, no sentence."""
    match = _TAXONOMY.fullmatch(line) if len(line) <= _RELATED_MAX else None
    if match is None or _SENTENCE_END.search(match["rest"]):
        return None
    names = _TAXONOMY_SPLIT.split(match["rest"])
    if not all(name and len(name.split()) <= _TAXONOMY_WORDS for name in names):
        return None
    return match


def has_learned_lines(text: str | None, learned: frozenset[str]) -> bool:
    """Whether a plain text (one paragraph per line) holds a learned line that
    strip_boilerplate may drop: at the start or the end, or a sentence (the
    same test as on the HTML's lines, less the headings, which text cannot show)."""
    if not text or not learned:
        return False
    lines = text.split("\n")
    repeated = [line_key(line) in learned and droppable_learned(line) for line in lines]
    if not any(repeated):
        return False
    if repeated[0] or repeated[-1]:
        return True
    return any(
        flag and len(line.split()) >= _SENTENCE_WORDS
        for flag, line in zip(repeated, lines, strict=True)
    )


def drop_learned_lines(text: str | None, learned: frozenset[str]) -> str | None:
    """A plain text without its learned lines; None when every line is one."""
    if not text or not learned:
        return text
    lines = text.split("\n")
    kept = [line for line in lines if line_key(line) not in learned or not droppable_learned(line)]
    return "\n".join(kept) if kept else None


def strip_boilerplate(
    fragment: str,
    learned: frozenset[str] = frozenset(),
    *,
    line_rules: bool | None = None,
    title: str | None = None,
) -> Stripped:
    """The fragment without the boilerplate the rules (and ``learned`` lines) find.

    Returns the fragment unchanged (the same string) when nothing is removed,
    else the re-serialized HTML, which still needs the sanitizer. Fragments
    ``suspect`` clears are not even parsed, and each rule runs only where its
    own hint is in the fragment. ``line_rules``: False leaves the line rules
    (related, trailer, applet, cta, taxonomy, credit, title, byline, learned)
    out, True runs them without a hint, None (the default) runs them where a
    hint is. ``title``: the item's title (as text), for the rule that drops it
    when the item's first line repeats it.
    """
    low = fragment.lower()
    boxes, pixels, widgets = _box_hint(low), _pixel_hint(low), _widget_hint(low)
    if line_rules is None:
        line_rules = bool(learned) or _line_hint(low) or _title_hint(low, title)
    if not (boxes or pixels or widgets or line_rules):
        return Stripped(fragment, ())
    tree = LexborHTMLParser(fragment)
    body = tree.body
    if body is None:
        return Stripped(fragment, ())
    removed: list[Removal] = []
    if boxes:
        _remove_boxes(body, len(_text(body)), removed)
    if pixels:
        _remove_pixels_and_ad_links(body, removed)
    if widgets:
        _remove_widgets(body, removed)
    lines = _lines(body) if line_rules else []
    drops = _decide(lines, learned, line_key(title) if title else "")
    for line, rule in drops:
        removed.append(Removal(rule, line.text))
        _remove_line(line)
    for anchor, text in _trailer_links(lines, {id(line) for line, _ in drops}):
        removed.append(Removal("trailer", text))
        _remove_node(anchor)
    if not removed:
        return Stripped(fragment, ())
    return Stripped(body.inner_html or "", tuple(removed))


def _title_hint(low: str, title: str | None) -> bool:
    """Whether the title may be the fragment's first line (a look at its start)."""
    return bool(title) and " ".join((title or "").lower().split()[:3]) in low[:_HEAD_CHARS]


# -- boxes, pixels, ad links


def _text(node: LexborNode) -> str:
    return _SPACES.sub(" ", node.text(deep=True)).strip()


def _is_box(node: LexborNode) -> bool:
    attributes = node.attributes
    classes = attributes.get("class") or ""
    for token in classes.lower().split():
        if token in _BOX_TOKENS:
            return True
        if any(part in _BOX_PARTS for part in re.split(r"[-_]", token)):
            return True
    element_id = (attributes.get("id") or "").lower().strip()
    return element_id in _BOX_IDS


def _remove_boxes(body: LexborNode, total: int, removed: list[Removal]) -> None:
    if total == 0:
        total = 1
    for node in body.css("[class], [id]"):
        if node.tag in ("h1", "h2", "h3", "h4", "h5", "h6") or not _is_box(node):
            continue
        if not _attached(node):  # already gone with an enclosing box
            continue
        text = _text(node)
        if len(text) > _BOX_SHARE * total and len(text) > 80:
            continue  # a wrapper, or the item is nothing but this box
        removed.append(Removal("box", text))
        node.remove()


def _is_pixel(img: LexborNode) -> bool:
    attributes = img.attributes
    src = (attributes.get("src") or "").strip()
    if PIXEL_SOURCE.match(src):
        return True
    width, height = attributes.get("width"), attributes.get("height")
    if (
        width is not None
        and height is not None
        and _PIXEL_SIZE.match(width)
        and _PIXEL_SIZE.match(height)
    ):
        return True
    style = attributes.get("style") or ""
    return len(_PIXEL_STYLE.findall(style)) >= 2


def _remove_pixels_and_ad_links(body: LexborNode, removed: list[Removal]) -> None:
    for link in body.css("a[href]"):
        if _attached(link) and AD_LINK.match((link.attributes.get("href") or "").strip()):
            removed.append(Removal("ad-link", _text(link) or link.attributes.get("href") or ""))
            _remove_node(link)
    for img in body.css("img"):
        if _attached(img) and _is_pixel(img):
            removed.append(Removal("pixel", img.attributes.get("src") or ""))
            _remove_node(img)


def _is_widget(link: LexborNode) -> bool:
    attributes = link.attributes
    classes = (attributes.get("class") or "").lower().split()
    rel = (attributes.get("rel") or "").lower()
    if "flattrbutton" in classes or rel.startswith("flattr"):
        return True
    if _FLATTR_HREF.match((attributes.get("href") or "").strip()):
        return True
    return _REVEAL.fullmatch(_text(link)) is not None


def _remove_widgets(body: LexborNode, removed: list[Removal]) -> None:
    for link in body.css("a"):
        if _attached(link) and _is_widget(link):
            removed.append(Removal("widget", _text(link) or link.attributes.get("href") or ""))
            _remove_node(link)


def _attached(node: LexborNode) -> bool:
    """Whether the node is still in the document (not inside something removed).

    Nodes are detached with remove(), never destroyed with decompose(): the
    lists built before a removal still hold references to them.
    """
    parent: LexborNode | None = node
    while parent is not None:
        if parent.tag == "body":
            return True
        parent = parent.parent
    return False


def _remove_node(node: LexborNode) -> None:
    """Remove a node, then each ancestor left with no text and no media."""
    parent = node.parent
    node.remove()
    while parent is not None and parent.tag not in ("body", "html"):
        if _text(parent) or parent.css_first(_MEDIA) is not None:
            break
        grandparent = parent.parent
        parent.remove()
        parent = grandparent


# -- lines


class _Line:
    """The text between two line breaks, with the nodes that hold it."""

    __slots__ = ("anchors", "block", "chunks", "link_chars", "nodes", "pre", "text")

    def __init__(self) -> None:
        self.nodes: list[LexborNode] = []
        self.chunks: list[str] = []
        self.anchors: list[LexborNode | None] = []  # each node's <a>, if any
        self.link_chars = 0
        self.pre = False
        self.block = ""  # the innermost block element around the line's first text
        self.text = ""


def _lines(body: LexborNode) -> list[_Line]:
    lines: list[_Line] = []
    current = [_Line()]

    def end() -> None:
        line = current[0]
        text = _INVISIBLE.sub("", "".join(line.chunks))
        line.text = _SPACES.sub(" ", text).strip()
        if line.text:
            lines.append(line)
            current[0] = _Line()
        else:
            line.nodes.clear()
            line.chunks.clear()
            line.anchors.clear()

    def walk(node: LexborNode, anchor: LexborNode | None, pre: bool, block: str) -> None:
        child = node.child
        while child is not None:
            tag = child.tag
            if tag == "-text":
                value = child.text_content or ""
                line = current[0]
                if not line.nodes:
                    line.block = block
                line.nodes.append(child)
                line.chunks.append(value)
                line.anchors.append(anchor)
                line.pre = line.pre or pre
                if anchor is not None:
                    line.link_chars += len(value.strip())
            elif tag == "br":
                end()
            elif tag in _SKIP:
                pass
            elif tag in _BLOCK:
                end()
                walk(child, anchor, pre or tag == "pre", tag)
                end()
            else:
                walk(child, child if tag == "a" else anchor, pre, block)
            child = child.next

    walk(body, None, False, "body")
    end()
    return lines


def _only_link(line: _Line, rest: str | None = None) -> bool:
    """Whether the line (or its end, ``rest``) is link text."""
    if not line.link_chars:
        return False
    size = len(_SPACES.sub("", rest if rest is not None else line.text))
    linked = sum(
        len(_SPACES.sub("", chunk))
        for chunk, anchor in zip(line.chunks, line.anchors, strict=True)
        if anchor is not None
    )
    return size > 0 and linked >= _LINK_SHARE * size


def _decide(
    lines: list[_Line], learned: frozenset[str], title_key: str = ""
) -> list[tuple[_Line, str]]:
    """Which whole lines go, and by which rule. ``title_key``: the item's title, as ``line_key``."""
    drops: dict[int, str] = {}
    count = len(lines)
    # related links, anywhere
    index = 0
    while index < count:
        line = lines[index]
        if line.pre or len(line.text) > _RELATED_MAX:
            index += 1
            continue
        match = _RELATED_LINE.fullmatch(line.text) or _MORE_LINE.fullmatch(line.text)
        if match and _only_link(line, match["rest"]):
            drops[index] = "related"
        elif _LABEL_LINE.fullmatch(line.text):
            following = index + 1
            while (
                following < count
                and not lines[following].pre
                and len(lines[following].text) <= _RELATED_MAX
                and _only_link(lines[following])
            ):
                following += 1
            if following > index + 1:
                if following < count and _CREDIT.fullmatch(lines[following].text):
                    following += 1
                for taken in range(index, following):
                    drops[taken] = "related"
                index = following
                continue
        index += 1
    # photo credits alone on their line, anywhere
    for index, line in enumerate(lines):
        if index not in drops and not line.pre and is_credit(line.text):
            drops[index] = "credit"
    _decide_top(lines, title_key, drops)
    # trailers, among the last lines
    skipped = 0
    for index in range(count - 1, max(-1, count - 1 - _TAIL_LINES), -1):
        line = lines[index]
        if index in drops:
            continue
        if line.pre:
            break
        if len(line.text) <= _TRAILER_MAX and _TRAILER.fullmatch(line.text):
            drops[index] = "trailer"
        elif is_call_to_action(line.text):
            drops[index] = "cta"
        elif _is_taxonomy(line):
            drops[index] = "taxonomy"
        elif index == count - 1 and len(line.text) <= _APPLET_MAX and _APPLET.fullmatch(line.text):
            drops[index] = "applet"
        elif len(line.text) <= 40 and skipped == 0:
            skipped += 1  # one short line ("Comments", "Share") may follow a trailer
        else:
            break
    # lines this feed repeats in most items: at the start or the end of the
    # item, or sentences anywhere; not its template's headings and labels in
    # the middle ("What we found", a cast list), which frame the story
    if learned:
        repeated = {
            index
            for index, line in enumerate(lines)
            if not line.pre
            and line.block not in _HEADINGS
            and line_key(line.text) in learned
            and droppable_learned(line.text)
        }
        edge = repeated | drops.keys()
        head = next((i for i in range(count) if i not in edge), count)
        tail = next((i for i in range(count - 1, -1, -1) if i not in edge), -1)
        for index in repeated:
            if index < head or index > tail or len(lines[index].text.split()) >= _SENTENCE_WORDS:
                drops.setdefault(index, "learned")
    if len(drops) >= count:
        return []  # never empty an item (nor look at one with no lines)
    return [(lines[index], rule) for index, rule in sorted(drops.items())]


def _decide_top(lines: list[_Line], title_key: str, drops: dict[int, str]) -> None:
    """The top of the item: its title repeated as the first line, then a byline
    (first, or after the title or a heading), then a call to action among the
    first lines (with the icon before it)."""
    count = len(lines)
    top = 0
    if title_key and count and not lines[0].pre and line_key(lines[0].text) == title_key:
        drops.setdefault(0, "title")
        top = 1
    if top == 0 and count > 1 and lines[0].block in _HEADINGS and is_byline(lines[1].text):
        top = 1  # under a heading (the title, when normalize has not said what it is)
    if top < count and not lines[top].pre and is_byline(lines[top].text):
        drops.setdefault(top, "byline")
        top += 1
    heads = [index for index in range(top, count) if index not in drops][:_HEAD_LINES]
    for index in heads:
        line = lines[index]
        if line.pre or not is_call_to_action(line.text):
            continue
        drops[index] = "cta"
        icon = index - 1
        if icon >= 0 and icon not in drops and _ICON.fullmatch(lines[icon].text):
            drops[icon] = "cta"


def _is_taxonomy(line: _Line) -> bool:
    """A "Tags: a, b" line; without a colon ("Filed under a, b") only as links."""
    match = _taxonomy(line.text)
    if match is None or line.pre:
        return False
    return bool(match["colon"].strip()) or _only_link(line, match["rest"])


def _trailer_links(lines: list[_Line], dropped: set[int]) -> Iterable[tuple[LexborNode, str]]:
    """A "Read more" link ending the last remaining line (not the line's only text)."""
    for line in reversed(lines):
        if id(line) in dropped:
            continue
        if line.pre or not line.anchors or line.anchors[-1] is None:
            return
        anchor = line.anchors[-1]
        text = _SPACES.sub(
            " ",
            "".join(c for c, a in zip(line.chunks, line.anchors, strict=True) if a is anchor),
        ).strip()
        if text and text != line.text and _TRAILER_LINK.fullmatch(text):
            yield anchor, text
        return


def _remove_line(line: _Line) -> None:
    parents = []
    for node in line.nodes:
        parent = node.parent
        node.remove()
        if parent is not None:
            parents.append(parent)
    for parent in parents:
        if parent.tag in ("body", "html") or not _attached(parent):
            continue
        if not _text(parent) and parent.css_first(_MEDIA) is None:
            _remove_node(parent)
