"""Bulk inserts (COPY, executemany) store what SQLAlchemy's own INSERT stores, on both databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from merito.errors import Conflict
from merito.storage.bulk import JsonText, dumps, insert_rows
from merito.storage.db import integrity_as_conflict
from merito.storage.tables import AuditLogRow, OrganisationRow, OutboxRow

TABLE = OutboxRow.__table__


def _message(key: str, payload: Any, **fields: Any) -> dict[str, Any]:
    at = datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    values = {
        "org_id": None,
        "topic": "webhook.test",
        "payload": payload,
        "idempotency_key": key,
        "created_at": at,
        "available_at": at,
        "delivered_at": None,
    }
    values.update(fields)
    return values


def test_rows_read_back_as_sqlalchemy_writes_them(
    sessions: sessionmaker[Session], new_org: Callable[[], str]
) -> None:
    org_id = new_org()
    payload = {"name": "Zoë", "n": 2**70, "x": 2.5, "nested": [1, {"a": None}]}
    later = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)
    with sessions.begin() as session:
        session.execute(insert(TABLE), [_message("core", payload, org_id=org_id)])
        insert_rows(
            session,
            TABLE,
            [
                _message("fast", payload, org_id=org_id),
                _message("text", JsonText(dumps(payload)), org_id=org_id, delivered_at=later),
            ],
        )
    with sessions() as session:
        rows = {r.idempotency_key: r for r in session.scalars(select(OutboxRow))}
        stored = dict(session.execute(text("SELECT idempotency_key, created_at FROM outbox")).all())
    core, fast, pre = rows["core"], rows["fast"], rows["text"]
    for row in (fast, pre):
        assert row.payload == core.payload == payload
        assert row.created_at == core.created_at == datetime(2026, 11, 1, 7, 30, 15, 123456, UTC)
        assert row.org_id == org_id
        assert row.attempts == 0  # server defaults still apply to the columns not given
    assert fast.delivered_at is None
    assert pre.delivered_at == later
    # the stored form itself is SQLAlchemy's (e.g. SQLite's timestamp text)
    assert stored["fast"] == stored["core"]


def test_audit_rows_get_their_autoincrement_ids_in_order(
    sessions: sessionmaker[Session], new_org: Callable[[], str]
) -> None:
    org_id = new_org()
    at = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        {"actor": "user:ada", "org_id": org_id, "action": "t", "target": str(n), "ip": None}
        | {"at": at, "details": {"n": n}}
        for n in range(5)
    ]
    with sessions.begin() as session:
        insert_rows(session, AuditLogRow.__table__, rows)
    with sessions() as session:
        got = session.scalars(select(AuditLogRow).order_by(AuditLogRow.id)).all()
    assert [(r.target, r.details) for r in got] == [(str(n), {"n": n}) for n in range(5)]


def test_a_unique_violation_is_a_conflict_naming_the_property(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        insert_rows(session, TABLE, [_message("k", {})])
    with pytest.raises(Conflict) as caught, integrity_as_conflict(), sessions.begin() as session:
        insert_rows(session, TABLE, [_message("other", {}), _message("k", {})])
    assert caught.value.property == "idempotency_key"
    assert isinstance(caught.value.__cause__, IntegrityError)
    with sessions() as session:  # the whole batch rolled back
        assert session.scalars(select(OutboxRow.idempotency_key)).all() == ["k"]


def test_rows_must_set_the_same_columns(sessions: sessionmaker[Session]) -> None:
    short = _message("b", {})
    del short["delivered_at"]
    with pytest.raises(ValueError, match="same columns"), sessions.begin() as session:
        insert_rows(session, TABLE, [_message("a", {}), short])


def test_dumps_is_json() -> None:
    value = {"a": [1, 2.5, "é", None, True], "big": 2**80, 3: "int key"}
    assert json.loads(dumps(value)) == json.loads(json.dumps(value))
    with pytest.raises(TypeError):
        dumps({"when": datetime(2026, 1, 1, tzinfo=UTC)})  # as json.dumps: not JSON


def test_pending_orm_rows_are_flushed_first(sessions: sessionmaker[Session]) -> None:
    org_id = "0b7c9a52-46b8-4f43-9a51-3b2f4c1d7e10"
    with sessions.begin() as session:
        session.add(OrganisationRow(id=org_id, slug="pending", name="Pending", kind="issuer"))
        # the message refers to the organisation, not yet flushed
        insert_rows(session, TABLE, [_message("m", {}, org_id=org_id)])
    with sessions() as session:
        assert session.scalars(select(OutboxRow.org_id)).all() == [org_id]
