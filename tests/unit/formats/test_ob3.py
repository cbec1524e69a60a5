"""Building, parsing and recognising OB 3.0 credentials (merito.formats.ob3)."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.domain.achievements import (
    Achievement,
    Alignment,
    Criteria,
    Image,
    Profile,
    ResultDescription,
    RubricCriterionLevel,
)
from merito.domain.credentials import Evidence, RefreshService, Result, TermsOfUse
from merito.domain.identifiers import IdentifierEntry, identity_matches, salted_identity_object
from merito.errors import InvalidCredential, InvalidInput
from merito.formats import schema
from merito.formats.did_key import create_did_key
from merito.formats.ob3 import (
    OB3_CREDENTIAL_SCHEMA,
    build_credential,
    detect_format,
    format_datetime,
    parse_credential,
)
from merito.formats.schema import validate_achievement_credential
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key
from merito.proofs.resolution import VerificationMethodResolver

FIXTURES = Path(__file__).parents[2] / "fixtures"
OB3 = FIXTURES / "ob3-examples"
T0 = datetime(2024, 5, 1, 12, 30, 15, 999, tzinfo=UTC)


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def issuer() -> Profile:
    return Profile(id="did:web:badges.example.org", name="Example University")


def teamwork() -> Achievement:
    return Achievement(
        id="https://badges.example.org/achievements/teamwork",
        name="Teamwork",
        description="Collaborates within a group.",
        criteria=Criteria(narrative="Nominated by peers."),
    )


# --- build ---------------------------------------------------------------------------------------


def test_build_credential_shape() -> None:
    doc = build_credential(
        credential_id="urn:uuid:7b4c2a10-0000-4000-8000-000000000001",
        issuer=issuer(),
        achievement=teamwork(),
        recipient="did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        valid_from=T0,
        valid_until=T0 + timedelta(days=365),
    )
    assert doc["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        # defines the credentialSchema type, so strict JSON-LD processors accept the credential
        "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json",
    ]
    assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert doc["validFrom"] == "2024-05-01T12:30:15Z"
    assert doc["validUntil"] == "2025-05-01T12:30:15Z"
    assert doc["name"] == "Teamwork"
    assert doc["credentialSchema"] == [OB3_CREDENTIAL_SCHEMA]
    assert doc["credentialSchema"][0]["type"] == "1EdTechJsonSchemaValidator2019"
    subject = doc["credentialSubject"]
    assert subject["id"].startswith("did:key:")
    assert subject["type"] == ["AchievementSubject"]
    assert subject["achievement"]["criteria"] == {"narrative": "Nominated by peers."}
    assert "proof" not in doc
    assert validate_achievement_credential(doc) == []


def test_build_with_hashed_email_recipient() -> None:
    identity = salted_identity_object("Learner@Example.org", salt="0d5c9c3a")
    doc = build_credential(
        credential_id="urn:uuid:1",
        issuer=issuer(),
        achievement=teamwork(),
        recipient=identity,
        valid_from=T0,
    )
    subject = doc["credentialSubject"]
    assert "id" not in subject
    assert subject["identifier"] == [identity.to_json()]
    parsed = parse_credential(doc).credential_subject.identifier
    assert isinstance(parsed, list)
    assert identity_matches(parsed[0], "learner@example.org")


def test_build_with_everything() -> None:
    status = {
        "id": "https://badges.example.org/status/3#94567",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": "https://badges.example.org/status/3",
    }
    doc = build_credential(
        credential_id="https://badges.example.org/credentials/42",
        issuer=issuer(),
        achievement=teamwork(),
        recipient="did:example:ebfeb1f712ebc6f1c276e12ec21",
        valid_from=T0,
        awarded_date=T0 - timedelta(days=1),
        name="Teamwork badge",
        description="Awarded to the project team.",
        image=Image(id="https://badges.example.org/teamwork.png", caption="Teamwork"),
        evidence=[Evidence(id="https://git.example.org/project", name="Project")],
        results=[Result(value="A")],
        credential_status=status,
        subject_extra={"activityEndDate": "2024-04-30T00:00:00Z", "creditsEarned": 3},
    )
    assert doc["credentialStatus"] == status
    assert doc["awardedDate"] == "2024-04-30T12:30:15Z"
    assert doc["evidence"][0]["type"] == ["Evidence"]
    assert doc["credentialSubject"]["creditsEarned"] == 3
    assert validate_achievement_credential(doc) == []


def test_build_refuses_bad_inputs() -> None:
    common: dict[str, Any] = {"issuer": issuer(), "achievement": teamwork(), "valid_from": T0}
    with pytest.raises(InvalidInput, match="URI"):
        build_credential(credential_id="42", recipient="did:key:z", **common)
    with pytest.raises(InvalidInput) as raised:
        build_credential(credential_id="urn:x:1", recipient="learner", **common)
    assert raised.value.property == "credentialSubject.id"
    with pytest.raises(InvalidInput, match="no timezone"):
        build_credential(
            credential_id="urn:x:1",
            recipient="did:key:z",
            issuer=issuer(),
            achievement=teamwork(),
            valid_from=datetime(2024, 1, 1),
        )
    with pytest.raises(InvalidInput, match="earlier"):
        build_credential(
            credential_id="urn:x:1", recipient="did:key:z", valid_until=T0 - timedelta(1), **common
        )
    with pytest.raises(InvalidInput, match="set by build_credential"):
        build_credential(
            credential_id="urn:x:1",
            recipient="did:key:z",
            subject_extra={"achievement": {}},
            **common,
        )
    with pytest.raises(InvalidInput, match="at least one IdentityObject"):
        build_credential(credential_id="urn:x:1", recipient=[], **common)


def test_build_names_the_property_when_the_schema_rejects_the_result() -> None:
    odd = teamwork().model_copy(update={"achievement_type": "NotAnAchievementType"})
    with pytest.raises(InvalidCredential) as raised:
        build_credential(
            credential_id="urn:x:1",
            issuer=issuer(),
            achievement=odd,
            recipient="did:key:z",
            valid_from=T0,
        )
    assert raised.value.property == "credentialSubject.achievement.achievementType"


def test_format_datetime() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    assert format_datetime(datetime(2024, 1, 1, 5, 30, tzinfo=ist)) == "2024-01-01T00:00:00Z"
    assert format_datetime(datetime(987, 1, 1, tzinfo=UTC)) == "0987-01-01T00:00:00Z"


# --- hypothesis: whatever build_credential produces conforms and round-trips ----------------------


def make(cls: Any) -> Any:
    """A keyword-only factory: st.builds on a pydantic class would also fill its aliases."""
    return lambda **kwargs: cls(**kwargs)


_safe_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=24)
_slug = st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=16)
_uris = st.builds(
    str.__add__,
    st.sampled_from(["https://example.org/", "urn:uuid:", "did:web:", "did:key:z6Mk"]),
    _slug,
)
_maybe = st.none() | _safe_text
_alignments = st.builds(
    make(Alignment),
    target_name=_safe_text,
    target_url=_uris,
    target_code=_maybe,
    target_description=_maybe,
    target_framework=_maybe,
    target_type=st.none() | st.sampled_from(["CFItem", "ceasn:Competency", "CTDL", "ext:Skill"]),
)
_levels = st.builds(
    make(RubricCriterionLevel), id=_uris, name=_safe_text, level=_maybe, points=_maybe
)
_result_descriptions = st.builds(
    make(ResultDescription),
    id=_uris,
    name=_safe_text,
    result_type=st.sampled_from(["LetterGrade", "Percent", "RubricCriterionLevel", "ext:Stars"]),
    allowed_value=st.none() | st.lists(_safe_text, min_size=1, max_size=3),
    rubric_criterion_level=st.none() | st.lists(_levels, min_size=1, max_size=2),
)
_profiles = st.builds(
    make(Profile),
    id=_uris,
    name=_maybe,
    url=st.none() | _uris,
    email=st.none() | st.just("badges@example.org"),
    description=_maybe,
    image=st.none() | st.builds(make(Image), id=_uris, caption=_maybe),
    other_identifier=st.none()
    | st.lists(
        st.builds(
            make(IdentifierEntry),
            identifier=_safe_text,
            identifier_type=st.sampled_from(["sourcedId", "systemId", "ext:orgNumber"]),
        ),
        min_size=1,
        max_size=2,
    ),
)
_achievements = st.builds(
    make(Achievement),
    id=_uris,
    name=_safe_text,
    description=_safe_text,
    criteria=st.builds(make(Criteria), id=st.none() | _uris, narrative=_maybe),
    achievement_type=st.none() | st.sampled_from(["Badge", "Certificate", "Course", "ext:Talk"]),
    alignment=st.none() | st.lists(_alignments, min_size=1, max_size=3),
    creator=st.none() | _profiles,
    credits_available=st.none() | st.floats(0, 100, allow_nan=False) | st.integers(0, 100),
    field_of_study=_maybe,
    human_code=_maybe,
    in_language=st.none() | st.sampled_from(["en", "fr-CA", "zh-Hant-TW"]),
    result_description=st.none() | st.lists(_result_descriptions, min_size=1, max_size=2),
    tag=st.none() | st.lists(_safe_text, min_size=1, max_size=3),
    version=_maybe,
)
_recipients = _uris | st.builds(
    salted_identity_object,
    st.emails(),
    salt=_slug,
    identity_type=st.sampled_from(["emailAddress", "sourcedId", "ext:badgeNumber"]),
)
_zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
_moments = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(9000, 1, 1), timezones=_zones
)
_results = st.lists(
    st.builds(
        make(Result),
        value=_maybe,
        status=st.none() | st.sampled_from(["Completed", "InProgress"]),
        result_description=st.none() | _uris,
        alignment=st.none() | st.lists(_alignments, min_size=1, max_size=1),
    ),
    max_size=2,
)
_evidence = st.lists(
    st.builds(make(Evidence), id=st.none() | _uris, name=_maybe, narrative=_maybe, genre=_maybe),
    max_size=2,
)


@settings(max_examples=150, deadline=None)
@given(
    credential_id=_uris,
    issuer_profile=_profiles,
    achievement=_achievements,
    recipient=_recipients,
    valid_from=_moments,
    lifetime=st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)),
    name=_maybe,
    results=_results,
    evidence=_evidence,
)
def test_built_credentials_always_conform_and_round_trip(
    credential_id: str,
    issuer_profile: Profile,
    achievement: Achievement,
    recipient: Any,
    valid_from: datetime,
    lifetime: timedelta | None,
    name: str | None,
    results: list[Result],
    evidence: list[Evidence],
) -> None:
    doc = build_credential(
        credential_id=credential_id,
        issuer=issuer_profile,
        achievement=achievement,
        recipient=recipient,
        valid_from=valid_from,
        valid_until=None if lifetime is None else valid_from + lifetime,
        name=name,
        results=results,
        evidence=evidence,
    )
    assert validate_achievement_credential(doc) == []
    assert schema._validator().is_valid(doc)  # the pure-Python engine agrees
    text = json.dumps(doc)
    cred = parse_credential(json.loads(text))
    assert json.dumps(cred.to_json()) == text
    assert cred.valid_from_datetime == valid_from.replace(microsecond=0)
    assert detect_format(doc) == "vc2"


# --- parse ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("simple-err-issuer-otheridentifier-type.json", "issuer.otherIdentifier[1].type"),
        ("simple-err-evidence-type.json", "evidence[1].type"),
        ("simple-err-credential-subject-result-type.json", "credentialSubject.result[1].type"),
        (
            "simple-err-credential-subject-identifier-type.json",
            "credentialSubject.identifier[0].type",
        ),
        ("simple-err-issuer-type.json", "issuer.type"),
        ("simple-err-issuer.json", "issuer"),
        ("simple-err-type.json", "credentialSubject.achievement"),
    ],
)
def test_parse_credential_names_the_offending_property(name: str, path: str) -> None:
    with pytest.raises(InvalidCredential) as raised:
        parse_credential(load(OB3 / "validator-ob30" / name))
    assert raised.value.property == path
    assert raised.value.message.startswith(path)


def test_parse_credential_reports_missing_property_plainly() -> None:
    doc = load(OB3 / "validator-ob30/simple.json")
    del doc["credentialSubject"]["achievement"]["criteria"]
    with pytest.raises(InvalidCredential) as raised:
        parse_credential(doc)
    assert raised.value.property == "credentialSubject.achievement.criteria"
    assert "'criteria' is required" in raised.value.message


def test_parse_credential_refuses_non_objects() -> None:
    with pytest.raises(InvalidCredential):
        parse_credential([])  # type: ignore[arg-type]


def test_parse_credential_reads_the_spec_vector() -> None:
    cred = parse_credential(load(OB3 / "spec-test-vectors/obv3p0/signed-credential.extracted.json"))
    assert cred.proofs[0].cryptosuite == "eddsa-rdfc-2022"
    assert cred.achievement.name


# --- detect_format -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("ob3-examples/validator-ob30/simple.json", "vc2"),
        ("ob3-examples/validator-ob30/simple_v1.json", "vc1.1"),
        ("ob3-examples/validator-clr20/simple.json", "vc2"),
        ("blockcerts/cert-issuer-template-unsigned.json", "blockcerts"),
        ("blockcerts/cert-verifier-js/fixtures/v2/mainnet-valid-2.0.json", "blockcerts"),
        ("blockcerts/cert-verifier-js/fixtures/v1/testnet-valid-1.2.json", "blockcerts"),
        (
            "blockcerts/cert-verifier-js/fixtures/v3/mocknet-vc-v2-data-integrity-proof.json",
            "blockcerts",
        ),
        ("bitstring-status-list/example-05-A-Status-List-Verifiable-Credential.json", "vc2"),
    ],
)
def test_detect_format_on_fixtures(path: str, expected: str) -> None:
    assert detect_format(load(FIXTURES / path)) == expected


def test_detect_format_ob2_and_unknown() -> None:
    ob2 = next((FIXTURES / "ob2-examples").rglob("*.json"))
    assert detect_format(load(ob2)) in {"ob2", "unknown"}
    assert detect_format({"@context": "https://w3id.org/openbadges/v2"}) == "ob2"
    assert detect_format({"@context": "https://w3id.org/openbadges/v1"}) == "ob1"
    assert detect_format({"@context": ["https://example.org/ctx"]}) == "unknown"
    assert detect_format({}) == "unknown"


def test_build_with_terms_of_use_and_refresh_service_conforms_signs_and_round_trips() -> None:
    # VC 2.0 §5.11-5.12; OB 3.0 §B.1.25-26. The refresh type is OB 3.0's own (extensions
    # context); the terms-of-use type is an absolute IRI, since no bundled context defines one.
    terms = TermsOfUse(id="https://badges.example.org/policy/1", type="https://example.org/Policy")
    refresh = {"id": "https://badges.example.org/refresh/42", "type": "1EdTechCredentialRefresh"}
    doc = build_credential(
        credential_id="https://badges.example.org/credentials/42",
        issuer=issuer(),
        achievement=teamwork(),
        recipient="did:example:ebfeb1f712ebc6f1c276e12ec21",
        valid_from=T0,
        terms_of_use=[terms],
        refresh_service=refresh,
    )
    assert doc["termsOfUse"] == [terms.to_json()]
    assert doc["refreshService"] == refresh
    assert validate_achievement_credential(doc) == []
    assert schema._validator().is_valid(doc)
    parsed = parse_credential(json.loads(json.dumps(doc)))
    assert isinstance(parsed.refresh_service, RefreshService)
    assert isinstance(parsed.terms_of_use, list)
    assert isinstance(parsed.terms_of_use[0], TermsOfUse)
    assert parsed.to_json() == doc
    # both terms expand under JSON-LD safe mode: an RDFC proof over them signs and verifies
    key = generate_key("Ed25519", seed=bytes(32))
    did = create_did_key(key.public_key.to_multibase())
    signer = Signer(key, f"{did}#{did.removeprefix('did:key:')}")
    resolver = VerificationMethodResolver()
    for suite in ("eddsa-rdfc-2022", "eddsa-jcs-2022"):
        signed = data_integrity.sign(doc, signer=signer, cryptosuite=suite, created=T0)
        assert [r.verified for r in data_integrity.verify(signed, resolver=resolver)] == [True]


def test_build_refuses_terms_of_use_without_a_type() -> None:
    with pytest.raises(InvalidCredential, match="termsOfUse"):
        build_credential(
            credential_id="https://badges.example.org/credentials/43",
            issuer=issuer(),
            achievement=teamwork(),
            recipient="did:example:ebfeb1f712ebc6f1c276e12ec21",
            valid_from=T0,
            terms_of_use=[{"id": "https://badges.example.org/policy/1"}],
        )
