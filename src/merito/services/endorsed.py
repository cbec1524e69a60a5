"""What has been endorsed: the active EndorsementCredentials of an achievement or a profile.

A read helper in the caller's session, with no service imports of its own, so the catalog
(public achievement documents), the issuers service (public profiles) and issuance (the
achievement and issuer a credential embeds) can show endorsements without an import cycle.
The endorsements service (``merito.services.endorsements``) writes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from merito.storage.tables_trust import EndorsementRow

__all__ = ["MAX_EMBEDDED", "active_documents", "count_active", "with_endorsements"]

#: the newest endorsements embedded in one document (each is a signed credential)
MAX_EMBEDDED: Final = 10


def active_documents(session: Session, subject_id: str) -> list[dict[str, Any]]:
    """The signed documents of the endorsements of ``subject_id`` not revoked, newest first."""
    rows = session.scalars(
        select(EndorsementRow.document)
        .where(EndorsementRow.subject_id == subject_id, EndorsementRow.revoked_at.is_(None))
        .order_by(EndorsementRow.issued_at.desc(), EndorsementRow.id)
        .limit(MAX_EMBEDDED)
    )
    return [dict(document) for document in rows]


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


def with_endorsements(session: Session, document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (an Achievement or a Profile, with an ``id``) with its active endorsements
    as ``endorsement`` (OB 3.0 §B.1.1 Achievement.endorsement, §B.2.14 Profile.endorsement);
    unchanged when it has none."""
    subject_id = document.get("id")
    if not isinstance(subject_id, str):
        return document
    found = active_documents(session, subject_id)
    if not found:
        return document
    return {**document, "endorsement": found}
