from __future__ import annotations

import hashlib
import html

import lxml.html
from hypothesis import given, settings
from hypothesis import strategies as st
from trafilatura.metadata import extract_author
from trafilatura.xpaths import AUTHOR_XPATHS

from ingest.stages.bylines import may_hold_byline, searched_authors

# Attribute values built from what trafilatura's byline search tests, near misses, and noise.
_FRAGMENTS = (
    "author", "Author", "auth", "uthor", "author-name", "AuthorName", "authorName", "byline", "Byline",
    "byl", "BBL", "bylines", "username", "screenname", "writer", "channel-name", "zuozhe", "bianji",
    "xiaobian", "submitted-by", "posted-by", "journalist-name", "author name", "AuthorCard", "me",
    "comments", "title", "date", "sidebar", "quote", "print", "x", "post", "meta", "-", " ",
)  # fmt: skip
_TAGS = tuple("a address div link p span strong h3 h4 section time figure author rel em".split())
_ATTRIBUTES = ("class", "id", "rel", "itemprop", "data-testid", "data-component", "title", "href")

_value = st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=3).map("".join)
_text = st.sampled_from(("Jane Doe", "By John Smith", "", "me", "Staff", "a" * 130, "Ann Lee; Bo Park"))


@st.composite
def _element(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(_TAGS))
    attributes = draw(st.dictionaries(st.sampled_from(_ATTRIBUTES), _value, max_size=2))
    # Character references in values too: the search reads decoded values, as lxml does.
    encode = draw(st.booleans())
    attrs = "".join(
        f' {name}="{"".join(f"&#{ord(c)};" for c in value) if encode else html.escape(value)}"'
        for name, value in attributes.items()
    )
    children = draw(st.lists(_element(depth + 1), max_size=3)) if depth < 3 else []
    return f"<{tag}{attrs}>{draw(_text)}{''.join(children)}</{tag}>"


@settings(max_examples=120, deadline=None)
@given(st.lists(_element(), min_size=1, max_size=4))
def test_the_search_finds_what_trafilaturas_finds(elements: list[str]) -> None:
    tree = lxml.html.document_fromstring(f"<html><body>{''.join(elements)}</body></html>")
    found = extract_author(tree) or ""
    assert searched_authors(tree) == tuple(n.strip() for n in found.split(";") if n.strip())
    if found:
        assert may_hold_byline(tree)


def test_a_page_without_any_byline_attribute_is_not_searched() -> None:
    tree = lxml.html.document_fromstring(
        "<html><body><div class='story'><p>Text by nobody.</p></div></body></html>"
    )
    assert not may_hold_byline(tree)
    assert searched_authors(tree) == ()


def test_a_byline_is_found() -> None:
    tree = lxml.html.document_fromstring(
        "<html><body><p>Story.</p><span class='byline__name'>Jane Doe</span></body></html>"
    )
    assert may_hold_byline(tree)
    assert searched_authors(tree) == ("Jane Doe",)


def test_a_byline_in_a_character_reference_is_found() -> None:
    tree = lxml.html.document_fromstring(
        "<html><body><p>Story.</p><span class='&#97;uthor'>Jane Doe</span></body></html>"
    )
    assert searched_authors(tree) == ("Jane Doe",)


def test_the_substrings_were_read_off_the_installed_expressions() -> None:
    # _PARTS in ingest.stages.bylines is derived from these expressions: when a trafilatura
    # upgrade changes them, derive it again (and update this digest).
    paths = "\n".join(expression.path for expression in AUTHOR_XPATHS)
    digest = hashlib.sha256(paths.encode()).hexdigest()
    assert digest == "e7cdb233823cbb0a7eadad1211ccea04ebd7789ae4ffc076b2fc765f00286c9f"
