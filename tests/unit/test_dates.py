"""normalize's dates: offsets, zone names feedparser reads as UTC, missing, future, absurd.

Items come from real feed bytes through parse_feed (feedparser), so each test
also shows what feedparser itself makes of the string.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feedd.normalize import (
    MONTH_NAMES,
    TZ_OFFSETS,
    fix_zone,
    item_dates,
    normalize_entry,
    read_named_date,
    reparse_date,
)
from feedd.parse import parse_feed
from feedd.types import RawEntry

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rss_item(pub_date: str | None = None, updated: str | None = None) -> RawEntry:
    fields = "<title>t</title><link>https://example.com/1</link><guid>g</guid>"
    if pub_date is not None:
        fields += f"<pubDate>{pub_date}</pubDate>"
    if updated is not None:
        fields += f"<atom:updated>{updated}</atom:updated>"
    body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">'
        f"<channel><title>f</title><item>{fields}</item></channel></rss>"
    ).encode()
    return parse_feed(body, url="https://example.com/feed").entries[0]


def dates(pub_date: str | None = None, updated: str | None = None):
    entry = normalize_entry(rss_item(pub_date, updated), link=None, url=None, now=NOW)
    return entry.published_at, entry.date_flag, entry.published_raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tue, 02 Jan 2024 10:30:00 +0000", datetime(2024, 1, 2, 10, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 +0200", datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 -0530", datetime(2024, 1, 2, 16, 0, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 GMT", datetime(2024, 1, 2, 10, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 EST", datetime(2024, 1, 2, 15, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 PDT", datetime(2024, 1, 2, 17, 30, tzinfo=UTC)),
        ("2024-01-02T10:30:00+05:30", datetime(2024, 1, 2, 5, 0, tzinfo=UTC)),
        ("2024-01-02T10:30:00Z", datetime(2024, 1, 2, 10, 30, tzinfo=UTC)),
        # An offset and a name: the offset counts.
        ("Tue, 02 Jan 2024 10:30:00 +0200 (CEST)", datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
    ],
)
def test_offsets_and_names_feedparser_knows(raw, expected):
    assert dates(raw) == (expected, None, raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tue, 02 Jan 2024 10:30:00 CEST", datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 CET", datetime(2024, 1, 2, 9, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 IST", datetime(2024, 1, 2, 5, 0, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 AEST", datetime(2024, 1, 2, 0, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 AEDT", datetime(2024, 1, 1, 23, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 JST", datetime(2024, 1, 2, 1, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 BST", datetime(2024, 1, 2, 9, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 MSK", datetime(2024, 1, 2, 7, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 NZDT", datetime(2024, 1, 1, 21, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 HST", datetime(2024, 1, 2, 20, 30, tzinfo=UTC)),
        ("Tue, 02 Jan 2024 10:30:00 cest", datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
        # feedparser also drops the time of an ISO date followed by a name.
        ("2024-01-02 10:30:00 CEST", datetime(2024, 1, 2, 8, 30, tzinfo=UTC)),
    ],
)
def test_zone_names_feedparser_reads_as_utc_are_read_again(raw, expected):
    feedparser_reading = rss_item(raw).published
    assert feedparser_reading != expected  # what this guards against
    assert dates(raw) == (expected, None, raw)


def test_an_unknown_zone_name_keeps_feedparsers_reading():
    raw = "Tue, 02 Jan 2024 10:30:00 XYZ"
    assert dates(raw) == (datetime(2024, 1, 2, 10, 30, tzinfo=UTC), None, raw)


def test_a_date_without_zone_feedparser_refuses_is_read_as_utc():
    raw = "Tue, 02 Jan 2024 10:30:00"
    assert rss_item(raw).published is None
    assert dates(raw) == (datetime(2024, 1, 2, 10, 30, tzinfo=UTC), None, raw)


def test_updated_stands_in_for_a_missing_published_date():
    published, flag, raw = dates(updated="2024-01-02T10:30:00+02:00")
    assert (published, flag, raw) == (
        datetime(2024, 1, 2, 8, 30, tzinfo=UTC),
        None,
        "2024-01-02T10:30:00+02:00",
    )


@pytest.mark.parametrize("raw", [None, "", "not a date", "soon", "32/13/2024"])
def test_missing_or_unreadable_dates_are_flagged(raw):
    published, flag, kept = dates(raw)
    assert published is None
    assert flag == "missing"
    assert kept == (raw or None)


@pytest.mark.parametrize(
    "raw",
    [
        "Thu, 01 Jan 1970 00:00:00 +0000",  # the epoch: an unset timestamp
        "Sat, 31 Dec 1994 23:59:59 +0000",
        "0001-01-01T00:00:00Z",
    ],
)
def test_dates_before_1995_are_flagged_too_old(raw):
    published, flag, kept = dates(raw)
    assert (published, flag) == (None, "too_old")
    assert kept == raw


def test_dates_in_the_future_are_flagged():
    soon = (NOW + timedelta(minutes=9)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    later = (NOW + timedelta(minutes=11)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    assert dates(soon)[:2] == (NOW + timedelta(minutes=9), None)
    assert dates(later)[:2] == (None, "future")
    assert dates("Fri, 01 Jan 2100 00:00:00 +0000")[:2] == (None, "future")


def test_a_zone_name_can_make_a_date_future():
    # 12:05 CEST is 10:05 UTC: in the past for NOW; read as UTC it would be 12:05.
    raw = "Sun, 01 Mar 2026 12:15:00 CEST"
    assert dates(raw) == (datetime(2026, 3, 1, 10, 15, tzinfo=UTC), None, raw)


def test_now_defaults_to_the_current_time():
    entry = normalize_entry(rss_item("Fri, 01 Jan 2100 00:00:00 +0000"), link=None, url=None)
    assert (entry.published_at, entry.date_flag) == (None, "future")


def test_absurd_updated_dates_are_dropped_without_a_flag():
    raw = RawEntry(
        id="g",
        link=None,
        title="t",
        summary=None,
        content=None,
        author=None,
        published=datetime(2024, 1, 2, tzinfo=UTC),
        updated=datetime(1970, 1, 1, tzinfo=UTC),
        published_raw="2024-01-02T00:00:00Z",
        updated_raw="1970-01-01T00:00:00Z",
    )
    published, updated, flag, kept = item_dates(raw, now=NOW)
    assert (published, updated, flag, kept) == (
        datetime(2024, 1, 2, tzinfo=UTC),
        None,
        None,
        "2024-01-02T00:00:00Z",
    )


def test_fix_zone_and_reparse_date():
    utc_reading = datetime(2024, 1, 2, 10, 30, tzinfo=UTC)
    assert fix_zone(utc_reading, "Tue, 02 Jan 2024 10:30:00 CEST") == datetime(
        2024, 1, 2, 8, 30, tzinfo=UTC
    )
    assert fix_zone(utc_reading, None) == utc_reading
    assert fix_zone(None, None) is None
    # No year: dateutil would fill in today's; nothing is guessed.
    assert reparse_date("10:30 CEST") is None
    assert reparse_date("Tue, 02 Jan 2024 10:30:00 UTC") == utc_reading


def test_every_zone_in_the_table_is_understood():
    for name, hours in TZ_OFFSETS.items():
        parsed = reparse_date(f"2024-01-02 12:00:00 {name}")
        assert parsed == datetime(2024, 1, 2, 12, tzinfo=UTC) - timedelta(hours=hours), name


# -- dates with day and month names in other languages


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Portuguese (UOL's own form), Spanish, French, German, Italian, Dutch.
        ("Seg, 24 Set 2018 19:22:00 -0300", datetime(2018, 9, 24, 22, 22, tzinfo=UTC)),
        ("Sáb, 01 Dez 2018 08:00:00 -0200", datetime(2018, 12, 1, 10, 0, tzinfo=UTC)),
        ("Qua, 05 Fev 2020 10:00:00 GMT", datetime(2020, 2, 5, 10, 0, tzinfo=UTC)),
        ("Lun, 07 Ene 2019 10:00:00 +0100", datetime(2019, 1, 7, 9, 0, tzinfo=UTC)),
        ("Jue, 15 Ago 2019 10:00:00 +0000", datetime(2019, 8, 15, 10, 0, tzinfo=UTC)),
        ("Mié, 3 Abr 2024 10:00:00 +0000", datetime(2024, 4, 3, 10, 0, tzinfo=UTC)),
        ("mer., 07 févr. 2024 10:00:00 +0100", datetime(2024, 2, 7, 9, 0, tzinfo=UTC)),
        ("lun., 24 sept. 2018 19:22:00 +0200", datetime(2018, 9, 24, 17, 22, tzinfo=UTC)),
        ("Ven, 16 Aout 2019 10:00:00 +0200", datetime(2019, 8, 16, 8, 0, tzinfo=UTC)),
        ("Di, 05 Mär 2024 10:00:00 +0100", datetime(2024, 3, 5, 9, 0, tzinfo=UTC)),
        ("Di, 05 Mrz 2024 10:00:00 CET", datetime(2024, 3, 5, 9, 0, tzinfo=UTC)),
        ("Mo, 24. Dez 2018 19:22:00 MEZ", datetime(2018, 12, 24, 18, 22, tzinfo=UTC)),
        ("Do, 03 Okt 2019 10:00:00 +0200", datetime(2019, 10, 3, 8, 0, tzinfo=UTC)),
        ("Mer, 22 Mag 2019 10:00:00 +0200", datetime(2019, 5, 22, 8, 0, tzinfo=UTC)),
        ("Lun, 01 Lug 2019 10:00:00 +0200", datetime(2019, 7, 1, 8, 0, tzinfo=UTC)),
        ("Gio, 31 Ott 2019 10:00:00 +0100", datetime(2019, 10, 31, 9, 0, tzinfo=UTC)),
        ("wo, 15 mei 2019 10:00:00 +0200", datetime(2019, 5, 15, 8, 0, tzinfo=UTC)),
        ("vr, 01 mrt 2019 10:00:00 +0100", datetime(2019, 3, 1, 9, 0, tzinfo=UTC)),
        # Polish, Swedish, Danish, Norwegian, Czech, Indonesian, Turkish, Russian.
        ("śr, 25 wrz 2019 10:00:00 +0200", datetime(2019, 9, 25, 8, 0, tzinfo=UTC)),
        ("pt, 15 listopada 2019 10:00:00 +0100", datetime(2019, 11, 15, 9, 0, tzinfo=UTC)),
        ("ons, 01 maj 2019 10:00:00 +0200", datetime(2019, 5, 1, 8, 0, tzinfo=UTC)),
        ("tir, 05 marts 2019 10:00:00 +0100", datetime(2019, 3, 5, 9, 0, tzinfo=UTC)),
        ("tir, 17 des 2019 10:00:00 +0100", datetime(2019, 12, 17, 9, 0, tzinfo=UTC)),
        ("út, 05 června 2018 10:00:00 +0200", datetime(2018, 6, 5, 8, 0, tzinfo=UTC)),
        ("Sen, 19 Agt 2019 10:00:00 WIB", datetime(2019, 8, 19, 3, 0, tzinfo=UTC)),
        ("Pzt, 23 Eyl 2019 10:00:00 +0300", datetime(2019, 9, 23, 7, 0, tzinfo=UTC)),
        ("Cum, 01 Şub 2019 10:00:00 +0300", datetime(2019, 2, 1, 7, 0, tzinfo=UTC)),
        ("Пн, 23 сен 2019 10:00:00 +0300", datetime(2019, 9, 23, 7, 0, tzinfo=UTC)),
        ("23 сентября 2019 10:00 MSK", datetime(2019, 9, 23, 7, 0, tzinfo=UTC)),
        # Accents optional, full names, "de" between the parts, a comment after the zone.
        ("Sab, 01 Dez 2018 08:00:00 -0200", datetime(2018, 12, 1, 10, 0, tzinfo=UTC)),
        ("Lunes, 24 de Septiembre de 2018 19:22:00 GMT", datetime(2018, 9, 24, 19, 22, tzinfo=UTC)),
        ("Seg, 24 Set 2018 19:22:00 -0300 (BRT)", datetime(2018, 9, 24, 22, 22, tzinfo=UTC)),
        # No zone is UTC, no time is midnight, as for English dates.
        ("Seg, 24 Set 2018 19:22:00", datetime(2018, 9, 24, 19, 22, tzinfo=UTC)),
        ("24 Set 2018", datetime(2018, 9, 24, tzinfo=UTC)),
    ],
)
def test_dates_named_in_other_languages_are_read(raw, expected):
    assert rss_item(raw).published is None  # feedparser knows English names only
    assert dates(raw) == (expected, None, raw)


@pytest.mark.parametrize(
    "raw",
    [
        "Seg, 24 Foo 2018 19:22:00 -0300",  # no month of any language
        "Seg, 31 Set 2018 19:22:00 -0300",  # no such day
        "Seg, 24 Set 2018 25:22:00 -0300",  # no such hour
        "Seg, 24 Set 18 19:22:00 -0300",  # a two-digit year: which century?
        "Seg, 24 Set 2018 19:22:00 XYZ",  # a zone nobody knows: the hour is unknown
        "ven, 12 jui 2019 10:00:00 +0200",  # juin or juillet?
        "Seg, 24 Set 2018 19:22:00 -0300 and more",
    ],
)
def test_named_dates_that_cannot_be_read_stay_missing(raw):
    assert dates(raw) == (None, "missing", raw)


def test_every_month_name_is_one_month():
    for language, months in MONTH_NAMES.items():
        assert len(months) == 12, language
        for number, forms in enumerate(months, start=1):
            for form in forms.split():
                parsed = read_named_date(f"10 {form} 2020 12:00 +0000")
                assert parsed == datetime(2020, number, 10, 12, tzinfo=UTC), (language, form)


@pytest.mark.corpus
def test_uol_dates_in_portuguese_are_read(corpus):
    # A real publisher's feed: read from the corpus, not copied into tests/data.
    body = (corpus / "rss-parser" / "input" / "uolNoticias.rss").read_bytes()
    parsed = parse_feed(body, url="https://rss.uol.com.br/feed/noticias.xml")
    entries = [normalize_entry(raw, link=None, url=None, now=NOW) for raw in parsed.entries]
    assert len(entries) == 15
    assert [entry.date_flag for entry in entries] == [None] * 15
    assert all(entry.published_raw.startswith("Seg, 24 Set 2018 ") for entry in entries)
    readings = {entry.published_raw: entry.published_at for entry in entries}
    assert readings["Seg, 24 Set 2018 19:22:00 -0300"] == datetime(2018, 9, 24, 22, 22, tzinfo=UTC)
    assert min(readings.values()) == datetime(2018, 9, 24, 22, 18, 49, tzinfo=UTC)
