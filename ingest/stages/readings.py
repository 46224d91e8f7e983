"""Readings of a page's body, and the rule that picks one by agreement.

Extractors fail in different ways: trafilatura's fast precision pass sometimes keeps a fragment of
the article, its default mode sometimes adds the related-stories block, a site's JSON-LD
``articleBody`` is sometimes a summary. So the body is chosen among several readings by how well
two extractors that share no code with trafilatura agree with each one:

- resiliparse's main-content text (C++, about 1.5 ms a page, recall-first) and
- readability-lxml's article (the Readability algorithm).

The cheap part runs on every page: trafilatura's fast precision pass and resiliparse. When the
precision text has at least ``THIN_WORDS`` words and holds at least ``COVERED`` of resiliparse's
words, the readings could only agree with it, and it is kept. Otherwise (a short text, or one that
covers little of what the page shows as its main content) the page pays for more: trafilatura's
default mode (and, for a thin text, its full precision pass) and the page's ``articleBody``;
readability, the costlier judge, reads the page only when resiliparse alone finds some later reading
better by at least half the margin. A reading replaces the one before it only when it agrees with the
independent readings clearly better (by ``MARGIN`` in mean bag-of-words F1) and what it adds is not
a list of teasers (paragraphs that end in an ellipsis: excerpts of other stories). None of these
numbers is a property of one corpus: each says "clearly more" or "clearly better", and the rule was
judged on every corpus at once (see QUALITY.md).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version

from ingest.models import PageMethod
from ingest.text import html_to_text, word_count, words

log = logging.getLogger(__name__)

# ``extraction.extractor_version`` for each method (the page's own ``articleBody`` needs no extractor).
EXTRACTOR_VERSIONS: dict[PageMethod, str | None] = {
    "trafilatura": version("trafilatura"),
    "json_ld": None,
    "readability": version("readability-lxml"),
}

# Below this many words a precision text is always checked against the other readings.
THIN_WORDS = 100
# A precision text that holds this share of resiliparse's words is not a fragment of the page.
COVERED = 0.5
# A reading replaces the one chosen so far when its mean F1 against the independent readings is
# higher by this much.
MARGIN = 0.1
# An independent reading shorter than this says nothing about the page.
_REFERENCE_WORDS = 10
_TEASER_END = re.compile(r"(?:\.\.\.|…|\[…\]|\[\.\.\.\])\s*$")
_SHINGLE = 3


@dataclass(frozen=True, slots=True)
class Reading:
    """One extractor's text of a page."""

    method: PageMethod
    text: str


@lru_cache(maxsize=16)
def _bag(text: str) -> Counter[str]:
    """The page's readings are compared with each other several times: each is counted once.
    Callers never change the bag they are given."""
    return Counter(words(text))


def bag_f1(a: Counter[str], b: Counter[str]) -> float:
    """F1 of two bags of words (0 when either is empty)."""
    if not a or not b:
        return 0.0
    common = sum((a & b).values())
    if not common:
        return 0.0
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def covered(text: str, reference: str) -> float:
    """Share of ``reference``'s words that ``text`` holds (1 when the reference is empty)."""
    ref = _bag(reference)
    if not ref:
        return 1.0
    return sum((ref & _bag(text)).values()) / sum(ref.values())


def _shingles(tokens: Sequence[str]) -> set[tuple[str, ...]]:
    if len(tokens) < _SHINGLE:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + _SHINGLE]) for i in range(len(tokens) - _SHINGLE + 1)}


def added_paragraphs(text: str, base: str) -> list[str]:
    """The paragraphs of ``text`` that ``base`` does not hold (most of their 3-word runs absent)."""
    held = _shingles(words(base))
    added = []
    for line in text.split("\n"):
        own = _shingles(words(line))
        if own and len(own & held) <= len(own) / 2:
            added.append(line.strip())
    return added


def adds_teasers(text: str, base: str) -> bool:
    """Whether what ``text`` adds to ``base`` is mostly excerpts of other stories: two or more
    paragraphs of some length, at least half of them cut off with an ellipsis."""
    added = [p for p in added_paragraphs(text, base) if word_count(p) >= 5]
    return len(added) >= 2 and 2 * sum(bool(_TEASER_END.search(p)) for p in added) >= len(added)


def pick(candidates: Sequence[Reading], references: Sequence[str]) -> Reading | None:
    """The candidate the references agree with, preferring earlier ones: a later candidate wins
    only by ``MARGIN`` and when it adds no teasers. None when no reference has enough words."""
    refs = [_bag(r) for r in references if word_count(r) >= _REFERENCE_WORDS]
    if not refs or not candidates:
        return None
    scores = [sum(bag_f1(_bag(c.text), ref) for ref in refs) / len(refs) for c in candidates]
    best = 0
    for i in range(1, len(candidates)):
        if scores[i] - scores[best] >= MARGIN and not adds_teasers(candidates[i].text, candidates[best].text):
            best = i
    return candidates[best]


def resiliparse_text(markup: str) -> str:
    """resiliparse's main-content text of a page ("" if it cannot read it)."""
    from resiliparse.extract.html2text import extract_plain_text

    try:
        return str(extract_plain_text(markup, main_content=True))
    except Exception as exc:  # an adviser that fails on a page has no reading of it
        log.debug("resiliparse could not read the page: %s", exc)
        return ""


def readability_text(markup: str) -> str:
    """readability-lxml's article text of a page, as paragraphs ("" if it finds none)."""
    from readability import Document

    try:
        summary = Document(markup).summary(html_partial=True)
    except Exception as exc:  # it asserts on some pages ('<html>' alone): no reading then
        log.debug("readability could not read the page: %s", exc)
        return ""
    return html_to_text(summary)


def choose_body(
    fast: str,
    markup: str,
    more: Callable[[], Sequence[Reading]],
    fallback: Callable[[Sequence[Reading]], str],
) -> Reading:
    """The body of a page from its readings.

    ``fast`` is trafilatura's fast precision text; ``more()`` computes the costlier candidates in
    order of preference (trafilatura's full precision pass where ``fast`` is thin, its default mode,
    the page's ``articleBody``), called only when ``fast`` may be a fragment; ``fallback`` decides
    among ``fast`` and them when neither independent reader says anything about the page.
    """
    quick = resiliparse_text(markup)
    if word_count(fast) >= THIN_WORDS and quick and covered(fast, quick) >= COVERED:
        return Reading("trafilatura", fast)
    candidates = [Reading("trafilatura", fast), *more()]
    if word_count(fast) >= _REFERENCE_WORDS and word_count(quick) >= _REFERENCE_WORDS:
        # readability (the costlier judge) only where resiliparse sees a later reading as possibly better
        quick_bag = _bag(quick)
        first = bag_f1(_bag(fast), quick_bag)
        if all(bag_f1(_bag(c.text), quick_bag) - first < MARGIN / 2 for c in candidates[1:]):
            return candidates[0]
    readable = readability_text(markup)
    chosen = pick(candidates, [quick, readable]) or Reading("trafilatura", fallback(candidates))
    if word_count(chosen.text) < _REFERENCE_WORDS:
        # Next to nothing chosen: the fullest reading, be it the page's own articleBody or readability's.
        readings = [*candidates, Reading("readability", readable)]
        return max(readings, key=lambda r: (word_count(r.text), r is chosen))
    return chosen
