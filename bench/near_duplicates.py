"""Near-duplicate matching quality and fingerprint speed on a corpus of article bodies.

    python bench/near_duplicates.py CORPUS_DIR [--thresholds 2,3,4,5,6] [--seed 1]

CORPUS_DIR is in the article-extraction-benchmark format; only ``ground-truth.json`` (each id mapped
to ``{"articleBody": str, "url": str}``) is read. Every body yields positive pairs (the body and a copy
edited the way syndicated copies are) and every two different bodies a negative pair, once as they
are and once both wrapped in the same site furniture. A pair counts as matched when an index holding
the first text returns a match for the second (``NearDuplicateIndex.match``, so the minimum length
applies). Prints precision, recall and F1 per threshold, recall per kind of edit, the Hamming
distances behind them, the time ``fingerprint`` takes per article, and the time ``add`` and
``match`` take in an index of ``--window`` articles.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.stages.similar import MIN_WORDS, NearDuplicateIndex, fingerprint  # noqa: E402

WORD = re.compile(r"\w+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# A paragraph an edit rewrites or drops may hold at most this share of the body's words; past it
# the edited copy is a different text rather than a copy.
MAX_EDITED_SHARE = 0.35

NAMES = ["Maria Lopez", "James Okafor", "Anna Schmidt", "David Chen", "Sarah Novak", "Tom Ellis"]
OUTLETS = ["The Daily Ledger", "Metro Herald", "Northfield Courier", "City Post", "Valley Times"]
CREDITS = [
    "Reporting by {name}; Editing by {other}",
    "© 2024 The Associated Press. All rights reserved. This material may not be published, "
    "broadcast, rewritten or redistributed.",
    "This article originally appeared on {outlet}.",
    "Additional reporting by {name} and {other}.",
    "(Reporting by {name}; Writing by {other}; Editing by Philippa Fletcher)",
    "Copyright {outlet}. Distributed by Agence France-Presse.",
]
BYLINES = ["By {name}, Associated Press", "By {name} | {outlet}", "{outlet} staff and wire services"]
READ_MORE = ["Read more: {headline}", "READ MORE: {headline}", "Related: {headline}"]
FOLLOW = [
    "Follow us on Twitter, Facebook and Instagram for the latest news.",
    "Follow {outlet} on Twitter and Facebook.",
    "Sign up for our daily newsletter to get the top stories in your inbox every morning.",
    "Share this article: Facebook Twitter Email WhatsApp",
]
LEADS = ["In a statement on Tuesday,", "According to officials,", "As expected,", "On Monday,"]
SWAPS = ["reportedly", "also", "recently", "nearly", "officially", "still", "now", "again"]
# Site furniture wrapped around both bodies of a padded negative pair: identical on both sides.
FURNITURE_TOP = (
    "Home | News | World | Business | Sport | Culture | Opinion | Weather\n"
    "We use cookies to improve your experience and to show you relevant advertising. "
    "By continuing to browse you agree to our use of cookies.\n"
    "Subscribe now and get unlimited access for just 1 euro a week."
)
FURNITURE_BOTTOM = (
    "Follow us on Twitter, Facebook and Instagram for the latest news.\n"
    "Sign up for our daily newsletter to get the top stories in your inbox every morning.\n"
    "Most read: Council approves new budget | Storm warning for the coast | Cup final tickets sold out\n"
    "© 2024 The Daily Ledger Media Group. All rights reserved. Terms of use | Privacy | Contact us"
)


@dataclass(frozen=True, slots=True)
class Pair:
    duplicate: bool
    kind: str
    first: str
    second: str


def paragraphs(body: str) -> list[str]:
    return [p.strip() for p in body.split("\n") if p.strip()]


def words(text: str) -> int:
    return len(WORD.findall(text))


class Editor:
    """Syndication edits of one body; each returns None when it does not apply to that body."""

    def __init__(self, rng: random.Random, bodies: list[str]) -> None:
        self.rng = rng
        self.bodies = bodies

    def fill(self, template: str) -> str:
        name, other = self.rng.sample(NAMES, 2)
        return template.format(
            name=name, other=other, outlet=self.rng.choice(OUTLETS), headline=self.headline()
        )

    def headline(self, body: str | None = None) -> str:
        """A headline-like line: a few title-cased words from the start of a body."""
        tokens = (body or self.rng.choice(self.bodies)).split()[:40]
        start = self.rng.randrange(max(1, len(tokens) - 10))
        return " ".join(t.capitalize() for t in tokens[start : start + self.rng.randint(6, 11)])

    def new_headline(self, body: str) -> str:
        return "\n\n".join([self.headline(body), self.fill(self.rng.choice(BYLINES)), body])

    def credit(self, body: str) -> str:
        return "\n\n".join([body, self.fill(self.rng.choice(CREDITS)), self.fill(self.rng.choice(FOLLOW))])

    def read_more(self, body: str) -> str:
        paras = paragraphs(body)
        at = max(1, len(paras) // 3)
        paras.insert(at, self.fill(self.rng.choice(READ_MORE)))
        paras.append(self.fill(self.rng.choice(READ_MORE)))
        return "\n\n".join(paras)

    def new_intro(self, body: str) -> str | None:
        """The lead paragraph reworded: sentences reordered, a quarter of its words dropped, a new opening."""
        paras = paragraphs(body)
        lead = next((i for i, p in enumerate(paras[:3]) if words(p) >= 15), None)
        if len(paras) < 3 or lead is None or words(paras[lead]) > MAX_EDITED_SHARE * words(body):
            return None
        sentences = SENTENCE_END.split(paras[lead])
        self.rng.shuffle(sentences)
        kept = [t for t in " ".join(sentences).split() if self.rng.random() > 0.25]
        paras[lead] = " ".join([self.rng.choice(LEADS), *kept])
        return "\n\n".join(paras)

    def drop_last(self, body: str) -> str | None:
        paras = paragraphs(body)
        if len(paras) < 3 or words(paras[-1]) > MAX_EDITED_SHARE * words(body):
            return None
        return "\n\n".join(paras[:-1])

    def light(self, body: str) -> str:
        """A few words changed: three long words swapped for others, spread over the text."""
        tokens = body.split(" ")
        eligible = [i for i, t in enumerate(tokens) if len(t) >= 4 and t.isalpha()]
        for i in self.rng.sample(eligible, min(3, len(eligible))):
            tokens[i] = self.rng.choice(SWAPS)
        return " ".join(tokens)

    def syndicated(self, body: str) -> str | None:
        """Headline and byline, reworded intro, "Read more" lines, credit: several outlets' usual edits."""
        edited = self.new_intro(body)
        return None if edited is None else self.new_headline(self.credit(self.read_more(edited)))

    def syndicated_trimmed(self, body: str) -> str | None:
        trimmed = self.drop_last(body)
        return None if trimmed is None else self.syndicated(trimmed)

    def edits(self) -> dict[str, Callable[[str], str | None]]:
        return {
            "headline": self.new_headline,
            "credit": self.credit,
            "read-more": self.read_more,
            "light": self.light,
            "drop-last": self.drop_last,
            "new-intro": self.new_intro,
            "syndicated": self.syndicated,
            "syndicated+trim": self.syndicated_trimmed,
        }


