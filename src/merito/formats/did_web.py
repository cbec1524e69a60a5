"""did:web <-> HTTPS URL mapping and DID document construction; pure (no fetching here).

did:web Method Specification (W3C CCG) §3.2: ``did:web:example.com`` ->
``https://example.com/.well-known/did.json``; ``did:web:example.com:user:alice`` ->
``https://example.com/user/alice/did.json``; a port is percent-encoded (``example.com%3A3000``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit

from merito.errors import InvalidInput

__all__ = [
    "DID_WEB_CONTEXT",
    "VerificationKeySpec",
    "build_did_web_document",
    "did_web_to_url",
    "url_to_did_web",
]

DID_WEB_CONTEXT: Final = ("https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1")
JWK_CONTEXT: Final = "https://w3id.org/security/jwk/v1"
_PREFIX: Final = "did:web:"
# RFC 3986 reg-name (letters, digits, '-', '.') with an optional port; no userinfo.
_HOST: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$")
_SEGMENT: Final = re.compile(r"^[A-Za-z0-9._~%!$&'()*+,;=@-]+$")


def _controller(did: str) -> str:
    return did.split("#", 1)[0].split("?", 1)[0]


def did_web_to_url(did: str) -> str:
    """The HTTPS URL of the DID document of a did:web (fragment and query ignored)."""
    if not isinstance(did, str) or not did.startswith(_PREFIX):
        raise InvalidInput(f"{did!r} is not a did:web", property="did")
    parts = _controller(did)[len(_PREFIX) :].split(":")
    host = unquote(parts[0])
    if not _HOST.match(host):
        raise InvalidInput(f"did:web host {parts[0]!r} is not a valid domain name", property="did")
    path = parts[1:]
    for segment in path:
        if (
            not _SEGMENT.match(segment)
            or unquote(segment) in (".", "..")
            or "/" in unquote(segment)
        ):
            raise InvalidInput(f"did:web path segment {segment!r} is not allowed", property="did")
    if not path:
        return f"https://{host}/.well-known/did.json"
    return f"https://{host}/{'/'.join(path)}/did.json"


def url_to_did_web(url: str) -> str:
    """The did:web for an HTTPS origin or DID document URL (``.../did.json`` is dropped)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise InvalidInput(f"did:web needs an https URL with a host, got {url!r}", property="url")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidInput(f"did:web URL {url!r} must not carry credentials, query or fragment")
    host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    path = parts.path
    for suffix in ("/.well-known/did.json", "/did.json"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    segments = [s for s in path.split("/") if s]
    did = _PREFIX + quote(host, safe="")
    if segments:
        did += ":" + ":".join(segments)
    did_web_to_url(did)  # validates the result
    return did


@dataclass(frozen=True, slots=True)
class VerificationKeySpec:
    """One verification method to publish: Multikey (``public_key_multibase``) or JWK.

    ``type`` defaults to ``Multikey`` when a multibase value is given, else ``JsonWebKey``.
    """

    fragment: str
    public_key_multibase: str | None = None
    public_key_jwk: Mapping[str, Any] | None = None
    relationships: tuple[str, ...] = ("assertionMethod", "authentication")
    type: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def build_did_web_document(did: str, keys: Iterable[VerificationKeySpec]) -> dict[str, Any]:
    """A DID document for ``did`` listing ``keys`` in their verification relationships."""
    did_web_to_url(did)
    if "#" in did or "?" in did:
        raise InvalidInput(f"{did!r} must be a DID, not a DID URL", property="did")
    methods: list[dict[str, Any]] = []
    relationships: dict[str, list[str]] = {}
    needs_jwk_context = False
    for spec in keys:
        if not spec.fragment or "#" in spec.fragment:
            raise InvalidInput(f"invalid key fragment {spec.fragment!r}", property="fragment")
        if (spec.public_key_multibase is None) == (spec.public_key_jwk is None):
            raise InvalidInput(
                f"key {spec.fragment!r} needs exactly one of publicKeyMultibase or publicKeyJwk",
                property="publicKeyMultibase",
            )
        vm_id = f"{did}#{spec.fragment}"
        method: dict[str, Any] = {"id": vm_id, "controller": did}
        jwk = spec.public_key_jwk
        if jwk is None:
            method["type"] = spec.type or "Multikey"
            method["publicKeyMultibase"] = spec.public_key_multibase
        else:
            if any(k in jwk for k in ("d", "p", "q", "dp", "dq", "qi")):
                raise InvalidInput(
                    f"key {spec.fragment!r}: publicKeyJwk holds private key material",
                    property="publicKeyJwk",
                )
            method["type"] = spec.type or "JsonWebKey"
            method["publicKeyJwk"] = dict(jwk)
            needs_jwk_context = needs_jwk_context or method["type"] == "JsonWebKey"
        method.update(spec.extra)
        methods.append(method)
        for relationship in spec.relationships:
            relationships.setdefault(relationship, []).append(vm_id)
    context = list(DID_WEB_CONTEXT)
    if needs_jwk_context:
        context.append(JWK_CONTEXT)
    return {"@context": context, "id": did, "verificationMethod": methods, **relationships}
