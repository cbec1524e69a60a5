"""Issuer signing keys kept in the database, sealed with AES-256-GCM under the master key.

The key-encryption key is HKDF-SHA256(master key) (RFC 5869); each private JWK is sealed with
its own random 96-bit nonce (NIST SP 800-38D §8.2.2) and with the row's organisation id and
verification method as associated data, so a ciphertext copied to another row does not open.
A fingerprint of the master key is stored beside each key: a wrong master key is reported as
such, a tampered row as tampered. The database alone never reveals a private key.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from merito.domain.ports import Clock, SystemClock
from merito.domain.ports_storage import IssuerKey, SealedSecret
from merito.errors import Conflict, InvalidKey, NotFound
from merito.formats.did_key import create_did_key
from merito.formats.multibase import b64url_encode
from merito.proofs.keys import (
    ALGORITHMS,
    PrivateKey,
    Signer,
    generate_key,
    private_key_from_jwk,
    private_key_to_jwk,
)
from merito.storage.db import integrity_as_conflict
from merito.storage.tables import IssuerKeyRow, OrganisationRow

__all__ = ["MIN_MASTER_KEY_BYTES", "KeyStore"]

MIN_MASTER_KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
_HKDF_SALT: Final = b"merito keystore"
_KEK_INFO: Final = b"merito/issuer-keys/aes-256-gcm/v1"
_KEY_ID_INFO: Final = b"merito/issuer-keys/master-key-id/v1"


def _hkdf(master_key: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=_HKDF_SALT, info=info).derive(
        master_key
    )


def _associated_data(org_id: str, verification_method: str) -> bytes:
    # a JSON array is unambiguous whatever characters the two values hold
    return json.dumps([org_id, verification_method], separators=(",", ":")).encode()


def _context_data(context: Sequence[str]) -> bytes:
    return json.dumps(list(context), separators=(",", ":")).encode()


def _jwk_thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 §3: SHA-256 over the required members, sorted, without whitespace."""
    required = {
        "OKP": ("crv", "kty", "x"),
        "EC": ("crv", "kty", "x", "y"),
        "RSA": ("e", "kty", "n"),
    }
    members = {name: jwk[name] for name in required[jwk["kty"]]}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return b64url_encode(hashlib.sha256(canonical).digest())


def _jose_algorithm(name: str) -> str:
    """``EdDSA``, ``ES256`` or ``RS256`` for a JOSE name or a key type (``Ed25519``, ...)."""
    if name in ALGORITHMS:
        return name
    for jose, key_type in ALGORITHMS.items():
        if name == key_type:
            return jose
    raise InvalidKey(
        f"unknown key algorithm {name!r}; use Ed25519, P-256 or RSA", property="algorithm"
    )


def _verification_method(key: PrivateKey, did: str | None) -> str:
    """did:key URL without ``did``; under a DID, the RFC 7638 thumbprint names the key."""
    if did is not None:
        if not did.startswith("did:") or "#" in did:
            raise InvalidKey(f"{did!r} is not a DID (did:method:...)", property="did")
        return f"{did}#{_jwk_thumbprint(key.public_key.to_jwk())}"
    if key.public_key.key_type == "RSA":
        raise InvalidKey(
            "RSA keys have no did:key form; give the DID that publishes the key (did:web:...)",
            property="did",
        )
    multikey = key.public_key.to_multibase()
    return f"{create_did_key(multikey)}#{multikey}"


