"""Verification outcomes as data: ``Outcome``, ``Check`` and ``VerificationReport``.

A report is the ordered list of checks the verifier ran. The check ids are fixed and stable
(API clients, the CLI's ``--json`` output and the web page key on them), in this order:

    parse      the input is readable: JSON or a compact JWT, within the size and nesting limits,
               UTF-8, no NaN/Infinity, no duplicate keys, an object at the top
    format     what it is: an Open Badges 3.0 credential, a VC 2.0 or VC 1.1 credential, embedded
               proof or VC-JWT
    context    every ``@context`` is bundled with Merito; an unknown remote context fails and is
               never fetched
    schema     the official OB 3.0 JSON Schema for Open Badges, the VC data-model basics otherwise
    proof      every proof (Data Integrity) or the JWS (VC-JWT) verifies
    issuer     the signing key belongs to the issuer: the verification method's controller is the
               issuer id and the key is authorised for ``assertionMethod``
    validity   validFrom/validUntil (issuanceDate/expirationDate for VC 1.1) against the clock
    status     credentialStatus: Bitstring Status List (revocation, suspension) or
               1EdTechRevocationList
    anchored   an anchoring proof (a transparency log or a chain), when an anchor checker is set

Later checks (trust registry, endorsements...) get their own ids after these. ``verified`` is
True only when no check failed; a check that could not run because an earlier one failed is
``skipped`` with the reason, and a check whose answer is unknown (status not fetched) is a
``warning``, which does not fail the credential.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "CHECK_IDS",
    "Check",
    "Outcome",
    "VerificationReport",
]

#: The built-in checks, in the order a report lists them.
CHECK_IDS: Final = (
    "parse",
    "format",
    "context",
    "schema",
    "proof",
    "issuer",
    "validity",
    "status",
    "anchored",
)


class Outcome(enum.StrEnum):
    """The result of one check."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    WARNING = "warning"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Check:
    """One check: what was checked (``title``) and what the result means (``message``).

    ``details`` holds machine-readable facts (problem codes, the offending property, key ids);
    it must stay JSON-serialisable.
    """

    id: str
    outcome: Outcome
    title: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAIL

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "outcome": self.outcome.value,
            "title": self.title,
            "message": self.message,
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """Everything the verifier found out about one document.

    ``format`` is ``"ob-3.0"``, ``"clr-2.0"``, ``"vc"`` or ``"unknown"``; ``data_model`` is
    ``"2.0"`` or ``"1.1"`` (the W3C VC Data Model version) when known; ``envelope`` is
    ``"embedded"`` (JSON with ``proof``), ``"jwt"`` (VC-JWT) or None when unreadable.
    ``credential`` is the credential as read (the JWT's ``vc`` claim for a VC-JWT), or None.
    """

    checks: tuple[Check, ...]
    format: str = "unknown"
    credential: Mapping[str, Any] | None = None
    data_model: str | None = None
    envelope: str | None = None
    issuer: str | None = None
    checked_at: str | None = None

    @property
    def verified(self) -> bool:
        """True only when at least one check ran and none failed."""
        return bool(self.checks) and not any(c.outcome is Outcome.FAIL for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is Outcome.FAIL)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is Outcome.WARNING)

    def check(self, check_id: str) -> Check | None:
        """The check with id ``check_id``, or None when it was not run."""
        for c in self.checks:
            if c.id == check_id:
                return c
        return None

    @property
    def summary(self) -> str:
        """One sentence for a person: the verdict and, when it failed, the first reason."""
        if self.verified:
            if self.warnings:
                return "The credential is valid, with warnings: " + self.warnings[0].message
            return "The credential is valid."
        failures = self.failures
        if failures:
            return "The credential is not valid: " + failures[0].message
        return "The credential could not be checked."

    def to_dict(self, *, include_credential: bool = False) -> dict[str, Any]:
        """A JSON-ready dict with a stable key order (the ``--json`` and API shape)."""
        out: dict[str, Any] = {
            "verified": self.verified,
            "summary": self.summary,
            "format": self.format,
            "data_model": self.data_model,
            "envelope": self.envelope,
            "issuer": self.issuer,
            "checked_at": self.checked_at,
            "checks": [c.to_dict() for c in self.checks],
        }
        if include_credential:
            out["credential"] = dict(self.credential) if self.credential is not None else None
        return out

    def to_json(self, *, include_credential: bool = False, indent: int | None = None) -> str:
        """:meth:`to_dict` as JSON text; keys keep their documented order (no sorting)."""
        return json.dumps(
            self.to_dict(include_credential=include_credential),
            ensure_ascii=False,
            indent=indent,
            allow_nan=False,
            default=str,
        )
