"""Outbound email: the ``Mailer`` port over SMTP (smtplib), on the console and in memory.

Only bootstrap picks one: ``SmtpMailer`` in production, ``ConsoleMailer`` in dev mode,
``MemoryMailer`` in tests. All three build the same MIME message (``compose``), so a
message one refuses, every one refuses, and the dev console shows what SMTP would send.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import ipaddress
import smtplib
import ssl
import sys
import unicodedata
from collections import deque
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Literal, TextIO

from merito.domain.ports import IDEMPOTENCY_KEY_HEADER, Clock, OutgoingEmail, SystemClock
from merito.errors import DeliveryError, InvalidInput

__all__ = ["ConsoleMailer", "MemoryMailer", "SmtpMailer", "compose", "parse_sender"]

StartTLS = bool | Literal["auto"]


def parse_sender(sender: str) -> Address:
    """The From address: ``"Name <addr@domain>"`` or a bare address; InvalidInput otherwise."""
    if any(unicodedata.category(ch) in {"Cc", "Zl", "Zp"} for ch in sender):
        raise InvalidInput("sender contains a line break or control character", property="sender")
    display_name, addr_spec = parseaddr(sender)
    if "@" not in addr_spec:
        raise InvalidInput(f"sender is not an email address: {sender!r}", property="sender")
    try:
        return Address(display_name=display_name, addr_spec=addr_spec)
    except (ValueError, HeaderParseError) as e:
        raise InvalidInput(f"sender is not an email address: {sender!r}", property="sender") from e


def message_id_for(email: OutgoingEmail, *, sender: Address) -> str:
    """A Message-ID derived from the idempotency key (RFC 5322 §3.6.4).

    A retry of the same outbox entry carries the same Message-ID, so a mail store or
    client that already holds the first copy can recognise the second.
    """
    digest = hashlib.sha256(email.idempotency_key.encode("ascii")).hexdigest()[:32]
    try:
        domain = sender.domain.encode("idna").decode("ascii")
    except UnicodeError:
        domain = "merito.invalid"
    return f"<{digest}@{domain}>"


def compose(email: OutgoingEmail, *, sender: Address, now: datetime) -> EmailMessage:
    """The MIME message for ``email``: text, plus an HTML alternative when there is one."""
    # rebuilding re-runs OutgoingEmail's checks: the value may have come back from storage
    email = dataclasses.replace(email)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = email.to
    if email.subject.isascii():
        message["Subject"] = email.subject
    else:
        # CPython's header folder may put the space between two RFC 2047 encoded words
        # outside them, where a decoder must drop it (RFC 2047 §6.2): "« Données" arrives
        # as "«Données". The legacy Header class keeps spaces inside the encoded words;
        # set_raw stores its output as is.
        encoded = Header(email.subject, "utf-8", header_name="Subject").encode()
        message.set_raw("Subject", encoded)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id_for(email, sender=sender)
    message[IDEMPOTENCY_KEY_HEADER] = email.idempotency_key
    for name, value in email.headers.items():
        message[name] = value
    # quoted-printable keeps every part 7-bit: no reliance on the server's 8BITMIME
    message.set_content(email.text, charset="utf-8", cte="quoted-printable")
    if email.html is not None:
        message.add_alternative(email.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def _is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _classify(code: int) -> bool:
    """RFC 5321 §4.2.1: 4yz is a transient failure, 5yz a permanent one."""
    return not 500 <= code <= 599


def _server_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return " ".join(text.split())


class SmtpMailer:
    """Sends over SMTP with the standard library; one connection per message.

    ``starttls``: True requires STARTTLS, False never tries it, "auto" upgrades when the
    server offers it. ``use_ssl`` is implicit TLS (port 465) instead. Credentials are
    never sent over an unencrypted connection, except to a loopback host (a local relay).
    ``timeout`` bounds each network operation (connect, every reply), in seconds.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: StartTLS = "auto",
        use_ssl: bool = False,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not host:
            raise InvalidInput("host is empty", property="host")
        if not 0 < port < 65536:
            raise InvalidInput(f"port {port} is not a TCP port", property="port")
        if starttls not in (True, False, "auto"):
            raise InvalidInput("starttls must be True, False or 'auto'", property="starttls")
        if use_ssl and starttls is True:
            raise InvalidInput(
                "use_ssl (implicit TLS) and starttls=True are exclusive", property="starttls"
            )
        if not timeout > 0:
            raise InvalidInput("timeout must be positive", property="timeout")
        if (username is None) != (password is None):
            raise InvalidInput("username and password go together", property="username")
        if not (username or "").isascii() or not (password or "").isascii():
            # smtplib encodes AUTH responses as ASCII; a UTF-8 password would fail mid-session
            raise InvalidInput(
                "username and password must be ASCII (smtplib cannot send others)",
                property="password",
            )
        if username is not None and not use_ssl and starttls is False and not _is_loopback(host):
            raise InvalidInput(
                "refusing to send SMTP credentials unencrypted: enable starttls or use_ssl",
                property="starttls",
            )
        self.host = host
        self.port = port
        self.sender = parse_sender(sender)
        self._username = username
        self._password = password
        self._starttls: StartTLS = False if use_ssl else starttls
        self._use_ssl = use_ssl
        self._timeout = timeout
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._local_hostname = local_hostname
        self._clock = clock or SystemClock()

    def __repr__(self) -> str:  # never shows the password
        return f"SmtpMailer(host={self.host!r}, port={self.port}, sender={str(self.sender)!r})"

    def send(self, email: OutgoingEmail) -> str:
        # composing validates: a message we refuse is refused before any connection
        message = compose(email, sender=self.sender, now=self._clock.now())
        smtp: smtplib.SMTP | None = None
        delivered = False
        try:
            smtp = self._open()
            self._secure(smtp)
            self._login(smtp)
            refused = smtp.send_message(
                message, from_addr=self.sender.addr_spec, to_addrs=[email.to]
            )
            if refused:  # pragma: no cover - one recipient: refusal raises instead
                code, text = next(iter(refused.values()))
                raise self._refused(code, text, "RCPT TO")
            delivered = True
        except (smtplib.SMTPException, OSError) as e:
            raise self._wrap(e) from e
        finally:
            if smtp is not None:
                if delivered:
                    # the server accepted the message: a failed goodbye must not make the
                    # outbox send it twice
                    with contextlib.suppress(smtplib.SMTPException, OSError):
                        smtp.quit()
                smtp.close()
        return str(message["Message-ID"])

    def _open(self) -> smtplib.SMTP:
        if self._use_ssl:
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self._local_hostname,
                timeout=self._timeout,
                context=self._ssl_context,
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self._local_hostname, timeout=self._timeout
        )

    def _secure(self, smtp: smtplib.SMTP) -> None:
        if self._starttls is False:
            return
        smtp.ehlo_or_helo_if_needed()
        if smtp.has_extn("starttls"):
            smtp.starttls(context=self._ssl_context)
            smtp.ehlo()
        elif self._starttls is True:
            raise DeliveryError(
                f"SMTP server {self.host}:{self.port} does not offer STARTTLS (starttls=True)",
                transient=False,
            )

    def _login(self, smtp: smtplib.SMTP) -> None:
        if self._username is None or self._password is None:
            return
        encrypted = isinstance(smtp.sock, ssl.SSLSocket)
        if not encrypted and not _is_loopback(self.host):
            raise DeliveryError(
                f"SMTP server {self.host}:{self.port} offered no encryption: "
                "refusing to send credentials in clear",
                transient=False,
            )
        smtp.login(self._username, self._password)

    def _refused(self, code: int, text: bytes | str, stage: str) -> DeliveryError:
        return DeliveryError(
            f"SMTP server {self.host}:{self.port} refused {stage}: {code} {_server_text(text)}",
            transient=_classify(code),
            smtp_code=code,
        )

    def _wrap(self, e: smtplib.SMTPException | OSError) -> DeliveryError:
        where = f"SMTP server {self.host}:{self.port}"
        if isinstance(e, smtplib.SMTPRecipientsRefused):
            code, text = next(iter(e.recipients.values()))
            return self._refused(code, text, "the recipient")
        if isinstance(e, smtplib.SMTPSenderRefused):
            return self._refused(e.smtp_code, e.smtp_error, "the sender")
        if isinstance(e, smtplib.SMTPAuthenticationError):
            return self._refused(e.smtp_code, e.smtp_error, "authentication")
        if isinstance(e, smtplib.SMTPResponseException):
            return self._refused(e.smtp_code, e.smtp_error, "the message")
        if isinstance(e, smtplib.SMTPNotSupportedError):
            return DeliveryError(f"{where} lacks a needed extension: {e}", transient=False)
        if isinstance(e, ssl.SSLCertVerificationError):
            # a certificate that does not verify will not verify on a retry either
            return DeliveryError(f"{where}: TLS certificate not trusted: {e}", transient=False)
        if isinstance(e, smtplib.SMTPServerDisconnected) and isinstance(
            e.__context__, TimeoutError
        ):
            # smtplib reports a reply that never came as a disconnection
            return DeliveryError(f"{where} did not answer within {self._timeout}s", transient=True)
        if isinstance(e, smtplib.SMTPServerDisconnected):
            return DeliveryError(f"{where} closed the connection: {e}", transient=True)
        if isinstance(e, TimeoutError):
            return DeliveryError(f"{where} did not answer within {self._timeout}s", transient=True)
        return DeliveryError(f"{where} unreachable: {e}", transient=True)


