"""The encrypted key store: sign/verify round trips, rotation, and refusal of any tampering."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from merito.domain.ports import FixedClock
from merito.domain.ports_storage import KeyStore as KeyStorePort
from merito.errors import Conflict, InvalidKey, NotFound
from merito.formats.did_key import resolve_did_key
from merito.formats.multibase import b64url_decode
from merito.proofs.keys import private_key_to_jwk, public_key_from_jwk
from merito.storage.db import create_engine_for, migrate, session_factory
from merito.storage.keystore import KeyStore
from merito.storage.tables import IssuerKeyRow, OrganisationRow

MASTER_KEY = bytes(range(32))
OTHER_MASTER_KEY = bytes(range(1, 33))
MESSAGE = b"canonical credential bytes"


@pytest.fixture
def keystore(sessions: sessionmaker[Session]) -> KeyStore:
    return KeyStore(sessions, MASTER_KEY)


def _row(sessions: sessionmaker[Session], verification_method: str) -> IssuerKeyRow:
    with sessions() as session:
        return session.scalars(
            select(IssuerKeyRow).where(IssuerKeyRow.verification_method == verification_method)
        ).one()


def test_keystore_implements_the_port(keystore: KeyStore) -> None:
    assert isinstance(keystore, KeyStorePort)


@pytest.mark.parametrize(
    ("algorithm", "did", "jose"),
    [
        ("Ed25519", None, "EdDSA"),
        ("P-256", None, "ES256"),
        ("Ed25519", "did:web:issuer.example.org", "EdDSA"),
        ("RSA", "did:web:issuer.example.org", "RS256"),
    ],
)
def test_round_trip_signs_what_the_public_key_verifies(
    keystore: KeyStore, new_org: Callable[[], str], algorithm: str, did: str | None, jose: str
) -> None:
    org_id = new_org()
    vm = keystore.create_key(org_id, algorithm, did=did)
    signer = keystore.signer(org_id, vm)
    assert signer.verification_method == vm
    assert signer.algorithm == jose
    (stored,) = keystore.public_keys(org_id)
    assert (stored.verification_method, stored.algorithm, stored.status) == (vm, jose, "active")
    public = public_key_from_jwk(stored.public_jwk)
    signature = signer.key.sign(MESSAGE)
    assert public.verify(MESSAGE, signature)
    assert not public.verify(MESSAGE + b"!", signature)
    assert "d" not in stored.public_jwk
    if did is None:
        # the did:key resolves, offline, to the very key stored
        document = resolve_did_key(vm.split("#", 1)[0])
        method = document["verificationMethod"][0]
        assert method["id"] == vm
        assert method["publicKeyMultibase"] == public.to_multibase()
    else:
        assert vm.startswith(f"{did}#")


def test_did_key_is_refused_for_rsa(keystore: KeyStore, new_org: Callable[[], str]) -> None:
    with pytest.raises(InvalidKey) as caught:
        keystore.create_key(new_org(), "RSA")
    assert caught.value.property == "did"


def test_a_second_active_key_is_a_conflict(keystore: KeyStore, new_org: Callable[[], str]) -> None:
    org_id = new_org()
    keystore.create_key(org_id, "Ed25519")
    with pytest.raises(Conflict, match="rotate") as caught:
        keystore.create_key(org_id, "EdDSA")
    assert caught.value.property == "org_id"


def test_one_active_key_per_algorithm(keystore: KeyStore, new_org: Callable[[], str]) -> None:
    # Ed25519 signs Data Integrity proofs, P-256 VC-JWTs: both may be active at once
    org_id = new_org()
    ed = keystore.create_key(org_id, "Ed25519")
    p256 = keystore.create_key(org_id, "P-256")
    with pytest.raises(InvalidKey, match="say which") as caught:
        keystore.rotate(org_id)
    assert caught.value.property == "algorithm"
    rotated = keystore.rotate(org_id, algorithm="ES256")
    status = {k.verification_method: k.status for k in keystore.public_keys(org_id)}
    assert status == {ed: "active", p256: "retired", rotated: "active"}
    with pytest.raises(NotFound):
        keystore.rotate(org_id, algorithm="RSA")


def test_keys_need_an_existing_organisation(keystore: KeyStore) -> None:
    with pytest.raises(NotFound) as caught:
        keystore.create_key("no-such-org", "Ed25519")
    assert caught.value.property == "org_id"


def test_unknown_verification_method_is_not_found(
    keystore: KeyStore, new_org: Callable[[], str]
) -> None:
    org_a, org_b = new_org(), new_org()
    vm = keystore.create_key(org_a, "Ed25519")
    # another organisation's key is not found either: keys never cross tenants
    for org_id, method in ((org_a, vm + "x"), (org_b, vm)):
        with pytest.raises(NotFound):
            keystore.signer(org_id, method)


def test_rotation_retires_the_old_key_but_keeps_it_resolvable(
    sessions: sessionmaker[Session], new_org: Callable[[], str]
) -> None:
    org_id = new_org()
    created = datetime(2026, 1, 1, tzinfo=UTC)
    rotated = datetime(2026, 6, 1, tzinfo=UTC)
    old_vm = KeyStore(sessions, MASTER_KEY, clock=FixedClock(created)).create_key(org_id, "P-256")
    old_signature = KeyStore(sessions, MASTER_KEY).signer(org_id, old_vm).key.sign(MESSAGE)

    new_vm = KeyStore(sessions, MASTER_KEY, clock=FixedClock(rotated)).rotate(org_id)

    keystore = KeyStore(sessions, MASTER_KEY)
    assert new_vm != old_vm
    old, new = keystore.public_keys(org_id)
    assert (old.verification_method, old.status) == (old_vm, "retired")
    assert (old.created_at, old.retired_at) == (created, rotated)
    assert (new.verification_method, new.status, new.retired_at) == (new_vm, "active", None)
    assert new.algorithm == old.algorithm == "ES256"
    # credentials signed before the rotation still verify with the listed old key
    assert public_key_from_jwk(old.public_jwk).verify(MESSAGE, old_signature)
    with pytest.raises(InvalidKey, match="retired"):
        keystore.signer(org_id, old_vm)
    assert public_key_from_jwk(new.public_jwk).verify(
        MESSAGE, keystore.signer(org_id, new_vm).key.sign(MESSAGE)
    )


def test_rotation_needs_an_active_key(keystore: KeyStore, new_org: Callable[[], str]) -> None:
    with pytest.raises(NotFound):
        keystore.rotate(new_org())


def test_wrong_master_key_is_refused(
    sessions: sessionmaker[Session], keystore: KeyStore, new_org: Callable[[], str]
) -> None:
    org_id = new_org()
    vm = keystore.create_key(org_id, "Ed25519")
    with pytest.raises(InvalidKey, match="another master key") as caught:
        KeyStore(sessions, OTHER_MASTER_KEY).signer(org_id, vm)
    assert caught.value.property == "master_key"


@pytest.mark.parametrize("master_key", [b"", bytes(31), "a string of more than 32 characters"])
def test_short_master_keys_are_refused(sessions: sessionmaker[Session], master_key: bytes) -> None:
    with pytest.raises(InvalidKey) as caught:
        KeyStore(sessions, master_key)
    assert caught.value.property == "master_key"


@pytest.mark.parametrize("column", ["encrypted_private_key", "nonce"])
def test_tampered_ciphertext_is_refused(
    sessions: sessionmaker[Session], keystore: KeyStore, new_org: Callable[[], str], column: str
) -> None:
    org_id = new_org()
    vm = keystore.create_key(org_id, "Ed25519")
    original: bytes = getattr(_row(sessions, vm), column)
    flipped = bytes([original[0] ^ 1]) + original[1:]
    with sessions.begin() as session:
        session.execute(
            update(IssuerKeyRow)
            .where(IssuerKeyRow.verification_method == vm)
            .values({column: flipped})
        )
    with pytest.raises(InvalidKey, match="does not authenticate") as caught:
        keystore.signer(org_id, vm)
    assert caught.value.property == "encrypted_private_key"


def test_ciphertext_is_bound_to_its_organisation_and_verification_method(
    sessions: sessionmaker[Session], keystore: KeyStore, new_org: Callable[[], str]
) -> None:
    org_a, org_b, org_c = new_org(), new_org(), new_org()
    vm_a = keystore.create_key(org_a, "Ed25519")
    vm_c = keystore.create_key(org_c, "Ed25519")
    row_a = _row(sessions, vm_a)
    with sessions.begin() as session:
        # org B gets an exact copy of org A's row: only org_id differs
        session.add(
            IssuerKeyRow(
                id="copied-row",
                org_id=org_b,
                verification_method=vm_a,
                algorithm=row_a.algorithm,
                public_jwk=row_a.public_jwk,
                encrypted_private_key=row_a.encrypted_private_key,
                nonce=row_a.nonce,
                master_key_id=row_a.master_key_id,
                status="active",
                created_at=row_a.created_at,
            )
        )
        # org C's row gets org A's sealed bytes under its own verification method
        session.execute(
            update(IssuerKeyRow)
            .where(IssuerKeyRow.verification_method == vm_c)
            .values(encrypted_private_key=row_a.encrypted_private_key, nonce=row_a.nonce)
        )
    for org_id, vm in ((org_b, vm_a), (org_c, vm_c)):
        with pytest.raises(InvalidKey, match="does not authenticate") as caught:
            keystore.signer(org_id, vm)
        assert caught.value.property == "encrypted_private_key"
    # the original row still opens: the refusal is about the binding, not the bytes
    assert keystore.signer(org_a, vm_a).verification_method == vm_a


def test_sqlite_file_holds_no_private_key_material(tmp_path: Path) -> None:
    database = tmp_path / "keys.db"
    engine = create_engine_for(f"sqlite:///{database}")
    try:
        migrate(engine)
        sessions = session_factory(engine)
        keystore = KeyStore(sessions, MASTER_KEY)
        secrets: list[bytes] = []
        public: list[bytes] = []
        for n, algorithm in enumerate(("Ed25519", "P-256")):
            with sessions.begin() as session:
                session.add(
                    OrganisationRow(id=f"org-{n}", slug=f"org-{n}", name="O", kind="issuer")
                )
            vm = keystore.create_key(f"org-{n}", algorithm)
            jwk = private_key_to_jwk(keystore.signer(f"org-{n}", vm).key)
            secrets += [jwk["d"].encode(), b64url_decode(jwk["d"])]
            public.append(jwk["x"].encode())
    finally:
        engine.dispose()
    # read the database and its WAL: the latest pages may not be checkpointed yet
    stored = b"".join(
        path.read_bytes()
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm"))
        if path.exists()
    )
    # the scan sees the rows: the public halves are there in clear
    assert all(x in stored for x in public)
    assert not [secret for secret in secrets if secret in stored]
