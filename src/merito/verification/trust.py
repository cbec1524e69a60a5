"""Trust checks: issuer trust registries, embedded endorsements, DID Configuration domain linkage.

Pure like the rest of the pipeline: registries arrive as data (``VerifyOptions.trust_registries``,
already parsed and signature-checked with ``verify_registry``), endorsements are verified with
the same ``verify`` and the same injected fetcher/resolver as the credential, and a DID
Configuration document is checked from the JSON the caller fetched (``check_domain_linkage``).

The checks are not in ``DEFAULT_CHECKS`` (a plain verifier's report keeps its documented
shape); ``with_trust_checks`` appends them:

    endorsements  every embedded EndorsementCredential (of the credential, its achievement, its
                  issuer) verifies like a credential: one that does not is a warning (it is
                  not counted), never a failure of the credential it is embedded in
    trust         the issuer against the chosen registries: known since DATE (pass), unknown
                  (warning), removed on DATE (fail for a credential issued after the removal;
                  a warning that explains it for one issued before)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from merito.domain.verification import Check, Outcome
from merito.errors import InvalidInput, ProofError
from merito.formats.multibase import b64url_decode
from merito.formats.trust_registry import TrustRegistry, format_instant, parse_registry
from merito.proofs import data_integrity
from merito.proofs.resolution import VerificationMethodResolver
from merito.proofs.vc_jwt import verify_jwt
from merito.verification.pipeline import (
    DEFAULT_CHECKS,
    CheckSpec,
    VerificationState,
    VerifyOptions,
    parse_datetime,
    verify,
)

__all__ = [
    "DID_CONFIGURATION_CONTEXT",
    "MAX_ENDORSEMENTS",
    "TRUST_CHECKS",
    "check_domain_linkage",
    "check_endorsements",
    "check_trust",
    "embedded_endorsements",
    "jwt_claims_text",
    "origin_of",
    "verify_registry",
    "with_trust_checks",
]

DID_CONFIGURATION_CONTEXT: Final = "https://identity.foundation/.well-known/did-configuration/v1"
#: embedded endorsements checked per credential (each is a full verification)
MAX_ENDORSEMENTS: Final = 20
_TRUST_TITLE: Final = "The issuer is known to a trust registry"
_ENDORSEMENTS_TITLE: Final = "Its endorsements are genuine"
_LINKAGE_TITLE: Final = "The issuer's website vouches for its DID"


def _check(check_id: str, outcome: Outcome, title: str, message: str, **details: Any) -> Check:
    return Check(id=check_id, outcome=outcome, title=title, message=message, details=details)


def _id_of(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else None


# --- registries --------------------------------------------------------------------------------


def verify_registry(
    document: Any, *, resolver: VerificationMethodResolver | None = None
) -> TrustRegistry:
    """The registry a signed document describes, after checking its proof: every proof must
    verify and one must be made by the registry's ``issuer`` (its publisher).

    InvalidInput for a malformed registry, ProofError (with the Data Integrity problem code)
    for a missing or bad signature. ``resolver`` resolves the publisher's key (did:key needs
    none).
    """
    registry = parse_registry(document)
    results = data_integrity.verify(
        dict(document), resolver=resolver or VerificationMethodResolver()
    )
    failed = next((r for r in results if not r.verified), None)
    if failed is not None:
        raise ProofError(
            f"the registry's signature does not verify: {failed.message}",
            problem=failed.problem or "PROOF_VERIFICATION_ERROR",
            property="proof",
        )
    if not any(r.controller == registry.publisher for r in results):
        raise ProofError(
            f"the registry is not signed by its publisher {registry.publisher!r}",
            problem="PROOF_VERIFICATION_ERROR",
            property="proof",
        )
    return registry


def _issued_at(credential: Mapping[str, Any]) -> datetime | None:
    for member in ("validFrom", "issuanceDate", "awardedDate"):
        moment = parse_datetime(credential.get(member))
        if moment is not None:
            return moment
    return None


def _issuer_aliases(credential: Mapping[str, Any]) -> list[str]:
    issuer = credential.get("issuer")
    aliases = []
    issuer_id = _id_of(issuer)
    if issuer_id:
        aliases.append(issuer_id)
    if isinstance(issuer, Mapping) and isinstance(issuer.get("url"), str):
        aliases.append(issuer["url"])
    return aliases


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def check_trust(state: VerificationState) -> Check:
    """The issuer against the verifying party's registries (see the module docstring)."""
    registries: Sequence[TrustRegistry] = state.options.trust_registries
    credential = state.credential or {}
    if not registries:
        return _check(
            "trust",
            Outcome.SKIPPED,
            _TRUST_TITLE,
            "No trust registry was chosen, so the issuer was not looked up.",
            reason="no-registry",
        )
    aliases = _issuer_aliases(credential)
    issued = _issued_at(credential)
    known: list[dict[str, Any]] = []
    removed_after: list[dict[str, Any]] = []
    removed_before: list[dict[str, Any]] = []
    for registry in registries:
        entry = registry.lookup(aliases)
        if entry is None:
            continue
        fact = {
            "registry": registry.id,
            "registry_name": registry.name,
            "name": entry.name,
            "status": entry.status,
            "since": format_instant(entry.since),
        }
        if entry.status == "active":
            known.append(fact)
            continue
        removal = entry.removed or entry.since
        fact["removed"] = format_instant(removal)
        if entry.reason:
            fact["reason"] = entry.reason
        if issued is None or issued >= removal:
            removed_after.append(fact)
        else:
            removed_before.append(fact)
    details: dict[str, Any] = {
        "registries": [r.id for r in registries],
        "issuer": aliases[0] if aliases else None,
        "issued": None if issued is None else format_instant(issued),
        "known": known,
        "removed": removed_after + removed_before,
    }
    if removed_after:
        fact = removed_after[0]
        because = f" ({fact['reason']})" if fact.get("reason") else ""
        when = (
            "the credential has no issuance date"
            if issued is None
            else f"this credential was issued on {_day(issued)}, after the removal"
        )
        return _check(
            "trust",
            Outcome.FAIL,
            _TRUST_TITLE,
            f"The issuer was removed from the registry {fact['registry_name']} on "
            f"{fact['removed'][:10]}{because}; {when}.",
            **details,
        )
    if known:
        said = "; ".join(
            f"known to the registry {k['registry_name']} since {k['since'][:10]}" for k in known
        )
        return _check("trust", Outcome.PASS, _TRUST_TITLE, f"The issuer is {said}.", **details)
    if removed_before:
        fact = removed_before[0]
        return _check(
            "trust",
            Outcome.WARNING,
            _TRUST_TITLE,
            f"The issuer was removed from the registry {fact['registry_name']} on "
            f"{fact['removed'][:10]}; this credential was issued earlier "
            f"({_day(issued) if issued else 'unknown date'}), while the issuer was listed.",
            **details,
        )
    names = ", ".join(r.name for r in registries)
    return _check(
        "trust",
        Outcome.WARNING,
        _TRUST_TITLE,
        f"Unknown issuer: it is not in the registr{'ies' if len(registries) > 1 else 'y'} "
        f"{names}. This does not make the credential invalid.",
        **details,
    )


