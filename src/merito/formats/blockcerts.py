"""Blockcerts v2/v3 certificates: recognise them, read their receipt, canonicalize them offline.

A Blockcerts v2 certificate is an OB 2.0 assertion with a ``signature`` of type
``MerkleProof2017`` (a chainpoint receipt: ``targetHash``, ``merkleRoot``, ``proof`` path,
``anchors``); its target hash is SHA-256 of the URDNA2015 N-Quads of the certificate without
``signature`` (cert-verifier-js ``computeLocalHash``). A v3 certificate is a VC with a
``MerkleProof2019`` proof, handled by ``merito.proofs.merkle_proof_2019``.

Contexts come from the bundle (``formats/contexts``) plus the Blockcerts contexts shipped in
``formats/blockcerts_contexts`` (see its SOURCES.md); anything else is refused, never fetched.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final, Literal

from pyld import jsonld

from merito.errors import DocumentLoaderError, InvalidCredential, MeritoError
from merito.formats import contexts

__all__ = [
    "Receipt2017",
    "blockcerts_version",
    "canonize",
    "parse_receipt_2017",
]

_PACKAGE: Final = "merito.formats.blockcerts_contexts"
_V2: Final = "blockcerts-v2.1.json"
_FILES: Final[Mapping[str, str]] = {
    "https://w3id.org/blockcerts/v2": _V2,
    "https://w3id.org/blockcerts/v2.1": _V2,
    "https://w3id.org/blockcerts/schema/2.0/context.json": _V2,
    "https://w3id.org/blockcerts/schema/2.1/context.json": _V2,
    "https://www.blockcerts.org/schema/2.0/context.json": _V2,
    "https://www.blockcerts.org/schema/2.1/context.json": _V2,
    "https://w3id.org/blockcerts/v3": "blockcerts-v3.0.json",
    "https://w3id.org/blockcerts/v3.0": "blockcerts-v3.0.json",
    "https://w3id.org/blockcerts/schema/3.0/context.json": "blockcerts-v3.0.json",
    "https://www.blockcerts.org/schema/3.0/context.json": "blockcerts-v3.0.json",
    "https://w3id.org/blockcerts/v3.1": "blockcerts-v3.1.json",
    "https://w3id.org/blockcerts/schema/3.1/context.json": "blockcerts-v3.1.json",
    "https://www.blockcerts.org/schema/3.1/context.json": "blockcerts-v3.1.json",
    "https://w3id.org/blockcerts/v3.2": "blockcerts-v3.2.json",
    "https://w3id.org/blockcerts/schema/3.2/context.json": "blockcerts-v3.2.json",
    "https://www.blockcerts.org/schema/3.2/context.json": "blockcerts-v3.2.json",
    "https://w3id.org/security/suites/merkle-2019/v1": "merkle-2019-v1.json",
    "https://w3id.org/security/suites/chained-2021/v1": "chained-2021-v1.json",
}
_MAX_PATH: Final = 64  # a batch of 2^64 certificates is not a thing


@cache
def _context(url: str) -> Any:
    name = _FILES.get(url)
    if name is None:
        return contexts.context_document(url)  # raises DocumentLoaderError when unbundled
    return json.loads(resources.files(_PACKAGE).joinpath(name).read_bytes())


def _loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(_context(url))}


def _context_urls(document: Mapping[str, Any]) -> list[str]:
    value = document.get("@context")
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, str)]


def blockcerts_version(document: Mapping[str, Any]) -> Literal["v2", "v3"] | None:
    """``v2`` (MerkleProof2017 ``signature``), ``v3`` (a MerkleProof2019 proof) or None."""
    urls = _context_urls(document)
    signature = document.get("signature")
    if isinstance(signature, Mapping):
        types = signature.get("type")
        types = types if isinstance(types, list) else [types]
        if "MerkleProof2017" in types:
            return "v2"
    proofs = document.get("proof")
    for proof in proofs if isinstance(proofs, list) else [proofs]:
        if isinstance(proof, Mapping) and (
            proof.get("type") == "MerkleProof2019"
            or proof.get("cryptosuite") == "merkle-proof-2019"
        ):
            return "v3"
    if any(
        url.startswith(("https://w3id.org/blockcerts/v3", "https://www.blockcerts.org/schema/3"))
        for url in urls
    ):
        return "v3"
    return None


def canonize(document: dict[str, Any]) -> str:
    """URDNA2015 N-Quads of ``document`` with the bundled and Blockcerts contexts only.

    Raises DocumentLoaderError for a context Merito does not ship, InvalidCredential for
    a document JSON-LD cannot process.
    """
    try:
        nquads: str = jsonld.normalize(
            document,
            {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _loader},
        )
    except jsonld.JsonLdError as e:
        cause: BaseException | None = e
        while cause is not None:
            if isinstance(cause, MeritoError):
                raise DocumentLoaderError(cause.message, property="@context") from e
            cause = cause.__cause__ or getattr(cause, "cause", None)
        raise InvalidCredential(
            f"the certificate is not valid JSON-LD: {str(e).splitlines()[0]}", property="@context"
        ) from e
    return nquads


@dataclass(frozen=True, slots=True)
class Receipt2017:
    """A Blockcerts v2 ``signature`` (MerkleProof2017 / chainpoint v2 receipt)."""

    target_hash: bytes
    merkle_root: bytes
    path: tuple[tuple[Literal["left", "right"], bytes], ...]
    anchors: tuple[Mapping[str, Any], ...]


def _hex(value: Any, prop: str) -> bytes:
    if not isinstance(value, str) or len(value) != 64:
        raise InvalidCredential(f"signature.{prop} must be 64 hex digits", property=prop)
    try:
        return bytes.fromhex(value)
    except ValueError as e:
        raise InvalidCredential(f"signature.{prop} must be 64 hex digits", property=prop) from e


def parse_receipt_2017(signature: Any) -> Receipt2017:
    """Read a v2 certificate's ``signature``; raises InvalidCredential naming the property."""
    if not isinstance(signature, Mapping):
        raise InvalidCredential("signature must be an object", property="signature")
    steps = signature.get("proof", [])
    if not isinstance(steps, list) or len(steps) > _MAX_PATH:
        raise InvalidCredential(
            f"signature.proof must be a list of at most {_MAX_PATH} steps", property="proof"
        )
    path: list[tuple[Literal["left", "right"], bytes]] = []
    for step in steps:
        if not isinstance(step, Mapping) or len(step) != 1:
            raise InvalidCredential(
                'each signature.proof step is {"left": hex} or {"right": hex}', property="proof"
            )
        side = next(iter(step))
        if side not in ("left", "right"):
            raise InvalidCredential(
                f"signature.proof step {side!r} is neither left nor right", property="proof"
            )
        path.append(("left" if side == "left" else "right", _hex(step[side], "proof")))
    anchors = signature.get("anchors", [])
    if not isinstance(anchors, list) or not all(isinstance(a, Mapping) for a in anchors):
        raise InvalidCredential("signature.anchors must be a list of objects", property="anchors")
    return Receipt2017(
        target_hash=_hex(signature.get("targetHash"), "targetHash"),
        merkle_root=_hex(signature.get("merkleRoot"), "merkleRoot"),
        path=tuple(path),
        anchors=tuple(anchors),
    )
