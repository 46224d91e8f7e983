"""Article quality on real corpora, per corpus, beside trafilatura's defaults on the same pages.

    python bench/quality.py CORPUS... [--jobs N] [--limit N] [--out results.json]

Each CORPUS is a folder in one of these layouts, or a folder holding such folders (each is judged
on its own, e.g. a whole data directory):

- ``ground-truth.json`` + ``html/<id>.html[.gz]``: ``{id: {"articleBody", "url"}}`` (the
  article-extraction-benchmark layout): body precision, recall and F1.
- ``gold.jsonl`` + the pages it names: one JSON object per page, ``{"file", "url", ...}`` with any of
  ``body`` (full text), ``body_prefix`` (how the text starts), ``with`` / ``without`` (snippets the
  text must contain / must not), ``title``, ``authors``, ``date`` (ISO 8601 day or time), ``lang``.
- ``pairs.jsonl``: ``{"a", "b", "label"}``, page paths relative to the folder's parent; a label
  ``partial_copy`` is one story (b must be linked to a), any other label two stories (b must not be).

Every page goes through the service's own extract and normalise stages (``article_from_html``: what
would be published, no network) and through ``trafilatura.bare_extraction`` with its defaults and
metadata. The service's text is its ``dateline.raw`` (a dateline is moved out of the body into its
own field, it is still printed text) followed by its ``body``. Scores, each an average over the
pages that state the gold value:

- body: precision / recall / F1 over the bags of ``\\w+`` tokens (the benchmark's own metric);
- snippets: share of ``with`` found, share of ``without`` absent, and F1 over all snippets counted as
  trafilatura's evaluation does (found ``with`` true positives, found ``without`` false positives);
- prefix: share of pages whose text contains the stated opening (as a run of tokens);
- title: token F1 and exact match (case and spacing aside);
- date: right day (a time counts if it falls on that day in some time zone, -12 to +14 h), and the
  share of pages that state a wrong one; right instant (within a minute) where the gold has a zone;
- authors: precision / recall of names (case aside), summed over pages;
- language: share right;
- CPU per page (ms, the extracting process's own); the share of pages that needed more readings
  (``ingest.stages.readings``: the quick ones did not settle the body) and the share that were
  judged by readability too.

Near-duplicate pairs run through the dedup stage on a fresh SQLite store per pair, after both pages
were extracted: a pair is linked when b comes out with ``duplicate_of`` = a (or is dropped as a copy).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import multiprocessing
import re
import sys
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from ingest.errors import IngestError  # noqa: E402
from ingest.models import Article, Ticket  # noqa: E402
from ingest.stages import extract as extract_stage  # noqa: E402
from ingest.stages import readings  # noqa: E402
from ingest.stages.article import article_from_html  # noqa: E402
from ingest.stages.dedup import Dedup  # noqa: E402
from ingest.state import SqliteStateStore  # noqa: E402

WORD = re.compile(r"\w+")
SYSTEMS = ("ingest", "trafilatura")
SAME_STORY = "partial_copy"


@dataclass(frozen=True)
class Page:
    corpus: str
    id: str
    path: Path
    url: str
    gold: dict[str, Any]


@dataclass
class Reading:
    """What one system read from one page."""

    body: str = ""
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None  # ISO 8601 day or time
    language: str | None = None
    cpu_s: float = 0.0
    error: str | None = None
    taken: set[str] | None = None  # the costlier readings the page needed (ingest only)


# --- loading ---------------------------------------------------------------------------------


def corpora(folder: Path) -> list[Path]:
    """The corpus folders at or under ``folder`` (one level down)."""
    if _layout(folder):
        return [folder]
    found = sorted(p for p in folder.iterdir() if p.is_dir() and _layout(p))
    if not found:
        raise SystemExit(f"{folder}: no ground-truth.json, gold.jsonl or pairs.jsonl here or one level down")
    return found


def _layout(folder: Path) -> str | None:
    for name in ("ground-truth.json", "gold.jsonl", "pairs.jsonl"):
        if (folder / name).is_file():
            return name
    return None


def load_pages(folder: Path) -> list[Page]:
    name = folder.name
    if (folder / "ground-truth.json").is_file():
        truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
        pages = []
        for doc_id, expected in sorted(truth.items()):
            for file in (f"{doc_id}.html.gz", f"{doc_id}.html"):
                if (folder / "html" / file).exists():
                    url = expected.get("url") or f"https://example.org/{doc_id}"
                    gold = {"body": expected["articleBody"]}
                    pages.append(Page(name, doc_id, folder / "html" / file, url, gold))
                    break
        return pages
    pages = []
    for line in (folder / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            url = row.get("url") or ""
            if not url.startswith(("http://", "https://")):  # a few gold files hold typos
                url = f"https://example.org/{row['id']}"
            pages.append(Page(name, str(row["id"]), folder / row["file"], url, row))
    return pages


def load_pairs(folder: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (folder / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r]


def page_url(path: Path) -> str:
    """The URL a corpus's gold file states for one of its pages (pairs name pages by path only)."""
    for folder in path.parents:
        if (folder / "gold.jsonl").is_file():
            for page in load_pages(folder):
                if page.path == path:
                    return page.url
            break
    return f"https://example.org/{path.name}"


