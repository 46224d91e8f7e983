from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ClientError, NoContent, ParseError, ServerError
from ingest.models import Article, PageMetadata
from ingest.stages.extract import choose, extract_html, extract_page, from_feed
from ingest.stages.metadata import language_code, parse_timestamp
from ingest.stages.normalise import build_article
from ingest.stages.readings import EXTRACTOR_VERSIONS
from ingest.urls import canonicalize
from tests.unit.factories import DATA, make_entry, make_page, words

SITE = DATA / "site"
BASE = "http://example.test"
EXPECTED: dict[str, dict[str, Any]] = json.loads((SITE / "expected.json").read_text(encoding="utf-8"))


def site_page(path: str) -> bytes:
    return (SITE / path.lstrip("/")).read_bytes().replace(b"{{BASE}}", BASE.encode())


def article_from_site(path: str) -> Article:
    url = BASE + path
    entry = make_entry(
        link=url, title=None, summary=None, feed_title=None, feed_url=f"{BASE}/feeds/world.rss"
    )
    body = site_page(path)
    page = make_page(entry, url=url, body=body, content_type="text/html; charset=utf-8")
    return build_article(extract_page(page))


def html(head: str = "", body: str = "", lang: str | None = "en") -> bytes:
    lang_attr = f' lang="{lang}"' if lang else ""
    return f"<!DOCTYPE html><html{lang_attr}><head>{head}</head><body>{body}</body></html>".encode()


# -- the sample site -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_site_articles(path: str) -> None:
    expected = EXPECTED[path]
    article = article_from_site(path)
    assert article.title == expected["title"]
    assert expected["author"] in article.authors
    assert article.published_at is not None
    assert article.published_at.tzinfo is not None
    assert article.published_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert article.published_at == datetime.fromisoformat(expected["published_at"].replace("Z", "+00:00"))
    assert article.published_date is None
    assert article.language == expected["language"]
    for sentence in expected["must_contain"]:
        assert sentence in article.body
    for chrome in expected["must_not_contain"]:
        assert chrome not in article.body
    assert article.extraction.method == "trafilatura"
    assert article.extraction.extractor_version == EXTRACTOR_VERSIONS["trafilatura"]
    assert article.canonical_url == canonicalize(BASE + path)
    assert not article.body.startswith(expected["title"])
    assert article.word_count > 100


def test_site_article_metadata() -> None:
    path = "/articles/council-budget.html"
    text, metadata, date_hint, _ = extract_html(site_page(path), BASE + path, "text/html; charset=utf-8")
    assert metadata.title == "Council approves 412 million euro budget after late-night vote"
    assert metadata.site_name == "The Harbour Gazette"
    assert metadata.canonical_url == BASE + path
    assert metadata.description is not None
    assert metadata.description.startswith("Portmere City Council passed next year's budget by two votes")
    assert metadata.published_at == datetime(2026, 3, 13, 6, 45, tzinfo=UTC)
    assert "Politics" in metadata.tags
    assert date_hint is None  # the page states its time: no search for a date in the page
    assert "\n" in text  # paragraphs kept apart


def test_syndicated_copy_has_the_same_body_hash() -> None:
    original = article_from_site("/articles/harbour-strike.html")
    copy = article_from_site("/articles/wire-copy.html")
    assert original.content_hash == copy.content_hash
    assert original.id != copy.id
    assert copy.source.site_name == "Northfield Courier"


