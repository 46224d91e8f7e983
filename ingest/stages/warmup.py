"""What extraction loads lazily, loaded once before the worker processes fork.

The worker pool's fork server imports this module (``ingest.service.WORKER_PRELOAD``), so every
worker it forks starts with the language model loaded, jusText's stoplists read and dateparser's
patterns compiled, shared copy-on-write, instead of loading them itself, and again after every
recycling (``max_tasks_per_worker``). dateparser compiles a locale's patterns the first time it asks
whether a string may be a date in that locale; htmldate's extensive search hands it strings that
no locale reads, so each fresh worker paid about 1.8 s of CPU for them, about a tenth of a
backfill's CPU. Then one small page is made into an article, which pays the other first-call costs
here too, and what is loaded is left out of garbage collection (``gc.freeze``): the workers'
collections neither walk it nor, by touching it, copy the memory they share.

Importing it costs about 3 s and 15 MB, so only the fork server does.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

# No locale reads it as a date, so dateparser compiles every locale's patterns to find that out.
_UNREADABLE = "zzqx qqxz 2021"
_PAGE = b"""<!doctype html><html lang="en"><head><title>Harbour reopens after storm</title></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav><article><h1>Harbour reopens
after storm</h1><p class="byline">By A. Writer</p>
<p>The harbour reopened on Tuesday after a storm closed it for three days, the port authority said,
and the first ferries left on time in the morning under a clear sky.</p>
<p>Crews cleared debris from the quays overnight. Fishing boats that had sheltered upriver returned
in the afternoon, and traders said the fish market would open as usual on Wednesday.</p>
<p>The authority said repairs to the outer breakwater would take several weeks and cost less than
first feared. Posted 3 March 2021.</p></article><footer>Contact us</footer></body></html>"""


def warm() -> None:
    """Load the language model, compile dateparser's patterns, and extract one page."""
    from htmldate.extractors import get_external_parser
    from trafilatura.external import jt_stoplist_init

    from ingest.stages.article import article_from_html
    from ingest.stages.language import warm_up

    warm_up()
    get_external_parser().get_date_data(_UNREADABLE)
    jt_stoplist_init()  # jusText's stoplists of every language, read where the page's is unknown
    article_from_html(_PAGE, "https://warm-up.invalid/harbour.html", "text/html")


try:
    warm()
except Exception as exc:  # workers load all of it themselves then; slower, not wrong
    log.warning("worker warm-up failed: %s: %s", type(exc).__name__, exc)
gc.freeze()
