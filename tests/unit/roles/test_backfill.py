"""The progress of an archive: the offset before which every record was committed."""

from __future__ import annotations

from ingest.roles.backfill import FileProgress


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