# -- metadata parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-13T07:45:00+01:00", datetime(2026, 3, 13, 6, 45, tzinfo=UTC)),
        ("2026-03-13T07:45:00Z", datetime(2026, 3, 13, 7, 45, tzinfo=UTC)),
        (" 2026-03-13T07:45:00z ", datetime(2026, 3, 13, 7, 45, tzinfo=UTC)),
        ("2026-03-12T21:30:00.250-05:00", datetime(2026, 3, 13, 2, 30, 0, 250_000, tzinfo=UTC)),
        ("2026-03-13T00:30:00+02:00", datetime(2026, 3, 12, 22, 30, tzinfo=UTC)),
        ("2026-03-13", date(2026, 3, 13)),
        ("20260313", date(2026, 3, 13)),
        ("2026-03-13T07:45:00", date(2026, 3, 13)),
        ("2026-03-13 07:45", date(2026, 3, 13)),
        ("2026-03-13, evening edition", date(2026, 3, 13)),
        ("2026-02-30", None),
        ("Friday 13 March 2026", None),
        ("yesterday", None),
        ("", None),
        ("   ", None),
        (None, None),
        (20260313, None),
        (["2026-03-13"], None),
    ],
)
def test_parse_timestamp(value: object, expected: datetime | date | None) -> None:
    result = parse_timestamp(value)
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(result, datetime):
        assert result.tzinfo == UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en", "en"),
        ("en-GB", "en"),
        ("de_DE", "de"),
        ("FR", "fr"),
        ("zh-Hant-TW", "zh"),
        (" pt-BR ", "pt"),
        ("english", None),
        ("e", None),
        ("", None),
        (None, None),
        (7, None),
    ],
)
def test_language_code(value: object, expected: str | None) -> None:
    assert language_code(value) == expected


def test_metadata_from_json_ld_graph() -> None:
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "Site"},
            {
                "@type": ["NewsArticle"],
                "headline": "Graph headline",
                "datePublished": "2026-03-01T09:00:00+01:00",
                "dateModified": "2026-03-02T10:00:00Z",
                "author": [
                    {"@type": "Person", "name": "Ada Byron"},
                    {"@type": "Organization", "name": "The Desk"},
                    "Grace Hopper",
                ],
            },
        ],
    }
    head = (
        '<script type="application/ld+json">{not json</script>'
        f'<script type="application/ld+json">{json.dumps(ld)}</script>'
        '<meta property="og:locale" content="fr_FR"><meta property="og:image" content="https://x.example/i.jpg">'
    )
    paragraphs = "".join(f"<p>{words(40, f'p{i}w')}.</p>" for i in range(4))
    _, metadata, _, _ = extract_html(
        html(head, f"<article>{paragraphs}</article>", lang=None), "https://x.example/a", None
    )
    assert metadata.title == "Graph headline"
    assert metadata.authors == ("Ada Byron", "Grace Hopper")
    assert metadata.published_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert metadata.updated_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert metadata.language == "fr"
    assert metadata.image_url == "https://x.example/i.jpg"


def test_json_ld_author_by_reference_and_raw_line_breaks() -> None:
    graph = (
        '{"@context": "https://schema.org", "@graph": ['
        '{"@type": "NewsArticle", "headline": "A story\nin two lines", "author": {"@id": "#ada"}},'
        '{"@type": "Person", "@id": "#ada", "name": "Ada Byron"}]}'
    )
    head = f'<script type="application/ld+json">{graph}</script>'
    paragraphs = "".join(f"<p>{words(40, f'p{i}w')}.</p>" for i in range(4))
    _, metadata, _, _ = extract_html(
        html(head, f"<article>{paragraphs}</article>"), "https://x.example/a", None
    )
    assert metadata.authors == ("Ada Byron",)
    assert metadata.title == "A story\nin two lines"


def test_authors_tags_and_site_from_meta_tags() -> None:
    head = (
        '<meta name="author" content="https://x.example/people/ada">'
        '<meta name="dc.creator" content="Ada Byron; Grace Hopper">'
        '<meta name="keywords" content="harbour, strike, &amp;quot, Harbour, _internal">'
        '<meta property="article:section" content="Business">'
        '<meta name="twitter:site" content="@gazette">'
    )
    paragraphs = "".join(f"<p>{words(40, f'p{i}w')}.</p>" for i in range(4))
    _, metadata, _, _ = extract_html(
        html(head, f"<article>{paragraphs}</article>"), "https://x.example/a", None
    )
    assert metadata.authors == ("Ada Byron; Grace Hopper",)  # split into names by normalisation
    assert metadata.tags == ("harbour", "strike", "Business")
    assert metadata.site_name is None  # an account is not a name: it only corroborates one
    assert metadata.site_handle == "gazette"


