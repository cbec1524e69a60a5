"""Open Badges 2.0 verification: hosted and signed assertions -> ``VerificationReport``.

OB 2.0 "Badge Verification": a *hosted* assertion is authoritative at its own URL (its id),
fetched again at verification time, within the issuer's allowed origins; a *signed* one is a
JWS (RS256) verified with the issuer's ``CryptographicKey`` named by ``verification.creator``,
and revoked through the issuer's ``revocationList``. Linked documents (badge class, issuer,
key, revocation list) are fetched through the injected ``Fetcher`` (the SSRF-guarded one in
production). Never raises for a bad badge: every problem is a failed check with its reason.

Check ids are those of the pipeline: parse, format, schema, proof, issuer, validity, status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from merito.domain.ports import Clock, Fetcher
from merito.domain.verification import Check, Outcome, VerificationReport
from merito.errors import FetchError, InvalidCredential, MeritoError
from merito.formats import ob2
from merito.formats.json_depth import too_deep
from merito.proofs.jws import verify_with_pem

__all__ = ["verify_ob2"]

_ACCEPT: Final = "application/ld+json, application/json"
_TITLES: Final = {
    "parse": "Readable",
    "format": "Open Badges 2.0 assertion",
    "schema": "Badge class and issuer",
    "proof": "Signature or hosted copy",
    "issuer": "Issued by the badge's issuer",
    "validity": "Within its validity period",
    "status": "Not revoked",
}


class _Stop(Exception):
    """A failed check that ends verification (the later checks are skipped)."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.message)
        self.check = check


def _check(check_id: str, outcome: Outcome, message: str, **details: Any) -> Check:
    return Check(check_id, outcome, _TITLES[check_id], message, details)


def _fail(check_id: str, message: str, **details: Any) -> _Stop:
    return _Stop(_check(check_id, Outcome.FAIL, message, **details))


@dataclass
class _Run:
    fetcher: Fetcher | None
    max_depth: int
    checks: list[Check] = field(default_factory=list)

    def fetch_json(self, url: str, check_id: str, what: str) -> tuple[dict[str, Any], str]:
        """The JSON object at ``url`` and the URL it finally came from (after redirects)."""
        if self.fetcher is None:
            raise _fail(check_id, f"the {what} at {url} cannot be fetched: fetching is off")
        try:
            response = self.fetcher.fetch(url, accept=_ACCEPT)
        except FetchError as e:
            gone = " 410" in e.message
            raise _fail(
                "status" if gone and what == "hosted assertion" else check_id,
                f"the {what} was withdrawn by its issuer (HTTP 410 Gone at {url})"
                if gone
                else f"the {what} could not be fetched: {e.message}",
                url=url,
                reason="revoked" if gone else "unreachable",
            ) from e
        try:
            text = response.body.decode("utf-8")
            value = None if too_deep(text, self.max_depth) else json.loads(text)
        except (UnicodeDecodeError, ValueError):
            value = None
        if not isinstance(value, dict):
            raise _fail(check_id, f"the {what} at {url} is not a JSON object", url=url)
        return value, response.url or url


def _embedded_or_fetched(
    run: _Run, value: str | Mapping[str, Any], check_id: str, what: str
) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    return run.fetch_json(value, check_id, what)[0]


