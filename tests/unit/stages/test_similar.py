from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.stages.similar import HEAD_RAMP, NUMBER_BOOST, TAIL_RAMP, fingerprint, hamming
from tests.unit.stages.gazette import STORIES, body, in_other_processes

MASK = (1 << 64) - 1
fingerprints = st.integers(min_value=0, max_value=MASK)


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
    assert in_other_processes(code, text) == [str(fingerprint(text))] * 2


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
