"""Baked badges: a credential carried inside its PNG or SVG image (OB 3.0 §5.3, OB 2.0 Baking).

OB 3.0 §5.3.1 (PNG): one ``iTXt`` chunk with keyword ``openbadgecredential``, not compressed,
whose text is the credential's JSON (embedded proof) or its compact JWS (VC-JWT).
OB 3.0 §5.3.2 (SVG): ``xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"`` on the root and,
directly after the ``<svg>`` start tag, one ``<openbadges:credential>`` holding the JSON in a
CDATA section, or with a ``verify`` attribute holding the compact JWS.
OB 2.0 Baking (read only): ``iTXt`` (or legacy ``tEXt``) keyword ``openbadges`` with the
assertion JSON, a JWS or a URL; SVG ``<openbadges:assertion>`` in namespace
``http://openbadges.org`` with a ``verify`` attribute and/or a CDATA assertion.

Everything here is pure: bytes in, bytes or data out. Untrusted images are read with the same
defences as ``merito.formats.images`` (CRC checks, no entities), and compressed text chunks are
inflated with a hard output cap so a zip bomb costs nothing.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from typing import Any, Final, Literal

from merito.errors import InvalidInput
from merito.formats.images import (
    PNG_SIGNATURE,
    PngChunk,
    parse_svg,
    png_chunk,
    read_png_chunks,
)
from merito.formats.json_depth import too_deep

__all__ = [
    "OB2_KEYWORD",
    "OB2_SVG_NS",
    "OB3_KEYWORD",
    "OB3_SVG_NS",
    "ExtractedCredential",
    "bake_png",
    "bake_svg",
    "extract",
]

OB3_KEYWORD: Final = "openbadgecredential"
OB2_KEYWORD: Final = "openbadges"
OB3_SVG_NS: Final = "https://purl.imsglobal.org/ob/v3p0"
OB2_SVG_NS: Final = "http://openbadges.org"

_OB3_TAG: Final = f"{{{OB3_SVG_NS}}}credential"
_OB2_TAG: Final = f"{{{OB2_SVG_NS}}}assertion"
_KEYWORDS: Final = frozenset({OB3_KEYWORD.encode(), OB2_KEYWORD.encode()})
_JWS: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_URL: Final = re.compile(r"https?://\S+")
_NON_XML: Final = re.compile("[\ud800-\udfff\ufffe\uffff]")

Kind = Literal["ob3-json", "ob3-jwt", "ob2-assertion", "ob2-jws", "ob2-url"]


@dataclass(frozen=True, slots=True)
class ExtractedCredential:
    """What a baked image carries.

    ``kind`` is ``ob3-json`` (an OB 3.0 credential with an embedded proof), ``ob3-jwt`` (its
    compact JWS), ``ob2-assertion`` (OB 2.0 assertion JSON), ``ob2-jws`` (a signed OB 2.0
    assertion) or ``ob2-url`` (the URL of a hosted OB 2.0 assertion). ``payload`` is the text
    exactly as baked, without surrounding whitespace.
    """

    kind: Kind
    payload: str


# ------------------------------------------------------------------------------- credential


def _xml_safe(json_text: str) -> str:
    # Lone surrogates and U+FFFE/U+FFFF can appear only inside JSON strings; write them as
    # \uXXXX escapes (same JSON value) so the text is valid UTF-8 and valid XML character data.
    return _NON_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def _credential_text(credential: str | dict[str, Any]) -> tuple[str, bool]:
    """The text to bake and whether it is a JWS; dicts become compact JSON."""
    if isinstance(credential, dict):
        text = json.dumps(credential, ensure_ascii=False, separators=(",", ":"))
        return _xml_safe(text), False
    text = credential.strip()
    if _JWS.fullmatch(text):
        return text, True
    try:
        parsed = None if too_deep(text) else json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidInput(
            "credential to bake must be a JSON object or a compact JWS", property="credential"
        )
    return _xml_safe(text), False


def _classify(text: str, *, ob3: bool) -> ExtractedCredential:
    payload = text.strip()
    if payload.startswith("{"):
        if too_deep(payload):  # json.loads's C recursion could overflow the stack
            raise InvalidInput("baked credential is nested too deeply to read", property="image")
        try:
            parsed = json.loads(payload)
        except ValueError as e:
            raise InvalidInput(f"baked credential is not valid JSON: {e}", property="image") from e
        if not isinstance(parsed, dict):  # pragma: no cover - '{' always parses to a dict
            raise InvalidInput("baked credential is not a JSON object", property="image")
        return ExtractedCredential(kind="ob3-json" if ob3 else "ob2-assertion", payload=payload)
    if _JWS.fullmatch(payload):
        return ExtractedCredential(kind="ob3-jwt" if ob3 else "ob2-jws", payload=payload)
    if not ob3 and _URL.fullmatch(payload):
        return ExtractedCredential(kind="ob2-url", payload=payload)
    shown = payload[:40] + ("..." if len(payload) > 40 else "")
    raise InvalidInput(
        f"baked badge data {shown!r} is neither JSON, a compact JWS nor a URL", property="image"
    )


# -------------------------------------------------------------------------------------- PNG


def _text_chunk_keyword(chunk: PngChunk) -> bytes | None:
    if chunk.type not in (b"iTXt", b"tEXt", b"zTXt"):
        return None
    keyword, sep, _ = chunk.data.partition(b"\0")
    return keyword if sep else None


def bake_png(png: bytes, credential: str | dict[str, Any]) -> bytes:
    """Return ``png`` carrying ``credential`` in an ``openbadgecredential`` iTXt chunk.

    The chunk goes right after IHDR; any earlier baked badge (OB 3.0 or OB 2.0 keyword, in
    iTXt, tEXt or zTXt) is removed so the image carries exactly one (OB 3.0 §5.3.1).
    """
    text, _ = _credential_text(credential)
    chunks = read_png_chunks(png)
    # iTXt layout (PNG §11.3.3.4): keyword NUL, compression flag 0, method 0, empty language
    # tag NUL, empty translated keyword NUL, UTF-8 text.
    body = OB3_KEYWORD.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8")
    out = [PNG_SIGNATURE, png[chunks[0].offset : chunks[0].end], png_chunk(b"iTXt", body)]
    out.extend(png[c.offset : c.end] for c in chunks[1:] if _text_chunk_keyword(c) not in _KEYWORDS)
    return b"".join(out)


def _inflate(data: bytes, *, cap: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error as e:
        raise InvalidInput(f"compressed PNG text is corrupt: {e}", property="image") from e
    if len(out) > cap or inflater.unconsumed_tail:
        raise InvalidInput(
            f"compressed PNG text expands beyond {cap:,} bytes; refused", property="image"
        )
    return out


def _decode(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise InvalidInput(f"baked PNG text is not valid {encoding}", property="image") from e


def _png_text(chunk: PngChunk, *, cap: int) -> str:
    """The text of a tEXt / zTXt / iTXt chunk (PNG §11.3.3), inflating with an output cap."""
    _, _, rest = chunk.data.partition(b"\0")
    if chunk.type == b"tEXt":
        return _decode(rest, "latin-1")
    if chunk.type == b"zTXt":
        if rest[:1] != b"\0":
            raise InvalidInput("PNG zTXt chunk uses an unknown compression", property="image")
        return _decode(_inflate(rest[1:], cap=cap), "latin-1")
    if len(rest) < 2:
        raise InvalidInput("PNG iTXt chunk is truncated", property="image")
    compressed, method = rest[0], rest[1]
    parts = rest[2:].split(b"\0", 2)
    if len(parts) != 3:
        raise InvalidInput("PNG iTXt chunk is truncated", property="image")
    text = parts[2]
    if compressed:
        if method != 0:
            raise InvalidInput("PNG iTXt chunk uses an unknown compression", property="image")
        text = _inflate(text, cap=cap)
    return _decode(text, "utf-8")


def _extract_png(data: bytes, *, cap: int) -> ExtractedCredential:
    chunks = read_png_chunks(data)
    found: dict[bytes, PngChunk] = {}
    for chunk in chunks:
        keyword = _text_chunk_keyword(chunk)
        if keyword in _KEYWORDS and keyword is not None:
            found.setdefault(keyword, chunk)  # the first one counts (OB 3.0 §5.3.1)
    for keyword, ob3 in ((OB3_KEYWORD.encode(), True), (OB2_KEYWORD.encode(), False)):
        if keyword in found:
            return _classify(_png_text(found[keyword], cap=cap), ob3=ob3)
    raise InvalidInput("this image has no baked badge", property="image")


# -------------------------------------------------------------------------------------- SVG


def _cdata(text: str) -> str:
    # A CDATA section cannot contain "]]>": split it across two sections.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _attribute(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    )


def _require_utf8(svg: bytes) -> None:
    declared = re.match(rb"""\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", svg)
    encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    if svg.startswith((b"\xfe\xff", b"\xff\xfe")) or encoding not in ("utf-8", "utf8", "us-ascii"):
        raise InvalidInput("only UTF-8 SVG images can be baked", property="image")