def page_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


# --- reading (in worker processes) -----------------------------------------------------------


_TAKEN: list[str] = []  # which costlier readings the page being read needed
_more_readings = extract_stage._more_readings
_readability_text = readings.readability_text


def _counted_more_readings(*args: Any) -> Any:
    _TAKEN.append("more")
    return _more_readings(*args)


def _counted_readability_text(markup: str) -> str:
    _TAKEN.append("readability")
    return _readability_text(markup)


extract_stage._more_readings = _counted_more_readings  # type: ignore[assignment]
readings.readability_text = _counted_readability_text


def read_ingest(html: bytes, url: str) -> tuple[Reading, Article | None]:
    _TAKEN.clear()
    started = time.process_time()
    try:
        article = article_from_html(html, url)
    except IngestError as exc:
        spent = time.process_time() - started
        return Reading(cpu_s=spent, error=exc.reason, taken=set(_TAKEN)), None
    published = article.published_at.isoformat() if article.published_at else None
    if published is None and article.published_date:
        published = article.published_date.isoformat()
    # A dateline opening the story is moved out of the body into its own field; it is still the
    # article's text as printed, so it is scored as the start of the text.
    body = f"{article.dateline.raw}\n\n{article.body}" if article.dateline else article.body
    reading = Reading(
        body=body,
        title=article.title,
        authors=list(article.authors),
        published=published,
        language=article.language,
        cpu_s=time.process_time() - started,
        taken=set(_TAKEN),
    )
    return reading, article


def read_trafilatura(html: bytes, url: str) -> Reading:
    started = time.process_time()
    found = trafilatura.bare_extraction(html, url=url, with_metadata=True, as_dict=True)
    spent = time.process_time() - started
    if not isinstance(found, dict):
        return Reading(cpu_s=spent, error="nothing")
    authors = [a.strip() for a in (found.get("author") or "").split(";") if a.strip()]
    return Reading(
        body=found.get("text") or "",
        title=found.get("title"),
        authors=authors,
        published=found.get("date"),
        language=found.get("language"),
        cpu_s=spent,
    )


def read_page(page: Page) -> tuple[Page, dict[str, Reading], Article | None]:
    html = page_bytes(page.path)
    ours, article = read_ingest(html, page.url)
    return page, {"ingest": ours, "trafilatura": read_trafilatura(html, page.url)}, article


# --- scoring ---------------------------------------------------------------------------------


def tokens(text: str | None) -> list[str]:
    return WORD.findall((text or "").casefold())


def bag_scores(got_text: str, want_text: str) -> tuple[float, float, float]:
    got, want = Counter(tokens(got_text)), Counter(tokens(want_text))
    if not got or not want:
        exact = float(not got and not want)
        return exact, exact, exact
    common = sum((got & want).values())
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return precision, recall, (2 * precision * recall / (precision + recall) if common else 0.0)


