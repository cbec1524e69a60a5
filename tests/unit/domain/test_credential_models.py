"""The OB 3.0 / VC 2.0 pydantic models: round trips on the spec examples, extension data,
one-or-many shapes, the data-model rules, and salted identity hashes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from merito.domain.achievements import Achievement, Criteria, Profile, parse_datetime
from merito.domain.credentials import (
    AchievementCredential,
    EndorsementCredential,
    OpenBadgeCredential,
)
from merito.domain.identifiers import (
    WIRE_CONTEXT,
    IdentityObject,
    as_list,
    hash_identity,
    identity_matches,
    salted_identity_json,
    salted_identity_object,
)

OB3 = Path(__file__).parents[2] / "fixtures" / "ob3-examples"

# Every OB 3.0 AchievementCredential example among the fixtures (VC 2.0 and VC 1.1 era).
# Not here: CLR credentials, EndorsementCredentials, and validator fixtures whose point is
# to be structurally wrong (they are in the "rejects" test below).
ROUND_TRIP = [
    "educredentials/full_ex.json",
    "educredentials/minimal_valid_obv3.json",
    "spec-test-vectors/obv3p0/signed-credential.extracted.json",
    "spec-test-vectors/obv3p0/unsigned-credential.extracted.json",
    "validator-ob30/bit-string-list/credential-status-revoked-blank-nodes.json",
    "validator-ob30/bit-string-list/credential-status-revoked.json",
    "validator-ob30/complete.json",
    "validator-ob30/complete_v1.json",
    "validator-ob30/credential-status-revoked.json",
    "validator-ob30/sd/derivedcredential.json",
    "validator-ob30/simple-context-alias.json",
    "validator-ob30/simple-context-version.json",
    "validator-ob30/simple-did-key-method.json",
    "validator-ob30/simple-did-web-method.json",
    "validator-ob30/simple-eddsa-2022.json",
    "validator-ob30/simple-err-expired.json",
    "validator-ob30/simple-err-proof-method-no-scheme.json",
    "validator-ob30/simple-err-proof-method-unknown-did-method.json",
    "validator-ob30/simple-err-proof-method-unknown-scheme.json",
    "validator-ob30/simple-err-proof-method.json",
    "validator-ob30/simple-err-proof-value.json",
    "validator-ob30/simple-multiple-proofs.json",
    "validator-ob30/simple.json",
    "validator-ob30/simple_v1.json",
]


def load(name: str) -> Any:
    return json.loads((OB3 / name).read_text(encoding="utf-8"))


def parse(doc: Any) -> AchievementCredential:
    return AchievementCredential.model_validate(doc, context=WIRE_CONTEXT)


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_round_trip_keeps_meaning_and_key_order(name: str) -> None:
    doc = load(name)
    out = parse(copy.deepcopy(doc)).to_json()
    assert out == doc
    # same key order at every level: the serialized text is identical
    assert json.dumps(out) == json.dumps(doc)


def test_round_trip_fixture_list_covers_every_ob3_credential_example() -> None:
    # A new OB 3.0 fixture must be classified: round-trip or deliberately broken.
    broken = {p.relative_to(OB3).as_posix() for p in (OB3 / "validator-ob30").glob("*.json")}
    broken = {n for n in broken if "-err-" in n or "endorsement" in n or "noproof" in n}
    every = {
        p.relative_to(OB3).as_posix()
        for p in OB3.rglob("*.json")
        if "clr" not in p.as_posix() and "schema/" not in p.relative_to(OB3).as_posix()
    }
    assert every - broken - set(ROUND_TRIP) == set()


def test_one_or_many_values_keep_their_shape() -> None:
    single = load("spec-test-vectors/obv3p0/signed-credential.extracted.json")
    assert isinstance(single["proof"], dict)
    many = load("validator-ob30/simple-multiple-proofs.json")
    assert isinstance(many["proof"], list)
    assert isinstance(parse(single).to_json()["proof"], dict)
    assert isinstance(parse(many).to_json()["proof"], list)
    assert len(parse(many).proofs) == len(many["proof"])
    assert len(parse(single).proofs) == 1


def test_extension_properties_survive_at_every_level() -> None:
    doc = load("validator-ob30/simple.json")
    doc["myExtension"] = {"nested": [1, 2.5, None, True]}
    doc["issuer"]["extIssuerCode"] = "X-1"
    doc["credentialSubject"]["achievement"]["extLevel"] = 3
    doc["credentialSubject"]["achievement"]["criteria"]["extWeight"] = 0.5
    cred = parse(doc)
    assert cred.to_json() == doc
    assert cred.model_extra == {"myExtension": {"nested": [1, 2.5, None, True]}}


def test_numbers_and_dates_are_kept_as_written() -> None:
    doc = load("validator-ob30/simple.json")
    doc["validFrom"] = "2010-01-01T00:00:00.000+02:00"
    doc["credentialSubject"]["creditsEarned"] = 3
    doc["credentialSubject"]["achievement"]["creditsAvailable"] = 3.0
    out = parse(doc).to_json()
    assert out["validFrom"] == "2010-01-01T00:00:00.000+02:00"
    assert json.dumps(out["credentialSubject"]["creditsEarned"]) == "3"
    assert json.dumps(out["credentialSubject"]["achievement"]["creditsAvailable"]) == "3.0"


def test_snake_case_attributes_map_to_spec_names() -> None:
    cred = parse(load("validator-ob30/complete.json"))
    assert cred.valid_from == "2010-01-01T00:00:00Z"
    assert cred.valid_from_datetime.isoformat() == "2010-01-01T00:00:00+00:00"
    assert cred.issuer_id == "https://1edtech.edu/issuers/565049"
    assert cred.achievement is cred.credential_subject.achievement
    snake = cred.model_dump(by_alias=False, exclude_unset=True)
    assert "credential_subject" in snake
    assert "credentialSubject" not in snake
    assert OpenBadgeCredential is AchievementCredential


def test_vc_1_1_era_credentials_are_readable() -> None:
    cred = parse(load("validator-ob30/simple_v1.json"))
    assert cred.is_vc_v1
    assert cred.valid_from is None
    assert cred.valid_from_datetime == parse_datetime(cred.issuance_date or "")


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("simple-err-type.json", ("credentialSubject", "achievement")),
        ("simple-err-issuer.json", ("issuer",)),
        ("simple-err-credential-subject-type.json", ("credentialSubject", "type")),
        (
            "simple-err-credential-subject-profile-type.json",
            ("credentialSubject", "source", "type"),
        ),
        ("simple-err-issuer-type.json", ("issuer", "type")),
        ("simple-err-issuer-parentorg-type.json", ("issuer", "parentOrg", "type")),
    ],
)
def test_rejects_structurally_wrong_validator_fixtures(name: str, where: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as raised:
        parse(load(f"validator-ob30/{name}"))
    locs = [tuple(str(x) for x in e["loc"] if "[" not in str(x)) for e in raised.value.errors()]
    assert any(loc[: len(where)] == where for loc in locs), locs


def test_type_must_include_the_class_iri() -> None:
    doc = load("validator-ob30/simple.json")
    doc["type"] = ["VerifiableCredential", "OtherCredential"]
    with pytest.raises(ValidationError, match="OpenBadgeCredential"):
        parse(doc)
    doc = load("validator-ob30/simple.json")
    del doc["credentialSubject"]["achievement"]["type"]
    with pytest.raises(ValidationError, match="'type' is required"):
        parse(doc)


def test_context_must_start_with_a_vc_context() -> None:
    doc = load("validator-ob30/simple.json")
    doc["@context"] = doc["@context"][::-1]
    with pytest.raises(ValidationError, match="@context"):
        parse(doc)


def test_subject_needs_an_id_or_an_identifier() -> None:
    doc = load("validator-ob30/simple.json")
    del doc["credentialSubject"]["id"]
    with pytest.raises(ValidationError, match="either 'id' or at least one 'identifier'"):
        parse(doc)
    doc["credentialSubject"]["identifier"] = [
        salted_identity_object("a@example.com", salt="s").to_json()
    ]
    assert parse(doc).credential_subject.id is None


def test_valid_from_must_be_a_date_time_stamp() -> None:
    doc = load("validator-ob30/simple.json")
    doc["validFrom"] = "2010-01-01T00:00:00"  # no timezone
    with pytest.raises(ValidationError, match="dateTimeStamp"):
        parse(doc)
    doc["validFrom"] = "2010-13-01T00:00:00Z"
    with pytest.raises(ValidationError):
        parse(doc)


def test_models_built_in_code_default_their_type_first() -> None:
    achievement = Achievement(
        id="urn:uuid:1", name="N", description="D", criteria=Criteria(narrative="C")
    )
    out = achievement.to_json()
    assert out["type"] == ["Achievement"]
    assert next(iter(out)) == "id"
    assert list(out)[1] == "type"
    assert Profile(id="did:web:x").to_json() == {"id": "did:web:x", "type": ["Profile"]}


def test_as_list() -> None:
    assert as_list(None) == []
    assert as_list("a") == ["a"]
    assert as_list(["a", "b"]) == ["a", "b"]


# --- salted identity hashes ----------------------------------------------------------------


def test_hash_identity_reproduces_the_spec_example() -> None:
    # OB 3.0 §B.3 IdentityHash: SHA-256 over 'a@example.com' salted with 'Kosher'
    assert hash_identity("a@example.com", salt="Kosher") == (
        "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399"
    )


def test_emails_are_lower_cased_before_hashing_but_other_ids_are_not() -> None:
    assert hash_identity(" A@Example.COM ", salt="Kosher") == hash_identity(
        "a@example.com", salt="Kosher"
    )
    assert hash_identity("AbC", salt="s", identity_type="studentId") != hash_identity(
        "abc", salt="s", identity_type="studentId"
    )


@given(
    identity=st.text(min_size=1, max_size=40),
    salt=st.text(min_size=1, max_size=20),
    identity_type=st.sampled_from(["emailAddress", "studentId", "sourcedId"]),
)
def test_the_direct_identity_json_is_the_models(
    identity: str, salt: str, identity_type: str
) -> None:
    """Bulk issuance writes ``salted_identity_json``; it must be byte for byte the model's."""
    model = salted_identity_object(identity, salt=salt, identity_type=identity_type).to_json()
    direct = salted_identity_json(identity, salt=salt, identity_type=identity_type)
    assert json.dumps(direct) == json.dumps(model)


