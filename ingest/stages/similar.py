"""The article's ``fingerprint``: a 64-bit SimHash of its text, published with it.

Consumers use it to group versions of one text cheaply (a Hamming distance of a few bits); the
service's own near-duplicate matching is ``ingest.stages.copies`` (shared text, not a distance).

``fingerprint`` is a 64-bit SimHash (Charikar, 2002) of the text's word 3-shingles: every distinct
shingle of case-folded ``\\w+`` tokens is hashed with blake2b to 64 bits, each bit votes for or
against, and the fingerprint keeps the majority of each bit. Texts sharing most of their shingles get
fingerprints that differ in few bits. Shingles near the start and the end of the text vote with less
weight, because that is where syndicated copies differ (see ``fingerprint``). The hash is stable
across processes and Python versions (no built-in ``hash()``); changing ``SHINGLE_WORDS``,
``HEAD_RAMP`` or ``TAIL_RAMP`` changes every fingerprint.
"""

from __future__ import annotations

import hashlib
import itertools
import re

BITS = 64
SHINGLE_WORDS = 3
NUMBER_BOOST = 2
# Shingles at the start and at the end of a text over which their weight ramps up to full, and down.
HEAD_RAMP = 120
TAIL_RAMP = 60

_MASK = (1 << BITS) - 1
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


def hamming(a: int, b: int) -> int:
    """The number of bits in which two fingerprints differ."""
    return (a ^ b).bit_count()
