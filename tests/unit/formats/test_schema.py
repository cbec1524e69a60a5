"""Validation against the official 1EdTech OB 3.0 JSON Schema and the VC 2.0 core rules,
on the 1EdTech validator's fixtures (tests/fixtures/ob3-examples, see SOURCES.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from referencing.exceptions import Unresolvable

from merito.formats import schema
from merito.formats.schema import (
    SchemaIssue,
    check_vc2_core,
    validate_achievement_credential,
    validate_against_schema,
)

OB3 = Path(__file__).parents[2] / "fixtures" / "ob3-examples"

# The fixtures 1EdTech marks valid, on VC 2.0 (what the bundled OB 3.0.3 schema describes).
VALID = [
    "validator-ob30/simple.json",
    "validator-ob30/simple-context-alias.json",
    "validator-ob30/simple-context-version.json",
    "validator-ob30/simple-did-key-method.json",
    "validator-ob30/simple-did-web-method.json",  # proof: a single object, not an array
    "validator-ob30/simple-multiple-proofs.json",
    "validator-ob30/complete.json",
    "validator-ob30/sd/derivedcredential.json",
    "educredentials/full_ex.json",
    "educredentials/minimal_valid_obv3.json",
    "spec-test-vectors/obv3p0/unsigned-credential.extracted.json",
    "spec-test-vectors/obv3p0/signed-credential.extracted.json",
]

# simple-err-* fixtures and the property each one gets wrong.
INVALID = {
    "simple-err-context.json": "@context[0]",
    "simple-err-credential-subject-achievement-result-description-type.json": (
        "credentialSubject.achievement.resultDescription[2].type"
    ),
    "simple-err-credential-subject-identifier-type.json": "credentialSubject.identifier[0].type",
    "simple-err-credential-subject-profile-type.json": "credentialSubject.source.type",
    "simple-err-credential-subject-result-type.json": "credentialSubject.result[1].type",
    "simple-err-credential-subject-type.json": "credentialSubject.type",
    "simple-err-evidence-type.json": "evidence[1].type",
    "simple-err-issuer-otheridentifier-type.json": "issuer.otherIdentifier[1].type",
    "simple-err-issuer-parentorg-type.json": "issuer.parentOrg.type",
    "simple-err-issuer-type.json": "issuer.type",
    "simple-err-issuer.json": "issuer",
    "simple-err-type.json": "type",
}

# simple-err-* fixtures whose fault is not structural: it is found by the verification
# pipeline (dates against a clock, proofs against keys), not by a schema.
NOT_STRUCTURAL = [
    "simple-err-expired.json",  # validUntil in the past
    "simple-err-proof-method-no-scheme.json",
    "simple-err-proof-method-unknown-did-method.json",
    "simple-err-proof-method-unknown-scheme.json",
    "simple-err-proof-method.json",
    "simple-err-proof-value.json",
]


def load(name: str) -> Any:
    return json.loads((OB3 / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", VALID)
def test_valid_fixtures_conform(name: str) -> None:
    assert validate_achievement_credential(load(name)) == []


@pytest.mark.parametrize(("name", "path"), sorted(INVALID.items()))
def test_error_fixtures_fail_naming_the_property(name: str, path: str) -> None:
    issues = validate_achievement_credential(load(f"validator-ob30/{name}"))
    assert path in {i.path for i in issues}, [str(i) for i in issues]
    named = next(i for i in issues if i.path == path)
    assert named.message


def test_every_simple_err_fixture_is_classified() -> None:
    names = {p.name for p in (OB3 / "validator-ob30").glob("simple-err-*.json")}
    assert names == set(INVALID) | set(NOT_STRUCTURAL) | {"simple-err-issued.json"}


@pytest.mark.parametrize("name", NOT_STRUCTURAL)
def test_non_structural_error_fixtures_pass_structure_checks(name: str) -> None:
    assert validate_achievement_credential(load(f"validator-ob30/{name}")) == []


def test_issued_in_the_future_fixture_is_also_missing_its_achievement() -> None:
    # simple-err-issued.json's intended fault (validFrom in 2040) needs a clock; its subject
    # also lacks the required achievement, which the schema does catch.
    issues = validate_achievement_credential(load("validator-ob30/simple-err-issued.json"))
    assert [i.path for i in issues] == ["credentialSubject.achievement"]


@pytest.mark.parametrize(
    "name",
    ["validator-ob30/simple_v1.json", "validator-ob30/simple-eddsa-2022.json"],
)
def test_vc_1_1_era_credentials_fail_only_on_the_vc_2_0_properties(name: str) -> None:
    # These are valid OB 3.0.0/3.0.1 (VC 1.1) credentials; the bundled 3.0.3 schema is VC 2.0.
    issues = validate_against_schema(load(name))
    assert {i.path for i in issues} == {"@context[0]", "validFrom"}


def test_messages_are_plain_language() -> None:
    by_path = {
        i.path: i
        for i in validate_achievement_credential(load("validator-ob30/simple-err-issuer-type.json"))
    }
    assert by_path["issuer.type"].message == "must include 'Profile', found ['InvalidProfile']"
    issues = validate_against_schema(load("validator-ob30/simple-err-issuer.json"))
    assert SchemaIssue("issuer", "'issuer' is required", "schema", "required") in issues
    assert str(SchemaIssue("", "x")) == "(document): x"


def test_single_values_are_read_as_arrays_but_reported_as_written() -> None:
    doc = load("validator-ob30/simple.json")
    doc["credentialSubject"]["type"] = "AchievementSubject"
    doc["evidence"] = {"id": "https://x.example/e", "type": "Evidence"}
    original = copy.deepcopy(doc)
    assert validate_achievement_credential(doc) == []
    assert doc == original  # the caller's document is not modified
    doc["evidence"]["type"] = "Photo"
    issues = validate_against_schema(doc)
    assert [i.path for i in issues] == ["evidence.type"]


def test_context_is_not_treated_as_one_or_many() -> None:
    doc = load("validator-ob30/simple.json")
    doc["@context"] = "https://www.w3.org/ns/credentials/v2"
    paths = {i.path for i in validate_against_schema(doc)}
    assert "@context" in paths


def test_vc2_core_rules() -> None:
    doc = load("validator-ob30/simple.json")
    assert check_vc2_core(doc) == []
    doc["validFrom"] = "2010-01-01T00:00:00"
    doc["validUntil"] = "2009-01-01T00:00:00Z"
    doc["id"] = "not a url"
    doc["issuanceDate"] = "2010-01-01T00:00:00Z"
    doc["issuer"] = {"id": "example corp"}
    codes = {(i.path, i.code) for i in check_vc2_core(doc)}
    assert codes == {
        ("validFrom", "datetime-stamp"),
        ("id", "id-url"),
        ("issuanceDate", "vc1-property"),
        ("issuer.id", "issuer-url"),
    }
    doc["validFrom"] = "2010-01-01T00:00:00+01:00"
    assert ("validUntil", "validity-order") in {(i.path, i.code) for i in check_vc2_core(doc)}
    assert {i.source for i in check_vc2_core(doc)} == {"vc2"}


def test_vc2_core_rules_on_non_credentials() -> None:
    assert [i.code for i in check_vc2_core([])] == ["document"]
    codes = {i.code for i in check_vc2_core({})}
    assert codes == {"context-required", "type", "issuer-required", "subject-required"}


def test_schema_refs_resolve_without_network() -> None:
    # every $ref in the bundled schema is local; the registry refuses anything else
    text = json.dumps(schema._schema())
    assert '"$ref": "http' not in text
    remote = schema._validator().evolve(schema={"$ref": "https://example.org/other.json"})
    with pytest.raises(Unresolvable, match=r"example\.org"):
        remote.is_valid({})


def test_python_engine_agrees_with_the_accelerator() -> None:
    # With jsonschema_rs the fast path decides validity; the jsonschema engine must agree.
    validator = schema._validator()
    for path in OB3.rglob("*.json"):
        if "/schema/" in path.as_posix():
            continue
        doc = schema._coerce(json.loads(path.read_text()), schema._plan(), (), set())
        fast = schema._fast_is_valid()
        if fast is not None:
            assert fast(doc) == validator.is_valid(doc), path


def test_the_compiled_rust_validator_is_in_use() -> None:
    """jsonschema-rs is a dependency: valid documents never pay for the Python engine.

    (Speed itself is measured by benchmarks/proofs.py, not asserted here.)"""
    fast = schema._fast_is_valid()
    assert fast is not None
    assert fast(load("validator-ob30/simple.json")) is True


def test_results_do_not_depend_on_the_accelerator(monkeypatch: pytest.MonkeyPatch) -> None:
    with_fast = {name: validate_against_schema(load(name)) for name in VALID}
    errors = {n: validate_against_schema(load(f"validator-ob30/{n}")) for n in INVALID}
    monkeypatch.setattr(schema, "_fast_is_valid", lambda: None)
    assert {name: validate_against_schema(load(name)) for name in VALID} == with_fast
    assert {n: validate_against_schema(load(f"validator-ob30/{n}")) for n in INVALID} == errors
