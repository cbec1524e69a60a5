"""Badge images: PNG/SVG recognised by content and checked for size and safety; generated badges.

Achievement and baked-badge images come from users, so every check here runs on bytes only and
never decodes pixel data. A PNG is read chunk by chunk (PNG 3rd ed. §5: signature, length, type,
data, CRC-32) and its IHDR dimensions are judged before anything else is looked at, so a
decompression bomb is refused without inflating a byte. An SVG is parsed with defusedxml (no
entity declarations, no external references, nothing fetched) and refused when it could run
script or load anything from outside the file.

``read_png_chunks``, ``png_chunk`` and ``parse_svg`` are shared with ``merito.formats.baking``.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Final, Literal
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from merito.errors import InvalidInput

__all__ = [
    "PNG_SIGNATURE",
    "SVG_NS",
    "ImageInfo",
    "ParsedSvg",
    "PngChunk",
    "generate_badge_svg",
    "inspect_image",
    "parse_svg",
    "png_chunk",
    "read_png_chunks",
]

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
SVG_NS: Final = "http://www.w3.org/2000/svg"
XLINK_NS: Final = "http://www.w3.org/1999/xlink"

MediaType = Literal["image/png", "image/svg+xml"]

# PNG 3rd ed. §5.3: a chunk length is at most 2**31 - 1; §11.2.1: IHDR fields.
_MAX_CHUNK_LENGTH: Final = 2**31 - 1
_CHUNK_HEADER: Final = struct.Struct(">I4s")
_IHDR: Final = struct.Struct(">IIBBBBB")
_VALID_BIT_DEPTHS: Final[dict[int, frozenset[int]]] = {
    0: frozenset({1, 2, 4, 8, 16}),  # greyscale
    2: frozenset({8, 16}),  # truecolour
    3: frozenset({1, 2, 4, 8}),  # indexed
    4: frozenset({8, 16}),  # greyscale with alpha
    6: frozenset({8, 16}),  # truecolour with alpha
}


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What an accepted image is; ``width``/``height`` are None for an SVG that gives neither."""

    media_type: MediaType
    width: int | None
    height: int | None
    size: int


@dataclass(frozen=True, slots=True)
class PngChunk:
    """One PNG chunk; ``offset`` is where its length field starts in the file."""

    type: bytes
    data: bytes
    offset: int

    @property
    def end(self) -> int:
        """Offset just past this chunk's CRC."""
        return self.offset + 12 + len(self.data)


def _human_size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} MB"
    if n >= 1_000:
        return f"{n / 1_000:.0f} KB"
    return f"{n} bytes"


def _check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise InvalidInput(
            f"image is {_human_size(len(data))}, the limit is {_human_size(max_bytes)}",
            property="image",
        )


# --------------------------------------------------------------------------------------- PNG


def png_chunk(chunk_type: bytes, body: bytes) -> bytes:
    """Serialise one chunk: length, type, data and the CRC-32 over type and data (PNG §5.3)."""
    return (
        _CHUNK_HEADER.pack(len(body), chunk_type)
        + body
        + struct.pack(">I", zlib.crc32(chunk_type + body))
    )


