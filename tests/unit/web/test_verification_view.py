"""How a report reads to a person: the verdict, each check's explanation, the badge card."""

from __future__ import annotations

from typing import Any

import pytest

from merito.domain.verification import Check, Outcome, VerificationReport
from merito.web import i18n
from merito.web.verification_view import badge_of, report_view

BASE = "https://merito.test"
ENGLISH = i18n.translations("en").gettext
FRENCH = i18n.translations("fr").gettext
IDS = ("parse", "format", "context", "schema", "proof", "issuer", "validity", "status")


def report(**outcomes: Outcome) -> VerificationReport:
    checks = [
        Check(id=i, outcome=outcomes.get(i, Outcome.PASS), title=f"t-{i}", message=f"m-{i}")
        for i in (*IDS, "anchored")
    ]
    return VerificationReport(checks=tuple(checks))


@pytest.mark.parametrize(
    ("outcomes", "verdict"),
    [
        ({}, "valid"),
        ({"anchored": Outcome.SKIPPED}, "valid"),
        ({"anchored": Outcome.WARNING}, "valid"),  # an extra, not a deciding check
        ({"status": Outcome.WARNING}, "unknown"),
        ({"proof": Outcome.WARNING}, "unknown"),
        ({"proof": Outcome.FAIL, "status": Outcome.SKIPPED}, "invalid"),
        ({"status": Outcome.FAIL}, "invalid"),
        ({"parse": Outcome.FAIL}, "invalid"),
    ],
)
def test_verdicts(outcomes: dict[str, Outcome], verdict: str) -> None:
    assert report_view(report(**outcomes), ENGLISH, base_url=BASE).verdict == verdict


def test_no_check_at_all_is_not_a_valid_credential() -> None:
    view = report_view(VerificationReport(checks=()), ENGLISH, base_url=BASE)
    assert view.verdict == "unknown"


def test_each_check_is_explained_and_keeps_the_verifiers_finding() -> None:
    view = report_view(report(proof=Outcome.FAIL), FRENCH, base_url=BASE)
    proof = next(c for c in view.checks if c.id == "proof")
    assert proof.title == "La signature est intacte"
    assert proof.outcome_label == "Échec"
    assert "modifiée après sa délivrance" in proof.meaning
    assert proof.detail == "m-proof"
    assert view.summary == proof.meaning  # the banner says what the first failure means
    assert all(c.title != f"t-{c.id}" for c in view.checks)  # every built-in check translated


def test_an_unknown_check_shows_the_verifiers_own_words() -> None:
    extra = Check(
        id="sanctions", outcome=Outcome.FAIL, title="Issuer is trusted", message="Not in list"
    )
    view = report_view(VerificationReport(checks=(extra,)), ENGLISH, base_url=BASE)
    assert (view.checks[0].title, view.checks[0].meaning) == ("Issuer is trusted", "Not in list")


def credential(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "did:web:merito.test:orgs:a", "name": "Academy A"},
        "validFrom": "2026-01-02T03:04:05Z",
        "credentialSubject": {
            "identifier": [{"identityHash": "sha256$abc", "hashed": True, "salt": "s"}],
            "achievement": {
                "name": "Python",
                "description": "Writes Python.",
                "criteria": {"narrative": "Passed the exam."},
                "image": {"id": f"{BASE}/images/abc", "type": "Image"},
            },
        },
    }
    document.update(changes)
    return document


def test_the_badge_card_reads_the_credential() -> None:
    badge = badge_of(credential(), base_url=BASE)
    assert (badge.name, badge.issuer_name, badge.criteria) == (
        "Python",
        "Academy A",
        "Passed the exam.",
    )
    assert badge.recipient_hidden
    assert badge.image == "/images/abc"  # this site's image, by path (the page's CSP allows it)
    assert badge.valid_from is not None
    assert badge.valid_from.year == 2026
    assert badge.valid_until is None


def test_images_from_other_sites_are_not_shown() -> None:
    subject = credential()["credentialSubject"]
    subject["achievement"]["image"] = "https://tracker.example/pixel.png"
    assert badge_of(credential(credentialSubject=subject), base_url=BASE).image is None
    subject["achievement"]["image"] = "data:image/png;base64,iVBORw0KGgo="
    assert badge_of(credential(credentialSubject=subject), base_url=BASE).image is not None
    subject["achievement"]["image"] = "javascript:alert(1)"
    assert badge_of(credential(credentialSubject=subject), base_url=BASE).image is None


def test_a_plain_recipient_and_odd_shapes() -> None:
    subject = {"id": "did:example:ada", "achievement": {"name": {"en": "Maps"}}}
    badge = badge_of(credential(credentialSubject=[subject], issuer="did:example:i"), base_url=BASE)
    assert (badge.recipient, badge.recipient_hidden) == ("did:example:ada", False)
    assert badge.name == "Maps"
    assert (badge.issuer_id, badge.issuer_name) == ("did:example:i", None)
    empty = badge_of({"credentialSubject": "x", "issuer": 5}, base_url=BASE)
    assert (empty.name, empty.recipient, empty.initial) == (None, None, "?")