def verify_ob2(
    source: str | Mapping[str, Any],
    *,
    fetcher: Fetcher | None,
    clock: Clock,
    max_depth: int = 64,
) -> VerificationReport:
    """Verify an OB 2.0 badge given as its assertion JSON, its JWS or its hosted URL.

    A hosted assertion's URL is fetched (its id must be that URL); assertion JSON that says
    ``hosted`` is checked against its hosted copy (which wins). The report's ``credential``
    is the assertion with its badge class (and the badge class's issuer) embedded.
    """
    run = _Run(fetcher=fetcher, max_depth=max_depth)
    now = clock.now().astimezone(UTC)
    state: dict[str, Any] = {"envelope": None, "issuer": None, "credential": None}
    try:
        _verify(run, source, now, state)
    except _Stop as stop:
        run.checks.append(stop.check)
        done = {c.id for c in run.checks}
        for check_id in _TITLES:
            if check_id not in done:
                run.checks.append(
                    _check(check_id, Outcome.SKIPPED, f"not checked: {stop.check.id} failed")
                )
    return VerificationReport(
        checks=tuple(run.checks),
        format="ob-2.0",
        credential=state["credential"],
        data_model=None,
        envelope=state["envelope"],
        issuer=state["issuer"],
        checked_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _verify(
    run: _Run, source: str | Mapping[str, Any], now: datetime, state: dict[str, Any]
) -> None:
    jws: ob2.CompactJws | None = None
    fetched_from: str | None = None
    if isinstance(source, str) and source.strip().lower().startswith(("http://", "https://")):
        url = source.strip()
        document, fetched_from = run.fetch_json(url, "parse", "hosted assertion")
        state["envelope"] = "hosted"
    elif isinstance(source, str):
        try:
            jws = ob2.parse_jws(source)
        except InvalidCredential as e:
            raise _fail("parse", e.message) from e
        document = dict(jws.payload)
        state["envelope"] = "jws"
    else:
        document = dict(source)
        state["envelope"] = "json"
    run.checks.append(_check("parse", Outcome.PASS, "The badge data was read."))

    try:
        assertion = ob2.parse_assertion(document)
    except InvalidCredential as e:
        raise _fail(
            "format", f"not a valid OB 2.0 assertion: {e.message}", property=e.property
        ) from e
    run.checks.append(
        _check(
            "format",
            Outcome.PASS,
            f"An Open Badges 2.0 assertion ({assertion.verification_type} verification).",
            verification=assertion.verification_type,
        )
    )

    # proof, part 1: the hosted copy or the signature's key (the issuer is checked below)
    key: ob2.PublicKeyRecord | None = None
    if assertion.verification_type == "hosted":
        if jws is not None:
            raise _fail(
                "proof", "a hosted assertion must not come as a JWS", property="verification"
            )
        if fetched_from is None:
            hosted, fetched_from = run.fetch_json(assertion.id, "proof", "hosted assertion")
            try:
                assertion = ob2.parse_assertion(hosted)
            except InvalidCredential as e:
                raise _fail(
                    "proof", f"the hosted copy is not a valid assertion: {e.message}"
                ) from e
            document = hosted
        if assertion.id != fetched_from:
            raise _fail(
                "proof",
                f"the assertion's id {assertion.id} is not the URL it was fetched from "
                f"({fetched_from})",
                property="id",
            )
    else:
        if jws is None:
            raise _fail(
                "proof",
                "a signed assertion must be given as its JWS (the JSON alone carries no signature)",
                property="verification",
            )
        if assertion.creator is None:
            raise _fail("proof", "the signed assertion names no verification.creator key")
        key_doc, _ = run.fetch_json(assertion.creator, "proof", "signing key")
        try:
            key = ob2.parse_public_key(key_doc)
            valid = verify_with_pem(
                algorithm=jws.header.get("alg"),
                signing_input=jws.signing_input,
                signature=jws.signature,
                pem=key.public_key_pem,
            )
        except MeritoError as e:
            raise _fail("proof", f"the signing key cannot be used: {e.message}") from e
        if not valid:
            raise _fail(
                "proof",
                "the signature is invalid: the assertion was changed after signing or was "
                "not signed with the issuer's key",
                reason="signature-invalid",
                alg=str(jws.header.get("alg")),
            )

    # schema: the badge class and its issuer profile
    badge_doc = _embedded_or_fetched(run, assertion.badge, "schema", "badge class")
    try:
        badge = ob2.parse_badge_class(badge_doc)
    except InvalidCredential as e:
        raise _fail("schema", e.message, property=e.property) from e
    issuer_doc = _embedded_or_fetched(run, badge.issuer, "schema", "issuer profile")
    try:
        issuer = ob2.parse_issuer(issuer_doc)
    except InvalidCredential as e:
        raise _fail("schema", e.message, property=e.property) from e
    run.checks.append(
        _check(
            "schema", Outcome.PASS, f"The badge {badge.name!r} by {issuer.name!r} is well formed."
        )
    )
    state["issuer"] = issuer.id
    state["credential"] = {**document, "badge": {**badge_doc, "issuer": issuer_doc}}

    if assertion.verification_type == "hosted":
        run.checks.append(
            _check("proof", Outcome.PASS, f"The hosted copy at {assertion.id} matches.")
        )
        problem = ob2.hosted_origin_problem(assertion.id, issuer)
        if problem is not None:
            raise _fail("issuer", problem, property="id")
        run.checks.append(
            _check("issuer", Outcome.PASS, f"Hosted on an origin {issuer.name!r} allows.")
        )
    else:
        if key is None:  # pragma: no cover - set on the signed path above
            raise _fail("proof", "no signing key was read")
        run.checks.append(_check("proof", Outcome.PASS, "The RS256 signature verifies."))
        owned = (key.owner is not None and key.owner == issuer.id) or (
            key.id is not None and key.id in issuer.public_keys
        )
        if not owned:
            raise _fail(
                "issuer",
                f"the signing key {assertion.creator} does not belong to the issuer {issuer.id}",
                property="verification.creator",
            )
        run.checks.append(_check("issuer", Outcome.PASS, f"Signed with a key of {issuer.name!r}."))

    if assertion.issued_on > now:
        raise _fail("validity", f"issuedOn {assertion.issued_on.isoformat()} is in the future")
    if assertion.expires is not None and assertion.expires <= now:
        raise _fail(
            "validity", f"the badge expired on {assertion.expires.isoformat()}", reason="expired"
        )
    run.checks.append(_check("validity", Outcome.PASS, "Issued in the past and not expired."))

    if assertion.revoked:
        reason = f": {assertion.revocation_reason}" if assertion.revocation_reason else ""
        raise _fail("status", f"the issuer revoked this badge{reason}", reason="revoked")
    if assertion.verification_type == "signed" and issuer.revocation_list is not None:
        listing, _ = run.fetch_json(issuer.revocation_list, "status", "revocation list")
        try:
            revoked = ob2.revoked_ids(listing)
        except InvalidCredential as e:
            raise _fail("status", e.message) from e
        if assertion.id in revoked:
            why = revoked[assertion.id]
            raise _fail(
                "status",
                f"the issuer revoked this badge{': ' + why if why else ''}",
                reason="revoked",
            )
        run.checks.append(_check("status", Outcome.PASS, "Not on the issuer's revocation list."))
    elif assertion.verification_type == "signed":
        run.checks.append(
            _check("status", Outcome.PASS, "The issuer publishes no revocation list.")
        )
    else:
        run.checks.append(_check("status", Outcome.PASS, "The hosted copy is not revoked."))