def _loose(text: str | None) -> str:
    return " ".join(tokens(text))


def contains(text: str, snippet: str) -> bool:
    """Whether ``snippet`` occurs in ``text`` as a run of tokens (case, spacing, punctuation aside)."""
    want = _loose(snippet)
    return bool(want) and f" {want} " in f" {_loose(text)} "


def _parse_when(value: str) -> datetime | date | None:
    value = value.strip().replace(" ", "T", 1)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    if len(value) <= 10:
        return when.date()
    return when


def day_right(stated: str | None, gold: str) -> bool:
    want = _parse_when(gold)
    got = _parse_when(stated) if stated else None
    if want is None or got is None:
        return False
    want_day = want.date() if isinstance(want, datetime) else want
    if isinstance(got, datetime):
        if got.tzinfo is None:
            return got.date() == want_day
        start = datetime(want_day.year, want_day.month, want_day.day, tzinfo=UTC)
        return start - timedelta(hours=14) <= got.astimezone(UTC) < start + timedelta(hours=36)
    return got == want_day


def instant_right(stated: str | None, gold: str) -> bool | None:
    """Right within a minute, or None when the gold states no time with a zone."""
    want = _parse_when(gold)
    if not isinstance(want, datetime) or want.tzinfo is None:
        return None
    got = _parse_when(stated) if stated else None
    if not isinstance(got, datetime) or got.tzinfo is None:
        return False
    return abs((got - want).total_seconds()) <= 60


class Tally:
    """Sums and counts of one system's scores on one corpus."""

    def __init__(self) -> None:
        self.sums: defaultdict[str, float] = defaultdict(float)
        self.counts: Counter[str] = Counter()

    def add(self, name: str, value: float) -> None:
        self.sums[name] += value
        self.counts[name] += 1

    def mean(self, name: str) -> float | None:
        return self.sums[name] / self.counts[name] if self.counts[name] else None


def score_page(tally: Tally, gold: dict[str, Any], got: Reading) -> dict[str, float]:
    """Add one page's scores to ``tally``; return them (for the per-page output)."""
    scores: dict[str, float] = {}

    def put(name: str, value: float) -> None:
        scores[name] = value
        tally.add(name, value)

    tally.add("cpu_ms", 1000 * got.cpu_s)
    if got.taken is not None:
        tally.add("more", float("more" in got.taken))
        tally.add("judged", float("readability" in got.taken))
    tally.add("empty", float(len(tokens(got.body)) < 10))
    if gold.get("body"):
        p, r, f = bag_scores(got.body, gold["body"])
        put("body_p", p)
        put("body_r", r)
        put("body_f1", f)
    if gold.get("with") or gold.get("without"):
        found = sum(contains(got.body, s) for s in gold.get("with", []))
        leaked = sum(contains(got.body, s) for s in gold.get("without", []))
        if gold.get("with"):
            put("with_found", found / len(gold["with"]))
        if gold.get("without"):
            put("without_absent", 1 - leaked / len(gold["without"]))
        tally.sums["snippet_tp"] += found
        tally.sums["snippet_fn"] += len(gold.get("with", [])) - found
        tally.sums["snippet_fp"] += leaked
    if gold.get("body_prefix"):
        put("prefix", float(contains(got.body, gold["body_prefix"])))
    if gold.get("title"):
        put("title_f1", bag_scores(got.title or "", gold["title"])[2])
        put("title_exact", float(_loose(got.title) == _loose(gold["title"])))
    if isinstance(gold.get("date"), str) and gold["date"]:
        put("date_day", float(day_right(got.published, gold["date"])))
        put("date_wrong", float(bool(got.published) and not day_right(got.published, gold["date"])))
        instant = instant_right(got.published, gold["date"])
        if instant is not None:
            put("date_instant", float(instant))
    if gold.get("authors"):
        want = {_loose(a) for a in gold["authors"]} - {""}
        have = {_loose(a) for a in got.authors} - {""}
        tally.sums["authors_tp"] += len(want & have)
        tally.sums["authors_got"] += len(have)
        tally.sums["authors_want"] += len(want)
    if gold.get("lang"):
        put("language", float((got.language or "").split("-")[0].lower() == gold["lang"].lower()))
    return scores


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def summary(tally: Tally, pages: int) -> dict[str, float | None]:
    s = tally.sums
    snippet_p = ratio(s["snippet_tp"], s["snippet_tp"] + s["snippet_fp"])
    snippet_r = ratio(s["snippet_tp"], s["snippet_tp"] + s["snippet_fn"])
    snippet_f1 = 2 * snippet_p * snippet_r / (snippet_p + snippet_r) if snippet_p and snippet_r else None
    return {
        "pages": pages,
        "body_p": tally.mean("body_p"),
        "body_r": tally.mean("body_r"),
        "body_f1": tally.mean("body_f1"),
        "with_found": tally.mean("with_found"),
        "without_absent": tally.mean("without_absent"),
        "snippet_f1": snippet_f1,
        "prefix": tally.mean("prefix"),
        "title_f1": tally.mean("title_f1"),
        "title_exact": tally.mean("title_exact"),
        "date_day": tally.mean("date_day"),
        "date_wrong": tally.mean("date_wrong"),
        "date_instant": tally.mean("date_instant"),
        "authors_p": ratio(s["authors_tp"], s["authors_got"]),
        "authors_r": ratio(s["authors_tp"], s["authors_want"]),
        "language": tally.mean("language"),
        "empty": tally.mean("empty"),
        "cpu_ms": tally.mean("cpu_ms"),
        "more": tally.mean("more"),
        "judged": tally.mean("judged"),
    }


