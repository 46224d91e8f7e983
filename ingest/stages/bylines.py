"""A byline searched for in the page's markup, for a page whose metadata names no author.

trafilatura's byline search (``trafilatura.metadata.extract_author``) copies the tree, prunes
comments, dates and figures from the copy, then tries three XPath expressions whose regular
expressions lxml evaluates through Python for every element: 10 to 12 ms on each page that needs
it, 7% of the workers' CPU in a backfill of the corpora. About half of those pages hold no element
it could ever select.

``may_hold_byline`` reads the values of the six attributes those expressions test, in one native
XPath, and looks for the substrings their tests imply (each alternative of each regular expression,
each exact value, contains one of them; pruning only removes elements). Where it finds none, the
search could find nothing and is skipped; elsewhere the search runs unchanged. A property test holds
the two together on generated pages.
"""

from __future__ import annotations

import re

from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura import metadata as trafilatura_metadata

# Substrings of the attribute values trafilatura's AUTHOR_XPATHS test (trafilatura 2.x): in
# class, id, rel, itemprop, data-testid or data-component.
_PARTS = (
    "uthor",  # author, Author, author-name, AuthorName, authorName
    "yline",  # byline, Byline
    "byl",
    "BBL",
    "username",
    "screenname",
    "writer",
    "channel-name",
    "zuozhe",
    "bianji",
    "xiaobian",
    "submitted-by",
    "posted-by",
    "journalist-name",
)
_MAY_MATCH = re.compile("|".join(re.escape(part) for part in _PARTS))
_VALUES = XPath("//@class|//@id|//@rel|//@itemprop|//@data-testid|//@data-component")
# One of trafilatura's tests selects ``author`` elements, another reads a child element named ``rel``.
_ELEMENTS = XPath("(//author|//rel)[1]")


def may_hold_byline(tree: HtmlElement) -> bool:
    """Whether any element of the page could be selected by trafilatura's byline search."""
    return bool(_MAY_MATCH.search("\n".join(_VALUES(tree)))) or bool(_ELEMENTS(tree))


def searched_authors(tree: HtmlElement) -> tuple[str, ...]:
    """The names trafilatura's byline search finds in the page (none when it could find none)."""
    if not may_hold_byline(tree):
        return ()
    found = trafilatura_metadata.extract_author(tree) or ""
    return tuple(name.strip() for name in found.split(";") if name.strip())
