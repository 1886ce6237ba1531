"""config/datasette.yml and the schema's views, opened with Datasette's Python API.

The database is filled by a real fetch (FeedServer + fetch_once), then served
by Datasette in-process (ds.client speaks ASGI, no socket).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer
from integration_support import Item, rss20

from feedd.config import load_config
from feedd.pipeline import fetch_once
from feedd.types import Status

datasette_app = pytest.importorskip(
    "datasette.app", reason="datasette is not installed (pip install -e '.[test]')"
)
yaml = pytest.importorskip("yaml", reason="PyYAML (a datasette dependency) is not installed")

METADATA = Path(__file__).parents[2] / "config" / "datasette.yml"

# Both feeds carry the summit story (one article, two feeds); each has one of its own.
SUMMIT = Item(
    guid="summit",
    title="Climate summit opens",
    link="https://news.example/climate-summit",
    description="<p>Leaders meet to talk about the climate.</p>",
    pub_date="Wed, 03 Jan 2024 09:00:00 GMT",
)
ZEBRAS = Item(
    guid="zebras",
    title="Zebras gallop",
    link="https://news.example/zebras",
    description="<p>Across the plain, at dawn.</p>",
    pub_date="Tue, 02 Jan 2024 09:00:00 GMT",
)
RUST = Item(
    guid="rust",
    title="A new compiler release",
    link="https://tech.example/compiler",
    description="<p>Faster builds for everyone.</p>",
    pub_date="Thu, 04 Jan 2024 09:00:00 GMT",
)


def feed_block(url: str, name: str, tags: list[str], enabled: bool = True) -> str:
    tag_list = ", ".join(f'"{t}"' for t in tags)
    return (
        f'[[feeds]]\nurl = "{url}"\nname = "{name}"\ntags = [{tag_list}]\n'
        f"enabled = {str(enabled).lower()}\n"
    )


@pytest.fixture
async def database(server: FeedServer, tmp_path: Path) -> Path:
    news = server.add("/news.xml", rss20(SUMMIT, ZEBRAS), content_type="application/rss+xml")
    tech = server.add("/tech.xml", rss20(SUMMIT, RUST), content_type="application/rss+xml")
    missing = server.add("/missing.xml", b"gone", status=404)
    config_path = tmp_path / "feedd.toml"
    config_path.write_text(
        "\n".join(
            [
                'database = "feedd.db"',  # the stem is the key under `databases`
                "[fetch]",
                "allow_private_networks = true",
                'timeout = "10s"',
                feed_block(news, "News", ["news", "world"]),
                feed_block(tech, "Tech", ["tech"]),
                feed_block(missing, "Missing", ["news"]),
                feed_block(server.url("/off.xml"), "Off", [], enabled=False),
            ]
        )
    )
    config = load_config(config_path)
    outcomes = await fetch_once(config)
    assert sorted(o.status is Status.OK for o in outcomes) == [False, True, True], outcomes
    assert config.database.name == "feedd.db"
    return config.database


@pytest.fixture
async def datasette(database: Path):
    metadata = yaml.safe_load(METADATA.read_text())
    ds = datasette_app.Datasette([str(database)], metadata=metadata)
    await ds.invoke_startup()
    return ds


async def get_json(ds: Any, path: str) -> Any:
    response = await ds.client.get(path)
    assert response.status_code == 200, (path, response.text[:500])
    return response.json()


def facet_values(data: dict[str, Any], column: str) -> dict[Any, int]:
    return {v["value"]: v["count"] for v in data["facet_results"][column]["results"]}


def test_metadata_names_only_real_tables_and_columns(database: Path):
    """A key for a table, view or column that does not exist is silently ignored by
    Datasette; catch the drift here instead."""
    import sqlite3
    from contextlib import closing

    metadata = yaml.safe_load(METADATA.read_text())
    (name,) = metadata["databases"]
    assert name == database.stem
    with closing(sqlite3.connect(database)) as conn:
        for table, options in metadata["databases"][name]["tables"].items():
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")}
            assert columns, f"{table} is in datasette.yml but not in the schema"
            named = set(options.get("columns", {}))
            for key in ("sort", "sort_desc", "label_column", "fts_pk"):
                if key in options:
                    named.add(options[key])
            for facet in options.get("facets", []):
                named.add(facet if isinstance(facet, str) else next(iter(facet.values())))
            assert named <= columns, (table, named - columns)


async def test_metadata_loads(datasette):
    data = await get_json(datasette, "/-/metadata.json")
    assert data["title"] == "feedd"
    assert "articles" in data["databases"]["feedd"]["tables"]

    tables = await get_json(datasette, "/feedd.json")
    by_name = {t["name"]: t for t in tables["tables"]}
    assert by_name["articles"]["fts_table"] == "articles_fts"
    assert by_name["articles_fts"]["hidden"]
    assert by_name["articles_fts_data"]["hidden"]
    assert not by_name["articles"]["hidden"]
    assert {"latest_articles", "feed_health", "link_outcomes"} <= {
        v["name"] for v in tables["views"]
    }


async def test_full_text_search_on_articles(datasette):
    data = await get_json(
        datasette, "/feedd/articles.json?_search=climate&_shape=objects&_col=title"
    )
    assert [r["title"] for r in data["rows"]] == ["Climate summit opens"]

    data = await get_json(datasette, "/feedd/articles.json?_search=dawn&_shape=objects")
    assert [r["title"] for r in data["rows"]] == ["Zebras gallop"]  # from content_text

    data = await get_json(datasette, "/feedd/articles.json?_search=nothing-like-it")
    assert data["rows"] == []


async def test_articles_default_sort_and_facets(datasette):
    data = await get_json(datasette, "/feedd/articles.json?_shape=objects")
    assert data["human_description_en"] == "sorted by published_at descending"
    assert [r["title"] for r in data["rows"]] == [
        "A new compiler release",
        "Climate summit opens",
        "Zebras gallop",
    ]
    assert sum(facet_values(data, "language").values()) == 3


async def test_latest_articles_view(datasette):
    data = await get_json(datasette, "/feedd/latest_articles.json?_shape=objects")
    rows = {r["title"]: r for r in data["rows"]}
    assert set(rows) == {"A new compiler release", "Climate summit opens", "Zebras gallop"}
    assert rows["Climate summit opens"]["feeds"] == "News, Tech"
    assert rows["Zebras gallop"]["feeds"] == "News"
    assert rows["Climate summit opens"]["feed_tags"] == '["news","tech","world"]'
    assert data["rows"][0]["title"] == "A new compiler release"  # sort_desc

    assert facet_values(data, "feeds") == {"News, Tech": 1, "News": 1, "Tech": 1}
    assert facet_values(data, "feed_tags") == {"news": 2, "world": 2, "tech": 2}
    assert sum(facet_values(data, "language").values()) == 3

    filtered = await get_json(datasette, "/feedd/latest_articles.json?_shape=objects&feeds=News")
    assert [r["title"] for r in filtered["rows"]] == ["Zebras gallop"]


async def test_feed_health_view(datasette):
    data = await get_json(datasette, "/feedd/feed_health.json?_shape=objects&_sort=name")
    rows = {r["name"]: r for r in data["rows"]}
    assert {name: r["state"] for name, r in rows.items()} == {
        "Missing": "failing",
        "News": "ok",
        "Off": "disabled",
        "Tech": "ok",
    }
    assert rows["News"]["article_count"] == 2
    assert rows["Off"]["article_count"] == 0
    assert rows["Missing"]["error_count"] == 1
    assert rows["Missing"]["last_status"] == 404
    assert rows["Missing"]["last_error"]
    assert facet_values(data, "state") == {"ok": 2, "failing": 1, "disabled": 1}

    feeds = await get_json(datasette, "/feedd/feeds.json")
    assert facet_values(feeds, "state") == {"ok": 2, "failing": 1, "new": 1}


async def test_link_outcomes_view_is_queryable(datasette):
    data = await get_json(datasette, "/feedd/link_outcomes.json?_shape=objects")
    assert data["rows"] == []  # nothing was resolved: the sample links are not short links
    assert data["columns"] == ["outcome", "links", "failing", "last_checked_at"]


async def test_sql_against_the_views(datasette):
    data = await get_json(
        datasette,
        "/feedd.json?_shape=objects&sql="
        "select+title+from+latest_articles+order+by+published_at+desc+limit+1",
    )
    assert data["rows"] == [{"title": "A new compiler release"}]