# --- near-duplicate pairs --------------------------------------------------------------------


class _Done:
    def committed(self) -> None:
        pass


async def _linked(first: Article, second: Article) -> bool:
    store = SqliteStateStore(":memory:")
    try:
        dedup = Dedup(store)
        outcomes = []
        for article in (first, second):
            ticket = Ticket(_Done())
            outcomes.append(await dedup(article, ticket))
            await store.record([article.id], article.id, article.content_hash)
            for hold in ticket.holds:
                hold(True)
        second_out = outcomes[1]
        if not isinstance(second_out, Article):
            return second_out.reason in ("duplicate_content", "near_duplicate")
        return second_out.duplicate_of == first.id
    finally:
        await store.close()


def judge_pairs(
    pairs: list[dict[str, Any]], articles: dict[Path, Article | None], base: Path
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    counts: Counter[str] = Counter()
    rows = []
    for pair in pairs:
        a, b = articles.get(base / pair["a"]), articles.get(base / pair["b"])
        same = pair["label"] == SAME_STORY
        linked = bool(a and b) and asyncio.run(_linked(a, b))  # type: ignore[arg-type]
        counts["positives" if same else "negatives"] += 1
        if linked:
            counts["linked" if same else "merged"] += 1
        rows.append({**pair, "linked": linked})
    result = {
        "pairs": float(len(pairs)),
        "recall": ratio(counts["linked"], counts["positives"]) or 0.0,
        "linked": float(counts["linked"]),
        "positives": float(counts["positives"]),
        "false_merges": float(counts["merged"]),
        "negatives": float(counts["negatives"]),
    }
    return result, rows


# --- report ----------------------------------------------------------------------------------

COLUMNS = (
    ("body_f1", "body F1"),
    ("snippet_f1", "snip F1"),
    ("with_found", "with"),
    ("without_absent", "w/o"),
    ("prefix", "prefix"),
    ("title_f1", "title F1"),
    ("title_exact", "title ="),
    ("date_day", "day"),
    ("date_wrong", "wrong"),
    ("date_instant", "instant"),
    ("authors_p", "auth P"),
    ("authors_r", "auth R"),
    ("language", "lang"),
    ("empty", "empty"),
    ("cpu_ms", "ms/page"),
    ("more", "more"),
    ("judged", "judged"),
)


def print_table(results: dict[str, dict[str, dict[str, float | None]]]) -> None:
    used = [c for c in COLUMNS if any(r[s].get(c[0]) is not None for r in results.values() for s in r)]
    head = f"{'corpus':<18} {'system':<12} {'pages':>5} " + " ".join(f"{label:>8}" for _, label in used)
    print(head)
    print("-" * len(head))
    for corpus, by_system in results.items():
        for system, row in by_system.items():
            cells = []
            for key, _ in used:
                value = row.get(key)
                if value is None:
                    cells.append(f"{'':>8}")
                elif key == "cpu_ms":
                    cells.append(f"{value:8.1f}")
                else:
                    cells.append(f"{value:8.3f}")
            print(f"{corpus:<18} {system:<12} {row['pages']:>5} " + " ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, nargs="+")
    parser.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--limit", type=int, help="at most this many pages per corpus")
    parser.add_argument("--out", type=Path, help="write per-page results here (JSON)")
    args = parser.parse_args()
    folders = [f for c in args.corpus for f in corpora(c)]
    pages: list[Page] = []
    pair_sets: dict[Path, list[dict[str, Any]]] = {}
    for folder in folders:
        if (folder / "pairs.jsonl").is_file() and _layout(folder) == "pairs.jsonl":
            pair_sets[folder] = load_pairs(folder)
        else:
            pages.extend(load_pages(folder)[: args.limit])
    wanted = {p.path for p in pages}
    for folder, pairs in pair_sets.items():
        for pair in pairs:
            for side in ("a", "b"):
                path = folder.parent / pair[side]
                if path not in wanted:
                    wanted.add(path)
                    pages.append(Page(folder.name, pair[side], path, page_url(path), {}))
    started = time.monotonic()
    tallies: dict[str, dict[str, Tally]] = {}
    counted: Counter[str] = Counter()
    per_page: list[dict[str, Any]] = []
    articles: dict[Path, Article | None] = {}
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        for page, readings, article in pool.imap_unordered(read_page, pages, chunksize=4):
            articles[page.path] = article
            if not page.gold:
                continue
            counted[page.corpus] += 1
            counted["all"] += 1
            by_system = tallies.setdefault(page.corpus, {s: Tally() for s in SYSTEMS})
            overall = tallies.setdefault("all", {s: Tally() for s in SYSTEMS})
            row: dict[str, Any] = {"corpus": page.corpus, "id": page.id}
            for system, reading in readings.items():
                row[system] = score_page(by_system[system], page.gold, reading)
                row[system]["error"] = reading.error
                score_page(overall[system], page.gold, reading)
            per_page.append(row)
    order = sorted(tallies, key=lambda c: (c == "all", c))
    results = {c: {s: summary(t, counted[c]) for s, t in tallies[c].items()} for c in order}
    print(f"{len(pages)} pages, {time.monotonic() - started:.0f} s wall, {args.jobs} processes")
    print_table(results)
    pair_rows: list[dict[str, Any]] = []
    for folder, pairs in pair_sets.items():
        judged, rows = judge_pairs(pairs, articles, folder.parent)
        pair_rows.extend(rows)
        print(
            f"\n{folder.name}: near-duplicates linked {judged['linked']:.0f} of {judged['positives']:.0f} "
            f"same-story pairs (recall {judged['recall']:.2f}); "
            f"{judged['false_merges']:.0f} of {judged['negatives']:.0f} different-story pairs merged"
        )
        for row in rows:
            if row["linked"] != (row["label"] == SAME_STORY):
                print(f"  wrong: {row['label']} {row['a']} / {row['b']} linked={row['linked']}")
    if args.out:
        out = {"summary": results, "pages": per_page, "pairs": pair_rows}
        args.out.write_text(json.dumps(out, indent=1, sort_keys=True, default=str))
        print(f"per-page results: {args.out}")


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)  # trafilatura's and the stages' complaints about single pages
    main()
