"""Ports: the Protocols through which the pure core reaches the outside world.

Every side effect is a parameter. The core never opens a socket, reads a clock or a
random source of its own; adapters (storage, anchors, bootstrap) implement these.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from merito.errors import InvalidInput


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real clock; the only place the core's default reads time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FixedClock:
    """A clock stopped at one instant: for tests and reproducible vectors."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant


@dataclass(frozen=True)
class RemoteDocument:
    """What a JSON-LD document loader returns (JSON-LD 1.1 API §9.4.3)."""

    document_url: str
    document: Any
    context_url: str | None = None


@runtime_checkable
class DocumentLoader(Protocol):
    """Resolves a JSON-LD context URL; raises DocumentLoaderError for anything unknown."""

    def __call__(self, url: str) -> RemoteDocument: ...


@dataclass(frozen=True)
class FetchResponse:
    status: int
    body: bytes
    content_type: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""


@runtime_checkable
class Fetcher(Protocol):
    """Fetches a URL (status lists, did:web documents, hosted badges).

    Implementations guard against SSRF and bound size, time and redirects; they raise
    ``merito.errors.FetchError`` with a clear message on any refusal or failure.
    """

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse: ...


#: the header carrying an OutgoingEmail's idempotency key, so a receiving system can
#: recognise a message the outbox delivered twice (a reply lost after the server accepted)
IDEMPOTENCY_KEY_HEADER = "Merito-Idempotency-Key"

# Headers a mailer sets itself: extra headers may not replace them. Cc/Bcc/To would add
# recipients; the others would forge the message's identity or its MIME structure.
RESERVED_EMAIL_HEADERS = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "return-path",
        IDEMPOTENCY_KEY_HEADER.lower(),
    }
)

# RFC 5322 §3.6.4 addr-spec, reduced to what a notification needs: one address, no display
# name, no comments, no quoted local part, nothing a header or an SMTP command could split on.
_ADDRESS = re.compile(r"[^\s@<>,;:\"()\[\]\\]+@[^\s@<>,;:\"()\[\]\\]+\.[^\s@<>,;:\"()\[\]\\]+")
# RFC 5322 §2.2 field-name: printable US-ASCII except the colon.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
_IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,200}")


def _line_break_free(value: str, *, property: str) -> None:
    """Refuse a header value that could end the header (CR/LF) or hide control codes."""
    for ch in value:
        if ch != "\t" and unicodedata.category(ch) in {"Cc", "Zl", "Zp"}:
            raise InvalidInput(
                f"{property} contains a line break or control character ({ch!r}): "
                "refused to prevent email header injection",
                property=property,
            )


@dataclass(frozen=True, kw_only=True)
class OutgoingEmail:
    """One email to one recipient, as the outbox stores it and a Mailer sends it.

    A value that could inject a header (a CR/LF in the subject, the address or an extra
    header) cannot be built. The mailer adds From, Date and Message-ID itself.
    """

    to: str
    subject: str
    text: str
    idempotency_key: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        _line_break_free(self.to, property="to")
        if len(self.to) > 254 or not _ADDRESS.fullmatch(self.to):
            raise InvalidInput(f"to is not a single email address: {self.to!r}", property="to")
        _line_break_free(self.subject, property="subject")
        if not _IDEMPOTENCY_KEY.fullmatch(self.idempotency_key):
            raise InvalidInput(
                "idempotency_key must be 1 to 200 printable ASCII characters without spaces",
                property="idempotency_key",
            )
        for name, value in self.headers.items():
            if not _FIELD_NAME.fullmatch(name):
                raise InvalidInput(f"headers: {name!r} is not a header name", property="headers")
            if name.lower() in RESERVED_EMAIL_HEADERS:
                raise InvalidInput(
                    f"headers: {name!r} is set by the mailer and cannot be overridden",
                    property="headers",
                )
            _line_break_free(value, property=f"headers.{name}")
        # a private copy: the caller's dict cannot change a frozen message afterwards
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))


@runtime_checkable
class Mailer(Protocol):
    """Hands one email to a mail system (SMTP server, console, memory).

    Returns the Message-ID it used. Raises ``merito.errors.DeliveryError`` with
    ``transient`` set so the outbox knows whether to retry, and ``InvalidInput`` for a
    message it refuses to send (checked before any connection is made).
    """

    def send(self, email: OutgoingEmail) -> str: ...


@dataclass(frozen=True, kw_only=True)
class AnchorReceipt:
    """Where a Merkle root was written, and how settled it is.

    ``anchor_uri`` names the transaction the way Blockcerts proofs do (a Blink URI such as
    ``blink:eth:sepolia:0x<tx>``); ``confirmations`` counts the block holding it as one.
    """

    root: bytes
    transaction_id: str
    anchor_uri: str
    block_number: int | None
    confirmations: int


@runtime_checkable
class Anchor(Protocol):
    """Writes Merkle tree roots somewhere public (a chain) and finds them again.

    One ``anchor`` call is one transaction whatever the batch size. Implementations retry
    transient failures themselves and then raise ``merito.errors.AnchorError`` (with
    ``transient``); they never block for longer than their configured timeout.
    """

    def anchor(self, root: bytes) -> AnchorReceipt:
        """Write ``root``, wait for the configured confirmations, return the receipt."""
        ...

    def lookup(self, transaction_id: str) -> AnchorReceipt:
        """The root a transaction carries; NotFound when there is no such transaction."""
        ...

    def check(self, transaction_id: str, root: bytes) -> bool:
        """True when the transaction carries ``root`` with enough confirmations."""
        ...


@runtime_checkable
class BlobStore(Protocol):
    """Files kept by content: the key is the lower-case hex SHA-256 of the bytes.

    Writing the same bytes twice stores them once; a read returns exactly the bytes whose
    digest is the key (implementations check it, so a changed file is never served).
    Failures of the back end are wrapped as ``merito.errors.StorageError``.
    """

    def put(self, data: bytes, *, media_type: str) -> str:
        """Store ``data``; its SHA-256 (hex)."""
        ...

    def get(self, sha256: str) -> bytes:
        """The bytes with this digest; NotFound when there are none."""
        ...

    def exists(self, sha256: str) -> bool: ...


@runtime_checkable
class VirusScanner(Protocol):
    """Scans an uploaded file before it is stored: None when clean, else what was found."""

    def scan(self, data: bytes, *, filename: str) -> str | None: ...
