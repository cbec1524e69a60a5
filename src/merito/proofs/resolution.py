"""Verification method resolution: DID URL -> public key, with the relationships it is listed in.

Controlled Identifiers 1.0 §3.3 (Retrieve Verification Method): dereference the controller
document (the URL before ``#``), find the method whose ``id`` is the DID URL, check that its
``controller`` is that document, and parse its key (Multikey, Ed25519VerificationKey2020/2018,
JsonWebKey/JsonWebKey2020). did:key resolves offline (cached); did:web and https controller
documents only through an injected ``Fetcher``; ``documents`` is a local map of controller
documents (issuers hosted by Merito, tests). Errors are ProofError with the CID problem code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Final

from merito.domain.ports import Fetcher
from merito.errors import FetchError, InvalidInput, MeritoError, ProofError
from merito.formats.did_key import parse_did_key
from merito.formats.did_web import did_web_to_url
from merito.formats.json_depth import too_deep
from merito.formats.multibase import b58decode
from merito.proofs.keys import (
    Ed25519PublicKey,
    PublicKey,
    public_key_from_jwk,
    public_key_from_multibase,
)

__all__ = [
    "RELATIONSHIPS",
    "VerificationMethod",
    "VerificationMethodResolver",
    "method_from_document",
]

#: Verification relationships of Controlled Identifiers 1.0 §2.3.
RELATIONSHIPS: Final = (
    "authentication",
    "assertionMethod",
    "keyAgreement",
    "capabilityInvocation",
    "capabilityDelegation",
)
_DID_KEY_RELATIONSHIPS: Final = frozenset(
    ("authentication", "assertionMethod", "capabilityInvocation", "capabilityDelegation")
)
_MAX_DOCUMENT_BYTES: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class VerificationMethod:
    """A resolved verification method: ``controller`` is the document that lists it."""

    id: str
    type: str
    controller: str
    public_key: PublicKey
    relationships: frozenset[str] = frozenset()


def _error(message: str, problem: str, prop: str = "verificationMethod") -> ProofError:
    return ProofError(message, problem=problem, property=prop)


def _absolute(ref: str, base: str) -> str:
    return base + ref if ref.startswith("#") else ref


def _parse_key(method: Mapping[str, Any], vm_id: str) -> PublicKey:
    """The public key of a verification method object, by its ``type``."""
    vm_type = method.get("type")
    try:
        if vm_type in ("Multikey", "Ed25519VerificationKey2020"):
            value = method.get("publicKeyMultibase")
            if not isinstance(value, str):
                raise InvalidInput(f"{vm_type} needs a string publicKeyMultibase")
            key = public_key_from_multibase(value)
            if vm_type == "Ed25519VerificationKey2020" and not isinstance(key, Ed25519PublicKey):
                raise InvalidInput("Ed25519VerificationKey2020 must hold an Ed25519 key")
            return key
        if vm_type == "Ed25519VerificationKey2018":
            value = method.get("publicKeyBase58")
            if not isinstance(value, str):
                raise InvalidInput("Ed25519VerificationKey2018 needs a string publicKeyBase58")
            return Ed25519PublicKey(b58decode(value))
        if vm_type in ("JsonWebKey", "JsonWebKey2020"):
            jwk = method.get("publicKeyJwk")
            if not isinstance(jwk, Mapping):
                raise InvalidInput(f"{vm_type} needs an object publicKeyJwk")
            if "d" in jwk:
                raise InvalidInput("publicKeyJwk must not contain private key material ('d')")
            return public_key_from_jwk(jwk)
    except MeritoError as e:
        raise _error(
            f"verification method {vm_id!r} has an unusable key: {e.message}",
            "INVALID_VERIFICATION_METHOD",
        ) from e
    raise _error(
        f"verification method {vm_id!r} has unsupported type {vm_type!r} "
        "(expected Multikey, Ed25519VerificationKey2020, JsonWebKey or JsonWebKey2020)",
        "INVALID_VERIFICATION_METHOD",
    )


def method_from_document(document: Mapping[str, Any], vm_id: str) -> VerificationMethod:
    """Find ``vm_id`` in a controller document (CID 1.0 §3.3) and parse its key."""
    if not isinstance(document, Mapping):
        raise _error("controller document is not a JSON object", "INVALID_CONTROLLER_DOCUMENT")
    doc_id = document.get("id")
    controller = vm_id.split("#", 1)[0]
    if doc_id != controller:
        raise _error(
            f"controller document id {doc_id!r} does not match {controller!r}",
            "INVALID_CONTROLLER_DOCUMENT_ID",
        )
    candidates: list[Any] = []
    methods = document.get("verificationMethod", [])
    candidates.extend(methods if isinstance(methods, list) else [methods])
    relationships: set[str] = set()
    for relationship in RELATIONSHIPS:
        entries = document.get(relationship, [])
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, str) and _absolute(entry, doc_id) == vm_id:
                relationships.add(relationship)
            elif isinstance(entry, Mapping):
                candidates.append(entry)
                if _absolute(str(entry.get("id", "")), doc_id) == vm_id:
                    relationships.add(relationship)
    for method in candidates:
        if not isinstance(method, Mapping) or not isinstance(method.get("id"), str):
            continue
        if _absolute(method["id"], doc_id) != vm_id:
            continue
        vm_controller = method.get("controller")
        if not isinstance(vm_controller, str) or _absolute(vm_controller, doc_id) != doc_id:
            raise _error(
                f"verification method {vm_id!r} has controller {vm_controller!r}, "
                f"not the document that lists it ({doc_id!r})",
                "INVALID_VERIFICATION_METHOD",
            )
        return VerificationMethod(
            id=vm_id,
            type=str(method.get("type")),
            controller=doc_id,
            public_key=_parse_key(method, vm_id),
            relationships=frozenset(relationships),
        )
    raise _error(
        f"verification method {vm_id!r} is not listed in its controller document {doc_id!r}",
        "INVALID_VERIFICATION_METHOD",
    )


@lru_cache(maxsize=4096)
def _resolve_did_key(vm_id: str) -> VerificationMethod:
    try:
        key = parse_did_key(vm_id)
    except InvalidInput as e:
        raise _error(
            f"verificationMethod {vm_id!r}: {e.message}", "INVALID_VERIFICATION_METHOD_URL"
        ) from e
    fragment = vm_id.partition("#")[2]
    if fragment and fragment != key.public_key_multibase:
        raise _error(
            f"verification method {vm_id!r} is not in its did:key document "
            f"(expected fragment #{key.public_key_multibase})",
            "INVALID_VERIFICATION_METHOD",
        )
    try:
        public_key = public_key_from_multibase(key.public_key_multibase)
    except MeritoError as e:
        raise _error(
            f"did:key {key.did!r} holds an invalid key: {e.message}",
            "INVALID_VERIFICATION_METHOD",
        ) from e
    return VerificationMethod(
        id=key.verification_method,
        type="Multikey",
        controller=key.did,
        public_key=public_key,
        relationships=_DID_KEY_RELATIONSHIPS,
    )


class VerificationMethodResolver:
    """Resolves verification method DID URLs to keys; never fetches without a ``fetcher``."""

    __slots__ = ("_cache", "_documents", "_fetcher")

    def __init__(
        self,
        *,
        fetcher: Fetcher | None = None,
        documents: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._documents: Mapping[str, Mapping[str, Any]] = MappingProxyType(dict(documents or {}))
        self._cache: dict[str, VerificationMethod] = {}

    def resolve(self, vm_id: str) -> VerificationMethod:
        """The verification method named by ``vm_id``; raises ProofError when it cannot."""
        if not isinstance(vm_id, str) or not vm_id:
            raise _error(
                "verificationMethod must be a non-empty string URL",
                "INVALID_VERIFICATION_METHOD_URL",
            )
        if vm_id.startswith("did:key:"):
            return _resolve_did_key(vm_id)
        cached = self._cache.get(vm_id)
        if cached is not None:
            return cached
        controller, sep, fragment = vm_id.partition("#")
        if not sep or not fragment:
            raise _error(
                f"verificationMethod {vm_id!r} must be a URL with a #fragment",
                "INVALID_VERIFICATION_METHOD_URL",
            )
        local = self._documents.get(controller)
        if local is not None:
            method = method_from_document(local, vm_id)
            self._cache[vm_id] = method  # local documents do not change under us
            return method
        return method_from_document(self._fetch(controller), vm_id)

    def _fetch(self, controller: str) -> Mapping[str, Any]:
        if controller.startswith("did:web:"):
            try:
                url = did_web_to_url(controller)
            except InvalidInput as e:
                raise _error(e.message, "INVALID_VERIFICATION_METHOD_URL") from e
        elif controller.startswith("https://"):
            url = controller
        elif controller.startswith("did:"):
            method = controller.split(":", 2)[1] if controller.count(":") >= 2 else ""
            raise _error(
                f"DID method {method!r} of {controller!r} is not supported "
                "(supported: did:key, did:web)",
                "INVALID_VERIFICATION_METHOD_URL",
            )
        else:
            raise _error(
                f"cannot resolve {controller!r}: not a did:key, did:web or https URL",
                "INVALID_VERIFICATION_METHOD_URL",
            )
        if self._fetcher is None:
            what = "did:web" if controller.startswith("did:web:") else "https controller documents"
            raise _error(
                f"cannot resolve {what} offline: {controller!r} needs a fetcher "
                "(none was given to the resolver)",
                "INVALID_CONTROLLER_DOCUMENT",
            )
        try:
            response = self._fetcher.fetch(url, accept="application/did+json, application/json")
        except FetchError as e:
            raise _error(
                f"could not fetch controller document {url!r}: {e.message}",
                "INVALID_CONTROLLER_DOCUMENT",
            ) from e
        if response.status != 200:
            raise _error(
                f"controller document {url!r} answered HTTP {response.status}",
                "INVALID_CONTROLLER_DOCUMENT",
            )
        if len(response.body) > _MAX_DOCUMENT_BYTES:
            raise _error(f"controller document {url!r} is too large", "INVALID_CONTROLLER_DOCUMENT")
        if too_deep(response.body):  # json.loads's C recursion could overflow the stack
            raise _error(
                f"controller document {url!r} is nested too deeply", "INVALID_CONTROLLER_DOCUMENT"
            )
        try:
            document = json.loads(response.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise _error(
                f"controller document {url!r} is not JSON: {e}", "INVALID_CONTROLLER_DOCUMENT"
            ) from e
        if not isinstance(document, dict):
            raise _error(
                f"controller document {url!r} is not a JSON object", "INVALID_CONTROLLER_DOCUMENT"
            )
        return document
