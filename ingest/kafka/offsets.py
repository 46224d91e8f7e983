"""Which consumed offsets are done, and how far each partition may be committed.

Records of a partition finish out of order (a slow page holds one while later ones publish), so a
partition is committed up to its oldest record still in progress, never past it: a crash then
rereads from there, which repeats finished work but loses none.
"""

from __future__ import annotations

from collections.abc import Iterable


class OffsetTracker:
    def __init__(self) -> None:
        self._pending: dict[int, set[int]] = {}
        self._next: dict[int, int] = {}  # the offset after the newest one consumed
        self._committed: dict[int, int] = {}

    def __len__(self) -> int:
        """Records consumed and not done."""
        return sum(len(offsets) for offsets in self._pending.values())

    def consumed(self, partition: int, offset: int) -> None:
        self._pending.setdefault(partition, set()).add(offset)
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)

    def done(self, partition: int, offset: int) -> None:
        """Mark a record done; one of a partition forgotten meanwhile is ignored."""
        pending = self._pending.get(partition)
        if pending is not None:
            pending.discard(offset)

    def holds(self, partition: int) -> bool:
        return partition in self._pending

    def uncommitted(self) -> int:
        """Records consumed past each partition's committable offset (in progress, or behind one)."""
        return sum(self._next[p] - self._committable(p) for p in self._pending)

    def _committable(self, partition: int) -> int:
        pending = self._pending[partition]
        return min(pending) if pending else self._next[partition]

    def committable(self) -> dict[int, int]:
        """Per partition, the next offset to read where it moved since the last call."""
        moved = {}
        for partition in self._pending:
            offset = self._committable(partition)
            if self._committed.get(partition) != offset:
                moved[partition] = offset
                self._committed[partition] = offset
        return moved

    def forget(self, partitions: Iterable[int]) -> None:
        """Partitions taken by another member: their records are that member's now."""
        for partition in partitions:
            self._pending.pop(partition, None)
            self._next.pop(partition, None)
            self._committed.pop(partition, None)

    def keep_only(self, partitions: Iterable[int]) -> None:
        """After a rebalance: forget the partitions not held any more, and keep what is known of
        those held still. A partition that comes back in the same rebalance (the eager protocol
        revokes every partition, then assigns) keeps its consumer position, so its records in
        progress must keep holding its commit back: forgetting them would let the next record's
        offset be committed past them, and a crash then would lose them."""
        held = set(partitions)
        self.forget([p for p in self._pending if p not in held])
