"""Role backfill: web archives carried to articles, as if their pages had just been fetched.

    archives ─► records (a thread) ─► claim ─► replay ─► extract ─► normalise ─► dedup ─► publish ─► commit
                    │                                                                              │
                    └──── progress: the offset up to which every record was committed ◄────────────┘

One file at a time, its records read in order in a thread (``ingest.archive.records``) and carried
many at once through the same chain as a live fetch (the page replayed from the archive in place of
the fetch), so the workers extract on every core. The progress of a file is the offset before which
every record was committed (published, dropped or dead-lettered, after the ack); it is saved every few
seconds and at the end, so a killed backfill resumes there. A record whose article is deferred (Kafka
unavailable) is carried again until it is committed or the backfill is stopped; the progress never
passes it. ``republish``: keys seen before are published again (re-extraction into a new topic).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

from ingest.archive.records import Page, Readable, Record, Skipped, records
from ingest.config import Settings
from ingest.errors import IngestError, TransientError, UsageError
from ingest.models import FeedEntry, FetchedPage, Outcome, Ticket
from ingest.net import HttpClient
from ingest.net.client import Streamed
from ingest.pipeline import archive_chain
from ingest.roles.base import Published, Resources, RunSummary, article_topics
from ingest.roles.progress import Display
from ingest.runner import Runner
from ingest.source.archives import (
    MAX_PATH_LIST_BYTES,
    Archive,
    Filters,
    is_path_list,
    is_url,
    local_archives,
    path_list_entries,
)
from ingest.source.entries import entry_for_link

log = logging.getLogger(__name__)

SAVE_EVERY_S = 2.0  # progress saved at most this long after a record was committed
_BATCH_RECORDS = 64  # read per hop to the reading thread
_BATCH_BYTES = 8 * 1024 * 1024
_RETRY_MAX_S = 30.0


@dataclass(slots=True)
class _Slot:
    end: int
    done: bool = False


class FileProgress:
    """The records of one file in reading order, and the offset before which all were committed."""

    def __init__(self, start: int) -> None:
        self.committed = start
        self._pending: deque[_Slot] = deque()
        self.changed = False

    def add(self, end: int) -> _Slot:
        slot = _Slot(end)
        self._pending.append(slot)
        return slot

    def finish(self, slot: _Slot) -> None:
        slot.done = True
        while self._pending and self._pending[0].done:
            self.committed = max(self.committed, self._pending.popleft().end)
            self.changed = True

    @property
    def open(self) -> int:
        return len(self._pending)


class ArchivedRecord:
    """The origin of an item read from an archive: the page it replays, and its place in the
    file's progress (told once the item is committed)."""

    def __init__(self, page: Page, progress: FileProgress, slot: _Slot) -> None:
        self.page: Page | None = page
        self._progress = progress
        self._slot = slot
        self.committed_once = False

    def committed(self) -> None:
        self.page = None  # held no longer than needed
        self.committed_once = True
        self._progress.finish(self._slot)


class Replay:
    """The fetch of an archived page: the page as the archive holds it, fetched at its WARC-Date."""

    name = "replay"

    async def __call__(self, entry: FeedEntry, ticket: Ticket, /) -> FetchedPage:
        origin = ticket.origin
        assert isinstance(origin, ArchivedRecord)
        assert origin.page is not None
        page = origin.page
        return FetchedPage(
            entry=entry,
            url=page.url,
            body=page.body,
            content_type=page.content_type,
            fetched_at=page.date,
            status=200,
        )


def progress_name(topic: str, archive: Archive) -> str:
    """The state store's name of an archive's progress: per topic (a republish into another topic
    reads the file again)."""
    return f"{topic} {archive.location}"


