from __future__ import annotations

import hashlib
import itertools
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable

import lxml.html
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.stages.similar import (
    DEFAULT_THRESHOLD,
    HEAD_RAMP,
    MIN_WORDS,
    NUMBER_BOOST,
    TAIL_RAMP,
    Match,
    NearDuplicateIndex,
    fingerprint,
    hamming,
)
from tests.unit.factories import DATA

ARTICLES = DATA / "site" / "articles"
MASK = (1 << 64) - 1
# The Gazette's stories; wire-copy.html is harbour-strike.html republished by another site.
STORIES = [
    "coastal-storm.html",
    "council-budget.html",
    "cup-final.html",
    "harbour-strike.html",
    "marktplatz.html",
    "museum-reopens.html",
    "tram-line.html",
]
ENGLISH_STORIES = [name for name in STORIES if name != "marktplatz.html"]

fingerprints = st.integers(min_value=0, max_value=MASK)


def _text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def paragraphs(name: str) -> list[str]:
    """The ``<p>`` texts of a fixture page's article."""
    root = lxml.html.parse(str(ARTICLES / name)).getroot()
    return [_text(p) for p in root.xpath("//article//p")]


def body(name: str) -> str:
    return "\n\n".join(paragraphs(name))


def furniture() -> tuple[list[str], list[str]]:
    """The Gazette's site furniture around a story: what comes before it, what comes after it."""
    root = lxml.html.parse(str(ARTICLES / "harbour-strike.html")).getroot()
    before = [_text(e) for e in root.xpath("//header | //div[@id='cookie-banner']")]
    after = [
        _text(e) for e in root.xpath("//section[contains(@class, 'related-stories')] | //aside | //footer")
    ]
    return before, after


def words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def is_near_duplicate(original: str, copy: str) -> Match | None:
    """What the default index says about ``copy`` once it holds ``original``."""
    index = NearDuplicateIndex()
    index.add("original", "story", fingerprint(original), 0.0)
    return index.match(fingerprint(copy), words=words(copy))


def reference_fingerprint(text: str) -> int:
    """The definition, bit by bit: weighted votes of the blake2b-64 hashes of the 3-shingles."""
    tokens = re.findall(r"\w+", text.casefold())
    shingles = [" ".join(tokens[i : i + 3]) for i in range(len(tokens) - 2)]
    if not shingles and tokens:
        shingles = [" ".join(tokens)]
    count = len(shingles)
    weights: dict[str, int] = {}
    for position, shingle in enumerate(shingles):
        weight = min(8, 1 + 7 * position // HEAD_RAMP, 1 + 7 * (count - 1 - position) // TAIL_RAMP)
        if any(c.isdigit() and c.isascii() for c in shingle):
            weight *= NUMBER_BOOST
        weights[shingle] = max(weights.get(shingle, 0), weight)
    votes = [0] * 64
    for shingle, weight in weights.items():
        value = int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), "little")
        for bit in range(64):
            votes[bit] += weight if value >> bit & 1 else -weight
    return sum(1 << bit for bit in range(64) if votes[bit] > 0)


# --- fingerprint ---------------------------------------------------------------------------------


def test_fingerprint_is_pinned() -> None:
    # Stored fingerprints are compared with new ones: any change to the algorithm breaks them.
    sentence = (
        "Cranes stood idle along the eastern quays of Portmere on Saturday morning after more than"
        " 600 dock workers walked off the job."
    )
    assert fingerprint(sentence) == 0xE6CF1B02ED94EC2E
    assert fingerprint("Größe und Maß: 東京 straße") == 0x66444EED52F730FB


def test_fingerprint_is_the_same_in_other_processes() -> None:
    text = body("harbour-strike.html")
    code = (
        "import sys; from ingest.stages.similar import fingerprint;"
        " print(fingerprint(sys.stdin.buffer.read().decode('utf-8')))"
    )
    for seed in ("1", "4242"):
        result = subprocess.run(
            [sys.executable, "-c", code],
            input=text.encode("utf-8"),
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=60,
        )
        assert int(result.stdout) == fingerprint(text)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["port", "Strike", "pay", "the", "night", "shift", "Größe", "東京", "600"]),
            st.sampled_from([" ", ", ", ".\n\n", " - "]),
        ),
        max_size=260,
    )
)
def test_fingerprint_follows_its_definition(tokens: list[tuple[str, str]]) -> None:
    # Up to 260 words from a small vocabulary: repeated shingles, and texts shorter than, as long
    # as and longer than the two weight ramps together.
    text = "".join(word + separator for word, separator in tokens)
    assert fingerprint(text) == reference_fingerprint(text)


