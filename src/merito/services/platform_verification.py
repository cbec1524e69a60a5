"""Verifying as this platform: its own public documents answered from its database.

A credential Merito issued names Merito's URLs (its status list, its issuer's did:web
document). Fetching them over HTTP from Merito itself would go through the SSRF guard (which
refuses loopback and private addresses, where a self-hosted Merito often lives) and cost a
round trip; ``PlatformFetcher`` answers them directly, and passes every other URL to the
platform's guarded fetcher (or refuses it when the platform has none).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from typing import Any, Final

from sqlalchemy.engine import Connection

from merito.domain.ports import Fetcher, FetchResponse
from merito.domain.verification import VerificationReport
from merito.errors import FetchError, InvalidInput, NotFound
from merito.formats.json_depth import too_deep
from merito.ledger.anchoring import LogAnchorChecker
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import analytics, credentials, verify_cache, verifying
from merito.services.platform import Platform
from merito.verification import VerifyOptions

__all__ = [
    "PlatformFetcher",
    "claimed_issuer",
    "fetch_credential",
    "options_for",
    "verify_as_platform",
    "verify_from_own_records",
]

_MAX_ID: Final = 36
_COMPACT_JWS: Final = re.compile(r"[A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*")


class PlatformFetcher:
    """The platform's own status lists and credentials from its database; the rest through
    ``fallback`` (the platform's SSRF-guarded fetcher)."""

    def __init__(
        self, platform: Platform, fallback: Fetcher | None, *, connection: Connection | None = None
    ) -> None:
        self.platform = platform
        self.fallback = fallback
        self.connection = connection  # the caller's, for all of one verification's reads

    def _local(self, url: str) -> FetchResponse | None:
        for prefix, kind in (("/status/", "status"), ("/credentials/", "credential")):
            base = self.platform.url(prefix)
            if not url.startswith(base):
                continue
            item = url.removeprefix(base).split("?", 1)[0].split("#", 1)[0]
            if not item or "/" in item or len(item) > _MAX_ID:
                return FetchResponse(status=404, body=b"", url=url)
            try:
                if kind == "status":
                    # the stored signed bytes, version-checked (a revocation shows at once)
                    body = verify_cache.status_list_body(
                        self.platform, item, connection=self.connection
                    ).body
                    return FetchResponse(
                        status=200, body=body, content_type="application/vc+ld+json", url=url
                    )
                public = credentials.public_credential(self.platform, item)
            except (NotFound, InvalidInput):
                return FetchResponse(status=404, body=b"", url=url)
            if public.jwt is not None:
                return FetchResponse(
                    status=200, body=public.jwt.encode(), content_type="application/vc+jwt", url=url
                )
            body = json.dumps(public.document, ensure_ascii=False).encode()
            return FetchResponse(status=200, body=body, content_type="application/ld+json", url=url)
        return None

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        local = self._local(url)
        if local is not None:
            return local
        if self.fallback is None:
            raise FetchError(f"this server does not fetch other sites, so {url} was not fetched")
        return self.fallback.fetch(url, accept=accept)


def _claimed_issuer(document: str | bytes) -> str | None:
    """The issuer id a credential (JSON text or a compact VC-JWT) names, unverified: only to
    pick which hosted issuer's DID document the verifier gets; the pipeline checks the rest."""
    try:
        text = document.decode("utf-8") if isinstance(document, bytes) else document
    except UnicodeDecodeError:
        return None
    text = text.strip()
    value: Any = None
    try:
        match = _COMPACT_JWS.fullmatch(text)
        if match is not None:
            segment = match.group(1)
            payload = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
            if not too_deep(payload):
                claims = json.loads(payload)
                value = claims.get("vc", claims) if isinstance(claims, dict) else None
                if isinstance(value, dict) and "issuer" not in value:
                    value = {"issuer": claims.get("iss")}
        elif not too_deep(text):
            value = json.loads(text)
    except (ValueError, binascii.Error, RecursionError):
        return None
    issuer = value.get("issuer") if isinstance(value, dict) else None
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def claimed_issuer(document: str | bytes) -> str | None:
    """The issuer id a credential names, unverified (see ``_claimed_issuer``)."""
    return _claimed_issuer(document)


def _hosted_documents(
    platform: Platform, issuer: str | None, connection: Connection | None = None
) -> dict[str, dict[str, Any]]:
    """The DID document of ``issuer`` when this platform hosts it (kept in the process while
    the organisation's keys are the same: one small read)."""
    if not issuer or not issuer.startswith("did:web:") or ":orgs:" not in issuer:
        return {}
    try:
        slug = issuer.rsplit(":orgs:", 1)[1]
        document = verify_cache.hosted_did_document(platform, slug, connection=connection)
    except (NotFound, InvalidInput):
        return {}
    return {issuer: document} if document.get("id") == issuer else {}


def options_for(
    platform: Platform,
    base: VerifyOptions,
    *,
    issuer: str | None = None,
    connection: Connection | None = None,
) -> VerifyOptions:
    """``base`` (limits, clock) with the platform's own documents known: the DID document of
    ``issuer`` when this platform hosts it and, through ``PlatformFetcher``, its status lists
    and credentials; other URLs through the platform's guarded fetcher. With ``connection``
    (``verify_cache.reads``), the reads go through it (use the options while it is open)."""
    fetcher = PlatformFetcher(platform, base.fetcher or platform.fetcher, connection=connection)
    documents = _hosted_documents(platform, issuer, connection)
    resolver = VerificationMethodResolver(fetcher=fetcher, documents=documents)
    return dataclasses.replace(base, fetcher=fetcher, resolver=resolver)


def verify_as_platform(
    platform: Platform, document: str | bytes, base: VerifyOptions
) -> VerificationReport:
    """Every check, as this platform sees the world (see ``options_for``). A verification of
    one of this platform's credentials is counted for its issuer's dashboard."""
    with verify_cache.reads(platform) as connection:
        options = options_for(
            platform, base, issuer=_claimed_issuer(document), connection=connection
        )
        report = verifying.verify_document(document, options)
    analytics.record_verification(platform, report)
    return report


class _NoNetwork:
    """A fetcher that fetches nothing and remembers being asked (``verify_from_own_records``)."""

    def __init__(self) -> None:
        self.asked = False

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        self.asked = True
        raise FetchError(f"{url} is not fetched here")


def _offline_anchoring(base: VerifyOptions) -> bool:
    """Whether ``base``'s anchor check stays in the process (this platform's log, no chain)."""
    checker = base.anchor_checker
    return checker is None or (
        isinstance(checker, LogAnchorChecker) and checker.chain_checker is None
    )


def verify_from_own_records(
    platform: Platform, document: str | bytes, base: VerifyOptions
) -> VerificationReport | None:
    """``verify_as_platform``'s report without counting it, or None when it would need the
    network (another site's DID document or status list, a chain anchor): then nothing it
    found is used and the caller verifies with ``options_for`` where a fetch may wait.

    Everything else is this platform's own records (small database reads) and computation, so
    the API may run it on its event loop: with a thread per request, CPU-bound verification
    starved the loop of the GIL and stretched the latency tail (docs/reliability.md).
    """
    if not _offline_anchoring(base):
        return None
    guard = _NoNetwork()
    with verify_cache.reads(platform) as connection:
        options = options_for(
            platform,
            dataclasses.replace(base, fetcher=guard),
            issuer=_claimed_issuer(document),
            connection=connection,
        )
        report = verifying.verify_document(document, options)
    return None if guard.asked else report


def fetch_credential(platform: Platform, url: str, *, max_bytes: int) -> bytes:
    """The credential at ``url`` (one of this platform's from its database, any other through
    the guarded fetcher). FetchError for a refusal, a failure or an HTTP error status."""
    if not url.startswith(("https://", "http://")):
        raise InvalidInput("the address must start with https://", property="url")
    response = PlatformFetcher(platform, platform.fetcher).fetch(
        url, accept="application/vc+ld+json, application/ld+json, application/vc+jwt, */*;q=0.1"
    )
    if response.status != 200:
        raise FetchError(f"{url} answered HTTP {response.status}")
    if len(response.body) > max_bytes:
        raise FetchError(f"{url} sent more than {max_bytes:,} bytes")
    return response.body
