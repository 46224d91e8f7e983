"""The fixture site's stories, their paragraphs and the site furniture around them."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import lxml.html

from tests.unit.factories import DATA

ARTICLES = DATA / "site" / "articles"
# The Gazette's stories; wire-copy.html is harbour-strike.html republished by another site.
STORIES = [
    "coastal-storm.html",
    "council-budget.html",
    "cup-final.html",
    "harbour-strike.html",
    "marktplatz.html",
    "museum-reopens.html",
    "tram-line.html",
]
ENGLISH_STORIES = [name for name in STORIES if name != "marktplatz.html"]


def _text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def paragraphs(name: str) -> list[str]:
    """The ``<p>`` texts of a fixture page's article."""
    root = lxml.html.parse(str(ARTICLES / name)).getroot()
    return [_text(p) for p in root.xpath("//article//p")]


def body(name: str) -> str:
    return "\n\n".join(paragraphs(name))


def furniture() -> tuple[list[str], list[str]]:
    """The Gazette's site furniture around a story: what comes before it, what comes after it."""
    root = lxml.html.parse(str(ARTICLES / "harbour-strike.html")).getroot()
    before = [_text(e) for e in root.xpath("//header | //div[@id='cookie-banner']")]
    after = [
        _text(e) for e in root.xpath("//section[contains(@class, 'related-stories')] | //aside | //footer")
    ]
    return before, after


def words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def in_other_processes(code: str, text: str) -> list[str]:
    """What ``code`` prints for ``text`` on its standard input, in processes of other hash seeds."""
    printed = []
    for seed in ("1", "4242"):
        result = subprocess.run(
            [sys.executable, "-c", code],
            input=text.encode("utf-8"),
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=60,
        )
        printed.append(result.stdout.decode().strip())
    return printed
