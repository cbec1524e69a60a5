"""Baking credentials into PNG/SVG badges and extracting them (OB 3.0 §5.3, OB 2.0 Baking)."""

from __future__ import annotations

import base64
import contextlib
import json
import struct
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.errors import InvalidInput
from merito.formats.baking import ExtractedCredential, bake_png, bake_svg, extract
from merito.formats.images import generate_badge_svg, inspect_image, read_png_chunks

OB3 = Path(__file__).parents[2] / "fixtures" / "ob3-examples" / "validator-ob30"
OB2 = Path(__file__).parents[2] / "fixtures" / "ob2-examples" / "validator-ob20"
SVG = "http://www.w3.org/2000/svg"
OB3_NS = "https://purl.imsglobal.org/ob/v3p0"

CREDENTIAL: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "name": "Teamwork — équipe ]]> <b>",
}
CREDENTIAL_TEXT = json.dumps(CREDENTIAL, ensure_ascii=False, separators=(",", ":"))
JWT = "eyJhbGciOiJFZERTQSJ9.eyJuYW1lIjoiVGVhbXdvcmsifQ.c2lnbmF0dXJl"


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_png(*extra: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\0" * 18)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + b"".join(extra)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def itxt(keyword: bytes, text: bytes, *, compressed: bool = False) -> bytes:
    body = zlib.compress(text) if compressed else text
    return chunk(b"iTXt", keyword + b"\0" + (b"\1" if compressed else b"\0") + b"\0\0\0" + body)


def jwt_payload(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


# --------------------------------------------------------------------------------- fixtures


def test_extract_ob3_json_png_fixture() -> None:
    # simple-json.png: iTXt "openbadgecredential" holding the credential JSON
    found = extract((OB3 / "simple-json.png").read_bytes())
    assert found.kind == "ob3-json"
    credential = json.loads(found.payload)
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["name"] == "Teamwork Badge"


def test_extract_ob3_json_svg_fixture() -> None:
    # simple-json.svg: <openbadges:credential> with a CDATA section
    found = extract((OB3 / "simple-json.svg").read_bytes())
    assert found.kind == "ob3-json"
    assert json.loads(found.payload)["id"] == "http://example.com/credentials/3527"


@pytest.mark.parametrize("name", ["simple-jwt.png", "simple-jwt.svg"])
def test_extract_ob3_jwt_fixtures(name: str) -> None:
    found = extract((OB3 / name).read_bytes())
    assert found.kind == "ob3-jwt"
    assert found.payload.count(".") == 2
    assert jwt_payload(found.payload)["name"] == "Teamwork Badge"


@pytest.mark.parametrize("name", ["simple-jwt_v1.png", "simple-jwt_v1.svg"])
def test_extract_ob3_v1_jwt_fixtures(name: str) -> None:
    found = extract((OB3 / name).read_bytes())
    assert found.kind == "ob3-jwt"
    assert jwt_payload(found.payload)["vc"]["name"] == "Example University Degree"


def test_png_and_svg_fixtures_carry_the_same_jwt() -> None:
    png = extract((OB3 / "simple-jwt.png").read_bytes()).payload
    svg = extract((OB3 / "simple-jwt.svg").read_bytes()).payload
    assert jwt_payload(png)["credentialSubject"] == jwt_payload(svg)["credentialSubject"]


def test_extract_ob2_png_fixture() -> None:
    # simple-badge.png: OB 2.0 iTXt "openbadges" holding the assertion JSON
    found = extract((OB2 / "simple-badge.png").read_bytes())
    assert found.kind == "ob2-assertion"
    assertion = json.loads(found.payload)
    assert assertion["type"] == "Assertion"
    assert assertion["@context"] == "https://w3id.org/openbadges/v2"


# ------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize(
    ("credential", "expected"),
    [
        (CREDENTIAL, ExtractedCredential("ob3-json", CREDENTIAL_TEXT)),
        (JWT, ExtractedCredential("ob3-jwt", JWT)),
        (f"  {JWT}\n", ExtractedCredential("ob3-jwt", JWT)),
    ],
)
def test_png_round_trip(credential: Any, expected: ExtractedCredential) -> None:
    baked = bake_png(make_png(), credential)
    assert extract(baked) == expected
    assert inspect_image(baked).media_type == "image/png"


@pytest.mark.parametrize("credential", [CREDENTIAL, JWT])
def test_svg_round_trip(credential: Any) -> None:
    baked = bake_svg(generate_badge_svg(name="Teamwork", seed="s"), credential)
    found = extract(baked)
    if credential is JWT:
        assert found == ExtractedCredential("ob3-jwt", JWT)
    else:
        assert found.kind == "ob3-json"
        assert json.loads(found.payload) == CREDENTIAL
    assert inspect_image(baked).media_type == "image/svg+xml"


def test_baked_png_chunk_follows_ob3_layout() -> None:
    original = make_png()
    baked = bake_png(original, JWT)
    chunks = read_png_chunks(baked)  # verifies every CRC
    for c in chunks:
        raw = baked[c.offset : c.end]
        assert struct.unpack(">I", raw[-4:])[0] == zlib.crc32(raw[4:-4])
    assert [c.type for c in chunks] == [b"IHDR", b"iTXt", b"IDAT", b"IEND"]
    assert chunks[1].data == b"openbadgecredential\0\0\0\0\0" + JWT.encode()
    # every original chunk is kept byte for byte
    assert baked.replace(baked[chunks[1].offset : chunks[1].end], b"") == original


def test_baking_a_png_twice_replaces_the_credential() -> None:
    once = bake_png(make_png(), CREDENTIAL)
    twice = bake_png(once, JWT)
    assert extract(twice) == ExtractedCredential("ob3-jwt", JWT)
    keywords = [c.data.split(b"\0")[0] for c in read_png_chunks(twice) if c.type == b"iTXt"]
    assert keywords == [b"openbadgecredential"]
    assert bake_png(twice, JWT) == twice


def test_baking_replaces_an_ob2_badge_and_keeps_other_chunks() -> None:
    fixture = (OB2 / "simple-badge.png").read_bytes()
    baked = bake_png(fixture, CREDENTIAL)
    assert extract(baked).kind == "ob3-json"
    types = [c.type for c in read_png_chunks(baked)]
    assert types == [b"IHDR", b"iTXt", b"bKGD", b"pHYs", b"IDAT", b"IEND"]


def test_rebaking_a_spec_fixture_png() -> None:
    fixture = (OB3 / "simple-json.png").read_bytes()
    baked = bake_png(fixture, JWT)
    assert extract(baked) == ExtractedCredential("ob3-jwt", JWT)
    assert len([c for c in read_png_chunks(baked) if c.type == b"iTXt"]) == 1


def test_baked_svg_puts_the_credential_first_and_binds_the_namespace() -> None:
    plain = f'<svg xmlns="{SVG}" viewBox="0 0 4 4"><rect width="4" height="4"/></svg>'.encode()
    baked = bake_svg(plain, JWT)
    root = ElementTree.fromstring(baked)
    first = root[0]
    assert first.tag == f"{{{OB3_NS}}}credential"
    assert first.get("verify") == JWT
    assert b'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in baked
    assert baked.endswith(b'<rect width="4" height="4"/></svg>')


def test_baked_svg_json_uses_cdata() -> None:
    baked = bake_svg(generate_badge_svg(name="T", seed="s"), {"a": "]]>"})
    assert b'<openbadges:credential><![CDATA[{"a":"]]]]><![CDATA[>"}]]>' in baked
    assert extract(baked).payload == '{"a":"]]>"}'


def test_baking_an_svg_twice_replaces_and_is_stable() -> None:
    svg = generate_badge_svg(name="Teamwork", seed="s")
    once = bake_svg(svg, CREDENTIAL)
    twice = bake_svg(bake_svg(once, JWT), CREDENTIAL)
    assert twice == once
    assert once.count(b"<openbadges:credential") == 1


def test_rebaking_a_spec_fixture_svg_keeps_its_artwork() -> None:
    fixture = (OB3 / "simple-jwt.svg").read_bytes()
    baked = bake_svg(fixture, CREDENTIAL)
    assert baked.count(b"openbadges:credential") == 2  # start and end tag of the new one
    assert json.loads(extract(baked).payload) == CREDENTIAL
    tail = fixture[fixture.index(b"<g>") :]
    assert baked.endswith(tail)


def test_baking_an_ob2_svg_rebinds_the_prefix() -> None:
    ob2 = (
        f'<svg xmlns="{SVG}" xmlns:openbadges="http://openbadges.org">'
        '<openbadges:assertion verify="https://example.org/a.json"/><rect/></svg>'
    ).encode()
    baked = bake_svg(ob2, JWT)
    assert b"http://openbadges.org" not in baked
    assert b"openbadges:assertion" not in baked
    assert extract(baked) == ExtractedCredential("ob3-jwt", JWT)


def test_baking_a_self_closing_svg() -> None:
    baked = bake_svg(f'<svg xmlns="{SVG}" viewBox="0 0 1 1" />'.encode(), JWT)
    assert baked.endswith(b"</svg>")
    assert extract(baked).payload == JWT


@pytest.mark.parametrize("bad", ["not a credential", "[1, 2]", "a.b", "{broken"])
def test_baking_refuses_what_is_neither_json_object_nor_jws(bad: str) -> None:
    with pytest.raises(InvalidInput, match="JSON object or a compact JWS"):
        bake_png(make_png(), bad)
    with pytest.raises(InvalidInput, match="JSON object or a compact JWS"):
        bake_svg(generate_badge_svg(name="T", seed="s"), bad)


def test_characters_xml_cannot_carry_are_escaped_in_json() -> None:
    credential = {"name": "lone \ud800 surrogate and \uffff"}
    for baked in (
        bake_png(make_png(), credential),
        bake_svg(generate_badge_svg(name="T", seed="s"), credential),
    ):
        payload = extract(baked).payload
        assert "\\ud800" in payload
        assert "\\uffff" in payload
        assert json.loads(payload) == credential


def test_baking_refuses_non_utf8_svg() -> None:
    latin = f'<?xml version="1.0" encoding="ISO-8859-1"?><svg xmlns="{SVG}"/>'.encode()
    with pytest.raises(InvalidInput, match="only UTF-8 SVG"):
        bake_svg(latin, JWT)


def test_baking_into_a_damaged_png_is_refused() -> None:
    png = bytearray(make_png())
    png[20] ^= 1
    with pytest.raises(InvalidInput, match="bad CRC"):
        bake_png(bytes(png), JWT)


# ------------------------------------------------------------------------- other encodings


def test_extract_ob2_variants() -> None:
    def ob2_svg(inner: str) -> bytes:
        return f'<svg xmlns="{SVG}" xmlns:openbadges="http://openbadges.org">{inner}</svg>'.encode()

    hosted = ob2_svg(
        '<openbadges:assertion verify="https://example.org/a.json">'
        '<![CDATA[{"type": "Assertion"}]]></openbadges:assertion>'
    )
    assert extract(hosted) == ExtractedCredential("ob2-assertion", '{"type": "Assertion"}')
    url = ob2_svg('<openbadges:assertion verify="https://example.org/a.json"/>')
    assert extract(url) == ExtractedCredential("ob2-url", "https://example.org/a.json")
    signed = ob2_svg(f'<openbadges:assertion verify="{JWT}"/>')
    assert extract(signed) == ExtractedCredential("ob2-jws", JWT)
    legacy = make_png(chunk(b"tEXt", b"openbadges\0https://example.org/assertion/1"))
    assert extract(legacy) == ExtractedCredential("ob2-url", "https://example.org/assertion/1")


def test_ob3_chunk_wins_over_ob2_and_the_first_one_counts() -> None:
    png = make_png(
        itxt(b"openbadges", b"https://example.org/old"),
        itxt(b"openbadgecredential", JWT.encode()),
        itxt(b"openbadgecredential", b'{"second": true}'),
    )
    assert extract(png) == ExtractedCredential("ob3-jwt", JWT)


def test_compressed_itxt_is_read() -> None:
    png = make_png(itxt(b"openbadgecredential", json.dumps(CREDENTIAL).encode(), compressed=True))
    assert json.loads(extract(png).payload) == CREDENTIAL


def test_images_without_a_badge() -> None:
    for data in (make_png(), generate_badge_svg(name="T", seed="s")):
        with pytest.raises(InvalidInput, match="this image has no baked badge"):
            extract(data)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (make_png(itxt(b"openbadgecredential", b"{not json")), "not valid JSON"),
        (make_png(itxt(b"openbadgecredential", b"https://x.example/a")), "neither JSON"),
        (make_png(itxt(b"openbadgecredential", b"\xff\xfe")), "not valid utf-8"),
        (make_png(chunk(b"iTXt", b"openbadgecredential\0\0")), "iTXt chunk is truncated"),
        (
            make_png(chunk(b"iTXt", b"openbadgecredential\0\1\0\0\0not zlib")),
            "compressed PNG text is corrupt",
        ),
        (make_png(chunk(b"iTXt", b"openbadges\0\1\7\0\0x")), "unknown compression"),
        (b"GIF89a", "neither PNG nor SVG"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 10, "truncated"),
    ],
)
def test_extract_refuses_bad_payloads(data: bytes, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        extract(data)


# --------------------------------------------------------------------------------- hostile


def _zlib_bomb(megabytes: int) -> bytes:
    """``megabytes`` MB of zeros, deflated while streaming (never held uncompressed)."""
    deflater = zlib.compressobj(9)
    zeros = bytes(1 << 20)
    parts = [deflater.compress(zeros) for _ in range(megabytes)]
    parts.append(deflater.flush())
    return b"".join(parts)


def test_zlib_bomb_in_a_compressed_itxt_is_refused_with_little_memory() -> None:
    bomb = _zlib_bomb(256)  # 256 MB of zeros in about 250 KB
    png = make_png(chunk(b"iTXt", b"openbadgecredential\0\1\0\0\0" + bomb))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InvalidInput, match="expands beyond 2,000,000 bytes"):
            extract(png)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 10_000_000  # the cap is 2 MB; 256 MB was never inflated


