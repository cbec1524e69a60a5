"""Signed Tree Heads: a log key's Ed25519 signature over (log, time, size, root) (pure).

The signed bytes (``tree_head_bytes``) are a fixed binary layout in the spirit of RFC 6962
§3.5 ``TreeHeadSignature`` and RFC 9162 §4.10 ``TreeHeadDataV2``; every integer is
big-endian:

    context     15 bytes   b"merito-sth-v1\\x00\\x00" (domain separation: the log key signs
                           nothing else with this prefix)
    log_id       1 byte    length L (1..255), then L bytes of the log id in UTF-8
    timestamp    8 bytes   uint64, milliseconds since the Unix epoch (as RFC 6962)
    tree_size    8 bytes   uint64
    root_hash   32 bytes   the RFC 9162 Merkle Tree Hash of the first tree_size leaves

Binding the log id means a head of one log cannot be replayed as a head of another that
happens to share the key. The JSON form follows Certificate Transparency's ``get-sth``
response (RFC 6962 §4.3: base64 ``sha256_root_hash`` and ``tree_head_signature``).
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from merito.errors import InvalidInput, InvalidKey
from merito.ledger.merkle import HASH_SIZE
from merito.proofs.keys import PrivateKey, PublicKey, Signer

__all__ = [
    "STH_CONTEXT",
    "SignedTreeHead",
    "sign_tree_head",
    "timestamp_ms",
    "tree_head_bytes",
    "verify_tree_head",
]

STH_CONTEXT: Final = b"merito-sth-v1\x00\x00"
_UINT64_MAX: Final = 2**64 - 1
_SIGNATURE_SIZE: Final = 64
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch of a timezone-aware instant."""
    if moment.tzinfo is None:
        raise InvalidInput("timestamp must be timezone-aware", property="timestamp")
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _check_fields(log_id: str, timestamp: int, tree_size: int, root_hash: bytes) -> bytes:
    encoded = log_id.encode("utf-8")
    if not 1 <= len(encoded) <= 255:
        raise InvalidInput("log_id must be 1 to 255 bytes of UTF-8", property="log_id")
    if not 0 <= timestamp <= _UINT64_MAX:
        raise InvalidInput("timestamp must fit an unsigned 64-bit integer", property="timestamp")
    if not 0 <= tree_size <= _UINT64_MAX:
        raise InvalidInput("tree_size must fit an unsigned 64-bit integer", property="tree_size")
    if len(root_hash) != HASH_SIZE:
        raise InvalidInput(f"root_hash must be {HASH_SIZE} bytes", property="root_hash")
    return encoded


def tree_head_bytes(*, log_id: str, timestamp: int, tree_size: int, root_hash: bytes) -> bytes:
    """The exact bytes a Signed Tree Head's signature covers (layout in the module docstring)."""
    encoded = _check_fields(log_id, timestamp, tree_size, root_hash)
    return b"".join(
        (
            STH_CONTEXT,
            bytes((len(encoded),)),
            encoded,
            struct.pack(">QQ", timestamp, tree_size),
            root_hash,
        )
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedTreeHead:
    """A log's signed statement: "my first ``tree_size`` leaves hash to ``root_hash``"."""

    log_id: str
    tree_size: int
    timestamp: int
    root_hash: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_fields(self.log_id, self.timestamp, self.tree_size, self.root_hash)
        if len(self.signature) != _SIGNATURE_SIZE:
            raise InvalidInput(
                f"tree_head_signature must be a {_SIGNATURE_SIZE}-byte Ed25519 signature",
                property="tree_head_signature",
            )

    @property
    def signed_bytes(self) -> bytes:
        return tree_head_bytes(
            log_id=self.log_id,
            timestamp=self.timestamp,
            tree_size=self.tree_size,
            root_hash=self.root_hash,
        )

    @property
    def issued_at(self) -> datetime:
        """``timestamp`` as an aware datetime (UTC)."""
        return _EPOCH + timedelta(milliseconds=self.timestamp)

    def to_json(self) -> dict[str, Any]:
        """RFC 6962 §4.3 ``get-sth`` members, plus ``log_id``."""
        return {
            "log_id": self.log_id,
            "tree_size": self.tree_size,
            "timestamp": self.timestamp,
            "sha256_root_hash": base64.b64encode(self.root_hash).decode("ascii"),
            "tree_head_signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> SignedTreeHead:
        """Parse :meth:`to_json` output; InvalidInput names the offending member."""
        if not isinstance(document, Mapping):
            raise InvalidInput("a signed tree head must be a JSON object", property="sth")
        log_id = document.get("log_id")
        if not isinstance(log_id, str):
            raise InvalidInput("log_id must be a string", property="log_id")
        numbers: dict[str, int] = {}
        for name in ("tree_size", "timestamp"):
            value = document.get(name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput(f"{name} must be an integer", property=name)
            numbers[name] = value
        return cls(
            log_id=log_id,
            tree_size=numbers["tree_size"],
            timestamp=numbers["timestamp"],
            root_hash=_b64(document, "sha256_root_hash"),
            signature=_b64(document, "tree_head_signature"),
        )


def _b64(document: Mapping[str, Any], name: str) -> bytes:
    value = document.get(name)
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a base64 string", property=name)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{name} is not valid base64", property=name) from None


def sign_tree_head(
    *, log_id: str, tree_size: int, timestamp: int, root_hash: bytes, key: PrivateKey | Signer
) -> SignedTreeHead:
    """Sign a tree head with the log's Ed25519 key (a ``merito.proofs.keys`` key or Signer)."""
    if isinstance(key, Signer):
        key = key.key
    if key.algorithm != "EdDSA":
        raise InvalidKey(
            f"a log key must be Ed25519 (EdDSA), got {key.algorithm}", property="log_key"
        )
    message = tree_head_bytes(
        log_id=log_id, timestamp=timestamp, tree_size=tree_size, root_hash=root_hash
    )
    return SignedTreeHead(
        log_id=log_id,
        tree_size=tree_size,
        timestamp=timestamp,
        root_hash=root_hash,
        signature=key.sign(message),
    )


def verify_tree_head(head: SignedTreeHead, public_key: PublicKey) -> bool:
    """True when ``head`` carries a valid signature by the log key ``public_key``."""
    return public_key.algorithm == "EdDSA" and public_key.verify(head.signed_bytes, head.signature)
