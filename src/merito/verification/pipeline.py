"""The verification pipeline: input -> ordered checks -> ``VerificationReport``; never raises.

``verify(document, options=...)`` reads raw text (JSON or a compact JWT), bytes or an
already-parsed dict and runs the checks of ``options.checks`` in order (by default
``DEFAULT_CHECKS``: parse, format, context, schema, proof, issuer, validity, status, anchored,
documented in ``merito.domain.verification``). Each check is a small function of the shared
``VerificationState`` that returns a ``Check``; a ``CheckSpec`` names the checks it depends on,
and is ``skipped`` with the reason when one of them failed or was skipped. Adding a check (trust
registry, endorsements) is adding a ``CheckSpec``: the others are untouched.

Side effects are all in ``VerifyOptions``: the clock, the fetcher (status lists, did:web), the
verification method resolver and the anchor checker. Nothing here opens a socket; JSON-LD
contexts come only from the bundle (an unknown context fails the ``context`` check and is never
fetched), and nothing is fetched for a credential whose signature did not verify.

Hostile input is expected: size is checked before parsing, nesting depth and value count are
bounded (iteratively, so a 10,000-deep document cannot raise RecursionError), NaN/Infinity,
duplicate keys, invalid UTF-8 and lone surrogates are refused, and every check runs inside a
guard that turns an unexpected exception into a failed check.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from merito.domain.ports import Clock, Fetcher, SystemClock
from merito.domain.verification import Check, Outcome, VerificationReport
from merito.errors import FetchError, MeritoError
from merito.formats.contexts import bundled_urls
from merito.formats.json_depth import too_deep
from merito.formats.multibase import b64url_decode
from merito.formats.schema import (
    validate_achievement_credential,
    validate_endorsement_credential,
)
from merito.formats.status_list import MIN_LIST_BITS, decode_status_list, status_at
from merito.formats.trust_registry import TrustRegistry
from merito.proofs import data_integrity
from merito.proofs.resolution import VerificationMethodResolver
from merito.proofs.vc_jwt import JwtResult, verify_jwt

__all__ = [
    "DEFAULT_CHECKS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "AnchorChecker",
    "CheckSpec",
    "VerificationState",
    "VerifyOptions",
    "verify",
]

DEFAULT_MAX_BYTES: Final = 1_000_000
DEFAULT_MAX_DEPTH: Final = 64

#: An anchoring back end: given the credential, returns the ``anchored`` check.
AnchorChecker = Callable[[Mapping[str, Any]], Check]

_VC_V2: Final = "https://www.w3.org/ns/credentials/v2"
_VC_V1: Final = "https://www.w3.org/2018/credentials/v1"
_OB_CONTEXT_PREFIX: Final = "https://purl.imsglobal.org/spec/ob/v3p0/context"
_CLR_CONTEXT_PREFIX: Final = "https://purl.imsglobal.org/spec/clr/v2p0/context"
_OB_TYPES: Final = frozenset({"OpenBadgeCredential", "AchievementCredential"})
_OB_ANY_TYPES: Final = _OB_TYPES | {"EndorsementCredential"}
_STATUS_LIST_TYPES: Final = {
    "BitstringStatusListEntry": "BitstringStatusListCredential",
    "StatusList2021Entry": "StatusList2021Credential",
}
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
_JWT_RE: Final = re.compile(r"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_DATETIME_RE: Final = re.compile(
    r"(-?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}:\d{2})?"
)
_STATUS_ACCEPT: Final = (
    "application/vc+ld+json, application/vc+jwt, application/ld+json, application/json"
)


# ---------------------------------------------------------------------------------------------
# Options, state and the check registry


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One registered check: its id, its plain-language title, its function, its prerequisites.

    ``requires`` lists check ids that must not have failed (nor been skipped) for this one to
    run; a prerequisite missing from the registry counts as met.
    """

    id: str
    title: str
    run: Callable[[VerificationState], Check]
    requires: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """Everything ``verify`` may use from the outside world, plus its limits.

    ``resolver`` defaults to a ``VerificationMethodResolver`` over ``fetcher`` (did:key works
    offline; did:web and https controller documents only with a fetcher).
    ``status_retrieval_outcome`` is what a status list that cannot be fetched yields: a
    ``warning`` by default (the status is unknown), ``fail`` for strict verifiers.
    """

    clock: Clock = field(default_factory=SystemClock)
    fetcher: Fetcher | None = None
    resolver: VerificationMethodResolver | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    anchor_checker: AnchorChecker | None = None
    expected_issuer: str | None = None
    status_retrieval_outcome: Outcome = Outcome.WARNING
    checks: tuple[CheckSpec, ...] | None = None
    #: the verifying party's chosen trust registries, parsed and signature-checked
    #: (``merito.verification.trust``: the ``trust`` check reads them)
    trust_registries: tuple[TrustRegistry, ...] = ()
    #: outcomes of signature checks already made (``data_integrity.ProofCache``: keyed by the
    #: document, the proof and the resolved key); status, validity and trust are never cached
    proof_cache: data_integrity.ProofCache | None = None


@dataclass(slots=True)
class VerificationState:
    """What the checks share during one ``verify`` call (never leaves it)."""

    options: VerifyOptions
    raw: object
    now: datetime
    resolver: VerificationMethodResolver
    credential: dict[str, Any] | None = None
    envelope: str | None = None
    jwt: str | None = None
    jwt_header: dict[str, Any] | None = None
    jwt_payload: dict[str, Any] | None = None
    format: str = "unknown"
    data_model: str | None = None
    types: tuple[str, ...] = ()
    contexts: list[Any] = field(default_factory=list)
    issuer_id: str | None = None
    proof_results: list[data_integrity.ProofResult] = field(default_factory=list)
    jwt_result: JwtResult | None = None
    status_lists: dict[str, Any] = field(default_factory=dict)


def _credential(state: VerificationState) -> dict[str, Any]:
    """The credential read by ``parse``; a check registered without that prerequisite is a bug."""
    if state.credential is None:
        raise RuntimeError("this check needs the 'parse' check to have passed")
    return state.credential


def _check(check_id: str, outcome: Outcome, title: str, message: str, **details: Any) -> Check:
    return Check(id=check_id, outcome=outcome, title=title, message=message, details=details)


# ---------------------------------------------------------------------------------------------
# parse


class _Unreadable(Exception):
    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def _reject_constant(name: str) -> Any:
    raise _Unreadable(f"the JSON contains {name}, which is not a JSON number", value=name)


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Unreadable(
                    f"the JSON has the key {key!r} twice in one object; "
                    "duplicate keys are ambiguous and refused",
                    property=key,
                )
            seen.add(key)
    return obj


