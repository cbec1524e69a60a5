"""did:web <-> URL mapping and DID document construction (merito.formats.did_web)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merito.errors import InvalidInput
from merito.formats.did_web import (
    VerificationKeySpec,
    build_did_web_document,
    did_web_to_url,
    url_to_did_web,
)


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:example.com", "https://example.com/.well-known/did.json"),
        ("did:web:example.com:user:alice", "https://example.com/user/alice/did.json"),
        ("did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json"),
        ("did:web:example.com%3A3000:u:1", "https://example.com:3000/u/1/did.json"),
        (
            "did:web:w3c-ccg.github.io:user:alice#key-1",
            "https://w3c-ccg.github.io/user/alice/did.json",
        ),
    ],
)
def test_did_to_url(did: str, url: str) -> None:
    assert did_web_to_url(did) == url


@pytest.mark.parametrize(
    ("url", "did"),
    [
        ("https://example.com", "did:web:example.com"),
        ("https://example.com/.well-known/did.json", "did:web:example.com"),
        ("https://example.com/user/alice/did.json", "did:web:example.com:user:alice"),
        ("https://example.com:3000/user/alice", "did:web:example.com%3A3000:user:alice"),
    ],
)
def test_url_to_did(url: str, did: str) -> None:
    assert url_to_did_web(url) == did


@pytest.mark.parametrize(
    "did",
    [
        "did:key:z6Mk",
        "did:web:",
        "did:web:exa mple.com",
        "did:web:example.com:..",
        "did:web:example.com:%2E%2E",
        "did:web:example.com:a%2Fb",
        "did:web:user@example.com",
        "did:web:example.com::x",
        "did:web:-example.com",
    ],
)
def test_invalid_dids_are_refused(did: str) -> None:
    with pytest.raises(InvalidInput):
        did_web_to_url(did)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "https://",
        "https://u:p@example.com",
        "https://example.com/?q=1",
        "https://example.com/#f",
    ],
)
def test_invalid_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        url_to_did_web(url)


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(
    st.lists(_label, min_size=1, max_size=3),
    st.none() | st.integers(min_value=1, max_value=65535),
    st.lists(st.from_regex(r"[A-Za-z0-9_~-]{1,8}", fullmatch=True), max_size=3),
)
def test_round_trip(labels: list[str], port: int | None, path: list[str]) -> None:
    host = ".".join(labels) + (f":{port}" if port else "")
    url = f"https://{host}/" + "".join(f"{p}/" for p in path)
    did = url_to_did_web(url)
    assert url_to_did_web(did_web_to_url(did)) == did
    assert did_web_to_url(did).startswith(f"https://{host}/")


def test_build_document_with_multikey_and_jwk() -> None:
    did = "did:web:example.com:issuers:1"
    rsa_jwk = {"kty": "RSA", "n": "AQAB", "e": "AQAB"}
    document = build_did_web_document(
        did,
        [
            VerificationKeySpec("key-1", public_key_multibase="z6MkExample"),
            VerificationKeySpec("rsa", public_key_jwk=rsa_jwk, relationships=("assertionMethod",)),
        ],
    )
    assert document == {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
            "https://w3id.org/security/jwk/v1",
        ],
        "id": did,
        "verificationMethod": [
            {
                "id": f"{did}#key-1",
                "controller": did,
                "type": "Multikey",
                "publicKeyMultibase": "z6MkExample",
            },
            {"id": f"{did}#rsa", "controller": did, "type": "JsonWebKey", "publicKeyJwk": rsa_jwk},
        ],
        "assertionMethod": [f"{did}#key-1", f"{did}#rsa"],
        "authentication": [f"{did}#key-1"],
    }


@pytest.mark.parametrize(
    "spec",
    [
        VerificationKeySpec("k"),
        VerificationKeySpec("k", public_key_multibase="z6Mk", public_key_jwk={"kty": "OKP"}),
        VerificationKeySpec("", public_key_multibase="z6Mk"),
        VerificationKeySpec("k", public_key_jwk={"kty": "EC", "d": "secret"}),
    ],
)
def test_build_document_refuses_bad_keys(spec: VerificationKeySpec) -> None:
    with pytest.raises(InvalidInput):
        build_did_web_document("did:web:example.com", [spec])


def test_build_document_needs_a_did_not_a_did_url() -> None:
    with pytest.raises(InvalidInput):
        build_did_web_document("did:web:example.com#k", [])
