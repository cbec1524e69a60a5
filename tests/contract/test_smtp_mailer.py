"""SmtpMailer against a real SMTP server (aiosmtpd on 127.0.0.1, a free port per test).

Covers what the outbox relies on: the message arrives with both parts and the headers it
needs, 4xx replies and unreachable servers are transient, 5xx are permanent, STARTTLS and
AUTH behave, and a message that could inject a header never reaches a socket.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from merito.domain.ports import FixedClock, OutgoingEmail
from merito.errors import DeliveryError, InvalidInput
from merito.net.mailer import SmtpMailer

HOST = "127.0.0.1"
USERNAME, PASSWORD = "merito", "s3cret pass:word"
NOW = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Recorder:
    """aiosmtpd handler: keeps what arrives; ``replies`` scripts a refusal at one stage."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.commands: list[str] = []
        self.connections = 0
        self.logins: list[tuple[bytes, bytes]] = []
        self.tls_sessions: list[bool] = []
        self.replies: dict[str, str] = {}

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if "MAIL" in self.replies:
            return self.replies["MAIL"]
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if "RCPT" in self.replies:
            return self.replies["RCPT"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if "DATA" in self.replies:
            return self.replies["DATA"]
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        self.tls_sessions.append(session.ssl is not None)
        return "250 Message accepted"


class RecordingSMTP(SMTP):
    """Notes every connection and every command name the client sends."""

    def connection_made(self, transport: Any) -> None:
        self.event_handler.connections += 1
        super().connection_made(transport)

    async def smtp_STARTTLS(self, arg: str) -> None:
        self.event_handler.commands.append("STARTTLS")
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        self.event_handler.commands.append("AUTH")
        await super().smtp_AUTH(arg)


class RecordingController(Controller):
    def factory(self) -> SMTP:
        return RecordingSMTP(self.handler, **self.SMTP_kwargs)


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    if ok:
        server.event_handler.logins.append((auth_data.login, auth_data.password))
    # handled=False: aiosmtpd answers a failure with 535 itself
    return AuthResult(success=ok, handled=False)


def start(recorder: Recorder, **smtp_kwargs: Any) -> RecordingController:
    controller = RecordingController(recorder, hostname=HOST, port=free_port(), **smtp_kwargs)
    controller.start()
    return controller


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def server(recorder: Recorder) -> Iterator[RecordingController]:
    """A plain server: no STARTTLS offered, AUTH offered without TLS (a local relay)."""
    controller = start(recorder, authenticator=authenticator, auth_require_tls=False)
    yield controller
    controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "merito test smtp")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(recorder: Recorder, certificate: tuple[Path, Path]) -> Iterator[RecordingController]:
    """A server offering (and requiring) STARTTLS, and AUTH only after it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    controller = start(
        recorder, tls_context=context, require_starttls=True, authenticator=authenticator
    )
    yield controller
    controller.stop()


def mailer(port: int, **kwargs: Any) -> SmtpMailer:
    settings: dict[str, Any] = {
        "host": HOST,
        "port": port,
        "sender": "Merito <noreply@merito.example>",
        "timeout": 5.0,
        "clock": FixedClock(NOW),
    }
    settings.update(kwargs)
    return SmtpMailer(**settings)


def outgoing(**overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "to": "ada@example.org",
        "subject": "Your credential",
        "text": "Hello Ada,\nclaim it at https://merito.example/claim/1\n",
        "html": '<p>Hello Ada, <a href="https://merito.example/claim/1">claim it</a></p>',
        "headers": {"Auto-Submitted": "auto-generated"},
        "idempotency_key": "credential-issued:42",
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


def parse(raw: bytes) -> EmailMessage:
    # SMTP carries CRLF line ends; a mail store hands messages on with local (LF) ones
    message = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_message_arrives_with_both_parts_and_headers(
    server: RecordingController, recorder: Recorder
) -> None:
    sent = outgoing()
    message_id = mailer(server.port).send(sent)

    [(mail_from, rcpt_tos, raw)] = recorder.received
    assert mail_from == "noreply@merito.example"
    assert rcpt_tos == ["ada@example.org"]
    message = parse(raw)
    assert message["From"] == "Merito <noreply@merito.example>"
    assert message["To"] == "ada@example.org"
    assert message["Subject"] == "Your credential"
    assert message["Date"] == "Tue, 04 Mar 2025 05:06:07 +0000"
    assert message["Message-ID"] == message_id
    assert message_id.startswith("<")
    assert message_id.endswith("@merito.example>")
    assert message["Merito-Idempotency-Key"] == "credential-issued:42"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None
    assert rich is not None
    assert plain.get_content() == sent.text
    assert rich.get_content().rstrip("\n") == sent.html


def test_text_only_message_is_not_multipart(
    server: RecordingController, recorder: Recorder
) -> None:
    mailer(server.port).send(outgoing(html=None))
    message = parse(recorder.received[0][2])
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == outgoing().text


def test_utf8_names_and_subject_are_encoded(
    server: RecordingController, recorder: Recorder
) -> None:
    # long enough to fold; spaces between non-ASCII words (the CPython folder loses them)
    subject = "Université de Genève vous a décerné « Données & Société » ✓ — 北京大学 証明書"
    text = "Bonjour Zoë Ångström,\n\n北京大学 — 証明書\n"
    mailer(server.port, sender="Université de Genève <badges@unige.example>").send(
        outgoing(subject=subject, text=text, html=f"<p>{text}</p>")
    )
    raw = recorder.received[0][2]
    # the wire form is 7-bit: RFC 2047 encoded words in headers, quoted-printable bodies
    assert raw.isascii()
    message = parse(raw)
    assert message["Subject"] == subject
    [sender] = message["From"].addresses
    assert sender.display_name == "Université de Genève"
    assert sender.addr_spec == "badges@unige.example"
    plain = message.get_body(("plain",))
    assert plain is not None
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content() == text


def test_same_idempotency_key_gives_same_message_id(
    server: RecordingController, recorder: Recorder
) -> None:
    smtp = mailer(server.port)
    first = smtp.send(outgoing())
    again = smtp.send(outgoing())
    other = smtp.send(outgoing(idempotency_key="credential-issued:43"))
    assert first == again != other
    assert [parse(raw)["Message-ID"] for _, _, raw in recorder.received] == [first, first, other]


def test_starttls_auto_is_not_attempted_when_not_offered(
    server: RecordingController, recorder: Recorder
) -> None:
    mailer(server.port, starttls="auto").send(outgoing())
    assert "STARTTLS" not in recorder.commands
    assert recorder.tls_sessions == [False]


def test_starttls_required_but_not_offered_is_permanent(
    server: RecordingController, recorder: Recorder
) -> None:
    with pytest.raises(DeliveryError, match="does not offer STARTTLS") as info:
        mailer(server.port, starttls=True).send(outgoing())
    assert info.value.transient is False
    assert info.value.code == "delivery-failed"
    assert recorder.received == []


def test_starttls_auto_upgrades_when_offered(
    tls_server: RecordingController, recorder: Recorder, certificate: tuple[Path, Path]
) -> None:
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    mailer(tls_server.port, starttls="auto", ssl_context=trusted).send(outgoing())
    assert recorder.commands[0] == "STARTTLS"
    assert recorder.tls_sessions == [True]


def test_auth_after_starttls(
    tls_server: RecordingController, recorder: Recorder, certificate: tuple[Path, Path]
) -> None:
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    mailer(
        tls_server.port,
        ssl_context=trusted,
        username=USERNAME,
        password=PASSWORD,
    ).send(outgoing())
    assert recorder.commands == ["STARTTLS", "AUTH"]
    assert recorder.logins == [(USERNAME.encode(), PASSWORD.encode())]
    assert len(recorder.received) == 1


def test_untrusted_certificate_is_permanent(
    tls_server: RecordingController, recorder: Recorder
) -> None:
    # the default context trusts the system's CAs, not our self-signed certificate
    with pytest.raises(DeliveryError, match="certificate") as info:
        mailer(tls_server.port, starttls=True).send(outgoing())
    assert info.value.transient is False
    assert recorder.received == []


def test_auth_login_against_authenticator(server: RecordingController, recorder: Recorder) -> None:
    # a loopback relay without TLS: the one place credentials may travel unencrypted
    mailer(server.port, username=USERNAME, password=PASSWORD).send(outgoing())
    assert "AUTH" in recorder.commands
    assert recorder.logins == [(USERNAME.encode(), PASSWORD.encode())]
    assert len(recorder.received) == 1


def test_wrong_password_is_permanent(server: RecordingController, recorder: Recorder) -> None:
    with pytest.raises(DeliveryError, match="authentication") as info:
        mailer(server.port, username="merito", password="wrong").send(outgoing())
    assert info.value.transient is False
    assert info.value.smtp_code == 535
    assert "wrong" not in info.value.message
    assert recorder.received == []


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
@pytest.mark.parametrize(
    ("reply", "transient"),
    [
        ("451 4.3.0 Try again later", True),
        ("452 4.2.2 Mailbox full", True),
        ("550 5.1.1 No such user", False),
        ("554 5.7.1 Rejected as spam", False),
    ],
)
def test_refusals_are_classified(
    server: RecordingController, recorder: Recorder, stage: str, reply: str, transient: bool
) -> None:
    recorder.replies[stage] = reply
    with pytest.raises(DeliveryError) as info:
        mailer(server.port).send(outgoing())
    code = int(reply[:3])
    assert info.value.transient is transient
    assert info.value.smtp_code == code
    assert reply[4:] in info.value.message
    assert recorder.received == []


def test_closed_port_is_transient_and_fast() -> None:
    port = free_port()  # bound then released: nothing listens there
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="unreachable") as info:
        mailer(port, timeout=2.0).send(outgoing())
    assert info.value.transient is True
    assert info.value.smtp_code is None
    assert time.monotonic() - started < 2.0


def test_silent_server_times_out_as_transient() -> None:
    # a listening socket that never greets: the connection succeeds, the greeting never comes
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(1)
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="did not answer") as info:
            mailer(listener.getsockname()[1], timeout=0.5).send(outgoing())
        elapsed = time.monotonic() - started
    assert info.value.transient is True
    assert 0.4 < elapsed < 3.0


def test_header_injection_is_refused_before_connecting(
    server: RecordingController, recorder: Recorder
) -> None:
    with pytest.raises(InvalidInput) as info:
        outgoing(subject="Hello\r\nBcc: victim@example.org")
    assert info.value.property == "subject"
    with pytest.raises(InvalidInput) as info:
        outgoing(to="ada@example.org\nBcc: victim@example.org")
    assert info.value.property == "to"
    with pytest.raises(InvalidInput):
        outgoing(to="ada@example.org, victim@example.org")

    # a value that skipped construction (say, edited in storage) is checked again by the mailer
    connections = recorder.connections
    for name, value in [
        ("subject", "Hello\r\nBcc: victim@example.org"),
        ("to", "ada@example.org\r\nBcc: victim@example.org"),
    ]:
        forged = outgoing()
        object.__setattr__(forged, name, value)
        with pytest.raises(InvalidInput) as info:
            mailer(server.port).send(forged)
        assert info.value.property == name
    assert recorder.connections == connections
    assert recorder.received == []


def test_sender_with_line_break_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        SmtpMailer(host=HOST, port=25, sender="Merito <a@merito.example>\r\nBcc: x@example.org")
    assert info.value.property == "sender"


def test_non_ascii_password_is_refused_up_front() -> None:
    with pytest.raises(InvalidInput, match="ASCII") as info:
        SmtpMailer(
            host=HOST, port=25, sender="a@merito.example", username="merito", password="pässword"
        )
    assert info.value.property == "password"


def test_replace_keeps_validation() -> None:
    with pytest.raises(InvalidInput):
        dataclasses.replace(outgoing(), subject="a\nb")