def read_png_chunks(data: bytes) -> list[PngChunk]:
    """Split a PNG into chunks, checking the signature, every length and every CRC.

    The stream must open with IHDR and close with IEND (PNG §5.6); bytes after IEND are refused.
    Chunk data is never decompressed here.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise InvalidInput("not a PNG image: the PNG signature is missing", property="image")
    chunks: list[PngChunk] = []
    pos = len(PNG_SIGNATURE)
    size = len(data)
    while True:
        if pos + 12 > size:
            raise InvalidInput(
                f"PNG is truncated: a chunk header is cut off at byte {pos}", property="image"
            )
        length, chunk_type = _CHUNK_HEADER.unpack_from(data, pos)
        if not re.fullmatch(rb"[A-Za-z]{4}", chunk_type):
            raise InvalidInput(
                f"PNG chunk type {chunk_type!r} at byte {pos} is not four letters",
                property="image",
            )
        name = chunk_type.decode("ascii")
        if length > _MAX_CHUNK_LENGTH or pos + 12 + length > size:
            raise InvalidInput(
                f"PNG is truncated: chunk {name} at byte {pos} claims {length} bytes",
                property="image",
            )
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        if zlib.crc32(chunk_type + body) != crc:
            raise InvalidInput(f"PNG chunk {name} at byte {pos} has a bad CRC", property="image")
        if not chunks and chunk_type != b"IHDR":
            raise InvalidInput(f"PNG must start with IHDR, not {name}", property="image")
        chunks.append(PngChunk(type=chunk_type, data=body, offset=pos))
        pos += 12 + length
        if chunk_type == b"IEND":
            break
    if pos != size:
        raise InvalidInput(
            f"PNG has {size - pos} bytes of trailing data after IEND", property="image"
        )
    return chunks


def _png_dimensions(ihdr: PngChunk, *, max_pixels: int) -> tuple[int, int]:
    if len(ihdr.data) != _IHDR.size:
        raise InvalidInput(
            f"PNG IHDR is {len(ihdr.data)} bytes, it must be {_IHDR.size}", property="image"
        )
    width, height, bit_depth, colour_type, compression, filter_method, interlace = _IHDR.unpack(
        ihdr.data
    )
    if not (0 < width <= _MAX_CHUNK_LENGTH and 0 < height <= _MAX_CHUNK_LENGTH):
        raise InvalidInput(f"PNG dimensions {width}×{height} are invalid", property="image")
    if width * height > max_pixels:
        raise InvalidInput(
            f"PNG is {width}×{height} pixels, the limit is {max_pixels:,} pixels",
            property="image",
        )
    if bit_depth not in _VALID_BIT_DEPTHS.get(colour_type, frozenset()):
        raise InvalidInput(
            f"PNG colour type {colour_type} with bit depth {bit_depth} is invalid",
            property="image",
        )
    if compression != 0 or filter_method != 0 or interlace not in (0, 1):
        raise InvalidInput(
            "PNG IHDR names an unknown compression, filter or interlace method", property="image"
        )
    return width, height


def _inspect_png(data: bytes, *, max_pixels: int) -> ImageInfo:
    # Read IHDR before walking the rest, so oversized dimensions are the reported problem even
    # when the file is also damaged further on.
    if len(data) >= len(PNG_SIGNATURE) + 8 + _IHDR.size + 4:
        length, chunk_type = _CHUNK_HEADER.unpack_from(data, len(PNG_SIGNATURE))
        if chunk_type == b"IHDR" and length == _IHDR.size:
            start = len(PNG_SIGNATURE) + 8
            body = data[start : start + _IHDR.size]
            _png_dimensions(PngChunk(type=b"IHDR", data=body, offset=8), max_pixels=max_pixels)
    chunks = read_png_chunks(data)
    width, height = _png_dimensions(chunks[0], max_pixels=max_pixels)
    if not any(c.type == b"IDAT" for c in chunks):
        raise InvalidInput("PNG has no image data (IDAT chunk)", property="image")
    if chunks[0].type != b"IHDR" or sum(c.type == b"IHDR" for c in chunks) != 1:
        raise InvalidInput("PNG must have exactly one IHDR chunk", property="image")
    return ImageInfo(media_type="image/png", width=width, height=height, size=len(data))


# --------------------------------------------------------------------------------------- SVG


@dataclass(frozen=True, slots=True)
class ParsedSvg:
    """An SVG parsed safely, with the byte offsets ``baking`` needs to edit it in place.

    ``spans`` maps each element whose tag is in the ``watch`` set given to ``parse_svg`` to
    ``(start, end)``: the byte range of the whole element in the input.
    ``root_tag_end`` is the offset just past the root start tag's ``>``.
    """

    root: Element
    doctype_internal_subset: bool
    has_doctype: bool
    processing_instructions: tuple[str, ...]
    root_start: int
    root_tag_end: int
    root_self_closing: bool
    spans: tuple[tuple[Element, int, int], ...]


def _start_tag_end(data: bytes, start: int) -> int:
    """Offset just past the ``>`` closing the start tag at ``start`` (quotes may hold ``>``)."""
    quote = 0
    for i in range(start + 1, len(data)):
        c = data[i]
        if quote:
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):  # " or '
            quote = c
        elif c == 0x3E:  # >
            return i + 1
    raise InvalidInput("SVG start tag is not closed", property="image")  # pragma: no cover


class _SvgBuilder(TreeBuilder):
    """Tree builder that also records processing instructions and watched elements' offsets."""

    def __init__(self, watch: frozenset[str], owner: DefusedXMLParser) -> None:
        super().__init__()
        self.watch = watch
        self.owner = owner
        self.pis: list[str] = []
        self.starts: list[int] = []
        self.root_start: int | None = None
        self.spans: list[tuple[Element, int, int]] = []

    def _index(self) -> int:
        # Called only while the owner parser is feeding, so its expat object exists.
        index: int = self.owner.parser.CurrentByteIndex
        return index

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        index = self._index()
        if self.root_start is None:
            self.root_start = index
        self.starts.append(index)
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        element = super().end(tag)
        start = self.starts.pop()
        if tag in self.watch:
            self.spans.append((element, start, self._index()))
        return element

    def pi(self, target: str, text: str | None = None) -> Element:
        self.pis.append(target)
        return super().pi(target, text)