def test_byline_in_the_page_when_no_metadata_names_the_author() -> None:
    paragraphs = "".join(f"<p>{words(40, f'p{i}w')}.</p>" for i in range(4))
    body = f'<article><p class="byline">By <span class="author">Maren Ostby</span></p>{paragraphs}</article>'
    _, metadata, _, _ = extract_html(html("", body), "https://x.example/a", None)
    assert metadata.authors == ("Maren Ostby",)


def test_date_found_in_the_page_when_no_metadata_states_it() -> None:
    paragraphs = "".join(f"<p>{words(40, f'p{i}w')}.</p>" for i in range(4))
    body = f'<article><time datetime="2026-03-13">13 March 2026</time>{paragraphs}</article>'
    _, metadata, date_hint, _ = extract_html(html("", body), "https://x.example/2026/03/13/a", None)
    assert metadata.published_at is None
    assert metadata.published_date is None
    assert date_hint == "2026-03-13"


def test_date_in_free_text_found_by_the_extensive_search() -> None:
    paragraphs = "".join(f"<p>{words(40, f'p{i}w')}.</p>" for i in range(4))
    body = f"<article><div class='info'>Posted on 13 March 2026 by staff</div>{paragraphs}</article>"
    _, _, date_hint, _ = extract_html(html("", body), "https://x.example/a", None)
    assert date_hint == "2026-03-13"


@pytest.mark.parametrize("stated", ["© 2016 The Gazette", "Archive: June 2021"])
def test_a_year_or_month_alone_is_no_day(stated: str) -> None:
    paragraphs = "".join(f"<p>{words(40, f'p{i}w')}.</p>" for i in range(4))
    body = f"<article>{paragraphs}</article><footer>{stated}</footer>"
    _, _, date_hint, _ = extract_html(html("", body), "https://x.example/a", None)
    assert date_hint is None


def test_date_only_and_naive_times_are_dates_not_instants() -> None:
    head = '<meta property="article:published_time" content="2026-03-01T09:00:00">'
    _, metadata, _, _ = extract_html(html(head, "<p>Some text.</p>"), "https://x.example/a", None)
    assert metadata.published_at is None
    assert metadata.published_date == date(2026, 3, 1)


def test_charset_from_content_type_is_used() -> None:
    story = "<p>Café Müller schließt nach neunzig Jahren am Hafen.</p>"
    body = f"<html><body><article>{story}</article></body></html>"
    text, _, _, _ = extract_html(
        body.encode("iso-8859-1"), "https://x.example/a", "text/html; charset=ISO-8859-1"
    )
    assert "Café Müller schließt" in text


def test_unknown_charset_falls_back_to_sniffing() -> None:
    body = "<html><body><article><p>Grüße aus Köln.</p></article></body></html>".encode()
    text, _, _, _ = extract_html(body, "https://x.example/a", "text/html; charset=x-unknown")
    assert "Grüße aus Köln." in text


@pytest.mark.parametrize("body", [b"", b"   \n  "])
def test_empty_page_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        extract_html(body, "https://x.example/a", "text/html")
    assert caught.value.url == "https://x.example/a"


def test_page_without_text() -> None:
    text, _, _, _ = extract_html(html(body=""), "https://x.example/a", "text/html")
    assert text == ""


# -- falling back to the feed --------------------------------------------------------------------


def test_from_feed_uses_the_full_content() -> None:
    entry = make_entry(content_html="<p>Full</p><p>content</p>", summary="Teaser")
    extracted = from_feed(make_page(entry, body=None), "http_404")
    assert extracted.text == "Full\n\ncontent"
    assert extracted.method == "feed"
    assert extracted.fallback_reason == "http_404"
    assert extracted.metadata == PageMetadata()


def test_from_feed_falls_back_to_the_summary() -> None:
    entry = make_entry(content_html=None, summary="Only the teaser.")
    metadata = PageMetadata(title="Page title")
    extracted = from_feed(make_page(entry), "no_text", metadata)
    assert extracted.text == "Only the teaser."
    assert extracted.metadata.title == metadata.title


def test_from_feed_with_nothing_is_no_content() -> None:
    entry = make_entry(content_html="<script>x()</script>", summary=None)
    with pytest.raises(NoContent, match=r"no text on the page \(http_404\) and none in the feed") as caught:
        from_feed(make_page(entry, body=None, error=ClientError("HTTP 404", status=404)), "http_404")
    assert caught.value.reason == "no_content"
    assert caught.value.url == entry.link


