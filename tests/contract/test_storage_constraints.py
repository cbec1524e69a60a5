"""Uniqueness and reference violations surface as merito.errors.Conflict naming the property."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from merito.errors import Conflict
from merito.storage.db import integrity_as_conflict
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    Base,
    CredentialRow,
    IssuerKeyRow,
    MembershipRow,
    OutboxRow,
    UserRow,
)


def _id() -> str:
    return str(uuid.uuid4())


def _store(sessions: sessionmaker[Session], *rows: Base) -> None:
    with sessions.begin() as session, integrity_as_conflict():
        session.add_all(rows)
        session.flush()


def _conflict(sessions: sessionmaker[Session], *rows: Base) -> Conflict:
    with pytest.raises(Conflict) as caught:
        _store(sessions, *rows)
    assert isinstance(caught.value.__cause__, IntegrityError)
    return caught.value


def _user(email: str) -> UserRow:
    return UserRow(id=_id(), email=email, password_hash="$argon2id$...")


def _achievement_version(sessions: sessionmaker[Session], org_id: str) -> str:
    achievement_id, version_id = _id(), _id()
    _store(sessions, AchievementRow(id=achievement_id, org_id=org_id, current_version=1))
    _store(
        sessions,
        AchievementVersionRow(
            id=version_id,
            org_id=org_id,
            achievement_id=achievement_id,
            version=1,
            document={"type": ["Achievement"], "name": "Welding"},
        ),
    )
    return version_id


def _credential(org_id: str, version_id: str, **fields: Any) -> CredentialRow:
    values: dict[str, Any] = {
        "id": _id(),
        "org_id": org_id,
        "credential_id": f"urn:uuid:{_id()}",
        "achievement_version_id": version_id,
        "recipient": "ada@example.org",
        "document": {"type": ["VerifiableCredential", "OpenBadgeCredential"]},
    }
    values.update(fields)
    return CredentialRow(**values)


def test_user_email_is_unique(sessions: sessionmaker[Session]) -> None:
    _store(sessions, _user("ada@example.org"))
    conflict = _conflict(sessions, _user("ada@example.org"))
    assert conflict.property == "email"
    assert "email" in conflict.message


def test_user_email_must_be_stored_lower_case(sessions: sessionmaker[Session]) -> None:
    # a CHECK violation is a bug in the caller, not a conflict: it propagates unchanged
    with pytest.raises(IntegrityError):
        _store(sessions, _user("Ada@Example.org"))


def test_membership_pair_is_unique(
    sessions: sessionmaker[Session], new_org: Callable[[], str]
) -> None:
    org_id, user = new_org(), _user("grace@example.org")
    _store(sessions, user)
    _store(sessions, MembershipRow(org_id=org_id, user_id=user.id, role="owner"))
    conflict = _conflict(sessions, MembershipRow(org_id=org_id, user_id=user.id, role="viewer"))
    assert conflict.property == "user_id"


def test_credential_id_is_unique_across_organisations(
    sessions: sessionmaker[Session], new_org: Callable[[], str]
) -> None:
    org_a, org_b = new_org(), new_org()
    version_a, version_b = (
        _achievement_version(sessions, org_a),
        _achievement_version(sessions, org_b),
    )
    _store(sessions, _credential(org_a, version_a, credential_id="urn:uuid:same"))
    conflict = _conflict(sessions, _credential(org_b, version_b, credential_id="urn:uuid:same"))
    assert conflict.property == "credential_id"


def test_idempotency_key_is_unique_per_organisation(
    sessions: sessionmaker[Session], new_org: Callable[[], str]
) -> None:
    org_a, org_b = new_org(), new_org()
    version_a, version_b = (
        _achievement_version(sessions, org_a),
        _achievement_version(sessions, org_b),
    )
    _store(sessions, _credential(org_a, version_a, idempotency_key="req-1"))
    # another organisation may use the same key, and credentials without a key never collide
    _store(
        sessions,
        _credential(org_b, version_b, idempotency_key="req-1"),
        _credential(org_a, version_a),
        _credential(org_a, version_a),
    )
    conflict = _conflict(sessions, _credential(org_a, version_a, idempotency_key="req-1"))
    assert conflict.property == "idempotency_key"


def test_outbox_idempotency_key_is_unique(sessions: sessionmaker[Session]) -> None:
    def message() -> OutboxRow:
        return OutboxRow(topic="email.send", payload={"to": "ada@example.org"}, idempotency_key="k")

    _store(sessions, message())
    assert _conflict(sessions, message()).property == "idempotency_key"


def test_one_active_key_per_organisation(
    sessions: sessionmaker[Session], new_org: Callable[[], str]
) -> None:
    org_id = new_org()

    def key(n: int, status: str = "active") -> IssuerKeyRow:
        return IssuerKeyRow(
            id=_id(),
            org_id=org_id,
            verification_method=f"did:web:example.org#key-{n}",
            algorithm="EdDSA",
            public_jwk={"kty": "OKP"},
            encrypted_private_key=b"sealed",
            nonce=bytes(12),
            master_key_id="00",
            status=status,
        )

    _store(sessions, key(1), key(2, "retired"), key(3, "retired"))
    # the partial unique index is on (org_id, algorithm): one active key per algorithm
    assert _conflict(sessions, key(4)).property == "algorithm"


def test_a_reference_to_a_missing_row_is_a_conflict(sessions: sessionmaker[Session]) -> None:
    missing = _id()
    conflict = _conflict(sessions, _credential(missing, _id()))
    assert "does not exist" in conflict.message
