"""The ESCO CSV parser: the classification release (one language + the language-neutral relations).

``parse_esco`` reads already-opened CSV text streams (the caller opens the zips or folder: this
module does no I/O of its own) and returns a ``Taxonomy``. The file names are those of the
official ESCO v1.1.1 CSV download: ``skills_en.csv``, ``skillGroups_en.csv``,
``occupations_en.csv``, the ``*SkillsCollection_en.csv`` files, ``broaderRelationsSkillPillar.csv``,
``broaderRelationsOccPillar.csv``, ``occupationSkillRelations.csv``, ``skillSkillRelations.csv``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final

from merito.errors import InvalidInput
from merito.skills.taxonomy import (
    Occupation,
    OccupationSkill,
    Relation,
    Skill,
    SkillRelation,
    SkillType,
    Taxonomy,
)

__all__ = ["COLLECTION_FILES", "REQUIRED_FILES", "esco_file_names", "parse_esco"]

#: collection file stem -> the tag stored in ``Skill.collections``
COLLECTION_FILES: Final = {
    "digitalSkillsCollection": "digital",
    "digCompSkillsCollection": "digcomp",
    "greenSkillsCollection": "green",
    "languageSkillsCollection": "language",
    "researchSkillsCollection": "research",
    "transversalSkillsCollection": "transversal",
}
REQUIRED_FILES: Final = ("skills", "occupations", "occupationSkillRelations")
_SKILL_TYPES: Final[Mapping[str, SkillType]] = {
    "skill/competence": "skill",
    "knowledge": "knowledge",
}
_RELATIONS: Final[Mapping[str, Relation]] = {"essential": "essential", "optional": "optional"}
#: ESCO's codes are short ('S1.2.1', '2512.4'); anything longer is not a code
_MAX_CODE: Final = 32

Opener = Callable[[str], Iterable[str] | None]


def esco_file_names(language: str = "en") -> dict[str, str]:
    """Logical name -> the CSV file name in the ESCO download for ``language``."""
    names = {
        "skills": f"skills_{language}.csv",
        "skillGroups": f"skillGroups_{language}.csv",
        "occupations": f"occupations_{language}.csv",
        "broaderRelationsSkillPillar": "broaderRelationsSkillPillar.csv",
        "broaderRelationsOccPillar": "broaderRelationsOccPillar.csv",
        "occupationSkillRelations": "occupationSkillRelations.csv",
        "skillSkillRelations": "skillSkillRelations.csv",
    }
    for stem in COLLECTION_FILES:
        names[stem] = f"{stem}_{language}.csv"
    return names


def _rows(name: str, lines: Iterable[str], required: tuple[str, ...]) -> Iterator[dict[str, str]]:
    reader = csv.DictReader(iter(lines))
    missing = [c for c in required if c not in (reader.fieldnames or ())]
    if missing:
        raise InvalidInput(
            f"{name}: missing column(s) {', '.join(map(repr, missing))}", property=name
        )
    for row in reader:
        yield {k: (v or "").strip() for k, v in row.items() if k is not None}


def _labels(text: str, separator: str = "\n") -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for label in text.split(separator):
        label = label.strip()
        if label:
            seen.setdefault(label, None)
    return tuple(seen)


def _code(text: str) -> str | None:
    return text if text and len(text) <= _MAX_CODE else None


def _essential_first(link: OccupationSkill | SkillRelation) -> bool:
    return link.relation != "essential"


def parse_esco(open_file: Opener, *, version: str, language: str = "en") -> Taxonomy:
    """Parses one ESCO CSV release. ``open_file(name)`` returns the file's lines, or None.

    Links whose ends are unknown (ESCO v1.1.1 has 67 occupation-skill rows naming an occupation
    missing from ``occupations_en.csv``) are dropped and counted in ``Taxonomy.dropped``.
    """
    names = esco_file_names(language)

    def need(logical: str) -> Iterable[str]:
        lines = open_file(names[logical])
        if lines is None:
            raise InvalidInput(f"the ESCO release lacks {names[logical]!r}", property="path")
        return lines

    def maybe(logical: str) -> Iterable[str] | None:
        return open_file(names[logical])

    dropped: dict[str, int] = {}

    def drop(what: str) -> None:
        dropped[what] = dropped.get(what, 0) + 1

    # concept rows first, then hierarchy and collections keyed by URI
    raw_skills: dict[str, dict[str, object]] = {}
    for row in _rows(
        names["skills"],
        need("skills"),
        ("conceptUri", "preferredLabel", "altLabels", "skillType", "reuseLevel", "description"),
    ):
        uri = row["conceptUri"]
        if not uri or not row["preferredLabel"]:
            drop("skills without uri or label")
            continue
        raw_skills[uri] = {
            "uri": uri,
            "preferred_label": row["preferredLabel"],
            "alt_labels": tuple(a for a in _labels(row["altLabels"]) if a != row["preferredLabel"]),
            "description": row["description"],
            "kind": "skill",
            "skill_type": _SKILL_TYPES.get(row["skillType"]),
            "reuse_level": row["reuseLevel"] or None,
        }
    groups = maybe("skillGroups")
    if groups is not None:
        for row in _rows(
            names["skillGroups"], groups, ("conceptUri", "preferredLabel", "altLabels", "code")
        ):
            uri = row["conceptUri"]
            if not uri or not row["preferredLabel"] or uri in raw_skills:
                drop("skill groups without uri or label")
                continue
            raw_skills[uri] = {
                "uri": uri,
                "preferred_label": row["preferredLabel"],
                "alt_labels": tuple(
                    a for a in _labels(row["altLabels"]) if a != row["preferredLabel"]
                ),
                "description": row.get("description", ""),
                "kind": "group",
                "code": _code(row["code"]),
            }

    broader: dict[str, list[str]] = {}
    hierarchy = maybe("broaderRelationsSkillPillar")
    if hierarchy is not None:
        for row in _rows(
            names["broaderRelationsSkillPillar"], hierarchy, ("conceptUri", "broaderUri")
        ):
            narrower, wider = row["conceptUri"], row["broaderUri"]
            if narrower in raw_skills and wider in raw_skills and narrower != wider:
                targets = broader.setdefault(narrower, [])
                if wider not in targets:
                    targets.append(wider)
            else:
                drop("skill hierarchy links to unknown concepts")

    collections: dict[str, list[str]] = {}
    for stem, tag in COLLECTION_FILES.items():
        lines = maybe(stem)
        if lines is None:
            continue
        for row in _rows(names[stem], lines, ("conceptUri",)):
            if row["conceptUri"] in raw_skills:
                collections.setdefault(row["conceptUri"], []).append(tag)

    skills = tuple(
        Skill(
            **raw,  # type: ignore[arg-type]
            collections=tuple(collections.get(uri, ())),
            broader=tuple(broader.get(uri, ())),
        )
        for uri, raw in raw_skills.items()
    )

    occupation_rows: dict[str, dict[str, str]] = {}
    for row in _rows(
        names["occupations"],
        need("occupations"),
        ("conceptUri", "preferredLabel", "altLabels", "description", "iscoGroup", "code"),
    ):
        if not row["conceptUri"] or not row["preferredLabel"]:
            drop("occupations without uri or label")
            continue
        occupation_rows[row["conceptUri"]] = row
    occupation_broader: dict[str, str] = {}
    occ_hierarchy = maybe("broaderRelationsOccPillar")
    if occ_hierarchy is not None:
        for row in _rows(
            names["broaderRelationsOccPillar"],
            occ_hierarchy,
            ("conceptUri", "broaderType", "broaderUri"),
        ):
            # ISCO groups are kept as the occupation's isco_group code, not as concepts
            if (
                row["broaderType"] == "Occupation"
                and row["conceptUri"] in occupation_rows
                and row["broaderUri"] in occupation_rows
            ):
                occupation_broader.setdefault(row["conceptUri"], row["broaderUri"])
    occupations = tuple(
        Occupation(
            uri=uri,
            preferred_label=row["preferredLabel"],
            alt_labels=tuple(a for a in _labels(row["altLabels"]) if a != row["preferredLabel"]),
            description=row["description"],
            code=_code(row["code"]),
            isco_group=row["iscoGroup"][:8] or None,
            broader=occupation_broader.get(uri),
        )
        for uri, row in occupation_rows.items()
    )

    links: dict[tuple[str, str], OccupationSkill] = {}
    for row in _rows(
        names["occupationSkillRelations"],
        need("occupationSkillRelations"),
        ("occupationUri", "relationType", "skillUri"),
    ):
        relation = _RELATIONS.get(row["relationType"])
        occupation, skill = row["occupationUri"], row["skillUri"]
        if relation is None:
            drop("occupation-skill links of an unknown relation type")
        elif occupation not in occupation_rows:
            drop("occupation-skill links to an unknown occupation")
        elif skill not in raw_skills:
            drop("occupation-skill links to an unknown skill")
        else:
            # a pair listed twice keeps its strongest relation
            previous = links.get((occupation, skill))
            if previous is None or relation == "essential":
                links[(occupation, skill)] = OccupationSkill(occupation, skill, relation)

    related: dict[tuple[str, str], SkillRelation] = {}
    skill_links = maybe("skillSkillRelations")
    if skill_links is not None:
        for row in _rows(
            names["skillSkillRelations"],
            skill_links,
            ("originalSkillUri", "relationType", "relatedSkillUri"),
        ):
            relation = _RELATIONS.get(row["relationType"])
            a, b = row["originalSkillUri"], row["relatedSkillUri"]
            if relation is None or a not in raw_skills or b not in raw_skills or a == b:
                drop("skill-skill links to unknown skills")
                continue
            previous_link = related.get((a, b))
            if previous_link is None or relation == "essential":
                related[(a, b)] = SkillRelation(a, b, relation)

    return Taxonomy(
        version=version,
        language=language,
        skills=skills,
        occupations=occupations,
        # essential links first (stable): the order the bundle stores them in
        occupation_skills=tuple(sorted(links.values(), key=_essential_first)),
        skill_relations=tuple(sorted(related.values(), key=_essential_first)),
        dropped=dropped,
    )
