"""OutgoingEmail's checks, and the mailers that need no network: console, memory, compose."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest

from merito.domain.ports import FixedClock, Mailer, OutgoingEmail
from merito.errors import DeliveryError, InvalidInput
from merito.net.mailer import ConsoleMailer, MemoryMailer, SmtpMailer, compose, parse_sender

NOW = dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def outgoing(**overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "to": "ada@example.org",
        "subject": "Your credential",
        "text": "Hello Ada,\nclaim it at https://merito.example/claim/1\n",
        "html": "<p>Hello</p>",
        "idempotency_key": "credential-issued:42",
    }
    fields.update(overrides)
    return OutgoingEmail(**fields)


@pytest.mark.parametrize(
    ("overrides", "property"),
    [
        ({"to": "not-an-address"}, "to"),
        ({"to": "Ada <ada@example.org>"}, "to"),
        ({"to": "ada@example.org;bob@example.org"}, "to"),
        ({"subject": "a\rb"}, "subject"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "has space"}, "idempotency_key"),
        ({"idempotency_key": "k" * 201}, "idempotency_key"),
        ({"headers": {"Bcc": "victim@example.org"}}, "headers"),
        ({"headers": {"message-id": "<x@y>"}}, "headers"),
        ({"headers": {"Merito-Idempotency-Key": "other"}}, "headers"),
        ({"headers": {"Bad Name": "x"}}, "headers"),
        ({"headers": {"X-Ok": "a\nBcc: victim@example.org"}}, "headers.X-Ok"),
    ],
)
def test_outgoing_email_refuses(overrides: dict[str, Any], property: str) -> None:
    with pytest.raises(InvalidInput) as info:
        outgoing(**overrides)
    assert info.value.property == property


def test_outgoing_email_headers_are_a_frozen_copy() -> None:
    headers = {"Auto-Submitted": "auto-generated"}
    email = outgoing(headers=headers)
    headers["Bcc"] = "victim@example.org"
    assert dict(email.headers) == {"Auto-Submitted": "auto-generated"}
    with pytest.raises(TypeError):
        email.headers["Bcc"] = "victim@example.org"  # type: ignore[index]


def test_every_adapter_is_a_mailer() -> None:
    assert isinstance(MemoryMailer(), Mailer)
    assert isinstance(ConsoleMailer(io.StringIO()), Mailer)
    assert isinstance(SmtpMailer(host="127.0.0.1", port=25, sender="a@merito.example"), Mailer)


def test_compose_sets_identity_headers() -> None:
    sender = parse_sender("Merito <noreply@merito.example>")
    message = compose(outgoing(), sender=sender, now=NOW)
    assert message["Date"] == "Tue, 04 Mar 2025 05:06:07 +0000"
    assert message["Merito-Idempotency-Key"] == "credential-issued:42"
    assert message["Message-ID"] == compose(outgoing(), sender=sender, now=NOW)["Message-ID"]
    assert message["Message-ID"].endswith("@merito.example>")


def test_console_mailer_prints_the_message() -> None:
    stream = io.StringIO()
    mailer = ConsoleMailer(stream, sender="Merito <noreply@merito.example>", clock=FixedClock(NOW))
    message_id = mailer.send(outgoing(subject="Zoë’s credential"))
    printed = stream.getvalue()
    assert "From: Merito <noreply@merito.example>" in printed
    assert "To: ada@example.org" in printed
    assert "Subject: Zoë’s credential" in printed  # readable, not RFC 2047-encoded
    assert f"Message-ID: {message_id}" in printed
    assert "Merito-Idempotency-Key: credential-issued:42" in printed
    assert "claim it at https://merito.example/claim/1" in printed
    assert "[HTML alternative: 12 characters, not shown]" in printed


def test_console_mailer_neutralises_terminal_escapes() -> None:
    stream = io.StringIO()
    ConsoleMailer(stream).send(outgoing(text="line one\n\x1b[2Jline two\tend\n"))
    printed = stream.getvalue()
    assert "\x1b" not in printed
    assert "line one\n\ufffd[2Jline two\tend" in printed


def test_console_mailer_refuses_what_smtp_would_refuse() -> None:
    forged = outgoing()
    object.__setattr__(forged, "subject", "a\r\nBcc: victim@example.org")
    stream = io.StringIO()
    with pytest.raises(InvalidInput):
        ConsoleMailer(stream).send(forged)
    assert stream.getvalue() == ""


def test_memory_mailer_records_and_scripts_failures() -> None:
    mailer = MemoryMailer(clock=FixedClock(NOW))
    mailer.fail_next(DeliveryError("try later", transient=True, smtp_code=451))
    with pytest.raises(DeliveryError) as info:
        mailer.send(outgoing())
    assert info.value.transient is True
    assert mailer.sent == []
    message_id = mailer.send(outgoing())
    assert mailer.sent == [outgoing()]
    assert mailer.messages[0]["Message-ID"] == message_id


@pytest.mark.parametrize(
    ("kwargs", "property"),
    [
        ({"host": ""}, "host"),
        ({"port": 0}, "port"),
        ({"timeout": 0}, "timeout"),
        ({"use_ssl": True, "starttls": True}, "starttls"),
        ({"starttls": "yes"}, "starttls"),
        ({"username": "merito"}, "username"),
        ({"sender": "nobody"}, "sender"),
        # credentials in clear to a remote host: refused when the mailer is built
        (
            {"host": "smtp.example.org", "starttls": False, "username": "u", "password": "p"},
            "starttls",
        ),
    ],
)
def test_smtp_mailer_configuration_is_checked(kwargs: dict[str, Any], property: str) -> None:
    settings: dict[str, Any] = {"host": "127.0.0.1", "port": 25, "sender": "a@merito.example"}
    settings.update(kwargs)
    with pytest.raises(InvalidInput) as info:
        SmtpMailer(**settings)
    assert info.value.property == property


def test_smtp_mailer_repr_hides_the_password() -> None:
    mailer = SmtpMailer(
        host="127.0.0.1", port=25, sender="a@merito.example", username="u", password="hunter2"
    )
    assert "hunter2" not in repr(mailer)
