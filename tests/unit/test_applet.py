"""The applet's archive format (feedd/applet.py), on strings: blocks, the
"Read more" box, the trailer's partial date and its completion."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feedd import applet

SEED = Path(__file__).parents[1] / "data" / "applet" / "000_288665181018c694.txt"
MOSCOW = ZoneInfo("Europe/Moscow")


def seed_text() -> str:
    return applet.decode(SEED.read_bytes())


def block(
    title="A title",
    paragraphs=("The lead.", "First paragraph of the story."),
    trailer="https://ift.tt/abc 28, 2021 at 02:46PM",
    source="from Example News",
    header=("21 C", "Monday, April 22, 2024"),
    debris=("Most Popular Articles",),
) -> str:
    lines = [*header, "", title, ""]
    for paragraph in paragraphs:
        lines += [paragraph, ""]
    lines += [trailer, source, "", *debris]
    return "\n".join(lines)


def test_the_seed_is_one_story_without_its_debris():
    [story] = applet.parse_archive(seed_text(), "seed.txt")
    assert isinstance(story, applet.Story)
    assert (story.path, story.line) == ("seed.txt", 1)
    assert story.title == "Security talks between Russia & US could take place on January 10"
    assert story.lead is not None and story.lead.startswith("The discussions follow proposals")
    assert len(story.paragraphs) == 8
    assert story.paragraphs[0].startswith("Russia and the US will hold talks")
    assert story.paragraphs[-1].endswith("any delay in discussions would be unacceptable.")
    text = "\n".join(story.paragraphs)
    for debris in ("36.2 C", "April 22, 2024", "Read more", "FILE PHOTO", "true mission",
                   "ift.tt", "from RT", "Most Popular"):  # fmt: skip
        assert debris not in text and debris not in story.lead
    assert story.removed == (
        "Read more",
        "FILE PHOTO. \u00a9 Reuters / Alessandro Bianchi",
        "Russia claims it knows NATO\u2019s true mission",
    )
    assert story.link == "https://ift.tt/33QReyT"
    assert story.source == "RT \u2013 Daily news"
    assert story.date == applet.PartialDate(2021, None, 28, 14, 46, "28, 2021 at 02:46PM")


def test_the_guid_is_the_link_and_title_and_nothing_else():
    [a] = applet.parse_archive(block(), "a.txt")
    [b] = applet.parse_archive("\n\n" + block(paragraphs=("Other text.",)), "b.txt")
    [c] = applet.parse_archive(block(title="Another title"), "a.txt")
    assert isinstance(a, applet.Story) and isinstance(b, applet.Story)
    assert isinstance(c, applet.Story)
    assert a.guid == b.guid != c.guid
    assert a.guid.startswith("applet:")


def test_appended_blocks_even_glued_to_the_debris_line():
    """The applet wrote no newline after its last line: the next block may start
    on the debris line."""
    text = seed_text()
    parsed = applet.parse_archive(text + text + "\n" + block(), "x.txt")
    assert [type(p) for p in parsed] == [applet.Story] * 3
    assert [p.line for p in parsed] == [1, 32, 64]
    assert parsed[2].title == "A title"
    assert parsed[1].paragraphs == parsed[0].paragraphs


def test_a_block_with_only_one_paragraph_has_a_lead_and_no_body():
    [story] = applet.parse_archive(block(paragraphs=("Only a lead.",)))
    assert isinstance(story, applet.Story)
    assert (story.lead, story.paragraphs) == ("Only a lead.", ())
    raw = applet.raw_entry(story)
    assert (raw.summary, raw.content) == ("Only a lead.", None)


def test_the_raw_entry_escapes_text_and_keeps_lines():
    [story] = applet.parse_archive(
        block(paragraphs=("Lead & more", "Line one\nline <two>", "Last."))
    )
    raw = applet.raw_entry(story)
    assert raw.content == "<p>Line one<br>line &lt;two&gt;</p><p>Last.</p>"
    assert raw.summary == "Lead &amp; more"
    assert raw.published is None and raw.published_raw is None
    assert raw.id == story.guid


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (block(trailer="no trailer here"), 1, "no trailer line"),
        (block(source=""), 10, "no 'from <feed>' line"),
        (block(trailer="https://ift.tt/abc 32, 2021 at 02:46PM"), 10, "is not a date"),
        (block(trailer="https://ift.tt/abc 12, 2021 at 13:46PM"), 10, "is not a date"),
        (block(trailer="https://ift.tt/abc February 30, 2021 at 01:46PM"), 10, "is not a date"),
        (
            "21 C\nMonday, April 22, 2024\n\nhttps://ift.tt/a 1, 2021 at 01:00AM\nfrom X",
            1,
            "no title",
        ),
    ],
)
def test_damaged_blocks_say_where_and_why(text, line, reason):
    [damaged] = applet.parse_archive(text, "d.txt")
    assert isinstance(damaged, applet.Damaged)
    assert (damaged.path, damaged.line) == ("d.txt", line)
    assert reason in damaged.reason


def test_a_cut_block_is_reported_and_the_next_one_still_read():
    cut = "\n".join(block().split("\n")[:7])  # header, title, lead: no trailer
    parsed = applet.parse_archive(cut + "\n" + block(title="Next"), "c.txt")
    assert isinstance(parsed[0], applet.Damaged) and parsed[0].line == 1
    assert isinstance(parsed[1], applet.Story) and parsed[1].title == "Next"
    assert parsed[1].line == 8


def test_a_story_without_its_header_after_another_is_damaged():
    headless = block(header=(), title="Headless")
    parsed = applet.parse_archive(block() + "\n" + headless.lstrip("\n"), "h.txt")
    assert isinstance(parsed[0], applet.Story)
    assert isinstance(parsed[1], applet.Damaged)
    assert "widget and date lines" in parsed[1].reason
    assert parsed[1].line == 20  # its trailer: where the story was found


def test_a_file_may_start_without_a_header():
    [story] = applet.parse_archive(block(header=()).lstrip("\n"))
    assert isinstance(story, applet.Story) and story.title == "A title"


def test_a_temperature_inside_a_story_is_text():
    [story] = applet.parse_archive(block(paragraphs=("Lead.", "20 C", "It was warm.")))
    assert isinstance(story, applet.Story)
    assert story.paragraphs == ("20 C", "It was warm.")


def test_a_trailer_with_its_month_is_a_full_date():
    [story] = applet.parse_archive(block(trailer="http://x.example/a December 28, 2021 at 02:46PM"))
    assert isinstance(story, applet.Story)
    assert story.date.month == 12
    assert applet.complete_date(story.date, MOSCOW) == datetime(2021, 12, 28, 11, 46, tzinfo=UTC)


@pytest.mark.parametrize(
    ("hour", "half", "expected"), [("12", "AM", 0), ("12", "PM", 12), ("01", "PM", 13)]
)
def test_twelve_hour_times(hour, half, expected):
    [story] = applet.parse_archive(block(trailer=f"https://ift.tt/a 5, 2020 at {hour}:00{half}"))
    assert isinstance(story, applet.Story)
    assert story.date.hour == expected


# -- the related box


@pytest.mark.parametrize(
    ("paragraphs", "kept"),
    [
        # label, then a caption and a headline
        (
            ["Lead.", "A.", "Read more", "FILE PHOTO. \u00a9 AFP / X\nSome headline", "B."],
            ["A.", "B."],
        ),
        # label, then a headline alone
        (["Lead.", "A.", "Read more", "Some headline", "B."], ["A.", "B."]),
        # a label followed by a sentence: the label goes, the sentence stays
        (
            ["Lead.", "A.", "Related", "This is a sentence of the story.", "B."],
            ["A.", "This is a sentence of the story.", "B."],
        ),
        # "Read more" inside a sentence is text
        (
            ["Lead.", "Read more about it in our guide.", "B."],
            ["Read more about it in our guide.", "B."],
        ),
    ],
)
def test_the_read_more_box(paragraphs, kept):
    [story] = applet.parse_archive(block(paragraphs=tuple(paragraphs)))
    assert isinstance(story, applet.Story)
    assert list(story.paragraphs) == kept


# -- dates


def test_the_month_comes_from_a_full_date_of_the_same_story():
    date = applet.PartialDate(2021, None, 28, 14, 46, "28, 2021 at 02:46PM")
    page = datetime(2021, 12, 28, 11, 46, 12, tzinfo=UTC)
    assert applet.complete_date(date, MOSCOW, [page]) == datetime(2021, 12, 28, 11, 46, tzinfo=UTC)
    # the applet ran a few hours after the publisher's date: the same month
    later = datetime(2021, 12, 28, 6, 0, tzinfo=UTC)
    assert applet.complete_date(date, MOSCOW, [later]) == datetime(2021, 12, 28, 11, 46, tzinfo=UTC)
    # across a month's end: the 1st at 00:30 is the day after the 31st, not the month's start
    first = applet.PartialDate(2022, None, 1, 0, 30, "1, 2022 at 12:30AM")
    assert applet.complete_date(first, UTC, [datetime(2021, 12, 31, 23, 0, tzinfo=UTC)]) == (
        datetime(2022, 1, 1, 0, 30, tzinfo=UTC)
    )


def test_no_month_is_ever_guessed():
    date = applet.PartialDate(2021, None, 28, 14, 46, "28, 2021 at 02:46PM")
    assert applet.complete_date(date, MOSCOW) is None
    # a date of another story (another day, or another year): no month fits
    assert applet.complete_date(date, MOSCOW, [datetime(2021, 12, 20, tzinfo=UTC)]) is None
    assert applet.complete_date(date, MOSCOW, [datetime(2020, 12, 28, 11, tzinfo=UTC)]) is None
    # the 31st cannot be in a 30-day month, whatever the reference says
    last = applet.PartialDate(2021, None, 31, 12, 0, "31, 2021 at 12:00PM")
    assert applet.complete_date(last, UTC, [datetime(2021, 4, 30, 12, tzinfo=UTC)]) is None


def test_the_applet_zone_decides_the_instant():
    date = applet.PartialDate(2021, 7, 1, 12, 0, "July 1, 2021 at 12:00PM")
    assert applet.complete_date(date, ZoneInfo("America/New_York")) == datetime(
        2021, 7, 1, 16, 0, tzinfo=UTC
    )
    assert applet.complete_date(date, UTC) == datetime(2021, 7, 1, 12, 0, tzinfo=UTC)


def test_decode_takes_a_bom_crlf_and_broken_bytes():
    text = applet.decode(b"\xef\xbb\xbfa\r\nb\rc\xff")
    assert text == "a\nb\nc\ufffd"


def test_source_url_names_the_imported_feed():
    assert applet.source_url("RT \u2013 Daily news") == "applet:RT \u2013 Daily news"
