"""What only the PostgreSQL store does: several pollers on one database.

Migrations under concurrency, leases (claims, expiry, renewal, fencing),
story locks, host slots, housekeeping once per cluster, conflicts, and
reconnecting; then the pipeline end to end. The behaviour both backends
share is in test_store_contract.py.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg")

from conftest import write_config  # noqa: E402
from feedserver import FeedServer  # noqa: E402
from integration_support import Item, rss20  # noqa: E402

from feedd import dedupe  # noqa: E402
from feedd.config import load_config  # noqa: E402
from feedd.errors import LeaseLost, StoreConflict, StoreError  # noqa: E402
from feedd.pipeline import Pipeline, make_client, make_guard  # noqa: E402
from feedd.store import open_store  # noqa: E402
from feedd.store.postgres import (  # noqa: E402
    HOUSEKEEPING_EVERY,
    MAX_KEY_LOCKS,
    SCHEMA_VERSION,
    PostgresStore,
    identity_buckets,
)
from feedd.types import (  # noqa: E402
    Entry,
    Extracted,
    FeedSettings,
    FeedUpdate,
    Page,
    Status,
)

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
URLS = [f"https://{name}.example/feed" for name in "abcd"]


def rows(url: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        found: list[tuple[Any, ...]] = conn.execute(sql, params).fetchall()
        return found


@pytest.fixture
def stores(postgres_url: str) -> Iterator[Any]:
    """Opens stores on the test's database (keyword arguments: PostgresStore's);
    closes them all at the end."""
    with ExitStack() as stack:

        def opened(**options: Any) -> PostgresStore:
            return stack.enter_context(PostgresStore(postgres_url, **options))

        first = opened()
        first.sync_feeds([FeedSettings(u, None, 1800.0, (), True) for u in URLS], NOW)
        yield opened


def failed(next_at: datetime | None = None) -> FeedUpdate:
    return FeedUpdate("failing", 500, NOW, 1, "HTTP 500", next_at or NOW + timedelta(hours=1))


def entry(guid: str, url: str) -> Entry:
    return Entry(
        guid=guid,
        link=url,
        url=url,
        title=f"Title {guid}",
        summary="s",
        content_text=f"text of {guid}",
        content_html=None,
        author=None,
        published_at=NOW,
        updated_at=None,
        tags=(),
        content_hash=guid,
    )


# -- opening


def test_pollers_starting_together_migrate_once(postgres_url: str):
    def start(_: int) -> int:
        with PostgresStore(postgres_url) as store:
            return store.schema_version

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(start, range(4))) == [SCHEMA_VERSION] * 4
    assert rows(postgres_url, "SELECT key, value FROM feedd_meta") == [
        ("schema_version", str(SCHEMA_VERSION))
    ]
    assert rows(postgres_url, "SELECT count(*) FROM feeds") == [(0,)]


def test_a_newer_schema_is_refused(postgres_url: str):
    open_store(postgres_url).close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE feedd_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99"):
        open_store(postgres_url)


def test_a_refused_connection_names_the_database_not_the_password(postgres_url: str):
    base, _, _ = postgres_url.rpartition("/")
    with pytest.raises(StoreError, match="cannot connect to postgresql://") as caught:
        # S106: a made-up password, to check that no message shows it.
        open_store(f"{base}/no_such_database", password="sekrit-pw")  # noqa: S106
    assert "sekrit-pw" not in str(caught.value)
    assert "no_such_database" in str(caught.value)


# -- leases


def test_a_leased_feed_goes_to_one_poller(stores):
    a, b = stores(owner="a"), stores(owner="b")
    first = a.due_feeds(NOW, limit=2)
    second = b.due_feeds(NOW, limit=10)
    assert len(first) == 2
    assert len(second) == 2
    assert {f.id for f in first}.isdisjoint({f.id for f in second})
    assert a.due_feeds(NOW, limit=10) == b.due_feeds(NOW, limit=10) == ()
    # Another poller's feed is left out of feeds_by_url too; one's own is claimed again.
    assert {f.id for f in a.feeds_by_url(URLS)} == {f.id for f in first}


def test_pollers_claiming_at_once_never_share_a_feed(stores):
    pollers = [stores(owner=f"p{n}") for n in range(4)]
    with ThreadPoolExecutor(4) as pool:
        claimed = list(pool.map(lambda s: [f.id for f in s.due_feeds(NOW, limit=3)], pollers))
    every = [feed for feeds in claimed for feed in feeds]
    assert sorted(every) == sorted(set(every))
    assert len(every) == len(URLS)


def test_an_expired_lease_goes_to_another_poller_and_fences_the_first(stores, postgres_url):
    a = stores(owner="a", lease_seconds=1, renew=False)
    b = stores(owner="b")
    (feed,) = a.feeds_by_url([URLS[0]])
    assert b.feeds_by_url([URLS[0]]) == ()
    time.sleep(1.3)
    (again,) = b.feeds_by_url([URLS[0]])
    assert again.id == feed.id
    with pytest.raises(LeaseLost):
        a.record_poll(feed.id, failed())
    with pytest.raises(LeaseLost), a.transaction():
        a.apply(feed.id, dedupe.decide(a.known(feed.id, []), []), language=None, now=NOW)
    assert rows(postgres_url, "SELECT state, lease_owner FROM feeds WHERE id = %s", feed.id) == [
        ("new", "b")
    ]
    b.record_poll(feed.id, failed())
    assert rows(postgres_url, "SELECT state, lease_owner FROM feeds WHERE id = %s", feed.id) == [
        ("failing", None)
    ]


def test_a_write_for_a_feed_another_poller_holds_is_refused(stores, postgres_url):
    a, tool = stores(owner="a"), stores(owner="tool")
    (feed,) = a.feeds_by_url([URLS[0]])
    with pytest.raises(LeaseLost):
        tool.record_poll(feed.id, failed())
    with pytest.raises(LeaseLost), tool.transaction():
        tool.save_digest_state(feed.id, "{}")
    # A feed nobody holds may be written by a store that never claimed it.
    (other,) = rows(postgres_url, "SELECT id FROM feeds WHERE url = %s", URLS[1])[0]
    tool.record_poll(other, failed())
    assert rows(postgres_url, "SELECT state FROM feeds WHERE id = %s", other) == [("failing",)]


def test_record_poll_ends_the_lease_at_commit(stores, postgres_url):
    a, b = stores(owner="a"), stores(owner="b")
    (feed,) = a.feeds_by_url([URLS[0]])
    with a.transaction():
        a.record_poll(feed.id, failed(NOW - timedelta(minutes=1)))
        assert feed.id in a.leases  # not before the commit
    assert feed.id not in a.leases
    assert [f.id for f in b.feeds_by_url([URLS[0]])] == [feed.id]
    # A rolled back poll keeps its lease.
    (other,) = a.feeds_by_url([URLS[1]])
    with suppress(ZeroDivisionError), a.transaction():
        a.record_poll(other.id, failed())
        1 / 0  # noqa: B018
    assert other.id in a.leases
    assert rows(postgres_url, "SELECT lease_owner FROM feeds WHERE id = %s", other.id) == [("a",)]


def test_renewal_keeps_a_slow_poll_leased(stores):
    a = stores(owner="a", lease_seconds=1)
    b = stores(owner="b")
    (feed,) = a.feeds_by_url([URLS[0]])
    time.sleep(2.2)
    assert b.feeds_by_url([URLS[0]]) == ()
    a.record_poll(feed.id, failed(NOW - timedelta(minutes=1)))
    assert feed.id in {f.id for f in b.due_feeds(NOW, limit=10)}


def test_renewal_forgets_a_lease_taken_over(stores, postgres_url, caplog):
    a = stores(owner="a", lease_seconds=1)
    (feed,) = a.feeds_by_url([URLS[0]])
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE feeds SET lease_owner = 'x', lease_token = lease_token + 1")
    a.renew()
    assert feed.id not in a.leases
    assert "lost the lease on feed" in caplog.text


def test_close_gives_the_leases_back(stores, postgres_url):
    a, b = stores(owner="a"), stores(owner="b")
    taken = a.due_feeds(NOW, limit=10)
    assert len(taken) == len(URLS)
    a.close()
    assert len(b.due_feeds(NOW, limit=10)) == len(URLS)


# -- story locks


def locked_in_thread(store: PostgresStore, keys: list[str]) -> tuple[threading.Event, Any]:
    """Take the keys in another thread's transaction; the event is set once it has them."""
    got = threading.Event()
    release = threading.Event()

    def run() -> None:
        with store.transaction():
            store.lock_identity(keys)
            got.set()
            release.wait(10)

    thread = threading.Thread(target=run)
    thread.start()

    def finish() -> None:
        release.set()
        thread.join()

    return got, finish


