"""Wire copy: an agency story's dateline, credit line and photo captions, split from its body.

Agency copy, and the sites that republish it, often open the body with a photo caption, start the
story with a dateline (``PARIS, Feb 11 (AFP) -``) and end it with a credit (``AFP``,
``(Reporting by …; Editing by …)``). :func:`split_wire_copy` moves these out of the body and names the
agencies credited; :func:`agency_credits` names the agencies in bylines and other metadata.

It is conservative: a false dateline that eats a sentence is worse than a missed one, so whatever it
is unsure of stays in the body. Every word it takes out is in the parts it returns, and a second pass
over the body it returns finds nothing more to take (when it would, nothing is taken).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Dateline:
    """Where (and through which agency) a story was filed, as it opened the body."""

    place: str  # e.g. "DAMASCUS", "Kyiv, Ukraine", "SAO PAULO/BRASILIA"; "" for "(Bloomberg) --"
    raw: str  # the prefix as it opened the body, without trailing spaces: "PARIS, Feb 11 (AFP) -"


@dataclass(frozen=True, slots=True)
class WireParts:
    """A body split into the story and the wire parts taken out of it."""

    body: str  # the body without dateline prefix, credit lines and caption paragraphs
    dateline: Dateline | None
    credits: tuple[str, ...]  # canonical agency names, de-duplicated, in order found
    captions: tuple[str, ...]
    # The credit lines (or trailing credits) taken from the end of the body, as written.
    credit_lines: tuple[str, ...] = field(default=(), compare=False)


# Canonical name, then the pattern naming the agency. Names that are ordinary words or short tokens
# match only as written (upper case, or a capitalised name); the others in any case.
_AGENCIES: tuple[tuple[str, str], ...] = (
    ("AFP", r"(?i:AFP|Agence\s+France[-\s]Presse)"),
    ("Reuters", r"(?i:Reuters)"),
    ("AP", r"AP|(?i:Associated\s+Press)"),
    ("dpa", r"(?i:dpa|Deutsche\s+Presse[-\s]Agentur)"),
    ("EFE", r"EFE|Efe"),
    ("ANSA", r"ANSA|Ansa"),
    ("Xinhua", r"(?i:Xinhua)"),
    ("Kyodo", r"(?i:Kyodo)"),
    ("Bloomberg", r"(?i:Bloomberg)"),
    ("UPI", r"UPI|(?i:United\s+Press\s+International)"),
    ("Anadolu", r"Anadolu|ANADOLU"),
    ("TASS", r"TASS|Tass"),
    ("Yonhap", r"(?i:Yonhap)"),
    ("PA", r"PA|(?i:Press\s+Association)"),
    ("ANP", r"ANP"),
    ("APA", r"APA"),
    ("Belga", r"Belga|BELGA"),
    ("Lusa", r"Lusa|LUSA"),
    ("PTI", r"PTI|(?i:Press\s+Trust\s+of\s+India)"),
    ("IANS", r"IANS"),
    ("AAP", r"AAP|(?i:Australian\s+Associated\s+Press)"),
    ("CP", r"CP|(?i:Canadian\s+Press)"),
    ("NTB", r"NTB"),
    ("TT", r"TT"),
    ("STT", r"STT"),
    ("Ritzau", r"(?i:Ritzau)"),
    ("Agerpres", r"(?i:Agerpres)"),
    ("MTI", r"MTI"),
    ("CTK", r"CTK|ČTK"),
    ("PAP", r"PAP"),
    ("BTA", r"BTA"),
    ("Tanjug", r"(?i:Tanjug)"),
    ("HINA", r"HINA|Hina"),
    ("Europa Press", r"(?i:Europa\s+Press)"),
    ("Agencia Brasil", r"(?i:Ag[eê]ncia\s+Brasil)"),
)
_AGENCY = re.compile(
    "|".join(rf"(?<!\w)(?P<a{i}>{pattern})(?!\w)" for i, (_, pattern) in enumerate(_AGENCIES))
)
_CANONICAL = {f"a{i}": name for i, (name, _) in enumerate(_AGENCIES)}
_AGENCY_TOKEN = "(?<!\\w)(?:" + "|".join(pattern for _, pattern in _AGENCIES) + ")(?!\\w)"
# One agency, with a desk code as dpa writes it ("dpa/bb"); agencies joined ("AFP/Reuters").
_AGENCY_ONE = rf"{_AGENCY_TOKEN}(?:/[a-z]{{1,4}}(?!\w))?"
_AGENCY_LIST = rf"{_AGENCY_ONE}(?:(?:\s*[/,&+;-]\s*|\s+(?:and|und|et|y|e|og|och|ja)\s+){_AGENCY_ONE})*"
_AGENCY_LIST_RE = re.compile(_AGENCY_LIST)

# A last paragraph that is only a credit: "AFP", "(AFP)", "— AP", "dpa/bb", "With AFP", "© AFP 2025".
_CREDIT_LINE = re.compile(
    r"[(\[]?\s*"
    r"(?:(?:[-–—]{1,2}|©|\(c\)|(?i:with|mit|avec|con|com|met|sources?|copyright"
    r"|additional\s+reporting\s+by|reporting\s+by))\s*:?\s*){0,2}"
    r"(?:\d{4}\s+)?"
    rf"{_AGENCY_LIST}"
    r"(?:\s+\d{4})?\s*[)\]]?\s*\.?"
)
# A credit after the last sentence of the last paragraph: "… in Syria. AFP".
_TAIL_CREDIT = re.compile(
    rf"(?<=[.!?…\"”’»)\]])\s+(?P<credit>[(\[]?(?:[-–—]{{1,2}}\s*)?{_AGENCY_LIST}[)\]]?\.?)\Z"
)
# Reuters' closing line: "(Reporting by Jane Doe; Editing by John Roe)".
_ROLE = r"(?:additional\s+|further\s+)?(?:reporting|writing|editing|compiled|research|graphics|text)"
_REPORTING_CLAUSE = re.compile(
    rf"(?i:{_ROLE}(?:\s+and\s+(?:reporting|writing|editing|research))?\s+by)\s+(?P<names>.+)", re.DOTALL
)
_CLAUSE_SPLIT = re.compile(rf"\s*;\s*|,\s*(?=(?i:{_ROLE})\b)")
_NAME_CONNECTORS = frozenset(
    "and in at from of the de da do dos das del della di du des van von der den al el la le bin ibn y e "
    "agencies wires staff".split()
)

# Photo captions: a leading paragraph opening with a label or ending with a photo credit.
_CAPTION_WORD = (
    r"(?:Photo(?:graph)?s?|PHOTO(?:GRAPH)?S?|Pictures?|PICTURES?|Pics?|Images?|IMAGES?|Fotos?|FOTOS?)"
)
_CAPTION_START = re.compile(rf"(?:{_CAPTION_WORD}|Caption|CAPTION|Credits?|CREDITS?)\s*:\s*\S")
_PHOTO_SOURCE = rf"(?:{_AGENCY_TOKEN}|Getty\s+Images|EPA(?:-EFE)?|Shutterstock|Alamy|Pool|POOL)"
_PHOTO_NOUN = r"(?:\s+(?:Photos?|PHOTOS?|Pictures?|Images?))?(?:\s+via\s+Getty\s+Images)?"
_CREDIT_PAREN = re.compile(r"\((?P<credit>[^()]{1,80})\)\s*\.?\Z")
_CREDIT_LABEL = re.compile(
    rf"(?:\A|\s)(?P<credit>(?:{_CAPTION_WORD}|Credits?|CREDITS?)(?:\s+by)?\s*:\s*[^:()]{{1,60}}?)\s*\.?\Z"
)
_CREDIT_SLASH = re.compile(r"\s/\s*(?P<credit>[^/()]{1,40}?)\s*\.?\Z")
_CREDIT_GETTY = re.compile(r"(?P<credit>Getty\s+Images)\s*\.?\Z")
_LABELLED_CREDIT = re.compile(rf"(?:{_CAPTION_WORD}|Credits?|CREDITS?)(?:\s+by)?\s*:?\s+\S")
_SOURCE_CREDIT = re.compile(rf"{_PHOTO_SOURCE}{_PHOTO_NOUN}(?:\s*/\s*[^/]{{1,60}})*")
_CREDITED_TO_SOURCE = re.compile(rf"/\s*{_PHOTO_SOURCE}{_PHOTO_NOUN}\s*\Z")
_BYLINE = re.compile(r"(?:By|BY|Von|VON|Par|PAR|Por|POR|Door|DOOR)\s+\S")

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

_BLANK_LINE = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\w+")
_DATELINE_WINDOW = 200  # a dateline opens a paragraph within this many characters
_MAX_CREDIT_LINE_CHARS = 300
_TAIL_WINDOW = 150
_MAX_CAPTIONS = 2
_MAX_CAPTION_CHARS = 700
_MAX_CAPTION_WORDS = 80
_MAX_PLAIN_CAPTION_WORDS = 60
_MAX_PLACE_CHARS = 40
_MAX_PLACE_WORDS = 5


def agency_credits(*texts: str) -> tuple[str, ...]:
    """Canonical names of the news agencies named in ``texts`` (bylines, credits, metadata), in order,
    each once: ``agency_credits("By Jane Doe, Reuters", "AFP") == ("Reuters", "AFP")``."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _AGENCY.finditer(text):
            name = _CANONICAL.get(match.lastgroup or "")
            if name is not None:
                found.setdefault(name, None)
    return tuple(found)


