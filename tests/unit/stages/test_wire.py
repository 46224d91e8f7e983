from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.stages.wire import Dateline, WireParts, agency_credits, split_wire_copy

STORY = "The council met on Tuesday to discuss the budget."
MORE = "Members agreed to meet again next month."


@pytest.mark.parametrize(
    ("prefix", "place", "credits"),
    [
        ("DAMASCUS - ", "DAMASCUS", ()),
        ("DAMASCUS – ", "DAMASCUS", ()),
        ("LONDON — ", "LONDON", ()),
        ("LONDON -- ", "LONDON", ()),
        ("WASHINGTON (Reuters) - ", "WASHINGTON", ("Reuters",)),
        ("Washington (Reuters) - ", "Washington", ("Reuters",)),
        ("PARIS, Feb 11 (AFP) - ", "PARIS", ("AFP",)),
        ("PARIS, Feb. 11, 2025 (AFP) - ", "PARIS", ("AFP",)),
        ("BEIJING, March 3 (Xinhua) -- ", "BEIJING", ("Xinhua",)),
        ("NEW YORK (AP) — ", "NEW YORK", ("AP",)),
        ("NEW YORK (AP)—", "NEW YORK", ("AP",)),
        ("Kyiv, Ukraine (AP) — ", "Kyiv, Ukraine", ("AP",)),
        ("KYIV, Ukraine — ", "KYIV, Ukraine", ()),
        ("SAO PAULO/BRASILIA, Jan 5 (Reuters) - ", "SAO PAULO/BRASILIA", ("Reuters",)),
        ("BERLIN (dpa) - ", "BERLIN", ("dpa",)),
        ("MADRID, 12 feb (EFE).- ", "MADRID", ("EFE",)),
        ("ROME, Jan 3 (ANSA) - ", "ROME", ("ANSA",)),
        ("TOKYO (Kyodo) -- ", "TOKYO", ("Kyodo",)),
        ("(Bloomberg) -- ", "", ("Bloomberg",)),
        ("(AFP) - ", "", ("AFP",)),
        ("GENEVA: ", "GENEVA", ()),
        ("NEW DELHI, Feb 11 (PTI): ", "NEW DELHI", ("PTI",)),
        ("Washington, Feb 11 - ", "Washington", ()),
        ("RIO DE JANEIRO, Brazil (AP) — ", "RIO DE JANEIRO, Brazil", ("AP",)),
        ("N'DJAMENA (Reuters) - ", "N'DJAMENA", ("Reuters",)),
        ("SÃO PAULO (Reuters) - ", "SÃO PAULO", ("Reuters",)),
        ("Frankfurt am Main (dpa) - ", "Frankfurt am Main", ("dpa",)),
        ("MÜNCHEN, 3. März (dpa) - ", "MÜNCHEN", ("dpa",)),
        ("КИЇВ (AFP) - ", "КИЇВ", ("AFP",)),
        ("नई दिल्ली (IANS) - ", "नई दिल्ली", ("IANS",)),
        ("MOSCOW (Sputnik) - ", "MOSCOW", ()),
        ("PARIS (AFP/Reuters) - ", "PARIS", ("AFP", "Reuters")),
    ],
)
def test_dateline_is_moved_out_and_the_sentence_stays(
    prefix: str, place: str, credits: tuple[str, ...]
) -> None:
    parts = split_wire_copy(f"{prefix}{STORY}\n\n{MORE}")
    assert parts.dateline == Dateline(place=place, raw=prefix.rstrip())
    assert parts.body == f"{STORY}\n\n{MORE}"
    assert parts.credits == credits
    assert parts.captions == ()