def test_lock_identity_holds_a_key_until_commit(stores):
    a, b, c = stores(owner="a"), stores(owner="b"), stores(owner="c")
    with a.transaction():
        a.lock_identity(["https://news.example/story", "text:abc"])
        same, finish_same = locked_in_thread(b, ["text:abc"])
        other, finish_other = locked_in_thread(c, ["https://news.example/other"])
        try:
            assert other.wait(5)  # another story: no wait
            assert not same.wait(0.5)  # the same story: waits
        finally:
            finish_other()
    try:
        assert same.wait(5)  # committed: the other writer goes on
    finally:
        finish_same()


def test_a_batch_of_many_keys_holds_every_story(stores):
    a, b = stores(owner="a"), stores(owner="b")
    keys = [f"key-{n}" for n in range(MAX_KEY_LOCKS + 50)]
    assert len(identity_buckets(keys)) > MAX_KEY_LOCKS
    with a.transaction():
        a.lock_identity(keys)
        got, finish = locked_in_thread(b, ["unrelated"])
        waited = not got.wait(0.5)
    try:
        assert waited  # any story waits while the big batch holds them all
        assert got.wait(5)
    finally:
        finish()


def test_identity_buckets_are_distinct_and_ascending():
    buckets = identity_buckets(["b", "a", "b", "c"])
    assert buckets == sorted(set(buckets))
    assert len(buckets) == 3


