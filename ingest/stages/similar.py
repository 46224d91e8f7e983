"""Near-duplicate detection: one story republished with another headline, intro or site furniture.

Exact copies (the same words under another URL) never get here: the dedup stage drops them by
content hash (``ingest.text.content_hash``). This module finds the copies that differ by a few lines,
typically a wire story that several outlets republish with their own headline, a reworded first
paragraph, a "Read more:" link, a credit line, or the last paragraph cut.

``fingerprint`` is a 64-bit SimHash (Charikar, 2002) of the text's word 3-shingles: every distinct
shingle of case-folded ``\\w+`` tokens is hashed with blake2b to 64 bits, each bit votes for or
against, and the fingerprint keeps the majority of each bit. Texts sharing most of their shingles get
fingerprints that differ in few bits, so "near duplicate" becomes "Hamming distance at most k".
Shingles near the start and the end of the text vote with less weight, because that is where
syndicated copies differ (see ``fingerprint``). The hash is stable across processes and Python
versions (no built-in ``hash()``), so fingerprints can be stored and compared later; changing
``SHINGLE_WORDS``, ``HEAD_RAMP`` or ``TAIL_RAMP`` changes every fingerprint, and stored ones must then
be recomputed.

``NearDuplicateIndex`` holds the fingerprints of a sliding window of recent articles and finds the
closest one within k bits. Lookups use the pigeonhole trick: with the 64 bits cut into k + 1 bands,
two fingerprints within k bits agree exactly on at least one band, so only the articles sharing a
band with the query are compared.

Precision comes first: a false match hides a different story. Texts shorter than ``min_words`` are
never matched (short briefs and template series, "Road closed on ...", differ in too few shingles
for their fingerprints to tell them apart). The default threshold, 6 bits, comes from
``bench/near_duplicates.py`` on the article-extraction-benchmark bodies: no false match at any of 2 to
6 bits among 32,580 pairs of different articles (the closest pair was 16 bits apart; 17 with
identical site furniture around both), and recall on edited copies rising from 0.60 at 3 bits to 0.85
at 6. Its cost: a lookup in a window of 100,000 articles compares about 1,300 candidates (0.15 to
0.3 ms, against 5 us at 3 bits), and the index holds about 0.6 kB per article.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

BITS = 64
SHINGLE_WORDS = 3
DEFAULT_THRESHOLD = 6
DEFAULT_WINDOW_S = 7 * 24 * 3600.0
MIN_WORDS = 80
NUMBER_BOOST = 2
# Shingles at the start and at the end of a text over which their weight ramps up to full, and down.
HEAD_RAMP = 120
TAIL_RAMP = 60

# A stored row: (article_id, story_id, fingerprint as a signed 64-bit integer, published epoch seconds).
Row = tuple[str, str, int, float]

_MASK = (1 << BITS) - 1
_SIGN = 1 << (BITS - 1)
_WORD = re.compile(r"\w+")
_DIGIT = re.compile(rb"[0-9]")
# _BIT_OF[b] maps a byte to 1 when its bit b is set, else to 0 (for bytes.translate).
_BIT_OF = tuple(bytes((value >> bit) & 1 for value in range(256)) for bit in range(8))
_DIGEST = BITS // 8
_LEVELS = 8  # weights are 1 to 8; 8 is full
# Weights at the first HEAD_RAMP positions (1 rising to 7) and at the last TAIL_RAMP (7 falling to 1).
_RAMP_UP = [1 + (_LEVELS - 1) * i // HEAD_RAMP for i in range(HEAD_RAMP)]
_RAMP_DOWN = [1 + (_LEVELS - 1) * i // TAIL_RAMP for i in reversed(range(TAIL_RAMP))]


def _shingles(text: str) -> list[bytes]:
    """The word 3-shingles of ``text`` in order (fewer words: one shingle of all of them)."""
    tokens = [token.encode("utf-8") for token in _WORD.findall(text.casefold())]
    if len(tokens) < SHINGLE_WORDS:
        return [b" ".join(tokens)] if tokens else []
    return list(map(b" ".join, zip(tokens, tokens[1:], tokens[2:], strict=False)))


def _bit_counts(digests: bytes) -> list[int]:
    """For each of the 64 bit positions, how many of the concatenated 8-byte hashes have it set."""
    # Byte j of every hash is digests[j::8]; translate maps each to 0/1 for bit b; count adds them.
    counts: list[int] = []
    for byte in range(_DIGEST):
        column = digests[byte::_DIGEST]
        counts.extend(column.translate(table).count(1) for table in _BIT_OF)
    return counts


def fingerprint(text: str) -> int:
    """The 64-bit SimHash of the text's word 3-shingles; 0 for a text without words.

    Each distinct shingle is hashed to 64 bits (blake2b, read little-endian) and votes with its
    weight for every bit: bit ``i`` of the fingerprint is set when the shingles with bit ``i`` set
    carry more than half of the total weight. A shingle's weight is its position's (the largest,
    if it occurs more than once): full in the body of the text, ramping linearly from 1/8 at the
    first shingle to full over the first ``HEAD_RAMP`` shingles, and back down to 1/8 over the last
    ``TAIL_RAMP``. Syndicated copies differ mostly at the edges (headline, byline, a reworded intro,
    "Read more" links, credits, a trimmed end), so the edges count less. Shingles with a digit count
    ``NUMBER_BOOST`` times more: copies of one story keep its figures, while a template series
    (results, market reports) changes little but its figures. About 0.6 ms for a 600-word article.
    """
    shingles = _shingles(text)
    count = len(shingles)
    if not count:
        return 0
    full = set(shingles[HEAD_RAMP : count - TAIL_RAMP])
    # The weight of each edge position; where the two ramps overlap (short texts) the lower one.
    head, tail = min(HEAD_RAMP, count), min(TAIL_RAMP, count)
    weights = [_LEVELS] * count
    weights[:head] = _RAMP_UP[:head]
    weights[count - tail :] = map(min, weights[count - tail :], _RAMP_DOWN[TAIL_RAMP - tail :])
    edges: dict[bytes, int] = {}
    for position in itertools.chain(range(head), range(max(head, count - tail), count)):
        shingle = shingles[position]
        weight = weights[position] * (NUMBER_BOOST if _has_digit(shingle) else 1)
        if shingle not in full and weight > edges.get(shingle, 0):
            edges[shingle] = weight
    numeric = {s for s in full if _has_digit(s)}
    plain = full - numeric
    blake2b = hashlib.blake2b
    # Full-weight hashes once each (their counts are scaled below), edge hashes repeated by weight.
    plain_counts = _bit_counts(b"".join([blake2b(s, digest_size=_DIGEST).digest() for s in plain]))
    numeric_counts = _bit_counts(b"".join([blake2b(s, digest_size=_DIGEST).digest() for s in numeric]))
    edge_counts = _bit_counts(
        b"".join([blake2b(s, digest_size=_DIGEST).digest() * w for s, w in edges.items()])
    )
    boosted = _LEVELS * NUMBER_BOOST
    total = _LEVELS * len(plain) + boosted * len(numeric) + sum(edges.values())
    result = 0
    for bit, (in_plain, in_numeric, in_edges) in enumerate(
        zip(plain_counts, numeric_counts, edge_counts, strict=True)
    ):
        if 2 * (_LEVELS * in_plain + boosted * in_numeric + in_edges) > total:
            result |= 1 << bit
    return result


def _has_digit(shingle: bytes) -> bool:
    return _DIGIT.search(shingle) is not None


def signed(fp: int) -> int:
    """A 64-bit fingerprint as a signed 64-bit integer (two's complement), as SQLite stores it."""
    return fp - (1 << BITS) if fp & _SIGN else fp


def hamming(a: int, b: int) -> int:
    """The number of bits in which two fingerprints differ."""
    return (a ^ b).bit_count()


@dataclass(frozen=True, slots=True)
class Match:
    """The closest earlier article: its id, its story's id, and how many bits apart they are."""

    article_id: str
    story_id: str
    distance: int


@dataclass(frozen=True, slots=True)
class _Entry:
    article_id: str
    story_id: str
    fingerprint: int
    published: float


def _check(fp: int) -> None:
    if not 0 <= fp <= _MASK:
        raise ValueError(f"not a 64-bit fingerprint: {fp}")


def _bands(threshold: int) -> tuple[tuple[int, int], ...]:
    """(shift, mask) of ``threshold + 1`` bands covering the 64 bits, widths differing by one at most."""
    count = threshold + 1
    bands: list[tuple[int, int]] = []
    shift = 0
    for i in range(count):
        width = BITS // count + (1 if i < BITS % count else 0)
        bands.append((shift, (1 << width) - 1))
        shift += width
    return tuple(bands)


class NearDuplicateIndex:
    """Fingerprints of the articles published in a recent window, searchable by Hamming distance.

    ``match`` before ``add``: match each new article against the earlier ones, then add it with the
    story id of its match (or its own id when it matched nothing), so every copy points to the first
    article of its story. Entries older than ``window_s`` before the newest added publication time are
    dropped as articles are added; ``expire`` drops them by a clock instead. Not thread-safe.
    """

    def __init__(
        self,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        window_s: float = DEFAULT_WINDOW_S,
        min_words: int = MIN_WORDS,
    ) -> None:
        if not 0 <= threshold < BITS:
            raise ValueError(f"threshold must be between 0 and {BITS - 1} bits, not {threshold}")
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, not {window_s}")
        self.threshold = threshold
        self.window_s = window_s
        self.min_words = min_words
        self._bands = _bands(threshold)
        # Per band: band value -> {article id: fingerprint} of the articles with that value.
        self._tables: list[dict[int, dict[str, int]]] = [{} for _ in self._bands]
        self._entries: dict[str, _Entry] = {}
        self._by_age: list[tuple[float, str]] = []
        self._newest = -math.inf

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, fp: int, *, words: int) -> Match | None:
        """The closest indexed article within ``threshold`` bits of ``fp``, or None.

        ``words`` is the text's word count (``Article.word_count``): below ``min_words`` nothing
        matches. Ties go to the earliest published article.
        """
        _check(fp)
        if words < self.min_words:
            return None
        best: tuple[int, float, str] | None = None
        for (shift, mask), table in zip(self._bands, self._tables, strict=True):
            bucket = table.get((fp >> shift) & mask)
            if not bucket:
                continue
            for article_id, other in bucket.items():
                distance = (fp ^ other).bit_count()
                if distance <= self.threshold:
                    key = (distance, self._entries[article_id].published, article_id)
                    if best is None or key < best:
                        best = key
        if best is None:
            return None
        entry = self._entries[best[2]]
        return Match(entry.article_id, entry.story_id, best[0])

    def add(self, article_id: str, story_id: str, fp: int, published: float) -> None:
        """Index an article (replacing an earlier entry with the same id), then drop expired ones.

        ``published`` is in epoch seconds. An article already older than the window is not indexed.
        """
        _check(fp)
        self._remove(article_id)
        self._newest = max(self._newest, published)
        cutoff = self._newest - self.window_s
        if published >= cutoff:
            self._entries[article_id] = _Entry(article_id, story_id, fp, published)
            for (shift, mask), table in zip(self._bands, self._tables, strict=True):
                table.setdefault((fp >> shift) & mask, {})[article_id] = fp
            heapq.heappush(self._by_age, (published, article_id))
        self._evict(cutoff)

    def expire(self, now: float) -> int:
        """Drop the articles published more than ``window_s`` before ``now``; returns how many."""
        return self._evict(now - self.window_s)

    def to_rows(self) -> list[Row]:
        """Every entry as (article_id, story_id, fingerprint, published), oldest first.

        The fingerprint is stored as a signed 64-bit integer (two's complement) so that it fits an
        SQLite ``INTEGER``; ``from_rows`` reads it back either way.
        """
        entries = sorted(self._entries.values(), key=lambda e: (e.published, e.article_id))
        return [
            (
                e.article_id,
                e.story_id,
                signed(e.fingerprint),
                e.published,
            )
            for e in entries
        ]

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Row],
        *,
        threshold: int = DEFAULT_THRESHOLD,
        window_s: float = DEFAULT_WINDOW_S,
        min_words: int = MIN_WORDS,
    ) -> NearDuplicateIndex:
        """An index holding ``rows`` as written by ``to_rows`` (signed or unsigned fingerprints)."""
        index = cls(threshold=threshold, window_s=window_s, min_words=min_words)
        for article_id, story_id, fp, published in rows:
            if not -_SIGN <= fp <= _MASK:
                raise ValueError(f"not a 64-bit fingerprint: {fp}")
            index.add(article_id, story_id, fp & _MASK, published)
        return index

    def _remove(self, article_id: str) -> None:
        entry = self._entries.pop(article_id, None)
        if entry is None:
            return
        for (shift, mask), table in zip(self._bands, self._tables, strict=True):
            key = (entry.fingerprint >> shift) & mask
            bucket = table[key]
            del bucket[article_id]
            if not bucket:
                del table[key]

    def _evict(self, cutoff: float) -> int:
        evicted = 0
        while self._by_age and self._by_age[0][0] < cutoff:
            published, article_id = heapq.heappop(self._by_age)
            entry = self._entries.get(article_id)
            # A stale heap item: the article was replaced since, with another publication time.
            if entry is not None and entry.published == published:
                self._remove(article_id)
                evicted += 1
        return evicted