def split_wire_copy(body: str, *, title: str | None = None, byline: Sequence[str] = ()) -> WireParts:
    """Split a body (plain text, paragraphs separated by a blank line) into the story and its wire parts.

    Moved out of the body: the dateline opening the story's first paragraph (the rest of that
    paragraph stays), photo captions among the first two paragraphs before it, and credit lines at the
    end. A leading paragraph repeating ``title`` or a ``byline`` stays in the body. Agencies named in
    ``byline``, the captions' credits, the dateline and the credit lines are the ``credits``.
    """
    bylines = (byline,) if isinstance(byline, str) else tuple(byline)
    paragraphs = [p for p in (part.strip() for part in _BLANK_LINE.split(body)) if p]
    found = _split(paragraphs, title, bylines)
    if found.changed and _split(found.paragraphs, title, bylines).changed:
        found = _Split(paragraphs)  # ambiguous (e.g. a second dateline): leave the text as it is
    return WireParts(
        body="\n\n".join(found.paragraphs),
        dateline=found.dateline,
        credits=tuple(dict.fromkeys((*agency_credits(*bylines), *found.credits))),
        captions=tuple(found.captions),
        credit_lines=tuple(found.credit_lines),
    )


@dataclass(slots=True)
class _Split:
    paragraphs: list[str]
    dateline: Dateline | None = None
    credits: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    credit_lines: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.dateline or self.captions or self.credit_lines)


