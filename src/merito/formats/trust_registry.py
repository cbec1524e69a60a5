"""The Merito trust registry format: a signed list of issuers, read and written as plain JSON.

A registry is a W3C VC 2.0 credential (documented in docs/trust.md), secured with a Data
Integrity proof (``eddsa-jcs-2022``: JCS canonicalization, so no JSON-LD expansion is needed
and the ``@vocab`` of the VC 2.0 context covers the registry's own terms)::

    {
      "@context": ["https://www.w3.org/ns/credentials/v2"],
      "id": "https://merito.example/trust/registry.json",
      "type": ["VerifiableCredential", "TrustRegistryCredential"],
      "issuer": {"id": "did:key:z6Mk...", "name": "Merito (merito.example)"},
      "validFrom": "2026-12-01T10:00:00Z",
      "credentialSubject": {
        "id": "https://merito.example/trust/registry.json",
        "type": "TrustRegistry",
        "name": "Merito issuers",
        "version": 4,
        "issuers": [
          {"id": "did:web:merito.example:orgs:acme",
           "profile": "https://merito.example/orgs/acme/profile",
           "name": "Acme Academy", "status": "active", "since": "2026-01-05T09:00:00Z"},
          {"id": "did:web:merito.example:orgs:gone", "name": "Gone Ltd", "status": "removed",
           "since": "2026-01-05T09:00:00Z", "removed": "2026-06-01T00:00:00Z",
           "reason": "ceased trading"}
        ]
      },
      "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022", ...}
    }

This module only reads and builds the document (pure, no signatures): ``parse_registry``
checks the shape and returns a ``TrustRegistry``; the signature is checked in
``merito.verification.trust``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from merito.errors import InvalidInput

__all__ = [
    "MAX_ENTRIES",
    "REGISTRY_CONTEXT",
    "REGISTRY_TYPE",
    "RegistryEntry",
    "TrustRegistry",
    "build_registry",
    "format_instant",
    "parse_registry",
]

REGISTRY_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"
REGISTRY_TYPE: Final = "TrustRegistryCredential"
SUBJECT_TYPE: Final = "TrustRegistry"
#: a registry larger than this is refused (it is held in memory by every verifier)
MAX_ENTRIES: Final = 50_000
_MAX_TEXT: Final = 500

EntryStatus = Literal["active", "removed"]


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One issuer in a registry: its DID and/or profile URL, name and standing."""

    id: str
    name: str
    status: EntryStatus
    since: datetime
    profile: str | None = None
    removed: datetime | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.profile is not None:
            out["profile"] = self.profile
        out["name"] = self.name
        out["status"] = self.status
        out["since"] = format_instant(self.since)
        if self.removed is not None:
            out["removed"] = format_instant(self.removed)
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True, slots=True)
class TrustRegistry:
    """A parsed registry: who published it (``publisher``, the signer's DID) and its entries.

    ``entries`` is looked up by issuer DID or profile URL through ``lookup``.
    """

    id: str
    name: str
    publisher: str
    publisher_name: str | None
    version: int | None
    issued: datetime | None
    entries: tuple[RegistryEntry, ...]

    def lookup(self, issuer: str | Iterable[str]) -> RegistryEntry | None:
        """The entry naming ``issuer`` (a DID or profile URL, or several aliases of one
        issuer) by its ``id`` or ``profile``; an active entry wins over a removed one."""
        wanted = {issuer} if isinstance(issuer, str) else set(issuer)
        found: RegistryEntry | None = None
        for entry in self.entries:
            if entry.id in wanted or (entry.profile is not None and entry.profile in wanted):
                if entry.status == "active":
                    return entry
                found = found or entry
        return found


