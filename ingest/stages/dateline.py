"""Datelines: where (and through which agency) a story was filed, as it opens the body.

    PLACE[, Region][, Date][ (Agency)] SEPARATOR     "PARIS, Feb 11 (AFP) -", "DAMASCUS -"
    (Agency) SEPARATOR                               "(Bloomberg) --"

Conservative: a false dateline that eats a sentence is worse than a missed one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.stages.agencies import AGENCY_LIST_RE, agency_credits


@dataclass(frozen=True, slots=True)
class Dateline:
    """Where (and through which agency) a story was filed, as it opened the body."""

    place: str  # e.g. "DAMASCUS", "Kyiv, Ukraine", "SAO PAULO/BRASILIA"; "" for "(Bloomberg) --"
    raw: str  # the prefix as it opened the body, without trailing spaces: "PARIS, Feb 11 (AFP) -"


# Datelines: PLACE[, Region][, Date][ (Agency)] SEPARATOR, or (Agency) SEPARATOR.
_PLACE_TOKEN = r"[^\W\d_][^\s\d,;:()\[\]{}<>\"“”«»!?–—_]*"
_PLACE = re.compile(rf"{_PLACE_TOKEN}(?: {_PLACE_TOKEN}){{0,5}}")
_REGION = re.compile(rf",\s+(?P<region>{_PLACE_TOKEN}(?: {_PLACE_TOKEN}){{0,5}})")
_DATE = re.compile(
    r",\s+(?:(?P<month>[^\W\d_]{3,10})\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?"
    r"|(?P<day2>\d{1,2})\.?\s+(?:de\s+)?(?P<month2>[^\W\d_]{3,10})\.?)"
    r"(?:,?\s+\d{4})?(?!\w)"
)
_PAREN = re.compile(r"\s*\((?P<inner>[^()\n]{1,60})\)")
_SOURCE_NAME = re.compile(r"[^\W\d_][\w.&'’-]*(?: [^\W\d_][\w.&'’-]*){0,2}")
_DASH_AFTER_PAREN = re.compile(r"\s*\.?\s*(?:-{1,3}|–|—)\s*(?=\S)")
_DASH = re.compile(r"\s+(?:-{1,3}|–|—)\s+(?=\S)")
_COLON = re.compile(r"\s*:\s+(?=\S)")
_SPEAKER = re.compile(r"(?P<label>[^:\n]{1,40}):\s")
_PLACE_PUNCTUATION = frozenset(".'’-/")
_PLACE_CONNECTORS = frozenset(
    "de la las los le les du des di da do dos das del della degli of on upon am an im der den bei sur "
    "en aan y i al el".split()
)
# Words that open a first paragraph like a place but are newsroom labels, days or bodies.
_NOT_PLACES = frozenset(
    """
    breaking update updated updates exclusive watch live video videos photo photos picture pictures
    caption image images gallery file opinion analysis comment commentary editorial correction
    corrections clarification note notes editor's editors' editor editors warning spoiler spoilers
    review interview explainer urgent flash alert advisory latest developing sponsored advertisement
    promoted podcast listen read related see also more summary transcript fact factbox fact-check
    feature column letters letter quote question answer source sources credit credits disclaimer
    statement published posted last date today tonight yesterday tomorrow monday tuesday wednesday
    thursday friday saturday sunday news world politics business sport sports health science tech
    technology culture entertainment lifestyle travel weather markets economy local national
    international top story
    who nato un eu imf fbi cia nasa opec ecb fifa uefa nhs bbc cnn usa wto iaea oecd asean unicef
    unesco unhcr ioc nba nfl mlb nhl gop sec fda cdc
    """.split()
)
_MONTHS = frozenset(
    """
    jan january feb february mar march apr april may jun june jul july aug august sep sept september
    oct october nov november dec december
    ene enero febrero marzo abr abril mayo junio julio ago agosto septiembre set setiembre octubre
    noviembre dic diciembre
    janv janvier févr février fév fev mars avr avril mai juin juil juillet août aout septembre octobre
    novembre déc décembre
    januar jänner februar märz mär mrz okt oktober dez dezember
    gen gennaio febbraio mag maggio giu giugno lug luglio settembre ott ottobre
    janeiro fevereiro março abril maio junho julho setembro out outubro novembro dezembro
    """.split()
)

_WORD = re.compile(r"\w+")
_DATELINE_WINDOW = 200  # a dateline opens a paragraph within this many characters
_MAX_PLACE_CHARS = 40
_MAX_PLACE_WORDS = 5


def parse_dateline(paragraph: str, *, labelled: bool) -> tuple[Dateline, tuple[str, ...], str] | None:
    """The dateline opening ``paragraph``, the agencies it names and the rest of the paragraph."""
    head = paragraph[:_DATELINE_WINDOW]
    place, first, pos = "", "", 0
    credits: tuple[str, ...] = ()
    caps = paren = dated = False
    if head.startswith("("):  # "(Bloomberg) --"
        match = _PAREN.match(head)
        if match is None or not AGENCY_LIST_RE.fullmatch(match["inner"].strip()):
            return None
        credits, pos, paren = agency_credits(match["inner"]), match.end(), True
    else:
        match = _PLACE.match(head)
        if match is None:
            return None
        first = match[0]
        if not is_place(first) or _is_not_place(first) or AGENCY_LIST_RE.fullmatch(first):
            return None
        caps, pos = capitals(first), match.end()
        end = pos
        date = _DATE.match(head, pos)
        if date is None and (region := _REGION.match(head, pos)) is not None:
            if not is_place(region["region"]):
                return None
            end = pos = region.end()
            date = _DATE.match(head, pos)
        if date is not None:
            if not _is_date(date):
                return None
            pos, dated = date.end(), True
        place = head[:end]
        match = _PAREN.match(head, pos)
        if match is not None:
            inner = match["inner"].strip()
            if not AGENCY_LIST_RE.fullmatch(inner) and not (caps and _is_source_name(inner)):
                return None
            if not caps and spells(place, inner):  # "Palestinian Authority (PA) - …" introduces a name
                return None
            credits, pos, paren = agency_credits(inner), match.end(), True
    separator = (_DASH_AFTER_PAREN if paren else _DASH).match(head, pos)
    if separator is None and caps:
        separator = _COLON.match(head, pos)
    if separator is None:
        return None
    rest = paragraph[separator.end() :]
    if len(_WORD.findall(rest)) < 2 or not _opens_sentence(rest):
        return None
    if not paren and not dated:
        # "DAMASCUS - …": only a place in capitals, before a sentence that is not in capitals.
        if not caps or max(sum(c.isalpha() for c in w) for w in re.split(r"[\s/]+", first)) < 3:
            return None
        if not any(c.islower() for c in rest):
            return None
        if labelled and ":" in separator[0]:  # "NAME: …" on several paragraphs is a transcript
            return None
    return Dateline(place=place, raw=head[: separator.end()].rstrip()), credits, rest


def is_place(text: str) -> bool:
    """At most five words of letters (any script), dots, apostrophes, hyphens and slashes; each word
    capitalised unless it is a particle ("Rio de Janeiro")."""
    words = text.split(" ")
    if len(text) > _MAX_PLACE_CHARS or len(words) > _MAX_PLACE_WORDS or words[0][:1].islower():
        return False
    for word in words:
        if not word or word[-1] in "-/" or not unicodedata.category(word[0]).startswith("L"):
            return False
        if any(c not in _PLACE_PUNCTUATION and unicodedata.category(c)[0] not in "LM" for c in word):
            return False
        if word[0].islower() and word.casefold() not in _PLACE_CONNECTORS and "-" not in word:
            return False
    return True


def _is_not_place(text: str) -> bool:
    first = text.split(" ")[0].strip(".'’").casefold()
    return first in _NOT_PLACES or text.casefold() in _NOT_PLACES


def capitals(text: str) -> bool:
    return any(c.isupper() for c in text) and not any(c.islower() for c in text)


def _is_date(match: re.Match[str]) -> bool:
    month = (match["month"] or match["month2"] or "").casefold()
    day = int(match["day"] or match["day2"] or 0)
    return month in _MONTHS and 1 <= day <= 31


def _is_source_name(text: str) -> bool:
    """A short capitalised name in a dateline's parentheses: "(Sputnik)", "(CNN)"."""
    return _SOURCE_NAME.fullmatch(text) is not None and all(w[0].isupper() for w in text.split(" "))


def _opens_sentence(text: str) -> bool:
    first = text[:1]
    return (
        first.isupper()
        or first.isdigit()
        or first in "\"“‘'«(¿¡["
        or (first.isalpha() and not first.islower())
    )


def is_speaker_label(paragraph: str) -> bool:
    match = _SPEAKER.match(paragraph)
    return match is not None and capitals(match["label"]) and is_place(match["label"])


def spells(before: str, acronym: str) -> bool:
    """Whether the capitalised words just before an acronym spell it, as where a name is introduced:
    "Pakistan Tehreek-e-Insaf (PTI)", "Agence France-Presse (AFP)"."""
    if not acronym.isupper() or not acronym.isalpha():
        return False
    words = re.split(r"[\s\-]+", before.strip())[-2 * len(acronym) - 2 :]
    initials = "".join(w[0] for w in words if w[:1].isupper())
    return initials.endswith(acronym)