def _split(paragraphs: list[str], title: str | None, bylines: Sequence[str]) -> _Split:
    labelled = sum(1 for p in paragraphs if _is_speaker_label(p)) >= 2
    headings = {_loose(b) for b in bylines} - {""}
    # Leading paragraphs, each "keep" (headline or byline), "marked" (caption by its form) or
    # "plain" (a caption only if a dateline follows it); then possibly the dateline paragraph.
    leading: list[tuple[str, str]] = []
    dateline_at: int | None = None
    parsed: tuple[Dateline, tuple[str, ...], str] | None = None
    captions = 0
    for k, p in enumerate(paragraphs[: _MAX_CAPTIONS + 3]):
        parsed = _parse_dateline(p, labelled=labelled)
        if parsed is not None:
            dateline_at = k
            break
        if (k == 0 and title and _loose(p) == _loose(title) and _loose(p)) or _is_byline(p, headings):
            leading.append(("keep", ""))
            continue
        credit = _caption_credit(p) if captions < _MAX_CAPTIONS else None
        if credit is not None:
            leading.append(("marked", credit))
        elif captions < _MAX_CAPTIONS and _is_plain_caption(p):
            leading.append(("plain", ""))
        else:
            break
        captions += 1

    if parsed is not None and dateline_at is not None:
        roundup = any(kind == "plain" for kind, _ in leading) and any(
            _parse_dateline(p, labelled=labelled) for p in paragraphs[dateline_at + 1 :]
        )
        if roundup:  # several datelines: the story is a roundup, its first paragraph no caption
            parsed = dateline_at = None
    if dateline_at is None:
        # Without a dateline only captions marked as such, from the top, before a paragraph of story.
        kept = 0
        for kind, _ in leading:
            if kind == "plain":
                break
            kept += 1
        leading = leading[:kept]
        while leading and (leading[-1][0] == "keep" or len(leading) >= len(paragraphs)):
            leading.pop()

    found = _Split([])
    for (kind, credit), p in zip(leading, paragraphs, strict=False):
        if kind == "keep":
            found.paragraphs.append(p)
        else:
            found.captions.append(p)
            found.credits.extend(agency_credits(credit))
    story_start = len(found.paragraphs)
    rest = paragraphs[len(leading) :]
    if parsed is not None:
        dateline, credits, first = parsed
        found.dateline = dateline
        found.credits.extend(credits)
        rest = [first, *rest[1:]]
    found.paragraphs.extend(rest)
    _take_credit_lines(found, story_start)
    return found


