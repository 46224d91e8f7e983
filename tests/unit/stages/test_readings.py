"""The body chosen among a page's readings: by agreement of independent extractors, never a list of
teasers, the page's own articleBody when the extractors find nothing."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.stages.extract import extract_html
from ingest.stages.readings import (
    MARGIN,
    Reading,
    adds_teasers,
    bag_f1,
    choose_body,
    covered,
    pick,
    readability_text,
    resiliparse_text,
)
from ingest.text import word_count

STORY = [
    "The harbour authority said on Tuesday that the northern pier would close for repairs until spring.",
    "Engineers found cracks in three of the pier's supports during an inspection last month.",
    "Fishing boats that use the pier will be moved to the southern basin, the authority said.",
    "Local traders said the closure would cost them business during the busiest months of the year.",
    "The repairs are expected to cost about four million and will be paid for by the regional council.",
    "A spokesman said the pier had last been repaired in 1998, after a storm damaged its western end.",
    "Work is due to start next week, once the boats have been moved and the site has been fenced off.",
    "The authority will publish a timetable for the works on its website, the spokesman added.",
]
TEASERS = [
    "Council votes to close the old library after years of falling visitor numbers and rising…",
    "Storm warning issued for the coast as winds of up to ninety kilometres an hour are...",
    "New ferry timetable brings later sailings on weekdays, but passengers say that the…",
]


def page(body: str, head: str = "") -> str:
    return f"<html><head><title>Pier to close</title>{head}</head><body>{body}</body></html>"


def article_markup(paragraphs: list[str]) -> str:
    return "<article><h1>Pier to close</h1>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article>"


def picked(candidates: list[Reading], references: list[str]) -> str:
    chosen = pick(candidates, references)
    assert chosen is not None
    return chosen.text


def test_bag_f1_and_covered() -> None:
    assert bag_f1(Counter("a b c".split()), Counter("a b c".split())) == 1.0
    assert bag_f1(Counter(), Counter("a".split())) == 0.0
    assert bag_f1(Counter("a b".split()), Counter("c d".split())) == 0.0
    assert covered("one two three", "one two three four") == 0.75
    assert covered("anything", "") == 1.0


def test_teasers_are_paragraphs_cut_off_with_an_ellipsis() -> None:
    story = "\n".join(STORY[:4])
    assert adds_teasers(story + "\n" + "\n".join(TEASERS), story)
    assert not adds_teasers("\n".join(STORY), story)  # the rest of the story is not a teaser
    assert not adds_teasers(story + "\n" + TEASERS[0], story)  # one trailing quote proves nothing


def test_a_later_reading_wins_only_by_a_clear_margin() -> None:
    half = "\n".join(STORY[:4])
    whole = "\n".join(STORY)
    assert pick([Reading("trafilatura", half), Reading("trafilatura", whole)], [whole]) == Reading(
        "trafilatura", whole
    )
    # A reading that agrees only a little better does not replace the first.
    nearly = "\n".join(STORY[:7])
    assert 1 - bag_f1(Counter(nearly.split()), Counter(whole.split())) < MARGIN
    assert picked([Reading("trafilatura", nearly), Reading("trafilatura", whole)], [whole]) == nearly


def test_a_reading_that_adds_teasers_does_not_win_even_when_the_references_hold_them() -> None:
    story = "\n".join(STORY[:3])
    with_teasers = story + "\n" + "\n".join(TEASERS * 3)
    assert (
        picked([Reading("trafilatura", story), Reading("trafilatura", with_teasers)], [with_teasers]) == story
    )


def test_no_reference_with_enough_words_decides_nothing() -> None:
    assert pick([Reading("trafilatura", "text")], ["two words", ""]) is None


def test_the_independent_readers_read_the_story() -> None:
    markup = page(article_markup(STORY) + "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>")
    for read in (resiliparse_text, readability_text):
        text = read(markup)
        assert covered(text, "\n".join(STORY)) > 0.9, read.__name__


@given(st.text(max_size=300))
def test_the_independent_readers_never_raise(markup: str) -> None:
    assert isinstance(resiliparse_text(markup), str)
    assert isinstance(readability_text(markup), str)


def test_a_full_precision_text_that_covers_the_page_needs_no_more_readings() -> None:
    markup = page(article_markup(STORY))

    def more() -> list[Reading]:
        raise AssertionError("the costlier readings were taken")

    fast = "\n".join(STORY)
    assert choose_body(fast, markup, more, lambda readings: "") == Reading("trafilatura", fast)


def test_a_fragment_gives_way_to_the_reading_the_independent_readers_agree_with() -> None:
    markup = page(article_markup(STORY) + "<footer><p>Contact us</p></footer>")
    fragment = "\n".join(STORY[:2])
    taken: list[str] = []

    def more() -> list[Reading]:
        taken.append("more")
        return [
            Reading("trafilatura", fragment),
            Reading("trafilatura", "\n".join(STORY)),
            Reading("json_ld", ""),
        ]

    chosen = choose_body(fragment, markup, more, lambda readings: readings[0].text)
    assert taken == ["more"]
    assert chosen.text == "\n".join(STORY)


def test_a_page_whose_text_only_its_json_ld_states_is_read_from_there() -> None:
    body = " ".join(STORY)
    head = (
        '<script type="application/ld+json">'
        '{"@type": "NewsArticle", "headline": "Pier to close", "articleBody": "' + body + '"}'
        "</script>"
    )
    markup = page('<div id="app"></div><script>render()</script>', head).encode()
    text, _, _, method = extract_html(markup, "https://news.example/pier", "text/html; charset=utf-8")
    assert method in ("trafilatura", "json_ld")  # trafilatura reads some articleBody fields itself
    assert word_count(text) == word_count(body)


def test_when_no_extractor_finds_text_the_pages_own_article_body_is_taken() -> None:
    markup = page('<div id="app"></div>')
    body = "\n".join(STORY)
    readings = [Reading("trafilatura", ""), Reading("trafilatura", ""), Reading("json_ld", body)]
    assert choose_body("", markup, lambda: readings, lambda readings: "") == Reading("json_ld", body)


@pytest.mark.parametrize("markup", [b"<html>", b"<html><body></body></html>", b"<p>One line.</p>"])
def test_pages_with_next_to_nothing_on_them_come_back_with_next_to_nothing(markup: bytes) -> None:
    text, _, _, _ = extract_html(markup, "https://news.example/a", None)
    assert word_count(text) <= 2
