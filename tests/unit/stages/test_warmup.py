from __future__ import annotations

import subprocess
import sys

_CODE = """
import gc, logging, sys
logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
import ingest.stages.warmup
from dateparser.languages.loader import LocaleDataLoader
from trafilatura import external
print(len(LocaleDataLoader._loaded_locales), len(external.JT_STOPLIST or ()), gc.get_freeze_count())
"""


def test_the_fork_server_warm_up_loads_what_the_workers_would_each_load() -> None:
    """What the fork server imports before it forks workers. A library whose API changed would
    only make the workers slower (the failure is a warning), so it is looked for here."""
    command = [sys.executable, "-c", _CODE]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "warm-up failed" not in done.stderr
    locales, stoplist, frozen = (int(n) for n in done.stdout.split())
    assert locales > 100  # dateparser's patterns, for every locale it asks
    assert stoplist > 1000  # jusText's stoplists of every language
    assert frozen > 10_000  # what was loaded is out of the collector's way
