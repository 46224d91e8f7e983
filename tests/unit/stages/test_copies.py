from __future__ import annotations

import itertools
import random
import sqlite3
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.stages.copies import (
    DEFAULT_CONTAINMENT,
    DEFAULT_CONTAINMENT_SAME_SITE,
    FURNITURE_STORIES,
    MAX_WORDS,
    MIN_WORDS,
    CopyIndex,
    Match,
    containment,
    site_of,
    sketch,
)
from ingest.text import words
from tests.unit.stages.gazette import (
    ENGLISH_STORIES,
    STORIES,
    body,
    furniture,
    in_other_processes,
    paragraphs,
)
from tests.unit.stages.gazette import words as count_words

GAZETTE = "gazette.example"
COURIER = "courier.example"


def is_copy(original: str, copy: str, *, same_site: bool = False) -> Match | None:
    """What the default index says about ``copy`` once it holds ``original``."""
    index = CopyIndex()
    index.add("original", "story", sketch(original, GAZETTE), 0.0)
    return index.match(sketch(copy, GAZETTE if same_site else COURIER), words=count_words(copy))


def vocabulary_text(rng: random.Random, count: int, prefix: str = "w") -> str:
    """``count`` words drawn from a large vocabulary of made-up words (no two texts share runs)."""
    return " ".join(f"{prefix}{rng.randrange(1_000_000)}" for _ in range(count))


# --- words, sites, sketches --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://news.bbc.co.uk/world/1", "bbc.co.uk"),
        ("https://www.BBC.co.uk/x", "bbc.co.uk"),
        ("http://edition.cnn.com/2021/a", "cnn.com"),
        ("http://localhost:8080/a", "localhost"),
        ("http://127.0.0.1:8080/a", "127.0.0.1"),
        ("http://[::1]:8080/a", "::1"),
        ("https://www.one.example/b", "one.example"),
        ("https://www.abc.net.au/news/1", "abc.net.au"),
        ("https://www.sep.gob.mx/a", "sep.gob.mx"),
        ("https://news.example.com./a", "example.com"),
        (None, ""),
        ("", ""),
    ],
)
def test_site_of_is_the_registered_domain(url: str | None, site: str) -> None:
    assert site_of(url) == site


def test_sketch_is_pinned() -> None:
    # Stored sketches are compared with new ones: any change to the algorithm breaks them.
    sentence = (
        "Cranes stood idle along the eastern quays of Portmere on Saturday morning after more than"
        " 600 dock workers walked off the job over changes to overnight pay, the union said."
    )
    assert sketch(sentence, GAZETTE).hex() == "32e4bd1b139270033508be40949552581bcc0a62b630038d7f39c29c"


def test_sketch_is_the_same_in_other_processes() -> None:
    text = body("harbour-strike.html")
    code = (
        "import sys; from ingest.stages.copies import sketch;"
        " print(sketch(sys.stdin.buffer.read().decode('utf-8'), 'gazette.example').hex())"
    )
    assert in_other_processes(code, text) == [sketch(text, GAZETTE).hex()] * 2


def test_sketch_ignores_case_punctuation_and_spacing() -> None:
    text = body("harbour-strike.html")
    assert sketch(text.upper().replace(" ", "  ,"), GAZETTE) == sketch(text, GAZETTE)


def test_a_text_without_five_words_has_an_empty_sample() -> None:
    assert sketch("", GAZETTE) == sketch("four words only here", GAZETTE)
    assert containment(sketch("", GAZETTE), sketch(body("cup-final.html"), GAZETTE)) == 0.0