def test_lock_identity_outside_a_transaction_is_refused(stores):
    with pytest.raises(StoreError, match="inside a transaction"):
        stores().lock_identity(["x"])


# -- host slots


def test_host_slots_are_shared_between_pollers(stores):
    a, b = stores(owner="a").host_slots(), stores(owner="b").host_slots()
    assert a.take("h.example", 2) == 0
    assert b.take("h.example", 2) == 1
    assert b.take("h.example", 2) is None
    assert a.take("other.example", 2) == 0  # per host
    a.give_back("h.example", 0)
    assert b.take("h.example", 2) == 0
    b.give_back("h.example", 5)  # not held: nothing happens


def test_an_expired_host_slot_is_free_again(stores):
    stopped = stores(owner="stopped", lease_seconds=1, renew=False).host_slots()
    other = stores(owner="other").host_slots()
    assert stopped.take("h.example", 1) == 0
    assert other.take("h.example", 1) is None
    time.sleep(1.3)
    assert other.take("h.example", 1) == 0


def test_renewal_keeps_host_slots(stores):
    holder = stores(owner="holder", lease_seconds=1).host_slots()
    other = stores(owner="other").host_slots()
    assert holder.take("h.example", 1) == 0
    time.sleep(2.2)
    assert other.take("h.example", 1) is None


# -- article pages