def format_instant(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(value: Any, prop: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"{prop} must be a date-time string", property=prop)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{prop} {value!r} is not an ISO 8601 date-time", property=prop
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{prop} {value!r} has no time zone (add Z)", property=prop)
    return moment.astimezone(UTC)


def _text(value: Any, prop: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{prop} must be a non-empty string", property=prop)
    if len(value) > _MAX_TEXT:
        raise InvalidInput(f"{prop} is longer than {_MAX_TEXT} characters", property=prop)
    return value.strip()


def _required(value: Any, prop: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{prop} must be a non-empty string", property=prop)
    if len(value) > _MAX_TEXT:
        raise InvalidInput(f"{prop} is longer than {_MAX_TEXT} characters", property=prop)
    return value.strip()


def _identifier(value: Any, prop: str) -> str:
    text = _required(value, prop)
    if not (text.startswith("did:") or text.startswith(("https://", "http://"))):
        raise InvalidInput(f"{prop} {text!r} must be a DID or an http(s) URL", property=prop)
    if any(c.isspace() for c in text):
        raise InvalidInput(f"{prop} {text!r} contains white space", property=prop)
    return text


def _types(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _entry(item: Any, prop: str) -> RegistryEntry:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{prop} must be an object", property=prop)
    status = item.get("status")
    if status not in ("active", "removed"):
        raise InvalidInput(
            f"{prop}.status must be 'active' or 'removed', got {status!r}",
            property=f"{prop}.status",
        )
    since = _instant(item.get("since"), f"{prop}.since")
    removed = None
    if status == "removed":
        removed = _instant(item.get("removed"), f"{prop}.removed")
        if removed < since:
            raise InvalidInput(f"{prop}.removed is before {prop}.since", property=f"{prop}.removed")
    elif item.get("removed") is not None:
        raise InvalidInput(
            f"{prop}.removed is only allowed on a removed entry", property=f"{prop}.removed"
        )
    profile = item.get("profile")
    return RegistryEntry(
        id=_identifier(item.get("id"), f"{prop}.id"),
        profile=None if profile is None else _identifier(profile, f"{prop}.profile"),
        name=_required(item.get("name"), f"{prop}.name"),
        status=status,
        since=since,
        removed=removed,
        reason=_text(item.get("reason"), f"{prop}.reason", required=False),
    )


def parse_registry(document: Any) -> TrustRegistry:
    """The registry a document describes; InvalidInput naming the property when it is not one.

    The proof is not checked here (see ``merito.verification.trust.verify_registry``).
    """
    if not isinstance(document, Mapping):
        raise InvalidInput("a trust registry must be a JSON object", property="registry")
    if REGISTRY_TYPE not in _types(document.get("type")):
        raise InvalidInput(
            f"type must include {REGISTRY_TYPE!r} (this is not a Merito trust registry)",
            property="type",
        )
    if REGISTRY_CONTEXT not in _types(document.get("@context")):
        raise InvalidInput(f"@context must include {REGISTRY_CONTEXT!r}", property="@context")
    issuer = document.get("issuer")
    publisher_name = None
    if isinstance(issuer, Mapping):
        publisher_name = _text(issuer.get("name"), "issuer.name", required=False)
        issuer = issuer.get("id")
    publisher = _identifier(issuer, "issuer")
    subject = document.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise InvalidInput("credentialSubject must be an object", property="credentialSubject")
    if SUBJECT_TYPE not in _types(subject.get("type")):
        raise InvalidInput(
            f"credentialSubject.type must include {SUBJECT_TYPE!r}",
            property="credentialSubject.type",
        )
    items = subject.get("issuers")
    if not isinstance(items, list):
        raise InvalidInput(
            "credentialSubject.issuers must be a list", property="credentialSubject.issuers"
        )
    if len(items) > MAX_ENTRIES:
        raise InvalidInput(
            f"credentialSubject.issuers has {len(items):,} entries (at most {MAX_ENTRIES:,})",
            property="credentialSubject.issuers",
        )
    entries = tuple(_entry(item, f"credentialSubject.issuers[{i}]") for i, item in enumerate(items))
    version = subject.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise InvalidInput(
            "credentialSubject.version must be an integer", property="credentialSubject.version"
        )
    issued = document.get("validFrom")
    registry_id = document.get("id", subject.get("id"))
    return TrustRegistry(
        id=_identifier(registry_id, "id"),
        name=_required(subject.get("name"), "credentialSubject.name"),
        publisher=publisher,
        publisher_name=publisher_name,
        version=version,
        issued=None if issued is None else _instant(issued, "validFrom"),
        entries=entries,
    )


def build_registry(
    *,
    registry_id: str,
    name: str,
    publisher: str,
    publisher_name: str | None,
    version: int,
    issued: datetime,
    entries: Sequence[RegistryEntry],
) -> dict[str, Any]:
    """The unsigned registry document (sign it with ``eddsa-jcs-2022``)."""
    issuer: dict[str, Any] = {"id": publisher}
    if publisher_name:
        issuer["name"] = publisher_name
    return {
        "@context": [REGISTRY_CONTEXT],
        "id": registry_id,
        "type": ["VerifiableCredential", REGISTRY_TYPE],
        "issuer": issuer,
        "validFrom": format_instant(issued),
        "credentialSubject": {
            "id": registry_id,
            "type": SUBJECT_TYPE,
            "name": name,
            "version": version,
            "issuers": [e.to_json() for e in entries],
        },
    }
