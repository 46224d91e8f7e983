"""Web archives (WARC, ARC): reading their records (``records``), for backfills."""
