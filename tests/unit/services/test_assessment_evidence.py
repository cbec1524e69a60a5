"""Evidence limits and digests, without a database."""

from __future__ import annotations

import hashlib

import pytest

from merito.errors import InvalidInput
from merito.formats.multibase import decode_multibase
from merito.services.assessment import EvidenceLimits, evidence_digest


def test_limits_parse_and_refuse_active_types() -> None:
    limits = EvidenceLimits.parse(max_file_bytes=5, allowed_types="Application/PDF, text/plain,")
    assert limits.allowed_types == ("application/pdf", "text/plain")
    with pytest.raises(InvalidInput, match="run script"):
        EvidenceLimits.parse(max_file_bytes=5, allowed_types="image/svg+xml")
    with pytest.raises(InvalidInput, match="not a media type"):
        EvidenceLimits.parse(max_file_bytes=5, allowed_types="pdf")
    with pytest.raises(InvalidInput, match="at least one"):
        EvidenceLimits.parse(max_file_bytes=5, allowed_types=" , ")
    with pytest.raises(InvalidInput, match="max_file_bytes"):
        EvidenceLimits.parse(max_file_bytes=0, allowed_types="text/plain")


def test_digest_is_a_base64url_sha2_256_multihash() -> None:
    sha = hashlib.sha256(b"evidence").hexdigest()
    digest = evidence_digest(sha)
    assert digest.startswith("u")
    assert decode_multibase(digest) == b"\x12\x20" + bytes.fromhex(sha)