@pytest.mark.parametrize(
    "text",
    [
        "Washington - the city - was quiet.",
        "Washington - The city was quiet.",
        "The U.S. - China talks resumed on Monday.",
        "U.S. - China talks resumed on Monday.",
        "COVID-19 - what we know about the new variant",
        "COVID-19 - What we know about the new variant",
        "LONDON",
        "LONDON -",
        "LONDON - Hello",
        "LONDON - the pound fell on Monday.",
        "LONDON—The pound fell on Monday.",
        "LONDON - THE POUND FELL ON MONDAY",
        "Geneva: talks resumed on Monday.",
        "Geneva: Talks resumed on Monday.",
        "BREAKING: Fire at the chemical plant.",
        "UPDATE - Fire at the chemical plant.",
        "FILE - In this photo, people walk past the plant.",
        "EDITOR'S NOTE: This story contains graphic details.",
        "WHO: Cases are rising again in Europe.",
        "EU - UK relations are thawing.",
        "AFP - The Senate voted on Monday.",
        "Tuesday, Feb 11 - The Senate voted.",
        "Officials said - and then denied - that the plant had closed.",
        "Pakistan Tehreek-e-Insaf (PTI) - The party said it would appeal.",
        "Moscow (Sputnik) - Russia said it would reply.",
        "(CNN) - The Senate voted on Monday.",
        "(Updated) - The Senate voted on Monday.",
        "PARIS, Big 5 (AFP) - France said it would reply.",
        "Port-au-Prince 2 - The storm passed.",
        "A very long place name that goes on and on (AFP) - Text follows here.",
        "Q&A - What the budget means for you.",
        "Officials (AFP) - said the plant had closed.",
        "LONDON, Britain's economy - It grew by 2 percent.",
        "UPDATE 2-Oil prices rise on supply fears",
    ],
)
def test_ordinary_openings_are_not_datelines(text: str) -> None:
    body = f"{text}\n\n{MORE}"
    parts = split_wire_copy(body)
    assert parts.dateline is None
    assert parts.body == body


def test_a_place_alone_in_its_paragraph_is_no_dateline() -> None:
    body = f"DAMASCUS\n\n{STORY}"
    assert split_wire_copy(body) == WireParts(body=body, dateline=None, credits=(), captions=())


def test_speaker_labels_of_a_transcript_are_no_datelines() -> None:
    body = "SMITH: We will vote for it.\n\nJONES: We will not.\n\nSMITH: Then we shall see."
    assert split_wire_copy(body).dateline is None


@pytest.mark.parametrize(
    ("line", "credits"),
    [
        ("AFP", ("AFP",)),
        ("(AFP)", ("AFP",)),
        ("AFP.", ("AFP",)),
        ("Reuters", ("Reuters",)),
        ("REUTERS", ("Reuters",)),
        ("— AP", ("AP",)),
        ("-- AP", ("AP",)),
        ("dpa/bb", ("dpa",)),
        ("Xinhua", ("Xinhua",)),
        ("AFP/Reuters", ("AFP", "Reuters")),
        ("AFP, Reuters and dpa", ("AFP", "Reuters", "dpa")),
        ("With AFP", ("AFP",)),
        ("with Reuters", ("Reuters",)),
        ("mit dpa", ("dpa",)),
        ("Additional reporting by Reuters", ("Reuters",)),
        ("(Reporting by Jane Doe; Editing by John Roe)", ()),
        (
            "(Reporting by Jane Doe in Paris; additional reporting by Reuters; Editing by John Roe)",
            ("Reuters",),
        ),
        ("Reporting by Jane Doe; Editing by John Roe", ()),
        ("Reporting by Jane Doe, Editing by John Roe and Mark Poe", ()),
        ("© AFP 2025", ("AFP",)),
        ("[EFE]", ("EFE",)),
        ("ANSA", ("ANSA",)),
        ("Europa Press", ("Europa Press",)),
        ("PA", ("PA",)),
    ],
)
def test_credit_line_is_moved_out(line: str, credits: tuple[str, ...]) -> None:
    parts = split_wire_copy(f"{STORY}\n\n{MORE}\n\n{line}")
    assert parts.body == f"{STORY}\n\n{MORE}"
    assert parts.credits == credits
    assert parts.credit_lines == (line,)
    assert parts.dateline is None


def test_reporting_line_credits_the_agency_of_the_dateline() -> None:
    parts = split_wire_copy(f"WASHINGTON (Reuters) - {STORY}\n\n(Reporting by Jane Doe; Editing by John Roe)")
    assert parts.body == STORY
    assert parts.credits == ("Reuters",)


@pytest.mark.parametrize(
    "line",
    [
        "AFP reported that the talks had failed.",
        "Reuters could not independently verify the report.",
        "The Associated Press contributed to this report.",
        "Reporting by the BBC showed the minister had misled parliament.",
        "Additional reporting by the Guardian showed the minister lied.",
        "He told AP: “We are not leaving.”",
        "Staff",
        "With agencies",
        "Jane Doe/AFP",
        "(This story has been corrected to fix the date.)",
        "ap",
        "pa",
    ],
)
def test_a_last_paragraph_that_is_story_stays(line: str) -> None:
    body = f"{STORY}\n\n{line}"
    parts = split_wire_copy(body)
    assert parts.body == body
    assert parts.credit_lines == ()


