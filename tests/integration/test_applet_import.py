"""pipeline.import_applet in process, on both backends: the seed's short link
followed (a real server on 127.0.0.1) to a page on www.rt.com (the guard's
resolver answers 127.0.0.1 for that host: only the name lookup is stood in
for), whose same-site canonical link is the article's real URL."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feedd import fetch
from feedd.config import load_config
from feedd.pipeline import import_applet
from feedd.store import open_store
from feedd.types import Action

SEED = Path(__file__).parents[1] / "data" / "applet" / "000_288665181018c694.txt"
CANONICAL = "https://www.rt.com/news/544592-russia-us-security-talks/"


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "feedd.db")
    return str(request.getfixturevalue("postgres_url"))


def test_the_seed_lands_under_its_real_canonical_url(server, tmp_path, database):
    page = f"http://www.rt.com:{server.port}/news/544592-russia-us-security-talks/"
    server.add(
        "/news/544592-russia-us-security-talks/",
        f'<html><head><link rel="canonical" href="{CANONICAL}">'
        '<meta property="article:published_time" content="2021-12-28T11:46:31Z">'
        "</head><body>The article</body></html>",
        content_type="text/html",
    )
    server.add("/33QReyT", b"", status=301, location=page, content_type=None)
    archive = tmp_path / "seed.txt"
    archive.write_bytes(SEED.read_bytes().replace(b"https://ift.tt/", server.url("/").encode()))
    config_path = tmp_path / "feedd.toml"
    config_path.write_text(
        f'database = "{database}"\n[fetch]\nallow_private_networks = true\nworkers = 0\n'
        '[links]\nshorteners = ["127.0.0.1"]\n'
    )
    config = load_config(config_path)

    async def local(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    guard = fetch.Guard(allow_private=True, resolver=local)
    zone = ZoneInfo("Europe/Moscow")
    report = import_applet(config, [archive], zone=zone, guard=guard)
    [done] = report.stories
    assert (done.action, done.url, done.link_outcome) == (Action.INSERT, CANONICAL, "ok")
    assert done.published_at is not None
    assert done.published_at.astimezone(zone).isoformat() == "2021-12-28T14:46:00+03:00"
    assert report.damaged == () and report.links_resolved == 1

    again = import_applet(config, [archive], zone=zone, guard=guard)
    assert [s.action for s in again.stories] == [Action.SKIP]
    assert again.links_resolved == 0
    store = open_store(config.database)
    try:
        assert store.count("articles") == 1
        assert store.feed_states() == {"imported": 1}
    finally:
        store.close()
