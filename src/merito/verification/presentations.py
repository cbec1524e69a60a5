"""Verifiable Presentations: the holder's proof, its challenge and domain, and every credential.

``verify_presentation(document, options=..., challenge=..., domain=...)`` runs the pipeline of
``merito.verification.pipeline`` with the presentation checks below instead of the credential
ones, so it shares its reading limits (size, depth, duplicate keys), its guard (a check that
raises is a failed check) and its report. It never raises. The checks, in order:

    parse        the document is readable (the credential pipeline's own check)
    format       a VC 2.0 ``VerifiablePresentation`` with at least one ``verifiableCredential``
    context      every JSON-LD context is bundled (embedded credentials' included)
    proof        the holder's Data Integrity proof verifies, with purpose ``authentication``
                 (VC DI 1.0 §4.4; a presentation is authentication, not an assertion)
    holder       the proof's key belongs to ``holder`` (its controller is the holder id)
    challenge    the proof's ``challenge`` is the verifier's (VC DI §2.1: replay protection)
    domain       the proof's ``domain`` includes the verifier's (the audience)
    credentials  every embedded credential verifies through the full credential pipeline
    subject      each credential whose subject is a DID was issued to the holder

``challenge`` and ``domain`` given by the verifier are required to match; left out, the check
is a warning (a presentation without them can be replayed). A credential whose subject is not
a DID (an OB 3.0 hashed email ``identifier``) cannot be bound to a key: the ``subject`` check
is then a warning that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final
from urllib.parse import unquote

from merito.domain.verification import Check, Outcome, VerificationReport
from merito.proofs import data_integrity
from merito.verification.pipeline import (
    CheckSpec,
    VerificationState,
    VerifyOptions,
    check_context,
    check_parse,
    verify,
)

__all__ = [
    "PRESENTATION_CHECK_IDS",
    "is_presentation",
    "presentation_checks",
    "presentation_summary",
    "verify_presentation",
]

PRESENTATION_CHECK_IDS: Final = (
    "parse",
    "format",
    "context",
    "proof",
    "holder",
    "challenge",
    "domain",
    "credentials",
    "subject",
)
_VC_V2: Final = "https://www.w3.org/ns/credentials/v2"
_JWT_MEDIA: Final = ("data:application/vc+jwt,", "data:application/jwt,")
_MAX_CREDENTIALS: Final = 100


def _check(check_id: str, outcome: Outcome, title: str, message: str, **details: Any) -> Check:
    return Check(id=check_id, outcome=outcome, title=title, message=message, details=details)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _presentation(state: VerificationState) -> dict[str, Any]:
    if state.credential is None:  # pragma: no cover - every check requires "parse"
        raise RuntimeError("no presentation was read")
    return state.credential


def _holder_id(presentation: Mapping[str, Any]) -> str | None:
    holder = presentation.get("holder")
    if isinstance(holder, Mapping):
        holder = holder.get("id")
    return holder if isinstance(holder, str) and holder else None


def _embedded(item: Any) -> str | dict[str, Any] | None:
    """What the credential pipeline verifies for one ``verifiableCredential`` entry.

    VC 2.0 §4.13 lets a presentation carry a VC-JWT as an ``EnvelopedVerifiableCredential``
    whose ``id`` is a ``data:`` URL; any other object is an embedded-proof credential.
    """
    if not isinstance(item, dict):
        return None
    if "EnvelopedVerifiableCredential" in _as_list(item.get("type")):
        url = item.get("id")
        if isinstance(url, str):
            for prefix in _JWT_MEDIA:
                if url.startswith(prefix):
                    return unquote(url.removeprefix(prefix))
        return None
    return item


def _check_format(state: VerificationState) -> Check:
    title = "It is a verifiable presentation"
    if state.envelope == "jwt":
        return _check(
            "format",
            Outcome.FAIL,
            title,
            "This is a JWT; Merito verifies presentations secured with an embedded "
            "Data Integrity proof.",
            property="proof",
        )
    presentation = _presentation(state)
    contexts = _as_list(presentation.get("@context"))
    if not contexts or contexts[0] != _VC_V2:
        return _check(
            "format",
            Outcome.FAIL,
            title,
            f"The first '@context' must be {_VC_V2!r} (VC Data Model 2.0).",
            property="@context",
        )
    types = [t for t in _as_list(presentation.get("type")) if isinstance(t, str)]
    if "VerifiablePresentation" not in types:
        return _check(
            "format",
            Outcome.FAIL,
            title,
            "Its 'type' does not include 'VerifiablePresentation'.",
            property="type",
        )
    items = _as_list(presentation.get("verifiableCredential"))
    if not items:
        return _check(
            "format",
            Outcome.FAIL,
            title,
            "It carries no credential ('verifiableCredential' is missing or empty).",
            property="verifiableCredential",
        )
    if len(items) > _MAX_CREDENTIALS:
        return _check(
            "format",
            Outcome.FAIL,
            title,
            f"It carries {len(items)} credentials; Merito checks at most {_MAX_CREDENTIALS}.",
            property="verifiableCredential",
        )
    for n, item in enumerate(items):
        if _embedded(item) is None:
            return _check(
                "format",
                Outcome.FAIL,
                title,
                f"'verifiableCredential' item {n} is neither a credential object nor an "
                "EnvelopedVerifiableCredential holding a VC-JWT.",
                property=f"verifiableCredential.{n}",
            )
    state.format = "vp"
    state.data_model = "2.0"
    state.types = tuple(types)
    return _check(
        "format",
        Outcome.PASS,
        title,
        f"This is a W3C VC 2.0 verifiable presentation of {len(items)} "
        f"credential{'s' if len(items) != 1 else ''}.",
        format="vp",
        credentials=len(items),
    )


def _holder_proofs(state: VerificationState) -> list[data_integrity.ProofResult]:
    # challenge and domain are checked on their own below, so the report names which failed
    results = data_integrity.verify(
        _presentation(state), resolver=state.resolver, expected_purpose="authentication"
    )
    state.proof_results = results
    return results


def _check_proof(state: VerificationState) -> Check:
    title = "The holder's signature is valid"
    results = _holder_proofs(state)
    failed = [r for r in results if not r.verified]
    if failed:
        first = failed[0]
        return _check(
            "proof",
            Outcome.FAIL,
            title,
            f"The presentation's proof does not verify: {first.message}.",
            problem=first.problem,
            verification_method=first.verification_method,
        )
    methods = [r.verification_method for r in results]
    return _check(
        "proof",
        Outcome.PASS,
        title,
        f"The presentation is signed by {', '.join(str(m) for m in methods)}.",
        verification_methods=methods,
        cryptosuites=[r.cryptosuite for r in results],
    )


def _check_holder(state: VerificationState) -> Check:
    title = "The holder signed it"
    presentation = _presentation(state)
    holder = _holder_id(presentation)
    if holder is None:
        return _check(
            "holder",
            Outcome.FAIL,
            title,
            "The presentation names no 'holder', so its signature binds it to no one.",
            property="holder",
        )
    state.issuer_id = holder
    controllers = {r.controller for r in state.proof_results}
    if controllers != {holder}:
        shown = ", ".join(sorted(str(c) for c in controllers))
        return _check(
            "holder",
            Outcome.FAIL,
            title,
            f"The presentation's holder is {holder!r}, but it was signed by a key of {shown}.",
            property="holder",
            holder=holder,
        )
    return _check(
        "holder", Outcome.PASS, title, f"It was signed by its holder, {holder}.", holder=holder
    )


def _proof_values(state: VerificationState, prop: str) -> list[Any]:
    values: list[Any] = []
    for proof in _as_list(_presentation(state).get("proof")):
        if isinstance(proof, Mapping):
            values.append(proof.get(prop))
    return values


def _check_challenge(expected: str | None) -> CheckSpec:
    title = "It answers the verifier's challenge"

    def run(state: VerificationState) -> Check:
        found = _proof_values(state, "challenge")
        if expected is None:
            return _check(
                "challenge",
                Outcome.WARNING,
                title,
                "No challenge was expected, so nothing shows this presentation is fresh: "
                "it could be a replay.",
                challenge=found[0] if found else None,
            )
        if not found or any(v != expected for v in found):
            return _check(
                "challenge",
                Outcome.FAIL,
                title,
                "The presentation's proof 'challenge' is not the one the verifier asked for: "
                "it may be a replay of an earlier presentation.",
                problem="INVALID_CHALLENGE_ERROR",
                property="challenge",
            )
        return _check(
            "challenge", Outcome.PASS, title, "The proof carries the verifier's challenge."
        )

    return CheckSpec("challenge", title, run, requires=("proof",))


def _check_domain(expected: str | None) -> CheckSpec:
    title = "It was made for this verifier"

    def run(state: VerificationState) -> Check:
        found = _proof_values(state, "domain")
        if expected is None:
            return _check(
                "domain",
                Outcome.WARNING,
                title,
                "No domain was expected, so nothing shows who this presentation was made for.",
                domain=found[0] if found else None,
            )
        for value in found or [None]:
            domains = value if isinstance(value, list) else [value]
            if expected not in domains:
                return _check(
                    "domain",
                    Outcome.FAIL,
                    title,
                    f"The presentation's proof 'domain' is {value!r}, not {expected!r}: it "
                    "was made for another verifier.",
                    problem="INVALID_DOMAIN_ERROR",
                    property="domain",
                )
        return _check("domain", Outcome.PASS, title, f"The proof names the domain {expected!r}.")

    return CheckSpec("domain", title, run, requires=("proof",))


def _check_credentials(options: VerifyOptions, reports: list[VerificationReport]) -> CheckSpec:
    title = "Every credential in it is valid"

    def run(state: VerificationState) -> Check:
        items = _as_list(_presentation(state).get("verifiableCredential"))
        for item in items:
            embedded = _embedded(item)
            reports.append(verify(embedded if embedded is not None else item, options=options))
        details = [r.to_dict() for r in reports]
        bad = [n for n, r in enumerate(reports) if not r.verified]
        if bad:
            first = reports[bad[0]]
            return _check(
                "credentials",
                Outcome.FAIL,
                title,
                f"Credential {bad[0]} is not valid: {first.summary}",
                property=f"verifiableCredential.{bad[0]}",
                invalid=bad,
                reports=details,
            )
        warned = sum(1 for r in reports if r.warnings)
        note = f" ({warned} with warnings)" if warned else ""
        return _check(
            "credentials",
            Outcome.PASS,
            title,
            f"All {len(reports)} credential{'s' if len(reports) != 1 else ''} verified{note}.",
            reports=details,
        )

    return CheckSpec("credentials", title, run, requires=("format",))


def _subject_ids(credential: Mapping[str, Any] | None) -> list[Any]:
    if credential is None:
        return []
    return [
        s.get("id") if isinstance(s, Mapping) else None
        for s in _as_list(credential.get("credentialSubject"))
    ] or [None]


def _check_subject(reports: list[VerificationReport]) -> CheckSpec:
    def run(state: VerificationState) -> Check:
        return _subject(state, reports)

    return CheckSpec(
        "subject",
        "The credentials were issued to the holder",
        run,
        requires=("holder", "credentials"),
    )


def _subject(state: VerificationState, reports: list[VerificationReport]) -> Check:
    title = "The credentials were issued to the holder"
    holder = _holder_id(_presentation(state))
    unbound: list[int] = []
    for n, report in enumerate(reports):
        ids = _subject_ids(report.credential)
        dids = [i for i in ids if isinstance(i, str) and i.startswith("did:")]
        if not dids:
            unbound.append(n)
            continue
        if holder not in dids:
            return _check(
                "subject",
                Outcome.FAIL,
                title,
                f"Credential {n} was issued to {dids[0]!r}, not to the holder {holder!r}.",
                property=f"verifiableCredential.{n}.credentialSubject.id",
                subject=dids[0],
                holder=holder,
            )
    if unbound:
        listed = ", ".join(str(n) for n in unbound)
        return _check(
            "subject",
            Outcome.WARNING,
            title,
            f"Credential{'s' if len(unbound) != 1 else ''} {listed}: "
            "the recipient is named by another identifier (e.g. a hashed email), not a DID: Merito "
            "cannot tell from the signature alone that the holder is the recipient.",
            unbound=unbound,
        )
    return _check(
        "subject", Outcome.PASS, title, "Every credential was issued to the holder's DID."
    )


def presentation_checks(
    options: VerifyOptions, *, challenge: str | None, domain: str | None
) -> tuple[CheckSpec, ...]:
    """The presentation registry; ``options`` verifies the embedded credentials.

    Build it per verification: the ``credentials`` and ``subject`` checks share its reports.
    """
    reports: list[VerificationReport] = []
    return (
        CheckSpec("parse", "The document can be read", check_parse),
        CheckSpec("format", "It is a verifiable presentation", _check_format, ("parse",)),
        CheckSpec(
            "context", "Its vocabulary (JSON-LD contexts) is known", check_context, ("format",)
        ),
        CheckSpec("proof", "The holder's signature is valid", _check_proof, ("context",)),
        CheckSpec("holder", "The holder signed it", _check_holder, ("proof",)),
        _check_challenge(challenge),
        _check_domain(domain),
        _check_credentials(options, reports),
        _check_subject(reports),
    )


def verify_presentation(
    document: str | bytes | dict[str, Any],
    *,
    options: VerifyOptions | None = None,
    challenge: str | None = None,
    domain: str | None = None,
) -> VerificationReport:
    """Verify a presentation and every credential in it; never raises on any input.

    ``options`` are the credential verifier's (clock, resolver, fetcher, limits): the holder's
    proof and each embedded credential are checked with them. The report's ``credential`` is
    the presentation; the ``credentials`` check's details hold each credential's report.
    """
    options = options or VerifyOptions()
    inner = replace(options, checks=None)
    checks = presentation_checks(inner, challenge=challenge, domain=domain)
    return verify(document, options=replace(options, checks=checks))


def presentation_summary(report: VerificationReport) -> str:
    """The report's one sentence, about a presentation rather than a credential."""
    if report.verified:
        if report.warnings:
            return "The presentation is valid, with warnings: " + report.warnings[0].message
        return "The presentation is valid."
    failures = report.failures
    if failures:
        return "The presentation is not valid: " + failures[0].message
    return "The presentation could not be checked."


def is_presentation(report: VerificationReport) -> bool:
    """True when the credential pipeline read a document and refused it as a presentation:
    the caller then verifies it with ``verify_presentation``."""
    check = report.check("format")
    if check is None or not check.failed or report.credential is None:
        return False
    types = report.credential.get("type")
    return "VerifiablePresentation" in (types if isinstance(types, list) else [types])
