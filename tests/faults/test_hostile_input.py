"""Hostile pages and feeds: each fails alone, is logged once and counted; other feeds carry on."""

from __future__ import annotations

import time

import pytest

from ingest.models import Article, DeadLetter
from tests.faults.hostile import HOSTILE, redirect, serve_hostile
from tests.support.deploy import Deploy
from tests.support.kafka import read_topic
from tests.support.site import Site

LIMITS = {"total_timeout_s": 3, "read_timeout_s": 2, "connect_timeout_s": 2, "retries": 0}
WORLD = "/feeds/world.rss"


def _articles(deployment: object, topic: str) -> list[Article]:
    return [Article.model_validate_json(r.value) for r in read_topic(deployment.bootstrap, topic)]  # type: ignore[attr-defined]


def test_hostile_pages_fail_alone_and_fall_back_to_the_feed(deploy: Deploy, site: Site, trap: Site) -> None:
    serve_hostile(site)
    deployment = deploy([WORLD, "/hostile/feed.rss"], http=LIMITS)
    started = time.monotonic()
    result = deployment.run("run", "--once")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert elapsed < 60
    articles = _articles(deployment, deployment.topic)
    by_url = {a.url.removeprefix(site.base).split("?")[0]: a for a in articles if a.url}
    # The good feed is untouched by its hostile neighbour.
    assert {p for p in by_url if p.startswith("/articles/")} == {
        "/articles/harbour-strike.html",
        "/articles/council-budget.html",
        "/articles/coastal-storm.html",
        "/articles/marktplatz.html",
    }
    for path, (title, logged, reason) in HOSTILE.items():
        assert result.stderr.count(logged) == 1, logged
        article = by_url[path]
        assert article.extraction.method == "feed"
        assert article.extraction.fallback_reason == reason
        assert article.body == f"The feed's own text about {title.lower()}."
    # Nothing internal was ever reached: the refused redirects were not followed.
    assert trap.requests == []


def test_hostile_pages_without_feed_text_go_to_the_dead_letter_topic(deploy: Deploy, site: Site) -> None:
    serve_hostile(site, with_summaries=False)
    deployment = deploy(["/hostile/feed.rss"], http=LIMITS)
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in read_topic(deployment.bootstrap, deployment.dlq_topic)
    ]
    by_path = {letter.url.removeprefix(site.base): letter for letter in letters if letter.url}
    # All but the slow page, whose timeout is transient: retried by the next poll, not dead-lettered.
    assert set(by_path) == {p for p, (_, _, reason) in HOSTILE.items() if reason != "timeout"}
    assert "deferred " + site.url("/hostile/slow.html") in result.stderr
    for path, letter in by_path.items():
        assert letter.reason == "no_content"
        assert HOSTILE[path][2] in letter.error
        logged = f"no text on the page ({HOSTILE[path][2]}) and none in the feed (url={site.url(path)})"
        assert result.stderr.count(logged) == 1


ODD_SPELLINGS = {
    "decimal": "http://2130706434:{port}/articles/tram-line.html",
    "hex": "http://0x7f.0.0.2:{port}/articles/tram-line.html",
    "octal": "http://0177.0.0.2:{port}/articles/tram-line.html",
    "short": "http://127.1:{port}/articles/tram-line.html",
    "mapped": "http://[::ffff:127.0.0.2]:{port}/articles/tram-line.html",
    "other loopback": "http://127.0.0.2:{port}/articles/tram-line.html",
    "scheme": "javascript:alert(1)",
}


def test_odd_spellings_of_internal_addresses_are_refused(deploy: Deploy, site: Site, trap: Site) -> None:
    """Only 127.0.0.1/32 is allowed: every spelling of 127.0.0.2 must be refused (the trap listens there)."""
    port = site.base.rsplit(":", 1)[1]
    items = "".join(
        f"<item><title>Odd {why}</title><link>{link.format(port=port)}</link><guid>odd-{n}</guid>"
        "<description>Only the feed's text.</description></item>"
        for n, (why, link) in enumerate(ODD_SPELLINGS.items())
    )
    feed = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Odd</title>{items}</channel></rss>"
    site.routes["/odd.rss"] = (200, {"Content-Type": "application/rss+xml"}, feed.encode())
    deployment = deploy(["/odd.rss"], http=LIMITS)
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert trap.requests == []
    published = _articles(deployment, deployment.topic)
    assert sorted(a.title or "" for a in published) == sorted(f"Odd {why}" for why in ODD_SPELLINGS)
    assert {a.extraction.method for a in published} == {"feed"}


