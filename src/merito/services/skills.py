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
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Table, and_, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from merito.errors import InvalidInput
from merito.services.platform import Actor, Platform, audit
from merito.skills.bundle import decode_bundle
from merito.skills.esco import parse_esco
from merito.skills.taxonomy import (
    ESCO_ATTRIBUTION,
    ESCO_LICENCE_URL,
    Taxonomy,
)
from merito.storage.tables_skills import (
    OccupationRow,
    OccupationSkillRow,
    SkillBroaderRow,
    SkillRelationRow,
    SkillRow,
)

__all__ = [
    "BUNDLED_TAXONOMY",
    "ESCO_ATTRIBUTION",
    "ESCO_LICENCE_URL",
    "ImportResult",
    "Progress",
    "bundled_taxonomy",
    "ensure_taxonomy",
    "import_taxonomy",
    "read_taxonomy",
]

BUNDLED_TAXONOMY: Final = "esco-v1.1.1-en.json.xz"
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
