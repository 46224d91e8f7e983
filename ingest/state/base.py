"""The state-store protocol every backend implements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ingest.models import FingerprintRow, Validators

__all__ = ["FAILING_AFTER", "FEED_HEALTH", "FeedState", "FingerprintRow", "StateStore"]


@dataclass(frozen=True, slots=True)
class FeedState:
    """What we remember about one feed between polls (also its health, served at /feeds)."""

    url: str
    validators: Validators = field(default_factory=Validators)
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_reason: str | None = None
    consecutive_errors: int = 0
    entries_seen: int = 0
    new_entries: int = 0  # in the last successful poll
    last_status: int | None = None  # HTTP status of the last poll
    body_hash: str | None = None  # of the last document fully processed: an equal body is skipped
    last_full_at: datetime | None = None  # last unconditional fetch (validators can lie)
    gone: bool = False  # the feed answered 410 Gone: polled at the longest interval
    resolved_url: str | None = None  # the configured URL is a web page: the feed it announces
    children: tuple[str, ...] = ()  # the feed is a sitemap index: the child sitemaps polled with it
    first_success_at: datetime | None = None
    first_entries: int = 0  # new entries of the first successful poll: the backlog, not the rate

    def entries_per_day(self, now: datetime) -> float | None:
        """New entries a day since the first successful poll (its backlog left out; at least an hour
        of history assumed). None until a second successful poll: the first one's entries are the
        backlog the feed held, not a rate."""
        if self.first_success_at is None or self.last_success_at in (None, self.first_success_at):
            return None
        days = max((now - self.first_success_at).total_seconds(), 3600.0) / 86400.0
        return (self.entries_seen - self.first_entries) / days

    @property
    def health(self) -> str:
        """ok, backing_off (its last poll failed), failing (``FAILING_AFTER`` in a row), or gone."""
        if self.gone:
            return "gone"
        if self.consecutive_errors >= FAILING_AFTER:
            return "failing"
        return "backing_off" if self.consecutive_errors else "ok"


FEED_HEALTH = ("ok", "backing_off", "failing", "gone")
# Failing after two failed polls in a row: one can be a blip (a timeout, a deploy on the site's side);
# the retry after a failure comes a minute later (``ingest.source.scheduler``), so a feed that is
# down shows as failing within minutes whatever its normal interval.
FAILING_AFTER = 2


class StateStore(Protocol):
    """Every call raises ``StateUnavailable`` when the store does not answer (a retry may cure it),
    ``FatalError`` when it cannot be used at all."""

    async def ping(self) -> None:
        """Return when the store answers."""
        ...

    async def seen_keys(self, keys: Iterable[str]) -> set[str]:
        """The subset of ``keys`` already recorded as published or terminally handled."""
        ...

    async def content_owner(self, content_hash: str) -> str | None:
        """The article id that already carries this content hash, if any."""
        ...

    async def record(
        self,
        keys: Iterable[str],
        article_id: str,
        content_hash: str | None,
    ) -> None:
        """Remember ``keys`` (and the content hash) as done. Call only after Kafka acknowledged.
        Near-duplicate rows are registered apart, when matched (``register_fingerprint``)."""
        ...

    async def fingerprints(self, since: float) -> list[FingerprintRow]:
        """Fingerprint rows of articles published at or after ``since`` (epoch seconds)."""
        ...

    async def fingerprint_seq(self) -> int:
        """The sequence number of the latest fingerprint row registered (0 before any)."""
        ...

    async def fingerprints_after(self, seq: int) -> tuple[list[FingerprintRow], int]:
        """Rows registered after sequence number ``seq`` by any instance, and the latest number."""
        ...

    async def register_fingerprint(self, row: FingerprintRow, seq: int) -> bool:
        """Register ``row`` only if no row was registered after ``seq`` (one atomic step across
        instances). False when one was: read it (``fingerprints_after``), match again, retry."""
        ...

    async def feed_state(self, url: str) -> FeedState: ...

    async def save_feed_state(self, state: FeedState) -> None: ...

    async def archive_progress(self, name: str) -> tuple[int, bool] | None:
        """How far a backfill read the archive ``name`` (a topic and a file, ``ingest.source.archives``):
        the offset up to which every record was acknowledged, and whether the file was read to its
        end. None before any progress was saved."""
        ...

    async def save_archive_progress(self, name: str, offset: int, finished: bool) -> None:
        """Remember the progress of ``name``, written at once. Call only after the acks."""
        ...

    async def clear(self) -> None:
        """Forget everything: keys seen, content hashes, near-duplicate sketches, feed states,
        archive progress. For a
        broker that keeps nothing either (the embedded one): the state must not remember articles
        its topics no longer hold."""
        ...

    async def close(self) -> None: ...
