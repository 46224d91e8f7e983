"""What a backfill reads: archive files named on the command line, and which of their records.

    SOURCE ─► archives: a file, the files of a directory, the lines of a path list, a URL
    records ─► Filters (--since, --until, --host) ─► pages for the article chain

A path list (``warc.paths``, ``warc.paths.gz``: Common Crawl's index of a crawl) names one archive a
line, by absolute URL or by a path relative to ``base_url``. An archive given by URL is streamed
through the guarded HTTP client, never written to disk; a resumed one is asked for from its offset
(a range request).
"""

from __future__ import annotations

import fnmatch
import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from ingest.errors import UsageError

ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
PATH_LIST_SUFFIXES = (".paths", ".paths.gz")
COMMON_CRAWL = "https://data.commoncrawl.org/"
MAX_PATH_LIST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Archive:
    """One archive file: a local path, or a URL streamed."""

    location: str  # the path as given (absolute), or the URL
    local: bool

    @property
    def gzipped(self) -> bool:
        return self.location.lower().endswith(".gz")

    @property
    def name(self) -> str:
        return self.location.rsplit("/", 1)[-1]


def is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in ("http", "https")


def is_path_list(text: str) -> bool:
    return text.lower().endswith(PATH_LIST_SUFFIXES)


def local_archives(source: str) -> list[Archive]:
    """The archives a local SOURCE names: a file, the archive files under a directory (sorted),
    or, for a path list, nothing (``path_list_entries`` reads it). Raises ``UsageError``."""
    path = Path(source).expanduser()
    if path.is_dir():
        found = sorted(
            p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(ARCHIVE_SUFFIXES)
        )
        if not found:
            raise UsageError(f"{source}: no {', '.join(ARCHIVE_SUFFIXES)} files in this directory")
        return [Archive(str(p.resolve()), local=True) for p in found]
    if not path.is_file():
        raise UsageError(f"{source}: no such file or directory")
    if not path.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise UsageError(
            f"{source}: not an archive ({', '.join(ARCHIVE_SUFFIXES)}) or a path list "
            f"({', '.join(PATH_LIST_SUFFIXES)})"
        )
    return [Archive(str(path.resolve()), local=True)]


def check_source(source: str) -> None:
    """Refuse a local SOURCE that cannot be read, before anything is started (``UsageError``)."""
    if is_url(source):
        return
    if is_path_list(source):
        if not Path(source).expanduser().is_file():
            raise UsageError(f"{source}: no such file")
        return
    local_archives(source)


def path_list_entries(data: bytes, listed_at: str, base_url: str) -> list[Archive]:
    """The archives a path list names, one a line: absolute URLs or local paths kept, other lines
    joined to ``base_url``. ``data`` may be gzipped. Raises ``UsageError``."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise UsageError(f"{listed_at}: not a readable gzip file ({exc})") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{listed_at}: not a text file of paths ({exc})") from exc
    found: list[Archive] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if is_url(line):
            found.append(Archive(line, local=False))
        elif line.startswith("/") and not is_url(base_url):
            found.append(Archive(line, local=True))
        else:
            found.append(Archive(urljoin(base_url, line.lstrip("/")), local=not is_url(base_url)))
        if not found[-1].location.lower().endswith(ARCHIVE_SUFFIXES):
            raise UsageError(f"{listed_at}, line {number}: not an archive file: {line[:200]}")
    if not found:
        raise UsageError(f"{listed_at}: no archive listed")
    return found


def parse_moment(text: str, *, end: bool) -> datetime:
    """A ``--since`` / ``--until`` value: an ISO 8601 date or time, UTC unless it says otherwise.
    A date alone covers its whole day, so ``--until 2024-03-31`` takes the 31st in. Raises
    ``UsageError``."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day, time(), tzinfo=UTC)
            return moment + timedelta(days=1) - timedelta(microseconds=1) if end else moment
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"not an ISO 8601 date or time: {text!r} (e.g. 2024-03-01 or 2024-03-01T12:00Z)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Filters:
    """Which records of an archive to take, by their ``WARC-Date`` (both ends inclusive) and
    their target URL's host (glob patterns, any of them)."""

    since: datetime | None = None
    until: datetime | None = None
    hosts: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.since and self.until and self.since > self.until:
            raise UsageError("--since is after --until")

    def __call__(self, url: str, moment: datetime) -> str | None:
        """Why the record of ``url`` archived at ``moment`` is not taken, or None."""
        if (self.since and moment < self.since) or (self.until and moment > self.until):
            return "out_of_range"
        if self.hosts:
            try:
                host = (urlsplit(url).hostname or "").lower()
            except ValueError:
                return "other_host"
            if not any(fnmatch.fnmatchcase(host, pattern.lower()) for pattern in self.hosts):
                return "other_host"
        return None