class _SvgParser(DefusedXMLParser):
    """defusedxml's parser (entities and external references raise) that notes the DOCTYPE."""

    def __init__(self, watch: frozenset[str]) -> None:
        self.builder = _SvgBuilder(watch, self)
        super().__init__(target=self.builder, forbid_dtd=False)
        self.has_doctype = False
        self.internal_subset = False
        self.parser.StartDoctypeDeclHandler = self._on_doctype

    def _on_doctype(
        self, name: str, sysid: str | None, pubid: str | None, has_internal_subset: bool
    ) -> None:
        self.has_doctype = True
        self.internal_subset = self.internal_subset or bool(has_internal_subset)


def parse_svg(data: bytes, *, watch: frozenset[str] = frozenset()) -> ParsedSvg:
    """Parse an SVG document without expanding entities or touching anything outside it.

    Raises InvalidInput for malformed XML, any entity declaration (billion laughs, XXE) and any
    external entity reference. A DOCTYPE is parsed but never fetched. The root must be ``<svg>``
    in the SVG namespace.
    """
    parser = _SvgParser(watch)
    builder = parser.builder
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as e:
        what = type(e).__name__
        if what == "EntitiesForbidden":
            raise InvalidInput(
                "SVG declares an XML entity (<!ENTITY>), which is not allowed", property="image"
            ) from e
        raise InvalidInput(
            "SVG refers to an external entity, which is not allowed", property="image"
        ) from e
    except ParseError as e:
        raise InvalidInput(f"SVG is not well-formed XML: {e}", property="image") from e
    except (ValueError, UnicodeError, RecursionError) as e:
        raise InvalidInput(f"SVG could not be parsed: {e}", property="image") from e
    except LookupError as e:  # an XML declaration naming an encoding Python does not know
        raise InvalidInput(f"SVG declares an unknown encoding: {e}", property="image") from e
    if root.tag != f"{{{SVG_NS}}}svg":
        raise InvalidInput(
            f"root element is {root.tag!r}, it must be <svg> in the SVG namespace",
            property="image",
        )
    spans: list[tuple[Element, int, int]] = []
    for element, start, end_index in builder.spans:
        tag_end = _start_tag_end(data, start)
        if data[tag_end - 2 : tag_end] == b"/>":
            spans.append((element, start, tag_end))
        else:
            spans.append((element, start, _start_tag_end(data, end_index)))
    root_start = builder.root_start if builder.root_start is not None else 0
    root_tag_end = _start_tag_end(data, root_start)
    return ParsedSvg(
        root=root,
        has_doctype=parser.has_doctype,
        doctype_internal_subset=parser.internal_subset,
        processing_instructions=tuple(builder.pis),
        root_start=root_start,
        root_tag_end=root_tag_end,
        root_self_closing=data[root_tag_end - 2 : root_tag_end] == b"/>",
        spans=tuple(spans),
    )


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


