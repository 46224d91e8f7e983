from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ingest.models import Article, Extracted, PageMetadata
from ingest.stages.normalise import (
    MAX_AUTHORS,
    MAX_SUMMARY_CHARS,
    build_article,
    clean_authors,
    clean_title,
)
from ingest.text import content_hash
from ingest.urls import article_id
from tests.unit.factories import FIXED_TIME, make_entry, make_extracted, make_page

SITE = "The Harbour Gazette"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Storm hits coast | The Harbour Gazette", "Storm hits coast"),
        ("Storm hits coast - The Harbour Gazette", "Storm hits coast"),
        ("Storm hits coast – The Harbour Gazette", "Storm hits coast"),
        ("Storm hits coast — The Harbour Gazette", "Storm hits coast"),
        ("Storm hits coast · THE HARBOUR GAZETTE", "Storm hits coast"),
        ("The Harbour Gazette: Storm hits coast", "Storm hits coast"),
        ("The Harbour Gazette | Storm hits coast", "Storm hits coast"),
        ("  Storm   hits coast  |  The Harbour Gazette ", "Storm hits coast"),
        # a separator followed by something that is not the site name stays
        ("Rock - Paper - Scissors", "Rock - Paper - Scissors"),
        ("Budget: what it means for you", "Budget: what it means for you"),
        ("Live | Storm hits coast", "Live | Storm hits coast"),
        # only the site-name part goes
        ("Q&A - Mayor speaks | The Harbour Gazette", "Q&A - Mayor speaks"),
        ("The Harbour Gazette", "The Harbour Gazette"),
        ("Storm hits coast -- The Harbour Gazette", "Storm hits coast"),
        # a name of several words glued to the headline's end
        ("Storm hits the coast tonightThe Harbour Gazette", "Storm hits the coast tonight"),
        ("Gazette", "Gazette"),
    ],
)
def test_clean_title(title: str, expected: str) -> None:
    assert clean_title(title, [SITE, None, ""]) == expected


def test_clean_title_without_site_names_changes_nothing_but_spacing() -> None:
    assert (
        clean_title("Storm hits coast | The Harbour Gazette", []) == "Storm hits coast | The Harbour Gazette"
    )
    assert clean_title(" a \n b ", [None]) == "a b"


def test_clean_title_matches_the_domain() -> None:
    assert clean_title("Storm hits coast | news.example.org", ["news.example.org"]) == "Storm hits coast"


@pytest.mark.parametrize("title", [None, "", "   ", "\u200b"])
def test_clean_title_of_nothing(title: str | None) -> None:
    assert clean_title(title, [SITE]) is None


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["By Jane Doe"], ["Jane Doe"]),
        (["by  jane doe"], ["jane doe"]),
        (["Von Katrin Vogelsang"], ["Katrin Vogelsang"]),
        (["Текст Венера Ерофеева"], ["Венера Ерофеева"]),
        (["Автор: Иван Петров"], ["Иван Петров"]),
        (["Text: Anna Berg", "Av Lars Holm"], ["Anna Berg", "Lars Holm"]),
        (["Written by Jane Doe"], ["Jane Doe"]),
        (["Autor: Jan Nowak"], ["Jan Nowak"]),
        (["Jane Doe and John Roe"], ["Jane Doe", "John Roe"]),
        (["Jane Doe; John Roe", "Ann Lee & Bo Chen"], ["Jane Doe", "John Roe", "Ann Lee", "Bo Chen"]),
        (["Jane Doe", "JANE DOE", "By Jane Doe", "jane  doe,"], ["Jane Doe"]),
        (["The Harbour Gazette", "Jane Doe"], ["Jane Doe"]),
        (["Staff", "Editors", "admin"], []),
        (["Alexander Anderson"], ["Alexander Anderson"]),
        (["", "  ", "By "], []),
        (["x" * 101], []),
    ],
)
def test_clean_authors(names: list[str], expected: list[str]) -> None:
    assert clean_authors(names, [SITE, None]) == expected


