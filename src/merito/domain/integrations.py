"""Pure rules of the learning-platform integrations: webhook signatures, xAPI statements, award
rules and LTI 1.3 id_token claims. No I/O: time and secrets are parameters.

Webhook signatures follow the Standard Webhooks scheme (https://www.standardwebhooks.com/):
the signed content is ``"{webhook-id}.{webhook-timestamp}.{body}"``, signed with HMAC-SHA256
under the secret's bytes, sent as ``webhook-signature: v1,<base64 signature>`` (several
space-separated signatures allowed, e.g. during a secret rotation). A secret is written
``whsec_<base64 of 32 random bytes>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol, runtime_checkable
from urllib.parse import urlsplit

from merito.errors import InvalidInput, Unauthenticated

__all__ = [
    "LTI_CLAIM",
    "LTI_INSTRUCTOR_ROLES",
    "SECRET_PREFIX",
    "SIGNATURE_TOLERANCE_SECONDS",
    "XAPI_VERBS",
    "LtiLaunch",
    "PostResponse",
    "RuleSpec",
    "Trigger",
    "WebhookPoster",
    "XapiStatement",
    "check_lti_claims",
    "content_hash",
    "decode_secret",
    "encode_secret",
    "matching_rules",
    "parse_statement",
    "parse_statements",
    "sign_webhook",
    "verify_webhook",
]

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format's prefix, not a secret
#: a signed request older or newer than this is refused (Standard Webhooks: 5 minutes)
SIGNATURE_TOLERANCE_SECONDS: Final = 300
_MAX_SIGNATURES: Final = 10

#: the ADL verbs rules usually name
XAPI_VERBS: Final[Mapping[str, str]] = {
    "completed": "http://adlnet.gov/expapi/verbs/completed",
    "passed": "http://adlnet.gov/expapi/verbs/passed",
}
_XAPI_VERSION: Final = re.compile(r"1\.0(\.\d+)?")
_MBOX: Final = re.compile(r"mailto:[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class PostResponse:
    """A webhook receiver's answer: its status and the start of its body."""

    status: int
    body: bytes


@runtime_checkable
class WebhookPoster(Protocol):
    """POSTs a webhook. Implementations guard against SSRF and bound time and the answer's
    size; they raise ``merito.errors.FetchError`` when the target is refused or unreachable."""

    def post(self, url: str, *, body: bytes, headers: Mapping[str, str]) -> PostResponse: ...


# --- secrets and signatures ----------------------------------------------------------------------


def encode_secret(raw: bytes) -> str:
    """``whsec_`` + base64 of the secret's bytes: the form shown to the user once."""
    return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


def decode_secret(text: str) -> bytes:
    """The bytes of a ``whsec_`` secret; InvalidInput when it is not one."""
    body = text.removeprefix(SECRET_PREFIX)
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidInput("the secret is not whsec_<base64>", property="secret") from e
    if len(raw) < 16:
        raise InvalidInput("the secret must hold at least 16 bytes", property="secret")
    return raw


