"""The ESCO CSV parser on a real extract, and the bundle format's round trip."""

from __future__ import annotations

import io
import json
import lzma
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from merito.errors import InvalidInput
from merito.skills.bundle import decode_bundle, encode_bundle
from merito.skills.esco import parse_esco
from merito.skills.taxonomy import Taxonomy, concept_id

FIXTURES = Path(__file__).parents[2] / "fixtures" / "esco"
PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
PROGRAMMING = "http://data.europa.eu/esco/skill/21d2f96d-35f7-4e3f-9745-c533d2dd6e97"
DEVELOPER = "http://data.europa.eu/esco/occupation/f2b15a0e-e65a-438a-affb-29b9d50b77d1"


def _opener(folder: Path, skip: Iterable[str] = ()) -> Callable[[str], Iterable[str] | None]:
    def open_file(name: str) -> Iterable[str] | None:
        path = folder / name
        if name in skip or not path.exists():
            return None
        return io.StringIO(path.read_text(encoding="utf-8"), newline="")

    return open_file


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return parse_esco(_opener(FIXTURES), version="ESCO v1.1.1")


def test_skills_carry_labels_type_reuse_level_collections_and_hierarchy(
    taxonomy: Taxonomy,
) -> None:
    skills = {s.uri: s for s in taxonomy.skills}
    python = skills[PYTHON]
    assert python.preferred_label == "Python (computer programming)"
    assert python.kind == "skill"
    assert python.skill_type == "knowledge"
    assert python.reuse_level == "sector-specific"
    assert "Python" in python.alt_labels
    assert python.preferred_label not in python.alt_labels  # ESCO repeats it among altLabels
    assert python.description.startswith("The techniques and principles of software development")
    assert python.collections == ("digital",)
    assert PROGRAMMING in python.broader
    assert all(b in skills for s in taxonomy.skills for b in s.broader)
    initiative = next(s for s in taxonomy.skills if s.preferred_label == "show initiative")
    assert initiative.skill_type == "skill"
    assert initiative.reuse_level == "transversal"
    assert "transversal" in initiative.collections


def test_skill_groups_are_concepts_with_codes(taxonomy: Taxonomy) -> None:
    groups = [s for s in taxonomy.skills if s.kind == "group"]
    assert groups
    assert any(g.code == "S5" and g.preferred_label == "working with computers" for g in groups)
    assert all(g.skill_type is None for g in groups)


def test_occupation_and_its_essential_and_optional_skills(taxonomy: Taxonomy) -> None:
    (developer,) = taxonomy.occupations
    assert developer.uri == DEVELOPER
    assert developer.preferred_label == "software developer"
    assert developer.isco_group == "2512"
    assert developer.code == "2512.4"
    assert "programmer" in developer.alt_labels
    links = {(r.skill_uri, r.relation) for r in taxonomy.occupation_skills}
    assert (PROGRAMMING, "essential") in links
    assert (PYTHON, "optional") in links
    # essential links come first (the bundle's order)
    relations = [r.relation for r in taxonomy.occupation_skills]
    assert relations == sorted(relations, key=lambda r: r != "essential")


def test_links_to_unknown_concepts_are_dropped_and_counted(taxonomy: Taxonomy) -> None:
    assert taxonomy.dropped == {"occupation-skill links to an unknown occupation": 1}
    known = {o.uri for o in taxonomy.occupations}
    assert all(r.occupation_uri in known for r in taxonomy.occupation_skills)


def test_optional_files_may_be_missing() -> None:
    bare = parse_esco(
        _opener(FIXTURES, skip={"skillGroups_en.csv", "broaderRelationsSkillPillar.csv"}),
        version="x",
    )
    assert all(s.kind == "skill" and not s.broader for s in bare.skills)


def test_a_missing_required_file_or_column_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"occupations_en\.csv"):
        parse_esco(_opener(FIXTURES, skip={"occupations_en.csv"}), version="x")
    (tmp_path / "skills_en.csv").write_text("conceptUri,preferredLabel\nx,y\n")
    with pytest.raises(InvalidInput, match="missing column") as caught:
        parse_esco(_opener(tmp_path), version="x")
    assert caught.value.property == "skills_en.csv"


def test_concept_ids_are_stable_uuid5s() -> None:
    assert concept_id(PYTHON) == concept_id(PYTHON)
    assert concept_id(PYTHON) != concept_id(PROGRAMMING)
    assert len(concept_id(PYTHON)) == 36


def test_bundle_round_trips_exactly_and_deterministically(taxonomy: Taxonomy) -> None:
    data = encode_bundle(taxonomy)
    assert decode_bundle(data) == taxonomy
    assert encode_bundle(taxonomy) == data


@pytest.mark.parametrize("data", [b"", b"not xz", zipfile.ZipFile.__name__.encode()])
def test_a_bundle_that_is_not_one_is_invalid_input(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        decode_bundle(data)


def test_a_bundle_of_another_format_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a merito-taxonomy/1 document"):
        decode_bundle(lzma.compress(json.dumps({"format": "other"}).encode()))
    with pytest.raises(InvalidInput, match="malformed"):
        decode_bundle(
            lzma.compress(json.dumps({"format": "merito-taxonomy/1", "version": "x"}).encode())
        )
