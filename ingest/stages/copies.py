"""Near-duplicates by shared text: one story carried by several outlets, cut and re-framed.

Real syndicated copies are not light edits of each other. One outlet runs the first half of an
agency story under its own headline and intro, another adds three paragraphs of its own; a press
release is quoted whole inside a report. What they keep is long runs of the same words, so the test
is *containment*: the share of the shorter text's word 5-shingles that the other text also has.
Jaccard similarity (shared over all) and a SimHash distance fall with every paragraph one copy adds.

``sketch`` keeps a fixed 1 in ``SAMPLE`` of a text's distinct shingles, chosen by their hash
(Broder's mod-m sample): two texts keep the same shingles of the text they share, so the share of
samples they have in common estimates their containment, whatever each adds. A quarter of the
samples (1 in 32 shingles) are retrieval keys: an index from key to articles finds the candidates
that share any, and only those are compared. A key that over ``MAX_POSTINGS`` articles hold (a
stock phrase) is no evidence and is not followed.

A site's own furniture (navigation, cookie and subscription notices, "related stories" lists) is
what pages of one site share without being one story. It is discounted twice. Two pages of one site
must share most of the shorter text (``containment_same_site``), pages of different sites less
(``containment``): pages of different sites rarely share furniture. And once the window holds a
few pages that carry it, text held by articles of ``FURNITURE_STORIES`` other stories is furniture
(or a stock phrase), wherever it appears: the share of such keys among those two texts share is
taken off their containment. Copies of one story are linked to it, so a story that many outlets
ran is still held by one story. Sites are registrable domains (``bbc.co.uk``).

Texts under ``min_words`` words are neither matched nor kept: short briefs and teasers share too few
shingles to tell their stories apart, and a teaser is contained whole in every page that lists it.

Shingles are of case-folded ``\\w+`` words; in scripts written without spaces (Chinese, Japanese,
Thai, Lao, Khmer, Burmese) each character is a word. Hashes are blake2b, stable across processes and
versions, so sketches can be stored; changing ``SHINGLE_WORDS``, ``SAMPLE`` or the word rule changes
every sketch, and stored ones must then be recomputed.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import sys
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ingest.models import FingerprintRow
from ingest.text import words

SHINGLE_WORDS = 5
SAMPLE = 8  # a shingle is sampled when its hash is 0 modulo this
KEY_EVERY = 4  # a sample is a retrieval key when its stored value is 0 modulo this
DEFAULT_CONTAINMENT = 0.35
DEFAULT_CONTAINMENT_SAME_SITE = 0.8
DEFAULT_WINDOW_S = 7 * 24 * 3600.0
MIN_WORDS = 80
MAX_WORDS = 20_000  # a sketch reads at most this many words (a book-length text's first part)
MIN_SHARED = 3  # samples two texts must share, whatever the share (about 24 shingles)
MIN_SAMPLES = 4  # a text with fewer samples is too short to be matched
MAX_CANDIDATES = 32  # compared per match, those sharing the most keys
MAX_POSTINGS = 1000  # a key held by more articles than this is a stock phrase, not followed
FURNITURE_STORIES = 3  # a key held by articles of this many other stories is furniture

# Second-level labels under which country domains register names (bbc.co.uk, abc.net.au, gob.mx).
_SECOND_LEVEL = frozenset(
    "ac co com edu gob gov govt go ltd me mil ne net nhs nic nom or org plc sch".split()
)
_SITE_BYTES = 4
_VALUE_MASK = 0xFFFFFFFF


def site_of(url: str | None) -> str:
    """The site of ``url``: its registrable domain, by rule (``news.bbc.co.uk`` → ``bbc.co.uk``,
    ``edition.cnn.com`` → ``cnn.com``); an IP address whole; "" without a host. The public suffix
    list would be exact, at some 7 MB of memory in every process."""
    if not url:
        return ""
    host = (urlsplit(url if "://" in url else f"//{url}").hostname or "").lower().rstrip(".")
    if not host or ":" in host or host.replace(".", "").isdigit():
        return host
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def _hash(data: bytes, size: int = 8) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=size).digest(), "little")


def sketch(text: str, site: str) -> bytes:
    """The text's sample of shingle hashes, with a tag of its site: ``_SITE_BYTES`` of site hash,
    then the distinct sampled values (32-bit, little-endian, ascending). Of the first ``MAX_WORDS``
    words: about 1 ms for 600 words, at most some 30 ms whatever the text."""
    tokens = words(text)[:MAX_WORDS]
    values: set[int] = set()
    blake2b = hashlib.blake2b
    for i in range(len(tokens) - SHINGLE_WORDS + 1):
        h = int.from_bytes(
            blake2b(" ".join(tokens[i : i + SHINGLE_WORDS]).encode(), digest_size=8).digest(), "little"
        )
        if h % SAMPLE == 0:
            values.add((h // SAMPLE) & _VALUE_MASK)
    packed = array("I", sorted(values))
    if sys.byteorder == "big":
        packed.byteswap()
    return _hash(site.encode(), _SITE_BYTES).to_bytes(_SITE_BYTES, "little") + packed.tobytes()


def _unpack(data: bytes) -> tuple[int, array[int]]:
    if len(data) < _SITE_BYTES or (len(data) - _SITE_BYTES) % 4:
        raise ValueError(f"not a sketch: {len(data)} bytes")
    values = array("I")
    values.frombytes(data[_SITE_BYTES:])
    if sys.byteorder == "big":
        values.byteswap()
    return int.from_bytes(data[:_SITE_BYTES], "little"), values


def _keys(values: Iterable[int]) -> list[int]:
    return [v for v in values if v % KEY_EVERY == 0]


def containment(a: bytes, b: bytes) -> float:
    """The estimated share of the shorter text's shingles that the other text has (0 to 1)."""
    _, left = _unpack(a)
    _, right = _unpack(b)
    if not left or not right:
        return 0.0
    return len(set(left).intersection(right)) / min(len(left), len(right))


