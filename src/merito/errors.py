"""Merito's one error tree; adapters map it to exit codes, problem JSON or form errors.

    MeritoError
    ├── InvalidInput              bad input from a caller (names the offending property)
    │   ├── InvalidCredential     a credential document that cannot be used as asked
    │   │   └── DataLossError     JSON-LD would drop data: a signature would not cover it
    │   └── InvalidKey            key material that cannot be parsed or used
    ├── NotFound
    ├── Conflict
    ├── Unauthenticated           no (valid) credentials were presented: log in or send a token
    ├── PermissionDenied
    ├── RateLimited               too many attempts: wait ``retry_after`` seconds (API: 429)
    ├── DatabaseUnavailable       the database cannot be reached, is locked or full (API: 503)
    ├── ProofError                signing/verification could not proceed (carries a DI problem code)
    ├── DocumentLoaderError       a JSON-LD context that is not bundled (never fetched)
    ├── FetchError                an injected fetcher refused or failed (SSRF guard, size, time)
    ├── DeliveryError             a mailer could not hand a message over (``transient``: retry?)
    ├── AnchorError               an anchor back end (a chain) could not write or read a root
    └── StorageError              a file store (local disk, S3) could not keep or return a file

Verification outcomes are data (see ``merito.domain.verification``), not exceptions.
"""

from __future__ import annotations


class MeritoError(Exception):
    """Base of every error Merito raises on purpose."""

    #: a short stable slug for machines (problem type, CLI exit reason)
    code: str = "merito-error"

    def __init__(self, message: str, *, property: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.property = property


class InvalidInput(MeritoError):
    code = "invalid-input"


class InvalidCredential(InvalidInput):
    code = "invalid-credential"


class DataLossError(InvalidCredential):
    """JSON-LD processing would silently drop part of the document (VC DI 1.0 §2.4 safe mode).

    Signing or verifying it with an RDF-canonicalizing suite would leave that part uncovered
    by the signature, so it is refused (DATA_LOSS_DETECTION_ERROR).
    """

    code = "data-loss"


class InvalidKey(InvalidInput):
    code = "invalid-key"


class NotFound(MeritoError):
    code = "not-found"


class Conflict(MeritoError):
    code = "conflict"


class Unauthenticated(MeritoError):
    """The request carries no valid credentials (API: 401 with WWW-Authenticate)."""

    code = "unauthenticated"


class PermissionDenied(MeritoError):
    code = "permission-denied"


class RateLimited(MeritoError):
    """Too many attempts (e.g. logins for one email from one address): retry later."""

    code = "rate-limited"

    def __init__(self, message: str, *, retry_after: float, property: str | None = None) -> None:
        super().__init__(message, property=property)
        self.retry_after = retry_after


class DatabaseUnavailable(MeritoError):
    """The database did not answer, refused the connection, stayed locked or is full.

    Nothing of the unit of work was committed; ``retry_after`` seconds is a fair wait.
    """

    code = "database-unavailable"

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProofError(MeritoError):
    """A proof could not be created or checked.

    ``problem`` is the Data Integrity processing error code (VC Data Integrity 1.0 §3.4),
    e.g. ``PROOF_VERIFICATION_ERROR``, ``PROOF_GENERATION_ERROR``, ``MALFORMED_PROOF_ERROR``,
    ``INVALID_DOMAIN_ERROR``, ``INVALID_CHALLENGE_ERROR``.
    """

    code = "proof-error"

    def __init__(
        self,
        message: str,
        *,
        problem: str = "PROOF_VERIFICATION_ERROR",
        property: str | None = None,
    ) -> None:
        super().__init__(message, property=property)
        self.problem = problem


class DocumentLoaderError(MeritoError):
    code = "document-loader"


class FetchError(MeritoError):
    code = "fetch-error"


class DeliveryError(MeritoError):
    """A mailer could not hand a message to its server.

    ``transient`` tells the outbox what to do: True for a connection failure, a timeout or
    an SMTP 4xx reply (RFC 5321 §4.2.1: "transient negative completion", retry later);
    False for a 5xx permanent rejection or a configuration the server refuses (give up).
    ``smtp_code`` is the server's reply code when there was one.
    """

    code = "delivery-failed"

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        smtp_code: int | None = None,
        property: str | None = None,
    ) -> None:
        super().__init__(message, property=property)
        self.transient = transient
        self.smtp_code = smtp_code


class AnchorError(MeritoError):
    """An anchor back end could not write or look up a Merkle root.

    ``transient`` is True when the chain could not be reached (after the adapter's own
    retries): the sealing worker tries again later, issuance is never blocked. False means
    the chain answered and refused (a reverted transaction, a wrong chain, no funds).
    """

    code = "anchor-failed"

    def __init__(self, message: str, *, transient: bool, property: str | None = None) -> None:
        super().__init__(message, property=property)
        self.transient = transient


class StorageError(MeritoError):
    """A file store (evidence files on disk or in an S3-compatible bucket) failed.

    ``transient`` is True when the store could not be reached (retry later).
    """

    code = "storage-failed"

    def __init__(
        self, message: str, *, transient: bool = True, property: str | None = None
    ) -> None:
        super().__init__(message, property=property)
        self.transient = transient
