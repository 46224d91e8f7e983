"""What names the site and what labels the story: a site name only from evidence that names the
site, tags without newsroom furniture.

A page's ``og:site_name`` is sometimes its section ("U.S." on a news agency's pages) and its
keywords carry the CMS's routing labels as well as the story's subjects ("MA_Enterprise -
enterprisenews.com", "type:story", "[SYNDICATED CONTENT]", "A Wire"). Both are judged by their form,
not by a list of sites.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from ingest.stages.copies import site_of
from ingest.text import clean_line

MAX_TAGS = 50
MAX_TAG_CHARS = 100
_MAX_TAG_WORDS = 6  # a longer "tag" is a headline or a sentence stuffed into the keywords
_MAX_NAME_WORDS = 8

# Labels that say nothing about the story: "news" in the languages at hand, "no category",
# placement and media-type labels, template placeholders.
_GENERIC = frozenset(
    """
    news nachrichten noticias notícias notizie nieuws nyheter nyheder uutiset wiadomości zprávy
    actualités actualites actualité actualidad attualità aktuell aktuelles actueel новости haberler
    general allgemein uncategorized uncategorised unkategorisiert sin-categoría non-classé
    senza-categoria geen-categorie default misc other others
    featured feature top top-news top-stories top-story latest latest-news breaking breaking-news
    home homepage home-page front-page frontpage startseite
    article articles story stories post posts blog blogs feed feeds rss test template
    video videos photo photos picture pictures gallery galleries slideshow multimedia media-gallery
    picture-available pictures-available video-available photo-available
    sponsored advertorial paid-content syndicated syndicated-content
    """.split()
)
# "key:value" machine tags whose value is a subject ("tag:Crime", "subject:Local news").
_SUBJECT_KEYS = frozenset(
    "tag tags subject subjects topic topics category categories keyword keywords section".split()
)
_KEYED = re.compile(r"(?P<key>[^\W\d_]+)\s*:(?P<space>\s*)(?P<value>.*)", re.DOTALL)
_HOST = re.compile(
    r"\b[\w-]+\.(?:com|net|org|info|biz|news|co\.[a-z]{2}|com\.[a-z]{2}|de|uk|fr|it|es|nl|ru|ch|at|be|se|no"
    r"|dk|fi|pl|cz|pt|br|au|ca|in|jp|cn|kr|ie|nz|za|mx|ar|us|eu|tv|io)\b"  # in lower case: not "D.O.Ca."
)
_CODE_SUFFIX = re.compile(r"\s*\((?:[A-Z]{2,6})(?: level \d+)?\)\s*$")  # "(TRBC level 5)", "(NEC)"
_WIRE = re.compile(r"\bwires?$", re.IGNORECASE)  # routing of agency copy: "A Wire", "AP Wire", "top wire"
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"})
_HIERARCHY = re.compile(r"\s[-–—]\s")  # "News - Sports - Stories", "MC Complete - State & National"


def clean_tags(configured: Iterable[str], *stated: Iterable[str]) -> list[str]:
    """The article's tags: the operator's ``configured`` tags as given, then the feed's and the
    page's ``stated`` ones that label the story, in order, without repeats (case aside)."""
    tags = [clean_line(t) for t in configured]
    tags += [kept for group in stated for t in group if (kept := story_tag(t))]
    unique: dict[str, str] = {}
    for tag in tags:
        tag = tag[:MAX_TAG_CHARS]
        if tag and tag.casefold() not in unique:
            unique[tag.casefold()] = tag
    return list(unique.values())[:MAX_TAGS]


def story_tag(tag: str) -> str | None:
    """``tag`` as a label of the story, or None when it is newsroom furniture: an id or a number,
    a CMS code (``_``), a site's host name, a path, a placeholder in brackets, a machine
    ``key:value`` (whose value is kept when the key says it is a subject), a taxonomy path
    ("A - B"), routing of wire copy, a generic label, or a sentence."""
    tag = clean_line(tag)
    keyed = _KEYED.fullmatch(tag)
    if keyed is not None:
        if keyed["key"].casefold() in _SUBJECT_KEYS:
            tag = keyed["value"].strip()
        elif not keyed["space"] or keyed["key"].islower():  # "type:story", "Lite:true", "type: news"
            return None
    while (code := _CODE_SUFFIX.search(tag)) is not None and code.start() > 0:
        tag = tag[: code.start()]
    tag = tag.strip(" ,;|")
    if (
        not tag
        or not any(c.isalpha() for c in tag)
        or "_" in tag
        or tag[0] in "/#@&[{<"
        or _HOST.search(tag)
        or _HIERARCHY.search(tag)
        or _WIRE.search(tag)
        or len(tag.split()) > _MAX_TAG_WORDS
        or "-".join(tag.casefold().split()) in _GENERIC
    ):
        return None
    return tag


def site_name(stated: str | None, title_end: str | None, handle: str | None, domain: str) -> str | None:
    """The site's name: what the page ``stated`` (``og:site_name``, its publisher's name) unless it
    does not spell the site's ``domain`` while the shorter end of its ``<title>`` does, or its
    social account ``handle`` does and is written as a name ("Reuters", not "reuters_news");
    then that. ``"U.S."`` on ``reuters.com``, titled "… | Reuters", is a section: the name is
    "Reuters". Without any, None."""
    label = domain_label(domain)
    named = handle if handle and _name_like(handle) else None
    agreeing = [c for c in (title_end, named) if c and spells_domain(c, label)]
    if stated and (not agreeing or spells_domain(stated, label)):
        return stated
    return agreeing[0] if agreeing else None


def _name_like(handle: str) -> bool:
    return any(c.isupper() for c in handle) and all(c.isalpha() for c in handle)


def spells_domain(name: str, label: str) -> bool:
    """Whether ``name`` spells the domain ``label``: a run of its words, each whole or by its
    initial, makes the label or its start ("The New York Times" → ``nytimes``, "BBC News" →
    ``bbc``, "Reuters" → ``reuters``), accents dropped or German umlauts spelled out."""
    label = _fold(label)
    if not label:
        return False
    for spelling in {name, name.translate(_UMLAUTS)}:  # "Süddeutsche": sueddeutsche.de
        words = [w for w in (_fold(part) for part in re.split(r"[\W_]+", spelling)) if w][:_MAX_NAME_WORDS]
        if any(_spells(label, words[i:]) for i in range(len(words))):
            return True
    return False


def _spells(label: str, words: list[str]) -> bool:
    if not label:
        return True
    if not words:
        return False
    word, rest = words[0], words[1:]
    if label.startswith(word) and _spells(label[len(word) :], rest):
        return True
    return label[0] == word[0] and len(word) > 1 and _spells(label[1:], rest)


def domain_label(domain: str) -> str:
    """``www.example.co.uk`` -> ``example``: how a site often names itself (the first label of its
    registrable domain, ``ingest.stages.copies.site_of``); "" for an address."""
    site = site_of(domain)
    if not site or ":" in site or site.replace(".", "").isdigit():
        return ""
    return site.split(".")[0]


def _fold(text: str) -> str:
    """Lower case, accents and everything but letters and digits removed: "Süddeutsche" →
    "suddeutsche"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))
