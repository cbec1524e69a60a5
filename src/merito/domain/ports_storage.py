"""Storage ports: the Protocols the services use to keep issuer keys (repositories follow).

The key store is generic in the signer it hands out so that this module, at the bottom of the
layers, need not import ``merito.proofs``: services spell it ``KeyStore[Signer]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeVar, runtime_checkable

__all__ = ["IssuerKey", "KeyStatus", "KeyStore", "SealedSecret"]

KeyStatus = Literal["active", "retired"]

SignerT_co = TypeVar("SignerT_co", covariant=True)


@dataclass(frozen=True, slots=True)
class IssuerKey:
    """The public half of an organisation's signing key, as verifiers need it.

    Retired keys stay listed: credentials signed before a rotation must keep verifying.
    """

    org_id: str
    verification_method: str
    algorithm: str
    public_jwk: Mapping[str, str]
    status: KeyStatus
    created_at: datetime
    retired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """A secret sealed by the key store (AES-256-GCM): store all three, open with the store."""

    ciphertext: bytes
    nonce: bytes
    #: which master key sealed it (a fingerprint, not the key)
    master_key_id: str


@runtime_checkable
class KeyStore(Protocol[SignerT_co]):
    """Issuer signing keys, kept encrypted; only the public half ever leaves unencrypted."""

    def create_key(self, org_id: str, algorithm: str, *, did: str | None = None) -> str:
        """Generates and stores a key for ``org_id``; returns its verification method.

        One key per algorithm is active at a time: a second one is a Conflict (rotate instead).

        Without ``did`` the verification method is a did:key URL (Ed25519, P-256 only).
        """
        ...

    def signer(self, org_id: str, verification_method: str) -> SignerT_co:
        """The signer of an active key; raises NotFound, or InvalidKey if it cannot be used."""
        ...

    def public_keys(self, org_id: str) -> list[IssuerKey]:
        """Every key of ``org_id``, oldest first, retired ones included."""
        ...

    def rotate(self, org_id: str, *, did: str | None = None, algorithm: str | None = None) -> str:
        """Retires the active key (of ``algorithm``; needed when several are active) and creates
        its successor; returns the new verification method."""
        ...

    def seal(self, plaintext: bytes, *, context: Sequence[str]) -> SealedSecret:
        """Seals another secret (a learner's holder key); ``context`` is its associated data
        (a purpose and at least two values) and must be given again to open it."""
        ...

    def unseal(self, sealed: SealedSecret, *, context: Sequence[str]) -> bytes:
        """Opens what ``seal`` sealed with the same ``context``; raises InvalidKey otherwise."""
        ...
