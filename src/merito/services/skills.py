"""Skills: import the taxonomy (ESCO), look up skills and occupations, normalise free text,
organisations' own skills mapped onto ESCO, and OB 3.0 alignments of achievements to skills.

The taxonomy lives in the tables of ``merito.storage.tables_skills`` (names documented there).
``import_taxonomy`` is idempotent: concept ids derive from the URIs (``concept_id``), so a
re-import updates what changed, inserts what is new and never duplicates; it writes with Core
executemany in one transaction (the whole of ESCO in a few seconds). The bundled data file
(``merito/skills/data/esco-v1.1.1-en.json.xz``) makes Merito self-contained: ``merito skills
import`` with no path, and ``merito demo``, load it.

ESCO is © European Union, reused under Commission Decision 2011/833/EU (CC BY 4.0): the
attribution (``ESCO_ATTRIBUTION``) travels with every taxonomy response.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from merito.errors import InvalidInput, NotFound
from merito.services.platform import Actor, Permission, Platform, audit, authorize, new_id
from merito.skills.alignment import (
    proficiency_result_description,
    skill_alignment,
)
from merito.skills.bundle import decode_bundle
from merito.skills.esco import parse_esco
from merito.skills.normalize import (
    Encoder,
    IndexEntry,
    SkillIndex,
    StaticEmbedding,
    parse_abbreviations,
)
from merito.skills.taxonomy import (
    ESCO_ATTRIBUTION,
    ESCO_LICENCE_URL,
    Taxonomy,
)
from merito.storage.tables_skills import (
    OccupationRow,
    OccupationSkillRow,
    SkillBroaderRow,
    SkillMappingRow,
    SkillRelationRow,
    SkillRow,
)

__all__ = [
    "BUNDLED_TAXONOMY",
    "ESCO_ATTRIBUTION",
    "ESCO_FRAMEWORK",
    "ESCO_LICENCE_URL",
    "ImportResult",
    "MappingFields",
    "OccupationDetail",
    "OccupationMatch",
    "OccupationRef",
    "OrgSkillFields",
    "OrgSkillUpdate",
    "Progress",
    "SkillDetail",
    "SkillMapping",
    "SkillMatch",
    "SkillRef",
    "abbreviations",
    "alignment_for_skill",
    "bundled_taxonomy",
    "create_org_skill",
    "delete_org_skill",
    "ensure_taxonomy",
    "get_occupation",
    "get_org_skill",
    "get_skill",
    "import_taxonomy",
    "list_org_skills",
    "normalize_skills",
    "normalizer_tier",
    "read_taxonomy",
    "search_occupations",
    "search_skills",
    "set_skill_mappings",
    "skill_alignment",
    "static_embedding",
    "update_org_skill",
]

BUNDLED_TAXONOMY: Final = "esco-v1.1.1-en.json.xz"
EMBEDDING_FILE: Final = "skill-embedding.npz"
ABBREVIATIONS_FILE: Final = "abbreviations.tsv"
ESCO_FRAMEWORK: Final = "ESCO v1.1.1"
_BATCH: Final = 5_000

#: progress(stage, done, total): called as each stage advances (the CLI draws a bar)
Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


# --- reading a release ---------------------------------------------------------------------


def bundled_taxonomy() -> Taxonomy:
    """ESCO v1.1.1 (English) as shipped inside the package."""
    data = files("merito.skills").joinpath("data", BUNDLED_TAXONOMY).read_bytes()
    return decode_bundle(data)


def _csv_opener(stack: ExitStack, path: Path) -> Callable[[str], Iterable[str] | None]:
    """File name -> its lines, over a folder of CSVs and/or the ESCO zips (nested folders too)."""
    found: dict[str, Callable[[], Iterable[str]]] = {}

    def zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], Iterable[str]]:
        return lambda: io.TextIOWrapper(archive.open(info), encoding="utf-8-sig", newline="")

    def csv_file(candidate: Path) -> Callable[[], Iterable[str]]:
        return lambda: stack.enter_context(candidate.open(encoding="utf-8-sig", newline=""))

    candidates = [path] if path.is_file() else sorted(path.rglob("*"))
    for candidate in candidates:
        if candidate.suffix == ".zip":
            archive = stack.enter_context(zipfile.ZipFile(candidate))
            for info in archive.infolist():
                name = Path(info.filename).name
                if name.endswith(".csv"):
                    found.setdefault(name, zip_member(archive, info))
        elif candidate.suffix == ".csv":
            found.setdefault(candidate.name, csv_file(candidate))

    def open_file(name: str) -> Iterable[str] | None:
        opener = found.get(name)
        return opener() if opener is not None else None

    return open_file


def read_taxonomy(
    path: str | Path | None = None, *, version: str = "ESCO v1.1.1", language: str = "en"
) -> Taxonomy:
    """A taxonomy from ``path``: a Merito bundle (``.json.xz``), the ESCO zips, a zip, or a
    folder of ESCO CSVs. None reads the bundled ESCO v1.1.1."""
    if path is None:
        return bundled_taxonomy()
    location = Path(path)
    if not location.exists():
        raise InvalidInput(f"no such file or folder: {str(location)!r}", property="path")
    if location.is_file() and location.name.endswith(".json.xz"):
        return decode_bundle(location.read_bytes())
    try:
        with ExitStack() as stack:
            return parse_esco(_csv_opener(stack, location), version=version, language=language)
    except (zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise InvalidInput(f"cannot read the ESCO release: {e}", property="path") from e


# --- import --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    version: str
    #: table -> {"inserted": n, "updated": n, "deleted": n, "unchanged": n}
    tables: Mapping[str, Mapping[str, int]]
    counts: Mapping[str, int]
    dropped: Mapping[str, int]
    seconds: float
    #: ESCO skills in the database that this release no longer has (kept: profiles may cite them)
    stale_skills: int = 0
    stages: Mapping[str, float] = field(default_factory=dict)


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), _BATCH):
        yield rows[start : start + _BATCH]


def _upsert(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    existing: Mapping[str, Mapping[Any, Any]],
    compare: tuple[str, ...],
    now: datetime,
    stage: str,
    progress: Progress,
) -> dict[str, int]:
    """Inserts new ids, updates changed ones (by ``compare`` columns), in executemany batches."""
    new = [r for r in rows if r["id"] not in existing]
    changed = [
        r
        for r in rows
        if r["id"] in existing and any(existing[r["id"]][c] != r[c] for c in compare)
    ]
    total, done = len(new) + len(changed), 0
    progress(stage, 0, total)
    for chunk in _chunks(new):
        session.execute(insert(table), [{**r, "created_at": now, "updated_at": now} for r in chunk])
        done += len(chunk)
        progress(stage, done, total)
    if changed:
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in (*compare, "updated_at")})
        )
        for chunk in _chunks(changed):
            session.execute(
                statement,
                [
                    {"b_id": r["id"], "b_updated_at": now, **{f"b_{c}": r[c] for c in compare}}
                    for r in chunk
                ],
                execution_options={"synchronize_session": False},
            )
            done += len(chunk)
            progress(stage, done, total)
    return {
        "inserted": len(new),
        "updated": len(changed),
        "deleted": 0,
        "unchanged": len(rows) - len(new) - len(changed),
    }


def _insert_plain(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Inserts rows of plain strings: COPY on PostgreSQL (~5x executemany), else executemany."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        columns = list(rows[0])
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        quoted = ", ".join(f'"{c}"' for c in columns)
        with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for r in rows:
                copy.write_row([r[c] for c in columns])
        return
    session.execute(insert(table), list(rows))


def _sync_links(
    session: Session,
    table: Table,
    keys: tuple[str, str],
    wanted: Mapping[tuple[str, str], str | None],
    existing: Mapping[tuple[str, str], str | None],
    *,
    value: str | None,
    stage: str,
    progress: Progress,
) -> dict[str, int]:
    """Makes the link table hold exactly ``wanted`` (key pair -> ``value`` column or None)."""
    a, b = keys
    new = [k for k in wanted if k not in existing]
    gone = [k for k in existing if k not in wanted]
    changed = [k for k in wanted if k in existing and wanted[k] != existing[k]]
    total, done = len(new) + len(gone) + len(changed), 0
    progress(stage, 0, total)

    def row(k: tuple[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {a: k[0], b: k[1]}
        if value is not None:
            out[value] = wanted[k]
        return out

    for chunk in _chunks([row(k) for k in new]):
        _insert_plain(session, table, chunk)
        done += len(chunk)
        progress(stage, done, total)
    match = and_(table.c[a] == bindparam("k_a"), table.c[b] == bindparam("k_b"))
    if gone:
        for chunk in _chunks([{"k_a": k[0], "k_b": k[1]} for k in gone]):
            session.execute(
                delete(table).where(match),
                list(chunk),
                execution_options={"synchronize_session": False},
            )
            done += len(chunk)
            progress(stage, done, total)
    if changed and value is not None:
        statement = update(table).where(match).values({value: bindparam("k_value")})
        for chunk in _chunks([{"k_a": k[0], "k_b": k[1], "k_value": wanted[k]} for k in changed]):
            session.execute(
                statement, list(chunk), execution_options={"synchronize_session": False}
            )
            done += len(chunk)
            progress(stage, done, total)
    return {
        "inserted": len(new),
        "updated": len(changed),
        "deleted": len(gone),
        "unchanged": len(wanted) - len(new) - len(changed),
    }


_SKILL_COLUMNS: Final = (
    "uri",
    "kind",
    "skill_type",
    "reuse_level",
    "preferred_label",
    "alt_labels",
    "description",
    "code",
    "collections",
)
_OCCUPATION_COLUMNS: Final = (
    "uri",
    "preferred_label",
    "alt_labels",
    "description",
    "code",
    "isco_group",
)


def _check_links(
    taxonomy: Taxonomy, ids: Mapping[str, str], occupation_ids: Mapping[str, str]
) -> None:
    """Every link names a concept of the same release (the parsers guarantee it; a hand-made
    Taxonomy may not)."""
    for skill in taxonomy.skills:
        for uri in skill.broader:
            if uri not in ids:
                raise InvalidInput(f"{skill.uri}: broader concept {uri!r} is not in the release")
    for occupation in taxonomy.occupations:
        if occupation.broader is not None and occupation.broader not in occupation_ids:
            raise InvalidInput(
                f"{occupation.uri}: broader occupation {occupation.broader!r} is not in the release"
            )
    for link in taxonomy.occupation_skills:
        if link.occupation_uri not in occupation_ids or link.skill_uri not in ids:
            raise InvalidInput(f"link {link} names a concept that is not in the release")
    for rel in taxonomy.skill_relations:
        if rel.skill_uri not in ids or rel.related_skill_uri not in ids:
            raise InvalidInput(f"link {rel} names a concept that is not in the release")


def import_taxonomy(
    platform: Platform,
    actor: Actor,
    taxonomy: Taxonomy,
    *,
    progress: Progress | None = None,
) -> ImportResult:
    """Writes ``taxonomy`` into the shared (``org_id`` NULL) taxonomy tables, idempotently.

    Platform-wide data: the caller is an operator (CLI, demo seeding), audited as such.
    """
    report = progress or _no_progress
    ids = {s.uri: s.id for s in taxonomy.skills}
    occupation_ids = {o.uri: o.id for o in taxonomy.occupations}
    _check_links(taxonomy, ids, occupation_ids)
    started = time.perf_counter()
    stages: dict[str, float] = {}
    now = platform.clock.now()
    results: dict[str, dict[str, int]] = {}

    def timed(name: str, started_at: float) -> None:
        stages[name] = round(time.perf_counter() - started_at, 3)

    skill_rows = [
        {
            "id": ids[s.uri],
            "uri": s.uri,
            "org_id": None,
            "kind": s.kind,
            "skill_type": s.skill_type,
            "reuse_level": s.reuse_level,
            "preferred_label": s.preferred_label[:300],
            "alt_labels": list(s.alt_labels),
            "description": s.description,
            "code": s.code,
            "collections": list(s.collections),
        }
        for s in taxonomy.skills
    ]
    occupation_rows = [
        {
            "id": occupation_ids[o.uri],
            "uri": o.uri,
            "preferred_label": o.preferred_label[:300],
            "alt_labels": list(o.alt_labels),
            "description": o.description,
            "code": o.code,
            "isco_group": o.isco_group,
            "broader_id": None,
        }
        for o in taxonomy.occupations
    ]
    with platform.transaction() as session:
        t = time.perf_counter()
        skills_table = SkillRow.__table__
        existing_skills = {
            row.id: row._mapping
            for row in session.execute(
                select(skills_table.c.id, *(skills_table.c[c] for c in _SKILL_COLUMNS)).where(
                    skills_table.c.org_id.is_(None)
                )
            )
        }
        results["skills"] = _upsert(
            session,
            skills_table,  # type: ignore[arg-type]
            skill_rows,
            existing=existing_skills,
            compare=_SKILL_COLUMNS,
            now=now,
            stage="skills",
            progress=report,
        )
        wanted_ids = {r["id"] for r in skill_rows}
        stale = sum(1 for skill_id in existing_skills if skill_id not in wanted_ids)
        timed("skills", t)

        t = time.perf_counter()
        esco_ids = select(skills_table.c.id).where(skills_table.c.org_id.is_(None))
        broader_table: Table = SkillBroaderRow.__table__  # type: ignore[assignment]
        results["skill_broader"] = _sync_links(
            session,
            broader_table,
            ("skill_id", "broader_id"),
            {(ids[s.uri], ids[b]): None for s in taxonomy.skills for b in s.broader},
            {
                (r.skill_id, r.broader_id): None
                for r in session.execute(
                    select(broader_table.c.skill_id, broader_table.c.broader_id).where(
                        broader_table.c.skill_id.in_(esco_ids)
                    )
                )
            },
            value=None,
            stage="skill hierarchy",
            progress=report,
        )
        relations_table: Table = SkillRelationRow.__table__  # type: ignore[assignment]
        results["skill_relations"] = _sync_links(
            session,
            relations_table,
            ("skill_id", "related_skill_id"),
            {
                (ids[r.skill_uri], ids[r.related_skill_uri]): r.relation
                for r in taxonomy.skill_relations
            },
            {
                (r.skill_id, r.related_skill_id): r.relation
                for r in session.execute(
                    select(
                        relations_table.c.skill_id,
                        relations_table.c.related_skill_id,
                        relations_table.c.relation,
                    ).where(relations_table.c.skill_id.in_(esco_ids))
                )
            },
            value="relation",
            stage="skill relations",
            progress=report,
        )
        timed("hierarchy", t)

        t = time.perf_counter()
        occupations_table: Table = OccupationRow.__table__  # type: ignore[assignment]
        existing_occupations = {
            row.id: row._mapping
            for row in session.execute(
                select(
                    occupations_table.c.id,
                    occupations_table.c.broader_id,
                    *(occupations_table.c[c] for c in _OCCUPATION_COLUMNS),
                )
            )
        }
        results["occupations"] = _upsert(
            session,
            occupations_table,
            occupation_rows,
            existing=existing_occupations,
            compare=_OCCUPATION_COLUMNS,
            now=now,
            stage="occupations",
            progress=report,
        )
        # the broader occupation is set once every occupation exists (a self reference)
        broader_wanted = {
            occupation_ids[o.uri]: occupation_ids[o.broader] if o.broader is not None else None
            for o in taxonomy.occupations
        }
        broader_changes = [
            {"b_id": occupation_id, "b_broader": broader}
            for occupation_id, broader in broader_wanted.items()
            if (
                existing_occupations[occupation_id]["broader_id"]
                if occupation_id in existing_occupations
                else None
            )
            != broader
        ]
        if broader_changes:
            session.execute(
                update(occupations_table)
                .where(occupations_table.c.id == bindparam("b_id"))
                .values(broader_id=bindparam("b_broader")),
                broader_changes,
                execution_options={"synchronize_session": False},
            )
        timed("occupations", t)

        t = time.perf_counter()
        links_table: Table = OccupationSkillRow.__table__  # type: ignore[assignment]
        results["occupation_skills"] = _sync_links(
            session,
            links_table,
            ("occupation_id", "skill_id"),
            {
                (occupation_ids[r.occupation_uri], ids[r.skill_uri]): r.relation
                for r in taxonomy.occupation_skills
            },
            {
                (r.occupation_id, r.skill_id): r.relation
                for r in session.execute(
                    select(
                        links_table.c.occupation_id,
                        links_table.c.skill_id,
                        links_table.c.relation,
                    )
                )
            },
            value="relation",
            stage="occupation skills",
            progress=report,
        )
        timed("occupation skills", t)
        audit(
            session,
            actor,
            action="skills.taxonomy_imported",
            org_id=None,
            target=taxonomy.version,
            details={
                "counts": taxonomy.counts(),
                "changes": {
                    table: {k: v for k, v in r.items() if k != "unchanged"}
                    for table, r in results.items()
                },
            },
        )
    return ImportResult(
        version=taxonomy.version,
        tables=results,
        counts=taxonomy.counts(),
        dropped=dict(taxonomy.dropped),
        seconds=round(time.perf_counter() - started, 3),
        stale_skills=stale,
        stages=stages,
    )


def ensure_taxonomy(
    platform: Platform, actor: Actor, *, progress: Progress | None = None
) -> ImportResult | None:
    """Imports the bundled ESCO when the database holds no ESCO skill yet (the demo's seeding);
    None when it was there already."""
    with platform.reading() as session:
        present = session.scalar(select(SkillRow.id).where(SkillRow.org_id.is_(None)).limit(1))
    if present is not None:
        return None
    return import_taxonomy(platform, actor, bundled_taxonomy(), progress=progress)


# --- reading the taxonomy ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkillRef:
    id: str
    uri: str
    preferred_label: str
    kind: str = "skill"
    skill_type: str | None = None


@dataclass(frozen=True, slots=True)
class SkillMapping:
    esco: SkillRef
    #: SKOS mapping relation: exact, close, broad, narrow, related
    match: str


@dataclass(frozen=True, slots=True)
class SkillDetail:
    id: str
    uri: str
    preferred_label: str
    alt_labels: tuple[str, ...]
    description: str
    kind: str
    skill_type: str | None
    reuse_level: str | None
    code: str | None
    collections: tuple[str, ...]
    #: None for ESCO; the owning organisation for its own skills
    org_id: str | None
    broader: tuple[SkillRef, ...]
    narrower: tuple[SkillRef, ...]
    #: an organisation's skill: the ESCO skills it maps onto
    mappings: tuple[SkillMapping, ...]
    #: occupations that need the skill (ESCO skills only; at most 50)
    essential_for: tuple[OccupationRef, ...] = ()
    optional_for: tuple[OccupationRef, ...] = ()
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OccupationRef:
    id: str
    uri: str
    preferred_label: str
    code: str | None = None


@dataclass(frozen=True, slots=True)
class OccupationDetail:
    id: str
    uri: str
    preferred_label: str
    alt_labels: tuple[str, ...]
    description: str
    code: str | None
    isco_group: str | None
    broader: OccupationRef | None
    essential_skills: tuple[SkillRef, ...]
    optional_skills: tuple[SkillRef, ...]


@dataclass(frozen=True, slots=True)
class SkillMatch:
    skill: SkillRef
    #: the fused score (0..1); ``lexical`` and ``semantic`` are its two cosines
    score: float
    lexical: float
    semantic: float
    #: the text equals one of the skill's labels
    exact: bool


@dataclass(frozen=True, slots=True)
class OccupationMatch:
    occupation: OccupationRef
    score: float


def _ref(row: SkillRow) -> SkillRef:
    return SkillRef(
        id=row.id,
        uri=row.uri,
        preferred_label=row.preferred_label,
        kind=row.kind,
        skill_type=row.skill_type,
    )


def _occupation_ref(row: OccupationRow) -> OccupationRef:
    return OccupationRef(id=row.id, uri=row.uri, preferred_label=row.preferred_label, code=row.code)


def _visible_skill(
    session: Session, platform: Platform, actor: Actor | None, skill_id: str
) -> SkillRow:
    """An ESCO skill (public), or an organisation's skill its members may read."""
    row = session.get(SkillRow, skill_id)
    if row is None:
        row = session.scalars(
            select(SkillRow).where(SkillRow.uri == skill_id, SkillRow.org_id.is_(None))
        ).first()
    if row is None:
        raise NotFound(f"skill {skill_id!r} not found", property="skill_id")
    if row.org_id is not None:
        if actor is None:
            raise NotFound(f"skill {skill_id!r} not found", property="skill_id")
        authorize(session, actor, row.org_id, Permission.ORG_READ)
    return row


def _detail(session: Session, row: SkillRow) -> SkillDetail:
    broader = session.scalars(
        select(SkillRow)
        .join(SkillBroaderRow, SkillBroaderRow.broader_id == SkillRow.id)
        .where(SkillBroaderRow.skill_id == row.id)
        .order_by(SkillRow.preferred_label)
    ).all()
    narrower = session.scalars(
        select(SkillRow)
        .join(SkillBroaderRow, SkillBroaderRow.skill_id == SkillRow.id)
        .where(SkillBroaderRow.broader_id == row.id, SkillRow.org_id.is_(None))
        .order_by(SkillRow.preferred_label)
        .limit(200)
    ).all()
    mappings = session.execute(
        select(SkillRow, SkillMappingRow.match)
        .join(SkillMappingRow, SkillMappingRow.esco_skill_id == SkillRow.id)
        .where(SkillMappingRow.skill_id == row.id)
        .order_by(SkillRow.preferred_label)
    ).all()
    needed: dict[str, list[OccupationRef]] = {"essential": [], "optional": []}
    if row.org_id is None:
        for occupation, relation in session.execute(
            select(OccupationRow, OccupationSkillRow.relation)
            .join(OccupationSkillRow, OccupationSkillRow.occupation_id == OccupationRow.id)
            .where(OccupationSkillRow.skill_id == row.id)
            .order_by(OccupationRow.preferred_label)
            .limit(100)
        ):
            if len(needed[relation]) < 50:
                needed[relation].append(_occupation_ref(occupation))
    return SkillDetail(
        id=row.id,
        uri=row.uri,
        preferred_label=row.preferred_label,
        alt_labels=tuple(row.alt_labels),
        description=row.description,
        kind=row.kind,
        skill_type=row.skill_type,
        reuse_level=row.reuse_level,
        code=row.code,
        collections=tuple(row.collections),
        org_id=row.org_id,
        broader=tuple(_ref(b) for b in broader),
        narrower=tuple(_ref(n) for n in narrower),
        mappings=tuple(SkillMapping(esco=_ref(m), match=match) for m, match in mappings),
        essential_for=tuple(needed["essential"]),
        optional_for=tuple(needed["optional"]),
        updated_at=row.updated_at,
    )


def get_skill(platform: Platform, skill_id: str, *, actor: Actor | None = None) -> SkillDetail:
    """A skill by id (or ESCO URI) with its hierarchy, mappings and the occupations needing it."""
    with platform.reading() as session:
        return _detail(session, _visible_skill(session, platform, actor, skill_id))


def get_occupation(platform: Platform, occupation_id: str) -> OccupationDetail:
    """An ESCO occupation by id (or URI) with its essential and optional skills."""
    with platform.reading() as session:
        row = (
            session.get(OccupationRow, occupation_id)
            or session.scalars(
                select(OccupationRow).where(OccupationRow.uri == occupation_id)
            ).first()
        )
        if row is None:
            raise NotFound(f"occupation {occupation_id!r} not found", property="occupation_id")
        links = session.execute(
            select(SkillRow, OccupationSkillRow.relation)
            .join(OccupationSkillRow, OccupationSkillRow.skill_id == SkillRow.id)
            .where(OccupationSkillRow.occupation_id == row.id)
            .order_by(SkillRow.preferred_label)
        ).all()
        broader = session.get(OccupationRow, row.broader_id) if row.broader_id else None
        return OccupationDetail(
            id=row.id,
            uri=row.uri,
            preferred_label=row.preferred_label,
            alt_labels=tuple(row.alt_labels),
            description=row.description,
            code=row.code,
            isco_group=row.isco_group,
            broader=_occupation_ref(broader) if broader is not None else None,
            essential_skills=tuple(_ref(s) for s, r in links if r == "essential"),
            optional_skills=tuple(_ref(s) for s, r in links if r == "optional"),
        )


# --- normalisation: the search indexes, cached per process ----------------------------------


@cache
def static_embedding() -> StaticEmbedding:
    """The shipped static token vectors (distilled from all-MiniLM-L6-v2; see docs/skills.md)."""
    data = files("merito.skills").joinpath("data", EMBEDDING_FILE).read_bytes()
    return StaticEmbedding.from_npz(data)


@cache
def abbreviations() -> dict[str, str]:
    text = files("merito.skills").joinpath("data", ABBREVIATIONS_FILE).read_text("utf-8")
    return parse_abbreviations(text)


_index_lock = threading.Lock()
#: ESCO, occupations and the organisations' own skills of one database fit easily
_MAX_INDEXES: Final = 64
#: (engine url, scope, tier) -> (fingerprint, index, refs); scope is "esco", "occupations" or an
#: org id; tier is ``normalizer_tier``
_indexes: dict[tuple[str, str, str], tuple[tuple[Any, ...], SkillIndex, tuple[Any, ...]]] = {}


def _fingerprint(session: Session, scope: str) -> tuple[Any, ...]:
    """Changes whenever the indexed rows change (a cheap aggregate, checked per search)."""
    if scope == "occupations":
        table: Any = OccupationRow
        where: Any = True
    else:
        table = SkillRow
        where = (
            and_(SkillRow.org_id.is_(None), SkillRow.kind == "skill")
            if scope == "esco"
            else SkillRow.org_id == scope
        )
    count, latest = session.execute(
        select(func.count(), func.max(table.updated_at)).where(where)
    ).one()
    return (count, latest)


def normalizer_tier(platform: Platform) -> str:
    """The normaliser's semantic tier: ``default`` (the shipped static embedding) or
    ``heavy:<model>`` (MERITO_SKILLS_TIER=heavy with sentence-transformers installed)."""
    if platform.extras.get("skills_encoder") is None:
        return "default"
    return str(platform.extras.get("skills_tier", "heavy"))


_encoders: dict[str, Encoder] = {}
_encoder_lock = threading.Lock()


def _embedding(platform: Platform) -> Encoder:
    """The semantic tier's encoder: the heavier model is loaded once per process."""
    factory = platform.extras.get("skills_encoder")
    if factory is None:
        return static_embedding()
    tier = normalizer_tier(platform)
    with _encoder_lock:
        encoder = _encoders.get(tier)
        if encoder is None:
            encoder = _encoders[tier] = factory()
        return encoder


def _build(
    session: Session, scope: str, embedding: Encoder | None = None
) -> tuple[SkillIndex, tuple[Any, ...]]:
    refs: list[Any] = []
    entries: list[IndexEntry] = []
    if scope == "occupations":
        for occupation in session.scalars(select(OccupationRow).order_by(OccupationRow.id)):
            refs.append(_occupation_ref(occupation))
            entries.append(
                IndexEntry(
                    occupation.id, occupation.preferred_label, tuple(occupation.alt_labels), ""
                )
            )
    else:
        where = (
            and_(SkillRow.org_id.is_(None), SkillRow.kind == "skill")
            if scope == "esco"
            else SkillRow.org_id == scope
        )
        for row in session.scalars(select(SkillRow).where(where).order_by(SkillRow.id)):
            refs.append(_ref(row))
            entries.append(
                IndexEntry(row.id, row.preferred_label, tuple(row.alt_labels), row.description)
            )
    index = SkillIndex(
        entries, embedding=embedding or static_embedding(), abbreviations=abbreviations()
    )
    return index, tuple(refs)


def _index(platform: Platform, session: Session, scope: str) -> tuple[SkillIndex, tuple[Any, ...]]:
    key = (str(platform.sessions.kw["bind"].url), scope, normalizer_tier(platform))
    fingerprint = _fingerprint(session, scope)
    cached = _indexes.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1], cached[2]
    with _index_lock:  # one build per process at a time; others wait for it
        cached = _indexes.get(key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1], cached[2]
        index, refs = _build(session, scope, _embedding(platform))
        _indexes.pop(key, None)
        while len(_indexes) >= _MAX_INDEXES:  # oldest first: dicts keep insertion order
            _indexes.pop(next(iter(_indexes)))
        _indexes[key] = (fingerprint, index, refs)
        return index, refs


