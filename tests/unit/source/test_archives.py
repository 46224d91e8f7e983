"""What a backfill reads: sources named on the command line, and the record filters."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.errors import UsageError
from ingest.source.archives import (
    COMMON_CRAWL,
    Archive,
    Filters,
    local_archives,
    parse_moment,
    path_list_entries,
)


def test_a_directory_gives_its_archive_files_sorted(tmp_path: Path) -> None:
    for name in ("b.warc.gz", "a.warc", "c.arc.gz", "notes.txt", "sub/d.WARC.GZ"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = [Path(a.location).name for a in local_archives(str(tmp_path))]
    assert found == ["a.warc", "b.warc.gz", "c.arc.gz", "d.WARC.GZ"]
    assert all(a.local for a in local_archives(str(tmp_path)))


@pytest.mark.parametrize(
    ("name", "says"),
    [("missing.warc.gz", "no such file or directory"), ("page.html", "not an archive")],
)
def test_a_source_that_is_not_an_archive_is_a_usage_error(tmp_path: Path, name: str, says: str) -> None:
    (tmp_path / "page.html").write_text("<p>hi</p>")
    with pytest.raises(UsageError, match=says):
        local_archives(str(tmp_path / name))


def test_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"no \.warc"):
        local_archives(str(tmp_path))


def test_a_path_list_joins_relative_paths_to_the_base_url() -> None:
    listed = b"crawl-data/CC-NEWS/2024/03/CC-NEWS-20240301000000-00001.warc.gz\n\nhttps://x.example/a.warc\n"
    found = path_list_entries(gzip.compress(listed), "warc.paths.gz", COMMON_CRAWL)
    assert found == [
        Archive(
            COMMON_CRAWL + "crawl-data/CC-NEWS/2024/03/CC-NEWS-20240301000000-00001.warc.gz", local=False
        ),
        Archive("https://x.example/a.warc", local=False),
    ]


def test_a_path_list_may_name_local_files() -> None:
    found = path_list_entries(b"/data/a.warc.gz\nb.warc.gz\n", "list.paths", "/data/crawl/")
    assert found == [Archive("/data/a.warc.gz", local=True), Archive("/data/crawl/b.warc.gz", local=True)]


@pytest.mark.parametrize(
    ("data", "says"),
    [(b"", "no archive listed"), (b"index.html\n", "line 1: not an archive"), (b"\x1f\x8bxx", "gzip")],
)
def test_a_bad_path_list_is_a_usage_error(data: bytes, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        path_list_entries(data, "warc.paths", COMMON_CRAWL)


def test_dates_and_times_for_since_and_until() -> None:
    assert parse_moment("2024-03-01", end=False) == datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_moment("2024-03-01", end=True) == datetime(2024, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_moment("2024-03-01T12:00", end=True) == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert parse_moment("2024-03-01T12:00+02:00", end=False) == datetime(2024, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(UsageError, match="not an ISO 8601 date"):
        parse_moment("March 1st", end=False)


def test_filters_take_both_ends_and_match_hosts_by_glob() -> None:
    keep = Filters(
        since=parse_moment("2024-03-01", end=False),
        until=parse_moment("2024-03-31", end=True),
        hosts=("*.example.com", "news.test"),
    )
    assert keep("https://www.example.com/a", datetime(2024, 3, 1, tzinfo=UTC)) is None
    assert keep("https://NEWS.test/a", datetime(2024, 3, 31, 23, 59, tzinfo=UTC)) is None
    assert keep("https://www.example.com/a", datetime(2024, 4, 1, tzinfo=UTC)) == "out_of_range"
    assert keep("https://www.example.com/a", datetime(2024, 2, 29, 23, 59, tzinfo=UTC)) == "out_of_range"
    assert keep("https://example.org/a", datetime(2024, 3, 5, tzinfo=UTC)) == "other_host"
    assert Filters()("https://any.example/", datetime(1999, 1, 1, tzinfo=UTC)) is None
    with pytest.raises(UsageError, match="--since is after --until"):
        Filters(since=datetime(2024, 2, 1, tzinfo=UTC), until=datetime(2024, 1, 1, tzinfo=UTC))
