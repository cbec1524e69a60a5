"""Downloads of a wallet item: the badge image with the credential baked in, a PDF certificate.

The baked image is the achievement's own image when Merito holds it (``/images/<sha256>``) or
it is a ``data:`` URL; otherwise Merito's generated badge (nothing is fetched: a download must
not depend on, or reveal the learner to, a third-party server). PNG gets an iTXt
``openbadgecredential`` chunk, SVG an ``<openbadges:credential>`` element
(``merito.formats.baking``); uploading the image to a wallet extracts the same credential.

The PDF certificate (fpdf2) prints the credential's facts, a QR code of its verification URL
drawn as vector squares (segno computes the matrix), and carries the credential itself as an
embedded file (``credential.json``, or ``credential.jwt`` for a VC-JWT), so the printout and
the machine-verifiable credential travel together.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import segno
from fpdf import FPDF

from merito.errors import InvalidInput, NotFound
from merito.formats import baking
from merito.formats.images import PNG_SIGNATURE, generate_badge_svg
from merito.services import analytics, catalog
from merito.services.platform import Actor, Platform
from merito.services.sharing import require_user, wallet_item_row
from merito.verification.pipeline import parse_datetime

__all__ = ["Download", "baked_image", "certificate_pdf", "verification_url"]

_FONT_DIR: Final = Path("/usr/share/fonts/truetype/dejavu")
_MAX_DATA_URL: Final = 5_000_000


@dataclass(frozen=True, slots=True)
class Download:
    filename: str
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class _Item:
    id: str
    name: str
    issuer_name: str | None
    credential_id: str | None
    document: dict[str, Any]
    raw: str | None


def _load(platform: Platform, actor: Actor, item_id: str) -> _Item:
    user_id = require_user(actor)
    with platform.reading() as session:
        row = wallet_item_row(session, user_id, item_id)
        return _Item(
            id=row.id,
            name=row.name,
            issuer_name=row.issuer_name,
            credential_id=row.credential_id,
            document=dict(row.document),
            raw=row.raw,
        )


def _achievement(document: Mapping[str, Any]) -> Mapping[str, Any]:
    subject = document.get("credentialSubject")
    if isinstance(subject, list):
        subject = subject[0] if subject else None
    achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
    if isinstance(achievement, Mapping):
        return achievement
    return {}


def _slug(name: str) -> str:
    kept = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    return "-".join(p for p in kept.split("-") if p)[:60] or "credential"


def _image_of(platform: Platform, document: Mapping[str, Any]) -> bytes | None:
    image = _achievement(document).get("image")
    url = image.get("id") if isinstance(image, Mapping) else image
    if not isinstance(url, str):
        return None
    prefix = platform.url("/images/")
    if url.startswith(prefix):
        try:
            return catalog.get_image(platform, url.removeprefix(prefix)).data
        except NotFound:
            return None
    if url.startswith("data:image/") and ";base64," in url and len(url) < _MAX_DATA_URL:
        try:
            return base64.b64decode(url.split(",", 1)[1], validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def baked_image(
    platform: Platform, actor: Actor, item_id: str, *, kind: Literal["png", "svg"] | None = None
) -> Download:
    """The badge image with the credential baked in (PNG or SVG, as the image is).

    ``kind`` asks for one: ``svg`` of a PNG-only achievement gives the generated badge.
    """
    item = _load(platform, actor, item_id)
    credential: str | dict[str, Any] = item.raw if item.raw is not None else item.document
    image = _image_of(platform, item.document)
    is_png = image is not None and image.startswith(PNG_SIGNATURE)
    if image is None or (kind == "svg" and is_png) or (kind == "png" and not is_png):
        if kind == "png":
            raise InvalidInput(
                "this achievement has no PNG image; download the SVG badge", property="kind"
            )
        image = generate_badge_svg(
            name=item.name, subtitle=item.issuer_name, seed=item.credential_id or item.id
        )
        is_png = False
    name = _slug(item.name)
    if is_png:
        download = Download(f"{name}.png", "image/png", baking.bake_png(image, credential))
    else:
        download = Download(f"{name}.svg", "image/svg+xml", baking.bake_svg(image, credential))
    analytics.record_share(platform, item.credential_id)  # the issuer's dashboard: a share
    return download


def verification_url(platform: Platform, credential_id: str | None) -> str:
    """Where a reader of the printout checks it: the credential's own page when it has a web
    ``id`` (Merito's credentials do), else Merito's verifier, to which the PDF's attachment
    can be uploaded."""
    if credential_id is not None:
        parts = urlsplit(credential_id)
        if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname):
            return credential_id
    return platform.url("/verify")


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


class _Certificate(FPDF):
    """Helvetica (a core PDF font: nothing embedded, fast) when every text is Latin-1, else
    DejaVu Sans embedded (any script; parsing the TTF costs most of the rendering time)."""

    def __init__(self, texts: Iterable[str]) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.set_auto_page_break(auto=False)
        self.has_unicode = False
        self.body_font = "helvetica"
        regular, bold = _FONT_DIR / "DejaVuSans.ttf", _FONT_DIR / "DejaVuSans-Bold.ttf"
        if not all(_latin1(t) for t in texts) and regular.exists() and bold.exists():
            self.add_font("body", "", str(regular))
            self.add_font("body", "B", str(bold))
            self.body_font = "body"
            self.has_unicode = True

    def text_of(self, value: str) -> str:
        if self.has_unicode:
            return value
        return value.encode("latin-1", "replace").decode("latin-1")


def _date(value: Any) -> str | None:
    moment: datetime | None = parse_datetime(value) if value is not None else None
    return moment.strftime("%d %B %Y") if moment is not None else None


def _draw_qr(pdf: FPDF, payload: str, *, x: float, y: float, size: float) -> None:
    qr = segno.make(payload, error="m", micro=False)
    matrix = [list(row) for row in qr.matrix]
    modules = len(matrix) + 8  # the 4-module quiet zone each side (ISO/IEC 18004 §6.3.8)
    step = size / modules
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                pdf.rect(x + (start + 4) * step, y + (r + 4) * step, (c - start) * step, step, "F")
            else:
                c += 1


def certificate_pdf(platform: Platform, actor: Actor, item_id: str) -> Download:
    """A printable A4 certificate of a wallet item, its credential attached."""
    item = _load(platform, actor, item_id)
    document = item.document
    achievement = _achievement(document)
    url = verification_url(platform, item.credential_id)
    description = achievement.get("description")
    pdf = _Certificate(
        [
            item.name,
            item.issuer_name or "",
            description if isinstance(description, str) else "",
            url,
            item.credential_id or "",
        ]
    )
    pdf.set_title(pdf.text_of(item.name))
    pdf.set_author(pdf.text_of(item.issuer_name or "Merito"))
    pdf.set_creator("Merito")
    pdf.set_subject("Verifiable credential certificate")
    issued = _date(document.get("validFrom", document.get("issuanceDate")))
    expires = _date(document.get("validUntil", document.get("expirationDate")))
    pdf.set_creation_date(platform.clock.now())
    pdf.add_page()
    pdf.set_draw_color(40, 60, 90)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, 277, 190)
    pdf.set_text_color(30, 40, 60)
    pdf.set_font(pdf.body_font, "", 14)
    pdf.set_xy(20, 28)
    pdf.cell(257, 10, pdf.text_of("Certificate of achievement"), align="C")
    pdf.set_font(pdf.body_font, "B", 30)
    pdf.set_xy(20, 45)
    pdf.multi_cell(257, 14, pdf.text_of(item.name), align="C")
    pdf.set_font(pdf.body_font, "", 13)
    y = pdf.get_y() + 4
    if isinstance(description, str) and description.strip():
        pdf.set_xy(30, y)
        pdf.multi_cell(237, 7, pdf.text_of(description.strip()[:600]), align="C")
        y = pdf.get_y() + 4
    lines = []
    if item.issuer_name:
        lines.append(f"Issued by {item.issuer_name}")
    if issued:
        lines.append(f"on {issued}")
    if expires:
        lines.append(f"valid until {expires}")
    pdf.set_font(pdf.body_font, "B", 14)
    pdf.set_xy(20, y)
    pdf.multi_cell(257, 8, pdf.text_of(" ".join(lines) or "Verifiable credential"), align="C")
    _draw_qr(pdf, url, x=227, y=140, size=50)
    pdf.set_font(pdf.body_font, "", 9)
    pdf.set_xy(20, 165)
    pdf.multi_cell(200, 5, pdf.text_of("Verify this certificate:"), align="L")
    pdf.set_xy(20, 171)
    pdf.multi_cell(200, 5, pdf.text_of(url), align="L")
    if item.credential_id:
        pdf.set_xy(20, 180)
        pdf.multi_cell(200, 5, pdf.text_of(f"Credential {item.credential_id}"), align="L")
    pdf.set_xy(20, 188)
    pdf.multi_cell(
        200,
        5,
        pdf.text_of("The signed credential is attached to this PDF (credential.json)."),
        align="L",
    )
    if item.raw is not None:
        attachment, basename, mime = item.raw.encode(), "credential.jwt", "application/vc+jwt"
    else:
        attachment = json.dumps(document, ensure_ascii=False, indent=2).encode()
        basename, mime = "credential.json", "application/vc+ld+json"
    pdf.embed_file(
        bytes=attachment,
        basename=basename,
        mime_type=mime,
        desc="The verifiable credential this certificate prints",
        modification_date=platform.clock.now(),
        associated_file_relationship="Source",
    )
    download = Download(f"{_slug(item.name)}.pdf", "application/pdf", bytes(pdf.output()))
    analytics.record_share(platform, item.credential_id)  # the issuer's dashboard: a share
    return download