def sign_webhook(secret: bytes, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value (``v1,<base64>``) of one message."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_webhook(
    secrets: Sequence[bytes],
    *,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> tuple[str, int]:
    """Checks a Standard Webhooks signature; returns (webhook-id, timestamp).

    ``headers`` has lower-case names. Raises Unauthenticated for a missing, malformed, stale or
    wrong signature (the message names which), never for a valid one under any of ``secrets``.
    """
    msg_id = headers.get("webhook-id", "").strip()
    stamp = headers.get("webhook-timestamp", "").strip()
    signatures = headers.get("webhook-signature", "").strip()
    for name, value in (
        ("webhook-id", msg_id),
        ("webhook-timestamp", stamp),
        ("webhook-signature", signatures),
    ):
        if not value:
            raise Unauthenticated(f"the {name} header is missing", property=name)
    if len(msg_id) > 200:
        raise Unauthenticated("the webhook-id header is longer than 200", property="webhook-id")
    if not stamp.isdigit():
        raise Unauthenticated(
            "the webhook-timestamp header must be Unix seconds", property="webhook-timestamp"
        )
    timestamp = int(stamp)
    if abs(now.timestamp() - timestamp) > tolerance:
        raise Unauthenticated(
            f"the webhook-timestamp is more than {tolerance} seconds away from now "
            "(a replayed or delayed message)",
            property="webhook-timestamp",
        )
    offered = [s for s in signatures.split(" ") if s][:_MAX_SIGNATURES]
    for secret in secrets:
        expected = sign_webhook(secret, msg_id=msg_id, timestamp=timestamp, body=body)
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return msg_id, timestamp
    raise Unauthenticated(
        "no webhook-signature matches (expected v1,<base64 HMAC-SHA256 of "
        "'{webhook-id}.{webhook-timestamp}.{body}'>)",
        property="webhook-signature",
    )


def content_hash(value: Any) -> str:
    """SHA-256 of a JSON value's canonical text (sorted keys): equal content, equal hash."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- award rules -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSpec:
    """What an award rule asks of an event. ``activity_id`` None matches any activity;
    ``min_score`` None needs no score."""

    id: str
    trigger: str
    activity_id: str | None
    min_score: float | None
    achievement_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Trigger:
    """What happened: an event type (webhook), a verb IRI (xAPI) or ``lti.launch``; the
    course/activity/resource-link id; a score when there is one."""

    trigger: str
    activity_ids: tuple[str, ...]
    score: float | None


def matching_rules(rules: Iterable[RuleSpec], event: Trigger) -> list[RuleSpec]:
    """The rules ``event`` satisfies (one award per rule), in the order given."""
    found: list[RuleSpec] = []
    for rule in rules:
        if rule.trigger != event.trigger:
            continue
        if rule.activity_id is not None and rule.activity_id not in event.activity_ids:
            continue
        if rule.min_score is not None and (event.score is None or event.score < rule.min_score):
            continue
        found.append(rule)
    return found


# --- xAPI statements ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class XapiStatement:
    """The parts of an xAPI statement (xAPI 1.0.3 §2.4) rules look at, and the statement."""

    id: str
    email: str | None
    account: str | None
    verb: str
    activity_id: str
    score_scaled: float | None
    score_raw: float | None
    score_max: float | None
    success: bool | None
    completion: bool | None
    document: Mapping[str, Any]

    @property
    def score(self) -> float | None:
        """The scaled score, else raw/max when both are given, else raw."""
        if self.score_scaled is not None:
            return self.score_scaled
        if self.score_raw is not None and self.score_max:
            return self.score_raw / self.score_max
        return self.score_raw


def check_xapi_version(value: str | None) -> str:
    """xAPI 1.0.3 §6.2: every request names the version; Merito speaks 1.0.x."""
    if not value:
        raise InvalidInput(
            "the X-Experience-API-Version header is required (e.g. 1.0.3)",
            property="X-Experience-API-Version",
        )
    if not _XAPI_VERSION.fullmatch(value.strip()):
        raise InvalidInput(
            f"X-Experience-API-Version {value!r} is not supported: use 1.0.x",
            property="X-Experience-API-Version",
        )
    return value.strip()


def _iri(value: Any) -> bool:
    if not isinstance(value, str) or not value or len(value) > 2000 or " " in value:
        return False
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(parts.netloc or parts.path)


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{where} must be a number", property=where)
    return float(value)


def _bool(value: Any, where: str) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidInput(f"{where} must be true or false", property=where)
    return value


def parse_statement(value: Any, *, assigned_id: str, position: int | None = None) -> XapiStatement:
    """Validates one statement (the subset Merito uses); InvalidInput names the property.

    ``assigned_id`` is used when the statement has no ``id`` (the LRS assigns one, §2.4.1).
    """
    at = "statement" if position is None else f"statements[{position}]"
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{at} must be a JSON object", property=at)
    statement_id = value.get("id", assigned_id)
    try:
        statement_id = str(uuid.UUID(statement_id)) if isinstance(statement_id, str) else None
    except ValueError:
        statement_id = None
    if statement_id is None:
        raise InvalidInput(f"{at}.id must be a UUID", property=f"{at}.id")
    actor = value.get("actor")
    if not isinstance(actor, Mapping):
        raise InvalidInput(f"{at}.actor must be an object", property=f"{at}.actor")
    email: str | None = None
    account: str | None = None
    mbox, acct = actor.get("mbox"), actor.get("account")
    if mbox is not None:
        if not isinstance(mbox, str) or not _MBOX.fullmatch(mbox):
            raise InvalidInput(
                f"{at}.actor.mbox must be mailto:<email>", property=f"{at}.actor.mbox"
            )
        email = mbox.removeprefix("mailto:").lower()
    elif acct is not None:
        if (
            not isinstance(acct, Mapping)
            or not _iri(acct.get("homePage"))
            or not isinstance(acct.get("name"), str)
            or not acct.get("name")
        ):
            raise InvalidInput(
                f"{at}.actor.account needs a homePage IRI and a name",
                property=f"{at}.actor.account",
            )
        account = f"{acct['homePage']}#{acct['name']}"
    else:
        raise InvalidInput(
            f"{at}.actor must identify the learner by mbox or account", property=f"{at}.actor"
        )
    verb = value.get("verb")
    if not isinstance(verb, Mapping) or not _iri(verb.get("id")):
        raise InvalidInput(f"{at}.verb.id must be an IRI", property=f"{at}.verb.id")
    obj = value.get("object")
    if not isinstance(obj, Mapping) or obj.get("objectType", "Activity") != "Activity":
        raise InvalidInput(f"{at}.object must be an Activity", property=f"{at}.object")
    if not _iri(obj.get("id")):
        raise InvalidInput(f"{at}.object.id must be an IRI", property=f"{at}.object.id")
    result = value.get("result", {})
    if not isinstance(result, Mapping):
        raise InvalidInput(f"{at}.result must be an object", property=f"{at}.result")
    score = result.get("score", {})
    if not isinstance(score, Mapping):
        raise InvalidInput(f"{at}.result.score must be an object", property=f"{at}.result.score")
    scaled = _number(score.get("scaled"), f"{at}.result.score.scaled")
    if scaled is not None and not -1 <= scaled <= 1:
        raise InvalidInput(
            f"{at}.result.score.scaled must be between -1 and 1",
            property=f"{at}.result.score.scaled",
        )
    raw = _number(score.get("raw"), f"{at}.result.score.raw")
    low = _number(score.get("min"), f"{at}.result.score.min")
    high = _number(score.get("max"), f"{at}.result.score.max")
    if raw is not None and ((low is not None and raw < low) or (high is not None and raw > high)):
        raise InvalidInput(
            f"{at}.result.score.raw must be between min and max",
            property=f"{at}.result.score.raw",
        )
    return XapiStatement(
        id=statement_id,
        email=email,
        account=account,
        verb=str(verb["id"]),
        activity_id=str(obj["id"]),
        score_scaled=scaled,
        score_raw=raw,
        score_max=high,
        success=_bool(result.get("success"), f"{at}.result.success"),
        completion=_bool(result.get("completion"), f"{at}.result.completion"),
        document={**value, "id": statement_id},
    )


def parse_statements(value: Any, *, assigned_ids: Sequence[str]) -> list[XapiStatement]:
    """One statement or an array of them (xAPI §7.2.2 POST); ids must be distinct."""
    if isinstance(value, list):
        if not value:
            raise InvalidInput("the statement array is empty", property="statements")
        if len(value) > len(assigned_ids):
            raise InvalidInput(
                f"at most {len(assigned_ids)} statements per request", property="statements"
            )
        parsed = [
            parse_statement(item, assigned_id=assigned_ids[i], position=i)
            for i, item in enumerate(value)
        ]
    else:
        parsed = [parse_statement(value, assigned_id=assigned_ids[0])]
    ids = [s.id for s in parsed]
    if len(set(ids)) != len(ids):
        raise InvalidInput("two statements in the batch share an id", property="statements")
    return parsed


# --- LTI 1.3 ------------------------------------------------------------------------------------

LTI_CLAIM: Final = "https://purl.imsglobal.org/spec/lti/claim/"
LTI_INSTRUCTOR_ROLES: Final = frozenset(
    {
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
        "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
        "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
    }
)
#: the clock skew allowed on iat and exp
_LTI_LEEWAY: Final = 60


@dataclass(frozen=True, slots=True, kw_only=True)
class LtiLaunch:
    """A validated LtiResourceLinkRequest (LTI 1.3 §5.3)."""

    issuer: str
    subject: str
    deployment_id: str
    resource_link_id: str
    resource_link_title: str
    context_id: str | None
    context_title: str
    email: str | None
    name: str
    roles: tuple[str, ...]
    custom: Mapping[str, str]
    nonce: str

    @property
    def is_instructor(self) -> bool:
        return any(role in LTI_INSTRUCTOR_ROLES for role in self.roles)

    @property
    def score(self) -> float | None:
        """The custom ``merito_score`` (0..1), or 1.0 for ``merito_completed=true``."""
        text = self.custom.get("merito_score")
        if text is not None:
            try:
                return float(text)
            except ValueError:
                return None
        if self.custom.get("merito_completed", "").lower() in ("true", "1", "yes"):
            return 1.0
        return None


def _claim_text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise Unauthenticated(f"the id_token's {name} claim is missing", property=name)
    return value


def check_lti_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    deployment_ids: Sequence[str],
    nonce: str,
    now: datetime,
) -> LtiLaunch:
    """LTI 1.3 §5.1.3 / OIDC Core §3.1.3.7: checks iss, aud, azp, exp, iat, nonce, the
    deployment, the message type and version; Unauthenticated names the failing claim."""
    if claims.get("iss") != issuer:
        raise Unauthenticated("the id_token's iss is not the platform's issuer", property="iss")
    aud = claims.get("aud")
    audience = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audience:
        raise Unauthenticated("the id_token's aud does not name this tool", property="aud")
    if len(audience) > 1 and claims.get("azp") != client_id:
        raise Unauthenticated("the id_token's azp must name this tool", property="azp")
    moment = now.timestamp()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp + _LTI_LEEWAY < moment:
        raise Unauthenticated("the id_token has expired", property="exp")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or iat - _LTI_LEEWAY > moment:
        raise Unauthenticated("the id_token's iat is in the future or missing", property="iat")
    if not isinstance(claims.get("nonce"), str) or not hmac.compare_digest(
        str(claims["nonce"]), nonce
    ):
        raise Unauthenticated("the id_token's nonce is not the one sent", property="nonce")
    deployment = _claim_text(claims, LTI_CLAIM + "deployment_id")
    if deployment not in deployment_ids:
        raise Unauthenticated(
            f"deployment {deployment!r} is not registered for this platform",
            property="deployment_id",
        )
    if claims.get(LTI_CLAIM + "message_type") != "LtiResourceLinkRequest":
        raise Unauthenticated(
            "only LtiResourceLinkRequest launches are supported", property="message_type"
        )
    if claims.get(LTI_CLAIM + "version") != "1.3.0":
        raise Unauthenticated("the LTI version must be 1.3.0", property="version")
    link = claims.get(LTI_CLAIM + "resource_link")
    if not isinstance(link, Mapping) or not isinstance(link.get("id"), str) or not link["id"]:
        raise Unauthenticated("the resource_link claim needs an id", property="resource_link")
    context = claims.get(LTI_CLAIM + "context")
    context = context if isinstance(context, Mapping) else {}
    roles = claims.get(LTI_CLAIM + "roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthenticated("the roles claim must be a list of URIs", property="roles")
    custom = claims.get(LTI_CLAIM + "custom", {})
    custom = {str(k): str(v) for k, v in custom.items()} if isinstance(custom, Mapping) else {}
    email = claims.get("email")
    return LtiLaunch(
        issuer=issuer,
        subject=_claim_text(claims, "sub"),
        deployment_id=deployment,
        resource_link_id=link["id"],
        resource_link_title=str(link.get("title") or ""),
        context_id=str(context["id"]) if context.get("id") else None,
        context_title=str(context.get("title") or ""),
        email=email.lower() if isinstance(email, str) and "@" in email else None,
        name=str(claims.get("name") or ""),
        roles=tuple(roles),
        custom=custom,
        nonce=nonce,
    )