class KeyStore:
    """The encrypted issuer key store (implements ``merito.domain.ports_storage.KeyStore``)."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        master_key: bytes,
        *,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(master_key, bytes) or len(master_key) < MIN_MASTER_KEY_BYTES:
            raise InvalidKey(
                f"the key store master key must be at least {MIN_MASTER_KEY_BYTES} random bytes",
                property="master_key",
            )
        self._sessions = session_factory
        self._aead = AESGCM(_hkdf(master_key, _KEK_INFO, 32))
        self._master_key_id = _hkdf(master_key, _KEY_ID_INFO, 8).hex()
        self._clock = clock or SystemClock()

    # --- the port -------------------------------------------------------------------------

    def create_key(self, org_id: str, algorithm: str, *, did: str | None = None) -> str:
        key = generate_key(algorithm)
        with self._sessions.begin() as session:
            self._require_org(session, org_id)
            if self._active(session, org_id, key.algorithm):
                raise Conflict(
                    f"organisation {org_id!r} already has an active {key.algorithm} key; "
                    "rotate it instead",
                    property="org_id",
                )
            row = self._new_row(org_id, key, did)
            session.add(row)
            with integrity_as_conflict():
                session.flush()
            return row.verification_method

    def signer(
        self, org_id: str, verification_method: str, *, session: Session | None = None
    ) -> Signer:
        """With ``session``, the sealed row is read in the caller's transaction: a caller
        inside one must not wait for a second pooled connection (under load every connection
        can be held by such callers, and none would ever be returned)."""
        query = select(IssuerKeyRow).where(
            IssuerKeyRow.org_id == org_id,
            IssuerKeyRow.verification_method == verification_method,
        )
        if session is not None:
            row = session.scalars(query).one_or_none()
        else:
            with self._sessions() as own:
                row = own.scalars(query).one_or_none()
        if row is None:
            raise NotFound(
                f"organisation {org_id!r} has no key {verification_method!r}",
                property="verification_method",
            )
        if row.status != "active":
            raise InvalidKey(
                f"key {verification_method!r} is retired: it verifies old credentials but "
                "signs nothing new",
                property="verification_method",
            )
        return Signer(key=self._open(row), verification_method=row.verification_method)

    def public_keys(self, org_id: str) -> list[IssuerKey]:
        with self._sessions() as session:
            rows = session.scalars(
                select(IssuerKeyRow)
                .where(IssuerKeyRow.org_id == org_id)
                .order_by(IssuerKeyRow.created_at, IssuerKeyRow.id)
            ).all()
        return [
            IssuerKey(
                org_id=row.org_id,
                verification_method=row.verification_method,
                algorithm=row.algorithm,
                public_jwk=dict(row.public_jwk),
                status="active" if row.status == "active" else "retired",
                created_at=row.created_at,
                retired_at=row.retired_at,
            )
            for row in rows
        ]

    def rotate(self, org_id: str, *, did: str | None = None, algorithm: str | None = None) -> str:
        wanted = None if algorithm is None else _jose_algorithm(algorithm)
        with self._sessions.begin() as session:
            self._require_org(session, org_id)
            actives = self._active(session, org_id, wanted)
            if not actives:
                which = "" if wanted is None else f" {wanted}"
                raise NotFound(
                    f"organisation {org_id!r} has no active{which} key to rotate",
                    property="org_id",
                )
            if len(actives) > 1:
                raise InvalidKey(
                    f"organisation {org_id!r} has active keys for "
                    f"{', '.join(sorted(k.algorithm for k in actives))}: say which to rotate",
                    property="algorithm",
                )
            active = actives[0]
            active.status = "retired"
            active.retired_at = self._clock.now()
            # retire first: one active key per organisation and algorithm (a partial unique index)
            with integrity_as_conflict():
                session.flush()
            row = self._new_row(org_id, generate_key(active.algorithm), did)
            session.add(row)
            with integrity_as_conflict():
                session.flush()
            return row.verification_method

    def seal(self, plaintext: bytes, *, context: Sequence[str]) -> SealedSecret:
        """Seals a secret that is not an issuer key (a learner's holder key) under the master key.

        ``context`` (e.g. ``["holder-key", user_id, did]``) is the associated data: the
        ciphertext only opens with the same values. Its first element names the purpose, so a
        sealed secret never opens as an issuer key (whose associated data has two elements).
        """
        if len(context) < 3:
            raise InvalidKey("a sealing context needs a purpose and two values", property="context")
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aead.encrypt(nonce, plaintext, _context_data(context))
        return SealedSecret(ciphertext=ciphertext, nonce=nonce, master_key_id=self._master_key_id)

    def unseal(self, sealed: SealedSecret, *, context: Sequence[str]) -> bytes:
        """The secret ``seal`` sealed with this ``context``; InvalidKey when it does not open."""
        if sealed.master_key_id != self._master_key_id:
            raise InvalidKey(
                f"this secret was sealed under another master key (id {sealed.master_key_id}, "
                f"configured {self._master_key_id}): check the configured master key",
                property="master_key",
            )
        try:
            return self._aead.decrypt(sealed.nonce, sealed.ciphertext, _context_data(context))
        except InvalidTag:
            raise InvalidKey(
                "the sealed secret does not authenticate: its ciphertext, nonce or context "
                "was changed",
                property="encrypted_private_key",
            ) from None

    # --- sealing ----------------------------------------------------------------------------

    def _new_row(self, org_id: str, key: PrivateKey, did: str | None) -> IssuerKeyRow:
        verification_method = _verification_method(key, did)
        nonce = os.urandom(NONCE_BYTES)
        plaintext = json.dumps(private_key_to_jwk(key), sort_keys=True).encode()
        return IssuerKeyRow(
            id=str(uuid.uuid4()),
            org_id=org_id,
            verification_method=verification_method,
            algorithm=key.algorithm,
            public_jwk=key.public_key.to_jwk(),
            encrypted_private_key=self._aead.encrypt(
                nonce, plaintext, _associated_data(org_id, verification_method)
            ),
            nonce=nonce,
            master_key_id=self._master_key_id,
            status="active",
            created_at=self._clock.now(),
        )

    def _open(self, row: IssuerKeyRow) -> PrivateKey:
        vm = row.verification_method
        if row.master_key_id != self._master_key_id:
            raise InvalidKey(
                f"key {vm!r} was sealed under another master key (id {row.master_key_id}, "
                f"configured {self._master_key_id}): check the configured master key",
                property="master_key",
            )
        try:
            plaintext = self._aead.decrypt(
                row.nonce, row.encrypted_private_key, _associated_data(row.org_id, vm)
            )
        except InvalidTag:
            raise InvalidKey(
                f"the sealed private key of {vm!r} does not authenticate: its ciphertext, nonce, "
                "organisation or verification method was changed",
                property="encrypted_private_key",
            ) from None
        jwk: Any = json.loads(plaintext)
        key = private_key_from_jwk(jwk)
        if key.public_key.to_jwk() != row.public_jwk:
            raise InvalidKey(
                f"the private key of {vm!r} does not match its stored public key",
                property="public_jwk",
            )
        return key

    @staticmethod
    def _active(session: Session, org_id: str, algorithm: str | None) -> list[IssuerKeyRow]:
        """The active keys of ``org_id`` (of ``algorithm``, a JOSE name, when given), locked."""
        query = select(IssuerKeyRow).where(
            IssuerKeyRow.org_id == org_id, IssuerKeyRow.status == "active"
        )
        if algorithm is not None:
            query = query.where(IssuerKeyRow.algorithm == algorithm)
        return list(session.scalars(query.order_by(IssuerKeyRow.algorithm).with_for_update()))

    @staticmethod
    def _require_org(session: Session, org_id: str) -> None:
        if session.get(OrganisationRow, org_id) is None:
            raise NotFound(f"no organisation {org_id!r}", property="org_id")