def test_from_feed_reraises_a_transient_fetch_error() -> None:
    error = ServerError("HTTP 503", url="https://news.example.org/world/story", status=503)
    page = make_page(make_entry(summary=None), body=None, error=error)
    with pytest.raises(ServerError) as caught:
        from_feed(page, error.reason)
    assert caught.value is error


def test_choose_keeps_the_page_text() -> None:
    page = make_page(make_entry(content_html="<p>short feed text</p>"))
    text = words(200)
    extracted = choose(page, text, PageMetadata(title="T"), None)
    assert extracted.method == "trafilatura"
    assert extracted.text == text
    assert extracted.extractor_version == EXTRACTOR_VERSIONS["trafilatura"]
    assert extracted.fallback_reason is None


def test_choose_falls_back_when_the_page_has_no_text() -> None:
    page = make_page(make_entry(summary="Feed teaser"))
    metadata = PageMetadata(site_name="Site")
    extracted = choose(page, "  \n ", metadata, None)
    assert extracted.method == "feed"
    assert extracted.fallback_reason == "no_text"
    assert extracted.text == "Feed teaser"
    assert extracted.metadata.site_name == "Site"


def test_choose_prefers_the_feeds_full_text_over_a_thin_page() -> None:
    page = make_page(make_entry(content_html=f"<p>{words(100)}</p>"))
    extracted = choose(page, "Subscribe to read the rest of this story.", PageMetadata(), None)
    assert extracted.method == "feed"
    assert extracted.fallback_reason == "page_text_short"
    assert extracted.text == words(100)


def test_choose_keeps_a_thin_page_when_the_feed_is_not_much_longer() -> None:
    page = make_page(make_entry(content_html=f"<p>{words(30)}</p>"))
    extracted = choose(page, words(20, "page"), PageMetadata(), None)
    assert extracted.method == "trafilatura"


def test_choose_takes_a_date_only_hint() -> None:
    extracted = choose(make_page(), "Text.", PageMetadata(), "2026-03-13")
    assert extracted.metadata.published_date == date(2026, 3, 13)
    assert extracted.metadata.published_at is None


def test_choose_ignores_the_hint_when_a_time_is_known() -> None:
    stated = datetime(2026, 3, 12, 8, 0, tzinfo=UTC)
    extracted = choose(make_page(), "Text.", PageMetadata(published_at=stated), "2026-03-13")
    assert extracted.metadata.published_date is None
    assert extracted.metadata.published_at == stated


def test_choose_with_no_text_anywhere_is_no_content() -> None:
    page = make_page(make_entry(summary=None, content_html=None))
    with pytest.raises(NoContent, match="no_text"):
        choose(page, "", PageMetadata(), None)


_PAGE_PIECES = st.sampled_from(
    [
        "<html>",
        "<body>",
        "<p>",
        "</p>",
        "<article>",
        '<meta property="article:published_time" content="',
        '<script type="application/ld+json">',
        "</script>",
        '{"@type": "NewsArticle", "author": [null, {"name": 5}], "datePublished": 7}',
        '">',
        "\x00",
        "\x1f",
        "&#0;",
        "<![CDATA[",
        "word ",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(_PAGE_PIECES, st.text(max_size=5)), max_size=30),
    st.sampled_from([None, "text/html", "text/html; charset=utf-16", "text/html; charset=bogus"]),
)
def test_extract_html_returns_or_raises_parse_error(parts: list[str], content_type: str | None) -> None:
    body = "".join(parts).encode("utf-8", "surrogatepass")
    try:
        text, metadata, _, _ = extract_html(body, "https://x.example/a", content_type)
    except ParseError:
        return
    assert isinstance(text, str)
    assert isinstance(metadata, PageMetadata)


