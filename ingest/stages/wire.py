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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ingest.stages.agencies import AGENCY_LIST, AGENCY_LIST_RE, AGENCY_TOKEN, agency_credits
from ingest.stages.dateline import Dateline, is_speaker_label, parse_dateline, spells

__all__ = ["Dateline", "WireParts", "agency_credits", "split_wire_copy"]


@dataclass(frozen=True, slots=True)
class WireParts:
    """A body split into the story and the wire parts taken out of it."""

    body: str  # the body without dateline prefix, credit lines and caption paragraphs
    dateline: Dateline | None
    credits: tuple[str, ...]  # canonical agency names, de-duplicated, in order found
    captions: tuple[str, ...]
    # The credit lines (or trailing credits) taken from the end of the body, as written.
    credit_lines: tuple[str, ...] = field(default=(), compare=False)


# A last paragraph that is only a credit: "AFP", "(AFP)", "— AP", "dpa/bb", "With AFP", "© AFP 2025".
_CREDIT_LINE = re.compile(
    r"[(\[]?\s*"
    r"(?:(?:[-–—]{1,2}|©|\(c\)|(?i:with|mit|avec|con|com|met|sources?|copyright"
    r"|additional\s+reporting\s+by|reporting\s+by))\s*:?\s*){0,2}"
    r"(?:\d{4}\s+)?"
    rf"{AGENCY_LIST}"
    r"(?:\s+\d{4})?\s*[)\]]?\s*\.?"
)
# A credit after the last sentence of the last paragraph: "… in Syria. AFP".
_TAIL_CREDIT = re.compile(
    rf"(?<=[.!?…\"”’»)\]])\s+(?P<credit>[(\[]?(?:[-–—]{{1,2}}\s*)?{AGENCY_LIST}[)\]]?\.?)\Z"
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
_PHOTO_SOURCE = rf"(?:{AGENCY_TOKEN}|Getty\s+Images|EPA(?:-EFE)?|Shutterstock|Alamy|Pool|POOL)"
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

_BLANK_LINE = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\w+")
_MAX_CREDIT_LINE_CHARS = 300
_TAIL_WINDOW = 150
_MAX_CAPTIONS = 2
_MAX_CAPTION_CHARS = 700
_MAX_CAPTION_WORDS = 80
_MAX_PLAIN_CAPTION_WORDS = 60


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
    labelled = sum(1 for p in paragraphs if is_speaker_label(p)) >= 2
    headings = {_loose(b) for b in bylines} - {""}
    # Leading paragraphs, each "keep" (headline or byline), "marked" (caption by its form) or
    # "plain" (a caption only if a dateline follows it); then possibly the dateline paragraph.
    leading: list[tuple[str, str]] = []
    dateline_at: int | None = None
    parsed: tuple[Dateline, tuple[str, ...], str] | None = None
    captions = 0
    for k, p in enumerate(paragraphs[: _MAX_CAPTIONS + 3]):
        parsed = parse_dateline(p, labelled=labelled)
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
            parse_dateline(p, labelled=labelled) for p in paragraphs[dateline_at + 1 :]
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
        w[0].isupper() or w.casefold() in _NAME_CONNECTORS or AGENCY_LIST_RE.fullmatch(w) for w in words
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
            and not spells(paragraph[: match.start()], credit)  # "… Tehreek-e-Insaf (PTI)"
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


def _balanced(text: str) -> bool:
    return text.count("(") == text.count(")") and text.count("[") == text.count("]")


def _loose(text: str) -> str:
    return re.sub(r"\W+", "", text.casefold())