def test_clean_authors_keeps_at_most_the_limit() -> None:
    names = [f"Author {chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(MAX_AUTHORS + 5)]
    assert clean_authors(names, []) == names[:MAX_AUTHORS]


# -- build_article -------------------------------------------------------------------------------


def test_body_does_not_repeat_the_headline() -> None:
    text = "Storm hits coast\n\nThe storm reached the coast at dawn.\nPower was cut."
    article = build_article(
        make_extracted(text, PageMetadata(title="Storm hits coast | The Harbour Gazette", site_name=SITE))
    )
    assert article.title == "Storm hits coast"
    assert article.body == "The storm reached the coast at dawn.\n\nPower was cut."


def test_body_headline_match_ignores_case_and_punctuation() -> None:
    text = "STORM HITS COAST!\n\nThe storm reached the coast at dawn."
    article = build_article(make_extracted(text, PageMetadata(title="Storm hits coast")))
    assert article.body == "The storm reached the coast at dawn."


def test_body_that_is_only_the_headline_is_kept() -> None:
    article = build_article(make_extracted("Storm hits coast", PageMetadata(title="Storm hits coast")))
    assert article.body == "Storm hits coast"


def test_body_starting_with_another_sentence_is_kept() -> None:
    text = "The storm reached the coast.\n\nStorm hits coast"
    article = build_article(make_extracted(text, PageMetadata(title="Storm hits coast")))
    assert article.body == "The storm reached the coast.\n\nStorm hits coast"


def test_future_dates_are_dropped() -> None:
    future = datetime.now(UTC) + timedelta(hours=2)
    metadata = PageMetadata(published_at=future, updated_at=future)
    article = build_article(make_extracted("Body.", metadata))
    assert article.published_at is None
    assert article.updated_at is None


def test_past_dates_are_kept_in_utc() -> None:
    published = datetime(2026, 3, 13, 6, 45, tzinfo=UTC)
    updated = datetime(2026, 3, 13, 9, 0, tzinfo=UTC)
    article = build_article(make_extracted("Body.", PageMetadata(published_at=published, updated_at=updated)))
    assert article.published_at == published
    assert article.updated_at == updated
    assert article.published_date is None


def test_a_date_is_kept_only_when_no_time_is_known() -> None:
    only_date = build_article(make_extracted("Body.", PageMetadata(published_date=date(2026, 3, 13))))
    assert only_date.published_at is None
    assert only_date.published_date == date(2026, 3, 13)

    both = build_article(
        make_extracted(
            "Body.",
            PageMetadata(
                published_at=datetime(2026, 3, 13, 6, 0, tzinfo=UTC), published_date=date(2026, 3, 13)
            ),
        )
    )
    assert both.published_date is None


def test_feed_values_fill_what_the_page_does_not_state() -> None:
    entry = make_entry(
        title="Feed headline | Example News Online",
        summary="Feed   summary.",
        authors=("By Ann Lee",),
        published_at=datetime(2026, 3, 9, 9, 0, tzinfo=UTC),
        updated_at=datetime(2026, 3, 9, 10, 0, tzinfo=UTC),
        language="en-GB",
    )
    article = build_article(make_extracted("Body.", PageMetadata(), entry=entry))
    assert article.title == "Feed headline"  # the feed's title names the site
    assert article.summary == "Feed summary."
    assert article.authors == ["Ann Lee"]
    assert article.published_at == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert article.updated_at == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert article.language == "en"


def test_page_values_win_over_the_feeds() -> None:
    entry = make_entry(
        title="Feed headline",
        summary="Feed summary.",
        authors=("Ann Lee",),
        language="de",
        published_at=datetime(2026, 3, 9, 9, 0, tzinfo=UTC),
    )
    metadata = PageMetadata(
        title="Page headline",
        description="Page description.",
        authors=("Bo Chen",),
        language="en",
        published_at=datetime(2026, 3, 9, 8, 0, tzinfo=UTC),
    )
    article = build_article(make_extracted("Body.", metadata, entry=entry))
    assert article.title == "Page headline"
    assert article.summary == "Page description."
    assert article.authors == ["Bo Chen"]
    assert article.language == "en"
    assert article.published_at == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)