@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=60, max_value=600))
def test_containment_of_a_text_and_any_part_of_it_is_one(seed: int, count: int) -> None:
    rng = random.Random(seed)
    text = vocabulary_text(rng, count).split()
    start = rng.randrange(count // 2)
    part = " ".join(text[start : start + count // 2])
    assert containment(sketch(" ".join(text), GAZETTE), sketch(part, COURIER)) in (0.0, 1.0)
    whole = sketch(" ".join(text), COURIER)
    # 1 in 8 shingles is sampled: a short text may have none (0.0), never a partial match.
    sampled = len(whole) > 4
    assert containment(sketch(" ".join(text), GAZETTE), whole) == (1.0 if sampled else 0.0)


@given(st.integers(min_value=0, max_value=2**32))
def test_texts_of_disjoint_words_share_nothing(seed: int) -> None:
    rng = random.Random(seed)
    a, b = vocabulary_text(rng, 300, "a"), vocabulary_text(rng, 300, "b")
    assert containment(sketch(a, GAZETTE), sketch(b, GAZETTE)) == 0.0
    index = CopyIndex()
    index.add("a", "a", sketch(a, GAZETTE), 0.0)
    assert index.match(sketch(b, GAZETTE), words=300) is None


def test_unspaced_scripts_are_matched_by_characters() -> None:
    rng = random.Random(3)
    hanzi = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    story = "".join(rng.choice(hanzi) for _ in range(900))
    own_intro = "".join(rng.choice(hanzi) for _ in range(300))
    original, copy = story, own_intro + story[:500]
    assert count_words(original) < 5  # one \w+ run: shingles of characters are what tells them apart
    index = CopyIndex()
    index.add("original", "story", sketch(original, GAZETTE), 0.0)
    found = index.match(sketch(copy, COURIER), words=len(words(copy)))
    assert found == Match("original", "story", pytest.approx(500 / 800, abs=0.15))  # of the shorter
    other = "".join(rng.choice(hanzi) for _ in range(900))
    assert index.match(sketch(other, COURIER), words=len(words(other))) is None


# --- the index: what it finds ------------------------------------------------------------------


def test_a_partial_copy_under_its_own_headline_and_intro_is_found() -> None:
    """One outlet runs the first half of the agency text, framed by its own words."""
    rng = random.Random(11)
    agency = vocabulary_text(rng, 600, "agency")
    framed = "\n\n".join([vocabulary_text(rng, 150, "own"), " ".join(agency.split()[:300])])
    found = is_copy(agency, framed)
    assert found is not None
    assert found.article_id == "original"
    assert found.containment == pytest.approx(300 / 450, abs=0.15)  # of the shorter text, the copy
    longer = "\n\n".join([agency, vocabulary_text(rng, 400, "own")])  # three paragraphs added
    assert is_copy(agency, longer) is not None


def test_the_largest_share_wins_then_the_most_text_then_the_earliest() -> None:
    rng = random.Random(5)
    text = vocabulary_text(rng, 800).split()
    index = CopyIndex()
    index.add("half", "half", sketch(" ".join(text[:400]), "a.example"), 10.0)
    index.add("whole", "whole", sketch(" ".join(text), "b.example"), 20.0)
    index.add("whole-later", "whole-later", sketch(" ".join(text), "c.example"), 30.0)
    found = index.match(sketch(" ".join(text), "d.example"), words=800)
    assert found == Match("whole", "whole", 1.0)


def test_a_syndicated_copy_with_its_own_intro_read_more_and_credit_matches() -> None:
    original = paragraphs("harbour-strike.html")
    copy = [
        "Dock workers at Portmere's container terminal have begun a three-day strike, halting most"
        " cargo handling at the port after talks broke down on Friday evening over overnight pay.",
        *original[1:3],
        "Read more: Council approves 412 million euro budget after late-night vote",
        *original[3:],
        "Reporting by Jonas Akerman; editing by Ruth Kelly. © 2026 Northfield Courier Media.",
    ]
    found = is_copy("\n\n".join(original), "\n\n".join(copy))
    assert found is not None
    assert found.article_id == "original"


def test_the_wire_copy_page_matches_the_original() -> None:
    assert is_copy(body("harbour-strike.html"), body("wire-copy.html")) is not None


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(STORIES, 2)))
@pytest.mark.parametrize("same_site", [True, False])
def test_different_articles_do_not_match(first: str, second: str, same_site: bool) -> None:
    assert is_copy(body(first), body(second), same_site=same_site) is None
    assert is_copy(body(second), body(first), same_site=same_site) is None


def _lead(name: str) -> list[str]:
    """The story's first paragraphs, just past the minimum length."""
    lead: list[str] = []
    for paragraph in paragraphs(name):
        lead.append(paragraph)
        if count_words("\n\n".join(lead)) >= MIN_WORDS:
            return lead
    raise AssertionError(f"{name} is shorter than {MIN_WORDS} words")


def _in_page_order(lead: list[str]) -> list[str]:
    before, after = furniture()
    return [*before, *lead, *after]


def _furniture_in_the_middle(lead: list[str]) -> list[str]:
    before, after = furniture()
    return [*before, lead[0], *after, *lead[1:]]


@pytest.mark.parametrize("layout", [_in_page_order, _furniture_in_the_middle])
@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(ENGLISH_STORIES, 2)))
def test_two_pages_of_one_site_sharing_only_its_furniture_do_not_match(
    first: str, second: str, layout: Callable[[list[str]], list[str]]
) -> None:
    # Short stories (just past the minimum) inside some 240 words of identical furniture: the
    # header, cookie banner, related stories, "Most read" sidebar and footer of the Gazette.
    a, b = "\n\n".join(layout(_lead(first))), "\n\n".join(layout(_lead(second)))
    assert is_copy(a, b, same_site=True) is None
    assert is_copy(b, a, same_site=True) is None


