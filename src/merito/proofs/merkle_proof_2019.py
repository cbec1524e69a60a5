"""Blockcerts MerkleProof2019: the ``proofValue`` codec, batch receipts and their verification.

A MerkleProof2019 proof (Blockcerts v3; a ``DataIntegrityProof`` with cryptosuite
``merkle-proof-2019`` since cert-schema 3.1) says: the document's *target hash* sits in a
batch Merkle tree whose root was anchored (``anchors``, Blink URIs such as
``blink:eth:sepolia:0x<tx>``). Its pieces, as cert-issuer and cert-verifier-js compute them:

* target hash: ``SHA-256`` of the RDFC-1.0 (URDNA2015) N-Quads of the document without its
  ``proof`` (jsonld-signatures-merkleproof2019 ``computeLocalHash``); a term no context
  defines is refused, as Blockcerts' ``http://fallback.org/`` check does;
* path: from the leaf up, ``{"left": h}`` means ``SHA-256(h || cur)``, ``{"right": h}``
  ``SHA-256(cur || h)`` on raw bytes (``ensureValidReceipt``); the batch tree is
  chainpoint merkletools': no leaf/node prefixes, an unpaired last node promoted unchanged;
* ``proofValue``: ``"z"`` + base58btc of a CBOR array of ``[key, value]`` pairs
  (lds-merkle-proof-2019 ``Keymap``): ``0`` merkleRoot, ``1`` targetHash, ``2`` anchors,
  ``3`` path (``0`` left, ``1`` right). Every hash (and the anchor's transaction id) is
  itself CBOR-encoded into a byte string. cert-issuer (Python) encodes the *hex text*, the
  JS Encoder the raw bytes; both decoders accept both, and so does :func:`decode_proof_value`.
  :func:`encode_proof_value` writes cert-issuer's form, in cert-issuer's key order (path,
  merkleRoot, targetHash, anchors), so it reproduces issued certificates byte for byte.

An anchor is ``[[0, chain], [1, network], [2, tx]]`` (mocknet: ``[[0, -1], [1, text]]``).
Networks outside the Keymap are written as their numeric chain id (``blink:eth:31337:0x..``
for a local Hardhat chain), which the Keymap already uses for Ethereum networks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import cbor2

from merito.errors import InvalidInput, MeritoError, ProofError
from merito.formats import rdf
from merito.formats.multibase import b58decode, b58encode

__all__ = [
    "CRYPTOSUITE",
    "MerkleProof2019",
    "MerkleProof2019Result",
    "PathStep",
    "attach_proof",
    "batch_proofs",
    "blockcerts_root",
    "create_proof",
    "decode_proof_value",
    "encode_proof_value",
    "preceding_proofs",
    "root_from_path",
    "target_hash",
    "verify_proof",
]

CRYPTOSUITE: Final = "merkle-proof-2019"
_LEGACY_TYPE: Final = "MerkleProof2019"

_ROOT_KEYS: Final = {"merkleRoot": 0, "targetHash": 1, "anchors": 2, "path": 3}
_PATH_KEYS: Final = {"left": 0, "right": 1}
#: lds-merkle-proof-2019 Keymap.chain (chain id, network name -> number)
_CHAINS: Final[Mapping[str, tuple[int, Mapping[str, int]]]] = {
    "btc": (0, {"mainnet": 1, "regtest": 2, "testnet": 3}),
    "eth": (1, {"mainnet": 1, "ropsten": 3, "rinkeby": 4, "goerli": 5, "sepolia": 11155111}),
    "mtc": (2, {"mainnet": 137, "mumbai": 80001}),
    "base": (3, {"mainnet": 8453, "sepolia": 84532}),
    "mocknet": (-1, {}),
}
_CHAIN_BY_ID: Final = {chain_id: name for name, (chain_id, _) in _CHAINS.items()}
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_MAX_PROOF_VALUE: Final = 64 * 1024  # a path of ~20 steps is ~3 KB; refuse anything absurd

PathStep = tuple[Literal["left", "right"], bytes]


def _malformed(message: str, prop: str = "proofValue") -> ProofError:
    return ProofError(message, problem="MALFORMED_PROOF_ERROR", property=prop)


@dataclass(frozen=True, slots=True, kw_only=True)
class MerkleProof2019:
    """The decoded ``proofValue``: a receipt for one document in one anchored batch."""

    target_hash: bytes
    merkle_root: bytes
    path: tuple[PathStep, ...] = ()
    anchors: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, value in (("targetHash", self.target_hash), ("merkleRoot", self.merkle_root)):
            if len(value) != 32:
                raise InvalidInput(f"{name} must be a 32-byte SHA-256 hash", property=name)
        for side, value in self.path:
            if side not in _PATH_KEYS or len(value) != 32:
                raise InvalidInput(
                    "path steps must be ('left'|'right', 32-byte hash)", property="path"
                )
        for anchor in self.anchors:
            _anchor_parts(anchor)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of the Blockcerts fixtures (``proofValue.json``)."""
        return {
            "path": [{side: value.hex()} for side, value in self.path],
            "merkleRoot": self.merkle_root.hex(),
            "targetHash": self.target_hash.hex(),
            "anchors": list(self.anchors),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> MerkleProof2019:
        def hex32(value: Any, prop: str) -> bytes:
            if not isinstance(value, str) or not _HEX64.fullmatch(value):
                raise InvalidInput(f"{prop} must be 64 lower-case hex digits", property=prop)
            return bytes.fromhex(value)

        path: list[PathStep] = []
        for step in document.get("path", []):
            if not isinstance(step, Mapping) or len(step) != 1:
                raise InvalidInput("each path step is {left: hex} or {right: hex}", property="path")
            ((side, value),) = step.items()
            if side not in _PATH_KEYS:
                raise InvalidInput(f"path step side {side!r} is not left or right", property="path")
            path.append((side, hex32(value, "path")))
        anchors = document.get("anchors", [])
        if not isinstance(anchors, list) or not all(isinstance(a, str) for a in anchors):
            raise InvalidInput("anchors must be a list of Blink URIs", property="anchors")
        return cls(
            target_hash=hex32(document.get("targetHash"), "targetHash"),
            merkle_root=hex32(document.get("merkleRoot"), "merkleRoot"),
            path=tuple(path),
            anchors=tuple(anchors),
        )


def _anchor_parts(anchor: str) -> tuple[str, str | None, str]:
    """``blink:<chain>:<network>:<tx>`` (mocknet: ``blink:mocknet:<text>``)."""
    parts = anchor.split(":", 3)
    if len(parts) < 3 or parts[0] != "blink" or parts[1] not in _CHAINS:
        raise InvalidInput(f"anchor {anchor!r} is not a known Blink URI", property="anchors")
    if parts[1] == "mocknet":
        return "mocknet", None, anchor.split(":", 2)[2]
    if len(parts) != 4 or not parts[3]:
        raise InvalidInput(f"anchor {anchor!r} needs chain:network:tx", property="anchors")
    network = parts[2]
    if network not in _CHAINS[parts[1]][1] and not network.isdigit():
        raise InvalidInput(
            f"anchor {anchor!r}: unknown {parts[1]} network {network!r}", property="anchors"
        )
    return parts[1], network, parts[3]


def _cbor_text(value: str) -> bytes:
    return cbor2.dumps(value)


def _encode_anchor(anchor: str) -> list[list[Any]]:
    chain, network, tx = _anchor_parts(anchor)
    chain_id, networks = _CHAINS[chain]
    if network is None:
        return [[0, chain_id], [1, _cbor_text(tx)]]
    network_id = networks[network] if network in networks else int(network)
    return [[0, chain_id], [1, network_id], [2, _cbor_text(tx)]]


def encode_proof_value(proof: MerkleProof2019) -> str:
    """The multibase (base58btc) CBOR ``proofValue``, byte-compatible with cert-issuer."""
    pairs: list[list[Any]] = [
        [_ROOT_KEYS["path"], [[_PATH_KEYS[s], _cbor_text(v.hex())] for s, v in proof.path]],
        [_ROOT_KEYS["merkleRoot"], _cbor_text(proof.merkle_root.hex())],
        [_ROOT_KEYS["targetHash"], _cbor_text(proof.target_hash.hex())],
        [_ROOT_KEYS["anchors"], [_encode_anchor(a) for a in proof.anchors]],
    ]
    return "z" + b58encode(cbor2.dumps(pairs))


def _inner_hex(value: Any, prop: str) -> str:
    """A CBOR byte string wrapping a hash: hex text (cert-issuer) or raw bytes (JS Encoder)."""
    if not isinstance(value, bytes):
        raise _malformed(f"{prop} is not a CBOR byte string", prop)
    try:
        inner = cbor2.loads(value)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as e:
        raise _malformed(f"{prop} does not hold CBOR: {e}", prop) from None
    if isinstance(inner, bytes):
        return inner.hex()
    if isinstance(inner, str):
        return inner
    raise _malformed(f"{prop} holds {type(inner).__name__}, not a hash", prop)


def _hash(value: Any, prop: str) -> bytes:
    text = _inner_hex(value, prop).lower()
    if not _HEX64.fullmatch(text):
        raise _malformed(f"{prop} is not a 32-byte hash", prop)
    return bytes.fromhex(text)


def _decode_anchor(entry: Any) -> str:
    if not isinstance(entry, list) or not all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) for p in entry
    ):
        raise _malformed("an anchor is a list of [index, value] pairs", "anchors")
    fields = {p[0]: p[1] for p in entry}
    chain = _CHAIN_BY_ID.get(fields.get(0))  # type: ignore[arg-type]
    if chain is None:
        raise _malformed(f"unknown anchor chain id {fields.get(0)!r}", "anchors")
    if chain == "mocknet":
        return f"blink:mocknet:{_inner_hex(fields.get(1), 'anchors')}"
    network_id = fields.get(1)
    if not isinstance(network_id, int):
        raise _malformed("an anchor's network id must be an integer", "anchors")
    names = {v: k for k, v in _CHAINS[chain][1].items()}
    network = names.get(network_id, str(network_id))
    return f"blink:{chain}:{network}:{_inner_hex(fields.get(2), 'anchors')}"


