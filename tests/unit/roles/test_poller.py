from __future__ import annotations

import zlib
from collections import Counter

from ingest.roles.poller import feed_partition


def test_a_feeds_partition_is_stable_across_processes_and_versions() -> None:
    url = "https://news.example/rss"
    assert feed_partition(url, 24) == zlib.crc32(url.encode()) % 24 == 5


def test_feeds_spread_over_the_partitions() -> None:
    counts = Counter(feed_partition(f"https://site{n}.example/feed", 12) for n in range(12_000))
    assert set(counts) == set(range(12))
    assert max(counts.values()) < 1.15 * min(counts.values())
