"""Near-duplicate matching on edited copies of a corpus's bodies, and its cost at a large window.

    python bench/near_duplicates.py CORPUS_DIR [--shares 0.25,0.35,0.5] [--seed 1] [--window 1000000]

CORPUS_DIR is in the article-extraction-benchmark format; only ``ground-truth.json`` (each id mapped
to ``{"articleBody": str, "url": str}``) is read. Every body yields positive pairs (the body and a copy
edited the way syndicated copies are, on another site) and every two different bodies a negative
pair, once as they are on two sites and once both wrapped in the same furniture on one site. A pair
counts as matched when an index holding the first text returns a match for the second
(``CopyIndex.match``, so the minimum length applies). Prints precision, recall and F1 per
cross-site containment threshold (``dedup.containment``; the same-site one stays at its default),
recall per kind of edit, the containments behind them, the time ``sketch`` takes per article, and
the memory and time of ``add`` and ``match`` in an index of ``--window`` articles. Real syndicated
pairs are judged by ``bench/quality.py``.
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

from ingest.stages.copies import (  # noqa: E402
    DEFAULT_CONTAINMENT_SAME_SITE,
    MIN_WORDS,
    CopyIndex,
    containment,
    sketch,
)

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
    same_site: bool = False


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
        pairs.append(Pair(False, "same-furniture", padded[i], padded[j], same_site=True))
    return pairs, dict(skipped)


def matched(share: float, first: bytes, second: bytes, second_words: int) -> bool:
    index = CopyIndex(containment=share)
    index.add("first", "first", first, 0.0)
    return index.match(second, words=second_words) is not None


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_sketches(bodies: list[str], rounds: int = 3) -> list[float]:
    """Microseconds per article, the best of ``rounds`` runs each."""
    best = [float("inf")] * len(bodies)
    for _ in range(rounds):
        for i, body in enumerate(bodies):
            start = time.perf_counter_ns()
            sketch(body, "site.example")
            best[i] = min(best[i], (time.perf_counter_ns() - start) / 1000)
    return best


def rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def time_window(
    sketches: list[bytes], size: int, seed: int, queries: int = 2000
) -> tuple[float, float, float]:
    """Memory per article (bytes of RSS), microseconds per ``add`` and per ``match`` in an index of
    ``size`` articles: the corpus's real sketches, each under ``size / len(sketches)`` other ids and
    sites with its values shifted, so they share nothing (unrelated articles, as in a news window)."""
    rng = random.Random(seed)
    index = CopyIndex()
    before = rss_kb()
    start = time.perf_counter()
    for i in range(size):
        template = sketches[i % len(sketches)]
        salt = rng.getrandbits(32)
        values = [(int.from_bytes(template[k : k + 4], "little") ^ salt) for k in range(4, len(template), 4)]
        body = b"".join(v.to_bytes(4, "little") for v in sorted(values))
        index.add(str(i), str(i), rng.getrandbits(32).to_bytes(4, "little") + body, float(i))
    added = time.perf_counter()
    memory = (rss_kb() - before) * 1024 / size
    probes = [sketches[rng.randrange(len(sketches))] for _ in range(queries)]
    start_match = time.perf_counter()
    for probe in probes:
        index.match(probe, words=MIN_WORDS)
    looked_up = time.perf_counter()
    return memory, (added - start) / size * 1e6, (looked_up - start_match) / queries * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--shares", default="0.25,0.35,0.5", help="comma-separated containment thresholds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--window", type=int, default=1_000_000, help="articles in the index for its cost")
    args = parser.parse_args()
    thresholds = [float(t) for t in args.shares.split(",")]
    truth = json.loads((args.corpus / "ground-truth.json").read_text(encoding="utf-8"))
    bodies = [truth[doc_id]["articleBody"] for doc_id in sorted(truth)]
    pairs, skipped = build_pairs(bodies, args.seed)

    cache: dict[tuple[str, str], tuple[bytes, int]] = {}

    def sketched(text: str, site: str) -> tuple[bytes, int]:
        if (text, site) not in cache:
            cache[text, site] = (sketch(text, site), words(text))
        return cache[text, site]

    shares: dict[tuple[bool, str], list[float]] = defaultdict(list)
    hits: dict[tuple[float, bool, str], int] = defaultdict(int)
    totals: dict[tuple[bool, str], int] = defaultdict(int)
    for pair in pairs:
        first, _ = sketched(pair.first, "one.example")
        second, second_words = sketched(pair.second, "one.example" if pair.same_site else "two.example")
        group = (pair.duplicate, pair.kind)
        totals[group] += 1
        shares[group].append(containment(first, second))
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
        print(f"{t:9.2f} {tp:5d} {fn:5d} {fp:5d} {precision:9.4f} {recall:7.3f} {f1:6.3f}")
    print()
    header = " ".join(f"{'>=' + str(t):>6}" for t in thresholds)
    print(f"{'pairs':<26} {'n':>6} {header}  containment: median  p10   p90   max")
    for group in sorted(totals, key=lambda g: (not g[0], g[1])):
        dup, kind = group
        n = totals[group]
        rates = " ".join(f"{hits[t, dup, kind] / n:6.3f}" for t in thresholds)
        d = shares[group]
        label = f"{'duplicate' if dup else 'distinct'}: {kind}"
        spread = (
            f"{statistics.median(d):6.2f} {percentile(d, 0.1):5.2f} {percentile(d, 0.9):5.2f} {max(d):5.2f}"
        )
        print(f"{label:<26} {n:6d} {rates}  {'':>11}{spread}")
    print(
        "(duplicate rows: recall; distinct rows: false-match rate; same-furniture pairs are of one site,"
        f" where {DEFAULT_CONTAINMENT_SAME_SITE} is needed whatever the column)"
    )
    print()
    editor = Editor(random.Random(args.seed), bodies)
    index, copies, linked = CopyIndex(), 0, 0
    for i, body in enumerate(bodies):
        text, count = sketched(body, f"origin{i}.example")
        index.add(f"{i}", f"{i}", text, float(i))
        for n, kind in enumerate(("syndicated", "syndicated+trim", "credit", "headline", "read-more")):
            edited = editor.edits()[kind](body)
            if edited is None or count < MIN_WORDS:
                continue
            text, words_ = sketched(edited, f"outlet{n}.example")
            found = index.match(text, words=words_)
            copies += 1
            linked += found is not None and found.story_id == f"{i}"
            index.add(f"{i}-{n}", found.story_id if found else f"{i}-{n}", text, float(i))
    print(f"every body and up to 5 copies on other sites in one window: {linked} of {copies} copies linked")
    for same_site in (True, False):
        index = CopyIndex()
        merged = 0
        for i, body in enumerate(bodies):
            site = "one.example" if same_site else f"site{i}.example"
            padded, count = sketched(f"{FURNITURE_TOP}\n\n{body}\n\n{FURNITURE_BOTTOM}", site)
            merged += index.match(padded, words=count) is not None
            index.add(str(i), str(i), padded, float(i))
        where = "one site" if same_site else "a site each"
        print(
            f"{len(bodies)} different bodies in the same furniture, in one window, {where}: {merged} matched"
        )
    print()
    micros = time_sketches(bodies)
    counts = [words(b) for b in bodies]
    typical = [m for m, c in zip(micros, counts, strict=True) if 400 <= c <= 800]
    print(
        f"sketch (best of 3 runs per article): mean {statistics.fmean(micros):.0f} µs,"
        f" p99 {percentile(micros, 0.99):.0f} µs per article"
        f" (median {statistics.median(counts):.0f} words, max {max(counts)});"
        f" 400-800 words: mean {statistics.fmean(typical):.0f} µs over {len(typical)} articles"
    )
    real = [sketched(b, "one.example")[0] for b in bodies if words(b) >= MIN_WORDS]
    memory, add_us, match_us = time_window(real, args.window, args.seed)
    print(
        f"index of {args.window} articles: {memory:.0f} bytes of memory per article,"
        f" add {add_us:.1f} µs, match {match_us:.1f} µs"
    )


if __name__ == "__main__":
    main()