class ConsoleMailer:
    """Dev mode: prints each message (headers and text part) instead of sending it."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        sender: str = "Merito (dev) <noreply@localhost>",
        clock: Clock | None = None,
    ) -> None:
        self._stream = stream
        self.sender = parse_sender(sender)
        self._clock = clock or SystemClock()

    def send(self, email: OutgoingEmail) -> str:
        message = compose(email, sender=self.sender, now=self._clock.now())
        stream = self._stream if self._stream is not None else sys.stdout
        lines = [
            "----- email (dev mode: printed, not sent) -----",
            f"From: {self.sender}",
            f"To: {email.to}",
            f"Subject: {email.subject}",
            f"Date: {message['Date']}",
            f"Message-ID: {message['Message-ID']}",
            f"{IDEMPOTENCY_KEY_HEADER}: {email.idempotency_key}",
            *(f"{name}: {value}" for name, value in email.headers.items()),
            "",
            _printable(email.text),
        ]
        if email.html is not None:
            lines += ["", f"[HTML alternative: {len(email.html)} characters, not shown]"]
        lines.append("----- end of email -----")
        stream.write("\n".join(lines) + "\n")
        stream.flush()
        return str(message["Message-ID"])


def _printable(text: str) -> str:
    """The body with terminal control sequences neutralised (line breaks and tabs kept)."""
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) != "Cc" else "\ufffd" for ch in text
    )


class MemoryMailer:
    """Tests: records every message it accepts; ``fail_next`` scripts delivery failures."""

    def __init__(
        self, *, sender: str = "Merito <noreply@merito.test>", clock: Clock | None = None
    ) -> None:
        self.sender = parse_sender(sender)
        self._clock = clock or SystemClock()
        self.sent: list[OutgoingEmail] = []
        self.messages: list[EmailMessage] = []
        self._failures: deque[DeliveryError] = deque()

    def fail_next(self, error: DeliveryError) -> None:
        """The next ``send`` raises ``error`` (queued: call several times for several)."""
        self._failures.append(error)

    def send(self, email: OutgoingEmail) -> str:
        message = compose(email, sender=self.sender, now=self._clock.now())
        if self._failures:
            raise self._failures.popleft()
        self.sent.append(email)
        self.messages.append(message)
        return str(message["Message-ID"])
