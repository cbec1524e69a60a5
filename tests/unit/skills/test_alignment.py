"""OB 3.0 alignments to skills and the proficiency-level representation."""

from __future__ import annotations

import pytest

from merito.domain.achievements import Alignment, ResultDescription
from merito.skills.alignment import (
    PROFICIENCY_LEVELS,
    proficiency_result,
    proficiency_result_description,
    skill_alignment,
)

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"


def test_an_esco_skill_alignment_is_a_valid_ob3_alignment() -> None:
    alignment = skill_alignment(uri=PYTHON, name="Python (computer programming)", description="x")
    assert alignment["targetUrl"] == alignment["targetCode"] == PYTHON
    assert alignment["targetFramework"] == "ESCO v1.1.1"
    assert alignment["targetType"] == "ext:ESCOSkill"
    parsed = Alignment.model_validate(alignment)
    assert parsed.target_url == PYTHON
    own = skill_alignment(uri="urn:uuid:1", name="Our skill", framework="Acme skills")
    assert own["targetType"] == "ext:Skill"
    assert "targetDescription" not in own


def test_proficiency_levels_as_a_rubric_result_description_and_result() -> None:
    alignment = skill_alignment(uri=PYTHON, name="Python")
    rd = proficiency_result_description(
        alignment, required_level="advanced", base_id="https://x.example/a#python"
    )
    ResultDescription.model_validate(rd)
    assert rd["resultType"] == "RubricCriterionLevel"
    assert [lv["level"] for lv in rd["rubricCriterionLevel"]] == [
        lv.key for lv in PROFICIENCY_LEVELS
    ]
    assert rd["requiredLevel"] == "https://x.example/a#python-advanced"
    assert all(lv["alignment"] == [alignment] for lv in rd["rubricCriterionLevel"])
    result = proficiency_result(rd, achieved_level="expert")
    assert result["achievedLevel"] == "https://x.example/a#python-expert"
    assert result["value"] == "100%"  # what percentage readers (skill profiles) understand
    assert result["alignment"] == [alignment]


def test_an_unknown_level_is_refused() -> None:
    alignment = skill_alignment(uri=PYTHON, name="Python")
    with pytest.raises(ValueError, match="unknown proficiency level 'guru'"):
        proficiency_result_description(alignment, required_level="guru", base_id="urn:x")