def test_no_language_is_invented() -> None:
    article = build_article(make_extracted("Body.", PageMetadata(), entry=make_entry(language=None)))
    assert article.language is None


def test_identity_hash_and_counts() -> None:
    entry = make_entry(link="https://News.Example.org/world/story?utm_source=rss#x")
    article = build_article(make_extracted("One two three.\n\nFour five.", entry=entry))
    assert article.url == "https://News.Example.org/world/story?utm_source=rss#x"
    assert article.canonical_url == "https://news.example.org/world/story"
    assert article.id == article_id("https://news.example.org/world/story")
    assert article.content_hash == content_hash("one two three four five")
    assert article.word_count == 5
    assert article.source.domain == "news.example.org"
    assert article.discovered_at == FIXED_TIME
    assert article.fetched_at == FIXED_TIME


def test_guid_only_entry() -> None:
    entry = make_entry(link=None, key="guid:https://news.example.org/world/rss.xml#id-9", guid="id-9")
    article = build_article(make_extracted("Body.", entry=entry))
    assert article.url is None
    assert article.canonical_url is None
    assert article.guid == "id-9"
    assert article.id == article_id("guid:https://news.example.org/world/rss.xml#id-9")
    assert article.source.domain == "news.example.org"  # from the feed URL


def test_tags_in_order_without_duplicates() -> None:
    entry = make_entry(tags=("World", "Shipping"), feed_tags=("news", "World"))
    article = build_article(
        make_extracted("Body.", PageMetadata(tags=("Shipping", "Ports", "")), entry=entry)
    )
    assert article.tags == ["news", "World", "Shipping", "Ports"]


def test_summary_is_one_clean_line_and_bounded() -> None:
    metadata = PageMetadata(description="  A\nlong   summary " + "x" * (2 * MAX_SUMMARY_CHARS))
    article = build_article(make_extracted("Body.", metadata))
    assert article.summary is not None
    assert article.summary.startswith("A long summary x")
    assert len(article.summary) == MAX_SUMMARY_CHARS


def test_extraction_details() -> None:
    extracted = make_extracted("Body.", method="feed", fallback_reason="http_404", extractor_version=None)
    article = build_article(extracted)
    assert article.extraction.method == "feed"
    assert article.extraction.fallback_reason == "http_404"
    assert article.extraction.extractor_version is None
    assert article.extraction.http_status == 200
    assert article.extraction.final_url == "https://news.example.org/world/story"


def test_article_round_trips_through_json() -> None:
    article = build_article(make_extracted("Body text here.", PageMetadata(title="T", site_name=SITE)))
    assert Article.model_validate_json(article.model_dump_json()) == article


def test_tags_without_newsroom_furniture() -> None:
    entry = make_entry(tags=("A Wire", "Harbours"), feed_tags=("local",))
    stated = ("MA_Enterprise - enterprisenews.com", "type:story", "Strikes (TRBC)", "News")
    article = build_article(make_extracted("Body.", PageMetadata(tags=stated), entry=entry))
    assert article.tags == ["local", "Harbours", "Strikes"]


def test_a_section_stated_as_the_site_name_gives_way_to_what_names_the_site() -> None:
    entry = make_entry(link="https://www.reuters.com/article/us-port-strike/dockers-walk-out-idUS1")
    meta = PageMetadata(
        title="Dockers walk out",
        document_title="Dockers walk out | Reuters",
        site_name="U.S.",
        site_handle="Reuters",
    )
    article = build_article(make_extracted("Body text here.", meta, entry=entry))
    assert article.source.site_name == "Reuters"
    assert article.title == "Dockers walk out"


def test_fields_are_capped() -> None:
    from ingest.stages import normalise

    paragraph = "word " * 1000
    text = "\n".join([paragraph] * 100)  # about 500,000 characters
    body = normalise._body(text, ())
    assert len(body) <= normalise.MAX_BODY_CHARS
    assert body.endswith("word")  # cut between paragraphs, not inside one