_FORBIDDEN_ELEMENTS: Final = {
    "script": "a <script> element",
    "foreignobject": "a <foreignObject> element",
    "iframe": "an <iframe> element",
    "embed": "an <embed> element",
    "object": "an <object> element",
    "handler": "a <handler> element",
    "listener": "a <listener> element",
}
_SAFE_DATA_URI: Final = re.compile(r"data:image/(?:png|jpeg|gif|webp)[;,]", re.IGNORECASE)
_CSS_URL: Final = re.compile(r"""url\(\s*['"]?\s*([^'")\s]*)""", re.IGNORECASE)


def _check_reference(value: str, where: str) -> None:
    target = value.strip()
    if target.startswith("#") or _SAFE_DATA_URI.match(target):
        return
    shown = target if len(target) <= 60 else target[:57] + "..."
    raise InvalidInput(
        f"SVG {where} refers to {shown!r}; only '#fragment' and data:image URIs are allowed",
        property="image",
    )


def _check_css(text: str, where: str) -> None:
    if "@import" in text.lower():
        raise InvalidInput(f"SVG {where} contains a CSS @import", property="image")
    for match in _CSS_URL.finditer(text):
        _check_reference(match.group(1), where)


def _check_svg_content(svg: ParsedSvg) -> None:
    if svg.doctype_internal_subset:
        raise InvalidInput(
            "SVG has a DOCTYPE with an internal subset (<!DOCTYPE ... [ ]>), which is not allowed",
            property="image",
        )
    for target in svg.processing_instructions:
        if target.lower() == "xml-stylesheet":
            raise InvalidInput(
                "SVG contains an <?xml-stylesheet?> instruction, which is not allowed",
                property="image",
            )
    for element in svg.root.iter():
        if not isinstance(element.tag, str):
            continue
        local = _local(element.tag)
        described = _FORBIDDEN_ELEMENTS.get(local.lower())
        if described is not None:
            raise InvalidInput(f"SVG contains {described}", property="image")
        if local in ("animate", "set", "animateTransform", "animateMotion"):
            animated = element.get("attributeName", "").strip()
            if _local(animated).lower() in ("href", "xlink:href") or animated.lower().startswith(
                "on"
            ):
                raise InvalidInput(
                    f"SVG <{local}> animates the {animated!r} attribute", property="image"
                )
        if local == "style" and element.text:
            _check_css(element.text, "<style> element")
        for name, value in element.attrib.items():
            attr = _local(name)
            if attr.lower().startswith("on"):
                raise InvalidInput(
                    f"SVG <{local}> has an event-handler attribute {attr!r}", property="image"
                )
            if attr == "href" and name in ("href", f"{{{XLINK_NS}}}href"):
                _check_reference(value, f"<{local}> {attr!r}")
            elif "url(" in value.lower() or attr == "style":
                _check_css(value, f"<{local}> attribute {attr!r}")


_LENGTH: Final = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(px)?\s*")


def _svg_length(value: str | None) -> float | None:
    if value is None:
        return None
    match = _LENGTH.fullmatch(value)
    return float(match.group(1)) if match else None


def _svg_dimensions(root: Element) -> tuple[int | None, int | None]:
    width = _svg_length(root.get("width"))
    height = _svg_length(root.get("height"))
    view_box = root.get("viewBox")
    if view_box is not None:
        parts = view_box.replace(",", " ").split()
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) != 4 or numbers[2] <= 0 or numbers[3] <= 0:
            raise InvalidInput(
                f"SVG viewBox {view_box!r} is not four numbers with a positive width and height",
                property="image",
            )
        width = numbers[2] if width is None else width
        height = numbers[3] if height is None else height
    return (
        round(width) if width is not None else None,
        round(height) if height is not None else None,
    )