def decode_proof_value(proof_value: str) -> MerkleProof2019:
    """Parse a MerkleProof2019 ``proofValue``; ProofError(MALFORMED_PROOF_ERROR) if it is not."""
    if (
        not isinstance(proof_value, str)
        or not proof_value.startswith("z")
        or len(proof_value) > _MAX_PROOF_VALUE
    ):
        raise _malformed("proofValue must be a base58btc multibase string ('z' prefix)")
    try:
        raw = b58decode(proof_value[1:])
        pairs = cbor2.loads(raw)
    except MeritoError as e:
        raise _malformed(f"proofValue is not base58btc: {e.message}") from None
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError) as e:
        raise _malformed(f"proofValue is not CBOR: {e}") from None
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and p[0] in _ROOT_KEYS.values() for p in pairs
    ):
        raise _malformed("proofValue is not a CBOR list of [key, value] pairs")
    fields = {p[0]: p[1] for p in pairs}
    path: list[PathStep] = []
    for step in fields.get(_ROOT_KEYS["path"], []):
        if not isinstance(step, list) or len(step) != 2 or step[0] not in (0, 1):
            raise _malformed("a path step is [0|1, hash]", "path")
        side: Literal["left", "right"] = "left" if step[0] == 0 else "right"
        path.append((side, _hash(step[1], "path")))
    anchors = fields.get(_ROOT_KEYS["anchors"], [])
    if not isinstance(anchors, list):
        raise _malformed("anchors must be a list", "anchors")
    for key in (_ROOT_KEYS["merkleRoot"], _ROOT_KEYS["targetHash"]):
        if key not in fields:
            name = "merkleRoot" if key == 0 else "targetHash"
            raise _malformed(f"proofValue lacks {name}", name)
    try:
        return MerkleProof2019(
            target_hash=_hash(fields[_ROOT_KEYS["targetHash"]], "targetHash"),
            merkle_root=_hash(fields[_ROOT_KEYS["merkleRoot"]], "merkleRoot"),
            path=tuple(path),
            anchors=tuple(_decode_anchor(a) for a in anchors),
        )
    except InvalidInput as e:
        raise _malformed(e.message, e.property or "proofValue") from None