def test_payload_cap_is_configurable() -> None:
    png = make_png(itxt(b"openbadgecredential", b'{"a": "' + b"x" * 5000 + b'"}', compressed=True))
    with pytest.raises(InvalidInput, match="expands beyond 1,000 bytes"):
        extract(png, max_payload_bytes=1000)
    assert extract(png).kind == "ob3-json"


def test_oversized_image_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidInput, match="the limit is 100"):
        extract(make_png() + b"\0" * 100, max_bytes=100)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
    )
    + b"]>"
    + f'<svg xmlns="{SVG}" xmlns:openbadges="{OB3_NS}">'.encode()
    + b"<openbadges:credential>&j;</openbadges:credential></svg>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + f'<svg xmlns="{SVG}" xmlns:openbadges="{OB3_NS}">'.encode()
    + b"<openbadges:credential>&x;</openbadges:credential></svg>"
)


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE])
@pytest.mark.parametrize("operation", ["extract", "bake"])
def test_entity_attacks_on_svg_are_refused_quickly(data: bytes, operation: str) -> None:
    def run() -> object:
        return extract(data) if operation == "extract" else bake_svg(data, JWT)

    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InvalidInput, match="declares an XML entity") as info:
            run()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 0.5
    assert peak < 5_000_000
    assert "root:" not in info.value.message


# ------------------------------------------------------------------------------ hypothesis


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_invalid_input(data: bytes) -> None:
    for candidate in (data, make_png()[:33] + data, b"<svg " + data, b"<" + data):
        with contextlib.suppress(InvalidInput):
            extract(candidate)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(), JSON_VALUES, min_size=1, max_size=5))
def test_any_json_credential_round_trips_through_png_and_svg(credential: dict[str, Any]) -> None:
    png = extract(bake_png(make_png(), credential))
    svg = extract(bake_svg(generate_badge_svg(name="T", seed="s"), credential))
    assert png.kind == svg.kind == "ob3-json"
    assert json.loads(png.payload) == credential
    assert json.loads(svg.payload) == credential