class Backfill:
    """``sources``: files, directories, path lists or URLs (``ingest.source.archives``)."""

    feeds = None

    def __init__(
        self,
        settings: Settings,
        sources: list[str],
        *,
        filters: Filters,
        base_url: str,
        republish: bool = False,
        restart: bool = False,
        display: Display | None = None,
    ) -> None:
        self._settings = settings
        self._sources = sources
        self._filters = filters
        self._base_url = base_url
        self._republish = republish
        self._restart = restart
        self._display = display or Display(interactive=False)
        self.records: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self._unacknowledged = 0
        self.failed = 0  # archives that could not be read to their end

    def topics(self) -> dict[str, int]:
        return article_topics(self._settings)

    async def run(self, resources: Resources, *, once: bool, stop: asyncio.Event) -> RunSummary:
        r = resources
        published = Published(r.metrics)
        chain = archive_chain(
            r.settings,
            state=r.state,
            workers=r.workers,
            sink=r.sink(),
            acknowledged=published,
            republish=self._republish,
            replay=Replay(),
        )
        runner = r.runner(chain)
        r.status.recent = lambda: tuple(published.recent)
        archives = await self._archives(r.http)
        self._display.start(len(archives))
        try:
            for archive in archives:
                if stop.is_set():
                    break
                await self._archive(archive, r, runner, stop)
        finally:
            self._display.close()
        log.info("backfill %s", self.describe(len(archives)))
        return RunSummary(self.records, self.outcomes, self._unacknowledged, head="records")

    def describe(self, archives: int) -> str:
        records = ", ".join(f"{k}={v}" for k, v in sorted(self.records.items())) or "none"
        return f"{archives} archives; records: {records}"

    async def _archives(self, http: HttpClient) -> list[Archive]:
        found: list[Archive] = []
        for source in self._sources:
            if is_path_list(source):
                found += path_list_entries(await _path_list(http, source), source, self._base_url)
            elif is_url(source):
                found.append(Archive(source, local=False))
            else:
                found += local_archives(source)
        return found

    async def _archive(self, archive: Archive, r: Resources, runner: Runner, stop: asyncio.Event) -> None:
        topic = self._settings.kafka.topic
        name = progress_name(topic, archive)
        saved = None if self._restart else await r.state.archive_progress(name)
        if saved is not None and saved[1] and not self._republish:
            log.info(
                "%s: read to its end by an earlier backfill (--restart reads it again)", archive.location
            )
            r.metrics.archives.labels("already_read").inc()
            self._display.file_done()
            return
        start = saved[0] if saved is not None and not saved[1] else 0
        if start:
            log.info("%s: resuming at byte %d", archive.location, start)
        progress = FileProgress(start)
        try:
            async with _opened(archive, start, r.http) as (raw, size):
                r.metrics.archive_size.set(size or 0)
                self._display.file(archive.location, size, start)
                finished = await self._read(archive, raw, start, progress, r, runner, stop)
        except (IngestError, OSError) as exc:
            log.error(
                "%s: cannot be read on (%s); the next run resumes at byte %d",
                archive.location,
                exc,
                progress.committed,
            )
            r.metrics.archives.labels("failed").inc()
            self.failed += 1
            finished = False
        await r.state.save_archive_progress(name, progress.committed, finished and progress.open == 0)
        r.metrics.archive_position.set(progress.committed)
        self._display.advance(progress.committed, self.records["page"], self.outcomes["published"])
        if finished:
            r.metrics.archives.labels("finished").inc()
        self._display.file_done()

    async def _read(
        self,
        archive: Archive,
        raw: Readable,
        start: int,
        progress: FileProgress,
        r: Resources,
        runner: Runner,
        stop: asyncio.Event,
    ) -> bool:
        """Read the file to its end (True) or until ``stop`` (False), carrying its pages."""
        reopen: Callable[[], Readable] | None = None
        if archive.local:

            def reopen() -> Readable:
                return open(archive.location, "rb")  # the reader closes it

        found = records(
            raw,
            max_bytes=self._settings.http.max_page_bytes,
            start=start,
            gzipped=archive.gzipped or None,
            wanted=self._filters,
            reopen=reopen,
        )
        room = asyncio.Semaphore(self._settings.pipeline.max_articles_in_flight * 2)
        tasks: set[asyncio.Task[None]] = set()
        saver = asyncio.create_task(self._save_often(archive, progress, r))
        last = start
        try:
            while not stop.is_set():
                batch = await asyncio.to_thread(_take, found)
                if not batch:
                    await self._drain(tasks, stop)
                    return not stop.is_set()
                for record in batch:
                    r.metrics.archive_bytes.inc(max(0, record.end - last))
                    last = max(last, record.end)
                    slot = progress.add(record.end)
                    entry = _entry(record, archive)
                    if isinstance(entry, str):
                        self._count(entry, r)
                        progress.finish(slot)
                        continue
                    assert isinstance(record, Page)
                    self._count("page", r)
                    await room.acquire()
                    task = asyncio.create_task(
                        self._carry(runner, entry, ArchivedRecord(record, progress, slot), stop)
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(lambda _: room.release())
                self._display.advance(last, self.records["page"], self.outcomes["published"])
            return False
        finally:  # stopped, done, or the file could not be read on: the items in flight end first
            await self._drain(tasks, stop)
            saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saver
            found.close()

    async def _drain(self, tasks: set[asyncio.Task[None]], stop: asyncio.Event) -> None:
        """Wait for the items in flight; once stopped, for ``pipeline.drain_timeout_s`` at most,
        then the rest are cancelled (not committed: the progress stays before them)."""
        deadline: float | None = None
        while tasks:
            if stop.is_set() and deadline is None:
                deadline = asyncio.get_running_loop().time() + self._settings.pipeline.drain_timeout_s
            if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.wait(set(tasks), timeout=0.5)
        left = list(tasks)
        for task in left:
            task.cancel()
        if left:
            log.warning("%d archived pages were still in flight when stopped: read again next run", len(left))
            self._unacknowledged += len(left)
            await asyncio.gather(*left, return_exceptions=True)

    def _count(self, result: str, r: Resources) -> None:
        self.records[result] += 1
        r.metrics.archive_records.labels(result).inc()

    async def _carry(
        self, runner: Runner, entry: FeedEntry, origin: ArchivedRecord, stop: asyncio.Event
    ) -> None:
        """Carry one archived page until it is committed; a deferred one again, later."""
        delay = 1.0
        while True:
            outcome: Outcome = await runner.run(entry, origin)
            if outcome.terminal:
                self.outcomes[outcome.kind] += 1
                return
            if stop.is_set():
                self._unacknowledged += 1
                return
            log.info("%s deferred (%s): trying again in %.0f s", entry.link, outcome.reason, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, _RETRY_MAX_S)

    async def _save_often(self, archive: Archive, progress: FileProgress, r: Resources) -> None:
        name = progress_name(self._settings.kafka.topic, archive)
        while True:
            await asyncio.sleep(SAVE_EVERY_S)
            if progress.changed:
                progress.changed = False
                try:
                    await r.state.save_archive_progress(name, progress.committed, False)
                except TransientError as exc:
                    log.warning("progress of %s not saved yet: %s", archive.location, exc)
                    progress.changed = True
                r.metrics.archive_position.set(progress.committed)


def _take(found: Iterator[Record]) -> list[Record]:
    """The next records, up to a batch (in the reading thread)."""
    batch: list[Record] = []
    size = 0
    for record in found:
        batch.append(record)
        if isinstance(record, Page):
            size += len(record.body)
        if len(batch) >= _BATCH_RECORDS or size >= _BATCH_BYTES:
            break
    return batch


def _entry(record: Record, archive: Archive) -> FeedEntry | str:
    """The feed entry of a page, or the reason a record gives none."""
    if isinstance(record, Skipped):
        return record.reason
    try:
        return entry_for_link(record.link or record.url, feed_url=archive.location, discovered_at=record.date)
    except ValueError:
        return "bad_url"


async def _path_list(http: HttpClient, source: str) -> bytes:
    if is_url(source):
        response = await http.get(source, max_bytes=MAX_PATH_LIST_BYTES, trusted=source)
        return response.body
    try:
        return await asyncio.to_thread(_head, source, MAX_PATH_LIST_BYTES)
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from exc


def _head(path: str, size: int) -> bytes:
    with open(os.path.expanduser(path), "rb") as file:
        return file.read(size)


@contextlib.asynccontextmanager
async def _opened(
    archive: Archive, start: int, http: HttpClient
) -> AsyncIterator[tuple[Readable, int | None]]:
    """The archive, readable from ``start``, and its size when known. A URL is asked for from
    ``start`` (a range request); a server that answers with the whole file is read past it."""
    if archive.local:
        file = await asyncio.to_thread(open, archive.location, "rb")
        try:
            file.seek(start)
            yield file, os.fstat(file.fileno()).st_size
        finally:
            file.close()
        return
    headers = {"Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    async with http.stream(archive.location, headers=headers) as response:
        size = _size(response, start)
        skip = start if start and response.status != 206 else 0
        reader = _Blocking(response, asyncio.get_running_loop())
        if skip:
            log.info("%s: the server sends the whole file; reading past %d bytes", archive.location, skip)
            await asyncio.to_thread(reader.discard, skip)
        yield reader, size


def _size(response: Streamed, start: int) -> int | None:
    total = response.headers.get("Content-Range", "").rpartition("/")[2]
    if total.isdigit():
        return int(total)
    length = response.headers.get("Content-Length", "")
    if length.isdigit():
        return int(length) + (start if response.status == 206 else 0)
    return None


class _Blocking:
    """A streamed response read from the reading thread: each read is run on the event loop."""

    def __init__(self, response: Streamed, loop: asyncio.AbstractEventLoop) -> None:
        self._response = response
        self._loop = loop

    def read(self, n: int = -1, /) -> bytes:
        size = n if n > 0 else 1 << 16
        return asyncio.run_coroutine_threadsafe(self._response.read(size), self._loop).result()

    def discard(self, n: int) -> None:
        while n > 0:
            data = self.read(min(n, 1 << 16))
            if not data:
                raise UsageError("the server's file is shorter than the progress saved: use --restart")
            n -= len(data)

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = 0, /) -> int:
        raise OSError("a streamed archive cannot seek")

    def tell(self) -> int:
        raise OSError("a streamed archive cannot tell")
