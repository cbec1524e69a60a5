"""Issuer key files: a private key with the verification method that names it, as JSON.

The file is what `merito keys new` writes and `merito issue --key` reads. Writing it to disk
(with 0600 permissions) is the CLI's job; this module only converts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from merito.errors import InvalidKey
from merito.formats.did_key import create_did_key, resolve_did_key
from merito.formats.did_web import VerificationKeySpec, build_did_web_document
from merito.proofs.keys import (
    PrivateKey,
    Signer,
    generate_key,
    private_key_from_jwk,
    private_key_to_jwk,
)

KEY_FILE_TYPE: Final = "MeritoKeyFile"
ALGORITHMS: Final = {"ed25519": "Ed25519", "p-256": "P-256", "p256": "P-256", "rsa": "RSA"}


def new_signer(algorithm: str, *, did: str | None = None, seed: bytes | None = None) -> Signer:
    """A fresh key and its verification method: did:key unless ``did`` (e.g. did:web) is given."""
    name = ALGORITHMS.get(algorithm.lower())
    if name is None:
        raise InvalidKey(
            f"unknown key type {algorithm!r}; choose one of ed25519, p-256, rsa", property="type"
        )
    key = generate_key(name, seed=seed)
    return Signer(key=key, verification_method=verification_method_for(key, did=did))


def verification_method_for(key: PrivateKey, *, did: str | None = None) -> str:
    """``did:key:z…#z…`` for Ed25519/P-256, or ``<did>#key-1`` under a DID the caller controls."""
    if did is not None:
        if not did.startswith("did:"):
            raise InvalidKey(f"{did!r} is not a DID (it must start with 'did:')", property="did")
        return f"{did}#key-1"
    if key.public_key.key_type == "RSA":
        raise InvalidKey(
            "RSA keys have no did:key form here; give the DID that will publish the key "
            "(e.g. --did did:web:issuer.example.org)",
            property="did",
        )
    multikey = key.public_key.to_multibase()
    return f"{create_did_key(multikey)}#{multikey}"


def key_file_document(signer: Signer) -> dict[str, Any]:
    """The JSON document of a key file (contains the private key: keep it secret)."""
    return {
        "type": KEY_FILE_TYPE,
        "version": 1,
        "algorithm": signer.key.public_key.key_type,
        "controller": signer.controller,
        "verificationMethod": signer.verification_method,
        "publicKeyMultibase": _public_multibase(signer.key),
        "privateKeyJwk": private_key_to_jwk(signer.key),
    }


def signer_from_key_file(document: Any) -> Signer:
    """Reads a key file document; raises InvalidKey naming what is wrong."""
    if not isinstance(document, Mapping) or document.get("type") != KEY_FILE_TYPE:
        raise InvalidKey(
            f"not a Merito key file (expected a JSON object with type {KEY_FILE_TYPE!r})",
            property="type",
        )
    vm = document.get("verificationMethod")
    if not isinstance(vm, str) or "#" not in vm:
        raise InvalidKey(
            "key file has no verificationMethod DID URL (did:...#fragment)",
            property="verificationMethod",
        )
    jwk = document.get("privateKeyJwk")
    if not isinstance(jwk, Mapping):
        raise InvalidKey("key file has no privateKeyJwk object", property="privateKeyJwk")
    key = private_key_from_jwk(jwk)
    if vm.startswith("did:key:"):
        expected = verification_method_for(key)
        if expected != vm:
            raise InvalidKey(
                "key file is inconsistent: its private key does not match its did:key",
                property="verificationMethod",
            )
    return Signer(key=key, verification_method=vm)


def _public_multibase(key: PrivateKey) -> str | None:
    if key.public_key.key_type == "RSA":  # no Multikey form for RSA; the JWK carries the public key
        return None
    return key.public_key.to_multibase()


def did_document(signer: Signer) -> dict[str, Any]:
    """The DID document that publishes the signer's public key.

    For did:web this is the file to serve at the DID's URL (``/.well-known/did.json``);
    for did:key it is the document every verifier derives from the DID itself.
    """
    if signer.controller.startswith("did:key:"):
        return resolve_did_key(signer.controller)
    if not signer.controller.startswith("did:web:"):
        raise InvalidKey(
            f"cannot build a DID document for {signer.controller!r}: only did:key and did:web",
            property="controller",
        )
    fragment = signer.verification_method.partition("#")[2]
    public = signer.key.public_key
    if public.key_type == "RSA":
        spec = VerificationKeySpec(fragment=fragment, public_key_jwk=public.to_jwk())
    else:
        spec = VerificationKeySpec(fragment=fragment, public_key_multibase=public.to_multibase())
    return build_did_web_document(signer.controller, [spec])