def test_broken_feeds_are_counted_and_do_not_stop_the_others(deploy: Deploy, site: Site) -> None:
    json_ct = {"Content-Type": "application/rss+xml"}
    site.routes["/bad/malformed.rss"] = (200, json_ct, b"<rss><channel><item><title>broken")
    site.routes["/bad/html.rss"] = (
        200,
        {"Content-Type": "text/html"},
        b"<html><body><p>Not a feed</p></body></html>",
    )
    laughs = (
        b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY a 'aaaaaaaaaa'>"
        + b"".join(f"<!ENTITY {chr(98 + i)} '{('&' + chr(97 + i) + ';') * 10}'>".encode() for i in range(8))
        + b"]><rss version='2.0'><channel><title>&i;</title></channel></rss>"
    )
    site.routes["/bad/laughs.rss"] = (200, json_ct, laughs)
    external = (
        b"<?xml version='1.0'?><!DOCTYPE r [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
        b"<rss version='2.0'><channel><title>t</title><item><title>&x;</title>"
        b"<link>http://127.0.0.1:1/x</link><description>&x; is what it says</description></item>"
        b"</channel></rss>"
    )
    site.routes["/bad/external.rss"] = (200, json_ct, external)
    latin = "<?xml version='1.0' encoding='iso-8859-1'?><rss version='2.0'><channel><title>Caf\u00e9</title>"
    latin += "<item><title>M\u00fcller wins</title><link>{base}/articles/tram-line.html</link></item>"
    latin += "</channel></rss>"
    site.routes["/bad/charset.rss"] = (
        200,
        {"Content-Type": "application/rss+xml; charset=utf-8"},  # the header lies
        latin.format(base=site.base).encode("iso-8859-1"),
    )
    feeds = [
        WORLD,
        "/bad/malformed.rss",
        "/bad/html.rss",
        "/bad/laughs.rss",
        "/bad/external.rss",
        "/bad/charset.rss",
    ]
    deployment = deploy(feeds, http=LIMITS)
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    paths = {a.url.removeprefix(site.base) for a in _articles(deployment, deployment.topic) if a.url}
    assert {"/articles/harbour-strike.html", "/articles/tram-line.html"} <= paths
    assert result.stderr.count("poll of " + site.url("/bad/html.rss") + " failed (html_not_feed)") == 1
    bodies = " ".join(a.body for a in _articles(deployment, deployment.topic))
    assert "is what it says" in bodies  # the entry was read...
    assert "root:x:0:0" not in bodies  # ...and the external entity was not
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_feed_of_ten_thousand_entries_is_taken_in_bounded_batches(deploy: Deploy, site: Site) -> None:
    from tests.support.corpus import feed_xml

    site.routes["/big/feed.rss"] = (
        200,
        {"Content-Type": "application/rss+xml"},
        feed_xml(site, range(10_000), "/big"),
    )
    # The pages do not exist: each entry ends as a dead letter, which is cheap, so the test measures
    # the parsing and batching of the feed itself.
    deployment = deploy(["/big/feed.rss"], http=LIMITS, pipeline={"max_entries_per_poll": 300})
    first = deployment.run("run", "--once", timeout=300)
    assert first.returncode == 0, first.stderr
    assert "10000 new entries; processing 300 now" in first.stderr
    second = deployment.run("run", "--once", timeout=300)
    assert second.returncode == 0, second.stderr
    assert "9700 new entries; processing 300 now" in second.stderr
    letters = read_topic(deployment.bootstrap, deployment.dlq_topic)
    assert len({r.key for r in letters}) == 600


