"""Shared test material for the verification pipeline: a seeded did:key issuer, fake fetchers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from merito.domain.ports import FetchResponse, FixedClock
from merito.errors import FetchError
from merito.formats.did_key import create_did_key
from merito.formats.status_list import (
    bitstring_status_list_credential,
    bitstring_status_list_entry,
    encode_status_list,
    new_status_list,
    set_status,
)
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key
from merito.proofs.resolution import VerificationMethodResolver
from merito.verification import VerifyOptions

FIXTURES = Path(__file__).parents[2] / "fixtures"
VALIDATOR_OB30 = FIXTURES / "ob3-examples" / "validator-ob30"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SIGNED_AT = datetime(2024, 1, 1, tzinfo=UTC)


def _did_key_signer(seed: int) -> Signer:
    key = generate_key("Ed25519", seed=bytes([seed]) * 32)
    multibase = key.public_key.to_multibase()
    return Signer(key=key, verification_method=f"{create_did_key(multibase)}#{multibase}")


ISSUER = _did_key_signer(7)
OTHER = _did_key_signer(9)
STATUS_URL = "https://issuer.example/status/1"


EXTENSIONS_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"


def revocation_list_credential(url: str) -> dict[str, Any]:
    """An OB 3.0 credential whose status is a 1EdTechRevocationList (a type the OB 3.0
    extensions context defines: without it, the credential could not be signed)."""
    credential = ob3_credential(credentialStatus={"id": url, "type": "1EdTechRevocationList"})
    credential["@context"].append(EXTENSIONS_CONTEXT)
    return credential


def ob3_credential(issuer: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A minimal valid OB 3.0 AchievementCredential issued by ``issuer`` (default ISSUER)."""
    credential: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "urn:uuid:9a2b7e5c-1111-4c4c-8d8d-123456789abc",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {
            "id": issuer or ISSUER.controller,
            "type": ["Profile"],
            "name": "Merito Test University",
        },
        "validFrom": "2024-01-01T00:00:00Z",
        "name": "Python Fundamentals",
        "credentialSubject": {
            "id": "did:example:learner-42",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://issuer.example/achievements/python",
                "type": ["Achievement"],
                "name": "Python Fundamentals",
                "description": "Writes and tests small Python programs.",
                "criteria": {"narrative": "Passed the final project."},
            },
        },
    }
    credential.update(overrides)
    return credential


def sign(document: dict[str, Any], signer: Signer = ISSUER) -> dict[str, Any]:
    return data_integrity.sign(document, signer=signer, created=SIGNED_AT)


@dataclass
class FakeFetcher:
    """An in-memory Fetcher: serves ``documents`` (JSON or text) and records every URL asked."""

    documents: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    status: int = 200

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        self.calls.append(url)
        if url not in self.documents:
            raise FetchError(f"no route to {url}")
        body = self.documents[url]
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        return FetchResponse(status=self.status, body=raw, content_type="application/json", url=url)


class ExplodingFetcher:
    """A Fetcher that must never be used: records the call, then raises."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        self.calls.append(url)
        raise AssertionError(f"nothing may be fetched, but {url} was")


def status_list_document(
    *,
    revoked: tuple[int, ...] = (),
    purpose: str = "revocation",
    signer: Signer = ISSUER,
    **kw: Any,
) -> dict[str, Any]:
    bits = new_status_list()
    for index in revoked:
        set_status(bits, index, 1)
    unsigned = bitstring_status_list_credential(
        id=kw.pop("url", STATUS_URL),
        issuer=kw.pop("issuer", signer.controller),
        encoded_list=kw.pop("encoded_list", encode_status_list(bits)),
        status_purpose=purpose,
        valid_from="2024-01-01T00:00:00Z",
        **kw,
    )
    return sign(unsigned, signer)


def options(**kw: Any) -> VerifyOptions:
    kw.setdefault("clock", FixedClock(NOW))
    return VerifyOptions(**kw)


def entry(index: int, purpose: str = "revocation", url: str = STATUS_URL) -> dict[str, Any]:
    return bitstring_status_list_entry(
        status_list_credential=url, index=index, status_purpose=purpose
    )


def controller_document(verification_method: str) -> dict[str, Any]:
    """A CID document for an https issuer whose key id ends in its Multikey (1EdTech style)."""
    controller, _, multibase = verification_method.partition("#")
    return {
        "@context": ["https://www.w3.org/ns/cid/v1"],
        "id": controller,
        "verificationMethod": [
            {
                "id": verification_method,
                "type": "Multikey",
                "controller": controller,
                "publicKeyMultibase": multibase,
            }
        ],
        "assertionMethod": [verification_method],
    }


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((VALIDATOR_OB30 / name).read_text(encoding="utf-8"))


def fixture_resolver(*documents: dict[str, Any]) -> VerificationMethodResolver:
    """A resolver that knows the controller documents of the 1EdTech fixtures' https keys."""
    controllers = {}
    for document in documents:
        proofs = document.get("proof")
        for proof in proofs if isinstance(proofs, list) else [proofs]:
            vm = proof.get("verificationMethod") if isinstance(proof, dict) else None
            if isinstance(vm, str) and vm.startswith("https://") and "#z6Mk" in vm:
                controllers[vm.split("#")[0]] = controller_document(vm)
    return VerificationMethodResolver(documents=controllers)