def _loads(text: str, what: str) -> Any:
    if too_deep(text):  # before json.loads, whose C recursion can overflow the stack
        raise _Unreadable(f"{what} is nested too deeply to read", reason="depth")
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as e:
        raise _Unreadable(
            f"{what} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}",
            line=e.lineno,
            column=e.colno,
        ) from None
    except RecursionError:
        raise _Unreadable(f"{what} is nested too deeply to read", reason="depth") from None
    except ValueError as e:  # e.g. an integer with more digits than Python allows
        raise _Unreadable(f"{what} is not usable JSON: {e}") from None


def _valid_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(
    root: Any, *, max_depth: int, max_nodes: int, contexts: list[Any], scalars: bool = True
) -> None:
    """Check, without recursion, that ``root`` is plain JSON within the depth and size limits.

    Collects every ``@context`` value met on the way (embedded contexts count too). With
    ``scalars=False`` (a tree ``json.loads`` just built from text without surrogate escapes)
    keys and leaves are known to be JSON already, and only the shape is checked.
    """
    stack: list[tuple[Any, int]] = [(root, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _Unreadable(
                f"the document is nested more than {max_depth} levels deep",
                reason="depth",
                max_depth=max_depth,
            )
        nodes += len(node)
        if nodes > max_nodes:
            raise _Unreadable(f"the document has more than {max_nodes} values", reason="size")
        if isinstance(node, dict):
            if "@context" in node:
                contexts.append(node["@context"])
            if scalars:
                for key, value in node.items():
                    if type(key) is not str:
                        raise _Unreadable(f"a key is a {type(key).__name__}, not a string")
                    if not key.isascii() and not _valid_unicode(key):
                        raise _Unreadable("a key contains invalid Unicode (an unpaired surrogate)")
                    kind = type(value)
                    if kind is str:
                        if not value.isascii() and not _valid_unicode(value):
                            _check_scalar(value, key)  # raises, naming the key
                    elif kind is dict or kind is list or isinstance(value, dict | list):
                        stack.append((value, depth + 1))
                    elif kind is not int and kind is not bool and value is not None:
                        _check_scalar(value, key)
                continue
            values: Any = node.values()
        else:
            values = node
        for value in values:
            if isinstance(value, dict | list):
                stack.append((value, depth + 1))
            elif scalars:
                _check_scalar(value, "a list item")


def _check_scalar(value: Any, key: str) -> None:
    if isinstance(value, str):
        if not value.isascii() and not _valid_unicode(value):
            raise _Unreadable(
                f"the value of {key!r} contains invalid Unicode (an unpaired surrogate)"
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _Unreadable(
                f"the value of {key!r} is {value}, which is not a JSON number", property=key
            )
    elif value is not None and not isinstance(value, int):  # bool is an int
        raise _Unreadable(
            f"the value of {key!r} is a Python {type(value).__name__}, not JSON", property=key
        )


def _text_of(raw: str | bytes | bytearray, options: VerifyOptions) -> str:
    limit = options.max_bytes
    if len(raw) > limit:
        raise _Unreadable(
            f"the document is {len(raw):,} bytes, over the {limit:,}-byte limit",
            reason="size",
            max_bytes=limit,
        )
    if isinstance(raw, bytes | bytearray):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as e:
            raise _Unreadable(
                f"the document is not UTF-8 text (invalid byte at position {e.start})",
                position=e.start,
            ) from None
    else:
        text = raw
        if not _valid_unicode(text):
            raise _Unreadable("the document contains invalid Unicode (an unpaired surrogate)")
        if text.isascii():
            pass
        elif len(text.encode("utf-8")) > limit:
            raise _Unreadable(
                f"the document is over the {limit:,}-byte limit", reason="size", max_bytes=limit
            )
    return text.removeprefix("\ufeff").strip()


def _decode_jwt_part(part: str, what: str, state: VerificationState) -> dict[str, Any]:
    try:
        raw = b64url_decode(part)
        text = raw.decode("utf-8")
    except (MeritoError, UnicodeDecodeError):
        raise _Unreadable(f"the JWT {what} is not base64url-encoded UTF-8 JSON") from None
    value = _loads(text, f"the JWT {what}")
    if not isinstance(value, dict):
        raise _Unreadable(f"the JWT {what} is not a JSON object")
    _walk(
        value,
        max_depth=state.options.max_depth,
        max_nodes=state.options.max_bytes,
        contexts=state.contexts if what == "payload" else [],
        scalars=_SURROGATE_ESCAPE.search(text) is not None,
    )
    return value


def _read_jwt(token: str, state: VerificationState) -> None:
    header_b64, payload_b64, _ = token.split(".")
    state.jwt = token
    state.envelope = "jwt"
    state.jwt_header = _decode_jwt_part(header_b64, "header", state)
    state.jwt_payload = payload = _decode_jwt_part(payload_b64, "payload", state)
    vc = payload.get("vc")
    # VC-JWT 1.1 §6.3.1 carries the credential in the "vc" claim; VC-JOSE-COSE (VC 2.0) makes
    # the payload itself the credential.
    if isinstance(vc, dict):
        state.credential = vc
    elif "@context" in payload:
        state.credential = payload
    else:
        raise _Unreadable("the JWT carries no credential (no 'vc' claim and no '@context')")


def check_parse(state: VerificationState) -> Check:
    title = "The document can be read"
    raw = state.raw
    options = state.options
    try:
        if isinstance(raw, dict):
            _walk(
                raw,
                max_depth=options.max_depth,
                max_nodes=options.max_bytes,
                contexts=state.contexts,
            )
            state.credential = raw
            state.envelope = "embedded"
        elif isinstance(raw, str | bytes | bytearray):
            text = _text_of(raw, options)
            if not text:
                raise _Unreadable("the document is empty")
            if _JWT_RE.fullmatch(text):
                _read_jwt(text, state)
            else:
                value = _loads(text, "the document")
                if isinstance(value, str) and _JWT_RE.fullmatch(value.strip()):
                    _read_jwt(value.strip(), state)  # a JSON-quoted compact JWT
                elif isinstance(value, dict):
                    _walk(
                        value,
                        max_depth=options.max_depth,
                        max_nodes=options.max_bytes,
                        contexts=state.contexts,
                        scalars=_SURROGATE_ESCAPE.search(text) is not None,
                    )
                    state.credential = value
                    state.envelope = "embedded"
                else:
                    kind = (
                        "an array" if isinstance(value, list) else f"a JSON {type(value).__name__}"
                    )
                    raise _Unreadable(f"the document is {kind}, not a JSON object")
        else:
            raise _Unreadable(
                f"the input is a Python {type(raw).__name__}; expected JSON text, bytes or a dict"
            )
    except _Unreadable as e:
        state.credential = None
        state.contexts.clear()
        return _check(
            "parse", Outcome.FAIL, title, f"The document cannot be read: {e.message}.", **e.details
        )
    what = "a VC-JWT" if state.envelope == "jwt" else "a JSON document"
    return _check("parse", Outcome.PASS, title, f"The document is {what} Merito can read.")


# ---------------------------------------------------------------------------------------------
# format


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _types_of(node: Any) -> tuple[str, ...]:
    if not isinstance(node, Mapping):
        return ()
    return tuple(t for t in _as_list(node.get("type")) if isinstance(t, str))


def check_format(state: VerificationState) -> Check:
    title = "It is a credential Merito understands"
    credential = _credential(state)
    contexts = credential.get("@context")
    context_list = _as_list(contexts)
    first = context_list[0] if context_list else None
    if first == _VC_V2:
        state.data_model = "2.0"
    elif first == _VC_V1:
        state.data_model = "1.1"
    elif contexts is None:
        return _check(
            "format",
            Outcome.FAIL,
            title,
            "This is not a verifiable credential: it has no '@context'.",
            property="@context",
        )
    else:
        return _check(
            "format",
            Outcome.FAIL,
            title,
            "This is not a verifiable credential Merito understands: the first '@context' must be "
            f"{_VC_V2!r} (VC 2.0) or {_VC_V1!r} (VC 1.1), not {first!r}.",
            property="@context",
        )
    raw_type = credential.get("type")
    if not isinstance(raw_type, str | list) or not all(
        isinstance(t, str) for t in _as_list(raw_type)
    ):
        return _check(
            "format",
            Outcome.FAIL,
            title,
            "The credential's 'type' must be a string or a list of strings.",
            property="type",
        )
    types = _types_of(credential)
    state.types = types
    if "VerifiablePresentation" in types:
        return _check(
            "format",
            Outcome.FAIL,
            title,
            "This is a verifiable presentation, not a credential; "
            "verify each credential inside it.",
            property="type",
        )
    if "VerifiableCredential" not in types:
        return _check(
            "format",
            Outcome.FAIL,
            title,
            "This is not a verifiable credential: "
            "its 'type' does not include 'VerifiableCredential'.",
            property="type",
        )
    urls = [c for c in context_list if isinstance(c, str)]
    # a CLR lists the OB 3.0 context too (CLR 2.0 §B.1.3): its type decides first
    if "ClrCredential" in types:
        state.format, name = "clr-2.0", "a Comprehensive Learner Record 2.0"
    elif any(u.startswith(_OB_CONTEXT_PREFIX) for u in urls) or _OB_ANY_TYPES & set(types):
        state.format, name = "ob-3.0", "an Open Badges 3.0 credential"
    elif any(u.startswith(_CLR_CONTEXT_PREFIX) for u in urls):
        state.format, name = "clr-2.0", "a Comprehensive Learner Record 2.0"
    else:
        state.format, name = "vc", "a verifiable credential"
    secured = "signed as a VC-JWT" if state.envelope == "jwt" else "with an embedded proof"
    return _check(
        "format",
        Outcome.PASS,
        title,
        f"This is {name} (W3C VC Data Model {state.data_model}), {secured}.",
        format=state.format,
        data_model=state.data_model,
        envelope=state.envelope,
        types=list(types),
    )


# ---------------------------------------------------------------------------------------------
# context


def _context_urls(value: Any, out: list[Any]) -> None:
    """Every remote reference in an @context value: URLs, @import, scoped contexts (iterative)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            for key, sub in item.items():
                if key in ("@context", "@import"):
                    stack.append(sub)
                elif isinstance(sub, dict) and "@context" in sub:
                    stack.append(sub["@context"])
        elif item is not None:
            out.append(item)


def check_context(state: VerificationState) -> Check:
    title = "Its vocabulary (JSON-LD contexts) is known"
    references: list[Any] = []
    for value in state.contexts:
        _context_urls(value, references)
    known = bundled_urls()
    bad_values = [r for r in references if not isinstance(r, str)]
    if bad_values:
        return _check(
            "context",
            Outcome.FAIL,
            title,
            f"An '@context' entry is {bad_values[0]!r}, "
            "which is neither a URL nor a context object.",
            property="@context",
        )
    unknown = sorted({r for r in references if r not in known})
    if unknown:
        listed = ", ".join(repr(u) for u in unknown[:3])
        more = f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        return _check(
            "context",
            Outcome.FAIL,
            title,
            f"The credential uses the JSON-LD context {listed}{more}, which Merito does not have. "
            "Remote contexts are never fetched, so the credential cannot be checked.",
            property="@context",
            unknown=unknown,
        )
    if state.format == "ob-3.0" and _OB_TYPES & set(state.types):
        urls = [c for c in _as_list(_credential(state).get("@context")) if isinstance(c, str)]
        if not any(u.startswith(_OB_CONTEXT_PREFIX) for u in urls):
            return _check(
                "context",
                Outcome.FAIL,
                title,
                "This Open Badges credential does not use the Open Badges 3.0 context ('https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json').",
                property="@context",
            )
    return _check(
        "context",
        Outcome.PASS,
        title,
        "Every JSON-LD context it uses is one Merito ships with.",
        contexts=sorted({r for r in references if isinstance(r, str)}),
    )


# ---------------------------------------------------------------------------------------------
# schema


def _issuer_id(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) and issuer else None


def _core_problems(credential: Mapping[str, Any], data_model: str | None) -> list[str]:
    """VC Data Model 2.0 §4 / 1.1 §4 basics that every credential must meet."""
    problems: list[str] = []
    if "issuer" not in credential:
        problems.append("'issuer' is missing")
    elif _issuer_id(credential) is None:
        problems.append("'issuer' must be a URL or an object with an 'id' URL")
    elif ":" not in (_issuer_id(credential) or ""):
        problems.append(f"'issuer' {_issuer_id(credential)!r} is not a URL")
    subject = credential.get("credentialSubject")
    if subject is None:
        problems.append("'credentialSubject' is missing")
    elif not _as_list(subject) or not all(isinstance(s, dict) for s in _as_list(subject)):
        problems.append("'credentialSubject' must be an object or a non-empty list of objects")
    if "id" in credential and not isinstance(credential["id"], str):
        problems.append("'id' must be a URL string")
    if data_model == "1.1" and "issuanceDate" not in credential:
        problems.append("'issuanceDate' is missing (required by VC Data Model 1.1)")
    for name in ("validFrom", "validUntil", "issuanceDate", "expirationDate"):
        if name in credential and not isinstance(credential[name], str):
            problems.append(f"'{name}' must be a date-time string")
    return problems


def check_schema(state: VerificationState) -> Check:
    credential = _credential(state)
    is_ob = state.format == "ob-3.0" and bool(_OB_TYPES & set(state.types))
    title = (
        "It follows the Open Badges 3.0 rules"
        if is_ob
        else "It has the fields every credential needs"
    )
    problems = _core_problems(credential, state.data_model)
    if problems:
        return _check(
            "schema",
            Outcome.FAIL,
            title,
            "The credential is malformed: " + "; ".join(problems) + ".",
            problems=problems,
        )
    is_endorsement = state.format == "ob-3.0" and "EndorsementCredential" in state.types
    if is_endorsement and not is_ob:
        title = "It follows the Open Badges 3.0 rules"
    elif not is_ob:
        return _check(
            "schema",
            Outcome.PASS,
            title,
            "It has an issuer, a subject and well-formed dates (the W3C VC Data Model basics).",
        )
    issues = (
        validate_achievement_credential(credential)
        if is_ob
        else validate_endorsement_credential(credential)
    )
    if issues:
        first = issues[0]
        more = (
            f" (and {len(issues) - 1} more problem{'s' if len(issues) > 2 else ''})"
            if len(issues) > 1
            else ""
        )
        where = f"{first.path}: " if first.path else ""
        return _check(
            "schema",
            Outcome.FAIL,
            title,
            "The credential does not follow the Open Badges 3.0 schema: "
            f"{where}{first.message}{more}.",
            issues=[{"path": i.path, "message": i.message} for i in issues[:20]],
        )
    return _check(
        "schema", Outcome.PASS, title, "It matches the official Open Badges 3.0 JSON Schema."
    )


# ---------------------------------------------------------------------------------------------
# proof


def _signature_mismatch(problem: str | None, message: str | None) -> bool:
    # The engine reports a bad signature as PROOF_VERIFICATION_ERROR on 'proofValue'; the
    # other PROOF_VERIFICATION_ERRORs (unusable key, internal trouble) read differently.
    text = message or ""
    return problem == "PROOF_VERIFICATION_ERROR" and (
        "not a valid signature" in text or "signature is not valid" in text
    )


def _proof_failure_message(result: data_integrity.ProofResult, label: str) -> str:
    where = f" ({label})" if label else ""
    if _signature_mismatch(result.problem, result.message):
        return (
            f"The credential was changed after it was signed: the signature{where} does not "
            f"match (or it was not made by {_key_name(result.verification_method)})."
        )
    detail = (result.message or "it could not be verified").rstrip(".")
    return f"The signature{where} cannot be checked: {detail}."


def check_proof(state: VerificationState) -> Check:
    title = "The issuer's signature is intact"
    credential = _credential(state)
    details: dict[str, Any] = {}
    if state.envelope == "jwt":
        result = verify_jwt(state.jwt or "", resolver=state.resolver)
        state.jwt_result = result
        details["jws"] = {
            "verified": result.verified,
            "verification_method": result.verification_method,
            "problem": result.problem,
            "message": result.message,
        }
        if not result.verified:
            reason = (result.message or "it does not verify").rstrip(".")
            msg = f"The JWT signature cannot be checked: {reason}"
            if _signature_mismatch(result.problem, result.message):
                msg = (
                    "The credential was changed after it was signed: "
                    "the JWT signature does not match"
                )
            return _check("proof", Outcome.FAIL, title, msg.rstrip(".") + ".", **details)
        if "proof" not in credential:
            return _check(
                "proof",
                Outcome.PASS,
                title,
                f"The JWT signature was made by {_key_name(result.verification_method)}, "
                "and the credential has not changed since it was signed.",
                **details,
            )
    proof = credential.get("proof")
    if proof is None:
        return _check(
            "proof",
            Outcome.FAIL,
            title,
            "The credential is not signed: it has no 'proof'.",
            property="proof",
        )
    proofs = _as_list(proof)
    if not proofs or not all(isinstance(p, dict) for p in proofs):
        return _check(
            "proof",
            Outcome.FAIL,
            title,
            "The credential's 'proof' must be an object or a list of objects.",
            property="proof",
        )
    results = data_integrity.verify(
        credential,
        resolver=state.resolver,
        expected_purpose="assertionMethod",
        cache=state.options.proof_cache,
    )
    state.proof_results = list(results)
    details["proofs"] = [
        {
            "verified": r.verified,
            "type": r.type,
            "cryptosuite": r.cryptosuite,
            "verification_method": r.verification_method,
            "problem": r.problem,
            "message": r.message,
        }
        for r in results
    ]
    if not results:
        return _check(
            "proof", Outcome.FAIL, title, "The credential's proof could not be read.", **details
        )
    # A proof of a type Merito does not implement proves nothing either way: it is reported,
    # and the credential stands on the proofs that were checked (as 1EdTech's validator does
    # with simple-multiple-proofs.json). A checkable proof that fails always fails.
    # An anchoring proof (Blockcerts merkle-proof-2019) is no signature: 'anchored' checks it.
    unsupported = [
        r
        for r in results
        if not r.verified
        and r.problem == "UNSUPPORTED_PROOF"
        and r.cryptosuite != "merkle-proof-2019"
        and r.type != "MerkleProof2019"
    ]
    failed = [
        (i, r) for i, r in enumerate(results) if not r.verified and r.problem != "UNSUPPORTED_PROOF"
    ]
    verified = [r for r in results if r.verified]
    if failed or not verified:
        index, first = failed[0] if failed else (0, results[0])
        label = f"proof {index + 1} of {len(results)}" if len(results) > 1 else ""
        return _check("proof", Outcome.FAIL, title, _proof_failure_message(first, label), **details)
    methods = ", ".join(sorted({_key_name(r.verification_method) for r in verified}))
    count = "The signature was" if len(verified) == 1 else f"All {len(verified)} signatures were"
    message = f"{count} made by {methods}, and the credential has not changed since it was signed."
    if unsupported:
        kinds = ", ".join(sorted({r.cryptosuite or r.type or "unknown" for r in unsupported}))
        return _check(
            "proof",
            Outcome.WARNING,
            title,
            f"{message} It also carries {len(unsupported)} proof(s) of a kind Merito does not "
            f"check ({kinds}); they were ignored.",
            **details,
        )
    return _check("proof", Outcome.PASS, title, message, **details)


# ---------------------------------------------------------------------------------------------
# issuer


def _key_name(verification_method: str | None) -> str:
    """A verification method as people read it: a did:key's DID URL repeats the key; drop it."""
    if not verification_method:
        return "an unnamed key"
    did, _, fragment = verification_method.partition("#")
    if did.startswith("did:key:") and did.endswith(fragment):
        return did
    return verification_method


def _controller_of(verification_method: str | None, controller: str | None) -> str | None:
    if controller:
        return controller
    if verification_method:
        return verification_method.split("#", 1)[0]
    return None


def check_issuer(state: VerificationState) -> Check:
    title = "The signing key belongs to the issuer"
    credential = _credential(state)
    issuer = _issuer_id(credential)
    if issuer is None:
        return _check(
            "issuer",
            Outcome.FAIL,
            title,
            "The credential does not say who issued it: 'issuer' is missing or has no 'id'.",
            property="issuer",
        )
    state.issuer_id = issuer
    expected = state.options.expected_issuer
    if expected is not None and issuer != expected:
        return _check(
            "issuer",
            Outcome.FAIL,
            title,
            f"The credential was issued by {issuer}, not by the expected issuer {expected}.",
            issuer=issuer,
            expected_issuer=expected,
        )
    if state.envelope == "jwt":
        payload = state.jwt_payload or {}
        iss = payload.get("iss")
        if "iss" in payload and iss != issuer:
            return _check(
                "issuer",
                Outcome.FAIL,
                title,
                f"The JWT says it was issued by {iss!r} ('iss'), "
                f"but the credential names {issuer} as issuer.",
                issuer=issuer,
                property="iss",
            )
    signers: list[tuple[str | None, str | None, str | None]] = [
        (r.verification_method, r.controller, r.proof_purpose)
        for r in state.proof_results
        if r.verified
    ]
    jwt_result = state.jwt_result
    if jwt_result is not None and jwt_result.verified and jwt_result.self_asserted:
        return _check(
            "issuer",
            Outcome.FAIL,
            title,
            "The JWT was signed with a key carried in its own header ('jwk'); "
            f"nothing ties that key to the issuer {issuer}.",
            issuer=issuer,
            property="jwk",
        )
    if jwt_result is not None and jwt_result.verified:
        signers.append((jwt_result.verification_method, jwt_result.controller, "assertionMethod"))
    if not signers:
        return _check(
            "issuer",
            Outcome.SKIPPED,
            title,
            f"The credential names {issuer} as issuer, but no signature verified, "
            "so the key cannot be tied to it.",
            issuer=issuer,
        )
    for method, controller, purpose in signers:
        owner = _controller_of(method, controller)
        if owner != issuer:
            return _check(
                "issuer",
                Outcome.FAIL,
                title,
                f"The signature was made with the key {_key_name(method)}, "
                f"which belongs to {owner}, not to the issuer {issuer}.",
                issuer=issuer,
                verification_method=method,
                controller=owner,
            )
        if purpose != "assertionMethod":
            return _check(
                "issuer",
                Outcome.FAIL,
                title,
                f"The key {_key_name(method)} signed for {purpose!r}, "
                "not for issuing credentials ('assertionMethod').",
                issuer=issuer,
                verification_method=method,
                proof_purpose=purpose,
            )
    methods = ", ".join(sorted({_key_name(m) for m, _, _ in signers}))
    return _check(
        "issuer",
        Outcome.PASS,
        title,
        f"The signature was made by {methods}, which is the issuer's key for issuing credentials.",
        issuer=issuer,
        verification_methods=sorted({m or "?" for m, _, _ in signers}),
    )


# ---------------------------------------------------------------------------------------------
# validity


def parse_datetime(value: Any) -> datetime | None:
    """An XML Schema dateTimeStamp / RFC 3339 date-time with a time zone, or None."""
    if not isinstance(value, str):
        return None
    match = _DATETIME_RE.fullmatch(value)
    if match is None or match.group(8) is None:
        return None
    fraction = (match.group(7) or "")[:7]  # Python keeps microseconds: "." + 6 digits
    zone = match.group(8)
    year, month, day, hour, minute, second = match.group(1, 2, 3, 4, 5, 6)
    offset = "+00:00" if zone in ("Z", "z") else zone
    text = f"{year}-{month}-{day}T{hour}:{minute}:{second}{fraction}{offset}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def _format_instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _numeric_date(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def check_validity(state: VerificationState) -> Check:
    title = "It is within its validity period"
    credential = _credential(state)
    now = state.now
    # VC 2.0 §4.9 validFrom/validUntil; VC 1.1 §4.6/§4.7 issuanceDate/expirationDate.
    names = (
        ("validFrom", "validUntil")
        if state.data_model == "2.0"
        else ("issuanceDate", "expirationDate")
    )
    start_name, end_name = names
    if state.data_model == "1.1" and "validFrom" in credential and "issuanceDate" not in credential:
        start_name = "validFrom"
    if (
        state.data_model == "1.1"
        and "validUntil" in credential
        and "expirationDate" not in credential
    ):
        end_name = "validUntil"
    bounds: dict[str, datetime | None] = {}
    for name in (start_name, end_name):
        if name not in credential:
            bounds[name] = None
            continue
        parsed = parse_datetime(credential[name])
        if parsed is None:
            return _check(
                "validity",
                Outcome.FAIL,
                title,
                f"'{name}' is {credential[name]!r}, which is not a date-time "
                "with a time zone (e.g. 2024-01-31T12:00:00Z).",
                property=name,
            )
        bounds[name] = parsed
    start, end = bounds[start_name], bounds[end_name]
    if state.envelope == "jwt" and state.jwt_payload is not None:
        # VC-JWT: nbf/exp bound the token as well (RFC 7519 §4.1.4, §4.1.5).
        for claim in ("nbf", "exp"):
            if claim in state.jwt_payload:
                moment = _numeric_date(state.jwt_payload[claim])
                if moment is None:
                    return _check(
                        "validity",
                        Outcome.FAIL,
                        title,
                        f"The JWT claim '{claim}' is not a NumericDate.",
                        property=claim,
                    )
                if claim == "nbf":
                    start = moment if start is None else max(start, moment)
                else:
                    end = moment if end is None else min(end, moment)
    details: dict[str, Any] = {"now": _format_instant(now)}
    if start is not None:
        details["valid_from"] = _format_instant(start)
    if end is not None:
        details["valid_until"] = _format_instant(end)
    if start is not None and end is not None and end < start:
        return _check(
            "validity",
            Outcome.FAIL,
            title,
            f"The credential's validity period is empty: it ends ({_format_instant(end)}) "
            f"before it starts ({_format_instant(start)}).",
            **details,
        )
    if start is not None and now < start:
        return _check(
            "validity",
            Outcome.FAIL,
            title,
            f"The credential is not valid yet: it becomes valid on {_format_instant(start)}.",
            **details,
        )
    if end is not None and now >= end:
        return _check(
            "validity",
            Outcome.FAIL,
            title,
            f"The credential expired on {_format_instant(end)}.",
            **details,
        )
    since = f"It has been valid since {_format_instant(start)}" if start else "It has no start date"
    until = f"and stays valid until {_format_instant(end)}" if end else "and does not expire"
    return _check("validity", Outcome.PASS, title, f"{since} {until}.", **details)


# ---------------------------------------------------------------------------------------------
# status


@dataclass(slots=True)
class _EntryResult:
    outcome: Outcome
    message: str
    details: dict[str, Any]


def _retrieval(state: VerificationState, message: str, **details: Any) -> _EntryResult:
    return _EntryResult(
        state.options.status_retrieval_outcome,
        message,
        {"problem": "STATUS_RETRIEVAL_ERROR", **details},
    )


def _fetch_json(
    state: VerificationState, url: str
) -> tuple[dict[str, Any] | None, str | None, _EntryResult | None]:
    """Fetch ``url``; returns (JSON object, compact JWT, None) or (None, None, error)."""
    fetcher = state.options.fetcher
    if fetcher is None:
        return (
            None,
            None,
            _retrieval(state, f"The status list {url} was not fetched (no fetcher)", url=url),
        )
    try:
        response = fetcher.fetch(url, accept=_STATUS_ACCEPT)
    except FetchError as e:
        return (
            None,
            None,
            _retrieval(state, f"The status list {url} could not be fetched: {e.message}", url=url),
        )
    except Exception as e:
        return (
            None,
            None,
            _retrieval(
                state, f"The status list {url} could not be fetched ({type(e).__name__})", url=url
            ),
        )
    if not 200 <= response.status < 300:
        return (
            None,
            None,
            _retrieval(
                state,
                f"The status list {url} answered HTTP {response.status}",
                url=url,
                http_status=response.status,
            ),
        )
    try:
        text = _text_of(response.body, state.options)
        if _JWT_RE.fullmatch(text):
            return None, text, None
        value = _loads(text, "the status list")
        if not isinstance(value, dict):
            raise _Unreadable("the status list is not a JSON object")
        _walk(
            value,
            max_depth=state.options.max_depth,
            max_nodes=state.options.max_bytes,
            contexts=[],
            scalars=_SURROGATE_ESCAPE.search(text) is not None,
        )
    except _Unreadable as e:
        return (
            None,
            None,
            _EntryResult(
                Outcome.FAIL,
                f"The status list {url} cannot be read: {e.message}",
                {"problem": "STATUS_VERIFICATION_ERROR", "url": url},
            ),
        )
    return value, None, None


def _load_status_list(
    state: VerificationState, url: str, list_type: str
) -> dict[str, Any] | _EntryResult:
    """Fetch, parse and verify a status list credential (proofs, type, validity); cached."""
    cached = state.status_lists.get(url)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    document, token, error = _fetch_json(state, url)
    if error is not None:
        state.status_lists[url] = error
        return error

    def invalid(message: str, **details: Any) -> _EntryResult:
        result = _EntryResult(
            Outcome.FAIL, message, {"problem": "STATUS_VERIFICATION_ERROR", "url": url, **details}
        )
        state.status_lists[url] = result
        return result

    signers: list[tuple[str | None, str | None]] = []
    if token is not None:
        jwt = verify_jwt(token, resolver=state.resolver)
        if not jwt.verified or not isinstance(jwt.credential, dict):
            return invalid(
                f"The status list {url} is not validly signed: "
                f"{jwt.message or 'its JWT does not verify'}"
            )
        document = jwt.credential
        signers.append((jwt.verification_method, jwt.controller))
    if document is None:
        return invalid(f"The status list {url} is empty")
    if token is None:
        if "proof" not in document:
            return invalid(f"The status list {url} is not signed, so it cannot be trusted")
        results = data_integrity.verify(
            document,
            resolver=state.resolver,
            expected_purpose="assertionMethod",
            cache=state.options.proof_cache,
        )
        bad = [r for r in results if not r.verified]
        if not results or bad:
            reason = bad[0].message if bad else "its proof could not be read"
            return invalid(f"The status list {url} is not validly signed: {reason}")
        signers.extend((r.verification_method, r.controller) for r in results)
    if list_type not in _types_of(document):
        return invalid(f"The document at {url} is not a {list_type}")
    list_issuer = _issuer_id(document)
    for method, controller in signers:
        owner = _controller_of(method, controller)
        if owner != list_issuer:
            return invalid(
                f"The status list {url} was signed by {owner}, not by its issuer {list_issuer}"
            )
    for name, late in (("validFrom", False), ("validUntil", True)):
        if name in document:
            moment = parse_datetime(document[name])
            if moment is None:
                return invalid(f"The status list {url} has an unreadable '{name}'")
            if late and state.now >= moment:
                return invalid(
                    f"The status list {url} expired on {_format_instant(moment)}; "
                    "a current one is needed",
                    problem="STATUS_VERIFICATION_ERROR",
                )
            if not late and state.now < moment:
                return invalid(
                    f"The status list {url} is not valid until {_format_instant(moment)}"
                )
    state.status_lists[url] = document
    return document


def _check_list_entry(
    state: VerificationState, entry: Mapping[str, Any], entry_type: str
) -> _EntryResult:
    """Bitstring Status List v1.0 §3.2 Validate Algorithm for one entry."""
    purpose = entry.get("statusPurpose")
    index_value = entry.get("statusListIndex")
    url = entry.get("statusListCredential")
    size_value = entry.get("statusSize", 1)

    def malformed(message: str, prop: str) -> _EntryResult:
        return _EntryResult(
            Outcome.FAIL, message, {"problem": "MALFORMED_VALUE_ERROR", "property": prop}
        )

    if not isinstance(purpose, str) or not purpose:
        return malformed("The status entry's 'statusPurpose' must be a string", "statusPurpose")
    # §2.1: a base-10 string; integers are accepted too (1EdTech's validator fixtures use them).
    if (
        isinstance(index_value, str)
        and index_value.isascii()
        and index_value.isdigit()
        and len(index_value) <= 18
    ):
        index = int(index_value)
    elif (
        isinstance(index_value, int)
        and not isinstance(index_value, bool)
        and 0 <= index_value < 10**18
    ):
        index = index_value
    else:
        return malformed(
            f"The status entry's 'statusListIndex' {index_value!r} "
            "is not a non-negative integer string",
            "statusListIndex",
        )
    if isinstance(size_value, bool) or not isinstance(size_value, int) or not 1 <= size_value <= 64:
        return malformed(
            f"The status entry's 'statusSize' {size_value!r} is not a positive integer",
            "statusSize",
        )
    if not isinstance(url, str) or ":" not in url:
        return malformed(
            "The status entry's 'statusListCredential' must be a URL", "statusListCredential"
        )
    details: dict[str, Any] = {
        "type": entry_type,
        "status_purpose": purpose,
        "status_list_index": index,
        "status_list_credential": url,
    }
    loaded = _load_status_list(state, url, _STATUS_LIST_TYPES[entry_type])
    if isinstance(loaded, _EntryResult):
        return _EntryResult(loaded.outcome, loaded.message, {**details, **loaded.details})
    subject = loaded.get("credentialSubject")
    subject = subject[0] if isinstance(subject, list) and subject else subject
    if not isinstance(subject, Mapping):
        return _EntryResult(
            Outcome.FAIL,
            f"The status list {url} has no credentialSubject",
            {**details, "problem": "STATUS_VERIFICATION_ERROR"},
        )
    list_purposes = _as_list(subject.get("statusPurpose"))
    if purpose not in list_purposes:
        return _EntryResult(
            Outcome.FAIL,
            f"The status list {url} is for {list_purposes!r}, not for {purpose!r}",
            {**details, "problem": "STATUS_VERIFICATION_ERROR"},
        )
    try:
        bits = decode_status_list(subject.get("encodedList"))  # type: ignore[arg-type]
    except MeritoError as e:
        return _EntryResult(
            Outcome.FAIL,
            f"The status list {url} is corrupt: {e.message}",
            {**details, "problem": "STATUS_VERIFICATION_ERROR"},
        )
    if len(bits) * 8 // size_value < MIN_LIST_BITS:
        return _EntryResult(
            Outcome.FAIL,
            f"The status list {url} has only {len(bits) * 8 // size_value} entries; "
            f"at least {MIN_LIST_BITS} are required, so it could single out this credential",
            {**details, "problem": "STATUS_LIST_LENGTH_ERROR"},
        )
    try:
        status = status_at(bits, index, size_value)
    except MeritoError:
        return _EntryResult(
            Outcome.FAIL,
            f"The credential's position {index} is outside the status list {url}",
            {**details, "problem": "RANGE_ERROR"},
        )
    details["status"] = status
    if status == 0:
        return _EntryResult(
            Outcome.PASS,
            f"not {_PURPOSE_WORD.get(purpose, 'flagged for ' + repr(purpose))}",
            details,
        )
    if purpose == "revocation":
        return _EntryResult(Outcome.FAIL, "The issuer has revoked this credential", details)
    if purpose == "suspension":
        return _EntryResult(Outcome.FAIL, "The issuer has suspended this credential", details)
    if purpose == "refresh":
        return _EntryResult(
            Outcome.WARNING,
            "The issuer has published an updated version of this credential",
            details,
        )
    return _EntryResult(
        Outcome.WARNING,
        f"The issuer has set the status {purpose!r} (value {status:#x}) on this credential",
        details,
    )


_PURPOSE_WORD: Final = {
    "revocation": "revoked",
    "suspension": "suspended",
    "refresh": "replaced by a newer version",
    "message": "flagged",
}


def _check_revocation_list(state: VerificationState, entry: Mapping[str, Any]) -> _EntryResult:
    """1EdTech Revocation List Status Method 1.0: the credential id must not be listed."""
    url = entry.get("id")
    if not isinstance(url, str) or ":" not in url:
        return _EntryResult(
            Outcome.FAIL,
            "The 1EdTechRevocationList entry has no 'id' URL",
            {"problem": "MALFORMED_VALUE_ERROR", "property": "credentialStatus.id"},
        )
    credential_id = _credential(state).get("id")
    details: dict[str, Any] = {"type": "1EdTechRevocationList", "url": url}
    if not isinstance(credential_id, str):
        return _EntryResult(
            Outcome.WARNING,
            "The credential has no 'id', so it cannot be looked up in its revocation list",
            details,
        )
    cached = state.status_lists.get(url)
    if cached is None:
        document, _, error = _fetch_json(state, url)
        if error is None and document is None:
            error = _EntryResult(
                Outcome.FAIL,
                f"The revocation list {url} is a JWT, but a 1EdTech revocation list is JSON",
                {"problem": "STATUS_VERIFICATION_ERROR"},
            )
        cached = error if error is not None else document
        state.status_lists[url] = cached
    if isinstance(cached, _EntryResult):
        return _EntryResult(
            cached.outcome,
            cached.message.replace("status list", "revocation list"),
            {**details, **cached.details},
        )
    if not isinstance(cached, dict):
        return _EntryResult(Outcome.FAIL, f"The revocation list {url} is empty", details)
    revoked = cached.get("revokedCredentials")
    if not isinstance(revoked, list):
        return _EntryResult(
            Outcome.FAIL,
            f"The revocation list {url} has no 'revokedCredentials' list",
            {**details, "problem": "STATUS_VERIFICATION_ERROR"},
        )
    list_issuer = _issuer_id(cached)
    if list_issuer is not None and list_issuer != state.issuer_id and state.issuer_id is not None:
        return _EntryResult(
            Outcome.FAIL,
            f"The revocation list {url} belongs to {list_issuer}, not to the credential's issuer",
            {**details, "problem": "STATUS_VERIFICATION_ERROR"},
        )
    for item in revoked:
        if isinstance(item, Mapping) and item.get("id") == credential_id:
            reason = item.get("revocationReason")
            because = f": {reason}" if isinstance(reason, str) and reason else ""
            return _EntryResult(
                Outcome.FAIL,
                f"The issuer has revoked this credential{because}",
                {**details, "revoked": True},
            )
    return _EntryResult(Outcome.PASS, "not revoked", {**details, "revoked": False})


def check_status(state: VerificationState) -> Check:
    title = "It has not been revoked or suspended"
    credential = _credential(state)
    status = credential.get("credentialStatus")
    if status is None:
        return _check(
            "status",
            Outcome.SKIPPED,
            title,
            "The credential has no status information (no 'credentialStatus'), "
            "so it cannot be revoked.",
        )
    entries = _as_list(status)
    if not entries or not all(isinstance(e, dict) for e in entries):
        return _check(
            "status",
            Outcome.FAIL,
            title,
            "The credential's 'credentialStatus' must be an object or a list of objects.",
            property="credentialStatus",
        )
    if state.options.fetcher is None:
        return _check(
            "status",
            Outcome.WARNING,
            title,
            "Status not checked: Merito was not allowed to fetch the issuer's status list, "
            "so revocation is unknown.",
            reason="no-fetcher",
        )
    results: list[_EntryResult] = []
    for entry in entries:
        entry_type = entry.get("type")
        if entry_type in _STATUS_LIST_TYPES:
            results.append(_check_list_entry(state, entry, entry_type))
        elif entry_type == "1EdTechRevocationList":
            results.append(_check_revocation_list(state, entry))
        else:
            results.append(
                _EntryResult(
                    Outcome.WARNING,
                    f"Status not checked: Merito does not support the status type {entry_type!r}",
                    {"type": entry_type},
                )
            )
    details = {
        "entries": [
            {"outcome": r.outcome.value, "message": r.message, **r.details} for r in results
        ]
    }
    for outcome in (Outcome.FAIL, Outcome.WARNING):
        worst = [r for r in results if r.outcome is outcome]
        if worst:
            return _check("status", outcome, title, worst[0].message.rstrip(".") + ".", **details)
    said = " and ".join(dict.fromkeys(r.message for r in results))
    return _check(
        "status",
        Outcome.PASS,
        title,
        f"The issuer's status list says the credential is {said}.",
        **details,
    )


# ---------------------------------------------------------------------------------------------
# anchored


def check_anchored(state: VerificationState) -> Check:
    title = "It is anchored in a public log"
    checker = state.options.anchor_checker
    if checker is None:
        return _check(
            "anchored",
            Outcome.SKIPPED,
            title,
            "No anchoring proof was checked (no anchor checker is configured).",
            reason="no anchoring proof",
        )
    try:
        result = checker(_credential(state))
    except Exception as e:
        return _check(
            "anchored",
            Outcome.WARNING,
            title,
            f"The anchoring proof could not be checked ({type(e).__name__}).",
        )
    if not isinstance(result, Check):
        return _check("anchored", Outcome.WARNING, title, "The anchor checker gave no answer.")
    if result.id != "anchored":
        return Check(
            id="anchored",
            outcome=result.outcome,
            title=result.title,
            message=result.message,
            details=result.details,
        )
    return result


# ---------------------------------------------------------------------------------------------
# the registry and the driver

DEFAULT_CHECKS: Final[tuple[CheckSpec, ...]] = (
    CheckSpec("parse", "The document can be read", check_parse),
    CheckSpec("format", "It is a credential Merito understands", check_format, ("parse",)),
    CheckSpec(
        "context", "Its vocabulary (JSON-LD contexts) is known", check_context, ("parse", "format")
    ),
    CheckSpec("schema", "It has the fields a credential needs", check_schema, ("parse", "format")),
    CheckSpec(
        "proof", "The issuer's signature is intact", check_proof, ("parse", "format", "context")
    ),
    CheckSpec(
        "issuer",
        "The signing key belongs to the issuer",
        check_issuer,
        ("parse", "format", "context"),
    ),
    CheckSpec("validity", "It is within its validity period", check_validity, ("parse", "format")),
    CheckSpec(
        "status",
        "It has not been revoked or suspended",
        check_status,
        ("parse", "format", "context", "proof"),
    ),
    CheckSpec("anchored", "It is anchored in a public log", check_anchored, ("parse", "format")),
)

_BLOCKED_BECAUSE: Final = {
    "parse": "the document could not be read",
    "format": "it is not a credential Merito understands",
    "context": "it uses a JSON-LD context Merito does not know",
    "proof": "the signature did not verify",
}


def verify(
    document: str | bytes | dict[str, Any], *, options: VerifyOptions | None = None
) -> VerificationReport:
    """Verify one credential; returns a report and never raises on any input."""
    options = options or VerifyOptions()
    try:
        now = options.clock.now()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
    except Exception:
        now = datetime.now(UTC)
    resolver = options.resolver or VerificationMethodResolver(fetcher=options.fetcher)
    state = VerificationState(options=options, raw=document, now=now, resolver=resolver)
    outcomes: dict[str, Outcome] = {}
    checks: list[Check] = []
    for spec in options.checks or DEFAULT_CHECKS:
        blocked = next(
            (r for r in spec.requires if outcomes.get(r) in (Outcome.FAIL, Outcome.SKIPPED)), None
        )
        if blocked is not None:
            because = _BLOCKED_BECAUSE.get(blocked, f"the '{blocked}' check did not pass")
            result = _check(
                spec.id,
                Outcome.SKIPPED,
                spec.title,
                f"Not checked, because {because}.",
                blocked_by=blocked,
            )
        else:
            result = _run(spec, state)
        outcomes[spec.id] = result.outcome
        checks.append(result)
    return VerificationReport(
        checks=tuple(checks),
        format=state.format,
        credential=state.credential,
        data_model=state.data_model,
        envelope=state.envelope,
        issuer=state.issuer_id
        if state.issuer_id is not None
        else (_issuer_id(state.credential) if state.credential else None),
        checked_at=_format_instant(now),
    )


def _run(spec: CheckSpec, state: VerificationState) -> Check:
    try:
        result = spec.run(state)
    except Exception as e:
        return _check(
            spec.id,
            Outcome.FAIL,
            spec.title,
            f"Merito could not complete this check ({type(e).__name__}); "
            "the credential is not accepted.",
            internal_error=type(e).__name__,
        )
    if result.id != spec.id:
        return Check(
            id=spec.id,
            outcome=result.outcome,
            title=result.title,
            message=result.message,
            details=result.details,
        )
    return result


def check_ids(checks: Sequence[CheckSpec] = DEFAULT_CHECKS) -> tuple[str, ...]:
    """The ids of a registry, in order."""
    return tuple(c.id for c in checks)
