"""Near-duplicate rows written the way the dedup stage writes them."""

from __future__ import annotations

from ingest.models import FingerprintRow
from ingest.state import StateStore


async def register(store: StateStore, row: FingerprintRow) -> None:
    """Register ``row`` at the store's latest sequence number, reading newer rows until it takes."""
    seq = await store.fingerprint_seq()
    while not await store.register_fingerprint(row, seq):
        _, seq = await store.fingerprints_after(seq)
