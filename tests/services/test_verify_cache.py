"""The verification caches, on SQLite and PostgreSQL: a cached signature check gives the same
report as a fresh one, while status, expiry and keys are read anew on every verification
(a credential revoked, suspended or expired after a cached verify shows it on the next one),
a tampered document or another key never meets a cached outcome, and the caches stay bounded.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from services_support import START, MovableClock, SeededOrg

from merito import bootstrap
from merito.config import Settings
from merito.domain.verification import VerificationReport
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import catalog, credentials, issuers, platform_verification, verify_cache
from merito.services.credentials import CredentialRecord
from merito.services.platform import Platform
from merito.verification import VerifyOptions

ACHIEVEMENT: dict[str, Any] = {
    "name": "SQL Fundamentals",
    "description": "Writes correct SELECT, JOIN and aggregate queries.",
    "criteria": {"narrative": "Scored at least 80% on the proctored SQL exam."},
}


def options(platform: Platform, cache: verify_cache.ProofResultCache | None) -> VerifyOptions:
    return VerifyOptions(clock=platform.clock, proof_cache=cache)


def verify(platform: Platform, document: dict[str, Any], base: VerifyOptions) -> VerificationReport:
    return platform_verification.verify_as_platform(platform, json.dumps(document), base)


def outcomes(report: VerificationReport) -> dict[str, str]:
    return {c.id: c.outcome.value for c in report.checks}


@pytest.fixture
def issue(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> Callable[..., tuple[SeededOrg, CredentialRecord]]:
    org = seed_org()
    made = catalog.create_achievement(platform, org.actor, org_id=org.org_id, fields=ACHIEVEMENT)
    catalog.publish_achievement(platform, org.actor, org_id=org.org_id, achievement_id=made.id)

    def issue(**kwargs: Any) -> tuple[SeededOrg, CredentialRecord]:
        record = credentials.issue_credential(
            platform,
            org.actor,
            org_id=org.org_id,
            achievement_id=made.id,
            recipient=kwargs.pop("recipient", "learner@example.org"),
            notify=False,
            **kwargs,
        )
        return org, record

    return issue


def test_a_cached_signature_check_gives_the_report_a_fresh_one_gives(
    platform: Platform, issue: Callable[..., tuple[SeededOrg, CredentialRecord]]
) -> None:
    _, record = issue()
    cache = verify_cache.ProofResultCache(100)
    fresh = verify(platform, record.document, options(platform, None))
    first = verify(platform, record.document, options(platform, cache))
    assert cache.hits == 0
    assert len(cache) == 2  # the credential's proof and its status list's proof
    second = verify(platform, record.document, options(platform, cache))
    assert cache.hits == 2
    assert fresh.verified, fresh.summary
    assert fresh.to_dict() == first.to_dict() == second.to_dict()


def test_a_revocation_after_a_cached_verify_shows_on_the_next_one(
    platform: Platform, issue: Callable[..., tuple[SeededOrg, CredentialRecord]]
) -> None:
    org, record = issue()
    base = options(platform, verify_cache.ProofResultCache(100))
    assert outcomes(verify(platform, record.document, base))["status"] == "pass"
    credentials.revoke(
        platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="in error"
    )
    report = verify(platform, record.document, base)
    assert not report.verified
    assert outcomes(report)["proof"] == "pass"  # the signature still holds (from the cache)
    assert outcomes(report)["status"] == "fail"


def test_a_suspension_shows_at_once_and_so_does_its_end(
    platform: Platform, issue: Callable[..., tuple[SeededOrg, CredentialRecord]]
) -> None:
    org, record = issue(status_purpose="suspension")
    cache = verify_cache.ProofResultCache(100)
    base = options(platform, cache)
    assert verify(platform, record.document, base).verified
    credentials.suspend(platform, org.actor, org_id=org.org_id, credential_id=record.id)
    suspended = verify(platform, record.document, base)
    assert not suspended.verified
    assert outcomes(suspended)["status"] == "fail"
    credentials.unsuspend(platform, org.actor, org_id=org.org_id, credential_id=record.id)
    assert verify(platform, record.document, base).verified
    assert cache.hits >= 2  # the credential's proof was not checked again


def test_expiry_is_checked_on_every_verification(
    platform: Platform,
    clock: MovableClock,
    issue: Callable[..., tuple[SeededOrg, CredentialRecord]],
) -> None:
    _, record = issue(valid_until=clock.now() + timedelta(hours=1))
    cache = verify_cache.ProofResultCache(100)
    base = options(platform, cache)
    assert verify(platform, record.document, base).verified
    clock.advance(hours=2)
    expired = verify(platform, record.document, base)
    assert not expired.verified
    assert outcomes(expired)["validity"] == "fail"
    assert outcomes(expired)["proof"] == "pass"
    assert cache.hits >= 1


def test_a_tampered_document_misses_the_cache_and_fails(
    platform: Platform, issue: Callable[..., tuple[SeededOrg, CredentialRecord]]
) -> None:
    _, record = issue()
    cache = verify_cache.ProofResultCache(100)
    base = options(platform, cache)
    assert verify(platform, record.document, base).verified
    stored = len(cache)
    tampered = copy.deepcopy(record.document)
    tampered["credentialSubject"]["achievement"]["name"] = "Advanced SQL"
    report = verify(platform, tampered, base)
    assert not report.verified
    assert outcomes(report)["proof"] == "fail"
    assert len(cache) == stored + 1  # a new entry: the failure, under the tampered digest
    again = verify(platform, tampered, base)
    assert again.to_dict() == report.to_dict()  # a cached failure reads like a fresh one
    assert verify(platform, record.document, base).verified


def test_after_a_key_rotation_old_and_new_credentials_verify(
    platform: Platform, issue: Callable[..., tuple[SeededOrg, CredentialRecord]]
) -> None:
    org, old = issue()
    base = options(platform, verify_cache.ProofResultCache(100))
    assert verify(platform, old.document, base).verified
    before = verify_cache.hosted_did_document(platform, org.slug)
    issuers.rotate_key(platform, org.actor, org_id=org.org_id)
    after = verify_cache.hosted_did_document(platform, org.slug)
    assert len(after["verificationMethod"]) == len(before["verificationMethod"]) + 1
    _, new = issue(recipient="second@example.org")
    assert (
        new.document["proof"]["verificationMethod"] != old.document["proof"]["verificationMethod"]
    )
    assert verify(platform, new.document, base).verified
    assert verify(platform, old.document, base).verified  # the retired key stays in the document


def _did_document(did: str, public_multibase: str) -> dict[str, Any]:
    vm = f"{did}#key-1"
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did,
        "verificationMethod": [
            {
                "id": vm,
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": public_multibase,
            }
        ],
        "assertionMethod": [vm],
    }


def test_another_key_under_the_same_method_id_never_meets_the_cached_outcome() -> None:
    did = "did:web:issuer.example"
    key_a, key_b = generate_key("Ed25519"), generate_key("Ed25519")
    document = data_integrity.sign(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": did,
            "credentialSubject": {"id": "did:example:learner"},
        },
        signer=Signer(key=key_a, verification_method=f"{did}#key-1"),
        cryptosuite="eddsa-rdfc-2022",
        created=START,
    )
    cache = verify_cache.ProofResultCache(10)

    def check(key_multibase: str) -> data_integrity.ProofResult:
        resolver = VerificationMethodResolver(documents={did: _did_document(did, key_multibase)})
        (result,) = data_integrity.verify(document, resolver=resolver, cache=cache)
        return result

    assert check(key_a.public_key.to_multibase()).verified
    replaced = check(key_b.public_key.to_multibase())  # the controller now lists another key
    assert not replaced.verified
    assert replaced.problem == "PROOF_VERIFICATION_ERROR"
    assert (cache.hits, len(cache)) == (0, 2)
    assert check(key_a.public_key.to_multibase()).verified
    assert cache.hits == 1


def test_the_cache_is_bounded_least_recently_used_first(
    platform: Platform, issue: Callable[..., tuple[SeededOrg, CredentialRecord]]
) -> None:
    records = [issue(recipient=f"learner{i}@example.org")[1] for i in range(3)]
    cache = verify_cache.ProofResultCache(3)
    base = options(platform, cache)
    for record in records:  # 3 credential proofs and the one status list they share
        assert verify(platform, record.document, base).verified
    assert len(cache) == 3
    hits = cache.hits
    assert verify(platform, records[2].document, base).verified  # recent: both proofs hit
    assert cache.hits == hits + 2
    assert verify(platform, records[0].document, base).verified  # evicted: checked again
    assert cache.hits == hits + 3  # only its status list's proof hit
    with pytest.raises(ValueError, match="at least one"):
        verify_cache.ProofResultCache(0)


def test_the_setting_sizes_the_process_cache_and_zero_turns_it_off(tmp_path: Any) -> None:
    off = bootstrap.verify_options(Settings(data_dir=tmp_path, verify_cache_entries=0))
    assert off.proof_cache is None
    on = bootstrap.verify_options(Settings(data_dir=tmp_path, verify_cache_entries=7))
    again = bootstrap.verify_options(Settings(data_dir=tmp_path, verify_cache_entries=7))
    assert on.proof_cache is not None
    assert on.proof_cache is again.proof_cache
    assert isinstance(on.proof_cache, verify_cache.ProofResultCache)
    assert on.proof_cache.entries == 7


def test_verifying_with_the_cache_off_still_checks_everything(
    platform: Platform, issue: Callable[..., tuple[SeededOrg, CredentialRecord]]
) -> None:
    org, record = issue()
    base = options(platform, None)
    assert verify(platform, record.document, base).verified
    credentials.revoke(platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="x")
    assert outcomes(verify(platform, record.document, base))["status"] == "fail"


def test_the_status_list_body_follows_the_list_version(
    platform: Platform, issue: Callable[..., tuple[SeededOrg, CredentialRecord]]
) -> None:
    org, record = issue()
    list_id = record.document["credentialStatus"]["statusListCredential"].rsplit("/", 1)[1]
    first = verify_cache.status_list_body(platform, list_id)
    assert verify_cache.cached_status_list_body(platform, list_id) == first
    assert first.document()["id"].endswith(list_id)
    credentials.revoke(platform, org.actor, org_id=org.org_id, credential_id=record.id, reason="x")
    assert verify_cache.cached_status_list_body(platform, list_id) is None  # stale: not served
    second = verify_cache.status_list_body(platform, list_id)
    assert second.version > first.version
    assert second.etag != first.etag
    assert second.body != first.body


def test_a_credential_that_needs_another_site_is_left_to_the_fetching_path(
    platform: Platform,
) -> None:
    did = "did:web:elsewhere.example"
    document = data_integrity.sign(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": did,
            "credentialSubject": {"id": "did:example:learner"},
        },
        signer=Signer(key=generate_key("Ed25519"), verification_method=f"{did}#key-1"),
        cryptosuite="eddsa-rdfc-2022",
        created=START,
    )
    text = json.dumps(document)
    base = options(platform, None)
    assert platform_verification.verify_from_own_records(platform, text, base) is None