def build_pairs(bodies: list[str], seed: int) -> tuple[list[Pair], dict[str, int]]:
    """Positive pairs (body, edited copy) and negative pairs (two different bodies); skipped edits."""
    editor = Editor(random.Random(seed), bodies)
    pairs: list[Pair] = []
    skipped: dict[str, int] = defaultdict(int)
    for body in bodies:
        for kind, edit in editor.edits().items():
            edited = edit(body)
            if edited is None:
                skipped[kind] += 1
            else:
                pairs.append(Pair(True, kind, body, edited))
    padded = [f"{FURNITURE_TOP}\n\n{body}\n\n{FURNITURE_BOTTOM}" for body in bodies]
    for i, j in itertools.combinations(range(len(bodies)), 2):
        pairs.append(Pair(False, "different", bodies[i], bodies[j]))
        pairs.append(Pair(False, "same-furniture", padded[i], padded[j]))
    return pairs, dict(skipped)


def matched(threshold: int, first: int, second: int, second_words: int) -> bool:
    index = NearDuplicateIndex(threshold=threshold)
    index.add("first", "first", first, 0.0)
    return index.match(second, words=second_words) is not None


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_fingerprints(bodies: list[str], rounds: int = 5) -> list[float]:
    """Microseconds per article, the best of ``rounds`` runs each."""
    best = [float("inf")] * len(bodies)
    for _ in range(rounds):
        for i, body in enumerate(bodies):
            start = time.perf_counter_ns()
            fingerprint(body)
            best[i] = min(best[i], (time.perf_counter_ns() - start) / 1000)
    return best


