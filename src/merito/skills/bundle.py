"""The compact taxonomy file Merito ships (``data/esco-v1.1.1-en.json.xz``): encode and decode.

An xz-compressed JSON document with positional rows, so the whole of ESCO's English skills pillar,
occupations and their links fits in about 2.1 MB::

    {"format": "merito-taxonomy/1", "version": "ESCO v1.1.1", "language": "en",
     "attribution": "...", "licence": "...",
     "skills": [[uri, kind, skill_type, reuse_level, preferred_label, [alt labels],
                 description, code, [collections], [broader skill indexes]], ...],
     "occupations": [[uri, preferred_label, [alt labels], description, code, isco_group,
                      broader occupation index or -1], ...],
     "occupation_skills": {"essential": [occupation index, skill index, ...],
                           "optional": [...]},
     "skill_relations": {"essential": [skill index, related skill index, ...], ...}}
"""

from __future__ import annotations

import json
import lzma
from typing import Any, Final

from merito.errors import InvalidInput
from merito.skills.taxonomy import (
    ESCO_ATTRIBUTION,
    ESCO_LICENCE_URL,
    Occupation,
    OccupationSkill,
    Relation,
    Skill,
    SkillRelation,
    Taxonomy,
)

__all__ = ["BUNDLE_FORMAT", "decode_bundle", "encode_bundle"]

BUNDLE_FORMAT: Final = "merito-taxonomy/1"
_RELATIONS: Final[tuple[Relation, ...]] = ("essential", "optional")


def encode_bundle(taxonomy: Taxonomy) -> bytes:
    """The gzip'd JSON bytes of ``taxonomy`` (deterministic: same taxonomy, same bytes)."""
    skill_index = {s.uri: i for i, s in enumerate(taxonomy.skills)}
    occupation_index = {o.uri: i for i, o in enumerate(taxonomy.occupations)}
    occupation_skills: dict[str, list[int]] = {r: [] for r in _RELATIONS}
    for link in taxonomy.occupation_skills:
        occupation_skills[link.relation] += [
            occupation_index[link.occupation_uri],
            skill_index[link.skill_uri],
        ]
    skill_relations: dict[str, list[int]] = {r: [] for r in _RELATIONS}
    for rel in taxonomy.skill_relations:
        skill_relations[rel.relation] += [
            skill_index[rel.skill_uri],
            skill_index[rel.related_skill_uri],
        ]
    document = {
        "format": BUNDLE_FORMAT,
        "version": taxonomy.version,
        "language": taxonomy.language,
        "attribution": ESCO_ATTRIBUTION,
        "licence": ESCO_LICENCE_URL,
        "dropped": taxonomy.dropped,
        "skills": [
            [
                s.uri,
                s.kind,
                s.skill_type,
                s.reuse_level,
                s.preferred_label,
                list(s.alt_labels),
                s.description,
                s.code,
                list(s.collections),
                [skill_index[b] for b in s.broader],
            ]
            for s in taxonomy.skills
        ],
        "occupations": [
            [
                o.uri,
                o.preferred_label,
                list(o.alt_labels),
                o.description,
                o.code,
                o.isco_group,
                occupation_index[o.broader] if o.broader is not None else -1,
            ]
            for o in taxonomy.occupations
        ],
        "occupation_skills": occupation_skills,
        "skill_relations": skill_relations,
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    # xz: a third smaller than gzip -9 on this text, and faster to decode
    return lzma.compress(text.encode(), preset=9 | lzma.PRESET_EXTREME)


def _pairs(flat: list[int]) -> list[tuple[int, int]]:
    return list(zip(flat[::2], flat[1::2], strict=True))


def decode_bundle(data: bytes) -> Taxonomy:
    """Reads a bundle made by ``encode_bundle``; raises InvalidInput on anything else."""
    try:
        document: Any = json.loads(lzma.decompress(data))
    except (lzma.LZMAError, EOFError, ValueError) as e:
        raise InvalidInput(f"not a taxonomy bundle: {e}", property="path") from e
    if not isinstance(document, dict) or document.get("format") != BUNDLE_FORMAT:
        raise InvalidInput(f"not a {BUNDLE_FORMAT} document", property="format")
    try:
        rows = document["skills"]
        uris = [row[0] for row in rows]
        skills = tuple(
            Skill(
                uri=row[0],
                kind=row[1],
                skill_type=row[2],
                reuse_level=row[3],
                preferred_label=row[4],
                alt_labels=tuple(row[5]),
                description=row[6],
                code=row[7],
                collections=tuple(row[8]),
                broader=tuple(uris[i] for i in row[9]),
            )
            for row in rows
        )
        occupation_uris = [row[0] for row in document["occupations"]]
        occupations = tuple(
            Occupation(
                uri=uri,
                preferred_label=label,
                alt_labels=tuple(alts),
                description=description,
                code=code,
                isco_group=isco_group,
                broader=occupation_uris[broader] if broader >= 0 else None,
            )
            for uri, label, alts, description, code, isco_group, broader in document["occupations"]
        )
        occupation_skills = tuple(
            OccupationSkill(occupation_uris[o], uris[s], relation)
            for relation in _RELATIONS
            for o, s in _pairs(document["occupation_skills"][relation])
        )
        skill_relations = tuple(
            SkillRelation(uris[a], uris[b], relation)
            for relation in _RELATIONS
            for a, b in _pairs(document["skill_relations"][relation])
        )
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise InvalidInput(f"malformed taxonomy bundle: {e!r}", property="skills") from e
    return Taxonomy(
        version=str(document["version"]),
        language=str(document.get("language", "en")),
        skills=skills,
        occupations=occupations,
        occupation_skills=occupation_skills,
        skill_relations=skill_relations,
        dropped=dict(document.get("dropped", {})),
    )