def test_furniture_that_many_stories_carry_is_discounted_wherever_it_appears() -> None:
    """Sites of one group share a page template: once a few stories carry it, it is no evidence."""
    index = CopyIndex()
    linked = []
    for i, name in enumerate(ENGLISH_STORIES):
        page = "\n\n".join(_in_page_order(_lead(name)))
        found = index.match(sketch(page, f"paper{i}.example"), words=count_words(page))
        linked.append(found is not None)
        index.add(name, name, sketch(page, f"paper{i}.example"), float(i))
    # Only the first pages, before the template is held by enough other stories, may match.
    assert not any(linked[FURNITURE_STORIES + 1 :])


def test_copies_of_one_story_on_many_sites_all_link_to_it() -> None:
    rng = random.Random(2)
    story = vocabulary_text(rng, 500, "wire").split()
    index = CopyIndex()
    index.add("agency", "agency", sketch(" ".join(story), "agency.example"), 0.0)
    for outlet in range(8):
        start = rng.randrange(100)
        copy = " ".join([vocabulary_text(rng, 80, f"o{outlet}x"), *story[start : start + 300]])
        found = index.match(sketch(copy, f"outlet{outlet}.example"), words=count_words(copy))
        assert found is not None, outlet
        assert found.story_id == "agency"
        index.add(f"copy{outlet}", found.story_id, sketch(copy, f"outlet{outlet}.example"), 1.0 + outlet)


