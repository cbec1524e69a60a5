"""did:key parsing and offline resolution (merito.formats.did_key); vectors: tests/vectors."""

from __future__ import annotations

import pytest

from merito.errors import InvalidInput
from merito.formats.did_key import create_did_key, did_key_from_raw, parse_did_key, resolve_did_key
from merito.formats.multibase import ED25519_PUB, P256_PUB, X25519_PUB, encode_multikey

ED = encode_multikey(ED25519_PUB, bytes(range(32)))


def test_create_parse_resolve() -> None:
    did = create_did_key(ED)
    assert did == f"did:key:{ED}" == did_key_from_raw(ED25519_PUB, bytes(range(32)))
    parsed = parse_did_key(f"{did}#{ED}")
    assert (parsed.codec, parsed.raw, parsed.key_type) == (ED25519_PUB, bytes(range(32)), "Ed25519")
    document = resolve_did_key(did)
    assert document["assertionMethod"] == [f"{did}#{ED}"]
    assert "keyAgreement" not in document
    document["id"] = "mutated"
    assert resolve_did_key(did)["id"] == did  # each call returns a fresh document


@pytest.mark.parametrize(
    "did",
    [
        "did:web:example.com",
        "did:key:",
        "did:key:6Mk",
        "did:key:z0OIl",
        f"did:key:{encode_multikey(X25519_PUB, bytes(32))}",
        f"did:key:{encode_multikey(ED25519_PUB, bytes(31))}",
        f"did:key:{encode_multikey(P256_PUB, bytes(33))}",
    ],
)
def test_bad_did_keys_are_refused(did: str) -> None:
    with pytest.raises(InvalidInput):
        parse_did_key(did)
