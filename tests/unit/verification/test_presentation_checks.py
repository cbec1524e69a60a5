"""verify_presentation without a database: did:key issuer and holder, every single mutation of
a signed presentation is caught, and the checks' order and dependencies."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from merito.domain.ports import FixedClock
from merito.proofs import data_integrity
from merito.services import keyfiles
from merito.verification import VerifyOptions
from merito.verification.presentations import PRESENTATION_CHECK_IDS, verify_presentation

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ISSUER = keyfiles.new_signer("ed25519", seed=b"\x07" * 32)
HOLDER = keyfiles.new_signer("ed25519", seed=b"\x08" * 32)
OPTIONS = VerifyOptions(clock=FixedClock(NOW))


def _credential() -> dict[str, Any]:
    return data_integrity.sign(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": "urn:uuid:0b9c1c62-5d52-4b6e-9a3a-1f1d2c3b4a59",
            "type": ["VerifiableCredential"],
            "issuer": ISSUER.controller,
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": HOLDER.controller},
        },
        signer=ISSUER,
        created=NOW,
    )


def _presentation(**proof: Any) -> dict[str, Any]:
    return data_integrity.sign(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "holder": HOLDER.controller,
            "verifiableCredential": [_credential()],
        },
        signer=HOLDER,
        cryptosuite="eddsa-jcs-2022",
        created=NOW,
        proof_purpose="authentication",
        challenge=proof.get("challenge", "c-1"),
        domain=proof.get("domain", "verifier.example"),
    )


VP = _presentation()


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    else:
        yield path


def _mutated(document: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    parent: Any = out
    for step in path[:-1]:
        parent = parent[step]
    value = parent[path[-1]]
    parent[path[-1]] = (
        value + "x" if isinstance(value, str) else (not value if isinstance(value, bool) else 0)
    )
    return out


def test_the_presentation_verifies_and_lists_every_check() -> None:
    report = verify_presentation(VP, options=OPTIONS, challenge="c-1", domain="verifier.example")
    assert report.verified, report.to_dict()
    assert tuple(c.id for c in report.checks) == PRESENTATION_CHECK_IDS
    assert all(c.passed for c in report.checks)
    assert report.issuer == HOLDER.controller


@pytest.mark.parametrize("path", list(_leaves(VP)), ids=lambda p: ".".join(map(str, p)))
def test_any_single_mutation_fails(path: tuple[Any, ...]) -> None:
    report = verify_presentation(
        _mutated(VP, path), options=OPTIONS, challenge="c-1", domain="verifier.example"
    )
    assert not report.verified, path


def test_a_failed_holder_proof_skips_what_depends_on_it() -> None:
    forged = copy.deepcopy(VP)
    forged["holder"] = ISSUER.controller
    report = verify_presentation(
        forged, options=OPTIONS, challenge="c-1", domain="verifier.example"
    )
    outcomes = {c.id: c.outcome.value for c in report.checks}
    assert outcomes["proof"] == "fail"
    assert outcomes["holder"] == "skipped"
    assert outcomes["subject"] == "skipped"
    assert outcomes["credentials"] == "pass"  # the credential itself is still fine


def test_a_presentation_signed_by_someone_else_for_the_holder_fails_the_holder_check() -> None:
    unsigned = {k: v for k, v in VP.items() if k != "proof"}
    by_issuer = data_integrity.sign(
        unsigned,
        signer=ISSUER,
        cryptosuite="eddsa-jcs-2022",
        created=NOW,
        proof_purpose="authentication",
        challenge="c-1",
        domain="verifier.example",
    )
    report = verify_presentation(
        by_issuer, options=OPTIONS, challenge="c-1", domain="verifier.example"
    )
    assert {c.id: c.outcome.value for c in report.checks}["holder"] == "fail"


def test_an_assertion_proof_is_not_an_authentication() -> None:
    unsigned = {k: v for k, v in VP.items() if k != "proof"}
    asserted = data_integrity.sign(
        unsigned, signer=HOLDER, cryptosuite="eddsa-jcs-2022", created=NOW, challenge="c-1"
    )
    report = verify_presentation(asserted, options=OPTIONS, challenge="c-1")
    check = report.check("proof")
    assert check is not None
    assert check.failed
    assert check.details["problem"] == "MISMATCHED_PROOF_PURPOSE_ERROR"