def test_pollers_claiming_pages_at_once_never_share_one(stores, postgres_url):
    first = stores(owner="first")
    (feed,) = rows(postgres_url, "SELECT id FROM feeds WHERE url = %s", URLS[0])[0]
    entries = [entry(f"g{n}", f"https://news.example/{n}") for n in range(40)]
    with first.transaction():
        _, written = first.apply(
            feed, dedupe.decide(first.known(feed, entries), entries), language=None, now=NOW
        )
        pages = [(article_id, f"https://news.example/{article_id}", "short")
                 for article_id, _ in written]  # fmt: skip
        assert first.queue_pages(feed, pages, NOW) == 40
    pollers = [stores(owner=f"p{n}") for n in range(4)]
    start = threading.Barrier(len(pollers))

    def claim_all(store: PostgresStore) -> list[int]:
        start.wait()
        claimed: list[int] = []
        while jobs := store.claim_pages(NOW, 3, hold=300):
            claimed += [job.article_id for job in jobs]
        return claimed

    with ThreadPoolExecutor(len(pollers)) as pool:
        claimed = list(pool.map(claim_all, pollers))
    every = [article_id for ids in claimed for article_id in ids]
    assert sorted(every) == sorted(article_id for article_id, _ in written)
    assert rows(postgres_url, "SELECT DISTINCT attempts FROM pages") == [(1,)]


def test_a_page_saved_meanwhile_is_weighed_by_the_update_that_waited(stores, postgres_url):
    """A poll updating an article while another poller saves its page waits for
    the page's transaction, then keeps the page's fuller text."""
    poller, reader = stores(owner="poller"), stores(owner="reader")
    (feed,) = rows(postgres_url, "SELECT id FROM feeds WHERE url = %s", URLS[0])[0]
    teaser = entry("g1", "https://news.example/1")
    with poller.transaction():
        intents = dedupe.decide(poller.known(feed, [teaser]), [teaser])
        ((article_id, _),) = poller.apply(feed, intents, language=None, now=NOW)[1]
        poller.queue_pages(feed, [(article_id, "https://news.example/1", "short")], NOW)
    (job,) = reader.claim_pages(NOW, 1, hold=300)
    text = " ".join(f"w{n}" for n in range(60))
    page = Page(job, job.url, 200, Extracted(job.url, text=text, word_count=60), None)
    edited = dataclasses.replace(teaser, title="Corrected", content_hash="edited")
    updated = threading.Event()

    def update() -> None:
        with poller.transaction():
            intents = dedupe.decide(poller.known(feed, [edited]), [edited])
            poller.apply(feed, intents, language=None, now=NOW)
        updated.set()

    with reader.transaction():
        # No revision kept: its row would lock the feed's (a foreign key) and
        # stop the poll at its lease check, before it reads the article.
        assert reader.save_page(page, NOW, 0).outcome == "stored"
        thread = threading.Thread(target=update)
        thread.start()
        assert not updated.wait(0.5)  # the article's row is the page's until commit
    thread.join(5)
    assert updated.is_set()
    assert rows(postgres_url, "SELECT title, content_text, content_source FROM articles") == [
        ("Corrected", text, "page")
    ]


# -- housekeeping


def add_old_article(store: PostgresStore, url: str, guid: str) -> None:
    (feed,) = store.feeds_by_url([url])
    with store.transaction():
        entries = [entry(guid, f"https://a.example/{guid}")]
        store.apply(
            feed.id, dedupe.decide(store.known(feed.id, entries), entries), language=None,
            now=NOW - timedelta(days=400),
        )  # fmt: skip


