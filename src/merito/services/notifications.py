"""Notification emails, built as values: no sending here (the outbox hands them to a Mailer).

Every builder is pure: same input, same ``OutgoingEmail``, idempotency key included, so
writing the email in the same transaction as its cause and retrying it duplicates nothing.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import unicodedata
from urllib.parse import urlsplit

from merito.domain.ports import OutgoingEmail
from merito.errors import InvalidInput

__all__ = ["check_link", "credential_issued_email"]

MAX_URL_LENGTH = 2048
MAX_NAME_LENGTH = 200

# RFC 3834 §5: an automatic message; Microsoft's equivalent stops its auto-replies too.
AUTOMATED_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}

_DEV_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def check_link(url: str, *, property: str, dev: bool = False) -> str:
    """``url`` if it may go in an email: https, or plain http to this machine in dev mode.

    A link with credentials in it (``https://merito.example@evil.example/``) is refused:
    it reads as one host and goes to another.
    """
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(
            f"{property} is longer than {MAX_URL_LENGTH} characters", property=property
        )
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        raise InvalidInput(
            f"{property} contains whitespace or a control character", property=property
        )
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        raise InvalidInput(f"{property} is not a valid URL: {url!r}", property=property) from e
    if not hostname:
        raise InvalidInput(f"{property} has no host: {url!r}", property=property)
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"{property} must not contain user information", property=property)
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and dev and _is_dev_host(hostname):
        return url
    allowed = "https (or http://localhost in dev mode)" if dev else "https"
    raise InvalidInput(f"{property} must use {allowed}: {url!r}", property=property)


def _is_dev_host(hostname: str) -> bool:
    if hostname in _DEV_HOSTS:
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _check_name(value: str, *, property: str) -> str:
    """A display name that may go in a subject line: no CR/LF or control codes (injection)."""
    value = value.strip()
    if not value:
        raise InvalidInput(f"{property} is empty", property=property)
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"{property} is longer than {MAX_NAME_LENGTH} characters", property=property
        )
    for ch in value:
        if unicodedata.category(ch) in {"Cc", "Zl", "Zp"}:
            raise InvalidInput(
                f"{property} contains a line break or control character ({ch!r})",
                property=property,
            )
    return value


def credential_issued_email(
    *,
    recipient_email: str,
    learner_name: str | None,
    achievement_name: str,
    issuer_name: str,
    claim_url: str,
    credential_url: str,
    dev: bool = False,
    idempotency_key: str | None = None,
) -> OutgoingEmail:
    """Tells a learner a credential was issued to them, with their claim link.

    The idempotency key defaults to one per credential and recipient; pass another to
    send a deliberate reminder.
    """
    achievement = _check_name(achievement_name, property="achievement_name")
    issuer = _check_name(issuer_name, property="issuer_name")
    learner = _check_name(learner_name, property="learner_name") if learner_name else None
    claim = check_link(claim_url, property="claim_url", dev=dev)
    public = check_link(credential_url, property="credential_url", dev=dev)
    if idempotency_key is None:
        digest = hashlib.sha256(f"{public}\n{recipient_email}".encode()).hexdigest()
        idempotency_key = f"credential-issued:{digest[:40]}"

    subject = f"{issuer} issued you a credential: {achievement}"
    greeting = f"Hello {learner}," if learner else "Hello,"
    text = "\n".join(
        [
            greeting,
            "",
            f"{issuer} has issued you the credential “{achievement}”.",
            "",
            "Claim it to keep it in your wallet (this link is personal, do not share it):",
            claim,
            "",
            "Anyone you choose to show it to can check it here:",
            public,
            "",
            f"You receive this email because {issuer} issued a credential to this address.",
            "If you did not expect it, you can ignore this message.",
            "",
        ]
    )
    return OutgoingEmail(
        to=recipient_email,
        subject=subject,
        text=text,
        html=_credential_issued_html(
            subject=subject,
            greeting=greeting,
            issuer=issuer,
            achievement=achievement,
            claim_url=claim,
            credential_url=public,
        ),
        headers=AUTOMATED_HEADERS,
        idempotency_key=idempotency_key,
    )


def _credential_issued_html(
    *,
    subject: str,
    greeting: str,
    issuer: str,
    achievement: str,
    claim_url: str,
    credential_url: str,
) -> str:
    """The HTML part: self-contained (inline styles, no images), escaped, readable unstyled.

    Accessibility: a language, a title, one heading, links whose text says where they go,
    the raw address beside the button for clients that drop links, body text at 16px with
    contrast above WCAG AA (#1f2933 on #ffffff, #ffffff on #1d4ed8).
    """
    e = html.escape  # quote=True by default: safe in text and in attribute values
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(subject)}</title>
</head>
<body style="{_BODY_STYLE}">
<main style="max-width:560px;margin:0 auto;">
<h1 style="font-size:22px;line-height:1.3;margin:0 0 16px;">{e(achievement)}</h1>
<p>{e(greeting)}</p>
<p>{e(issuer)} has issued you the credential <strong>{e(achievement)}</strong>.</p>
<p><a href="{e(claim_url)}" style="{_BUTTON_STYLE}">Claim your credential</a></p>
<p>This link is personal: do not share it.
If the button does not work, copy this address into your browser:<br>
<a href="{e(claim_url)}" style="{_LINK_STYLE}">{e(claim_url)}</a></p>
<p>Anyone you choose to show it to can check it here:<br>
<a href="{e(credential_url)}" style="{_LINK_STYLE}">{e(credential_url)}</a></p>
<hr style="border:none;border-top:1px solid #cbd2d9;margin:24px 0;">
<p style="font-size:14px;color:#52606d;">
You receive this email because {e(issuer)} issued a credential to this address.
If you did not expect it, you can ignore this message.</p>
</main>
</body>
</html>
"""


# Inline styles only: many mail clients drop <style> blocks and never load external CSS.
_BODY_STYLE = (
    "margin:0;padding:24px;background:#ffffff;color:#1f2933;"
    "font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;"
)
_BUTTON_STYLE = (
    "display:inline-block;padding:12px 20px;background:#1d4ed8;color:#ffffff;"
    "text-decoration:none;border-radius:4px;font-weight:bold;"
)
_LINK_STYLE = "color:#1d4ed8;word-break:break-all;"