def time_lookups(threshold: int, size: int, seed: int, queries: int = 2000) -> tuple[float, float]:
    """Microseconds per ``add`` and per ``match`` in an index of ``size`` unrelated articles.

    Unrelated articles' fingerprints are uniformly random bits (the "different" pairs above sit at
    32 bits apart on average), so random fingerprints stand in for them.
    """
    rng = random.Random(seed)
    index = NearDuplicateIndex(threshold=threshold)
    start = time.perf_counter()
    for i in range(size):
        index.add(str(i), str(i), rng.getrandbits(64), 0.0)
    added = time.perf_counter()
    for _ in range(queries):
        index.match(rng.getrandbits(64), words=MIN_WORDS)
    looked_up = time.perf_counter()
    return (added - start) / size * 1e6, (looked_up - added) / queries * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--thresholds", default="2,3,4,5,6", help="comma-separated Hamming thresholds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=int, default=100_000, help="articles in the index for lookup timing")
    args = parser.parse_args()
    thresholds = [int(t) for t in args.thresholds.split(",")]
    truth = json.loads((args.corpus / "ground-truth.json").read_text(encoding="utf-8"))
    bodies = [truth[doc_id]["articleBody"] for doc_id in sorted(truth)]
    pairs, skipped = build_pairs(bodies, args.seed)

    cache: dict[str, tuple[int, int]] = {}
    for pair in pairs:
        for text in (pair.first, pair.second):
            if text not in cache:
                cache[text] = (fingerprint(text), words(text))
    distances: dict[tuple[bool, str], list[int]] = defaultdict(list)
    hits: dict[tuple[int, bool, str], int] = defaultdict(int)
    totals: dict[tuple[bool, str], int] = defaultdict(int)
    for pair in pairs:
        (first, _), (second, second_words) = cache[pair.first], cache[pair.second]
        group = (pair.duplicate, pair.kind)
        totals[group] += 1
        distances[group].append((first ^ second).bit_count())
        for t in thresholds:
            hits[t, *group] += matched(t, first, second, second_words)

    positives = sum(n for (dup, _), n in totals.items() if dup)
    negatives = sum(n for (dup, _), n in totals.items() if not dup)
    short = sum(1 for b in bodies if words(b) < MIN_WORDS)
    print(f"{len(bodies)} bodies from {args.corpus} ({short} under {MIN_WORDS} words, never matched)")
    print(
        f"{positives} positive pairs, {negatives} negative pairs; edits not applicable"
        f" (under 3 paragraphs, or the paragraph over {MAX_EDITED_SHARE:.0%} of the words): {skipped}"
    )
    print()
    print(f"{'threshold':>9} {'TP':>5} {'FN':>5} {'FP':>5} {'precision':>9} {'recall':>7} {'F1':>6}")
    for t in thresholds:
        tp = sum(n for (th, dup, _), n in hits.items() if th == t and dup)
        fp = sum(n for (th, dup, _), n in hits.items() if th == t and not dup)
        fn = positives - tp
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / positives
        f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
        print(f"{t:9d} {tp:5d} {fn:5d} {fp:5d} {precision:9.4f} {recall:7.3f} {f1:6.3f}")
    print()
    header = " ".join(f"{'<=' + str(t):>6}" for t in thresholds)
    print(f"{'pairs':<26} {'n':>6} {header}  Hamming distance: median  p10   p90   min")
    for group in sorted(totals, key=lambda g: (not g[0], g[1])):
        dup, kind = group
        n = totals[group]
        rates = " ".join(f"{hits[t, dup, kind] / n:6.3f}" for t in thresholds)
        d = distances[group]
        label = f"{'duplicate' if dup else 'distinct'}: {kind}"
        spread = (
            f"{statistics.median(d):6.1f} {percentile(d, 0.1):5.0f} {percentile(d, 0.9):5.0f} {min(d):5d}"
        )
        print(f"{label:<26} {n:6d} {rates}  {'':>16}{spread}")
    print("(duplicate rows: recall; distinct rows: false-match rate)")
    print()
    micros = time_fingerprints(bodies)
    counts = [words(b) for b in bodies]
    typical = [m for m, c in zip(micros, counts, strict=True) if 400 <= c <= 800]
    print(
        f"fingerprint (best of 5 runs per article): mean {statistics.fmean(micros):.0f} µs,"
        f" p99 {percentile(micros, 0.99):.0f} µs per article"
        f" (median {statistics.median(counts):.0f} words, max {max(counts)});"
        f" 400-800 words: mean {statistics.fmean(typical):.0f} µs over {len(typical)} articles"
    )
    for t in thresholds:
        add_us, match_us = time_lookups(t, args.window, args.seed)
        print(f"index of {args.window} articles, threshold {t}: add {add_us:.1f} µs, match {match_us:.1f} µs")


if __name__ == "__main__":
    main()
