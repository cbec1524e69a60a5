"""Achievements: drafts, immutable published versions, archiving, images and their public URLs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from merito.errors import Conflict, NotFound
from merito.storage.tables import AchievementRow, AchievementVersionRow

__all__ = ["published_version"]


def _achievement(session: Session, *, org_id: str, achievement_id: str) -> AchievementRow:
    row = session.get(AchievementRow, achievement_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"achievement {achievement_id!r} not found", property="achievement_id")
    return row


def published_version(
    session: Session, *, org_id: str, achievement_id: str
) -> AchievementVersionRow:
    """The version credentials of ``achievement_id`` embed now (the current published one).

    NotFound for an unknown achievement or one of another organisation; Conflict when it was
    never published or is archived (no more issuance).
    """
    row = _achievement(session, org_id=org_id, achievement_id=achievement_id)
    if row.status == "archived":
        raise Conflict(
            f"achievement {achievement_id!r} is archived: it is no longer issued",
            property="achievement_id",
        )
    if row.status != "published" or row.current_version is None:
        raise Conflict(
            f"achievement {achievement_id!r} is not published yet: publish it first",
            property="achievement_id",
        )
    version = session.scalars(
        select(AchievementVersionRow).where(
            AchievementVersionRow.achievement_id == achievement_id,
            AchievementVersionRow.org_id == org_id,
            AchievementVersionRow.version == row.current_version,
        )
    ).one_or_none()
    if version is None:  # the foreign data says published: a broken row is not the caller's fault
        raise NotFound(
            f"achievement {achievement_id!r} has no version {row.current_version}",
            property="achievement_id",
        )
    return version