def _inspect_svg(data: bytes) -> ImageInfo:
    svg = parse_svg(data)
    _check_svg_content(svg)
    width, height = _svg_dimensions(svg.root)
    return ImageInfo(media_type="image/svg+xml", width=width, height=height, size=len(data))


def inspect_image(
    data: bytes, *, max_bytes: int = 512_000, max_pixels: int = 4096 * 4096
) -> ImageInfo:
    """Accept a PNG or an SVG (recognised by content, never by name) or raise InvalidInput.

    Checks, in order: size; PNG signature, IHDR dimensions (before anything else), chunk CRCs;
    or SVG well-formedness without entities, then no script, event handler, foreignObject,
    external reference or stylesheet.
    """
    _check_size(data, max_bytes)
    if data.startswith(PNG_SIGNATURE):
        return _inspect_png(data, max_pixels=max_pixels)
    if data.startswith(b"\x1f\x8b"):
        raise InvalidInput("compressed SVG (.svgz) is not accepted; upload plain SVG")
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return _inspect_svg(data)
    raise InvalidInput("image is neither PNG nor SVG", property="image")


# ------------------------------------------------------------------------- generated badges

# (dark, light, accent) triples; white text on ``dark`` and on ``light`` has a WCAG 2.x contrast
# ratio of at least 4.5:1 (checked in the tests).
PALETTES: Final[tuple[tuple[str, str, str], ...]] = (
    ("#1e3a8a", "#2563eb", "#fbbf24"),  # blue / amber
    ("#064e3b", "#047857", "#fde68a"),  # emerald / cream
    ("#7c2d12", "#c2410c", "#fed7aa"),  # rust / peach
    ("#4c1d95", "#6d28d9", "#f9a8d4"),  # violet / pink
    ("#831843", "#be185d", "#fbcfe8"),  # rose
    ("#134e4a", "#0f766e", "#99f6e4"),  # teal
    ("#1f2937", "#374151", "#fcd34d"),  # graphite / gold
    ("#312e81", "#4338ca", "#a5f3fc"),  # indigo / cyan
    ("#14532d", "#15803d", "#d9f99d"),  # forest / lime
    ("#7f1d1d", "#b91c1c", "#fecaca"),  # crimson
    ("#0c4a6e", "#0369a1", "#bae6fd"),  # ocean
    ("#581c87", "#7e22ce", "#e9d5ff"),  # purple
)