@dataclass(frozen=True, slots=True)
class Match:
    """The earlier article that holds most of the text: its id, its story's id, the share."""

    article_id: str
    story_id: str
    containment: float


@dataclass(frozen=True, slots=True)
class _Entry:
    article_id: str
    story_id: str
    sketch: bytes
    published: float
    site: int


class CopyIndex:
    """Sketches of the articles published in a recent window, searchable by containment.

    ``match`` before ``add``: match each new article against the earlier ones, then add it with the
    story id of its match (or its own id when it matched nothing), so every copy points to the first
    article of its story. Entries older than ``window_s`` before the newest added publication time are
    dropped as articles are added; ``expire`` drops them by a clock instead. Not thread-safe.
    """

    def __init__(
        self,
        *,
        containment: float = DEFAULT_CONTAINMENT,
        containment_same_site: float = DEFAULT_CONTAINMENT_SAME_SITE,
        window_s: float = DEFAULT_WINDOW_S,
        min_words: int = MIN_WORDS,
    ) -> None:
        for name, share in (("containment", containment), ("containment_same_site", containment_same_site)):
            if not 0 < share <= 1:
                raise ValueError(f"{name} must be above 0 and at most 1, not {share}")
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, not {window_s}")
        self.containment = containment
        self.containment_same_site = containment_same_site
        self.window_s = window_s
        self.min_words = min_words
        # Key -> the article holding it (the common case), or the list of those holding it.
        self._postings: dict[int, str | list[str]] = {}
        self._entries: dict[str, _Entry] = {}
        self._by_age: list[tuple[float, str]] = []
        self._newest = -math.inf

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, sketched: bytes, *, words: int) -> Match | None:
        """The indexed article sharing the largest part of the text, if enough of it; or None.

        ``words`` is the text's word count: below ``min_words`` nothing matches. Of equal shares the
        one sharing more text wins, then the earliest published.
        """
        if words < self.min_words:
            return None
        site, values = _unpack(sketched)
        if len(values) < MIN_SAMPLES:
            return None
        keys = _keys(values)
        candidates: Counter[str] = Counter()
        holders_of: dict[int, list[str]] = {}
        for key in keys:
            holders = self._postings.get(key)
            if holders is None:
                continue
            listed = [holders] if isinstance(holders, str) else holders
            if len(listed) <= MAX_POSTINGS:
                holders_of[key] = listed
                candidates.update(listed)
        if not candidates:
            return None
        mine = set(values)
        best: tuple[float, int, float, str] | None = None
        for article_id, _ in candidates.most_common(MAX_CANDIDATES):
            entry = self._entries[article_id]
            other = _unpack(entry.sketch)[1]
            shared = len(mine.intersection(other))
            share = shared / min(len(mine), len(other))
            share *= 1 - self._furniture(holders_of, article_id)
            needed = self.containment_same_site if entry.site == site else self.containment
            if shared >= MIN_SHARED and share >= needed:
                rank = (-share, -shared, entry.published, article_id)
                if best is None or rank < best:
                    best = rank
        if best is None:
            return None
        entry = self._entries[best[3]]
        return Match(entry.article_id, entry.story_id, -best[0])

    def _furniture(self, holders_of: dict[int, list[str]], candidate: str) -> float:
        """The share of the keys a candidate shares with the query that are furniture: held by
        articles of ``FURNITURE_STORIES`` stories besides the candidate's. Copies of one story are
        linked to it, so the text they carry is held by one story however many outlets ran it."""
        story = self._entries[candidate].story_id
        shared = [holders for holders in holders_of.values() if candidate in holders]
        if not shared:
            return 0.0
        furniture = 0
        for holders in shared:
            others = {self._entries[h].story_id for h in holders} - {story}
            if len(others) >= FURNITURE_STORIES:
                furniture += 1
        return furniture / len(shared)

    def add(self, article_id: str, story_id: str, sketched: bytes, published: float) -> None:
        """Index an article (replacing an earlier entry with the same id), then drop expired ones.

        ``published`` is in epoch seconds. An article already older than the window is not indexed,
        nor one whose text is too short to have ``MIN_SAMPLES`` samples.
        """
        site, values = _unpack(sketched)
        self._remove(article_id)
        self._newest = max(self._newest, published)
        cutoff = self._newest - self.window_s
        if published >= cutoff and len(values) >= MIN_SAMPLES:
            self._entries[article_id] = _Entry(article_id, story_id, sketched, published, site)
            for key in _keys(values):
                holders = self._postings.get(key)
                if holders is None:
                    self._postings[key] = article_id
                elif isinstance(holders, str):
                    self._postings[key] = [holders, article_id]
                else:
                    holders.append(article_id)
            heapq.heappush(self._by_age, (published, article_id))
        self._evict(cutoff)

    def expire(self, now: float) -> int:
        """Drop the articles published more than ``window_s`` before ``now``; returns how many."""
        return self._evict(now - self.window_s)

    def to_rows(self) -> list[FingerprintRow]:
        """Every entry as (article_id, story_id, sketch, published), oldest first."""
        entries = sorted(self._entries.values(), key=lambda e: (e.published, e.article_id))
        return [(e.article_id, e.story_id, e.sketch, e.published) for e in entries]

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[FingerprintRow],
        *,
        containment: float = DEFAULT_CONTAINMENT,
        containment_same_site: float = DEFAULT_CONTAINMENT_SAME_SITE,
        window_s: float = DEFAULT_WINDOW_S,
        min_words: int = MIN_WORDS,
    ) -> CopyIndex:
        """An index holding ``rows`` as written by ``to_rows``."""
        index = cls(
            containment=containment,
            containment_same_site=containment_same_site,
            window_s=window_s,
            min_words=min_words,
        )
        for article_id, story_id, sketched, published in rows:
            index.add(article_id, story_id, sketched, published)
        return index

    def _remove(self, article_id: str) -> None:
        entry = self._entries.pop(article_id, None)
        if entry is None:
            return
        for key in _keys(_unpack(entry.sketch)[1]):
            holders = self._postings.get(key)
            if holders == article_id:
                del self._postings[key]
            elif isinstance(holders, list):
                holders.remove(article_id)
                if len(holders) == 1:
                    self._postings[key] = holders[0]

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
