"""Text helpers shared by the stages: HTML to plain text, Unicode and whitespace normalisation."""

from __future__ import annotations

import hashlib
import re
import unicodedata

import lxml.etree
import lxml.html

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "svg")
# Code points that are not text: lone surrogates (JSON and broken character references carry them;
# UTF-8 cannot encode them) and the non-characters of the BMP. Those of the other planes (U+1FFFE,
# U+1FFFF, ...) are looked for apart: in a character class they make every search ten times slower.
_NOT_TEXT = "\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# C0/C1 controls except tab and newline, zero-width characters, BOM, soft hyphen, and the above.
_INVISIBLE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200d\u2060\ufeff{_NOT_TEXT}]")
# What no text field may hold: the above, and C0/C1 controls but tab, line feed and carriage return.
_INVALID = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_NOT_TEXT}]")
# XML-illegal characters (hence lxml's) in text nodes.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_WORD = re.compile(r"\w+")
# Scripts written without spaces between words: each character counts as a word (as word processors
# count them), so that lengths and shingles mean the same in Chinese or Thai as in English.
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
)
_WORDS = re.compile(f"[{_UNSPACED}]|[^\\W{_UNSPACED}]+")


def _astral_nonchar(text: str) -> bool:
    return not text.isascii() and any(ord(m[0]) & 0xFFFE == 0xFFFE for m in _ASTRAL.finditer(text))


def is_valid_text(text: str) -> bool:
    """Whether ``valid_text`` would leave ``text`` as it is."""
    return _INVALID.search(text) is None and not _astral_nonchar(text)


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: without lone surrogates, non-characters and control characters
    (tab and line breaks kept). Every string a published model holds has passed here."""
    if is_valid_text(text):
        return text
    text = _INVALID.sub("", text)
    if _astral_nonchar(text):
        text = "".join(c for c in text if ord(c) <= 0xFFFF or ord(c) & 0xFFFE != 0xFFFE)
    return text


def clean_line(text: str) -> str:
    """NFC, no control or zero-width characters, runs of spaces collapsed, trimmed."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text.replace("\r", " ").replace("\n", " ").replace("\u2028", " "))
    return _SPACES.sub(" ", text).strip()


def normalise_paragraphs(text: str) -> str:
    """Plain text as clean paragraphs separated by exactly one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2029", "\n")
    paragraphs = (clean_line(p) for p in text.split("\n"))
    return "\n\n".join(p for p in paragraphs if p)


def _parse_fragment(markup: str) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.fragment_fromstring(markup, create_parent="div")
    except AssertionError:  # lxml asserts on a whole document with no body, or with two
        pass
    except (lxml.etree.ParserError, ValueError):
        return None
    try:
        return lxml.html.document_fromstring(markup)
    except (lxml.etree.ParserError, ValueError):
        return None


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment, block elements as paragraphs."""
    if not markup or not markup.strip():
        return ""
    if "<" not in markup:
        return normalise_paragraphs(markup)
    markup = _XML_ILLEGAL.sub("", markup)
    root = _parse_fragment(markup)
    if root is None:
        return normalise_paragraphs(re.sub(r"<[^>]*>", " ", markup))
    for bad in root.iter(*_DROP_TAGS):
        bad.drop_tree()
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag == "br":
            el.tail = "\n" + (el.tail or "")
        elif el.tag in _BLOCK_TAGS:
            el.text = "\n" + (el.text or "")
            el.tail = "\n" + (el.tail or "")
    return normalise_paragraphs(str(root.text_content()))


def words(text: str) -> list[str]:
    """The case-folded words of ``text``: runs of word characters, and single characters in scripts
    written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Burmese)."""
    return _WORDS.findall(text.casefold())


def word_count(text: str) -> int:
    """How many words ``text`` has, counted as ``words`` counts them."""
    return len(_WORDS.findall(text))


def content_hash(text: str) -> str:
    """sha256 of the body with case and whitespace folded: the same text hashes the same."""
    folded = " ".join(_WORD.findall(text.casefold()))
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()
