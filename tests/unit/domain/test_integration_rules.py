"""The pure integration rules: Standard Webhooks signatures, award-rule matching, xAPI statement
validation and LTI 1.3 id_token claim checks (no database, no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from merito.domain import integrations as rules_
from merito.errors import InvalidInput, Unauthenticated

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SECRET = bytes(range(32))


def test_a_known_signature_vector() -> None:
    # computed with OpenSSL, not with the code under test:
    # printf 'msg_1.1700000000.{}' | openssl dgst -sha256 -mac HMAC \
    #   -macopt hexkey:000102...1f -binary | base64
    signature = rules_.sign_webhook(SECRET, msg_id="msg_1", timestamp=1700000000, body=b"{}")
    assert signature == "v1,fhksJF5ElKjlPoT/jtefCO5XjQPvhf7Dhf/8R1ad9yU="


@given(body=st.binary(max_size=200), msg_id=st.text(min_size=1, max_size=40).filter(str.strip))
def test_sign_then_verify_and_any_change_fails(body: bytes, msg_id: str) -> None:
    msg_id = msg_id.strip().replace(" ", "_")
    stamp = int(NOW.timestamp())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": rules_.sign_webhook(SECRET, msg_id=msg_id, timestamp=stamp, body=body),
    }
    assert rules_.verify_webhook([SECRET], headers=headers, body=body, now=NOW) == (msg_id, stamp)
    with pytest.raises(Unauthenticated):
        rules_.verify_webhook([SECRET], headers=headers, body=body + b"x", now=NOW)
    with pytest.raises(Unauthenticated):
        rules_.verify_webhook([bytes(32)], headers=headers, body=body, now=NOW)


def test_a_rotated_sender_may_send_two_signatures() -> None:
    stamp = int(NOW.timestamp())
    old = rules_.sign_webhook(bytes(32), msg_id="m", timestamp=stamp, body=b"{}")
    new = rules_.sign_webhook(SECRET, msg_id="m", timestamp=stamp, body=b"{}")
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": str(stamp),
        "webhook-signature": f"{old} {new}",
    }
    assert rules_.verify_webhook([SECRET], headers=headers, body=b"{}", now=NOW)[0] == "m"


def test_secret_encoding_round_trips_and_refuses_junk() -> None:
    assert rules_.decode_secret(rules_.encode_secret(SECRET)) == SECRET
    with pytest.raises(InvalidInput):
        rules_.decode_secret("whsec_!!!")
    with pytest.raises(InvalidInput, match="16 bytes"):
        rules_.decode_secret(rules_.encode_secret(b"short"))


def test_rules_match_trigger_activity_and_minimum_score() -> None:
    rules = [
        rules_.RuleSpec(id="a", trigger="t", activity_id="c1", min_score=0.8, achievement_id="A"),
        rules_.RuleSpec(id="b", trigger="t", activity_id=None, min_score=None, achievement_id="B"),
        rules_.RuleSpec(id="c", trigger="u", activity_id=None, min_score=None, achievement_id="C"),
    ]
    hit = rules_.matching_rules(rules, rules_.Trigger(trigger="t", activity_ids=("c1",), score=0.8))
    assert [r.id for r in hit] == ["a", "b"]
    low = rules_.matching_rules(
        rules, rules_.Trigger(trigger="t", activity_ids=("c1",), score=0.79)
    )
    assert [r.id for r in low] == ["b"]
    none = rules_.matching_rules(
        rules, rules_.Trigger(trigger="t", activity_ids=("c1",), score=None)
    )
    assert [r.id for r in none] == ["b"]


STATEMENT: dict[str, Any] = {
    "actor": {"account": {"homePage": "https://lms.example", "name": "u1"}},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
    "object": {"id": "https://lms.example/q"},
    "result": {"score": {"raw": 7, "min": 0, "max": 10}},
}


def test_statements_get_an_id_and_a_score() -> None:
    (parsed,) = rules_.parse_statements(
        STATEMENT, assigned_ids=["0b7e8f7e-4c1f-4a8e-9d3c-2c1d9b3e6a10"]
    )
    assert parsed.id == "0b7e8f7e-4c1f-4a8e-9d3c-2c1d9b3e6a10"
    assert parsed.email is None
    assert parsed.account == "https://lms.example#u1"
    assert parsed.score == pytest.approx(0.7)
    with pytest.raises(InvalidInput, match="share an id"):
        rules_.parse_statements(
            [{**STATEMENT, "id": parsed.id}, {**STATEMENT, "id": parsed.id}],
            assigned_ids=["a"] * 5,
        )
    with pytest.raises(InvalidInput, match="between min and max"):
        rules_.parse_statement(
            {**STATEMENT, "result": {"score": {"raw": 11, "max": 10}}}, assigned_id=parsed.id
        )
    with pytest.raises(InvalidInput, match=r"1\.0\.x"):
        rules_.check_xapi_version("0.95")
    assert rules_.check_xapi_version("1.0.3") == "1.0.3"


def claims(**more: Any) -> dict[str, Any]:
    c = rules_.LTI_CLAIM
    base = {
        "iss": "https://lms",
        "aud": ["tool", "other"],
        "azp": "tool",
        "sub": "s",
        "exp": NOW.timestamp() + 60,
        "iat": NOW.timestamp(),
        "nonce": "n",
        c + "deployment_id": "d",
        c + "message_type": "LtiResourceLinkRequest",
        c + "version": "1.3.0",
        c + "resource_link": {"id": "r"},
        c + "custom": {"merito_score": "0.75"},
    }
    return {**base, **more}


def check(value: dict[str, Any]) -> rules_.LtiLaunch:
    return rules_.check_lti_claims(
        value, issuer="https://lms", client_id="tool", deployment_ids=["d"], nonce="n", now=NOW
    )


def test_lti_claims_are_checked_one_by_one() -> None:
    launch = check(claims())
    assert launch.resource_link_id == "r"
    assert launch.score == 0.75
    assert not launch.is_instructor
    for bad, prop in (
        ({"azp": "other"}, "azp"),
        ({"iss": "https://evil"}, "iss"),
        ({"nonce": "m"}, "nonce"),
        ({"iat": NOW.timestamp() + 3600}, "iat"),
        ({rules_.LTI_CLAIM + "version": "1.1"}, "version"),
        ({rules_.LTI_CLAIM + "resource_link": {}}, "resource_link"),
    ):
        with pytest.raises(Unauthenticated) as caught:
            check(claims(**bad))
        assert caught.value.property == prop
