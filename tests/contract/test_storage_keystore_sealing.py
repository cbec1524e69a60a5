"""The key store's generic sealing (holder keys): round trip, context binding, tampering."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy.orm import Session, sessionmaker

from merito.domain.ports_storage import SealedSecret
from merito.errors import InvalidKey
from merito.storage.keystore import KeyStore

MASTER_KEY = bytes(range(32))
CONTEXT = ["holder-key", "user-1", "did:key:z6Mkexample"]


@pytest.fixture
def keystore(sessions: sessionmaker[Session]) -> KeyStore:
    return KeyStore(sessions, MASTER_KEY)


def test_a_sealed_secret_opens_only_with_its_context(keystore: KeyStore) -> None:
    sealed = keystore.seal(b"secret jwk", context=CONTEXT)
    assert b"secret jwk" not in sealed.ciphertext
    assert len(sealed.nonce) == 12
    assert keystore.unseal(sealed, context=CONTEXT) == b"secret jwk"
    assert keystore.seal(b"secret jwk", context=CONTEXT).nonce != sealed.nonce  # fresh nonces
    for other in (
        ["holder-key", "user-2", CONTEXT[2]],
        ["holder-key", "user-1", "did:key:z6Mkother"],
        ["issuer-key", "user-1", CONTEXT[2]],
    ):
        with pytest.raises(InvalidKey, match="does not authenticate"):
            keystore.unseal(sealed, context=other)


def test_tampering_and_a_wrong_master_key_are_named(
    keystore: KeyStore, sessions: sessionmaker[Session]
) -> None:
    sealed = keystore.seal(b"secret", context=CONTEXT)
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]
    with pytest.raises(InvalidKey, match="does not authenticate"):
        keystore.unseal(dataclasses.replace(sealed, ciphertext=flipped), context=CONTEXT)
    other = KeyStore(sessions, bytes(range(1, 33)))
    with pytest.raises(InvalidKey, match="another master key"):
        other.unseal(sealed, context=CONTEXT)
    forged = SealedSecret(
        ciphertext=sealed.ciphertext,
        nonce=sealed.nonce,
        master_key_id=other.seal(b"x", context=CONTEXT).master_key_id,
    )
    with pytest.raises(InvalidKey):
        other.unseal(forged, context=CONTEXT)


def test_a_context_needs_a_purpose_and_two_values(keystore: KeyStore) -> None:
    # two elements is the issuer keys' associated-data shape: never produced by seal
    with pytest.raises(InvalidKey, match="purpose"):
        keystore.seal(b"x", context=["org", "did:web:x#k"])
