"""Job-description text -> the skill phrases it asks for, each marked required or optional.

A pasted job advert is split into short phrases (lines, bullets, sentences, then lists joined
by commas, "and", "or", "/"), stripped of the words around a skill ("3+ years of experience
with", "strong", "knowledge of"), so each phrase can be normalised to a taxonomy skill
(``merito.services.skills.normalize_skills``). Phrases under a "nice to have", "bonus",
"preferred" or "a plus" heading, or in a sentence saying so, are optional; the rest required.
Pure text processing: no taxonomy, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = ["MAX_PHRASES", "SkillPhrase", "skill_phrases"]

MAX_PHRASES: Final = 60
_MAX_WORDS: Final = 6
_OPTIONAL: Final = re.compile(
    r"\b(nice[- ]to[- ]have|bonus|preferred|preferably|a plus|is a plus|desirable|ideally|"
    r"optional|advantage|would be great)\b",
    re.IGNORECASE,
)
_REQUIRED_HEADING: Final = re.compile(
    r"\b(requirements?|required|must[- ]have|essential|you have|you bring|qualifications|"
    r"what you need|skills)\b",
    re.IGNORECASE,
)
_SEGMENTS: Final = re.compile(r"[\n\r•·▪●◦*;]+|(?<=[a-z0-9)])\.(?:\s+|$)|:\s+", re.IGNORECASE)
_LIST: Final = re.compile(r",|\s+and\s+|\s+or\s+|\s*/\s*|\s*&\s*|\(|\)", re.IGNORECASE)
# words around a skill, not the skill: experience, seniority, adjectives, verbs of having
_FILLER: Final = re.compile(
    r"\b(one|two|three|four|five|years?|yrs?|of|with|in|at|on|for|the|a|an|"
    r"experience|experienced|proven|solid|strong|good|excellent|great|deep|hands[- ]on|"
    r"working|practical|professional|demonstrated|knowledge|understanding|familiarity|"
    r"familiar|proficiency|proficient|ability|able|to|skills?|skilled|expertise|expert|"
    r"background|you|have|has|must|should|will|can|are|is|be|we|our|your|very|using|use|"
    r"including|e\.g|etc|such|as|like|plus|preferred|required|nice|bonus|ideally|"
    r"desirable|advantage|optional|minimum|least|level|senior|junior|degree|related|field|"
    r"similar|equivalent|other|any|some|both|also|looking|join|team|work|role|position|"
    r"company|candidate|ideal|who|that|this|from|within|across|new|more|than)\b",
    re.IGNORECASE,
)
_NUMBERS: Final = re.compile(r"(?<!\w)\d+\+?(?!\w)")
_SPACES: Final = re.compile(r"\s+")
_TRIM: Final = " -–—:.,;!?'\"`"


@dataclass(frozen=True, slots=True)
class SkillPhrase:
    text: str
    required: bool


def _clean(phrase: str) -> str:
    phrase = _FILLER.sub(" ", _NUMBERS.sub(" ", phrase))
    return _SPACES.sub(" ", phrase).strip(_TRIM)


def skill_phrases(text: str) -> list[SkillPhrase]:
    """The skill phrases of a job description, in order of appearance, without duplicates."""
    out: list[SkillPhrase] = []
    seen: set[str] = set()
    optional_section = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        # a short line ending in ':' (or a markdown heading) opens a section
        heading = stripped.rstrip(":").strip("# ").strip()
        if (stripped.endswith(":") or stripped.startswith("#")) and len(heading.split()) <= 6:
            if _OPTIONAL.search(heading):
                optional_section = True
            elif _REQUIRED_HEADING.search(heading):
                optional_section = False
            continue
        for segment in _SEGMENTS.split(stripped):
            if not segment or not segment.strip():
                continue
            optional = optional_section or bool(_OPTIONAL.search(segment))
            for part in _LIST.split(segment):
                if not part:
                    continue
                phrase = _clean(part)
                words = phrase.split()
                if not words or len(words) > _MAX_WORDS or len(phrase) < 2:
                    continue
                key = phrase.lower()
                if key in seen:
                    continue
                seen.add(key)
                out.append(SkillPhrase(text=phrase, required=not optional))
                if len(out) >= MAX_PHRASES:
                    return out
    return out
