"""Body extraction quality on a corpus of pages with ground truth.

    python bench/extract_eval.py CORPUS_DIR [--out results.json] [--baseline]

CORPUS_DIR holds ``html/<id>.html.gz`` (or ``.html``) and ``ground-truth.json`` mapping each id to
``{"articleBody": str, "url": str}`` (the article-extraction-benchmark format). The score is the
benchmark's own: precision, recall and F1 over the bags of word tokens (``\\w+``) of the extracted
body against ``articleBody``, per document, averaged over documents. ``--baseline`` also scores
trafilatura alone with its default settings on the same pages, for comparison. Per-document
results go to ``--out`` so regressions are visible.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from ingest.errors import IngestError  # noqa: E402
from ingest.stages.normalise import article_from_html  # noqa: E402

WORD = re.compile(r"\w+")
NEAR_EMPTY_WORDS = 10


def score(extracted: str, truth: str) -> tuple[float, float, float]:
    got, want = Counter(WORD.findall(extracted)), Counter(WORD.findall(truth))
    common = sum((got & want).values())
    if not got or not want:
        exact = float(not got and not want)
        return exact, exact, exact
    precision, recall = common / sum(got.values()), common / sum(want.values())
    f1 = 2 * precision * recall / (precision + recall) if common else 0.0
    return precision, recall, f1


Page = tuple[str, bytes, str, str]  # id, HTML, URL, ground-truth body


def load(corpus: Path) -> list[Page]:
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for doc_id, expected in sorted(truth.items()):
        for name in (f"{doc_id}.html.gz", f"{doc_id}.html"):
            path = corpus / "html" / name
            if path.exists():
                data = path.read_bytes()
                html = gzip.decompress(data) if name.endswith(".gz") else data
                url = expected.get("url") or f"https://example.org/{doc_id}"
                pages.append((doc_id, html, url, expected["articleBody"]))
                break
    return pages


def ours(html: bytes, url: str) -> str:
    try:
        return article_from_html(html, url).body
    except IngestError:
        return ""


def trafilatura_alone(html: bytes, url: str) -> str:
    return trafilatura.extract(html, url=url) or ""


def trafilatura_no_comments(html: bytes, url: str) -> str:
    return trafilatura.extract(html, url=url, include_comments=False) or ""


def evaluate(name: str, extract: Callable[[bytes, str], str], pages: list[Page]) -> dict[str, Any]:
    results: dict[str, dict[str, float]] = {}
    times: list[float] = []
    for doc_id, html, url, truth in pages:
        started = time.process_time()
        body = extract(html, url)
        times.append(time.process_time() - started)
        p, r, f = score(body, truth)
        results[doc_id] = {"precision": p, "recall": r, "f1": f, "words": len(WORD.findall(body))}
    f1s = [v["f1"] for v in results.values()]
    summary = {
        "extractor": name,
        "documents": len(results),
        "precision": statistics.fmean(v["precision"] for v in results.values()),
        "recall": statistics.fmean(v["recall"] for v in results.values()),
        "f1": statistics.fmean(f1s),
        "under_0.5": sorted(k for k, v in results.items() if v["f1"] < 0.5),
        "near_empty": sorted(k for k, v in results.items() if v["words"] < NEAR_EMPTY_WORDS),
        "cpu_ms_mean": 1000 * statistics.fmean(times),
        "cpu_ms_p50": 1000 * statistics.median(times),
        "cpu_ms_p99": 1000 * sorted(times)[int(0.99 * (len(times) - 1))],
    }
    return {"summary": summary, "documents": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--out", type=Path, help="write per-document results here (JSON)")
    parser.add_argument("--baseline", action="store_true", help="also score trafilatura alone")
    args = parser.parse_args()
    pages = load(args.corpus)
    if not pages:
        raise SystemExit(f"no pages with ground truth under {args.corpus}")
    runs = [evaluate("ingest", ours, pages)]
    if args.baseline:
        runs.append(evaluate("trafilatura (defaults)", trafilatura_alone, pages))
        runs.append(evaluate("trafilatura (no comments)", trafilatura_no_comments, pages))
    print(f"{len(pages)} documents from {args.corpus}")
    print(f"{'extractor':<26} {'P':>6} {'R':>6} {'F1':>6} {'<0.5':>5} {'empty':>5} {'ms/page':>8} {'p99':>6}")
    for run in runs:
        s = run["summary"]
        scores = f"{s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f}"
        counts = f"{len(s['under_0.5']):5d} {len(s['near_empty']):5d}"
        print(f"{s['extractor']:<26} {scores} {counts} {s['cpu_ms_mean']:8.1f} {s['cpu_ms_p99']:6.0f}")
    for run in runs:
        if run["summary"]["under_0.5"]:
            print(f"{run['summary']['extractor']}: F1 < 0.5 on {', '.join(run['summary']['under_0.5'])}")
    if args.out:
        args.out.write_text(json.dumps(runs, indent=1, sort_keys=True))
        print(f"per-document results: {args.out}")


if __name__ == "__main__":
    main()