@pytest.mark.parametrize(
    ("document_title", "site"),
    [
        ("Storm hits the coast tonight | The Harbour Gazette", "The Harbour Gazette"),
        ("Gazette - Storm hits the coast tonight", "Gazette"),
        ("Storm hits the coast » Local » News » Harbour Gazette Online", "Harbour Gazette Online"),
        ("Storm hits coast | The Harbour Gazette", None),  # as many words on each end: no evidence
        ("Storm hits coast", None),
        ("Rock - Paper", None),  # neither end is shorter: no evidence of a name
        (None, None),
    ],
)
def test_the_site_name_a_document_title_states(document_title: str | None, site: str | None) -> None:
    from ingest.stages.normalise import title_site_name

    assert title_site_name(document_title) == site


def make_titled(
    meta: PageMetadata, text: str = "Some body text here.", feed_title: str | None = None
) -> Article:
    page = make_page(make_entry(title=feed_title, link="https://gazette.example/a/1"))
    return build_article(Extracted(page=page, text=text, metadata=meta, method="trafilatura"))


def test_a_logo_heading_is_not_the_headline() -> None:
    meta = PageMetadata(
        document_title="Storm hits the coast tonight | Harbour Gazette",
        headings=("Harbour Gazette", "Storm hits the coast tonight"),
    )
    assert make_titled(meta).title == "Storm hits the coast tonight"
    # the start of the site's name as <title> states it is the logo too
    meta = PageMetadata(document_title="Storm hits the coast | ประชาไท Prachatai.com", headings=("ประชาไท",))
    assert make_titled(meta).title == "Storm hits the coast"


def test_the_feeds_headline_beats_the_pages_heading() -> None:
    meta = PageMetadata(headings=("Weather",), document_title="Weather | Gazette")
    assert make_titled(meta, feed_title="Storm hits the coast").title == "Storm hits the coast"


def test_a_site_suffix_the_document_title_states_leaves_the_og_title() -> None:
    meta = PageMetadata(
        title="Storm hits the coast | Gazette Politics",
        document_title="Storm hits the coast tonight | Gazette Politics",
    )
    assert make_titled(meta).title == "Storm hits the coast"


def test_a_headline_the_page_states_leaves_the_body_even_when_the_chosen_title_differs() -> None:
    meta = PageMetadata(title="Storm: what it means for you", headings=("Storm hits the coast",))
    article = make_titled(meta, text="Storm hits the coast\n\nThe storm reached the coast at dawn.")
    assert article.title == "Storm: what it means for you"
    assert article.body == "The storm reached the coast at dawn."


def test_title_falls_back_from_og_title_to_the_feed_title_to_the_document_title() -> None:
    from dataclasses import replace as dc_replace

    from ingest.stages.normalise import build_article

    page = make_page(make_entry(title="Feed headline", link="https://www.spiegel.de/a/1"))
    meta = PageMetadata(document_title="Document headline | SPIEGEL")
    with_feed = build_article(Extracted(page=page, text="Some body text here.", metadata=meta, method="feed"))
    assert with_feed.title == "Feed headline"
    no_feed = dc_replace(page, entry=dc_replace(page.entry, title=None))
    fallback = build_article(
        Extracted(page=no_feed, text="Some body text here.", metadata=meta, method="feed")
    )
    assert fallback.title == "Document headline"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Jane Doe, Senior Reporter"], ["Jane Doe"]),
        (["John Smith | The Guardian"], ["John Smith"]),
        (["By AFP Staff"], []),
        (["Reuters"], []),
        (["Editorial Board"], []),
        (["Jane Doe is a writer based in Paris who covers politics"], []),
        (["Anna Schmidt und Peter Müller"], ["Anna Schmidt", "Peter Müller"]),
        (["Ludwig van Beethoven"], ["Ludwig van Beethoven"]),
        (["María José García"], ["María José García"]),
        (["习近平"], ["习近平"]),
        (["jane@example.org", "https://example.org/jane"], []),
    ],
)
def test_authors_are_person_names_only(names: list[str], expected: list[str]) -> None:
    assert clean_authors(names, ["The Guardian"]) == expected
