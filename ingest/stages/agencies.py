"""News agencies: their names as copy writes them, and the canonical name of each.

Names that are ordinary words or short tokens match only as written (upper case, or a capitalised
name); the others in any case. ``AGENCY_LIST`` matches one or several agencies as credit lines and
datelines join them ("AFP/Reuters", "dpa/bb").
"""

from __future__ import annotations

import re

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
AGENCY_TOKEN = "(?<!\\w)(?:" + "|".join(pattern for _, pattern in _AGENCIES) + ")(?!\\w)"
# One agency, with a desk code as dpa writes it ("dpa/bb"); agencies joined ("AFP/Reuters").
_AGENCY_ONE = rf"{AGENCY_TOKEN}(?:/[a-z]{{1,4}}(?!\w))?"
AGENCY_LIST = rf"{_AGENCY_ONE}(?:(?:\s*[/,&+;-]\s*|\s+(?:and|und|et|y|e|og|och|ja)\s+){_AGENCY_ONE})*"
AGENCY_LIST_RE = re.compile(AGENCY_LIST)


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
