from __future__ import annotations

from pathlib import Path

import pytest

from ingest.config import FeedConfig, Settings
from ingest.errors import ConfigError
from ingest.source.feedlist import load_feeds, parse_opml, parse_url_list, read_feeds_file
from tests.unit.factories import DATA

LISTS = DATA / "feedlists"
URLS = [
    "https://news.example.org/world/rss.xml",
    "https://news.example.org/europe/rss.xml",
    "https://news.example.org/science/atom.xml",
]


def test_opml_folders_become_tags() -> None:
    feeds = read_feeds_file(LISTS / "feeds.opml")
    assert feeds == [
        FeedConfig(
            url="https://news.example.org/world/rss.xml",
            name="Example News Online — World",
            tags=("World", "International"),
        ),
        FeedConfig(
            url="https://news.example.org/europe/rss.xml",
            name="Example News Online — Europe",
            tags=("World", "Europe"),
        ),
        FeedConfig(
            url="https://news.example.org/science/atom.xml",
            name="Example News Online — Science",
            tags=("Science",),
        ),
    ]


def test_nested_folders_accumulate_tags() -> None:
    opml = b"""<opml version="2.0"><body>
      <outline text="News"><outline title="Europe">
        <outline text="Feed" xmlUrl="https://a.example/feed" category="Politics, Economy"/>
      </outline></outline>
      <outline text="Untitled folder without a label"><outline xmlUrl="https://b.example/feed"/></outline>
    </body></opml>"""
    feeds = parse_opml(opml, "test.opml")
    assert feeds[0].tags == ("News", "Europe", "Politics", "Economy")
    assert feeds[0].name == "Feed"
    assert feeds[1].tags == ("Untitled folder without a label",)
    assert feeds[1].name is None


def test_plain_list_skips_comments_and_blank_lines() -> None:
    feeds = read_feeds_file(LISTS / "feeds.txt")
    assert [f.url for f in feeds] == URLS
    assert all(f.name is None and f.tags == () for f in feeds)


def test_both_sample_lists_name_the_same_feeds() -> None:
    opml = {f.url for f in read_feeds_file(LISTS / "feeds.opml")}
    text = {f.url for f in read_feeds_file(LISTS / "feeds.txt")}
    assert opml == text == set(URLS)


def test_opml_is_recognised_without_an_xml_declaration(tmp_path: Path) -> None:
    path = tmp_path / "subscriptions"
    path.write_bytes(b'  <opml version="1.0"><body><outline xmlUrl="https://a.example/feed"/></body></opml>')
    assert [f.url for f in read_feeds_file(path)] == ["https://a.example/feed"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<?xml version='1.0'?><opml><body><outline", "not valid OPML"),
        (b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>", "not OPML"),
        (b"<?xml version='1.0'?><opml version='2.0'><head/></opml>", "not OPML"),
        (
            b"<opml><body><outline xmlUrl='ftp://a.example/feed'/></body></opml>",
            "bad feed 'ftp://a.example/feed'",
        ),
    ],
)
def test_invalid_opml(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "feeds.opml"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=message) as caught:
        read_feeds_file(path)
    assert str(path) in str(caught.value)


def test_opml_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-value")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<opml version="2.0"><body><outline text="&x;" xmlUrl="https://a.example/feed"/></body></opml>'
    ).encode()
    try:
        feeds = parse_opml(data, "evil.opml")
    except ConfigError:
        return
    assert all("top-secret-value" not in (f.name or "") for f in feeds)


def test_plain_list_with_a_bad_line_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"feeds\.txt line 3"):
        parse_url_list("# comment\nhttps://a.example/feed\nnot-a-url\n", "feeds.txt")


def test_missing_feeds_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read feeds_file"):
        read_feeds_file(tmp_path / "missing.txt")


def test_load_feeds_merges_config_and_file() -> None:
    settings = Settings(feeds=["https://other.example/feed"], feeds_file=LISTS / "feeds.txt")
    assert [f.url for f in load_feeds(settings)] == ["https://other.example/feed", *URLS]


def test_load_feeds_without_a_file() -> None:
    settings = Settings(feeds=["https://a.example/feed", "https://b.example/feed"])
    assert [f.url for f in load_feeds(settings)] == ["https://a.example/feed", "https://b.example/feed"]


def test_load_feeds_deduplicates_by_canonical_url_first_mention_wins() -> None:
    settings = Settings(
        feeds=[
            {"url": "HTTPS://News.Example.org:443/world/rss.xml#latest", "name": "From config"},
            "https://news.example.org/world/rss.xml?utm_source=newsletter",
            "https://news.example.org/europe/rss.xml",
        ],
        feeds_file=LISTS / "feeds.opml",
    )
    feeds = load_feeds(settings)
    assert len(feeds) == 3
    world, europe, science = feeds
    assert world.name == "From config"
    assert world.url == "HTTPS://News.Example.org:443/world/rss.xml#latest"
    assert europe == FeedConfig(url="https://news.example.org/europe/rss.xml")
    assert science.url == "https://news.example.org/science/atom.xml"
    assert science.tags == ("Science",)


def test_load_feeds_refuses_a_feed_url_without_host() -> None:
    settings = Settings(feeds=["https://"])
    with pytest.raises(ConfigError, match="bad feed URL"):
        load_feeds(settings)
