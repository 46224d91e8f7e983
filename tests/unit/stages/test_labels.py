from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.stages.labels import (
    MAX_TAG_CHARS,
    MAX_TAGS,
    clean_tags,
    domain_label,
    site_name,
    spells_domain,
    story_tag,
)


@pytest.mark.parametrize(
    "tag",
    [
        "Coronavirus",
        "Donald Trump",
        "Asia / Pacific",
        "Cable & Wireless",
        "Olympia 2022",
        "covid-19",
        "Local News",
        "BANGKOK: Ein TikTok-Video",  # a headline in the keywords, but no mark of furniture
        "St. Gallen",
        "Node.js",
        "D.O.Ca. Rioja",
    ],
)
def test_subjects_are_kept(tag: str) -> None:
    assert story_tag(tag) == tag


@pytest.mark.parametrize(
    "tag",
    [
        "MA_Enterprise - enterprisenews.com",  # syndication routing: a code and a host
        "OR_Eugene_registerguard.com",
        "KS_Garden City - Gctelegram.com",
        "MC Complete - State & National",  # a taxonomy path
        "News - Sports - Stories",
        "A Wire",  # routing of agency copy
        "top wire",
        "[SYNDICATED CONTENT]",  # placeholders
        "[NAME]",
        "/article",
        "type:story",  # machine key:value
        "Lite:true",
        "LockedPostSource:LOCKED_POST_SOURCE_NONE",
        "ssts:news:local:detroit-city",
        "type: news",
        "BX:TMUBMUSD02Y",
        "2019",  # numbers and ids
        "753537",
        "2020-08-18 13:14:26",
        "News",  # generic labels
        "news",
        "Nachrichten",
        "Top Stories",
        "Uncategorized",
        "featured",
        "Picture available",
        "Video Available",
        "Category: News",
        "Olympia 2022 - Zwei weitere Corona-Fälle! Kombinierer Eric Frenzel und Terence Weber betroffen",
        "one two three four five six seven",  # a sentence, not a label
        "",
        "   ",
    ],
)
def test_newsroom_furniture_is_dropped(tag: str) -> None:
    assert story_tag(tag) is None


@pytest.mark.parametrize(
    ("tag", "kept"),
    [
        ("tag:Crime", "Crime"),
        ("subject:Brighton and Hove news", "Brighton and Hove news"),
        ("Tag: Recherche Scientifique", "Recherche Scientifique"),
        ("Auto and Truck Manufacturers (TRBC)", "Auto and Truck Manufacturers"),
        ("Online Services (NEC) (TRBC level 5)", "Online Services"),
        ("  Harbour   strike ", "Harbour strike"),
    ],
)
def test_a_subject_is_taken_out_of_its_wrapping(tag: str, kept: str) -> None:
    assert story_tag(tag) == kept


def test_configured_tags_are_kept_as_given_and_first() -> None:
    tags = clean_tags(("news", "World"), ("world", "A Wire", "Shipping"), ("shipping", "Ports", "type:story"))
    assert tags == ["news", "World", "Shipping", "Ports"]


def test_tags_are_capped() -> None:
    tags = clean_tags(tuple(f"tag {i}" for i in range(500)), ("x" * 1000,))
    assert len(tags) == MAX_TAGS
    assert all(len(t) <= MAX_TAG_CHARS for t in tags)


@given(st.lists(st.text(max_size=200), max_size=20), st.lists(st.text(max_size=200), max_size=20))
def test_clean_tags_on_any_text(configured: list[str], stated: list[str]) -> None:
    tags = clean_tags(configured, stated)
    assert len(tags) <= MAX_TAGS
    assert len({t.casefold() for t in tags}) == len(tags)
    assert all(t and len(t) <= MAX_TAG_CHARS and t == t.strip() for t in tags)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Reuters", "reuters"),
        ("The New York Times", "nytimes"),
        ("The Washington Post", "washingtonpost"),
        ("BBC News", "bbc"),
        ("The Guardian", "theguardian"),
        ("Al Jazeera English", "aljazeera"),
        ("Süddeutsche Zeitung", "sueddeutsche"),
        ("Le Monde.fr", "lemonde"),
        ("Frankfurter Allgemeine Zeitung", "faz"),
        ("DER SPIEGEL", "spiegel"),
        ("9News", "9news"),
        ("cnn", "cnn"),
    ],
)
def test_names_that_spell_their_domain(name: str, label: str) -> None:
    assert spells_domain(name, label)


@pytest.mark.parametrize(
    ("name", "label"),
    [("U.S.", "reuters"), ("Politics", "cnn"), ("Home", "heraldnews"), ("", "bbc"), ("BBC", "")],
)
def test_names_that_do_not(name: str, label: str) -> None:
    assert not spells_domain(name, label)


@pytest.mark.parametrize(
    ("stated", "title_end", "handle", "domain", "named"),
    [
        ("U.S.", "Reuters", "Reuters", "www.reuters.com", "Reuters"),  # a section, not the site
        ("U.S.", None, "Reuters", "www.reuters.com", "Reuters"),
        ("The New York Times", None, "nytimes", "www.nytimes.com", "The New York Times"),
        ("Gazette Online", "Politics", None, "www.heraldnews.example", "Gazette Online"),  # nothing better
        ("Biathlon Union", None, "biathlonworld", "biathlonworld.example", "Biathlon Union"),  # account
        ("Jäger", None, "Jaeger_Magazin", "www.jaegermagazin.example", "Jäger"),
        (None, "Harbour Gazette", "gazette", "harbourgazette.example", "Harbour Gazette"),
        (None, None, "gazette", "x.example", None),  # an account that does not spell the site
        (None, None, None, "x.example", None),
    ],
)
def test_site_name_by_evidence(
    stated: str | None, title_end: str | None, handle: str | None, domain: str, named: str | None
) -> None:
    assert site_name(stated, title_end, handle, domain) == named


@pytest.mark.parametrize(
    ("domain", "label"),
    [
        ("www.example.co.uk", "example"),
        ("news.bbc.co.uk", "bbc"),
        ("bbc.com", "bbc"),
        ("m.spiegel.de", "spiegel"),
        ("abc.net.au", "abc"),
        ("127.0.0.1", ""),
    ],
)
def test_domain_label(domain: str, label: str) -> None:
    assert domain_label(domain) == label