def test_housekeeping_runs_once_per_cluster(stores, postgres_url):
    a, b = stores(owner="a"), stores(owner="b")
    add_old_article(a, URLS[0], "one")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda s: s.housekeeping(NOW, max_age=86400.0), [a, b]))
    assert sorted(results) == [0, 1]
    add_old_article(a, URLS[0], "two")
    # Too soon after the last run: skipped by everyone.
    assert b.housekeeping(NOW + HOUSEKEEPING_EVERY / 2, max_age=86400.0) == 0
    assert rows(postgres_url, "SELECT count(*) FROM articles") == [(1,)]
    assert b.housekeeping(NOW + HOUSEKEEPING_EVERY, max_age=86400.0) == 1


def test_housekeeping_drops_expired_host_slots(stores, postgres_url):
    stores(owner="gone", lease_seconds=1, renew=False).host_slots().take("h.example", 1)
    time.sleep(1.2)
    stores().housekeeping(NOW)
    assert rows(postgres_url, "SELECT count(*) FROM host_slots") == [(0,)]


# -- errors and connections


@pytest.mark.parametrize("code", ["40001", "40P01"])
def test_a_conflict_the_server_reports_is_a_store_conflict(stores, code):
    store = stores()
    with pytest.raises(StoreConflict), store.transaction():
        store.execute(f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{code}'; END $$")
    assert store.count("feeds") == len(URLS)


def test_a_deadlock_is_a_store_conflict_and_rolls_back(stores, postgres_url):
    a, b = stores(owner="a"), stores(owner="b")
    ids = [row[0] for row in rows(postgres_url, "SELECT id FROM feeds ORDER BY id")][:2]
    outcomes: dict[str, BaseException | None] = {}
    both_locked = threading.Barrier(2)

    def run(store: PostgresStore, first: int, second: int, name: str) -> None:
        try:
            with store.transaction():
                store.execute("UPDATE feeds SET error_count = 7 WHERE id = %s", (first,))
                both_locked.wait(5)
                store.execute("UPDATE feeds SET error_count = 7 WHERE id = %s", (second,))
            outcomes[name] = None
        except StoreError as exc:
            outcomes[name] = exc

    threads = [
        threading.Thread(target=run, args=(a, ids[0], ids[1], "a")),
        threading.Thread(target=run, args=(b, ids[1], ids[0], "b")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    errors = [exc for exc in outcomes.values() if exc is not None]
    assert len(outcomes) == 2
    assert len(errors) == 1
    assert isinstance(errors[0], StoreConflict)


def test_the_store_reconnects_after_the_server_dropped_it(stores, postgres_url):
    store = stores()
    pid = store.connection().info.backend_pid
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    # A transaction starts on a new connection at once.
    assert len(store.due_feeds(NOW, limit=1)) == 1
    assert store.connection().info.backend_pid != pid
    # A statement on its own fails once, then the store connects again.
    pid = store.connection().info.backend_pid
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with suppress(StoreError):
        store.count("feeds")
    assert store.count("feeds") == len(URLS)


def test_check_writable_refuses_a_read_only_database(stores, postgres_url):
    store = stores()
    store.check_writable()
    name = postgres_url.rpartition("/")[2]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
    reader = stores()  # the setting applies to new sessions
    with pytest.raises(StoreError, match="read-only"):
        reader.check_writable()


# -- the pipeline


async def test_the_pipeline_polls_into_postgresql(
    server: FeedServer, tmp_path: Path, postgres_url: str
):
    story = server.url("/posts/story")
    first = server.add(
        "/a.xml",
        rss20(
            Item("a-1", "The story", f"{story}?utm_source=rss", "<p>The story, told in full.</p>"),
            Item("a-2", "Another one", server.url("/posts/other"), "<p>Other text.</p>"),
            title="A",
        ),
    )
    second = server.add(
        "/b.xml", rss20(Item("b-1", "The story, again", story, "<p>A line.</p>"), title="B")
    )
    config = load_config(write_config(tmp_path, [first, second]))
    store = open_store(postgres_url)
    try:
        store.sync_feeds(config.feeds, datetime.now(UTC))
        guard = make_guard(config)
        async with make_client(config, guard) as client:
            pipeline = Pipeline(config, store, client, guard)
            try:
                outcomes = [
                    *await pipeline.poll_many(store.feeds_by_url([first])),
                    *await pipeline.poll_many(store.feeds_by_url([second])),
                ]
                again = await pipeline.poll_many(store.feeds_by_url([first, second]))
            finally:
                pipeline.close()
    finally:
        store.close()
    assert [(o.status, o.new, o.linked) for o in outcomes] == [
        (Status.OK, 2, 0),
        (Status.OK, 0, 1),
    ]
    assert {o.status for o in again} == {Status.NOT_MODIFIED}
    assert rows(postgres_url, "SELECT title, url FROM articles ORDER BY id") == [
        ("The story", story),
        ("Another one", server.url("/posts/other")),
    ]
    assert rows(
        postgres_url,
        "SELECT f.url, af.guid FROM article_feeds af JOIN feeds f ON f.id = af.feed_id "
        "WHERE af.article_id = (SELECT id FROM articles WHERE url = %s) ORDER BY f.id",
        story,
    ) == [(first, "a-1"), (second, "b-1")]
    assert rows(postgres_url, "SELECT state, lease_owner FROM feeds") == [("ok", None)] * 2
    assert rows(
        postgres_url, "SELECT count(*) FROM articles WHERE search @@ to_tsquery('simple', 'told')"
    ) == [(1,)]
    assert not config.database.exists()


def test_a_huge_text_is_stored_and_searched_by_its_first_part(stores: Any, postgres_url: str):
    """A tsvector holds at most 1 MB: a text of 2.4 MB of distinct words would
    fail its feed's transaction if it were indexed whole."""
    import dataclasses
    import random

    from feedd.store import open_reader
    from feedd.store.reading import Filters

    store = stores()
    (feed,) = store.feeds_by_url([URLS[0]])
    picker = random.Random(7)  # noqa: S311 - test data, not a secret
    words = ["".join(picker.choice("abcdefghijklmnop") for _ in range(11)) for _ in range(200_000)]
    huge = dataclasses.replace(
        entry("huge", "https://news.example/huge"), content_text="Café " + " ".join(words)
    )
    with store.transaction():
        store.apply(
            feed.id, dedupe.decide(store.known(feed.id, [huge]), [huge]), language=None, now=NOW
        )
    reader = open_reader(postgres_url)
    try:
        for query, found in (("cafe", 1), (words[1000], 1), (words[-1], 0)):
            rows_found = reader.search(query, Filters(), ["id"])
            assert len(rows_found) == found, query
    finally:
        reader.close()
    (length,) = rows(postgres_url, "SELECT length(content_text) FROM articles")[0]
    assert length == len(huge.content_text or "")  # stored whole; only the index is bounded


def test_pollers_whose_configs_differ_only_in_process_settings_edit_no_feed(
    postgres_url: str, tmp_path: Path
):
    from feedd.config import parse_config

    feeds = [{"url": url, "tags": ["news"]} for url in URLS]
    first = parse_config({"feeds": feeds}, tmp_path / "a.toml")
    second = parse_config(
        {
            "feeds": feeds,
            "fetch": {"user_agent": "poller-2", "workers": 1, "concurrency": 4},
            "log": {"format": "json"},
            "cluster": {"name": "poller-2", "poll_only": False},
        },
        tmp_path / "b.toml",
    )
    with PostgresStore(postgres_url, owner="one") as one:
        one.sync_feeds(first.feeds, NOW)
        # xmin is the transaction that last wrote a row: unchanged = never rewritten.
        before = rows(postgres_url, "SELECT id, xmin::text FROM feeds ORDER BY id")
        with PostgresStore(postgres_url, owner="two") as two:
            two.sync_feeds(second.feeds, NOW + timedelta(minutes=1))
        assert rows(postgres_url, "SELECT id, xmin::text FROM feeds ORDER BY id") == before