# --- endorsements ------------------------------------------------------------------------------


def embedded_endorsements(credential: Mapping[str, Any]) -> list[tuple[str, str | None, Any]]:
    """``(where, endorsed id, endorsement)`` for every embedded endorsement: the credential's
    own ``endorsement``/``endorsementJwt``, its achievement's and its issuer's."""
    places: list[tuple[str, Any]] = [("credential", credential)]
    subject = credential.get("credentialSubject")
    for item in subject if isinstance(subject, list) else [subject]:
        if isinstance(item, Mapping) and isinstance(item.get("achievement"), Mapping):
            places.append(("achievement", item["achievement"]))
    if isinstance(credential.get("issuer"), Mapping):
        places.append(("issuer", credential["issuer"]))
    found: list[tuple[str, str | None, Any]] = []
    for where, node in places:
        endorsed = _id_of(node) if where != "credential" else _id_of(credential)
        for member in ("endorsement", "endorsementJwt"):
            value = node.get(member)
            for item in value if isinstance(value, list) else [value]:
                if item is not None:
                    found.append((where, endorsed, item))
    return found


def _endorsement_options(options: VerifyOptions) -> VerifyOptions:
    return dataclasses.replace(options, checks=DEFAULT_CHECKS, trust_registries=())


def check_endorsements(state: VerificationState) -> Check:
    credential = state.credential or {}
    found = embedded_endorsements(credential)
    if not found:
        return _check(
            "endorsements",
            Outcome.SKIPPED,
            _ENDORSEMENTS_TITLE,
            "It carries no endorsements.",
            count=0,
        )
    options = dataclasses.replace(_endorsement_options(state.options), resolver=state.resolver)
    results: list[dict[str, Any]] = []
    for where, endorsed, item in found[:MAX_ENDORSEMENTS]:
        report = verify(item, options=options)
        document = report.credential or {}
        subject = document.get("credentialSubject")
        subject = subject[0] if isinstance(subject, list) and subject else subject
        subject_id = _id_of(subject)
        types = document.get("type")
        types = types if isinstance(types, list) else [types]
        problem = None
        if "EndorsementCredential" not in types:
            problem = "it is not an EndorsementCredential"
        elif endorsed is not None and subject_id != endorsed:
            problem = f"it endorses {subject_id!r}, not the {where} it is attached to"
        elif not report.verified:
            problem = report.failures[0].message if report.failures else report.summary
        issuer = document.get("issuer")
        results.append(
            {
                "on": where,
                "endorsed": endorsed,
                "id": document.get("id"),
                "issuer": _id_of(issuer),
                "issuer_name": issuer.get("name") if isinstance(issuer, Mapping) else None,
                "comment": subject.get("endorsementComment")
                if isinstance(subject, Mapping)
                else None,
                "verified": problem is None,
                "problem": problem,
                "checks": {c.id: c.outcome.value for c in report.checks},
            }
        )
    good = [r for r in results if r["verified"]]
    bad = [r for r in results if not r["verified"]]
    details: dict[str, Any] = {"count": len(found), "verified": len(good), "endorsements": results}
    if len(found) > MAX_ENDORSEMENTS:
        details["not_checked"] = len(found) - MAX_ENDORSEMENTS
    by = ", ".join(dict.fromkeys(str(r["issuer_name"] or r["issuer"]) for r in good))
    if bad:
        first = bad[0]
        return _check(
            "endorsements",
            Outcome.WARNING,
            _ENDORSEMENTS_TITLE,
            f"{len(bad)} of {len(results)} endorsement{'s' if len(results) > 1 else ''} did "
            f"not verify and {'is' if len(bad) == 1 else 'are'} not counted "
            f"(from {first['issuer_name'] or first['issuer']}: {first['problem']}).",
            **details,
        )
    return _check(
        "endorsements",
        Outcome.PASS,
        _ENDORSEMENTS_TITLE,
        f"{len(good)} endorsement{'s' if len(good) > 1 else ''} verified, from {by}.",
        **details,
    )