def _item(title: str, link: str | None, guid: str, summary: str | None = None, extra: str = "") -> str:
    parts = [f"<item><title>{title}</title><guid isPermaLink='false'>{guid}</guid>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if summary is not None:
        parts.append(f"<description>{summary}</description>")
    return "".join(parts) + extra + "</item>"


def test_single_hostile_inputs_neither_stop_the_run_nor_block_the_feed(
    deploy: Deploy, site: Site, trap: Site
) -> None:
    """Each of these once stopped a run or a feed. Now each ends alone, said once, and the good
    entries beside them are published."""
    other = Site().start()  # an allowed address, on a port no page of this feed may use
    try:
        surrogate_page = (
            "<html><head><script type='application/ld+json'>"
            '{"@type": "NewsArticle", "headline": "Tide\\ud800 tables",'
            ' "author": {"name": "Kim\\udfff Berg"}}'
            "</script></head><body><article><p>"
            + "The harbour master published new tide tables for the spring. " * 20
            + "</p></article></body></html>"
        )
        site.routes["/hostile/surrogate.html"] = (200, {"Content-Type": "text/html"}, surrogate_page.encode())
        site.routes["/hostile/report.html"] = (
            200,
            {"Content-Type": "text/html"},
            b"%PDF-1.7\n" + bytes(range(256)) * 400,
        )
        site.raw["/hostile/walled.html"] = redirect(site.url("/account/login?next=/hostile/walled.html"))  # type: ignore[assignment]
        site.routes["/account/login"] = (
            200,
            {"Content-Type": "text/html"},
            b"<html><body><p>Please log in to read on.</p></body></html>",
        )
        long_link = site.url("/articles/tram-line.html?q=" + "x" * 100_000)
        items = [
            _item("Harbour strike", site.url("/articles/harbour-strike.html"), "good-1"),
            _item("Bad &#xD800; title", site.url("/missing/x.html"), "charref-1", "Bad &#xD800; summary."),
            _item(
                "Empty label", "http://news..example.com/a", "host-1", "The feed's text on an empty label."
            ),
            _item(
                "Long label", "http://" + "a" * 64 + ".example.com/", "host-2", "The feed's text, long label."
            ),
            _item("Bad IDNA", "http://xn--a/", "host-3", "The feed's text on bad IDNA."),
            _item(
                "Other port", other.url("/articles/museum-reopens.html"), "port-1", "The feed's text, port."
            ),
            _item("Long URL", long_link, "long-1", "The feed's text on a long URL."),
            _item("A PDF", site.url("/hostile/report.html"), "pdf-1", "The feed's text on a PDF."),
            _item("Walled", site.url("/hostile/walled.html"), "wall-1", "The feed's text behind a wall."),
            _item("Surrogates", site.url("/hostile/surrogate.html"), "json-1"),
            _item(
                "Episode",
                None,
                "",
                extra=f"<enclosure url='{site.url('/ep.mp3')}' type='audio/mpeg' length='1'/>",
            ),
        ]
        channel = "".join(items)
        feed = f"<?xml version='1.0'?><rss version='2.0'><channel><title>H</title>{channel}</channel></rss>"
        site.routes["/hostile/items.rss"] = (200, {"Content-Type": "application/rss+xml"}, feed.encode())
        deployment = deploy(["/hostile/items.rss"], http=LIMITS)
        result = deployment.run("run", "--once")
    finally:
        other.stop()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    articles = {a.guid: a for a in _articles(deployment, deployment.topic)}
    assert articles["good-1"].extraction.method == "trafilatura"
    assert (articles["charref-1"].title, articles["charref-1"].body) == (
        "Bad \ufffd title",
        "Bad \ufffd summary.",
    )
    for guid, reason in [
        ("host-1", "invalid_url"),
        ("host-2", "invalid_url"),
        ("host-3", "invalid_url"),
        ("port-1", "blocked_port"),
        ("long-1", "unsupported_content"),  # too long to be a link: a GUID-only entry
        ("pdf-1", "unsupported_content"),
        ("wall-1", "login_wall"),
    ]:
        assert (articles[guid].extraction.method, articles[guid].extraction.fallback_reason) == (
            "feed",
            reason,
        )
    assert "Please log in" not in articles["wall-1"].body
    assert articles["json-1"].title == "Tide tables"
    assert articles["json-1"].authors == ["Kim Berg"]
    assert "1 items skipped (enclosure_only: 1)" in result.stderr
    assert other.requests == []  # the page on a port outside the allowed ones was never asked for
    assert trap.requests == []
    assert "/ep.mp3" not in site.requests


def test_an_unreachable_robots_txt_defers_its_pages_until_it_answers(deploy: Deploy, site: Site) -> None:
    site.routes["/robots.txt"] = (503, {"Content-Type": "text/plain"}, b"busy")
    deployment = deploy(["/feeds/world.rss"], http={**LIMITS, "robots_txt": True})
    first = deployment.run("run", "--once")
    assert first.returncode == 0, first.stderr
    assert "robots.txt of " + site.base + " unreachable" in first.stderr
    assert "the page waits for it" in first.stderr
    assert _articles(deployment, deployment.topic) == []  # not published with the feed's text, not done
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n")
    second = deployment.run("run", "--once")
    assert second.returncode == 0, second.stderr
    published = _articles(deployment, deployment.topic)
    assert len(published) == 4
    assert {a.extraction.method for a in published} == {"trafilatura"}  # the pages themselves
