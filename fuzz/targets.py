"""Fuzz targets: the verifier and every importer, each a function of arbitrary bytes.

A target returns normally or raises ``merito.errors.MeritoError`` (bad input, said clearly);
any other exception is a bug, and so is a hang or runaway memory (the runners bound both).
Used by ``fuzz/run.py`` (atheris, coverage-guided, for as long as asked) and by
``tests/reliability/test_reliability_fuzz.py`` (hypothesis, and a few seconds of atheris, in CI).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from merito.errors import MeritoError
from merito.formats import baking, blockcerts, ob2
from merito.formats.json_depth import too_deep
from merito.services import credentials, verifying
from merito.verification import VerifyOptions

Target = Callable[[bytes], None]
ROOT: Final = Path(__file__).resolve().parents[1]
FIXTURES: Final = ROOT / "tests" / "fixtures"
_OPTIONS: Final = VerifyOptions()


def _json(data: bytes) -> Any:
    """Decoded JSON, or None for what an importer refuses before parsing (as they do)."""
    if too_deep(data):
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        return None


def verify(data: bytes) -> None:
    """The verification pipeline on any text: JSON-LD, VC-JWT, OB 2.0, Blockcerts, garbage."""
    report = verifying.verify_document(data, _OPTIONS)
    if not isinstance(report.verified, bool):
        raise AssertionError("a report without a verdict")


def verify_jwt(data: bytes) -> None:
    """Three base64url parts built from the input: header, payload, signature."""
    parts = [*data.split(b"|", 2), b"", b""]
    token = ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts[:3])
    verifying.verify_document(token, _OPTIONS)


def ob2_import(data: bytes) -> None:
    """OB 2.0 assertion, badge class, issuer, revocation list and hosted-JWS parsing."""
    value = _json(data)
    for parse in (
        ob2.parse_assertion,
        ob2.parse_badge_class,
        ob2.parse_issuer,
        ob2.parse_public_key,
        ob2.revoked_ids,
    ):
        with contextlib.suppress(MeritoError):
            parse(value)
    with contextlib.suppress(MeritoError):
        ob2.parse_jws(data.decode("utf-8", errors="replace"))


def blockcerts_import(data: bytes) -> None:
    """Blockcerts version detection, receipt parsing and canonicalization."""
    value = _json(data)
    if isinstance(value, dict):
        with contextlib.suppress(MeritoError):
            blockcerts.blockcerts_version(value)
        with contextlib.suppress(MeritoError):
            blockcerts.parse_receipt_2017(value.get("signature", value))
    verifying.verify_document(data, _OPTIONS)


def baked_image(data: bytes) -> None:
    """A PNG or SVG badge image: the baked credential, or InvalidInput."""
    baking.extract(data)


def baked_png(data: bytes) -> None:
    """Bytes after a PNG signature (so the fuzzer starts inside the chunk parser)."""
    baking.extract(baking.PNG_SIGNATURE + data)


def bulk_csv(data: bytes) -> None:
    """A bulk-issuance CSV or JSON-lines file, row by row (the parser `issue-bulk` runs)."""
    text = data.decode("utf-8", errors="surrogateescape")
    for _ in credentials._read_csv(io.StringIO(text)):
        pass
    for _ in credentials._read_jsonl(io.StringIO(text)):
        pass


TARGETS: Final[dict[str, Target]] = {
    "verify": verify,
    "verify_jwt": verify_jwt,
    "ob2": ob2_import,
    "blockcerts": blockcerts_import,
    "image": baked_image,
    "png": baked_png,
    "csv": bulk_csv,
}

#: seed inputs per target: real documents from the fixtures, so mutations start deep
SEEDS: Final[dict[str, tuple[str, ...]]] = {
    "verify": ("ob3-examples/**/*.json",),
    "verify_jwt": (),
    "ob2": ("ob2-examples/**/*.json",),
    "blockcerts": ("blockcerts/**/*.json",),
    "image": ("ob3-examples/**/*.png", "ob3-examples/**/*.svg", "ob2-examples/**/*.png"),
    "png": (),
    "csv": (),
}


def seeds(name: str, limit: int = 50) -> list[bytes]:
    found: list[bytes] = []
    for pattern in SEEDS[name]:
        for path in sorted(FIXTURES.glob(pattern))[:limit]:
            if path.stat().st_size <= 200_000:
                found.append(path.read_bytes())
    if name == "csv":
        found.append(
            b"recipient,achievement_id,valid_until\na@example.org,x,2030-01-01T00:00:00Z\n"
        )
    return found


def run_one(target: Target, data: bytes) -> None:
    """One input: a MeritoError is an answer; anything else propagates (a bug)."""
    with contextlib.suppress(MeritoError):
        target(data)
