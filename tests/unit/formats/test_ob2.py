"""OB 2.0 parsing and the hosted-verification origin rules, on the 1EdTech validator's
fixtures (tests/fixtures/ob2-examples, see SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from merito.errors import InvalidCredential
from merito.formats import ob2

OB2 = Path(__file__).parents[2] / "fixtures/ob2-examples/validator-ob20"


def load(name: str) -> Any:
    return json.loads((OB2 / name).read_text())


def test_a_basic_assertion_reads() -> None:
    assertion = ob2.parse_assertion(load("basic-assertion.json"))
    assert assertion.id == "https://example.org/beths-robotics-badge.json"
    assert assertion.verification_type == "hosted"
    assert assertion.badge_id == "https://example.org/robotics-badge.json"
    assert assertion.issued_on.isoformat() == "2016-12-31T23:59:59+00:00"
    assert assertion.expires is None
    assert ob2.is_ob2(load("basic-assertion.json"))


@pytest.mark.parametrize(
    ("name", "prop"),
    [
        ("basic-assertion-invalid-type.json", "type"),
    ],
)
def test_invalid_assertions_name_the_property(name: str, prop: str) -> None:
    with pytest.raises(InvalidCredential) as caught:
        ob2.parse_assertion(load(name))
    assert caught.value.property == prop


def test_each_required_property_is_named() -> None:
    base = load("basic-assertion.json")
    for prop in ("id", "badge", "recipient", "issuedOn", "verification"):
        broken = {k: v for k, v in base.items() if k != prop}
        with pytest.raises(InvalidCredential) as caught:
            ob2.parse_assertion(broken)
        assert caught.value.property is not None
        assert prop.split(".")[0] in caught.value.property
    with pytest.raises(InvalidCredential, match="time zone"):
        ob2.parse_assertion({**base, "issuedOn": "2016-12-31"})


@pytest.mark.parametrize(
    ("issuer", "allowed"),
    [
        ("issuer-with-allowed-origins.json", True),
        ("issuer-with-allowed-origins-valid-starts-with.json", True),
        ("issuer-with-allowed-origins-valid-multiple-starts-with.json", True),
        ("issuer-with-allowed-origins-invalid-starts-with.json", False),
        ("issuer-with-allowed-origins-invalid-multiple-starts-with.json", False),
    ],
)
def test_hosted_origin_rules_of_the_validator_fixtures(issuer: str, allowed: bool) -> None:
    profile = ob2.parse_issuer(load(f"assets/{issuer}"))
    problem = ob2.hosted_origin_problem("https://example.org/beths-robotics-badge.json", profile)
    assert (problem is None) == allowed, problem


def test_the_default_origin_is_the_issuers_host() -> None:
    profile = ob2.parse_issuer(load("assets/organization.json"))
    assert ob2.hosted_origin_problem("https://example.org/a.json", profile) is None
    problem = ob2.hosted_origin_problem("https://evil.example/a.json", profile)
    assert problem is not None
    assert "evil.example" in problem


def test_hashed_and_plain_recipients() -> None:
    recipient = load("basic-assertion.json")["recipient"]
    assert ob2.recipient_matches(recipient, "nobody@example.org")
    assert ob2.recipient_matches(recipient, "Nobody@Example.org")
    assert not ob2.recipient_matches(recipient, "somebody@example.org")
    plain = {"type": "email", "hashed": False, "identity": "ada@example.org"}
    assert ob2.recipient_matches(plain, "ADA@example.org")
    assert not ob2.recipient_matches({**recipient, "identity": "sha1$00"}, "nobody@example.org")


def test_keys_and_revocation_lists() -> None:
    key = ob2.parse_public_key(load("assets/key1.json"))
    assert key.owner == "https://example.org/organization.json"
    assert "BEGIN PUBLIC KEY" in key.public_key_pem
    revoked = ob2.revoked_ids(load("assets/revocation-list.json"))
    assert revoked["https://example.org/beths-robotics-badge-revoked.json"] == (
        "A good reason, for sure"
    )
    assert revoked["urn:uuid:6deb4a00-ebce-4b28-8cc2-afa705ef7be4"] is None
    assert ob2.revoked_ids(load("assets/empty-revocation-list.json")) == {}
    with pytest.raises(InvalidCredential):
        ob2.revoked_ids(load("assets/organization.json"))


def test_signed_assertion_jws_splits() -> None:
    jws = ob2.parse_jws((OB2 / "simple.jwt").read_text())
    assert jws.header["alg"] == "RS256"
    assert jws.payload["verification"]["creator"] == "http://example.org/key1.json"
    assert len(jws.signature) == 256
    with pytest.raises(InvalidCredential, match="not a compact JWS"):
        ob2.parse_jws("a.b")
