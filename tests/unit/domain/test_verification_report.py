"""VerificationReport: the verdict rule, lookups, the summary and the stable JSON shape."""

from __future__ import annotations

import dataclasses
import json

import pytest

from merito.domain.verification import CHECK_IDS, Check, Outcome, VerificationReport


def _checks(**outcomes: Outcome) -> tuple[Check, ...]:
    return tuple(
        Check(i, outcomes.get(i, Outcome.PASS), f"title {i}", f"message {i}", {"n": n})
        for n, i in enumerate(CHECK_IDS)
    )


def test_check_ids_are_the_documented_order() -> None:
    assert CHECK_IDS == (
        "parse",
        "format",
        "context",
        "schema",
        "proof",
        "issuer",
        "validity",
        "status",
        "anchored",
    )
    import merito.domain.verification as module

    doc = module.__doc__ or ""
    positions = [doc.index(f"\n    {i} ") for i in CHECK_IDS]
    assert positions == sorted(positions)


def test_verified_only_when_no_check_failed() -> None:
    assert VerificationReport(_checks()).verified
    assert VerificationReport(_checks(status=Outcome.WARNING, anchored=Outcome.SKIPPED)).verified
    report = VerificationReport(_checks(proof=Outcome.FAIL, issuer=Outcome.SKIPPED))
    assert not report.verified
    assert [c.id for c in report.failures] == ["proof"]
    assert not VerificationReport(()).verified


def test_lookup_and_summary() -> None:
    report = VerificationReport(_checks(validity=Outcome.FAIL))
    assert report.check("validity") is report.checks[6]
    assert report.check("trust") is None
    assert report.summary == "The credential is not valid: message validity"
    assert VerificationReport(_checks()).summary == "The credential is valid."
    warned = VerificationReport(_checks(status=Outcome.WARNING))
    assert warned.summary == "The credential is valid, with warnings: message status"
    assert VerificationReport(()).summary == "The credential could not be checked."


def test_json_has_a_stable_key_order_and_round_trips() -> None:
    report = VerificationReport(
        _checks(status=Outcome.WARNING),
        format="ob-3.0",
        credential={"id": "urn:x", "name": "Café"},
        data_model="2.0",
        envelope="embedded",
        issuer="did:key:z6Mk",
        checked_at="2024-06-01T12:00:00Z",
    )
    text = report.to_json()
    data = json.loads(text)
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
    assert data["verified"] is True
    assert data["checks"][7] == {
        "id": "status",
        "outcome": "warning",
        "title": "title status",
        "message": "message status",
        "details": {"n": 7},
    }
    assert "credential" not in data
    with_credential = json.loads(report.to_json(include_credential=True))
    assert with_credential["credential"] == {"id": "urn:x", "name": "Café"}
    assert "Café" in report.to_json(include_credential=True)  # not \\u-escaped
    assert text == report.to_json()


def test_reports_and_checks_are_frozen() -> None:
    report = VerificationReport(_checks())
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.format = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.checks[0].outcome = Outcome.FAIL  # type: ignore[misc]
    assert Outcome("pass") is Outcome.PASS
    assert report.checks[0].passed
    assert not report.checks[0].failed
