from __future__ import annotations

import logging

import pytest

from ingest.errors import NoContent
from ingest.models import Ticket
from ingest.stages.article import Extract, make_article
from ingest.stages.copies import site_of, sketch
from ingest.stages.extract import extract_page
from ingest.stages.normalise import normalise
from ingest.workers import WorkerPool
from tests.unit.factories import make_entry, make_page, words

_STORY = " ".join(f"The harbour reopened on day {i} after the storm, officials said." for i in range(30))
_PAGE = (
    "<html><head><title>Harbour</title></head><body><article><h1>Harbour reopens</h1>"
    f"<p>{_STORY}</p></article></body></html>"
)


class _Origin:
    def committed(self) -> None:
        pass


def test_the_article_is_the_normalised_extraction_with_its_sketch() -> None:
    page = make_page(body=_PAGE.encode())
    made = make_article(page, sketches=True)
    assert made.article == normalise(extract_page(page))
    assert made.article.extraction.method == "trafilatura"
    assert made.sketch == sketch(made.article.body, site_of(made.article.canonical_url))
    assert made.fallback is None


def test_no_sketch_unless_asked() -> None:
    assert make_article(make_page(body=_PAGE.encode()), sketches=False).sketch is None


def test_the_feed_text_stands_in_for_a_page_not_fetched_and_says_why() -> None:
    entry = make_entry(content_html=f"<p>{words(120)}</p>")
    made = make_article(make_page(entry, body=None, url=None), sketches=False)
    assert made.article.extraction.method == "feed"
    assert made.fallback is not None
    assert made.fallback[0] == "not_fetched"


def test_nothing_anywhere_is_no_content() -> None:
    entry = make_entry(content_html=None, summary=None)
    with pytest.raises(NoContent):
        make_article(make_page(entry, body=b"<html><body></body></html>"), sketches=True)


@pytest.mark.parametrize("sketches", [True, False])
async def test_the_stage_makes_the_article_in_a_worker_and_leaves_the_sketch_on_the_ticket(
    sketches: bool,
) -> None:
    workers = WorkerPool(1, task_timeout_s=60.0, memory_limit_bytes=1024**3, max_tasks_per_worker=10)
    await workers.start()
    try:
        page = make_page(body=_PAGE.encode())
        ticket = Ticket(_Origin())
        article = await Extract(workers, sketches=sketches)(page, ticket)
    finally:
        await workers.close()
    assert article == normalise(extract_page(page))
    assert (ticket.sketch is not None) is sketches


async def test_a_page_not_used_is_logged_once_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    workers = WorkerPool(1, task_timeout_s=60.0, memory_limit_bytes=1024**3, max_tasks_per_worker=10)
    await workers.start()
    entry = make_entry(content_html=f"<p>{words(120)}</p>")
    try:
        with caplog.at_level(logging.INFO, logger="ingest.stages.article"):
            article = await Extract(workers)(make_page(entry, body=None, url=None), Ticket(_Origin()))
    finally:
        await workers.close()
    assert article.extraction.method == "feed"
    logged = [r for r in caplog.records if r.name == "ingest.stages.article"]
    assert len(logged) == 1
    assert logged[0].levelno == logging.WARNING
    assert getattr(logged[0], "reason", None) == "not_fetched"
