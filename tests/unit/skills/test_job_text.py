"""Job-description text -> skill phrases, required or optional."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from merito.skills.job_text import MAX_PHRASES, SkillPhrase, skill_phrases

ADVERT = """Data Analyst

Requirements:
- 3+ years of experience with Python and SQL
- Strong knowledge of statistics, data visualisation (Tableau or Power BI)
- Excellent communication skills. Knowledge of German is a plus.

Nice to have:
- Experience with machine learning
- Familiarity with AWS/GCP
"""


def test_an_advert_splits_into_skill_phrases_with_their_section() -> None:
    phrases = skill_phrases(ADVERT)
    assert [p.text for p in phrases] == [
        "Data Analyst",
        "Python",
        "SQL",
        "statistics",
        "data visualisation",
        "Tableau",
        "Power BI",
        "communication",
        "German",
        "machine learning",
        "AWS",
        "GCP",
    ]
    optional = {p.text for p in phrases if not p.required}
    assert optional == {"German", "machine learning", "AWS", "GCP"}


def test_a_required_heading_ends_an_optional_section_and_duplicates_are_dropped() -> None:
    text = "Bonus:\n- Docker\nMust have:\n- Kubernetes, docker\n"
    assert skill_phrases(text) == [
        SkillPhrase(text="Docker", required=False),
        SkillPhrase(text="Kubernetes", required=True),
    ]


def test_long_prose_is_not_a_phrase() -> None:
    # no list separators and more than six words once the filler is gone: not a skill name
    assert skill_phrases("Our engineers ship small reliable changes every single day here") == []


@given(st.text(max_size=2000))
def test_any_text_gives_short_bounded_phrases(text: str) -> None:
    phrases = skill_phrases(text)
    assert len(phrases) <= MAX_PHRASES
    assert all(0 < len(p.text.split()) <= 6 for p in phrases)