_MAX_QUERY: Final = 200


def _query(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("the search text is empty", property="q")
    if len(text) > _MAX_QUERY:
        raise InvalidInput(f"the search text exceeds {_MAX_QUERY} characters", property="q")
    return text


def normalize_skills(
    platform: Platform,
    texts: Sequence[str],
    *,
    limit: int = 5,
    org_id: str | None = None,
    actor: Actor | None = None,
) -> list[list[SkillMatch]]:
    """Free texts -> ranked ESCO skills each (and the organisation's own, with ``org_id``)."""
    queries = [_query(t) for t in texts]
    with platform.reading() as session:
        scopes = ["esco"]
        if org_id is not None:
            if actor is None:
                raise NotFound(f"organisation {org_id!r} not found", property="org_id")
            authorize(session, actor, org_id, Permission.ORG_READ)
            scopes.append(org_id)
        merged: list[list[SkillMatch]] = [[] for _ in queries]
        for scope in scopes:
            index, refs = _index(platform, session, scope)
            for out, matches in zip(merged, index.search_batch(queries, k=limit), strict=True):
                out.extend(
                    SkillMatch(
                        skill=refs[m.position],
                        score=round(m.score, 4),
                        lexical=round(m.lexical, 4),
                        semantic=round(m.semantic, 4),
                        exact=m.exact,
                    )
                    for m in matches
                )
    return [sorted(m, key=lambda x: (not x.exact, -x.score))[:limit] for m in merged]


def search_skills(
    platform: Platform,
    q: str,
    *,
    limit: int = 10,
    org_id: str | None = None,
    actor: Actor | None = None,
) -> list[SkillMatch]:
    """One free text -> its ranked skills (``normalize_skills`` for one text)."""
    return normalize_skills(platform, [q], limit=limit, org_id=org_id, actor=actor)[0]


def search_occupations(platform: Platform, q: str, *, limit: int = 10) -> list[OccupationMatch]:
    """Occupations by title (labels and alternative titles), best first."""
    query = _query(q)
    with platform.reading() as session:
        index, refs = _index(platform, session, "occupations")
        return [
            OccupationMatch(occupation=refs[m.position], score=round(m.score, 4))
            for m in index.search(query, k=limit)
        ]


# --- an organisation's own skills ---------------------------------------------------------


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Label = Annotated[str, Field(min_length=1, max_length=300)]


class OrgSkillFields(_Fields):
    """An organisation's own skill (its internal framework's node)."""

    preferred_label: Label
    alt_labels: list[Label] = Field(default_factory=list, max_length=100)
    description: str = Field(default="", max_length=10_000)
    skill_type: Literal["skill", "knowledge"] | None = None
    uri: str | None = Field(
        default=None,
        max_length=500,
        description="The skill's URI in the organisation's framework (default: urn:uuid:<id>).",
    )


class OrgSkillUpdate(_Fields):
    preferred_label: Label | None = None
    alt_labels: list[Label] | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=10_000)
    skill_type: Literal["skill", "knowledge"] | None = None


