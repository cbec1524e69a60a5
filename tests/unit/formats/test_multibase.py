"""Multibase / base58btc / base64url / multicodec varints (merito.formats.multibase)."""

from __future__ import annotations

import base64

import base58
import pytest
from hypothesis import given
from hypothesis import strategies as st

from merito.errors import InvalidInput
from merito.formats.multibase import (
    ED25519_PUB,
    P256_PUB,
    b58decode,
    b58encode,
    b64url_decode,
    b64url_encode,
    decode_multibase,
    decode_multikey,
    encode_multibase,
    encode_multikey,
    varint_decode,
    varint_encode,
)


@given(st.binary(max_size=128))
def test_base58_matches_the_reference_package(data: bytes) -> None:
    encoded = b58encode(data)
    assert encoded == base58.b58encode(data).decode()
    assert b58decode(encoded) == data


@pytest.mark.parametrize(
    ("data", "text"),
    [(b"", ""), (b"\0", "1"), (b"\0\0\x01", "112"), (b"hello world", "StV1DL6CwTryKyV")],
)
def test_base58_known_values(data: bytes, text: str) -> None:
    assert b58encode(data) == text
    assert b58decode(text) == data


@pytest.mark.parametrize("bad", ["0", "O", "I", "l", "abc+", "zz z"])
def test_base58_rejects_characters_outside_the_alphabet(bad: str) -> None:
    with pytest.raises(InvalidInput, match="base58btc"):
        b58decode(bad)


@given(st.binary(max_size=128))
def test_base64url_round_trip_without_padding(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert b64url_decode(text) == data


@pytest.mark.parametrize("bad", ["a+b", "a/b", "ab==", "a", "é", "ab c"])
def test_base64url_is_strict(bad: str) -> None:
    with pytest.raises(InvalidInput):
        b64url_decode(bad)


@given(st.binary(max_size=64), st.sampled_from(["z", "u"]))
def test_multibase_round_trip(data: bytes, base: str) -> None:
    text = encode_multibase(data, base=base)
    assert text[0] == base
    assert decode_multibase(text) == data


@pytest.mark.parametrize("bad", ["", "f00", "m", "Qabc"])
def test_multibase_rejects_unknown_prefixes(bad: str) -> None:
    with pytest.raises(InvalidInput):
        decode_multibase(bad)


def test_multibase_refuses_unknown_encoding_on_encode() -> None:
    with pytest.raises(InvalidInput):
        encode_multibase(b"x", base="f")


@given(st.integers(min_value=0, max_value=2**62))
def test_varint_round_trip(value: int) -> None:
    encoded = varint_encode(value)
    assert varint_decode(encoded + b"\xff") == (value, len(encoded))


def test_varint_known_prefixes() -> None:
    assert varint_encode(ED25519_PUB) == b"\xed\x01"
    assert varint_encode(P256_PUB) == b"\x80\x24"
    assert varint_encode(0x1300) == b"\x80\x26"


@pytest.mark.parametrize("bad", [b"", b"\x80", b"\xff" * 10])
def test_varint_rejects_truncated_or_overlong(bad: bytes) -> None:
    with pytest.raises(InvalidInput):
        varint_decode(bad)


def test_negative_varint_is_refused() -> None:
    with pytest.raises(InvalidInput):
        varint_encode(-1)


def test_multikey_ed25519_prefix_is_z6mk() -> None:
    text = encode_multikey(ED25519_PUB, bytes(32))
    assert text.startswith("z6Mk")
    assert decode_multikey(text) == (ED25519_PUB, bytes(32))
    assert encode_multikey(P256_PUB, b"\x02" + bytes(32)).startswith("zDn")
