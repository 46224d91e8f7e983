from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.text import clean_line, content_hash, html_to_text, normalise_paragraphs, word_count, words

INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\x00\x07\x1b\x7f\x85"


def test_block_elements_become_paragraphs() -> None:
    markup = (
        "<h2>Heading</h2><p>First <b>bold</b> paragraph.</p><div>Second</div>"
        "<ul><li>one</li><li>two</li></ul>"
    )
    assert html_to_text(markup) == "Heading\n\nFirst bold paragraph.\n\nSecond\n\none\n\ntwo"


def test_line_breaks_split_paragraphs_and_inline_tags_do_not() -> None:
    assert html_to_text("line one<br>line <em>two</em><br/>three") == "line one\n\nline two\n\nthree"


@pytest.mark.parametrize("tag", ["script", "style", "noscript", "template", "iframe", "object", "svg"])
def test_invisible_elements_are_dropped(tag: str) -> None:
    markup = f"<p>Before</p><{tag}>hidden stuff()</{tag}><p>After</p>"
    text = html_to_text(markup)
    assert text == "Before\n\nAfter"
    assert "hidden" not in text


def test_script_with_markup_inside_is_dropped() -> None:
    markup = '<p>Story</p><script>document.write("<p>injected</p>")</script>'
    assert html_to_text(markup) == "Story"


def test_entities_are_decoded() -> None:
    assert html_to_text("<p>Fish &amp; chips &eacute;t&#233; &lt;3</p>") == "Fish & chips été <3"


def test_plain_text_is_normalised_without_parsing() -> None:
    assert html_to_text("  one   two \r\n\r\n\n three ") == "one two\n\nthree"


@pytest.mark.parametrize("markup", ["", "   ", "\n\t", "<p></p>", "<script>x()</script>"])
def test_nothing_visible_gives_empty_text(markup: str) -> None:
    assert html_to_text(markup) == ""


def test_invisible_characters_are_removed() -> None:
    markup = "<p>zero\u200bwidth soft\u00adhyphen \ufeffbom bell\x07 done</p>"
    assert html_to_text(markup) == "zerowidth softhyphen bom bell done"


def test_unusual_spaces_collapse_to_one() -> None:
    assert html_to_text("<p>a\u00a0\u00a0b\u2009c\u3000d\te</p>") == "a b c d e"


def test_text_is_nfc() -> None:
    decomposed = "Cafe\u0301 Mu\u0308ller"
    text = html_to_text(f"<p>{decomposed}</p>")
    assert text == "Café Müller"
    assert unicodedata.is_normalized("NFC", text)


@pytest.mark.parametrize(
    "markup",
    ["<p>a\x1fb</p>", "<p>x</p>\x0b", "<b>\x00</b>tail", "<p>\ufffe\uffff</p>", "<div>\x0cform feed</div>"],
)
def test_control_characters_in_markup_do_not_break_parsing(markup: str) -> None:
    text = html_to_text(markup)
    assert not any(ch in text for ch in "\x00\x0b\x0c\x1f\ufffe\uffff")


def test_control_characters_are_dropped_from_the_text() -> None:
    assert html_to_text("<p>a\x1fb</p><p>c</p>") == "ab\n\nc"


@given(st.text(max_size=200))
def test_html_to_text_never_raises_and_is_clean(markup: str) -> None:
    for candidate in (markup, f"<p>{markup}</p>", f"<div>{markup}<br>{markup}</div>"):
        text = html_to_text(candidate)
        assert text == text.strip()
        assert "\n\n\n" not in text
        assert not any(ch in text for ch in INVISIBLE)
        assert unicodedata.is_normalized("NFC", text)


def test_normalise_paragraphs_leaves_one_blank_line_between_paragraphs() -> None:
    text = "First line\r\nSecond line\r\n\r\n\r\n  Third\u2029Fourth\n\n\n"
    assert normalise_paragraphs(text) == "First line\n\nSecond line\n\nThird\n\nFourth"


def test_clean_line_joins_lines_and_trims() -> None:
    assert clean_line("  a\nb\r\nc\u2028d  ") == "a b c d"


@pytest.mark.parametrize(
    "variant",
    [
        "The council approved the budget.",
        "the council approved the budget.",
        "THE COUNCIL APPROVED THE BUDGET",
        "  The   council\napproved\n\nthe budget. ",
        "The council\u00a0approved the\tbudget!",
    ],
)
def test_content_hash_ignores_case_whitespace_and_punctuation(variant: str) -> None:
    assert content_hash(variant) == content_hash("The council approved the budget.")


def test_content_hash_differs_for_different_words() -> None:
    assert content_hash("The council approved the budget.") != content_hash(
        "The council rejected the budget."
    )
    assert len(content_hash("x")) == 64


def test_word_count() -> None:
    assert word_count("") == 0
    assert word_count("One, two - three!\n\nFour") == 4
    assert word_count("Straße über 18 Monate") == 4


def test_words_are_case_folded_and_unspaced_scripts_count_by_character() -> None:
    # An article in Chinese or Thai is one or two runs of word characters: by character, its length
    # means what it means in English (a teaser is short, an article long).
    assert words("Größe und Maß: 東京 straße ไทย") == [
        "grösse",
        "und",
        "mass",
        "東",
        "京",
        "strasse",
        "ไ",
        "ท",
        "ย",
    ]
    assert word_count("日本経済新聞 reports") == 7
    assert word_count("서울 시민") == 2  # Korean is written with spaces


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<html></html>", ""),
        ("<html><body><p>a</p></body><body><p>b</p></body></html>", "a\n\nb"),
        ("<html><head><title>T</title></head></html>", "T"),
    ],
)
def test_html_to_text_reads_whole_documents_lxml_will_not_take_as_fragments(markup: str, text: str) -> None:
    assert html_to_text(markup) == text