def test_the_only_paragraph_is_never_taken_as_a_credit_line() -> None:
    assert split_wire_copy("AFP").body == "AFP"
    assert split_wire_copy(f"{STORY}\n\nAFP\n\nReuters").body == STORY


def test_credit_after_the_last_sentence_is_moved_out() -> None:
    parts = split_wire_copy(f"{STORY}\n\n{MORE} AFP")
    assert parts.body == f"{STORY}\n\n{MORE}"
    assert parts.credits == ("AFP",)
    assert parts.credit_lines == ("AFP",)
    # a sentence naming an agency at its end keeps it
    body = f"{STORY}\n\nThe figures were confirmed to AFP"
    assert split_wire_copy(body).body == body


@pytest.mark.parametrize(
    ("caption", "credits"),
    [
        ("Rescuers search the rubble of a building in Homs (AFP)", ("AFP",)),
        ("Rescuers search the rubble of a building in Homs. (Photo: Reuters)", ("Reuters",)),
        ("Rescuers search the rubble of a building in Homs. Photo: AFP", ("AFP",)),
        ("Rescuers search the rubble of a building in Homs / AFP", ("AFP",)),
        ("Rescuers search the rubble of a building in Homs. (AP Photo/Jane Doe)", ("AP",)),
        ("Rescuers search the rubble of a building in Homs. (Reuters/Jane Doe)", ("Reuters",)),
        ("Rescuers search the rubble of a building in Homs. Jane Doe/Getty Images", ()),
        ("Rescuers search the rubble of a building in Homs (Jane Doe/AFP via Getty Images)", ("AFP",)),
        ("Photo: Rescuers search the rubble of a building in Homs.", ()),
        ("Picture: Rescuers search the rubble of a building in Homs.", ()),
        ("Caption: Rescuers search the rubble of a building in Homs.", ()),
    ],
)
def test_leading_photo_caption_is_moved_out(caption: str, credits: tuple[str, ...]) -> None:
    parts = split_wire_copy(f"{caption}\n\n{STORY}\n\n{MORE}")
    assert parts.captions == (caption,)
    assert parts.body == f"{STORY}\n\n{MORE}"
    assert parts.credits == credits


def test_two_captions_before_the_dateline() -> None:
    parts = split_wire_copy(f"Smoke rises over the port (AFP)\n\nA view of the harbour\n\nBEIRUT - {STORY}")
    assert parts.captions == ("Smoke rises over the port (AFP)", "A view of the harbour")
    assert parts.body == STORY
    assert parts.dateline == Dateline(place="BEIRUT", raw="BEIRUT -")
    assert parts.credits == ("AFP",)


@pytest.mark.parametrize(
    "first",
    [
        # an acronym introduced after its name is not a photo credit
        "Imran Khan's Pakistan Tehreek-e-Insaf (PTI) said it would appeal.",
        "The Palestinian Authority (PA) said it would respond.",
        # a paragraph with no caption form stays when no dateline follows
        "The council met on Tuesday.",
    ],
)
def test_a_first_paragraph_of_story_is_no_caption(first: str) -> None:
    body = f"{first}\n\n{MORE}"
    parts = split_wire_copy(body)
    assert parts.captions == ()
    assert parts.body == body


def test_captions_are_only_taken_from_the_top() -> None:
    body = f"{STORY}\n\nSmoke rises over the port (AFP)\n\n{MORE}"
    assert split_wire_copy(body).body == body
    three = "A (AFP)\n\nB (AFP)\n\nC (AFP)\n\nLONDON - The pound fell on Monday."
    assert split_wire_copy(three).captions == ()
    assert split_wire_copy("Smoke rises over the port (AFP)").captions == ()


def test_a_roundup_keeps_its_first_paragraph() -> None:
    body = "Storms hit Europe.\n\nLONDON - Trains were cancelled.\n\nPARIS - Flights were grounded."
    assert split_wire_copy(body) == WireParts(body=body, dateline=None, credits=(), captions=())


def test_title_and_byline_paragraphs_stay_and_bylines_credit_agencies() -> None:
    text = f"Council meets\n\nBy Jane Doe\n\nA view of the hall.\n\nLONDON (Reuters) - {STORY}"
    parts = split_wire_copy(text, title="Council meets", byline=["Jane Doe, AFP"])
    assert parts.body == f"Council meets\n\nBy Jane Doe\n\n{STORY}"
    assert parts.captions == ("A view of the hall.",)
    assert parts.credits == ("AFP", "Reuters")
    assert split_wire_copy(STORY, byline="Jane Doe, Reuters").credits == ("Reuters",)