_SMALL_WORDS: Final = frozenset(
    {"a", "an", "and", "the", "of", "in", "on", "for", "to", "at", "by", "with", "&", "-"}
)
_FONT: Final = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def _xml_escape(text: str) -> str:
    # Also drop characters XML 1.0 cannot carry at all (C0 controls other than tab/newline).
    cleaned = "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)
    cleaned = re.sub(r"[\ud800-\udfff\ufffe\uffff]", "", cleaned)
    return (
        cleaned.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def badge_initials(name: str) -> str:
    """Up to three initials from the significant words of ``name`` (``'Data Analysis' -> 'DA'``)."""
    words = [w for w in re.split(r"[\s/_.,:;()-]+", name) if w]
    significant = [w for w in words if w.lower() not in _SMALL_WORDS] or words
    initials = "".join(next((c for c in w if c.isalnum()), "") for w in significant[:3])
    return initials.upper() or "★"


def _wrap(text: str, *, width: int, lines: int) -> list[str]:
    """Greedy word wrap into at most ``lines`` lines, ending with an ellipsis if cut."""
    words = text.split()
    out: list[str] = []
    current = ""
    for word in words:
        while len(word) > width:  # a single very long word is split hard
            if current:
                out.append(current)
                current = ""
            out.append(word[: width - 1] + "-")
            word = word[width - 1 :]
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width:
            current = candidate
        else:
            out.append(current)
            current = word
    if current:
        out.append(current)
    if len(out) > lines:
        last = out[lines - 1]
        out = [*out[: lines - 1], last[: width - 1].rstrip() + "…"]
    return out


def _hexagon(cx: float, cy: float, r: float) -> str:
    # Pointy-top hexagon; coordinates rounded so the output is stable across platforms.
    offsets = ((0.0, -1.0), (0.866, -0.5), (0.866, 0.5), (0.0, 1.0), (-0.866, 0.5), (-0.866, -0.5))
    return " ".join(f"{cx + dx * r:.1f},{cy + dy * r:.1f}" for dx, dy in offsets)


def generate_badge_svg(*, name: str, subtitle: str | None = None, seed: str) -> bytes:
    """A hexagonal badge showing the initials and the (wrapped) name, coloured from ``seed``.

    Deterministic: the same arguments give the same bytes. Accessible: ``role="img"`` with a
    ``<title>`` (the name) and a ``<desc>`` (the subtitle). No external font or asset, so the
    result passes ``inspect_image``.
    """
    if not name.strip():
        raise InvalidInput("a badge needs a name", property="name")
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()
    dark, light, accent = PALETTES[int(digest[:8], 16) % len(PALETTES)]
    uid = digest[:10]
    initials = badge_initials(name)
    initials_size = {1: 150, 2: 128, 3: 100}.get(len(initials), 100)
    lines = _wrap(" ".join(name.split()), width=20, lines=2)
    line_size = 30 if len(lines) == 1 else 26
    ribbon_y, ribbon_h = 290, (70 if len(lines) == 1 else 96)
    described = " ".join(subtitle.split()) if subtitle else ""
    labelled_by = f"t-{uid} d-{uid}" if described else f"t-{uid}"
    text_attrs = f'text-anchor="middle" font-family="{_FONT}" fill="#ffffff" aria-hidden="true"'
    parts: list[str] = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<svg xmlns="{SVG_NS}" width="512" height="512" viewBox="0 0 512 512" role="img" '
        f'aria-labelledby="{labelled_by}">\n',
        f'  <title id="t-{uid}">{_xml_escape(" ".join(name.split()))}</title>\n',
    ]
    if described:
        parts.append(f'  <desc id="d-{uid}">{_xml_escape(described)}</desc>\n')
    parts += [
        "  <defs>\n",
        f'    <linearGradient id="g-{uid}" x1="0" y1="0" x2="0" y2="1">\n',
        f'      <stop offset="0" stop-color="{light}"/>\n',
        f'      <stop offset="1" stop-color="{dark}"/>\n',
        "    </linearGradient>\n",
        "  </defs>\n",
        f'  <polygon points="{_hexagon(256, 256, 240)}" fill="{dark}"/>\n',
        f'  <polygon points="{_hexagon(256, 256, 216)}" fill="url(#g-{uid})" '
        f'stroke="{accent}" stroke-width="6" stroke-linejoin="round"/>\n',
    ]
    if described:
        # The upper third of the hexagon is about 280 px wide at this height: 22 characters.
        short = _wrap(described, width=22, lines=1)[0]
        parts.append(
            f'  <text x="256" y="132" {text_attrs} font-size="20" font-weight="600" '
            f'letter-spacing="1">{_xml_escape(short)}</text>\n'
        )
    parts += [
        f'  <text x="256" y="{254 if described else 246}" {text_attrs} '
        f'font-size="{initials_size}" font-weight="700">{_xml_escape(initials)}</text>\n',
        f'  <rect x="32" y="{ribbon_y}" width="448" height="{ribbon_h}" rx="10" fill="{dark}" '
        f'stroke="{accent}" stroke-width="4"/>\n',
    ]
    leading = line_size * 1.25
    first_baseline = ribbon_y + (ribbon_h - leading * len(lines)) / 2 + line_size
    for i, line in enumerate(lines):
        parts.append(
            f'  <text x="256" y="{first_baseline + i * leading:.1f}" {text_attrs} '
            f'font-size="{line_size}" font-weight="600">{_xml_escape(line)}</text>\n'
        )
    parts.append("</svg>\n")
    return "".join(parts).encode("utf-8")