def test_fingerprint_follows_its_definition_on_the_fixture_articles() -> None:
    for name in STORIES:
        assert fingerprint(body(name)) == reference_fingerprint(body(name))


def test_fingerprint_ignores_case_punctuation_and_spacing() -> None:
    assert fingerprint("Dock workers, on STRIKE!\n\nPay talks") == fingerprint(
        "dock workers on strike pay talks"
    )


def test_a_text_without_words_has_fingerprint_zero() -> None:
    assert fingerprint("") == 0
    assert fingerprint(" -- ... !! ") == 0


def test_fingerprints_are_64_bit() -> None:
    for name in STORIES:
        assert 0 <= fingerprint(body(name)) <= MASK


# --- hamming -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [(0, 0, 0), (0, 1, 1), (0b1010, 0b0101, 4), (0, MASK, 64), (MASK, 1 << 63, 63)],
)
def test_hamming(a: int, b: int, distance: int) -> None:
    assert hamming(a, b) == distance
    assert hamming(b, a) == distance


@given(fingerprints, fingerprints)
def test_hamming_counts_differing_bits(a: int, b: int) -> None:
    assert hamming(a, b) == sum((a >> bit & 1) != (b >> bit & 1) for bit in range(64))


# --- index: banding against a brute-force scan -----------------------------------------------------


