"""SSRF: every outbound path (did:web resolution, status-list fetches, hosted OB 2.0 badges,
outgoing webhooks) goes through the guarded fetcher, which never reaches a loopback, private or
link-local address unless configured, and re-checks every redirect. A real HTTP server on
127.0.0.1 counts what reaches it: a refused fetch must not reach it at all.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from merito.errors import FetchError, ProofError
from merito.net.fetcher import GuardedFetcher
from merito.net.webhook_sender import GuardedPoster
from merito.proofs.resolution import VerificationMethodResolver


class Server:
    def __init__(self) -> None:
        self.paths: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append(self.path)
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", self.path.split("?to=", 1)[1])
                    self.end_headers()
                    return
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


BLOCKED = ["127.0.0.1", "10.0.0.1", "192.168.1.1", "169.254.169.254", "[::1]", "[fe80::1]"]


@pytest.mark.parametrize("host", BLOCKED)
def test_blocked_addresses_are_refused_before_any_connection(host: str) -> None:
    fetcher = GuardedFetcher(timeout=2)
    with pytest.raises(FetchError, match=r"private|loopback|link-local|not a public"):
        fetcher.fetch(f"http://{host}/status/1")
    with pytest.raises(FetchError, match=r"private|loopback|link-local|not a public"):
        GuardedPoster(timeout=2).post(f"http://{host}/hook", body=b"{}", headers={})


def test_names_resolving_to_loopback_are_refused(server: Server) -> None:
    to_loopback = GuardedFetcher(timeout=2, resolver=lambda host, port: ["127.0.0.1"])
    with pytest.raises(FetchError):
        to_loopback.fetch(f"http://status.example.org:{server.port}/status/1")
    with pytest.raises(FetchError):
        GuardedPoster(timeout=2, resolver=lambda host, port: ["127.0.0.1"]).post(
            f"http://hooks.example.org:{server.port}/hook", body=b"{}", headers={}
        )
    assert server.paths == []


def test_did_web_resolution_cannot_reach_loopback(server: Server) -> None:
    resolver = VerificationMethodResolver(
        fetcher=GuardedFetcher(timeout=2, resolver=lambda host, port: ["127.0.0.1"])
    )
    with pytest.raises(ProofError):
        resolver.resolve(f"did:web:issuer.example.org%3A{server.port}#key-1")
    with pytest.raises(ProofError):
        resolver.resolve(f"did:web:127.0.0.1%3A{server.port}#key-1")
    assert server.paths == []


def test_redirects_are_checked_again(server: Server) -> None:
    # the first host is allowed (configured), its redirect to another loopback name is not
    fetcher = GuardedFetcher(
        timeout=2,
        allowed_hosts=frozenset({"allowed.test"}),
        resolver=lambda host, port: ["127.0.0.1"],
    )
    assert fetcher.fetch(f"http://allowed.test:{server.port}/status/1").status == 200
    target = f"http://other.test:{server.port}/secret"
    with pytest.raises(FetchError):
        fetcher.fetch(f"http://allowed.test:{server.port}/redirect?to={target}")
    assert server.paths == ["/status/1", f"/redirect?to={target}"]  # never /secret
    # allowed when configured: the development switch
    open_fetcher = GuardedFetcher(timeout=2, allow_private=True)
    assert open_fetcher.fetch(f"http://127.0.0.1:{server.port}/status/2").status == 200
