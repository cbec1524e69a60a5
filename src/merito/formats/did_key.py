"""did:key for Ed25519 (``z6Mk...``) and P-256 (``zDn...``): create, parse and resolve offline.

The DID Key Method v0.9 (W3C CCG): ``did:key:`` + the Multikey ``publicKeyMultibase`` of the
key; resolving yields a DID document with one Multikey verification method whose fragment is
that same value, listed in every verification relationship except keyAgreement. Pure string and
byte work: checking that a P-256 point is on the curve is left to ``merito.proofs.keys``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from merito.errors import InvalidInput
from merito.formats.multibase import ED25519_PUB, P256_PUB, decode_multikey, encode_multikey

__all__ = [
    "DID_KEY_CONTEXT",
    "DidKey",
    "create_did_key",
    "did_key_from_raw",
    "parse_did_key",
    "resolve_did_key",
]

DID_KEY_CONTEXT: Final = ("https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1")
_PREFIX: Final = "did:key:"
_KEY_LENGTHS: Final = {ED25519_PUB: 32, P256_PUB: 33}
_KEY_TYPES: Final = {ED25519_PUB: "Ed25519", P256_PUB: "P-256"}
_RELATIONSHIPS: Final = (
    "authentication",
    "assertionMethod",
    "capabilityInvocation",
    "capabilityDelegation",
)


@dataclass(frozen=True, slots=True)
class DidKey:
    """A parsed did:key: the DID, its Multikey value, multicodec code and raw key bytes."""

    did: str
    public_key_multibase: str
    codec: int
    raw: bytes

    @property
    def key_type(self) -> str:
        """``Ed25519`` or ``P-256``."""
        return _KEY_TYPES[self.codec]

    @property
    def verification_method(self) -> str:
        """The DID URL of the key's one verification method (``did#fragment``)."""
        return f"{self.did}#{self.public_key_multibase}"


def create_did_key(public_key_multibase: str) -> str:
    """``did:key:`` + a Multikey value, after checking that it is a supported key."""
    return _parse_multibase(public_key_multibase).did


def did_key_from_raw(codec: int, raw: bytes) -> str:
    """The did:key of raw public key bytes (``ED25519_PUB`` 32 bytes, ``P256_PUB`` 33 bytes)."""
    return create_did_key(encode_multikey(codec, raw))


@lru_cache(maxsize=4096)
def _parse_multibase(value: str) -> DidKey:
    if not value.startswith("z"):
        raise InvalidInput(
            f"did:key identifier {value!r} must be base58btc multibase (start with 'z')",
            property="did",
        )
    try:
        codec, raw = decode_multikey(value)
    except InvalidInput as e:
        raise InvalidInput(f"did:key identifier {value!r}: {e.message}", property="did") from e
    expected = _KEY_LENGTHS.get(codec)
    if expected is None:
        raise InvalidInput(
            f"did:key multicodec 0x{codec:x} is not supported (Ed25519 0xed, P-256 0x1200)",
            property="did",
        )
    if len(raw) != expected:
        raise InvalidInput(
            f"did:key {_KEY_TYPES[codec]} key must be {expected} bytes, got {len(raw)}",
            property="did",
        )
    if codec == P256_PUB and raw[0] not in (2, 3):
        raise InvalidInput("did:key P-256 key must be a compressed SEC1 point", property="did")
    return DidKey(did=_PREFIX + value, public_key_multibase=value, codec=codec, raw=raw)


def parse_did_key(did: str) -> DidKey:
    """Parse ``did:key:z...`` (a fragment or query, if any, is ignored)."""
    if not isinstance(did, str) or not did.startswith(_PREFIX):
        raise InvalidInput(f"{did!r} is not a did:key", property="did")
    method_specific = did[len(_PREFIX) :].split("#", 1)[0].split("?", 1)[0]
    return _parse_multibase(method_specific)


def resolve_did_key(did: str) -> dict[str, Any]:
    """The DID document of a did:key (a fresh dict each call: callers may mutate it)."""
    key = parse_did_key(did)
    vm_id = key.verification_method
    document: dict[str, Any] = {
        "@context": list(DID_KEY_CONTEXT),
        "id": key.did,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "Multikey",
                "controller": key.did,
                "publicKeyMultibase": key.public_key_multibase,
            }
        ],
    }
    for relationship in _RELATIONSHIPS:
        document[relationship] = [vm_id]
    return document
