"""What has been endorsed: the active EndorsementCredentials of an achievement or a profile.

A read helper in the caller's session, with no service imports of its own, so the catalog
(public achievement documents), the issuers service (public profiles) and issuance (the
achievement and issuer a credential embeds) can show endorsements without an import cycle.
The endorsements service (``merito.services.endorsements``) writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from merito.storage.tables_trust import EndorsementRow

__all__ = [
    "MAX_EMBEDDED",
    "active_documents",
    "active_documents_of",
    "count_active",
    "with_endorsements",
]

#: the newest endorsements embedded in one document (each is a signed credential)
MAX_EMBEDDED: Final = 10


def active_documents(session: Session, subject_id: str) -> list[dict[str, Any]]:
    """The signed documents of the endorsements of ``subject_id`` not revoked, newest first."""
    return active_documents_of(session, [subject_id])[subject_id]


def active_documents_of(
    session: Session, subject_ids: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """:func:`active_documents` of several subjects in one statement (every id is a key): the
    newest :data:`MAX_EMBEDDED` of each."""
    ids = list(dict.fromkeys(subject_ids))
    found: dict[str, list[dict[str, Any]]] = {subject_id: [] for subject_id in ids}
    if not ids:
        return found
    newest = (
        select(
            EndorsementRow.subject_id,
            EndorsementRow.document,
            func.row_number()
            .over(
                partition_by=EndorsementRow.subject_id,
                order_by=(EndorsementRow.issued_at.desc(), EndorsementRow.id),
            )
            .label("n"),
        )
        .where(EndorsementRow.subject_id.in_(ids), EndorsementRow.revoked_at.is_(None))
        .subquery()
    )
    rows = session.execute(
        select(newest.c.subject_id, newest.c.document)
        .where(newest.c.n <= MAX_EMBEDDED)
        .order_by(newest.c.subject_id, newest.c.n)
    )
    for subject_id, document in rows:
        found[subject_id].append(dict(document))
    return found


def count_active(session: Session, subject_ids: Iterable[str]) -> int:
    ids = list(subject_ids)
    if not ids:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(EndorsementRow)
            .where(EndorsementRow.subject_id.in_(ids), EndorsementRow.revoked_at.is_(None))
        )
        or 0
    )


def with_endorsements(
    session: Session,
    document: dict[str, Any],
    known: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """``document`` (an Achievement or a Profile, with an ``id``) with its active endorsements
    as ``endorsement`` (OB 3.0 §B.1.1 Achievement.endorsement, §B.2.14 Profile.endorsement);
    unchanged when it has none. ``known``: from :func:`active_documents_of`, read already."""
    subject_id = document.get("id")
    if not isinstance(subject_id, str):
        return document
    if known is not None and subject_id in known:
        found = known[subject_id]
    else:
        found = active_documents(session, subject_id)
    if not found:
        return document
    return {**document, "endorsement": found}
