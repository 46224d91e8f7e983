"""Backfill throughput: real pages packed into WARC files, against trafilatura alone on the same pages.

    python bench/backfill.py CORPUS... [--repeat 2] [--files 4]

Every page of the corpora (``bench/quality.py``'s layout: AEB, trafilatura's and htmldate's
evaluation sets, goose3, newspaper4k, ...) is written ``--repeat`` times, each copy under its own URL
and with its own sentence (so copies are distinct texts), into ``--files`` WARC files, gzip per
record, a request record before each response, as Common Crawl writes them. Then, on the same pages:

1. **readers**: records per second and MB/s (compressed) of this service's reader
   (``ingest.archive.records``), FastWARC and warcio over the same files, one core;
2. **ceiling**: trafilatura alone (``extract(..., with_metadata=True)``) over the same pages in a
   process pool of one process per core (``bench/pipeline.py``'s);
3. **backfill**: ``ingest backfill DIR`` as a process of its own into a Kafka-protocol broker, from
   ready to the last record committed: articles/s, CPU seconds per page (its whole process tree),
   peak PSS of the tree.

Prints the figures and the ratio of 3 to 2 (the target: at least 0.95).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import _trafilatura, copy_of, pool_rate  # noqa: E402
from bench.poll import cpu_seconds, memory_kb, scrape  # noqa: E402
from bench.quality import corpora, load_pages, page_bytes  # noqa: E402
from ingest.archive.records import Page, records  # noqa: E402
from ingest.kafka.embedded import EmbeddedBroker, free_port  # noqa: E402
from tests.support import warcs  # noqa: E402


def pack(pages: list[tuple[str, bytes]], folder: Path, files: int) -> list[Path]:
    paths = [folder / f"bench-{n:03d}.warc.gz" for n in range(files)]
    outs = [p.open("wb") for p in paths]
    try:
        for number, (url, body) in enumerate(pages):
            outs[number % files].write(warcs.gz(warcs.request(url), warcs.response(url, body)))
    finally:
        for out in outs:
            out.close()
    return paths


def read_ours(path: Path) -> int:
    with path.open("rb") as raw:
        return sum(1 for r in records(raw, max_bytes=50_000_000) if isinstance(r, Page))


def read_fastwarc(path: Path) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    with path.open("rb") as raw:
        count = 0
        for record in ArchiveIterator(raw, record_types=WarcRecordType.response, parse_http=True):
            record.reader.read()
            count += 1
        return count


def read_warcio(path: Path) -> int:
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as raw:
        count = 0
        for record in ArchiveIterator(raw):
            if record.rec_type == "response":
                record.content_stream().read()
                count += 1
        return count


def reader_rate(read: object, paths: list[Path]) -> tuple[float, float]:
    """(pages/s, compressed MB/s) of one reader over the files, CPU time of this process."""
    assert callable(read)
    started = time.process_time()
    count = sum(read(p) for p in paths)
    spent = time.process_time() - started
    size = sum(p.stat().st_size for p in paths)
    return count / spent, size / spent / 1e6


def run_backfill(folder: Path, pages: int, work: Path, bootstrap: str, workers: int = 0) -> dict[str, float]:
    status_port = free_port("127.0.0.1")
    topic = f"bench-backfill-{os.getpid()}-{time.monotonic_ns()}"
    config = {
        "kafka": {
            "bootstrap_servers": bootstrap,
            "topic": topic,
            "dlq_topic": topic + ".dlq",
            "partitions": 3,
        },
        "state": {"url": f"sqlite:///{work / (topic + '.db')}"},
        "metrics": {"host": "127.0.0.1", "port": status_port},
        "log": {"level": "WARNING"},
    }
    if workers:
        config["pipeline"] = {"workers": workers}
    path = work / f"{topic}.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")} | {"CI": "1"}
    log = work / f"{topic}.log"
    with log.open("w") as err:
        service = subprocess.Popen(
            [sys.executable, "-m", "ingest", "backfill", str(folder), "--config", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    peak_pss = 0
    try:
        deadline = time.monotonic() + 120
        while not _ready(status_port):
            if service.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"backfill did not start: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        cpu_start = cpu_seconds(service.pid)
        own_start = _own_cpu(service.pid)
        started = time.monotonic()
        # The backfill exits once its last record is committed: the figures are those of the last
        # sample taken while it ran.
        done = published = elapsed = cpu_s = own_s = 0.0
        while time.monotonic() - started < 3600:
            try:
                tree, own = cpu_seconds(service.pid) - cpu_start, _own_cpu(service.pid) - own_start
                peak_pss = max(peak_pss, memory_kb(service.pid)[1])
                metrics = scrape(status_port)
            except OSError:
                break  # it ended
            now = time.monotonic() - started
            done = sum(v for k, v in metrics.items() if k.startswith("ingest_entries_processed_total{"))
            published = metrics.get('ingest_entries_processed_total{outcome="published"}', 0.0)
            elapsed, cpu_s, own_s = now, tree, own
            if done >= pages:
                break
            # A scrape renders every series (about 2 ms of the service's CPU): once a second until
            # the end is near, where the finish time is read to 0.2 s.
            time.sleep(0.2 if done >= 0.95 * pages else 1.0)
    finally:
        if service.poll() is None:
            service.send_signal(signal.SIGTERM)
        service.wait(timeout=120)
    return {
        "pages": done,
        "published": published,
        "seconds": elapsed,
        "rate": done / elapsed,
        "cpu_ms": cpu_s / max(done, 1) * 1000,
        "own_cpu_ms": own_s / max(done, 1) * 1000,
        "pss_mb": peak_pss / 1024,
    }


def _own_cpu(pid: int) -> float:
    """CPU seconds of the service process itself (its event loop and threads), not its workers."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, nargs="+")
    parser.add_argument("--repeat", type=int, default=2, help="copies of each page (distinct URLs and texts)")
    parser.add_argument("--files", type=int, default=4, help="WARC files to spread the pages over")
    parser.add_argument("--skip-readers", action="store_true", help="only the ceiling and the backfill")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of ceiling, then backfill")
    parser.add_argument("--workers", type=int, default=0, help="pipeline.workers (default: the service's)")
    args = parser.parse_args()
    folders = [f for c in args.corpus for f in corpora(c) if not (f / "pairs.jsonl").is_file()]
    bodies = [page_bytes(p.path) for folder in folders for p in load_pages(folder)]
    pages = [
        (f"https://bench{copy}.example/{number}.html", copy_of(body, copy) if copy else body)
        for copy in range(args.repeat)
        for number, body in enumerate(bodies)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = work / "warc"
        folder.mkdir()
        paths = pack(pages, folder, args.files)
        size = sum(p.stat().st_size for p in paths)
        print(f"{len(pages)} pages in {len(paths)} WARC files, {size / 1e6:.1f} MB; {os.cpu_count()} cores")
        readers = (("ingest", read_ours), ("fastwarc", read_fastwarc), ("warcio", read_warcio))
        for name, read in () if args.skip_readers else readers:
            rate, mbs = reader_rate(read, paths)
            print(f"reader {name:<9} {rate:8.0f} pages/s {mbs:6.1f} MB/s (compressed), one core")
        broker = EmbeddedBroker("127.0.0.1", 0)
        bootstrap = broker.start()
        ratios = []
        try:
            for round_ in range(1, args.rounds + 1):
                # Each round: the ceiling, then the backfill, one after the other (the machine's speed
                # drifts: a ratio compares runs minutes apart at most).
                ceiling = pool_rate(_trafilatura, [b for _, b in pages], "trafilatura")
                cores = os.cpu_count() or 1
                print(f"round {round_}: trafilatura alone {ceiling:8.1f} pages/s ({cores} processes)")
                result = run_backfill(folder, len(pages), work, bootstrap, args.workers)
                ratios.append(result["rate"] / ceiling)
                print(
                    f"round {round_}: ingest backfill    {result['rate']:8.1f} pages/s, "
                    f"{result['published']:.0f} published, "
                    f"{result['cpu_ms']:.1f} ms CPU/page (tree; {result['own_cpu_ms']:.1f} in the service "
                    f"process; trafilatura alone: {cores * 1000 / ceiling:.1f} core-ms/page), "
                    f"peak PSS {result['pss_mb']:.0f} MB, {result['seconds']:.1f} s; "
                    f"ratio {ratios[-1]:.2f}"
                )
        finally:
            broker.stop()
        print(
            f"backfill / trafilatura alone: median {statistics.median(ratios):.2f} "
            f"over {len(ratios)} rounds ({', '.join(f'{r:.2f}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
