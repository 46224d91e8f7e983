"""Every input format end to end to Kafka: JSON Feed, Google News sitemap, OPML feed list."""

from __future__ import annotations

import gzip
import json

from ingest.models import Article
from tests.support.deploy import Deploy
from tests.support.kafka import read_topic
from tests.support.site import Site

PAGES = ["/articles/tram-line.html", "/articles/cup-final.html", "/articles/museum-reopens.html"]


def _published(deployment: object, site: Site) -> dict[str, Article]:
    records = read_topic(deployment.bootstrap, deployment.topic)  # type: ignore[attr-defined]
    articles = (Article.model_validate_json(r.value) for r in records)
    return {(a.url or "").removeprefix(site.base): a for a in articles}


def test_json_feed_to_kafka(deploy: Deploy, site: Site) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Gazette JSON",
        "home_page_url": site.base,
        "items": [
            {
                "id": str(i),
                "url": site.url(path),
                "title": f"Item {i}",
                "date_published": "2026-03-15T10:00:00+01:00",
            }
            for i, path in enumerate(PAGES)
        ],
    }
    site.routes["/feed.json"] = (200, {"Content-Type": "application/feed+json"}, json.dumps(feed).encode())
    deployment = deploy(["/feed.json"])
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    published = _published(deployment, site)
    assert set(published) == set(PAGES)
    assert all(a.source.feed_title == "Gazette JSON" for a in published.values())


def _news_sitemap(site: Site, paths: list[str]) -> bytes:
    urls = "".join(
        f"<url><loc>{site.url(path)}</loc><news:news><news:publication><news:name>Gazette</news:name>"
        "<news:language>en</news:language></news:publication>"
        "<news:publication_date>2026-03-15T10:00:00+01:00</news:publication_date>"
        f"<news:title>Story {i}</news:title></news:news></url>"
        for i, path in enumerate(paths)
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
        "xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>" + urls + "</urlset>"
    ).encode()


def test_google_news_sitemap_to_kafka(deploy: Deploy, site: Site) -> None:
    # Served as text/html: the bytes, not the header, say what it is.
    site.routes["/news-sitemap.xml"] = (200, {"Content-Type": "text/html"}, _news_sitemap(site, PAGES))
    deployment = deploy(["/news-sitemap.xml"])
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert set(_published(deployment, site)) == set(PAGES)


def test_sitemap_index_is_followed_to_its_recent_sitemaps(deploy: Deploy, site: Site) -> None:
    xml = {"Content-Type": "application/xml"}
    site.routes["/sitemaps/news.xml"] = (200, xml, _news_sitemap(site, PAGES[:2]))
    site.routes["/sitemaps/sport.xml.gz"] = (200, xml, gzip.compress(_news_sitemap(site, PAGES[2:])))
    site.routes["/sitemaps/2019.xml"] = (200, xml, _news_sitemap(site, ["/articles/council-budget.html"]))
    children = [
        ("/sitemaps/news.xml", "2026-03-15T10:05:00Z"),
        ("/sitemaps/sport.xml.gz", "2026-03-14"),
        ("/sitemaps/2019.xml", "2019-12-31"),
    ]
    index = "".join(f"<sitemap><loc>{site.url(p)}</loc><lastmod>{m}</lastmod></sitemap>" for p, m in children)
    site.routes["/sitemap-index.xml"] = (
        200,
        xml,
        f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{index}</sitemapindex>".encode(),
    )
    deployment = deploy(["/sitemap-index.xml"])
    first = deployment.run("run", "--once")
    assert first.returncode == 0, first.stderr
    assert "published=3" in first.stderr
    assert set(_published(deployment, site)) == set(PAGES)
    assert "/sitemaps/2019.xml" not in site.requests  # an old archive is not polled
    # The index has not changed: its children are polled again all the same, and bring nothing new.
    second = deployment.run("run", "--once")
    assert second.returncode == 0, second.stderr
    assert "entries: none" in second.stderr
    assert site.requests.count("/sitemaps/news.xml") == 2
    assert site.requests.count("/sitemaps/sport.xml.gz") == 2


def test_opml_feed_list_to_kafka(deploy: Deploy, site: Site, tmp_path: object) -> None:
    from pathlib import Path

    opml = (
        "<?xml version='1.0'?><opml version='2.0'><head><title>Feeds</title></head><body>"
        f"<outline text='Local'><outline text='Gazette' type='rss' xmlUrl='{site.url('/feeds/local.atom')}' "
        "category='regional'/></outline></body></opml>"
    )
    path = Path(str(tmp_path)) / "feeds.opml"
    path.write_text(opml)
    deployment = deploy([], feeds_file=str(path))  # type: ignore[arg-type]
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    published = _published(deployment, site)
    assert "/articles/tram-line.html" in published
    assert all({"Local", "regional"} <= set(a.tags) for a in published.values())


def test_a_web_page_given_as_feed_is_resolved_through_its_alternate_link(deploy: Deploy, site: Site) -> None:
    page = (
        "<!DOCTYPE html><html><head><title>The Harbour Gazette</title>"
        "<link rel='alternate' type='application/rss+xml' title='World' href='/feeds/world.rss'>"
        "</head><body><h1>The Harbour Gazette</h1><p>Welcome.</p></body></html>"
    )
    site.routes["/index.html"] = (200, {"Content-Type": "text/html"}, page.encode())
    deployment = deploy(["/index.html"])
    found = deployment.run("discover", site.url("/index.html"))
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout.splitlines()[0]) == {
        "url": site.url("/feeds/world.rss"),
        "kind": "rss",
        "title": "World",
    }
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert "is a web page; polling the feed it announces" in result.stderr
    assert len(_published(deployment, site)) == 4
    again = deployment.run("run", "--once")  # the resolved feed is remembered: a plain 304 now
    assert again.returncode == 0, again.stderr
    assert "is a web page" not in again.stderr
    assert "not_modified=1" in again.stderr