TRUST_CHECKS: Final[tuple[CheckSpec, ...]] = (
    CheckSpec(
        "endorsements",
        _ENDORSEMENTS_TITLE,
        check_endorsements,
        ("parse", "format", "context", "proof"),
    ),
    CheckSpec("trust", _TRUST_TITLE, check_trust, ("parse", "format", "proof", "issuer")),
)


def with_trust_checks(
    options: VerifyOptions, registries: Sequence[TrustRegistry] = ()
) -> VerifyOptions:
    """``options`` running the trust checks after its own, against ``registries``."""
    base = tuple(c for c in (options.checks or DEFAULT_CHECKS) if c.id not in _TRUST_IDS)
    return dataclasses.replace(
        options, checks=base + TRUST_CHECKS, trust_registries=tuple(registries)
    )


_TRUST_IDS: Final = frozenset(c.id for c in TRUST_CHECKS)


# --- DID Configuration (DIF Well Known DID Configuration v1.0) -----------------------------------


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (the DID Configuration's ``origin``)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _linkage_problem(
    token: Any, *, did: str, origin: str, resolver: VerificationMethodResolver, now: datetime
) -> str | None:
    """Why a linked_dids entry does not link ``did`` to ``origin`` (None: it does).

    DIF Well Known DID Configuration §7.2 (JWT Domain Linkage Credential): ``kid``'s DID, ``iss``
    and ``sub`` are the DID; ``vc.credentialSubject`` has the DID as ``id`` and the origin;
    ``vc.type`` has DomainLinkageCredential; the signature verifies with the DID's key; the
    credential is within its dates.
    """
    if not isinstance(token, str):
        return "only the JWT form of the Domain Linkage Credential is supported"
    result = verify_jwt(token, resolver=resolver)
    payload = result.payload or {}
    credential = result.credential or {}
    subject = credential.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    kid = (result.header or {}).get("kid")
    if payload.get("iss") != did and _id_of(credential.get("issuer")) != did:
        return "it was issued by another DID"
    if not isinstance(kid, str) or kid.split("#", 1)[0] != did:
        return "its key ('kid') is not one of the DID's"
    if payload.get("sub", did) != did or subject.get("id") != did:
        return "its subject is not the DID"
    types = credential.get("type")
    if "DomainLinkageCredential" not in (types if isinstance(types, list) else [types]):
        return "it is not a DomainLinkageCredential"
    if DID_CONFIGURATION_CONTEXT not in (credential.get("@context") or []):
        return f"its @context lacks {DID_CONFIGURATION_CONTEXT}"
    if subject.get("origin") != origin:
        return f"it names the origin {subject.get('origin')!r}, not {origin}"
    if not result.verified:
        return f"its signature does not verify ({result.message})"
    expires = parse_datetime(credential.get("expirationDate"))
    if expires is not None and expires <= now:
        return f"it expired on {_day(expires)}"
    begins = parse_datetime(credential.get("issuanceDate"))
    if begins is not None and begins > now:
        return "it is not valid yet"
    return None


