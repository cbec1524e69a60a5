"""The verification pipeline end to end: signed credentials, tampering, dates, status, fixtures."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from verification_support import (
    ISSUER,
    NOW,
    OTHER,
    STATUS_URL,
    VALIDATOR_OB30,
    ExplodingFetcher,
    FakeFetcher,
    entry,
    fixture_resolver,
    load_fixture,
    ob3_credential,
    options,
    revocation_list_credential,
    sign,
    status_list_document,
)

from merito.domain.ports import FixedClock
from merito.domain.verification import CHECK_IDS, Check, Outcome
from merito.formats.status_list import encode_status_list
from merito.proofs.vc_jwt import sign_jwt
from merito.verification import DEFAULT_CHECKS, CheckSpec, VerifyOptions, verify

CORE = ("parse", "format", "context", "schema", "proof", "issuer", "validity")


def outcomes(report: Any) -> dict[str, str]:
    return {c.id: c.outcome.value for c in report.checks}


# --- the happy path ---------------------------------------------------------------------------


def test_signed_credential_passes_every_check() -> None:
    report = verify(sign(ob3_credential()), options=options())
    assert [c.id for c in report.checks] == list(CHECK_IDS)
    assert all(report.check(i).outcome is Outcome.PASS for i in CORE), outcomes(report)
    assert report.check("status").outcome is Outcome.SKIPPED
    assert report.check("anchored").outcome is Outcome.SKIPPED
    assert report.check("anchored").details["reason"] == "no anchoring proof"
    assert report.verified
    assert report.format == "ob-3.0"
    assert report.data_model == "2.0"
    assert report.envelope == "embedded"
    assert report.issuer == ISSUER.controller
    assert report.checked_at == "2024-06-01T12:00:00Z"
    issuer_message = report.check("issuer").message
    assert issuer_message == (
        f"The signature was made by {ISSUER.controller}, "
        "which is the issuer's key for issuing credentials."
    )


@pytest.mark.parametrize("as_text", ["str", "bytes", "dict"])
def test_every_input_shape_gives_the_same_verdict(as_text: str) -> None:
    credential = sign(ob3_credential())
    text = json.dumps(credential, indent=2)
    document: Any = {"str": text, "bytes": text.encode(), "dict": credential}[as_text]
    report = verify(document, options=options())
    assert report.verified, outcomes(report)
    assert report.credential == credential


def test_report_json_has_a_stable_shape() -> None:
    report = verify(sign(ob3_credential()), options=options())
    data = json.loads(report.to_json())
    assert list(data) == [
        "verified",
        "summary",
        "format",
        "data_model",
        "envelope",
        "issuer",
        "checked_at",
        "checks",
    ]
    assert [c["id"] for c in data["checks"]] == list(CHECK_IDS)
    assert list(data["checks"][0]) == ["id", "outcome", "title", "message", "details"]
    assert report.to_json() == report.to_json()


# --- tampering --------------------------------------------------------------------------------


def test_tampered_field_fails_proof_with_a_plain_message() -> None:
    credential = sign(ob3_credential())
    credential["credentialSubject"]["achievement"]["name"] = "Advanced Python"
    report = verify(credential, options=options())
    assert not report.verified
    proof = report.check("proof")
    assert proof.outcome is Outcome.FAIL
    assert proof.message.startswith(
        "The credential was changed after it was signed: the signature does not match"
    )
    assert report.check("schema").outcome is Outcome.PASS
    assert report.check("issuer").outcome is Outcome.SKIPPED
    assert report.check("status").outcome is Outcome.SKIPPED
    assert "signature did not verify" in report.check("status").message


def test_unsigned_credential_fails_proof() -> None:
    report = verify(ob3_credential(), options=options())
    assert report.check("proof").outcome is Outcome.FAIL
    assert report.check("proof").message == "The credential is not signed: it has no 'proof'."
    assert not report.verified


def test_key_of_someone_else_fails_issuer_binding() -> None:
    # Signed (validly) by OTHER, but claims to be issued by ISSUER.
    report = verify(sign(ob3_credential(), OTHER), options=options())
    assert report.check("proof").outcome is Outcome.PASS
    issuer = report.check("issuer")
    assert issuer.outcome is Outcome.FAIL
    assert f"belongs to {OTHER.controller}, not to the issuer {ISSUER.controller}" in issuer.message
    assert not report.verified


def test_expected_issuer_is_enforced() -> None:
    credential = sign(ob3_credential())
    ok = verify(credential, options=options(expected_issuer=ISSUER.controller))
    assert ok.verified
    report = verify(credential, options=options(expected_issuer=OTHER.controller))
    assert report.check("issuer").outcome is Outcome.FAIL
    assert "not by the expected issuer" in report.check("issuer").message


def test_unknown_cryptosuite_alone_fails_and_beside_a_valid_proof_warns() -> None:
    credential = sign(ob3_credential())
    odd = copy.deepcopy(credential)
    odd["proof"]["cryptosuite"] = "eddsa-unknown-2099"
    report = verify(odd, options=options())
    assert report.check("proof").outcome is Outcome.FAIL
    assert "eddsa-unknown-2099" in report.check("proof").message
    mixed = copy.deepcopy(credential)
    mixed["proof"] = [credential["proof"], {"type": "SomeProofType", "proofValue": "z1"}]
    report = verify(mixed, options=options())
    assert report.check("proof").outcome is Outcome.WARNING
    assert "SomeProofType" in report.check("proof").message
    assert report.verified
    broken = copy.deepcopy(credential["proof"])
    broken["proofValue"] = credential["proof"]["proofValue"][:-2] + "11"
    both = copy.deepcopy(credential)
    both["proof"] = [credential["proof"], broken]
    report = verify(both, options=options())
    assert report.check("proof").outcome is Outcome.FAIL
    assert "proof 2 of 2" in report.check("proof").message
    assert not report.verified


# --- dates ------------------------------------------------------------------------------------


def test_expired_and_not_yet_valid() -> None:
    credential = sign(ob3_credential(validUntil="2025-01-01T00:00:00Z"))
    assert verify(credential, options=options()).verified
    later = verify(credential, options=options(clock=FixedClock(datetime(2025, 1, 1, tzinfo=UTC))))
    validity = later.check("validity")
    assert validity.outcome is Outcome.FAIL
    assert validity.message == "The credential expired on 2025-01-01T00:00:00Z."
    earlier = verify(
        credential, options=options(clock=FixedClock(datetime(2023, 12, 31, tzinfo=UTC)))
    )
    assert earlier.check("validity").outcome is Outcome.FAIL
    assert "not valid yet" in earlier.check("validity").message
    assert earlier.check("proof").outcome is Outcome.PASS


def test_malformed_date_fails_validity() -> None:
    report = verify(sign(ob3_credential(validFrom="2024-01-01")), options=options())
    assert report.check("validity").outcome is Outcome.FAIL
    assert "'validFrom'" in report.check("validity").message


def test_vc_1_1_dates_are_read_from_issuance_and_expiration() -> None:
    credential = {
        # the VC 1.1 context does not define DataIntegrityProof: the DI context must come too
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://w3id.org/security/data-integrity/v2",
        ],
        "type": ["VerifiableCredential"],
        "issuer": ISSUER.controller,
        "issuanceDate": "2024-01-01T00:00:00Z",
        "expirationDate": "2024-03-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:learner"},
    }
    report = verify(sign(credential), options=options())
    assert report.data_model == "1.1"
    assert report.format == "vc"
    assert report.check("proof").outcome is Outcome.PASS
    assert report.check("validity").message == "The credential expired on 2024-03-01T00:00:00Z."


# --- context: never fetched -------------------------------------------------------------------


def test_unknown_context_fails_and_nothing_is_fetched() -> None:
    credential = ob3_credential(credentialStatus=entry(5))
    credential["@context"].append("https://evil.example/context.jsonld")
    credential = sign_best_effort(credential)
    fetcher = ExplodingFetcher()
    report = verify(credential, options=options(fetcher=fetcher))
    context = report.check("context")
    assert context.outcome is Outcome.FAIL
    assert "'https://evil.example/context.jsonld'" in context.message
    assert "never fetched" in context.message
    assert report.check("proof").outcome is Outcome.SKIPPED
    assert report.check("status").outcome is Outcome.SKIPPED
    assert fetcher.calls == []
    assert not report.verified


def test_embedded_scoped_context_is_checked_too() -> None:
    credential = ob3_credential()
    credential["credentialSubject"]["@context"] = {"@import": "https://evil.example/ctx"}
    report = verify(credential, options=options(fetcher=ExplodingFetcher()))
    assert report.check("context").outcome is Outcome.FAIL
    assert "https://evil.example/ctx" in report.check("context").details["unknown"]


def sign_best_effort(credential: dict[str, Any]) -> dict[str, Any]:
    """Attach a syntactically valid proof even when signing itself cannot (unknown context)."""
    proof_source = sign(ob3_credential())["proof"]
    return {**credential, "proof": proof_source}


# --- status -----------------------------------------------------------------------------------


def _with_status(*entries: dict[str, Any]) -> dict[str, Any]:
    status: Any = entries[0] if len(entries) == 1 else list(entries)
    return sign(ob3_credential(credentialStatus=status))


def test_status_passes_when_the_bit_is_clear() -> None:
    fetcher = FakeFetcher({STATUS_URL: status_list_document(revoked=(3,))})
    report = verify(_with_status(entry(4)), options=options(fetcher=fetcher))
    status = report.check("status")
    assert status.outcome is Outcome.PASS, status.message
    assert status.message == "The issuer's status list says the credential is not revoked."
    assert report.verified
    assert fetcher.calls == [STATUS_URL]


def test_revoked_credential_fails_status() -> None:
    fetcher = FakeFetcher({STATUS_URL: status_list_document(revoked=(3, 4))})
    report = verify(_with_status(entry(4)), options=options(fetcher=fetcher))
    status = report.check("status")
    assert status.outcome is Outcome.FAIL
    assert status.message == "The issuer has revoked this credential."
    assert status.details["entries"][0]["status"] == 1
    assert not report.verified


def test_suspended_credential_fails_status() -> None:
    url = "https://issuer.example/status/suspension"
    fetcher = FakeFetcher(
        {
            STATUS_URL: status_list_document(),
            url: status_list_document(revoked=(77,), purpose="suspension", url=url),
        }
    )
    credential = _with_status(entry(77), entry(77, "suspension", url))
    report = verify(credential, options=options(fetcher=fetcher))
    assert report.check("status").outcome is Outcome.FAIL
    assert report.check("status").message == "The issuer has suspended this credential."
    assert sorted(fetcher.calls) == sorted([STATUS_URL, url])


def test_status_list_proof_is_verified() -> None:
    forged = status_list_document()
    forged["credentialSubject"]["encodedList"] = encode_status_list(b"\xff" * 16)
    report = verify(
        _with_status(entry(4)), options=options(fetcher=FakeFetcher({STATUS_URL: forged}))
    )
    assert report.check("status").outcome is Outcome.FAIL
    assert "not validly signed" in report.check("status").message
    assert report.check("status").details["entries"][0]["problem"] == "STATUS_VERIFICATION_ERROR"


def test_status_list_signed_by_another_key_than_its_issuer_fails() -> None:
    stolen = status_list_document(signer=OTHER, issuer=ISSUER.controller)
    report = verify(
        _with_status(entry(4)), options=options(fetcher=FakeFetcher({STATUS_URL: stolen}))
    )
    assert report.check("status").outcome is Outcome.FAIL
    assert f"signed by {OTHER.controller}" in report.check("status").message


def test_status_purpose_mismatch_and_short_list_fail() -> None:
    fetcher = FakeFetcher({STATUS_URL: status_list_document(purpose="suspension")})
    report = verify(_with_status(entry(4)), options=options(fetcher=fetcher))
    assert report.check("status").outcome is Outcome.FAIL
    assert "not for 'revocation'" in report.check("status").message

    short = status_list_document(encoded_list=encode_status_list(b"\x00" * 16, min_bits=8))
    report = verify(
        _with_status(entry(4)), options=options(fetcher=FakeFetcher({STATUS_URL: short}))
    )
    assert report.check("status").details["entries"][0]["problem"] == "STATUS_LIST_LENGTH_ERROR"
    out_of_range = verify(
        _with_status(entry(131_072)),
        options=options(fetcher=FakeFetcher({STATUS_URL: status_list_document()})),
    )
    assert out_of_range.check("status").details["entries"][0]["problem"] == "RANGE_ERROR"


def test_status_without_fetcher_or_unreachable_is_a_warning() -> None:
    credential = _with_status(entry(4))
    report = verify(credential, options=options())
    assert report.check("status").outcome is Outcome.WARNING
    assert report.check("status").message.startswith("Status not checked")
    assert report.verified  # unknown status is a warning, not a failure
    unreachable = verify(credential, options=options(fetcher=FakeFetcher({})))
    assert unreachable.check("status").outcome is Outcome.WARNING
    assert "could not be fetched" in unreachable.check("status").message
    strict = verify(
        credential,
        options=options(fetcher=FakeFetcher({}), status_retrieval_outcome=Outcome.FAIL),
    )
    assert strict.check("status").outcome is Outcome.FAIL
    http_error = FakeFetcher({STATUS_URL: status_list_document()}, status=404)
    report = verify(credential, options=options(fetcher=http_error))
    assert "HTTP 404" in report.check("status").message


def test_expired_status_list_fails() -> None:
    stale = status_list_document(valid_until="2024-03-01T00:00:00Z")
    report = verify(
        _with_status(entry(4)), options=options(fetcher=FakeFetcher({STATUS_URL: stale}))
    )
    assert report.check("status").outcome is Outcome.FAIL
    assert "expired" in report.check("status").message


def test_1edtech_revocation_list() -> None:
    url = "https://issuer.example/revocations"
    credential = sign(revocation_list_credential(url))
    listed = {
        "id": url,
        "issuer": ISSUER.controller,
        "revokedCredentials": [{"id": credential["id"], "revocationReason": "Issued in error"}],
    }
    report = verify(credential, options=options(fetcher=FakeFetcher({url: listed})))
    assert report.check("status").outcome is Outcome.FAIL
    assert (
        report.check("status").message == "The issuer has revoked this credential: Issued in error."
    )
    clean = {**listed, "revokedCredentials": [{"id": "urn:uuid:someone-else"}]}
    report = verify(credential, options=options(fetcher=FakeFetcher({url: clean})))
    assert report.check("status").outcome is Outcome.PASS
    foreign = {**clean, "issuer": OTHER.controller}
    report = verify(credential, options=options(fetcher=FakeFetcher({url: foreign})))
    assert report.check("status").outcome is Outcome.FAIL


# --- VC-JWT -----------------------------------------------------------------------------------


def test_vc_jwt_gets_the_same_checklist() -> None:
    token = sign_jwt(ob3_credential(), signer=ISSUER, now=NOW)
    report = verify(token, options=options())
    assert [c.id for c in report.checks] == list(CHECK_IDS)
    assert all(report.check(i).outcome is Outcome.PASS for i in CORE), outcomes(report)
    assert report.envelope == "jwt"
    assert report.verified
    assert "JWT signature was made by" in report.check("proof").message


def test_tampered_vc_jwt_fails_proof() -> None:
    token = sign_jwt(ob3_credential(), signer=ISSUER, now=NOW)
    header, _payload, signature = token.split(".")
    other = sign_jwt(ob3_credential(name="Forged"), signer=ISSUER, now=NOW).split(".")[1]
    report = verify(f"{header}.{other}.{signature}", options=options())
    assert report.check("proof").outcome is Outcome.FAIL
    assert report.check("proof").message.startswith(
        "The credential was changed after it was signed"
    )
    assert not report.verified
    # A JWT signed by another key for ISSUER's credential fails the binding.
    impostor = sign_jwt(ob3_credential(), signer=OTHER, now=NOW)
    report = verify(impostor, options=options())
    assert not report.verified


# --- 1EdTech validator fixtures ---------------------------------------------------------------

# What each fixture must give, offline. https issuers' keys are published through a local
# controller document (fixture_resolver); the did:web ones need a fetcher, so they fail proof.
FIXTURE_VERDICTS: dict[str, tuple[bool, dict[str, str]]] = {
    "simple.json": (True, {}),
    "simple-context-alias.json": (True, {}),
    "simple-context-version.json": (True, {}),
    "simple-did-web-method.json": (True, {}),
    "endorsement-valid.json": (True, {}),
    "complete.json": (True, {"status": "warning"}),
    "simple-did-key-method.json": (False, {"proof": "pass", "issuer": "fail"}),
    "simple-err-expired.json": (False, {"proof": "pass", "validity": "fail"}),
    "simple-err-issued.json": (False, {"proof": "pass", "validity": "fail"}),
    "simple-err-issuer.json": (False, {"proof": "pass", "issuer": "fail"}),
    "simple-err-context.json": (False, {"format": "fail", "proof": "skipped"}),
    "simple-err-type.json": (False, {"proof": "fail"}),
    "simple-err-proof-value.json": (False, {"proof": "fail"}),
    "simple-err-proof-method.json": (False, {"proof": "fail"}),
    "simple-err-proof-method-no-scheme.json": (False, {"proof": "fail"}),
    "simple-err-proof-method-unknown-did-method.json": (False, {"proof": "fail"}),
    "simple-err-proof-method-unknown-scheme.json": (False, {"proof": "fail"}),
    "simple-err-issuer-type.json": (False, {"schema": "fail", "proof": "fail"}),
    "simple-err-evidence-type.json": (False, {"schema": "fail", "proof": "fail"}),
    "simple-err-credential-subject-type.json": (False, {"schema": "fail", "proof": "fail"}),
    "simple-multiple-proofs.json": (True, {"proof": "warning"}),
    "simple-noproof.json": (False, {"proof": "fail"}),
    "simple-eddsa-2022.json": (False, {"proof": "fail"}),
    "credential-status-revoked.json": (False, {"proof": "fail"}),  # did:web, offline
    "simple.jwt": (False, {"context": "fail", "proof": "skipped"}),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_VERDICTS))
def test_1edtech_validator_fixtures(name: str) -> None:
    text = (VALIDATOR_OB30 / name).read_text(encoding="utf-8")
    resolver = fixture_resolver(json.loads(text)) if name.endswith(".json") else None
    report = verify(text, options=options(resolver=resolver))
    verified, expected = FIXTURE_VERDICTS[name]
    assert report.verified is verified, outcomes(report)
    for check_id, outcome in expected.items():
        assert outcomes(report)[check_id] == outcome, (check_id, report.check(check_id))


def test_1edtech_bitstring_revoked_fixture_is_revoked() -> None:
    credential = json.loads(
        (VALIDATOR_OB30 / "bit-string-list/credential-status-revoked.json").read_text()
    )
    testlist = json.loads((VALIDATOR_OB30 / "bit-string-list/testlist").read_text())
    fetcher = FakeFetcher({credential["credentialStatus"]["statusListCredential"]: testlist})
    resolver = fixture_resolver(credential, testlist)
    report = verify(credential, options=options(resolver=resolver, fetcher=fetcher))
    assert report.check("proof").outcome is Outcome.PASS
    assert report.check("status").outcome is Outcome.FAIL
    assert report.check("status").message == "The issuer has revoked this credential."
    assert not report.verified
    # The same list, index 22 instead of 23: not revoked.
    other = copy.deepcopy(credential)
    other["credentialStatus"]["statusListIndex"] = 22
    report = verify(other, options=options(resolver=resolver, fetcher=fetcher))
    assert report.check("status").outcome is Outcome.SKIPPED  # tampered: proof fails first
    assert report.check("proof").outcome is Outcome.FAIL


def test_fixture_loader_is_the_one_used() -> None:
    assert load_fixture("simple.json")["type"] == ["VerifiableCredential", "OpenBadgeCredential"]


# --- pluggable checks -------------------------------------------------------------------------


def test_anchor_checker_is_pluggable_and_cannot_crash_the_verifier() -> None:
    credential = sign(ob3_credential())
    seen: list[Any] = []

    def anchored(doc: Any) -> Check:
        seen.append(doc)
        return Check(
            "anchored", Outcome.PASS, "Anchored", "Included in log entry 42.", {"leaf": 42}
        )

    report = verify(credential, options=options(anchor_checker=anchored))
    assert report.check("anchored").message == "Included in log entry 42."
    assert seen == [credential]

    def broken(doc: Any) -> Check:
        raise RuntimeError("chain node down")

    report = verify(credential, options=options(anchor_checker=broken))
    assert report.check("anchored").outcome is Outcome.WARNING
    assert report.verified


def test_extra_checks_are_added_without_touching_the_others() -> None:
    def trust_registry(state: Any) -> Check:
        trusted = state.issuer_id == ISSUER.controller
        outcome = Outcome.PASS if trusted else Outcome.FAIL
        return Check(
            "trust", outcome, "The issuer is trusted", "Listed." if trusted else "Unknown."
        )

    def crashing(state: Any) -> Check:
        raise ZeroDivisionError

    checks = (
        *DEFAULT_CHECKS,
        CheckSpec("trust", "The issuer is trusted", trust_registry, ("issuer",)),
        CheckSpec("boom", "A broken plug-in", crashing),
    )
    report = verify(sign(ob3_credential()), options=options(checks=checks))
    assert [c.id for c in report.checks] == [*CHECK_IDS, "trust", "boom"]
    assert report.check("trust").outcome is Outcome.PASS
    assert report.check("boom").outcome is Outcome.FAIL
    assert report.check("boom").details["internal_error"] == "ZeroDivisionError"
    tampered = sign(ob3_credential(), OTHER)
    report = verify(tampered, options=options(checks=checks[:-1]))
    assert report.check("trust").outcome is Outcome.SKIPPED


def test_default_options_use_the_system_clock() -> None:
    report = verify(sign(ob3_credential()), options=VerifyOptions())
    assert report.check("validity").outcome is Outcome.PASS
    assert verify(sign(ob3_credential())).verified


# --- any single mutation of a signed credential fails -----------------------------------------

SIGNED = sign(ob3_credential(validUntil="2030-01-01T00:00:00Z"))


def _leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaf_paths(v, (*prefix, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaf_paths(v, (*prefix, i))]
    return [prefix]


def _key_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out.extend(_key_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_key_paths(v, (*prefix, i)))
    return out


LEAVES = _leaf_paths(SIGNED)
KEYS = _key_paths(SIGNED)


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(LEAVES),
    value=st.one_of(
        st.text(max_size=12), st.integers(), st.booleans(), st.none(), st.just([]), st.just({})
    ),
)
def test_mutating_any_leaf_fails_verification(path: tuple[Any, ...], value: Any) -> None:
    doc = copy.deepcopy(SIGNED)
    parent = _parent(doc, path)
    if parent[path[-1]] == value:
        value = f"{value}!"
    parent[path[-1]] = value
    report = verify(doc, options=options())
    assert not report.verified, (path, value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(KEYS))
def test_deleting_any_key_fails_verification(path: tuple[Any, ...]) -> None:
    doc = copy.deepcopy(SIGNED)
    del _parent(doc, path)[path[-1]]
    report = verify(doc, options=options())
    assert not report.verified, path


def test_every_leaf_and_key_is_covered() -> None:
    # The strategies above sample these; make sure the sets are the interesting ones.
    assert ("proof", "proofValue") in LEAVES
    assert ("credentialSubject", "achievement", "criteria", "narrative") in LEAVES
    assert ("@context",) in KEYS
    assert ("issuer", "id") in KEYS
