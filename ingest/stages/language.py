"""Language of an article's text: ISO 639-1, from an offline detector with the declared language as a
prior (about 1 ms per article; the model loads once per process)."""

from __future__ import annotations

from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from ingest.text import word_count

SAMPLE_CHARS = 3000
MIN_WORDS = 5
# The declared language stands unless the text makes it very unlikely.
PRIOR_FLOOR = 0.05
# Without a usable declaration, the detector must be this sure.
CONFIDENT = 0.6


@cache
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of ``text``, or ``declared`` when the text is too short to tell, or None."""
    if word_count(text) < MIN_WORDS:
        return declared
    ranked = _identifier().rank(text[:SAMPLE_CHARS])
    scores = {code: float(p) for code, p in ranked[:10]}
    if declared and scores.get(declared, 0.0) >= PRIOR_FLOOR:
        return declared
    best, probability = ranked[0]
    if len(best) == 2 and probability >= CONFIDENT:
        return str(best)
    return declared


def warm_up() -> None:
    """Load the model now (in a worker before it forks, so every worker shares it)."""
    _identifier()