class MappingFields(_Fields):
    """An ESCO skill (its id or URI) the organisation's skill maps onto."""

    esco_skill: str = Field(max_length=500)
    match: Literal["exact", "close", "broad", "narrow", "related"] = "exact"


def _clean_labels(preferred: str, alts: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for label in alts:
        label = label.strip()
        if label and label != preferred:
            seen.setdefault(label, None)
    return list(seen)


def _org_skill(session: Session, *, org_id: str, skill_id: str) -> SkillRow:
    row = session.get(SkillRow, skill_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"skill {skill_id!r} not found", property="skill_id")
    return row


def _absolute_uri(uri: str) -> str:
    uri = uri.strip()
    if not uri.startswith(("http://", "https://", "urn:")) or any(c.isspace() for c in uri):
        raise InvalidInput(f"uri {uri!r} is not an absolute http(s) or urn URI", property="uri")
    return uri


def list_org_skills(platform: Platform, actor: Actor, *, org_id: str) -> list[SkillDetail]:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        rows = session.scalars(
            select(SkillRow)
            .where(SkillRow.org_id == org_id)
            .order_by(SkillRow.preferred_label, SkillRow.id)
            .limit(1000)
        ).all()
        return [_detail(session, row) for row in rows]


def get_org_skill(platform: Platform, actor: Actor, *, org_id: str, skill_id: str) -> SkillDetail:
    with platform.reading() as session:
        authorize(session, actor, org_id, Permission.ORG_READ)
        return _detail(session, _org_skill(session, org_id=org_id, skill_id=skill_id))


def create_org_skill(
    platform: Platform, actor: Actor, *, org_id: str, fields: OrgSkillFields
) -> SkillDetail:
    """Adds a skill of the organisation's own; it is searchable by its members at once."""
    label = fields.preferred_label.strip()
    if not label:
        raise InvalidInput("preferredLabel is empty", property="preferred_label")
    skill_id = new_id()
    uri = _absolute_uri(fields.uri) if fields.uri else f"urn:uuid:{skill_id}"
    now = platform.clock.now()
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        row = SkillRow(
            id=skill_id,
            uri=uri,
            org_id=org_id,
            kind="skill",
            skill_type=fields.skill_type,
            preferred_label=label,
            alt_labels=_clean_labels(label, fields.alt_labels),
            description=fields.description.strip(),
            collections=[],
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        audit(
            session,
            actor,
            action="skills.created",
            org_id=org_id,
            target=skill_id,
            details={"uri": uri, "preferred_label": label},
        )
        return _detail(session, row)


def update_org_skill(
    platform: Platform, actor: Actor, *, org_id: str, skill_id: str, fields: OrgSkillUpdate
) -> SkillDetail:
    changes = fields.model_dump(exclude_unset=True)
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        row = _org_skill(session, org_id=org_id, skill_id=skill_id)
        if "preferred_label" in changes:
            label = (fields.preferred_label or "").strip()
            if not label:
                raise InvalidInput("preferredLabel is empty", property="preferred_label")
            row.preferred_label = label
        if "alt_labels" in changes:
            row.alt_labels = _clean_labels(row.preferred_label, fields.alt_labels or [])
        if "description" in changes:
            row.description = (fields.description or "").strip()
        if "skill_type" in changes:
            row.skill_type = fields.skill_type
        row.updated_at = platform.clock.now()
        audit(
            session,
            actor,
            action="skills.updated",
            org_id=org_id,
            target=skill_id,
            details={"fields": sorted(changes)},
        )
        session.flush()
        return _detail(session, row)


def delete_org_skill(platform: Platform, actor: Actor, *, org_id: str, skill_id: str) -> None:
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        row = _org_skill(session, org_id=org_id, skill_id=skill_id)
        session.execute(delete(SkillMappingRow).where(SkillMappingRow.skill_id == row.id))
        session.delete(row)
        audit(
            session,
            actor,
            action="skills.deleted",
            org_id=org_id,
            target=skill_id,
            details={"uri": row.uri},
        )


def set_skill_mappings(
    platform: Platform,
    actor: Actor,
    *,
    org_id: str,
    skill_id: str,
    mappings: Sequence[MappingFields],
) -> SkillDetail:
    """Replaces the ESCO skills the organisation's skill maps onto (an empty list: none)."""
    with platform.transaction() as session:
        authorize(session, actor, org_id, Permission.ACHIEVEMENTS_WRITE)
        row = _org_skill(session, org_id=org_id, skill_id=skill_id)
        targets: dict[str, str] = {}
        for i, mapping in enumerate(mappings):
            target = (
                session.get(SkillRow, mapping.esco_skill)
                or session.scalars(
                    select(SkillRow).where(
                        SkillRow.uri == mapping.esco_skill, SkillRow.org_id.is_(None)
                    )
                ).first()
            )
            if target is None or target.org_id is not None:
                raise InvalidInput(
                    f"mappings.{i}.esco_skill {mapping.esco_skill!r} is not an ESCO skill",
                    property=f"mappings.{i}.esco_skill",
                )
            targets[target.id] = mapping.match
        session.execute(delete(SkillMappingRow).where(SkillMappingRow.skill_id == row.id))
        now = platform.clock.now()
        for esco_id, match in targets.items():
            session.add(
                SkillMappingRow(
                    skill_id=row.id,
                    esco_skill_id=esco_id,
                    org_id=org_id,
                    match=match,
                    created_at=now,
                )
            )
        row.updated_at = now
        audit(
            session,
            actor,
            action="skills.mapped",
            org_id=org_id,
            target=skill_id,
            details={"mappings": [{"esco_skill_id": k, "match": v} for k, v in targets.items()]},
        )
        session.flush()
        return _detail(session, row)


# --- alignments of achievements -----------------------------------------------------------


def alignment_for_skill(
    platform: Platform,
    skill_id: str,
    *,
    actor: Actor | None = None,
    required_level: str | None = None,
    base_id: str | None = None,
) -> dict[str, Any]:
    """The OB 3.0 Alignment for a skill (id or ESCO URI), ready for ``AchievementFields``;
    with ``required_level`` also the proficiency ResultDescription (see skills.alignment)."""
    with platform.reading() as session:
        row = _visible_skill(session, platform, actor, skill_id)
        framework = ESCO_FRAMEWORK if row.org_id is None else "organisation skills"
        result: dict[str, Any] = {
            "alignment": skill_alignment(
                uri=row.uri,
                name=row.preferred_label,
                description=row.description or None,
                framework=framework,
            )
        }
    if required_level is not None:
        try:
            result["resultDescription"] = proficiency_result_description(
                result["alignment"],
                required_level=required_level,
                base_id=base_id or f"urn:uuid:{row.id}",
            )
        except ValueError as e:
            raise InvalidInput(str(e), property="required_level") from e
    return result