def bake_svg(svg: bytes, credential: str | dict[str, Any]) -> bytes:
    """Return ``svg`` carrying ``credential`` as ``<openbadges:credential>`` (OB 3.0 §5.3.2).

    The element is inserted as the first child of the root and any earlier baked badge is
    removed; the rest of the document is kept byte for byte. A JWS goes in the ``verify``
    attribute, JSON in a CDATA section.
    """
    text, is_jws = _credential_text(credential)
    _require_utf8(svg)
    parsed = parse_svg(svg, watch=frozenset({_OB3_TAG, _OB2_TAG}))
    tag = "openbadges:credential"
    if is_jws:
        element = f'<{tag} verify="{_attribute(text)}"/>'
    else:
        element = f"<{tag}>{_cdata(text)}</{tag}>"
    start_tag = svg[parsed.root_start : parsed.root_tag_end]
    declared = _declares(start_tag, "openbadges")
    if declared != OB3_SVG_NS.encode():
        start_tag = _with_namespace(start_tag, declared=declared)
    inserted = ("\n  " + element).encode("utf-8")
    if parsed.root_self_closing:
        start_tag = start_tag[:-2].rstrip() + b">"
        tail = b"</" + _root_name(start_tag) + b">" + svg[parsed.root_tag_end :]
        return svg[: parsed.root_start] + start_tag + inserted + tail
    # Rebuild the body without earlier baked elements (their spans never overlap).
    body = bytearray()
    pos = parsed.root_tag_end
    for _, start, end in sorted(parsed.spans, key=lambda span: span[1]):
        if start < pos:  # pragma: no cover - nested baked elements
            continue
        # Drop the indentation before the old element too, so baking twice changes nothing.
        body += svg[pos:start].rstrip(b" \t\r\n")
        pos = end
    body += svg[pos:]
    return svg[: parsed.root_start] + start_tag + inserted + bytes(body)


