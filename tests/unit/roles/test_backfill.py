"""The progress of an archive: the offset before which every record was committed."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.archive.records import Page
from ingest.roles.backfill import FileProgress, _entry
from ingest.source.archives import Archive
from ingest.urls import canonicalize


def test_progress_moves_only_over_records_that_all_ended() -> None:
    progress = FileProgress(100)
    first, second, third = progress.add(200), progress.add(300), progress.add(400)
    progress.finish(second)
    assert progress.committed == 100  # the first is still in flight
    progress.finish(first)
    assert progress.committed == 300
    assert progress.open == 1
    progress.finish(third)
    assert (progress.committed, progress.open) == (400, 0)


def test_records_of_one_member_share_its_start_until_the_last() -> None:
    progress = FileProgress(0)
    slots = [progress.add(0), progress.add(0), progress.add(900)]  # three records, one member
    for slot in slots[:2]:
        progress.finish(slot)
    assert progress.committed == 0
    progress.finish(slots[2])
    assert progress.committed == 900


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_archived_url_gives_an_entry_or_bad_url(url: str) -> None:
    page = Page(url, datetime(2024, 3, 1, tzinfo=UTC), b"<p>x</p>", "text/html", 0, 10)
    entry = _entry(page, Archive("/data/a.warc.gz", local=True))
    if isinstance(entry, str):
        assert entry == "bad_url"
    else:
        assert entry.key == canonicalize(url)
        assert entry.feed_url == "/data/a.warc.gz"
