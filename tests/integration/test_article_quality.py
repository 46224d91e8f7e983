"""End to end: syndicated copies are published linked; wire copy comes out structured."""

from __future__ import annotations

from ingest.models import Article
from tests.support.deploy import Deploy
from tests.support.kafka import read_topic
from tests.support.site import Site


def test_syndicated_copies_are_linked_and_wire_copy_is_structured(deploy: Deploy, site: Site) -> None:
    deployment = deploy(["/feeds/syndication.rss"])
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    articles = {
        (a.url or "").removeprefix(site.base): a
        for a in (
            Article.model_validate_json(r.value) for r in read_topic(deployment.bootstrap, deployment.topic)
        )
    }
    assert set(articles) == {
        "/articles/coastal-storm.html",
        "/articles/storm-syndicated.html",
        "/articles/wire-story.html",
    }
    original, copy = articles["/articles/coastal-storm.html"], articles["/articles/storm-syndicated.html"]
    # One story: whichever copy was processed first is the original, the other points to it.
    assert original.story_id == copy.story_id
    assert {original.duplicate_of, copy.duplicate_of} in ({None, original.id}, {None, copy.id})
    assert copy.credits == ["AFP"]
    assert not copy.body.endswith("AFP")

    wire = articles["/articles/wire-story.html"]
    assert wire.dateline is not None
    assert (wire.dateline.place, wire.dateline.raw) == ("BEIRUT", "BEIRUT -")
    assert wire.credits == ["AFP"]
    assert wire.captions == [
        "Trucks carrying food and blankets wait at a checkpoint on the road to Qartaba, "
        "in northern Lebanon, on March 16."
    ]
    assert wire.body.startswith("A convoy of 24 aid trucks reached")
    assert wire.body.endswith("but gave no timetable for the work.")
    assert wire.story_id == wire.id
    assert wire.duplicate_of is None
    assert wire.published_at is not None
    assert wire.published_at.isoformat() == "2026-03-17T04:20:00+00:00"


def test_near_duplicates_can_be_dropped_instead(deploy: Deploy, site: Site) -> None:
    deployment = deploy(["/feeds/syndication.rss"], dedup={"near_duplicates": "drop"})
    result = deployment.run("run", "--once")
    assert result.returncode == 0, result.stderr
    urls = [
        Article.model_validate_json(r.value).url for r in read_topic(deployment.bootstrap, deployment.topic)
    ]
    storm = [u for u in urls if u and "storm" in u]
    assert len(storm) == 1
    assert "dropped=1" in result.stderr