_XMLNS_ATTR: Final = re.compile(rb"""\sxmlns:([A-Za-z_][\w.-]*)\s*=\s*(["'])(.*?)\2""", re.DOTALL)


def _declares(start_tag: bytes, prefix: str) -> bytes | None:
    """The namespace URI the root start tag binds ``prefix`` to, if it binds it."""
    for match in _XMLNS_ATTR.finditer(start_tag):
        if match.group(1) == prefix.encode():
            return match.group(3)
    return None


def _with_namespace(start_tag: bytes, *, declared: bytes | None) -> bytes:
    """Bind ``openbadges`` to the OB 3.0 namespace on the root start tag."""
    binding = f'xmlns:openbadges="{OB3_SVG_NS}"'.encode()
    if declared is not None:
        # An OB 2.0 image: rebind the prefix (its old assertion element is being removed).
        return _XMLNS_ATTR.sub(
            lambda m: b" " + binding if m.group(1) == b"openbadges" else m.group(0), start_tag
        )
    name = _root_name(start_tag)
    return start_tag[: 1 + len(name)] + b" " + binding + start_tag[1 + len(name) :]


def _root_name(start_tag: bytes) -> bytes:
    match = re.match(rb"<([^\s/>]+)", start_tag)
    return match.group(1) if match else b"svg"


def _extract_svg(data: bytes) -> ExtractedCredential:
    parsed = parse_svg(data)
    for tag, ob3 in ((_OB3_TAG, True), (_OB2_TAG, False)):
        element = parsed.root.find(f".//{tag}")
        if element is None:
            continue
        text = "".join(element.itertext()).strip()
        verify = (element.get("verify") or "").strip()
        if ob3:
            return _classify(verify or text, ob3=True)
        # OB 2.0: the assertion JSON (hosted) wins over the verify URL; a JWS sits in verify.
        return _classify(text or verify, ob3=False)
    raise InvalidInput("this image has no baked badge", property="image")


# ---------------------------------------------------------------------------------- extract


def extract(
    data: bytes, *, max_bytes: int = 5_000_000, max_payload_bytes: int = 2_000_000
) -> ExtractedCredential:
    """Read the badge baked into a PNG or SVG image, or raise InvalidInput.

    PNG: the first iTXt/tEXt/zTXt ``openbadgecredential`` chunk, else the OB 2.0 ``openbadges``
    one; compressed text is inflated to at most ``max_payload_bytes``. SVG: the first
    ``<openbadges:credential>`` (OB 3.0), else ``<openbadges:assertion>`` (OB 2.0).
    """
    if len(data) > max_bytes:
        raise InvalidInput(
            f"image is {len(data):,} bytes, the limit is {max_bytes:,}", property="image"
        )
    if data.startswith(PNG_SIGNATURE):
        return _extract_png(data, cap=max_payload_bytes)
    if data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _extract_svg(data)
    raise InvalidInput("image is neither PNG nor SVG", property="image")
