"""Verification method resolution (merito.proofs.resolution)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from merito.domain.ports import FetchResponse
from merito.errors import FetchError, ProofError
from merito.formats.did_key import create_did_key
from merito.formats.multibase import b58encode
from merito.proofs.keys import Ed25519PublicKey, generate_key
from merito.proofs.resolution import VerificationMethodResolver

ED = generate_key("Ed25519", seed=b"\x05" * 32)
P256 = generate_key("P-256", seed=b"resolution")
ED_MB = ED.public_key.to_multibase()
DID_WEB = "did:web:example.com:issuers:1"


@dataclass
class FakeFetcher:
    """Serves fixed responses by URL and records what was asked."""

    responses: dict[str, FetchResponse]
    calls: list[str] = field(default_factory=list)

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        self.calls.append(url)
        if url not in self.responses:
            raise FetchError(f"refused {url}")
        return self.responses[url]


def _doc(controller: str, method: dict[str, Any], **relationships: list[Any]) -> dict[str, Any]:
    return {"id": controller, "verificationMethod": [method], **relationships}


def _multikey(vm_id: str, controller: str = DID_WEB) -> dict[str, Any]:
    return {"id": vm_id, "type": "Multikey", "controller": controller, "publicKeyMultibase": ED_MB}


def test_did_key_resolves_offline_and_is_cached() -> None:
    did = create_did_key(ED_MB)
    resolver = VerificationMethodResolver()
    method = resolver.resolve(f"{did}#{ED_MB}")
    assert method.public_key == ED.public_key
    assert method.controller == did
    assert method.type == "Multikey"
    assert "assertionMethod" in method.relationships
    assert "keyAgreement" not in method.relationships
    assert VerificationMethodResolver().resolve(f"{did}#{ED_MB}") is method  # lru cache
    assert resolver.resolve(did).id == f"{did}#{ED_MB}"


def test_did_key_with_a_foreign_fragment_fails() -> None:
    did = create_did_key(ED_MB)
    with pytest.raises(ProofError) as excinfo:
        VerificationMethodResolver().resolve(f"{did}#key-1")
    assert excinfo.value.problem == "INVALID_VERIFICATION_METHOD"


def test_local_documents_with_relative_ids() -> None:
    document = _doc(DID_WEB, _multikey("#key-1", controller=DID_WEB), assertionMethod=["#key-1"])
    method = VerificationMethodResolver(documents={DID_WEB: document}).resolve(f"{DID_WEB}#key-1")
    assert method.id == f"{DID_WEB}#key-1"
    assert method.relationships == frozenset({"assertionMethod"})


def test_embedded_method_in_a_relationship() -> None:
    document = {"id": DID_WEB, "authentication": [_multikey(f"{DID_WEB}#auth")]}
    method = VerificationMethodResolver(documents={DID_WEB: document}).resolve(f"{DID_WEB}#auth")
    assert method.relationships == frozenset({"authentication"})


@pytest.mark.parametrize(
    ("method", "key"),
    [
        (
            {"type": "Ed25519VerificationKey2020", "publicKeyMultibase": ED_MB},
            ED.public_key,
        ),
        (
            {"type": "Ed25519VerificationKey2018", "publicKeyBase58": b58encode(ED.public_key.raw)}
            if isinstance(ED.public_key, Ed25519PublicKey)
            else {},
            ED.public_key,
        ),
        ({"type": "JsonWebKey2020", "publicKeyJwk": P256.public_key.to_jwk()}, P256.public_key),
        ({"type": "JsonWebKey", "publicKeyJwk": ED.public_key.to_jwk()}, ED.public_key),
        (
            {"type": "Multikey", "publicKeyMultibase": P256.public_key.to_multibase()},
            P256.public_key,
        ),
    ],
)
def test_verification_method_types(method: dict[str, Any], key: Any) -> None:
    vm = {"id": f"{DID_WEB}#k", "controller": DID_WEB, **method}
    document = _doc(DID_WEB, vm, assertionMethod=[vm["id"]])
    resolved = VerificationMethodResolver(documents={DID_WEB: document}).resolve(vm["id"])
    assert resolved.public_key == key


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"id": "did:web:other.example"}, "INVALID_CONTROLLER_DOCUMENT_ID"),
        ({"id": DID_WEB, "verificationMethod": []}, "INVALID_VERIFICATION_METHOD"),
        (
            _doc(DID_WEB, _multikey(f"{DID_WEB}#k", controller="did:web:evil.example")),
            "INVALID_VERIFICATION_METHOD",
        ),
        (
            _doc(DID_WEB, {**_multikey(f"{DID_WEB}#k"), "type": "RsaVerificationKey2018"}),
            "INVALID_VERIFICATION_METHOD",
        ),
        (
            _doc(DID_WEB, {**_multikey(f"{DID_WEB}#k"), "publicKeyMultibase": "zzz"}),
            "INVALID_VERIFICATION_METHOD",
        ),
        (
            _doc(
                DID_WEB,
                {
                    "id": f"{DID_WEB}#k",
                    "type": "JsonWebKey2020",
                    "controller": DID_WEB,
                    "publicKeyJwk": {**P256.public_key.to_jwk(), "d": "AA"},
                },
            ),
            "INVALID_VERIFICATION_METHOD",
        ),
        (
            _doc(
                DID_WEB,
                {
                    "id": f"{DID_WEB}#k",
                    "type": "Ed25519VerificationKey2020",
                    "controller": DID_WEB,
                    "publicKeyMultibase": P256.public_key.to_multibase(),
                },
            ),
            "INVALID_VERIFICATION_METHOD",
        ),
    ],
)
def test_bad_controller_documents(document: dict[str, Any], problem: str) -> None:
    with pytest.raises(ProofError) as excinfo:
        VerificationMethodResolver(documents={DID_WEB: document}).resolve(f"{DID_WEB}#k")
    assert excinfo.value.problem == problem
    assert excinfo.value.message


def test_did_web_without_a_fetcher_says_so() -> None:
    with pytest.raises(ProofError, match="cannot resolve did:web offline"):
        VerificationMethodResolver().resolve(f"{DID_WEB}#k")


def test_did_web_through_the_fetcher() -> None:
    document = _doc(DID_WEB, _multikey(f"{DID_WEB}#k"), assertionMethod=[f"{DID_WEB}#k"])
    url = "https://example.com/issuers/1/did.json"
    fetcher = FakeFetcher({url: FetchResponse(200, json.dumps(document).encode())})
    method = VerificationMethodResolver(fetcher=fetcher).resolve(f"{DID_WEB}#k")
    assert method.public_key == ED.public_key
    assert fetcher.calls == [url]


def test_https_controller_through_the_fetcher() -> None:
    controller = "https://example.edu/issuers/565049"
    document = _doc(controller, _multikey(f"{controller}#k", controller), assertionMethod=["#k"])
    fetcher = FakeFetcher({controller: FetchResponse(200, json.dumps(document).encode())})
    method = VerificationMethodResolver(fetcher=fetcher).resolve(f"{controller}#k")
    assert method.controller == controller


@pytest.mark.parametrize(
    "response",
    [
        FetchResponse(404, b"{}"),
        FetchResponse(200, b"not json"),
        FetchResponse(200, b"[1, 2]"),
        FetchResponse(200, b"\xff\xfe"),
        FetchResponse(200, b" " * (300 * 1024)),
    ],
)
def test_bad_fetched_documents(response: FetchResponse) -> None:
    fetcher = FakeFetcher({"https://example.com/issuers/1/did.json": response})
    with pytest.raises(ProofError) as excinfo:
        VerificationMethodResolver(fetcher=fetcher).resolve(f"{DID_WEB}#k")
    assert excinfo.value.problem == "INVALID_CONTROLLER_DOCUMENT"


def test_fetch_errors_become_proof_errors() -> None:
    with pytest.raises(ProofError, match="could not fetch"):
        VerificationMethodResolver(fetcher=FakeFetcher({})).resolve(f"{DID_WEB}#k")


@pytest.mark.parametrize(
    "vm_id",
    ["", "did:example:123#k", "ftp://example.com#k", "did:web:example.com", "did:web:bad host#k"],
)
def test_unresolvable_urls(vm_id: str) -> None:
    with pytest.raises(ProofError) as excinfo:
        VerificationMethodResolver(fetcher=FakeFetcher({})).resolve(vm_id)
    assert excinfo.value.problem == "INVALID_VERIFICATION_METHOD_URL"


def test_local_documents_are_copied() -> None:
    documents = {DID_WEB: _doc(DID_WEB, _multikey(f"{DID_WEB}#k"), assertionMethod=["#k"])}
    resolver = VerificationMethodResolver(documents=documents)
    documents.clear()
    assert resolver.resolve(f"{DID_WEB}#k").controller == DID_WEB