@st.composite
def clusters(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A threshold and fingerprints around one base, some within it of each other and some not."""
    threshold = draw(st.integers(min_value=0, max_value=10))
    base = draw(fingerprints)
    near = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        flipped = draw(st.sets(st.integers(min_value=0, max_value=63), max_size=threshold + 3))
        near.append(base ^ sum(1 << bit for bit in flipped))
    return threshold, near + draw(st.lists(fingerprints, max_size=3))


@given(clusters())
def test_banding_finds_every_pair_a_brute_force_scan_finds(case: tuple[int, list[int]]) -> None:
    threshold, fps = case
    for first, second in itertools.permutations(fps, 2):
        index = NearDuplicateIndex(threshold=threshold)
        index.add("first", "story", first, 0.0)
        found = index.match(second, words=MIN_WORDS)
        distance = bin(first ^ second).count("1")
        if distance <= threshold:
            assert found == Match("first", "story", distance)
        else:
            assert found is None


@given(clusters(), fingerprints)
def test_match_is_the_closest_of_a_brute_force_scan(case: tuple[int, list[int]], query: int) -> None:
    threshold, fps = case
    index = NearDuplicateIndex(threshold=threshold)
    for i, fp in enumerate(fps):
        index.add(f"a{i}", f"s{i}", fp, float(i))
    for q in [*fps, query, fps[0] ^ 1]:
        within = [
            (bin(fp ^ q).count("1"), i) for i, fp in enumerate(fps) if bin(fp ^ q).count("1") <= threshold
        ]
        found = index.match(q, words=MIN_WORDS)
        if not within:
            assert found is None
        else:
            distance, i = min(within)  # ties: the earliest published
            assert found == Match(f"a{i}", f"s{i}", distance)


# --- index: window, minimum length, validation -------------------------------------------------------

FP = 0x0123_4567_89AB_CDEF


def test_articles_older_than_the_window_are_evicted() -> None:
    index = NearDuplicateIndex(window_s=100.0)
    index.add("a", "a", FP, 1000.0)
    index.add("b", "a", FP ^ 0b11, 1050.0)
    index.add("c", "c", FP ^ MASK, 1100.0)  # a is exactly 100 s older than the newest: kept
    assert len(index) == 3
    assert index.match(FP, words=MIN_WORDS) == Match("a", "a", 0)
    index.add("d", "d", FP ^ MASK ^ 0xFF00, 1100.5)  # now a is older than the window
    assert len(index) == 3
    assert index.match(FP, words=MIN_WORDS) == Match("b", "a", 2)


def test_expire_drops_articles_by_a_clock() -> None:
    index = NearDuplicateIndex(window_s=60.0)
    index.add("a", "a", FP, 0.0)
    index.add("b", "b", FP ^ MASK, 30.0)
    assert index.expire(now=70.0) == 1
    assert len(index) == 1
    assert index.match(FP, words=MIN_WORDS) is None
    assert index.expire(now=70.0) == 0


def test_an_article_already_outside_the_window_is_not_indexed() -> None:
    index = NearDuplicateIndex(window_s=60.0)
    index.add("new", "new", FP ^ MASK, 1000.0)
    index.add("late", "late", FP, 900.0)
    assert len(index) == 1
    assert index.match(FP, words=MIN_WORDS) is None


def test_adding_an_article_again_replaces_it() -> None:
    index = NearDuplicateIndex(window_s=100.0)
    index.add("a", "a", FP, 0.0)
    index.add("a", "a", FP ^ MASK, 500.0)
    index.add("z", "z", 0xFFFF, 550.0)  # evicts what was published before 450: not the new "a"
    assert len(index) == 2
    assert index.match(FP, words=MIN_WORDS) is None
    assert index.match(FP ^ MASK, words=MIN_WORDS) == Match("a", "a", 0)


def test_texts_shorter_than_the_minimum_never_match() -> None:
    index = NearDuplicateIndex()
    index.add("a", "a", FP, 0.0)
    assert index.match(FP, words=MIN_WORDS - 1) is None
    assert index.match(FP, words=MIN_WORDS) == Match("a", "a", 0)
    relaxed = NearDuplicateIndex(min_words=0)
    relaxed.add("a", "a", FP, 0.0)
    assert relaxed.match(FP, words=0) == Match("a", "a", 0)


def test_a_short_brief_does_not_match_even_its_own_copy() -> None:
    brief = "Main Street will be closed between Harbour Road and Mill Lane on Monday for resurfacing."
    assert words(brief) < MIN_WORDS
    assert is_near_duplicate(brief, brief) is None


@pytest.mark.parametrize("threshold", [-1, 64])
def test_threshold_must_fit_64_bits(threshold: int) -> None:
    with pytest.raises(ValueError, match="threshold"):
        NearDuplicateIndex(threshold=threshold)


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_s"):
        NearDuplicateIndex(window_s=0)


@pytest.mark.parametrize("fp", [-1, 1 << 64])
def test_fingerprints_outside_64_bits_are_refused(fp: int) -> None:
    index = NearDuplicateIndex()
    with pytest.raises(ValueError, match="64-bit"):
        index.add("a", "a", fp, 0.0)
    with pytest.raises(ValueError, match="64-bit"):
        index.match(fp, words=MIN_WORDS)


# --- persistence -----------------------------------------------------------------------------------


def test_rows_round_trip_through_sqlite() -> None:
    index = NearDuplicateIndex()
    index.add("b", "a", 1 << 63, 20.0)
    index.add("a", "a", MASK, 10.0)
    index.add("c", "c", 5, 30.0)
    rows = index.to_rows()
    assert [row[0] for row in rows] == ["a", "b", "c"]  # oldest first
    assert all(-(1 << 63) <= row[2] < 1 << 63 for row in rows)  # fits an SQLite INTEGER
    db = sqlite3.connect(":memory:")
    db.execute(
        "CREATE TABLE near_duplicates (article_id TEXT PRIMARY KEY, story_id TEXT NOT NULL,"
        " fingerprint INTEGER NOT NULL, published REAL NOT NULL)"
    )
    db.executemany("INSERT INTO near_duplicates VALUES (?, ?, ?, ?)", rows)
    stored = db.execute("SELECT article_id, story_id, fingerprint, published FROM near_duplicates")
    restored = NearDuplicateIndex.from_rows(stored.fetchall())
    db.close()
    assert restored.to_rows() == rows
    assert len(restored) == 3
    assert restored.match(MASK ^ 1, words=MIN_WORDS) == Match("a", "a", 1)
    assert restored.match(1 << 63, words=MIN_WORDS) == Match("b", "a", 0)


def test_from_rows_takes_unsigned_fingerprints_and_the_settings() -> None:
    restored = NearDuplicateIndex.from_rows([("a", "a", MASK, 0.0)], threshold=1, window_s=10.0, min_words=5)
    assert (restored.threshold, restored.window_s, restored.min_words) == (1, 10.0, 5)
    assert restored.match(MASK ^ 1, words=5) == Match("a", "a", 1)
    assert restored.match(MASK ^ 0b11, words=5) is None


def test_from_rows_applies_the_window() -> None:
    rows = [("old", "old", FP, 0.0), ("new", "new", FP ^ MASK, 1000.0)]
    assert len(NearDuplicateIndex.from_rows(rows, window_s=100.0)) == 1


@pytest.mark.parametrize("fp", [-(1 << 63) - 1, 1 << 64])
def test_from_rows_refuses_fingerprints_outside_64_bits(fp: int) -> None:
    with pytest.raises(ValueError, match="64-bit"):
        NearDuplicateIndex.from_rows([("a", "a", fp, 0.0)])


# --- quality on the fixture site ------------------------------------------------------------------

NEW_INTRO = (
    "Dock workers at Portmere's container terminal have begun a three-day strike, halting most cargo"
    " handling at the port after last-minute talks with the operator broke down on Friday evening over"
    " changes to overnight pay."
)
READ_MORE = "Read more: Council approves 412 million euro budget after late-night vote"
CREDIT = (
    "Reporting by Jonas Akerman; editing by Ruth Kelly. © 2026 Northfield Courier Media. All rights reserved."
)


def test_a_syndicated_copy_with_its_own_intro_read_more_and_credit_matches() -> None:
    original = paragraphs("harbour-strike.html")
    copy = [NEW_INTRO, *original[1:3], READ_MORE, *original[3:], CREDIT]
    assert NEW_INTRO not in original
    found = is_near_duplicate("\n\n".join(original), "\n\n".join(copy))
    assert found is not None
    assert found.article_id == "original"
    assert found.distance <= DEFAULT_THRESHOLD


def test_the_wire_copy_page_matches_the_original() -> None:
    assert is_near_duplicate(body("harbour-strike.html"), body("wire-copy.html")) is not None


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(STORIES, 2)))
def test_different_articles_do_not_match(first: str, second: str) -> None:
    assert is_near_duplicate(body(first), body(second)) is None
    assert is_near_duplicate(body(second), body(first)) is None


def _lead(name: str) -> list[str]:
    """The story's first paragraphs, just past the minimum length."""
    lead: list[str] = []
    for paragraph in paragraphs(name):
        lead.append(paragraph)
        if words("\n\n".join(lead)) >= MIN_WORDS:
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
def test_articles_sharing_only_site_furniture_do_not_match(
    first: str, second: str, layout: Callable[[list[str]], list[str]]
) -> None:
    # Short stories (just past the minimum) inside some 240 words of identical furniture: the
    # header, cookie banner, related stories, "Most read" sidebar and footer of the Gazette.
    a, b = "\n\n".join(layout(_lead(first))), "\n\n".join(layout(_lead(second)))
    assert is_near_duplicate(a, b) is None
    assert is_near_duplicate(b, a) is None


def test_a_template_series_is_not_linked() -> None:
    """Daily market reports share their wording and differ in their figures: not one story."""
    import random
    from itertools import combinations

    rng = random.Random(7)

    def report(day: str) -> str:
        def move() -> str:
            return f"{rng.uniform(-3, 3):.1f}"

        def level() -> str:
            return f"{rng.randint(5000, 9000):,}"

        return (
            f"London stocks closed on {day} as the FTSE 100 moved {move()} per cent to {level()} points. "
            f"The FTSE 250 moved {move()} per cent to {level()} while sterling traded at "
            f"{rng.uniform(1.1, 1.4):.4f} dollars. Among the biggest risers were miners, with shares up "
            f"{move()} per cent, while banks moved {move()} per cent. Oil prices changed {move()} per cent "
            f"with Brent crude at {rng.uniform(60, 90):.2f} dollars a barrel. Gold traded at "
            f"{rng.randint(1800, 2400)} dollars an ounce. Traders said volumes were thin ahead of the "
            "central bank decision due next week, and analysts expect volatility to remain elevated in "
            f"the coming sessions. In Europe the DAX moved {move()} per cent and the CAC 40 moved "
            f"{move()} per cent, while in New York futures pointed to a firmer open."
        )

    reports = [report(day) for day in ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"] * 4]
    assert all(len(r.split()) >= MIN_WORDS for r in reports)
    prints = [fingerprint(r) for r in reports]
    closest = min(hamming(a, b) for a, b in combinations(prints, 2))
    assert closest > DEFAULT_THRESHOLD
