"""The credential-issued email: both parts, escaping, link rules, injection refusals."""

from __future__ import annotations

import html.parser
from typing import Any

import pytest

from merito.domain.ports import OutgoingEmail
from merito.errors import InvalidInput
from merito.services.notifications import check_link, credential_issued_email

CLAIM = "https://merito.example/claim/7f3a?token=abc&lang=fr"
PUBLIC = "https://merito.example/credentials/42"


def build(**overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "recipient_email": "ada@example.org",
        "learner_name": "Ada Lovelace",
        "achievement_name": "Data Science Foundations",
        "issuer_name": "Université de Genève",
        "claim_url": CLAIM,
        "credential_url": PUBLIC,
    }
    fields.update(overrides)
    return credential_issued_email(**fields)


class Collector(html.parser.HTMLParser):
    """Tags, attributes and text of the HTML part, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(source: str) -> Collector:
    collector = Collector()
    collector.feed(source)
    collector.close()
    return collector


def test_both_parts_carry_the_facts() -> None:
    email = build()
    assert email.to == "ada@example.org"
    assert email.subject == "Université de Genève issued you a credential: Data Science Foundations"
    assert "Hello Ada Lovelace," in email.text
    assert "“Data Science Foundations”" in email.text
    assert f"\n{CLAIM}\n" in email.text
    assert f"\n{PUBLIC}\n" in email.text
    assert email.html is not None
    page = parse_html(email.html)
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert links.count(CLAIM) == 2  # the button and the copyable address
    assert PUBLIC in links
    assert "Ada Lovelace" in "".join(page.text)


def test_html_is_self_contained_and_accessible() -> None:
    email = build()
    assert email.html is not None
    page = parse_html(email.html)
    tags = {tag for tag, _ in page.tags}
    # no images, no stylesheets, no scripts, nothing loaded from elsewhere
    assert tags.isdisjoint({"img", "link", "script", "style", "iframe", "object"})
    sources = [v for _, attrs in page.tags for k, v in attrs.items() if k in {"src", "srcset"}]
    assert sources == []
    [html_attrs] = [attrs for tag, attrs in page.tags if tag == "html"]
    assert html_attrs["lang"] == "en"
    assert "title" in tags
    assert "h1" in tags
    link_texts = [t.strip().lower() for t in page.text]
    assert "click here" not in link_texts
    assert "claim your credential" in link_texts


def test_markup_in_names_is_escaped() -> None:
    hostile = '<img src="https://evil.example/x.png" onerror="alert(1)">'
    email = build(learner_name=hostile, achievement_name="R&D <b>bold</b>", issuer_name='"Acme"')
    assert email.html is not None
    page = parse_html(email.html)
    assert all(tag != "img" and tag != "b" for tag, _ in page.tags)
    text = "".join(page.text)
    assert hostile in text  # shown literally, not interpreted
    assert "R&D <b>bold</b>" in text
    assert "&amp;" in email.html
    assert "&lt;b&gt;" in email.html
    # the plain-text part is plain: no escaping there
    assert "R&D <b>bold</b>" in email.text


def test_query_string_ampersands_survive_in_attributes() -> None:
    email = build()
    assert email.html is not None
    assert 'href="https://merito.example/claim/7f3a?token=abc&amp;lang=fr"' in email.html


def test_missing_learner_name_greets_plainly() -> None:
    assert build(learner_name=None).text.startswith("Hello,\n")
    assert build(learner_name="").text.startswith("Hello,\n")


def test_automatic_headers_and_stable_idempotency_key() -> None:
    first, again = build(), build()
    assert first.headers["Auto-Submitted"] == "auto-generated"  # RFC 3834
    assert first.idempotency_key == again.idempotency_key
    assert first.idempotency_key.startswith("credential-issued:")
    assert build(credential_url=PUBLIC + "1").idempotency_key != first.idempotency_key
    assert build(recipient_email="bob@example.org").idempotency_key != first.idempotency_key
    assert build(idempotency_key="reminder:42:1").idempotency_key == "reminder:42:1"


@pytest.mark.parametrize("property", ["achievement_name", "issuer_name", "learner_name"])
@pytest.mark.parametrize("bad", ["Evil\r\nBcc: victim@example.org", "a\nb", "a\x00b", "a\u2028b"])
def test_line_breaks_in_names_are_refused(property: str, bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        build(**{property: bad})
    assert info.value.property == property


@pytest.mark.parametrize("property", ["achievement_name", "issuer_name"])
def test_empty_names_are_refused(property: str) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        build(**{property: "   "})


def test_recipient_with_injection_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        build(recipient_email="ada@example.org\r\nBcc: victim@example.org")
    assert info.value.property == "to"


@pytest.mark.parametrize(
    "url",
    [
        "http://merito.example/claim/1",  # plain http outside dev
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://merito.example/claim",
        "https://merito.example@evil.example/claim",  # user info disguises the host
        "https:///claim",
        "https://merito.example/claim\r\nBcc: x",
        "https://merito.example/cl aim",
        "https://merito.example:port/claim",
        "https://merito.example/" + "a" * 2048,
        "/claim/1",
    ],
)
def test_bad_claim_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        build(claim_url=url)
    assert info.value.property == "claim_url"


def test_credential_url_follows_the_same_rule() -> None:
    with pytest.raises(InvalidInput) as info:
        build(credential_url="http://merito.example/credentials/42")
    assert info.value.property == "credential_url"


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8000/claim/1", "http://127.0.0.1:8000/claim/1", "http://[::1]:8000/claim"],
)
def test_local_http_only_in_dev(url: str) -> None:
    with pytest.raises(InvalidInput, match="https"):
        check_link(url, property="claim_url")
    assert check_link(url, property="claim_url", dev=True) == url
    assert CLAIM in build(claim_url=CLAIM, dev=True).text


def test_dev_mode_still_refuses_other_http_hosts() -> None:
    with pytest.raises(InvalidInput):
        check_link("http://merito.example/claim", property="claim_url", dev=True)
    with pytest.raises(InvalidInput):
        check_link("http://localhost.evil.example/claim", property="claim_url", dev=True)
