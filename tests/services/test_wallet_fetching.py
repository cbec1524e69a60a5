"""Importing hosted OB 2.0 badges over real HTTP through the guarded fetcher that bootstrap
builds from the settings: loopback allowed only when the test config says so, redirects
bounded, size and time limits, each refusal with its own message."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from merito import bootstrap
from merito.config import Settings
from merito.errors import InvalidInput
from merito.services import wallet
from merito.services.platform import Actor, Platform
from merito.storage.tables import UserRow


class Badges(BaseHTTPRequestHandler):
    """A badge issuer's web server: an assertion, its badge class, the issuer, and traps."""

    origin = ""
    revoked = False
    hits: list[str] = []  # noqa: RUF012 - per-class test state

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _json(self, document: dict[str, Any], status: int = 200) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/ld+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Badges.hits.append(self.path)
        o = self.origin
        if self.path in ("/assertion.json", "/revocable.json"):
            self._json(
                {
                    **(
                        {"revoked": True}
                        if Badges.revoked and self.path != "/assertion.json"
                        else {}
                    ),
                    "@context": "https://w3id.org/openbadges/v2",
                    "type": "Assertion",
                    "id": f"{o}{self.path}",
                    "recipient": {"type": "email", "hashed": False, "identity": "zo@example.org"},
                    "issuedOn": "2025-03-01T10:00:00Z",
                    "badge": f"{o}/badge.json",
                    "verification": {"type": "hosted"},
                }
            )
        elif self.path == "/badge.json":
            self._json(
                {
                    "@context": "https://w3id.org/openbadges/v2",
                    "type": "BadgeClass",
                    "id": f"{o}/badge.json",
                    "name": "Soldering Basics",
                    "description": "Through-hole soldering.",
                    "image": f"{o}/badge.png",
                    "criteria": {"narrative": "Soldered a kit."},
                    "issuer": f"{o}/issuer.json",
                }
            )
        elif self.path == "/issuer.json":
            self._json(
                {
                    "@context": "https://w3id.org/openbadges/v2",
                    "type": "Issuer",
                    "id": f"{o}/issuer.json",
                    "name": "Makerspace",
                    "url": o,
                }
            )
        elif self.path.startswith("/hop/"):
            left = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            target = "/assertion.json" if left == 0 else f"/hop/{left - 1}"
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/big.json":
            self._json({"padding": "x" * 50_000})
        elif self.path == "/slow.json":
            time.sleep(1.5)
            self._json({})
        elif self.path == "/gone.json":
            self._json({"error": "withdrawn"}, status=410)
        else:
            self._json({"error": "not found"}, status=404)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Badges)
    httpd.daemon_threads = True
    Badges.origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Badges.origin
    finally:
        httpd.shutdown()
        httpd.server_close()


def online(platform: Platform, **settings: Any) -> Platform:
    """The platform with the fetcher bootstrap builds; loopback allowed unless told not to."""
    config = Settings(**{"fetch_allowed_hosts": "127.0.0.1", **settings})
    return replace(platform, fetcher=bootstrap.fetcher(config))


def learner(platform: Platform) -> Actor:
    user_id = str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(UserRow(id=user_id, email=f"{user_id}@example.org", password_hash="!"))
    return Actor(kind="user", id=user_id, user_id=user_id)


def test_hosted_assertion_imported_by_url_and_re_verified(platform: Platform, server: str) -> None:
    zo = learner(platform)
    net = online(platform)
    item = wallet.import_credential(net, zo, url=f"{server}/assertion.json")
    assert (item.format, item.verdict, item.name) == ("ob2-hosted", "valid", "Soldering Basics")
    assert item.issuer_name == "Makerspace"
    assert wallet.get_item(net, zo, item.id).verdict == "valid"
    # the same URL again is the same item
    assert not wallet.import_credential(net, zo, url=f"{server}/assertion.json").created


def test_redirects_are_followed_up_to_the_limit(platform: Platform, server: str) -> None:
    zo = learner(platform)
    net = online(platform, fetch_max_redirects=2)
    # two hops land on the assertion, whose id is the final URL: accepted
    item = wallet.import_credential(net, zo, url=f"{server}/hop/1")
    assert item.verdict == "valid", item.summary
    with pytest.raises(wallet.SourceUnreachable, match="more than 2 redirects"):
        wallet.import_credential(net, zo, url=f"{server}/hop/5")


def test_loopback_is_refused_unless_allowed(platform: Platform, server: str) -> None:
    zo = learner(platform)
    guarded = replace(platform, fetcher=bootstrap.fetcher(Settings()))
    with pytest.raises(wallet.SourceUnreachable, match="loopback address"):
        wallet.import_credential(guarded, zo, url=f"{server}/assertion.json")
    for url, words in [
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.0.0.8/badge.json", "private address"),
    ]:
        with pytest.raises(wallet.SourceUnreachable, match=words):
            wallet.import_credential(guarded, zo, url=url)
    with pytest.raises(wallet.SourceUnreachable, match="loopback"):
        # a baked or pasted assertion pointing at an internal host is refused the same way
        wallet.import_credential(guarded, zo, data=f"{server}/assertion.json".encode())


def test_size_time_scheme_and_status_limits(platform: Platform, server: str) -> None:
    zo = learner(platform)
    net = online(platform, fetch_max_bytes=10_000, fetch_timeout=0.5)
    with pytest.raises(wallet.SourceUnreachable, match="more than the limit of 10000 bytes"):
        wallet.import_credential(net, zo, url=f"{server}/big.json")
    with pytest.raises(wallet.SourceUnreachable, match="timed out"):
        wallet.import_credential(net, zo, url=f"{server}/slow.json")
    with pytest.raises(wallet.SourceUnreachable, match="HTTP 404"):
        wallet.import_credential(net, zo, url=f"{server}/missing.json")
    with pytest.raises(wallet.SourceUnreachable, match="HTTP 410"):
        wallet.import_credential(net, zo, url=f"{server}/gone.json")
    with pytest.raises(InvalidInput, match="http:// or https://"):
        wallet.import_credential(net, zo, url="file:///etc/passwd")


def test_a_hosted_badge_revoked_later_shows_revoked_on_view(
    platform: Platform, server: str
) -> None:
    zo = learner(platform)
    net = online(platform)
    item = wallet.import_credential(net, zo, url=f"{server}/revocable.json")
    assert item.verdict == "valid"
    Badges.revoked = True
    try:
        viewed = wallet.get_item(net, zo, item.id)
    finally:
        Badges.revoked = False
    assert viewed.verdict == "invalid"
    assert "revoked" in viewed.summary
