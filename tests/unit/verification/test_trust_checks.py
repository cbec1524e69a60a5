"""The pure trust layer: the registry format and its signature, the ``trust`` check's answers,
embedded endorsements, the DID Configuration check, and quality facts (no database)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from merito.domain.verification import Outcome
from merito.errors import InvalidInput, ProofError
from merito.formats.did_key import create_did_key
from merito.formats.quality import assessment_alignment, eqf_alignment, quality_of
from merito.formats.trust_registry import RegistryEntry, build_registry, parse_registry
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key
from merito.proofs.resolution import VerificationMethodResolver
from merito.proofs.vc_jwt import sign_jwt
from merito.verification import VerifyOptions, verify
from merito.verification.trust import (
    DID_CONFIGURATION_CONTEXT,
    check_domain_linkage,
    embedded_endorsements,
    verify_registry,
    with_trust_checks,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ISSUER = "did:example:issuer"


def _signer(seed: int) -> Signer:
    key = generate_key("Ed25519", seed=bytes([seed]) * 32)
    multibase = key.public_key.to_multibase()
    return Signer(key=key, verification_method=f"{create_did_key(multibase)}#{multibase}")


def _registry(signer: Signer, entries: list[RegistryEntry]) -> dict[str, Any]:
    unsigned = build_registry(
        registry_id="https://registry.example.org/r.json",
        name="Accreditors",
        publisher=signer.controller,
        publisher_name="Accreditation body",
        version=3,
        issued=NOW,
        entries=entries,
    )
    return data_integrity.sign(unsigned, signer=signer, cryptosuite="eddsa-jcs-2022", created=NOW)


def _entry(status: str = "active", removed: datetime | None = None) -> RegistryEntry:
    return RegistryEntry(
        id=ISSUER,
        profile="https://issuer.example.org/",
        name="Issuer",
        status=status,  # type: ignore[arg-type]
        since=datetime(2026, 1, 1, tzinfo=UTC),
        removed=removed,
        reason="lapsed" if removed else None,
    )


def test_registry_round_trip_and_signature() -> None:
    signer = _signer(1)
    document = _registry(signer, [_entry()])
    registry = verify_registry(document)
    assert registry.publisher == signer.controller
    assert registry.version == 3
    assert registry.lookup([ISSUER]) == _entry()
    assert registry.lookup("https://issuer.example.org/") == _entry()
    assert registry.lookup("did:example:other") is None
    tampered = copy.deepcopy(document)
    tampered["credentialSubject"]["issuers"][0]["status"] = "removed"
    tampered["credentialSubject"]["issuers"][0]["removed"] = "2026-02-01T00:00:00Z"
    with pytest.raises(ProofError):
        verify_registry(tampered)
    stranger = _registry(_signer(2), [_entry()])
    stranger["issuer"] = {"id": signer.controller}  # claims a publisher that did not sign it
    with pytest.raises(ProofError):
        verify_registry(stranger)
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    with pytest.raises(ProofError):
        verify_registry(unsigned)


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        (lambda d: d.update(type=["VerifiableCredential"]), "type"),
        (lambda d: d["credentialSubject"].update(issuers={}), "credentialSubject.issuers"),
        (
            lambda d: d["credentialSubject"]["issuers"][0].update(status="paused"),
            "credentialSubject.issuers[0].status",
        ),
        (
            lambda d: d["credentialSubject"]["issuers"][0].update(since="yesterday"),
            "credentialSubject.issuers[0].since",
        ),
        (
            lambda d: d["credentialSubject"]["issuers"][0].update(id="not a did"),
            "credentialSubject.issuers[0].id",
        ),
    ],
)
def test_malformed_registries_name_the_property(change: Any, prop: str) -> None:
    document = _registry(_signer(1), [_entry()])
    change(document)
    with pytest.raises(InvalidInput) as raised:
        parse_registry(document)
    assert raised.value.property == prop


def _credential(valid_from: datetime) -> dict[str, Any]:
    signer = _signer(9)
    unsigned = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": {"id": signer.controller, "url": "https://issuer.example.org/"},
        "validFrom": valid_from.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "credentialSubject": {"id": "did:example:learner"},
    }
    return data_integrity.sign(
        unsigned, signer=signer, cryptosuite="eddsa-jcs-2022", created=valid_from
    )


def _trust(credential: dict[str, Any], entries: list[RegistryEntry]) -> tuple[Outcome, str]:
    registry = verify_registry(_registry(_signer(1), entries))
    options = with_trust_checks(VerifyOptions(clock=_Clock()), [registry])
    check = verify(credential, options=options).check("trust")
    assert check is not None
    return check.outcome, check.message


class _Clock:
    def now(self) -> datetime:
        return NOW


def test_the_trust_check_answers() -> None:
    credential = _credential(datetime(2026, 3, 1, tzinfo=UTC))
    # the registry names the issuer by its profile URL (the credential's issuer.url)
    outcome, message = _trust(credential, [_entry()])
    assert outcome is Outcome.PASS
    assert "known to the registry Accreditors since 2026-01-01" in message
    outcome, message = _trust(credential, [])
    assert outcome is Outcome.WARNING
    assert message.startswith("Unknown issuer")
    before = _entry("removed", removed=datetime(2026, 2, 1, tzinfo=UTC))
    outcome, message = _trust(credential, [before])
    assert outcome is Outcome.FAIL
    assert "removed from the registry Accreditors on 2026-02-01 (lapsed)" in message
    after = _entry("removed", removed=datetime(2026, 4, 1, tzinfo=UTC))
    outcome, message = _trust(credential, [after])
    assert outcome is Outcome.WARNING
    assert "issued earlier (2026-03-01)" in message
    none = verify(credential, options=with_trust_checks(VerifyOptions(clock=_Clock())))
    assert none.check("trust").outcome is Outcome.SKIPPED  # type: ignore[union-attr]
    assert none.verified


def test_embedded_endorsements_are_found_everywhere() -> None:
    credential = {
        "id": "urn:c",
        "endorsement": [{"id": "e1"}],
        "issuer": {"id": "did:i", "endorsementJwt": "a.b.c"},
        "credentialSubject": {"achievement": {"id": "https://a", "endorsement": {"id": "e2"}}},
    }
    assert [(w, s) for w, s, _ in embedded_endorsements(credential)] == [
        ("credential", "urn:c"),
        ("achievement", "https://a"),
        ("issuer", "did:i"),
    ]


def _configuration(signer: Signer, *, origin: str, days: int = 30) -> dict[str, Any]:
    credential = {
        "@context": ["https://www.w3.org/2018/credentials/v1", DID_CONFIGURATION_CONTEXT],
        "issuer": signer.controller,
        "issuanceDate": "2026-05-01T00:00:00Z",
        "expirationDate": (NOW + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": ["VerifiableCredential", "DomainLinkageCredential"],
        "credentialSubject": {"id": signer.controller, "origin": origin},
    }
    token = sign_jwt(credential, signer=signer, now=NOW)
    return {"@context": DID_CONFIGURATION_CONTEXT, "linked_dids": [token]}


def test_domain_linkage() -> None:
    signer = _signer(4)
    did, origin = signer.controller, "https://issuer.example.org"
    resolver = VerificationMethodResolver()

    def outcome(configuration: Any) -> tuple[Outcome, str]:
        check = check_domain_linkage(did, configuration, origin=origin, resolver=resolver, now=NOW)
        return check.outcome, check.message

    assert outcome(_configuration(signer, origin=origin))[0] is Outcome.PASS
    assert outcome(None)[0] is Outcome.WARNING
    assert outcome({"linked_dids": "x"})[0] is Outcome.FAIL
    wrong_origin = outcome(_configuration(signer, origin="https://evil.example"))
    assert wrong_origin[0] is Outcome.FAIL
    assert "origin" in wrong_origin[1]
    expired = outcome(_configuration(signer, origin=origin, days=-1))
    assert expired[0] is Outcome.FAIL
    assert "expired" in expired[1]
    other = outcome(_configuration(_signer(5), origin=origin))
    assert other[0] is Outcome.WARNING  # another DID's credential: this one is not listed
    forged = _configuration(signer, origin=origin)
    header, payload, _ = forged["linked_dids"][0].split(".")
    forged["linked_dids"] = [f"{header}.{payload}.AAAA"]
    assert outcome(forged)[0] is Outcome.FAIL


def test_quality_facts_from_conformant_places() -> None:
    achievement = {
        "achievementType": "Certificate",
        "creditsAvailable": 7.5,
        "fieldOfStudy": "Welding",
        "alignment": [
            eqf_alignment(4),
            assessment_alignment("portfolio", base_url="https://merito.test"),
            {"targetName": "x", "targetUrl": "https://x", "targetFramework": "ESCO"},
            {"targetName": "y", "targetUrl": "https://y", "targetFramework": "ESCO"},
        ],
        "otherIdentifier": [{"identifier": "W-4", "identifierType": "ext:Code"}],
    }
    quality = quality_of(achievement, hours=12)
    assert quality.eqf_level == 4
    assert quality.assessment_words == "a portfolio of work"
    assert quality.frameworks == ("ESCO",)
    assert quality.credits == 7.5
    assert quality.identifiers == ("ext:Code: W-4",)
    assert quality_of("not an achievement").empty
    with pytest.raises(ValueError, match="EQF"):
        eqf_alignment(9)