def _take_credit_lines(found: _Split, story_start: int) -> None:
    """Move credit lines (and a credit after the last sentence) from the end of the story, keeping at
    least one paragraph of it."""
    body, taken = found.paragraphs, []
    while len(body) > story_start:
        last = body[-1]
        if len(body) - story_start >= 2 and _is_credit_line(last):
            taken.append(body.pop())
            continue
        tail = _TAIL_CREDIT.search(last[-_TAIL_WINDOW:])
        if tail is None or not _balanced(tail["credit"]):
            break
        kept = last[: len(last) - len(tail[0])].rstrip()
        if not _WORD.search(kept):
            break
        body[-1] = kept
        taken.append(tail["credit"])
    for line in reversed(taken):
        found.credit_lines.append(line)
        found.credits.extend(agency_credits(line))


def _parse_dateline(paragraph: str, *, labelled: bool) -> tuple[Dateline, tuple[str, ...], str] | None:
    """The dateline opening ``paragraph``, the agencies it names and the rest of the paragraph."""
    head = paragraph[:_DATELINE_WINDOW]
    place, first, pos = "", "", 0
    credits: tuple[str, ...] = ()
    caps = paren = dated = False
    if head.startswith("("):  # "(Bloomberg) --"
        match = _PAREN.match(head)
        if match is None or not _AGENCY_LIST_RE.fullmatch(match["inner"].strip()):
            return None
        credits, pos, paren = agency_credits(match["inner"]), match.end(), True
    else:
        match = _PLACE.match(head)
        if match is None:
            return None
        first = match[0]
        if not _is_place(first) or _is_not_place(first) or _AGENCY_LIST_RE.fullmatch(first):
            return None
        caps, pos = _capitals(first), match.end()
        end = pos
        date = _DATE.match(head, pos)
        if date is None and (region := _REGION.match(head, pos)) is not None:
            if not _is_place(region["region"]):
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
            if not _AGENCY_LIST_RE.fullmatch(inner) and not (caps and _is_source_name(inner)):
                return None
            if not caps and _spells(place, inner):  # "Palestinian Authority (PA) - …" introduces a name
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


def _is_place(text: str) -> bool:
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


def _capitals(text: str) -> bool:
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