def test_language_is_detected_with_the_declaration_as_prior() -> None:
    from ingest.stages.language import detect_language

    english = "The council approved the budget late on Thursday night after a long and heated debate."
    german = "Der Stadtrat hat den Haushalt am späten Donnerstagabend nach einer langen Debatte beschlossen."
    assert detect_language(english) == "en"
    assert detect_language(german) == "de"
    assert detect_language(german, "en") == "de"  # a wrong declaration loses against clear text
    assert detect_language("Hello there", "fr") == "fr"  # too short to overrule the page
    assert detect_language("", None) is None


# -- extract_page: what the worker returns -------------------------------------------------------


def test_a_lone_surrogate_in_json_ld_never_reaches_the_topic() -> None:
    """A ``\\ud800`` escape in JSON-LD or a meta tag is valid JSON but not text: it is left out."""
    jsonld = (
        r'{"@type": "NewsArticle", "headline": "Flood\ud800 warning", "author": {"name": "Ann\udfff Lee"}}'
    )
    body = html(
        head=f'<script type="application/ld+json">{jsonld}</script>'
        '<meta property="og:site_name" content="Gazette&#xD800;">',
        body="<article><p>" + words(120) + "</p></article>",
    )
    entry = make_entry(link=BASE + "/flood")
    extracted = extract_page(make_page(entry, url=BASE + "/flood", body=body))
    from ingest.stages.normalise import normalise
    from ingest.stages.publish import article_message

    article = normalise(extracted)
    _, value, _ = article_message(article)
    assert article.title == "Flood warning"
    assert article.authors == ["Ann Lee"]
    assert b"\\ud8" not in value.lower()
    value.decode("utf-8")


def test_extract_page_returns_the_page_without_its_body() -> None:
    entry = make_entry(link=BASE + "/a")
    page = make_page(entry, body=html(body="<article><p>" + words(150) + "</p></article>"))
    extracted = extract_page(page)
    assert extracted.method == "trafilatura"
    assert extracted.page.body is None
    assert extracted.page.url == page.url


def test_a_failed_page_falls_back_and_says_why() -> None:
    entry = make_entry(link=BASE + "/gone", summary="What the feed says.")
    failed = make_page(entry, url=None, body=None, error=ClientError("HTTP 404", status=404))
    extracted = extract_page(failed)
    assert (extracted.method, extracted.fallback_reason) == ("feed", "http_404")
    assert extracted.fallback_detail == "HTTP 404"


def test_the_pages_headings_are_kept_apart_from_its_stated_headline() -> None:
    head = '<meta property="og:title" content="Storm hits the coast">'
    body = "<h1>Harbour Gazette</h1><article><h1>Storm hits the coast</h1><p>Text.</p></article>"
    _, metadata, _, _ = extract_html(html(head, body), "https://x.example/a", None)
    assert metadata.title == "Storm hits the coast"
    assert metadata.headings == ("Harbour Gazette", "Storm hits the coast")


@pytest.mark.parametrize(
    "head",
    [
        '<meta property="og:article:published_time" content="2026-03-01T09:00:00Z">',
        '<meta name="pubdate" content="2026-03-01T09:00:00Z">',
        '<meta name="parsely-pub-date" content="2026-03-01T09:00:00Z">',
        '<meta name="DC.date.issued" content="2026-03-01T09:00:00Z">',
        # a spelling that holds no time gives way to the next that does
        '<meta property="article:published_time" content="soon">'
        '<meta name="pubdate" content="2026-03-01T09:00Z">',
    ],
)
def test_every_spelling_of_the_publication_time_is_read(head: str) -> None:
    _, metadata, _, _ = extract_html(html(head, "<p>Some text.</p>"), "https://x.example/a", None)
    assert metadata.published_at == datetime(2026, 3, 1, 9, tzinfo=UTC)


def test_a_time_element_marked_as_the_publication_time_is_read() -> None:
    body = '<p>Posted <time itemprop="datePublished" datetime="2026-03-01T09:00:00+01:00">1 March</time></p>'
    _, metadata, _, _ = extract_html(html("", body), "https://x.example/a", None)
    assert metadata.published_at == datetime(2026, 3, 1, 8, tzinfo=UTC)
    modified = '<time itemprop="dateModified" datetime="2026-03-02">2 March</time>'
    _, metadata, _, _ = extract_html(html("", body + modified), "https://x.example/a", None)
    assert metadata.updated_at is None  # a day alone is no instant
