"""The verification pipeline: ordered checks -> VerificationReport; never raises on bad input."""

from merito.verification.pipeline import (
    DEFAULT_CHECKS,
    AnchorChecker,
    CheckSpec,
    VerificationState,
    VerifyOptions,
    verify,
)

__all__ = [
    "DEFAULT_CHECKS",
    "AnchorChecker",
    "CheckSpec",
    "VerificationState",
    "VerifyOptions",
    "verify",
]
