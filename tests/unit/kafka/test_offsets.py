from __future__ import annotations

from ingest.kafka.offsets import OffsetTracker


def test_commit_stops_at_the_oldest_record_in_progress() -> None:
    t = OffsetTracker()
    for offset in range(5, 10):
        t.consumed(0, offset)
    t.done(0, 6)
    t.done(0, 7)
    assert t.committable() == {0: 5}  # 5 is still in progress
    t.done(0, 5)
    assert t.committable() == {0: 8}
    t.done(0, 8)
    t.done(0, 9)
    assert t.committable() == {0: 10}  # the next offset to read
    assert len(t) == 0


def test_only_partitions_that_moved_are_returned() -> None:
    t = OffsetTracker()
    t.consumed(0, 0)
    t.consumed(1, 0)
    t.done(0, 0)
    assert t.committable() == {0: 1, 1: 0}
    assert t.committable() == {}
    t.done(1, 0)
    assert t.committable() == {1: 1}


def test_uncommitted_counts_records_behind_one_in_progress() -> None:
    t = OffsetTracker()
    for offset in range(10):
        t.consumed(0, offset)
    for offset in range(1, 10):
        t.done(0, offset)
    assert len(t) == 1
    assert t.uncommitted() == 10  # all ten would be read again after a crash
    t.done(0, 0)
    assert t.uncommitted() == 0


def test_forgotten_partitions_are_not_committed_and_late_results_are_ignored() -> None:
    t = OffsetTracker()
    t.consumed(3, 40)
    t.forget([3])
    t.done(3, 40)
    assert t.committable() == {}
    assert not t.holds(3)
    t.consumed(3, 40)  # given back later: read again from the committed offset
    assert t.committable() == {3: 40}


def test_a_partition_assigned_back_keeps_holding_its_commit_for_records_in_progress() -> None:
    """The eager protocol revokes every partition and assigns them again; the consumer keeps its
    position for those it keeps, so the next records arrive after the ones still in progress."""
    t = OffsetTracker()
    for offset in range(16, 21):
        t.consumed(0, offset)
        t.consumed(1, offset)
    t.keep_only([0])  # partition 1 went to another member, 0 stayed
    t.consumed(0, 21)
    t.done(0, 21)
    assert t.committable() == {0: 16}  # not 22: offsets 16-20 are still in progress
    for offset in range(16, 21):
        t.done(0, offset)
    assert t.committable() == {0: 22}
    assert not t.holds(1)
