"""The hosted "RSS -> text" applet's archive: text -> stories (pure).

The applet wrote one block of plain text per story, and appended each new
block to the file it wrote before. docs/applet.md has the format as parsed
here, with its grammar; in short, a block is::

    36.2 C                                     widget line   } the header: either or
    Monday, April 22, 2024                     scrape date   } both, on top
    <blank>
    Title
    <blank>
    Lead paragraph
    <blank>
    Paragraphs, blank-line separated, maybe with a "Read more" box:
    Read more / <blank> / FILE PHOTO. (c) ... / Related headline
    <blank>
    https://ift.tt/33QReyT 28, 2021 at 02:46PM  the trailer: short link, date
    from RT - Daily news                        the source feed's name
    <blank>
    Most Popular Articles                       debris, up to the next header

A block ends at its ``from`` line; what follows up to the next header is the
site's debris. The applet wrote no newline after its last line, so a block
appended later may start on the debris line ("Most Popular Articles36.2 C").

``parse_archive`` returns a ``Story`` for each block it understood and a
``Damaged`` (file, line, why) for each it did not; ``raw_entry`` makes a
story the RawEntry normalize cleans like a feed item; ``complete_date``
finds the month the trailer lost, from a full date of the same story.

Imports types and boilerplate's line tests only: the pipeline puts the rest
together (links, normalize, dedupe, store).
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from .boilerplate import is_photo_caption, is_related_label
from .types import RawEntry

# The weather widget: a temperature alone on its line ("36.2 C", "-4 °F").
_WIDGET = r"-?\d{1,3}(?:[.,]\d+)?\s?°?\s?[CF]"
WIDGET_LINE = re.compile(rf"{_WIDGET}")
GLUED_WIDGET = re.compile(rf"(?P<debris>.*?\S)(?P<widget>{_WIDGET})")
_DAYS = "|".join(calendar.day_name)
_MONTHS = "|".join(calendar.month_name[1:])
MONTH_NUMBERS = {name.casefold(): number for number, name in enumerate(calendar.month_name) if name}
# The scrape date: when the applet ran ("Monday, April 22, 2024").
SCRAPE_DATE = re.compile(rf"(?:{_DAYS}),\s+(?:{_MONTHS})\s+\d{{1,2}},\s+\d{{4}}", re.IGNORECASE)
# The trailer: the story's link and its date, whose month the applet lost
# ("28, 2021 at 02:46PM"); a month name, when there is one, is read too.
TRAILER = re.compile(
    rf"(?P<link>https?://\S+)\s+(?P<date>(?:(?P<month>{_MONTHS})\s+)?(?P<day>\d{{1,2}}),\s*"
    r"(?P<year>\d{4})\s+at\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<half>[AP]M))",
    re.IGNORECASE,
)
SOURCE = re.compile(r"from\s+(?P<name>\S.*)")
# Where a full date of the same story may stand from the trailer's: the applet
# ran minutes to hours after the feed's date. Further apart, it is not the month.
MATCH_WINDOW = timedelta(hours=36)
# The headline of a related box is one short line.
HEADLINE_MAX = 200


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A trailer's date as written: the month may be missing (None)."""

    year: int
    month: int | None
    day: int
    hour: int  # 0-23
    minute: int
    raw: str  # "28, 2021 at 02:46PM"

    def at(self, month: int, zone: tzinfo) -> datetime | None:
        """The date in ``month``, in the applet's zone, as UTC; None if there is
        no such day (the 31st of April)."""
        try:
            local = datetime(self.year, month, self.day, self.hour, self.minute, tzinfo=zone)
        except ValueError:
            return None
        return local.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Story:
    """One block the parser understood."""

    path: str
    line: int  # where the block starts, 1-based
    title: str
    lead: str | None
    paragraphs: tuple[str, ...]  # each may hold several lines ("\\n")
    link: str  # the trailer's (short) link
    date: PartialDate
    source: str  # the feed's name, from the "from ..." line
    removed: tuple[str, ...] = ()  # lines the format's rules took out of the text

    @property
    def guid(self) -> str:
        """Stable over imports: the same short link and title are the same item."""
        key = f"{self.link}\n{self.title}".encode()
        return "applet:" + hashlib.sha256(key).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Damaged:
    """A block the parser could not understand: reported, never imported."""

    path: str
    line: int
    reason: str