def check_domain_linkage(
    did: str,
    configuration: Any,
    *,
    origin: str,
    resolver: VerificationMethodResolver,
    now: datetime,
) -> Check:
    """The ``domain_linkage`` check of ``did`` from the DID Configuration served at ``origin``
    (``configuration`` is the parsed JSON, or None when it could not be fetched)."""
    where = f"{origin}/.well-known/did-configuration.json"
    base: dict[str, Any] = {"did": did, "origin": origin, "url": where}
    if configuration is None:
        return _check(
            "domain_linkage",
            Outcome.WARNING,
            _LINKAGE_TITLE,
            f"The website {origin} publishes no DID Configuration, so it does not vouch for "
            "the issuer's DID (the credential may still be genuine).",
            **base,
        )
    if not isinstance(configuration, Mapping) or not isinstance(
        configuration.get("linked_dids"), list
    ):
        return _check(
            "domain_linkage",
            Outcome.FAIL,
            _LINKAGE_TITLE,
            f"{where} is not a DID Configuration (it has no 'linked_dids' list).",
            **base,
        )
    contexts = configuration.get("@context")
    if DID_CONFIGURATION_CONTEXT not in (contexts if isinstance(contexts, list) else [contexts]):
        return _check(
            "domain_linkage",
            Outcome.FAIL,
            _LINKAGE_TITLE,
            f"{where} lacks the @context {DID_CONFIGURATION_CONTEXT}.",
            **base,
        )
    problems: list[str] = []
    for token in configuration["linked_dids"][:200]:
        if isinstance(token, str) and did not in jwt_claims_text(token):
            continue  # another DID's credential: cheap skip before any signature check
        problem = _linkage_problem(token, did=did, origin=origin, resolver=resolver, now=now)
        if problem is None:
            return _check(
                "domain_linkage",
                Outcome.PASS,
                _LINKAGE_TITLE,
                f"The website {origin} vouches for the issuer's DID {did} "
                "(a signed Domain Linkage Credential).",
                **base,
            )
        problems.append(problem)
    if problems:
        return _check(
            "domain_linkage",
            Outcome.FAIL,
            _LINKAGE_TITLE,
            f"The website {origin} lists the DID {did}, but its Domain Linkage Credential is "
            f"not valid: {problems[0]}.",
            problems=problems[:10],
            **base,
        )
    return _check(
        "domain_linkage",
        Outcome.WARNING,
        _LINKAGE_TITLE,
        f"The website {origin} does not list the DID {did} in its DID Configuration.",
        **base,
    )


def jwt_claims_text(token: str) -> str:
    """The decoded JWT payload as text (for a cheap DID match), or "" when unreadable."""
    parts = token.split(".")
    if len(parts) != 3:
        return ""
    try:
        return b64url_decode(parts[1]).decode("utf-8", errors="replace")
    except (InvalidInput, ValueError):
        return ""