def test_a_template_series_is_not_linked() -> None:
    """Daily market reports share their wording and differ in their figures: not one story."""
    rng = random.Random(7)

    def move() -> str:
        return f"{rng.uniform(-3, 3):.1f}"

    def report(day: str) -> str:
        return (
            f"London stocks closed on {day} as the FTSE 100 moved {move()} per cent to"
            f" {rng.randint(5000, 9000):,} points. The FTSE 250 moved {move()} per cent while sterling"
            f" traded at {rng.uniform(1.1, 1.4):.4f} dollars. Among the biggest risers were miners,"
            f" with shares up {move()} per cent, while banks moved {move()} per cent. Oil prices changed"
            f" {move()} per cent with Brent crude at {rng.uniform(60, 90):.2f} dollars a barrel. Gold"
            f" traded at {rng.randint(1800, 2400)} dollars an ounce. Traders said volumes were thin"
            " ahead of the central bank decision due next week."
        )

    index = CopyIndex()
    matched = 0
    for i, day in enumerate(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"] * 2):
        text = report(day)
        matched += index.match(sketch(text, GAZETTE), words=count_words(text)) is not None
        index.add(str(i), str(i), sketch(text, GAZETTE), float(i))
    assert matched == 0


# --- the index: window, minimum length, validation, rows -----------------------------------------

TEXT = body("harbour-strike.html")
OTHER = body("cup-final.html")
WORDS = count_words(TEXT)


def test_articles_older_than_the_window_are_evicted() -> None:
    index = CopyIndex(window_s=100.0)
    index.add("a", "a", sketch(TEXT, GAZETTE), 1000.0)
    index.add("b", "a", sketch(TEXT, COURIER), 1050.0)
    index.add("c", "c", sketch(OTHER, GAZETTE), 1100.0)  # a is exactly 100 s older than the newest
    assert len(index) == 3
    assert index.match(sketch(TEXT, "x.example"), words=WORDS) == Match("a", "a", 1.0)
    index.add("d", "d", sketch(OTHER, COURIER), 1100.5)  # now a is older than the window
    assert len(index) == 3
    assert index.match(sketch(TEXT, "x.example"), words=WORDS) == Match("b", "a", 1.0)


def test_expire_drops_articles_by_a_clock() -> None:
    index = CopyIndex(window_s=60.0)
    index.add("a", "a", sketch(TEXT, GAZETTE), 0.0)
    index.add("b", "b", sketch(OTHER, GAZETTE), 30.0)
    assert index.expire(now=70.0) == 1
    assert len(index) == 1
    assert index.match(sketch(TEXT, COURIER), words=WORDS) is None
    assert index.expire(now=70.0) == 0


def test_an_article_already_outside_the_window_is_not_indexed() -> None:
    index = CopyIndex(window_s=60.0)
    index.add("new", "new", sketch(OTHER, GAZETTE), 1000.0)
    index.add("late", "late", sketch(TEXT, GAZETTE), 900.0)
    assert len(index) == 1
    assert index.match(sketch(TEXT, COURIER), words=WORDS) is None


def test_adding_an_article_again_replaces_it() -> None:
    index = CopyIndex(window_s=100.0)
    index.add("a", "a", sketch(TEXT, GAZETTE), 0.0)
    index.add("a", "a", sketch(OTHER, GAZETTE), 500.0)
    index.add("z", "z", sketch(body("tram-line.html"), GAZETTE), 550.0)
    assert len(index) == 2
    assert index.match(sketch(TEXT, COURIER), words=WORDS) is None
    assert index.match(sketch(OTHER, COURIER), words=WORDS) == Match("a", "a", 1.0)


def test_texts_shorter_than_the_minimum_never_match() -> None:
    index = CopyIndex()
    index.add("a", "a", sketch(TEXT, GAZETTE), 0.0)
    assert index.match(sketch(TEXT, COURIER), words=MIN_WORDS - 1) is None
    assert index.match(sketch(TEXT, COURIER), words=MIN_WORDS) == Match("a", "a", 1.0)


def test_a_short_brief_does_not_match_even_its_own_copy() -> None:
    brief = "Main Street will be closed between Harbour Road and Mill Lane on Monday for resurfacing."
    assert count_words(brief) < MIN_WORDS
    assert is_copy(brief, brief) is None


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_containment_thresholds_must_be_shares(share: float) -> None:
    with pytest.raises(ValueError, match="containment"):
        CopyIndex(containment=share)
    with pytest.raises(ValueError, match="containment_same_site"):
        CopyIndex(containment_same_site=share)


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_s"):
        CopyIndex(window_s=0)


@pytest.mark.parametrize("data", [b"", b"abc", b"abcd12345"])
def test_malformed_sketches_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a sketch"):
        CopyIndex().add("a", "a", data, 0.0)


def test_the_defaults_ask_more_of_two_pages_of_one_site() -> None:
    assert 0 < DEFAULT_CONTAINMENT < DEFAULT_CONTAINMENT_SAME_SITE <= 1


def test_rows_round_trip_through_sqlite() -> None:
    index = CopyIndex()
    index.add("b", "a", sketch(TEXT, COURIER), 20.0)
    index.add("a", "a", sketch(TEXT, GAZETTE), 10.0)
    index.add("c", "c", sketch(OTHER, GAZETTE), 30.0)
    rows = index.to_rows()
    assert [row[0] for row in rows] == ["a", "b", "c"]  # oldest first
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE copies (article_id TEXT, story_id TEXT, sketch BLOB, published REAL)")
    db.executemany("INSERT INTO copies VALUES (?, ?, ?, ?)", rows)
    stored = [(a, s, bytes(k), p) for a, s, k, p in db.execute("SELECT * FROM copies")]
    db.close()
    restored = CopyIndex.from_rows(stored, containment=0.5, window_s=1000.0, min_words=5)
    assert restored.to_rows() == rows
    assert (restored.containment, restored.window_s, restored.min_words) == (0.5, 1000.0, 5)
    assert restored.match(sketch(TEXT, "x.example"), words=WORDS) == Match("a", "a", 1.0)


def test_from_rows_applies_the_window() -> None:
    rows = [("old", "old", sketch(TEXT, GAZETTE), 0.0), ("new", "new", sketch(OTHER, GAZETTE), 1000.0)]
    assert len(CopyIndex.from_rows(rows, window_s=100.0)) == 1


def test_a_sketch_reads_a_bounded_number_of_words() -> None:
    rng = random.Random(9)
    long = vocabulary_text(rng, MAX_WORDS + 5000)
    head = " ".join(long.split()[:MAX_WORDS])
    assert sketch(long, GAZETTE) == sketch(head, GAZETTE)
