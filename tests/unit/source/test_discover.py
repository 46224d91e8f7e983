"""Feed discovery from a web page's <link rel="alternate"> elements."""

from __future__ import annotations

from ingest.source.discover import feed_links

PAGE = b"""<!DOCTYPE html><html><head>
<base href="https://news.example.org/section/">
<link rel="alternate" type="application/rss+xml" title="World" href="/world/rss.xml">
<link rel="alternate" type="application/atom+xml" href="atom.xml">
<link rel="Alternate feed" type="application/feed+json; charset=utf-8" href="https://news.example.org/feed.json">
<link rel="alternate" type="application/rss+xml" href="/world/rss.xml?utm_source=x">
<link rel="alternate" type="text/html" hreflang="de" href="/de/">
<link rel="stylesheet" type="text/css" href="/style.css">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
</head><body><a href="/other/rss.xml">RSS</a></body></html>"""


def test_feed_links_in_page_order_resolved_and_deduplicated() -> None:
    assert feed_links(PAGE, "https://news.example.org/") == [
        ("https://news.example.org/world/rss.xml", "rss", "World"),
        ("https://news.example.org/section/atom.xml", "atom", None),
        ("https://news.example.org/feed.json", "jsonfeed", None),
    ]


def test_pages_without_feeds_and_non_html_give_nothing() -> None:
    assert feed_links(b"<html><head><title>x</title></head></html>", "https://a.example/") == []
    assert feed_links(b"", "https://a.example/") == []
    assert feed_links(b"\x00\x01binary", "https://a.example/") == []