def decode(data: bytes) -> str:
    """The archive's bytes as text: UTF-8 (a BOM is dropped; a broken byte becomes
    U+FFFD rather than losing the file), any line ending."""
    text = data.decode("utf-8-sig", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _is_header(lines: list[str], index: int, *, inside: bool) -> bool:
    """Whether a header starts at ``index``. Inside a story, only the widget line
    followed by a scrape date counts (a story may hold a line like "20 C")."""
    line = lines[index].strip()
    following = lines[index + 1].strip() if index + 1 < len(lines) else ""
    if WIDGET_LINE.fullmatch(line):
        return not inside or SCRAPE_DATE.fullmatch(following) is not None
    return not inside and SCRAPE_DATE.fullmatch(line) is not None


def _unglue(lines: list[str]) -> list[tuple[int, str]]:
    """(line number, text): a line of debris that ends with the next block's widget
    ("Most Popular Articles36.2 C" before a scrape date) is two lines."""
    result: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        glued = GLUED_WIDGET.fullmatch(line.rstrip())
        if glued and SCRAPE_DATE.fullmatch(following) and not WIDGET_LINE.fullmatch(line.strip()):
            result.append((index + 1, glued["debris"]))
            result.append((index + 1, glued["widget"]))
        else:
            result.append((index + 1, line))
    return result


def _blocks(numbered: list[tuple[int, str]]) -> Iterator[tuple[int, list[tuple[int, str]]]]:
    """Each block's first line number and lines, from its header up to (not
    including) the next header; lines before the first header are a block too
    (a file may start without one)."""
    lines = [text for _, text in numbered]
    start = 0
    inside = True  # between a header (or the file's start) and the block's "from" line
    for index, line in enumerate(lines):
        if index > start and _is_header(lines, index, inside=inside):
            yield numbered[start][0], numbered[start:index]
            start, inside = index, True
        elif inside and SOURCE.fullmatch(line.strip()) and _trailer_before(lines, start, index):
            inside = False
    if start < len(lines):
        yield numbered[start][0], numbered[start:]


def _trailer_before(lines: list[str], start: int, index: int) -> bool:
    previous = next(
        (lines[i].strip() for i in range(index - 1, start - 1, -1) if lines[i].strip()), ""
    )
    return TRAILER.fullmatch(previous) is not None


def _paragraphs(lines: Iterable[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    """Blank-line separated paragraphs: (first line number, its lines, stripped)."""
    found: list[tuple[int, list[str]]] = []
    current: list[str] = []
    first = 0
    for number, text in lines:
        line = " ".join(text.split())
        if not line:
            if current:
                found.append((first, current))
                current = []
            continue
        if not current:
            first = number
        current.append(line)
    if current:
        found.append((first, current))
    return found


def _date(match: re.Match[str]) -> PartialDate | str:
    """The trailer's date, or why it cannot be one."""
    day, year = int(match["day"]), int(match["year"])
    hour, minute = int(match["hour"]), int(match["minute"])
    if not 1 <= day <= 31 or not 1 <= hour <= 12 or minute > 59 or not 1990 <= year <= 2100:
        return f"the trailer's date {match['date']!r} is not a date"
    hour = hour % 12 + (12 if match["half"].upper() == "PM" else 0)
    month = MONTH_NUMBERS[match["month"].casefold()] if match["month"] else None
    date = PartialDate(year, month, day, hour, minute, " ".join(match["date"].split()))
    if month is not None and date.at(month, UTC) is None:
        return f"the trailer's date {match['date']!r} is not a date"
    return date


def related_box(paragraphs: list[list[str]], index: int) -> int:
    """How many paragraphs from ``index`` are an in-article related box: a label
    alone ("Read more"), then the box: a photo caption and a headline, or just a
    short headline. 0 when there is none."""
    label = paragraphs[index]
    if len(label) != 1 or not is_related_label(label[0]) or index + 1 >= len(paragraphs):
        return 0
    box = paragraphs[index + 1]
    if len(box) == 2 and is_photo_caption(box[0]) and len(box[1]) <= HEADLINE_MAX:
        return 2
    if len(box) == 1 and len(box[0]) <= HEADLINE_MAX and not box[0].endswith("."):
        return 2
    return 1  # the label alone: the box was a picture only


def _story(path: str, start: int, lines: list[tuple[int, str]]) -> list[Story | Damaged]:
    """One block: its story or why it is damaged; nothing when it holds no story
    at all (blank, or only debris). A trailer in the debris after the block's
    ``from`` line is another story whose header is missing: reported too."""
    index = 0
    if index < len(lines) and WIDGET_LINE.fullmatch(lines[index][1].strip()):
        index += 1
    if index < len(lines) and SCRAPE_DATE.fullmatch(lines[index][1].strip()):
        index += 1
    header = index > 0
    trailer_at = next(
        (i for i in range(index, len(lines)) if TRAILER.fullmatch(lines[i][1].strip())), None
    )
    if trailer_at is None:
        if not header and not any(text.strip() for _, text in lines):
            return []
        return [Damaged(path, start, "no trailer line (link and date): the block is cut short")]
    if not header and start != 1:
        return [Damaged(path, start, "a story without the widget and date lines on top")]
    trailer = TRAILER.fullmatch(lines[trailer_at][1].strip())
    source_at = next((i for i in range(trailer_at + 1, len(lines)) if lines[i][1].strip()), None)
    source = SOURCE.fullmatch(lines[source_at][1].strip()) if source_at is not None else None
    if trailer is None or source_at is None or source is None:
        return [Damaged(path, lines[trailer_at][0], "no 'from <feed>' line after the trailer")]
    headless = [
        Damaged(path, number, "a story without the widget and date lines on top")
        for number, text in lines[source_at + 1 :]
        if TRAILER.fullmatch(text.strip())
    ]
    date = _date(trailer)
    if isinstance(date, str):
        return [Damaged(path, lines[trailer_at][0], date), *headless]
    paragraphs = _paragraphs(lines[index:trailer_at])
    if not paragraphs:
        return [Damaged(path, start, "no title before the trailer"), *headless]
    (_, title_lines), *rest = paragraphs
    texts = [para for _, para in rest]
    kept: list[str] = []
    removed: list[str] = []
    position = 0
    while position < len(texts):
        taken = related_box(texts, position)
        if taken:
            removed.extend(line for para in texts[position : position + taken] for line in para)
            position += taken
            continue
        kept.append("\n".join(texts[position]))
        position += 1
    lead, body = (kept[0], tuple(kept[1:])) if kept else (None, ())
    story = Story(
        path=path,
        line=start,
        title=" ".join(title_lines),
        lead=lead,
        paragraphs=body,
        link=trailer["link"],
        date=date,
        source=" ".join(source["name"].split()),
        removed=tuple(removed),
    )
    return [story, *headless]


def parse_archive(text: str, path: str = "<text>") -> tuple[Story | Damaged, ...]:
    """Every block of one file, in order: a Story, or a Damaged saying where and why."""
    numbered = _unglue(text.split("\n"))
    found: list[Story | Damaged] = []
    for start, lines in _blocks(numbered):
        found.extend(_story(path, start, lines))
    return tuple(found)


def source_url(name: str) -> str:
    """The address of the imported feed a source's stories join (never fetched:
    the feeds table keys feeds by address)."""
    return f"applet:{name}"


def raw_entry(story: Story) -> RawEntry:
    """The story as a feed item, for normalize: the lead is its summary, the other
    paragraphs its content (the lead alone when there are none). No date: the
    pipeline sets the one it completed (``complete_date``) and the raw one."""
    content = "".join(
        "<p>" + "<br>".join(html.escape(line) for line in para.split("\n")) + "</p>"
        for para in story.paragraphs
    )
    return RawEntry(
        id=story.guid,
        link=story.link,
        title=story.title,
        summary=html.escape(story.lead) if story.lead else None,
        content=content or None,
        author=None,
        published=None,
        updated=None,
        # Not the trailer's date: a date parser would fill the lost month in. The
        # pipeline sets it, with the date it completed.
        published_raw=None,
        updated_raw=None,
    )


def complete_date(
    date: PartialDate, zone: tzinfo, references: Iterable[datetime] = ()
) -> datetime | None:
    """The trailer's date in UTC (written in ``zone``): as it is when it names its
    month; else in the month that puts it closest to one of ``references`` (full
    dates of the same story: the stored article's, the page's), if within
    MATCH_WINDOW of it. None when nothing says which month: never guessed."""
    if date.month is not None:
        return date.at(date.month, zone)
    best: tuple[timedelta, datetime] | None = None
    for reference in references:
        for month in range(1, 13):
            candidate = date.at(month, zone)
            if candidate is None:
                continue
            gap = abs(candidate - reference)
            if gap <= MATCH_WINDOW and (best is None or gap < best[0]):
                best = (gap, candidate)
    return best[1] if best else None
