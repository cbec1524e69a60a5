"""Bitstring Status List v1.0 codec: spec examples, 1EdTech fixtures, round trips and bombs."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.errors import InvalidInput
from merito.formats.status_list import (
    MIN_LIST_BITS,
    bitstring_status_list_credential,
    bitstring_status_list_entry,
    decode_status_list,
    encode_status_list,
    new_status_list,
    set_status,
    status_at,
)

FIXTURES = Path(__file__).parents[2] / "fixtures"
SPEC = FIXTURES / "bitstring-status-list"
VALIDATOR = FIXTURES / "ob3-examples" / "validator-ob30" / "bit-string-list"


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _set_bits(bits: bytes) -> list[int]:
    return [i for i in range(len(bits) * 8) if status_at(bits, i)]


@pytest.mark.parametrize(
    "name",
    [
        "example-03-Example-BitstringStatusListCredential.json",
        "example-05-A-Status-List-Verifiable-Credential.json",
    ],
)
def test_spec_example_lists_decode_to_16kb_of_zeros(name: str) -> None:
    encoded = _load(SPEC / name)["credentialSubject"]["encodedList"]
    bits = decode_status_list(encoded)
    assert len(bits) * 8 == MIN_LIST_BITS
    assert _set_bits(bits) == []


def test_spec_example_04_credential_is_not_revoked_in_example_05_list() -> None:
    # example-04's credentialStatus points at example-05's list (same URL), index 94567.
    credential = _load(SPEC / "example-04-A-Revocable-Verifiable-Credential.json")
    status_list = _load(SPEC / "example-05-A-Status-List-Verifiable-Credential.json")
    entry = credential["credentialStatus"]
    assert entry["statusListCredential"] == status_list["id"]
    bits = decode_status_list(status_list["credentialSubject"]["encodedList"])
    assert status_at(bits, int(entry["statusListIndex"])) == 0


def test_1edtech_testlist_has_exactly_index_23_set() -> None:
    testlist = _load(VALIDATOR / "testlist")
    bits = decode_status_list(testlist["credentialSubject"]["encodedList"])
    assert len(bits) == 16 * 1024
    assert _set_bits(bits) == [23]
    credential = _load(VALIDATOR / "credential-status-revoked.json")
    assert status_at(bits, credential["credentialStatus"]["statusListIndex"]) == 1


def test_encode_round_trips_and_uses_multibase_u_prefix() -> None:
    bits = new_status_list()
    set_status(bits, 0, 1)
    set_status(bits, 94567, 1)
    encoded = encode_status_list(bits)
    assert encoded.startswith("uH4sI")  # "u" + base64url of the GZIP magic 1f 8b 08
    assert "=" not in encoded
    decoded = decode_status_list(encoded)
    assert decoded == bytes(bits)
    assert _set_bits(decoded) == [0, 94567]


def test_encode_is_deterministic_and_pads_to_minimum() -> None:
    assert encode_status_list(b"\x80") == encode_status_list(b"\x80")
    decoded = decode_status_list(encode_status_list(b"\x80"))
    assert len(decoded) * 8 == MIN_LIST_BITS
    assert _set_bits(decoded) == [0]


def test_decodes_legacy_list_without_multibase_prefix() -> None:
    # StatusList2021 and early drafts: base64url of the GZIP data, no "u".
    raw = bytearray(16 * 1024)
    raw[0] = 0b0010_0000
    legacy = base64.urlsafe_b64encode(gzip.compress(bytes(raw))).rstrip(b"=").decode()
    assert legacy.startswith("H4sI")
    assert _set_bits(decode_status_list(legacy)) == [2]


def test_bit_order_index_zero_is_the_most_significant_bit() -> None:
    # §7.1: index 0 is the left-most bit.
    assert status_at(b"\x80\x00", 0) == 1
    assert status_at(b"\x80\x00", 7) == 0
    assert status_at(b"\x01\x00", 7) == 1
    assert status_at(b"\x00\x01", 15) == 1


def test_multi_bit_statuses() -> None:
    bits = bytearray(4)
    set_status(bits, 3, 0b10, status_size=2)
    assert status_at(bits, 3, 2) == 0b10
    assert status_at(bits, 2, 2) == 0
    assert bits[0] == 0b0000_0010
    set_status(bits, 3, 0b01, status_size=2)
    assert status_at(bits, 3, 2) == 0b01


def test_out_of_range_index_is_refused() -> None:
    with pytest.raises(InvalidInput, match="outside the status list"):
        status_at(b"\x00", 8)
    with pytest.raises(InvalidInput, match="statusListIndex"):
        status_at(b"\x00", -1)
    with pytest.raises(InvalidInput, match="statusSize"):
        status_at(b"\x00", 0, 0)


def test_decompression_bomb_is_refused_without_inflating_it() -> None:
    bomb = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(64 * 1024 * 1024))).rstrip(
        b"="
    ).decode("ascii")
    assert len(bomb) < 100_000
    with pytest.raises(InvalidInput, match="decompression bomb"):
        decode_status_list(bomb)
    with pytest.raises(InvalidInput, match="decompression bomb"):
        decode_status_list(encode_status_list(bytes(32 * 1024)), max_bytes=16 * 1024)


@pytest.mark.parametrize(
    ("encoded", "match"),
    [
        ("", "non-empty"),
        ("u", "base64url"),
        ("u!!!!", "base64url"),
        ("uAAAA", "not GZIP"),
        ("uH4sIAAAAAAAAAA", "GZIP"),  # a GZIP header with nothing after it
        ("zH4sI", "base64url"),
    ],
)
def test_garbage_encoded_lists_raise_invalid_input(encoded: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        decode_status_list(encoded)


def test_truncated_gzip_is_refused() -> None:
    whole = gzip.compress(bytes(16 * 1024))
    truncated = "u" + base64.urlsafe_b64encode(whole[: len(whole) // 2]).rstrip(b"=").decode()
    with pytest.raises(InvalidInput, match="GZIP"):
        decode_status_list(truncated)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=MIN_LIST_BITS - 1), max_size=40))
def test_round_trip_keeps_exactly_the_set_indexes(indexes: list[int]) -> None:
    bits = new_status_list()
    for index in indexes:
        set_status(bits, index, 1)
    decoded = decode_status_list(encode_status_list(bits))
    assert _set_bits(decoded) == sorted(set(indexes))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_decode_raises_only_invalid_input(text: str) -> None:
    with contextlib.suppress(InvalidInput):
        decode_status_list(text)


def test_builders_make_spec_shaped_documents() -> None:
    encoded = encode_status_list(new_status_list())
    credential = bitstring_status_list_credential(
        id="https://example.com/credentials/status/3",
        issuer="did:example:12345",
        encoded_list=encoded,
        valid_from="2021-04-05T14:27:40Z",
    )
    spec = _load(SPEC / "example-03-Example-BitstringStatusListCredential.json")
    assert list(credential) == [
        "@context",
        "id",
        "type",
        "issuer",
        "validFrom",
        "credentialSubject",
    ]
    for key in ("@context", "id", "type", "issuer", "validFrom"):
        assert credential[key] == spec[key]
    subject = credential["credentialSubject"]
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "revocation"
    assert decode_status_list(subject["encodedList"]) == decode_status_list(
        spec["credentialSubject"]["encodedList"]
    )

    entry = bitstring_status_list_entry(
        status_list_credential="https://example.com/credentials/status/3", index=94567
    )
    example = _load(SPEC / "example-04-A-Revocable-Verifiable-Credential.json")
    assert entry == example["credentialStatus"]
    with pytest.raises(InvalidInput):
        bitstring_status_list_entry(status_list_credential="https://x.example/1", index=-1)