def root_from_path(target: bytes, path: Sequence[PathStep]) -> bytes:
    """Walk a Blockcerts receipt path from the target hash up (``ensureValidReceipt``)."""
    sha = hashlib.sha256
    current = target
    for side, sibling in path:
        current = sha(sibling + current if side == "left" else current + sibling).digest()
    return current


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    sha = hashlib.sha256
    level = list(leaves)
    levels = [level]
    while len(level) > 1:
        pairs = iter(level)
        up = [sha(a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        if len(level) & 1:
            up.append(level[-1])  # merkletools promotes a solo node unchanged
        levels.append(up)
        level = up
    return levels


def blockcerts_root(target_hashes: Sequence[bytes]) -> bytes:
    """The batch root cert-issuer anchors for these target hashes (in issuing order)."""
    if not target_hashes:
        raise InvalidInput("a batch needs at least one document", property="target_hashes")
    return _levels(target_hashes)[-1][0]


def batch_proofs(
    target_hashes: Sequence[bytes], *, anchors: Sequence[str]
) -> list[MerkleProof2019]:
    """One receipt per target hash for a batch anchored at ``anchors`` (cert-issuer's tree)."""
    if not target_hashes:
        raise InvalidInput("a batch needs at least one document", property="target_hashes")
    for h in target_hashes:
        if len(h) != 32:
            raise InvalidInput(
                "target hashes are 32-byte SHA-256 digests", property="target_hashes"
            )
    levels = _levels(target_hashes)
    root = levels[-1][0]
    proofs = []
    for leaf_index, target in enumerate(target_hashes):
        path: list[PathStep] = []
        index = leaf_index
        for level in levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(("left" if index & 1 else "right", level[sibling]))
            index >>= 1
        proofs.append(
            MerkleProof2019(
                target_hash=target, merkle_root=root, path=tuple(path), anchors=tuple(anchors)
            )
        )
    return proofs


Canonizer = Callable[[dict[str, Any]], str]


def target_hash(
    document: Mapping[str, Any],
    *,
    canonize: Canonizer = rdf.canonize,
    preceding: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """``SHA-256`` of the RDFC-1.0 N-Quads of ``document`` as the proof's signer saw it.

    That is the document without ``proof``, plus the ``preceding`` proofs: cert-issuer adds
    proofs one after another, each covering the proofs already there (cert-verifier-js
    hashes a proof at position ``i`` with ``proof = proofs[:i]``). An anchoring proof placed
    first therefore covers the credential without proofs. ``canonize`` defaults to the
    offline, safe-mode canonicalizer (bundled contexts only); a verifier of foreign
    certificates passes one that knows their contexts.
    """
    unsigned: dict[str, Any] = {k: v for k, v in document.items() if k != "proof"}
    if len(preceding) == 1:
        unsigned["proof"] = dict(preceding[0])
    elif preceding:
        unsigned["proof"] = [dict(p) for p in preceding]
    return hashlib.sha256(canonize(unsigned).encode("utf-8")).digest()


def preceding_proofs(
    document: Mapping[str, Any], proof: Mapping[str, Any]
) -> list[Mapping[str, Any]]:
    """The proofs listed before ``proof`` in ``document["proof"]`` (what ``proof`` covers)."""
    proofs = document.get("proof")
    if not isinstance(proofs, list):
        return []
    for i, candidate in enumerate(proofs):
        if candidate is proof or candidate == proof:
            return [p for p in proofs[:i] if isinstance(p, Mapping)]
    return []


def create_proof(
    receipt: MerkleProof2019,
    *,
    verification_method: str,
    created: datetime,
    proof_id: str | None = None,
) -> dict[str, Any]:
    """The Data Integrity proof object (cert-schema 3.2 ``dataIntegrityProof``) for a receipt."""
    if created.tzinfo is None:
        raise InvalidInput("created must be timezone-aware", property="created")
    proof: dict[str, Any] = {}
    if proof_id is not None:
        proof["id"] = proof_id
    proof.update(
        {
            "type": "DataIntegrityProof",
            "cryptosuite": CRYPTOSUITE,
            "proofPurpose": "assertionMethod",
            "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "proofValue": encode_proof_value(receipt),
            "verificationMethod": verification_method,
        }
    )
    return proof


def attach_proof(
    document: Mapping[str, Any],
    receipt: MerkleProof2019,
    *,
    verification_method: str,
    created: datetime,
    proof_id: str | None = None,
) -> dict[str, Any]:
    """A copy of ``document`` with the merkle proof *first* in its proof set.

    First, because a Blockcerts verifier hashes a proof at position ``i`` together with the
    proofs before it: in first place the receipt covers the credential without proofs (the
    log's leaf), and the issuer's existing eddsa proof, which never covered it, still
    verifies as a member of a proof set (VC DI 1.0 §4.5).
    """
    proof = create_proof(
        receipt, verification_method=verification_method, created=created, proof_id=proof_id
    )
    existing = document.get("proof")
    others = existing if isinstance(existing, list) else [] if existing is None else [existing]
    secured = {k: v for k, v in document.items() if k != "proof"}
    secured["proof"] = [proof, *others] if others else proof
    return secured


@dataclass(frozen=True, slots=True)
class MerkleProof2019Result:
    """What checking one merkle-proof-2019 proof found (never an exception for bad input).

    ``verified`` covers the document's own integrity (target hash) and the receipt (path
    to root). Whether ``merkle_root`` really was anchored is the caller's next check:
    against a chain (``anchors``) or a transparency log's Signed Tree Head.
    """

    verified: bool
    receipt: MerkleProof2019 | None = None
    local_hash: bytes | None = None
    error: ProofError | None = None

    @property
    def merkle_root(self) -> bytes | None:
        return None if self.receipt is None else self.receipt.merkle_root

    @property
    def anchors(self) -> tuple[str, ...]:
        return () if self.receipt is None else self.receipt.anchors


def _is_merkle_proof(proof: Mapping[str, Any]) -> bool:
    if proof.get("type") == _LEGACY_TYPE:
        return True
    return proof.get("type") == "DataIntegrityProof" and proof.get("cryptosuite") == CRYPTOSUITE


def verify_proof(
    document: Mapping[str, Any],
    proof: Mapping[str, Any],
    *,
    canonize: Canonizer = rdf.canonize,
    local_hash: bytes | None = None,
) -> MerkleProof2019Result:
    """Check ``proof`` (one of the document's proofs) against ``document``.

    Steps (jsonld-signatures-merkleproof2019 ``verifyProof``): decode the proof value;
    compute the local hash of the document as the proof covers it (without ``proof``, plus
    the proofs listed before this one, see :func:`target_hash`) and compare it with the
    target hash; walk the path to the merkle root. ``local_hash`` skips canonicalization
    when the caller already has it.
    """
    if not isinstance(proof, Mapping) or not _is_merkle_proof(proof):
        return MerkleProof2019Result(
            False, error=_malformed("not a merkle-proof-2019 proof", "proof")
        )
    value = proof.get("proofValue")
    try:
        receipt = decode_proof_value(value)  # type: ignore[arg-type]
    except ProofError as e:
        return MerkleProof2019Result(False, error=e)
    if local_hash is None:
        try:
            local_hash = target_hash(
                document, canonize=canonize, preceding=preceding_proofs(document, proof)
            )
        except MeritoError as e:
            return MerkleProof2019Result(
                False,
                receipt,
                error=ProofError(
                    f"the document cannot be canonicalized: {e.message}",
                    problem="PROOF_VERIFICATION_ERROR",
                    property=e.property,
                ),
            )
    if local_hash != receipt.target_hash:
        return MerkleProof2019Result(
            False,
            receipt,
            local_hash,
            ProofError(
                "the document's hash differs from the proof's targetHash: it was changed "
                "after it was anchored",
                property="targetHash",
            ),
        )
    if root_from_path(receipt.target_hash, receipt.path) != receipt.merkle_root:
        return MerkleProof2019Result(
            False,
            receipt,
            local_hash,
            ProofError("the proof's path does not lead to its merkleRoot", property="path"),
        )
    return MerkleProof2019Result(True, receipt, local_hash)