def test_story_in_wire_style() -> None:
    caption = "Workers repair a damaged water main on the edge of Homs, Syria, on March 2."
    paragraphs = [
        "Syria's government said on Tuesday it had restored running water to three districts of Homs, "
        "officials told AFP, weeks after a pumping station was damaged.",
        "“The pumps are working again and the tanks are filling,” one engineer said.",
        "Residents had relied on trucked-in water since early February.",
    ]
    text = "\n\n".join([caption, f"DAMASCUS - {paragraphs[0]}", *paragraphs[1:], "AFP"])
    parts = split_wire_copy(text)
    assert parts == WireParts(
        body="\n\n".join(paragraphs),
        dateline=Dateline(place="DAMASCUS", raw="DAMASCUS -"),
        credits=("AFP",),
        captions=(caption,),
    )
    assert parts.credit_lines == ("AFP",)


def test_spacing_between_paragraphs_becomes_one_blank_line() -> None:
    parts = split_wire_copy(f"\n\nBERLIN (dpa) - {STORY}\n\n\n\n  {MORE}  \n\n \n")
    assert parts.body == f"{STORY}\n\n{MORE}"


def test_empty_body() -> None:
    assert split_wire_copy("") == WireParts(body="", dateline=None, credits=(), captions=())


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (("By Jane Doe, Reuters", "AFP"), ("Reuters", "AFP")),
        (("Staff",), ()),
        (("By Jane Doe and John Roe, Associated Press",), ("AP",)),
        (("Agence France-Presse", "AFP"), ("AFP",)),
        (("The Canadian Press",), ("CP",)),
        (("Australian Associated Press",), ("AAP",)),
        (("PA Media",), ("PA",)),
        (("Deutsche Presse-Agentur",), ("dpa",)),
        (("DPA", "reuters"), ("dpa", "Reuters")),
        (("ITAR-TASS",), ("TASS",)),
        (("Agência Brasil",), ("Agencia Brasil",)),
        (("Anadolu Agency", "Yonhap", "Kyodo News"), ("Anadolu", "Yonhap", "Kyodo")),
        # short agency names only as whole upper-case tokens
        (("Jane Happ", "tt", "cp", "pa", "ap"), ()),
        (("APPLE", "CAPTION", "TTL"), ()),
        (("Pap Ndiaye", "Ansa Lee"), ("ANSA",)),
    ],
)
def test_agency_credits(texts: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert agency_credits(*texts) == expected


_PIECES = [
    "DAMASCUS -",
    "DAMASCUS",
    "PARIS, Feb 11 (AFP) -",
    "(Bloomberg) --",
    "GENEVA:",
    "Kyiv, Ukraine (AP) —",
    "SAO PAULO/BRASILIA, Jan 5 (Reuters) -",
    "MADRID, 12 feb (EFE).-",
    "Washington",
    "The U.S.",
    "COVID-19",
    "-",
    "—",
    "--",
    ":",
    ".",
    "(AFP)",
    "AFP",
    "AP",
    "Reuters",
    "dpa/bb",
    "With AFP",
    "(Photo: Reuters)",
    "Photo:",
    "/ AFP",
    "Getty Images",
    "(AP Photo/Jane Doe)",
    "(Reporting by Jane Doe; Editing by John Roe)",
    "Additional reporting by",
    "By Jane Doe",
    "US forces withdrew.",
    "The talks resumed",
    "said",
    "the",
    "\n",
    "\n\n",
    "\n \n",
]
_PARAGRAPH = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=10)), min_size=1, max_size=8).map(
    " ".join
)
_TEXT = st.one_of(st.text(max_size=300), st.lists(_PARAGRAPH, max_size=6).map("\n\n".join))


def _words(*texts: str) -> Counter[str]:
    return Counter(w for text in texts for w in re.findall(r"\w+", text))


def _characters(*texts: str) -> Counter[str]:
    return Counter(c for text in texts for c in text if not c.isspace())


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_nothing_is_lost_and_a_second_pass_finds_nothing(text: str) -> None:
    parts = split_wire_copy(text)
    taken = (parts.dateline.raw if parts.dateline else "", *parts.credit_lines, *parts.captions)
    assert _words(parts.body, *taken) == _words(text)
    assert _characters(parts.body, *taken) == _characters(text)
    assert "\n\n\n" not in parts.body
    assert parts.body == parts.body.strip()
    again = split_wire_copy(parts.body)
    assert again == WireParts(body=parts.body, dateline=None, credits=(), captions=())
    assert again.credit_lines == ()