def _is_speaker_label(paragraph: str) -> bool:
    match = _SPEAKER.match(paragraph)
    return match is not None and _capitals(match["label"]) and _is_place(match["label"])


def _is_credit_line(paragraph: str) -> bool:
    if len(paragraph) > _MAX_CREDIT_LINE_CHARS:
        return False
    return (_CREDIT_LINE.fullmatch(paragraph) is not None and _balanced(paragraph)) or _is_reporting_line(
        paragraph
    )


def _is_reporting_line(paragraph: str) -> bool:
    """ "(Reporting by Jane Doe; Editing by John Roe)"; without parentheses only names may follow "by"."""
    text = paragraph.rstrip(".").strip()
    wrapped = text.startswith("(") and text.endswith(")")
    if wrapped:
        text = text[1:-1].strip().rstrip(".")
    if not text or "(" in text or ")" in text:
        return False
    clauses = [c for c in _CLAUSE_SPLIT.split(text) if c]
    for clause in clauses:
        match = _REPORTING_CLAUSE.fullmatch(clause)
        if match is None or (not wrapped and not _names_only(match["names"])):
            return False
    return bool(clauses)


def _names_only(text: str) -> bool:
    words = [w for w in re.split(r"[\s,&]+", text.strip(" .")) if w]
    return bool(words) and all(
        w[0].isupper() or w.casefold() in _NAME_CONNECTORS or _AGENCY_LIST_RE.fullmatch(w) for w in words
    )


def _caption_credit(paragraph: str) -> str | None:
    """The photo credit of a paragraph that reads as a photo caption ("" when it only opens with a
    label such as "Photo:"), else None."""
    if len(paragraph) > _MAX_CAPTION_CHARS or len(paragraph.split()) > _MAX_CAPTION_WORDS:
        return None
    if (match := _CREDIT_PAREN.search(paragraph)) is not None:
        credit = match["credit"].strip()
        if (
            len(credit.split()) <= 10
            and (
                _LABELLED_CREDIT.match(credit)
                or _SOURCE_CREDIT.fullmatch(credit)
                or _CREDITED_TO_SOURCE.search(credit)
            )
            and not _spells(paragraph[: match.start()], credit)  # "… Tehreek-e-Insaf (PTI)"
        ):
            return credit
    for pattern in (_CREDIT_LABEL, _CREDIT_SLASH, _CREDIT_GETTY):
        if (match := pattern.search(paragraph)) is None:
            continue
        credit = match["credit"].strip()
        if len(credit.split()) <= 8 and (pattern is not _CREDIT_SLASH or _SOURCE_CREDIT.fullmatch(credit)):
            return credit
    return "" if _CAPTION_START.match(paragraph) else None


def _is_plain_caption(paragraph: str) -> bool:
    """A paragraph that may be a caption without saying so, when the dateline follows it."""
    return (
        len(paragraph.split()) <= _MAX_PLAIN_CAPTION_WORDS
        and any(c.isalpha() for c in paragraph)
        and not paragraph.endswith(":")
        and not _is_credit_line(paragraph)
    )


def _is_byline(paragraph: str, bylines: Iterable[str]) -> bool:
    loose = _loose(paragraph)
    if _BYLINE.match(paragraph) and len(paragraph.split()) <= 12:
        return True
    return any(loose in (b, "by" + b) for b in bylines)


def _spells(before: str, acronym: str) -> bool:
    """Whether the capitalised words just before an acronym spell it, as where a name is introduced:
    "Pakistan Tehreek-e-Insaf (PTI)", "Agence France-Presse (AFP)"."""
    if not acronym.isupper() or not acronym.isalpha():
        return False
    words = re.split(r"[\s\-]+", before.strip())[-2 * len(acronym) - 2 :]
    initials = "".join(w[0] for w in words if w[:1].isupper())
    return initials.endswith(acronym)


def _balanced(text: str) -> bool:
    return text.count("(") == text.count(")") and text.count("[") == text.count("]")


def _loose(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())