def test_identity_matches_hashed_and_plain() -> None:
    obj = salted_identity_object("Ada@Example.org", salt="pepper")
    assert obj.hashed
    assert obj.salt == "pepper"
    assert identity_matches(obj, "ada@example.org")
    assert identity_matches(obj, "ADA@example.ORG")
    assert not identity_matches(obj, "bob@example.org")
    plain = IdentityObject(
        hashed=False, identity_hash="Ada@Example.org", identity_type="emailAddress"
    )
    assert identity_matches(plain, "ada@example.org")
    assert not identity_matches(plain, "bob@example.org")


def test_identity_matches_an_issuer_that_did_not_lower_case() -> None:
    raw = "sha256$" + __import__("hashlib").sha256(b"Ada@Example.orgs").hexdigest()
    obj = IdentityObject(hashed=True, identity_hash=raw, identity_type="emailAddress", salt="s")
    assert identity_matches(obj, "Ada@Example.org")


def test_identity_matches_unsalted_md5_and_rejects_junk() -> None:
    md5 = "md5$" + __import__("hashlib").md5(b"a@example.com").hexdigest().upper()
    obj = IdentityObject(hashed=True, identity_hash=md5, identity_type="emailAddress")
    assert identity_matches(obj, "a@example.com")
    for junk in ("sha1$abcd", "sha256$zz", "sha256$abcd", "nothing"):
        bad = IdentityObject(hashed=True, identity_hash=junk, identity_type="emailAddress")
        assert not identity_matches(bad, "a@example.com")


def test_endorsement_credentials_parse_and_round_trip() -> None:
    doc = load("validator-ob30/endorsement-valid.json")
    endorsement = EndorsementCredential.model_validate(doc, context=WIRE_CONTEXT)
    assert endorsement.credential_subject.endorsement_comment
    assert json.dumps(endorsement.to_json()) == json.dumps(doc)
    with pytest.raises(ValidationError, match="AchievementCredential"):
        parse(doc)
