"""Bitstring Status List v1.0 codec and documents: encode, decode, read an entry, build the VCs.

Spec: W3C Bitstring Status List v1.0 (Recommendation, 2025), https://www.w3.org/TR/vc-bitstring-status-list/.

- §2.2 ``encodedList``: the GZIP-compressed [RFC 1952] bitstring, as Multibase base64url with
  no padding (prefix ``u``). Drafts and StatusList2021 used plain base64url with no prefix:
  :func:`decode_status_list` accepts both, :func:`encode_status_list` writes the ``u`` form.
- §2.2 / §3.2 step 2: the uncompressed bitstring MUST be at least 16 KB (131,072 entries of
  one bit); :func:`encode_status_list` pads up to that size, the verifier checks it.
- §7.1 bit order: index 0 is the left-most (most significant) bit of the first byte.

Decompression is bounded (``max_bytes``, 16 MB by default): a small ``encodedList`` that
inflates to gigabytes (a decompression bomb) is refused with InvalidInput, never expanded.
Everything here is pure and raises only ``merito.errors.InvalidInput``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Sequence
from typing import Any, Final

from merito.errors import InvalidInput

__all__ = [
    "BITSTRING_STATUS_LIST_CREDENTIAL",
    "BITSTRING_STATUS_LIST_ENTRY",
    "MAX_DECODED_BYTES",
    "MIN_LIST_BITS",
    "STATUS_PURPOSES",
    "bitstring_status_list_credential",
    "bitstring_status_list_entry",
    "decode_status_list",
    "encode_status_list",
    "new_status_list",
    "set_status",
    "status_at",
]

#: §3.2 step 2: minimumNumberOfEntries (one-bit entries), i.e. 16 KB.
MIN_LIST_BITS: Final = 131_072
#: Upper bound on an expanded bitstring; a bigger one is treated as a decompression bomb.
MAX_DECODED_BYTES: Final = 16 * 1024 * 1024
#: §2.1 statusPurpose values with a defined meaning.
STATUS_PURPOSES: Final = ("refresh", "revocation", "suspension", "message")

BITSTRING_STATUS_LIST_ENTRY: Final = "BitstringStatusListEntry"
BITSTRING_STATUS_LIST_CREDENTIAL: Final = "BitstringStatusListCredential"
_VC_V2_CONTEXT: Final = "https://www.w3.org/ns/credentials/v2"
_B64URL_ALPHABET: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


def new_status_list(entries: int = MIN_LIST_BITS, *, status_size: int = 1) -> bytearray:
    """A zeroed bitstring for ``entries`` statuses of ``status_size`` bits, at least 16 KB."""
    if entries < 0 or status_size < 1:
        raise InvalidInput("entries must be >= 0 and status_size >= 1", property="statusSize")
    bits = max(entries * status_size, MIN_LIST_BITS)
    return bytearray((bits + 7) // 8)


def encode_status_list(bits: bytes | bytearray, *, min_bits: int = MIN_LIST_BITS) -> str:
    """§3.3 Bitstring Generation: GZIP the bitstring, then Multibase base64url (``u``).

    A bitstring shorter than ``min_bits`` is zero-padded on the right first, so the published
    list always meets the §2.2 minimum. ``mtime=0`` keeps the output deterministic.
    """
    if not isinstance(bits, bytes | bytearray):
        raise InvalidInput("a status list bitstring must be bytes", property="encodedList")
    data = bytes(bits)
    min_bytes = (min_bits + 7) // 8
    if len(data) < min_bytes:
        data += bytes(min_bytes - len(data))
    compressed = gzip.compress(data, compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_status_list(encoded: str, *, max_bytes: int = MAX_DECODED_BYTES) -> bytes:
    """§3.4 Bitstring Expansion: Multibase base64url (or legacy bare base64url) -> GUNZIP.

    Raises InvalidInput (naming ``encodedList``) for text that is not base64url, data that is
    not GZIP, or a bitstring that would expand beyond ``max_bytes``.
    """
    if not isinstance(encoded, str) or not encoded:
        raise InvalidInput("encodedList must be a non-empty string", property="encodedList")
    # A GZIP stream starts with 1f 8b, which base64url-encodes to "H4s": a leading "u" is the
    # Multibase prefix, a leading "H" is a draft-era list without one.
    body = encoded[1:] if encoded[0] == "u" else encoded
    if not body or not set(body) <= _B64URL_ALPHABET:
        raise InvalidInput(
            "encodedList is not Multibase base64url text "
            "(expected 'u' followed by A-Z a-z 0-9 - _)",
            property="encodedList",
        )
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError) as e:
        raise InvalidInput(
            f"encodedList is not valid base64url: {e}", property="encodedList"
        ) from None
    return _gunzip_bounded(compressed, max_bytes=max_bytes)


def _gunzip_bounded(data: bytes, *, max_bytes: int) -> bytes:
    if data[:2] != b"\x1f\x8b":
        raise InvalidInput("encodedList is not GZIP-compressed (RFC 1952)", property="encodedList")
    # wbits=31: a GZIP wrapper only. max_length bounds each step, so a bomb never inflates
    # more than ``max_bytes + 1`` bytes before it is refused.
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as e:
        raise InvalidInput(
            f"encodedList is not valid GZIP data: {e}", property="encodedList"
        ) from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise InvalidInput(
            f"encodedList expands to more than {max_bytes} bytes; refused as a decompression bomb",
            property="encodedList",
        )
    if not inflater.eof:
        raise InvalidInput("encodedList GZIP data is truncated", property="encodedList")
    return out


def status_at(bits: bytes | bytearray, index: int, status_size: int = 1) -> int:
    """The ``status_size``-bit status value of entry ``index`` (§3.2 step 10, §7.1 bit order).

    Raises InvalidInput for a negative index, a status size below 1, or an entry past the end
    of the bitstring (the spec's RANGE_ERROR).
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidInput("statusListIndex must be an integer >= 0", property="statusListIndex")
    if isinstance(status_size, bool) or not isinstance(status_size, int) or status_size < 1:
        raise InvalidInput("statusSize must be an integer >= 1", property="statusSize")
    start = index * status_size
    end = start + status_size
    if end > len(bits) * 8:
        raise InvalidInput(
            f"statusListIndex {index} is outside the status list "
            f"({len(bits) * 8 // status_size} entries)",
            property="statusListIndex",
        )
    if status_size == 1:
        return (bits[start >> 3] >> (7 - (start & 7))) & 1
    value = 0
    for position in range(start, end):
        value = (value << 1) | ((bits[position >> 3] >> (7 - (position & 7))) & 1)
    return value


def set_status(bits: bytearray, index: int, value: int, *, status_size: int = 1) -> None:
    """Write ``value`` into entry ``index`` (inverse of :func:`status_at`), in place."""
    if value < 0 or value >= 1 << status_size:
        raise InvalidInput(f"status value {value} does not fit in {status_size} bit(s)")
    status_at(bits, index, status_size)  # bounds and argument checks
    start = index * status_size
    for offset in range(status_size):
        position = start + offset
        mask = 1 << (7 - (position & 7))
        if (value >> (status_size - 1 - offset)) & 1:
            bits[position >> 3] |= mask
        else:
            bits[position >> 3] &= ~mask & 0xFF


def bitstring_status_list_credential(
    *,
    id: str,
    issuer: str,
    encoded_list: str,
    status_purpose: str | Sequence[str] = "revocation",
    valid_from: str | None = None,
    valid_until: str | None = None,
    status_size: int | None = None,
    status_messages: Sequence[dict[str, str]] | None = None,
    ttl: int | None = None,
) -> dict[str, Any]:
    """An unsigned BitstringStatusListCredential (§2.2), ready for a proof."""
    purpose: str | list[str] = (
        status_purpose if isinstance(status_purpose, str) else list(status_purpose)
    )
    subject: dict[str, Any] = {
        "id": f"{id}#list",
        "type": "BitstringStatusList",
        "statusPurpose": purpose,
        "encodedList": encoded_list,
    }
    if status_size is not None:
        subject["statusSize"] = status_size
    if status_messages is not None:
        subject["statusMessages"] = [dict(m) for m in status_messages]
    if ttl is not None:
        subject["ttl"] = ttl
    credential: dict[str, Any] = {
        "@context": [_VC_V2_CONTEXT],
        "id": id,
        "type": ["VerifiableCredential", BITSTRING_STATUS_LIST_CREDENTIAL],
        "issuer": issuer,
    }
    if valid_from is not None:
        credential["validFrom"] = valid_from
    if valid_until is not None:
        credential["validUntil"] = valid_until
    credential["credentialSubject"] = subject
    return credential


def bitstring_status_list_entry(
    *,
    status_list_credential: str,
    index: int,
    status_purpose: str = "revocation",
    status_size: int | None = None,
    status_messages: Sequence[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """A BitstringStatusListEntry (§2.1) for a credential's ``credentialStatus``.

    ``statusListIndex`` is written as a base-10 string, as §2.1 requires.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidInput("statusListIndex must be an integer >= 0", property="statusListIndex")
    entry: dict[str, Any] = {
        "id": f"{status_list_credential}#{index}",
        "type": BITSTRING_STATUS_LIST_ENTRY,
        "statusPurpose": status_purpose,
        "statusListIndex": str(index),
        "statusListCredential": status_list_credential,
    }
    if status_size is not None:
        entry["statusSize"] = status_size
    if status_messages is not None:
        entry["statusMessage"] = [dict(m) for m in status_messages]
    return entry
