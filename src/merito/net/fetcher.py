"""The guarded ``Fetcher``: HTTP(S) GET with an SSRF guard, pinned addresses and hard bounds.

What it guarantees, for every hop of a redirect chain:

- only ``http`` and ``https`` URLs without user information are fetched (plain ``http`` is
  allowed because status lists and hosted OB 2.0 badges are public documents whose integrity
  comes from signatures, not from TLS; an ``https`` -> ``http`` redirect is still refused);
- the host name is resolved once, and the fetch is refused if ANY of its addresses is not a
  public unicast address (see ``check_address``), unless ``allow_private`` is set or the host is
  listed in ``allowed_hosts``;
- the connection goes to an address that was checked (pinned), so a DNS answer that changes
  between the check and the connect (DNS rebinding) cannot reach a blocked address; the
  ``Host`` header, TLS SNI and certificate check still use the original host name;
- at most ``max_redirects`` redirects, each re-checked; at most ``max_bytes`` of body (the
  ``Content-Length`` is checked up front, the body is read at most ``max_bytes + 1`` bytes);
  ``timeout`` bounds the whole fetch (resolution, connect, headers and body, across
  redirects), enforced by socket timeouts and a watchdog that shuts the socket at the deadline;
- only the identity content encoding is accepted (no decompression bombs); proxies from the
  environment are not used (``http.client`` ignores them).

Every refusal or failure raises ``merito.errors.FetchError`` with a one-line message.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from merito.domain.ports import FetchResponse
from merito.errors import FetchError, InvalidInput

__all__ = ["GuardedFetcher", "Resolver", "check_address", "system_resolver"]

_log = logging.getLogger(__name__)

#: resolves (host, port) to IP address strings; the default asks the system resolver
Resolver = Callable[[str, int], Sequence[str]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024
_ALLOW_HINT = "private addresses are blocked; see MERITO_FETCH_ALLOW_PRIVATE"
# RFC 6052 §2.1: the well-known NAT64 prefix embeds an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``socket.getaddrinfo`` gives for ``host`` (IPv4 and IPv6, in its order)."""
    addresses: list[str] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def check_address(address: str | IPAddress) -> str | None:
    """Why ``address`` must not be fetched from (e.g. ``"a loopback address"``), or None.

    Blocks unspecified, loopback, link-local, multicast, private, reserved, site-local and
    any other not globally routable address, and IPv6 forms that embed such an IPv4 address
    (IPv4-mapped, 6to4, Teredo server or client, NAT64 ``64:ff9b::/96``). Raises ValueError
    when ``address`` is not an IP address.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        for form, embedded in _embedded_ipv4(ip):
            reason = _plain_reason(embedded)
            if reason is not None:
                return f"{form} of {embedded}, {reason}"
    return _plain_reason(ip)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    forms: list[tuple[str, ipaddress.IPv4Address]] = []
    if ip.ipv4_mapped is not None:
        forms.append(("an IPv4-mapped form", ip.ipv4_mapped))
    if ip.sixtofour is not None:
        forms.append(("a 6to4 form", ip.sixtofour))
    if ip.teredo is not None:
        server, client = ip.teredo
        forms.extend([("a Teredo form", server), ("a Teredo form", client)])
    if ip in _NAT64:
        forms.append(("a NAT64 form", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    return forms


def _plain_reason(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    request_target: str


class _Watchdog:
    """Shuts a socket down at the deadline, so no slow peer can hold a read past it."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.fired = False
        self._sock = sock
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            # the plain socket's shutdown: an SSLSocket's own would tear its TLS state down
            # under the reading thread
            with contextlib.suppress(OSError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to a vetted address; ``Host`` stays the URL's host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._pinned_address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._pinned_address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to a vetted address; SNI and the certificate check use the host."""

    def __init__(
        self, host: str, port: int, *, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._pinned_address = address
        self._pinned_context = context

    def connect(self) -> None:
        sock = socket.create_connection((self._pinned_address, self.port), self.timeout)
        try:
            self.sock = self._pinned_context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class GuardedFetcher:
    """The real ``Fetcher`` (see the module docstring for what it guards).

    ``resolver`` and ``ssl_context`` are seams for tests and unusual deployments; the defaults
    are the system resolver and ``ssl.create_default_context()`` (certificates verified).
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allowed_hosts: frozenset[str] = frozenset(),
        max_bytes: int = 2_000_000,
        timeout: float = 5.0,
        max_redirects: int = 3,
        user_agent: str = "Merito/0.1",
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_bytes < 0:
            raise InvalidInput(f"max_bytes must be >= 0, got {max_bytes}", property="max_bytes")
        if not timeout > 0:
            raise InvalidInput(f"timeout must be > 0, got {timeout}", property="timeout")
        if max_redirects < 0:
            raise InvalidInput(
                f"max_redirects must be >= 0, got {max_redirects}", property="max_redirects"
            )
        self._allow_private = allow_private
        self._allowed_hosts = frozenset(_normal_host(h) for h in allowed_hosts)
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._max_redirects = max_redirects
        self._user_agent = user_agent
        self._resolver = resolver
        self._ssl_context = ssl_context or ssl.create_default_context()
        if allow_private:
            _log.warning("fetcher allows private addresses: SSRF guard is off (development only)")

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        """GET ``url``, following at most ``max_redirects`` redirects; 2xx only."""
        deadline = time.monotonic() + self._timeout
        current = url
        for _ in range(self._max_redirects + 1):
            target = _parse_url(current)
            addresses = self._vet(target, deadline)
            status, reason, headers, body = self._exchange(
                target, addresses, accept=accept, deadline=deadline
            )
            if status in _REDIRECT_STATUSES:
                current = _redirect_url(target, status, headers)
                continue
            if body is None:
                raise FetchError(f"fetching {current} failed: HTTP {status} {reason}".rstrip())
            return FetchResponse(
                status=status,
                body=body,
                content_type=headers.get("content-type", ""),
                headers=headers,
                url=current,
            )
        raise FetchError(f"refused to fetch {url}: more than {self._max_redirects} redirects")

    # -- the guard ---------------------------------------------------------------------------

    def _vet(self, target: _Target, deadline: float) -> list[str]:
        """The host's addresses, refused if any is blocked (the fetch uses only these)."""
        addresses = self._resolve(target, deadline)
        if self._allow_private or _normal_host(target.host) in self._allowed_hosts:
            return addresses
        for address in addresses:
            reason = check_address(address)
            if reason is None:
                continue
            if _is_ip_literal(target.host):
                shown = f"{address} is {reason}"
            else:
                shown = f"{target.host} resolves to {address}, {reason}"
            raise FetchError(f"refused to fetch {target.url}: {shown} ({_ALLOW_HINT})")
        return addresses

    def _resolve(self, target: _Target, deadline: float) -> list[str]:
        # getaddrinfo has no timeout of its own: run it aside and stop waiting at the deadline
        found: list[str] = []
        failed: list[BaseException] = []

        def work() -> None:
            try:
                found.extend(self._resolver(target.host, target.port))
            except BaseException as e:  # handed to the fetching thread below
                failed.append(e)

        worker = threading.Thread(target=work, name="merito-fetch-resolve", daemon=True)
        worker.start()
        worker.join(max(deadline - time.monotonic(), 0.0))
        if worker.is_alive():
            raise FetchError(
                f"could not fetch {target.url}: resolving {target.host} timed out "
                f"(limit {self._timeout:g}s)"
            )
        if failed:
            error = failed[0]
            if isinstance(error, OSError | UnicodeError):
                raise FetchError(
                    f"could not fetch {target.url}: cannot resolve {target.host} ({error})"
                ) from error
            raise error
        addresses: list[str] = []
        for address in found:
            try:
                ipaddress.ip_address(address)
            except ValueError as e:
                raise FetchError(
                    f"could not fetch {target.url}: {target.host} resolved to {address!r}, "
                    "not an IP address"
                ) from e
            addresses.append(address)
        if not addresses:
            raise FetchError(f"could not fetch {target.url}: {target.host} has no address")
        return addresses

    # -- one request -------------------------------------------------------------------------

    def _exchange(
        self, target: _Target, addresses: list[str], *, accept: str, deadline: float
    ) -> tuple[int, str, dict[str, str], bytes | None]:
        """One GET; returns (status, reason, headers, body), body only for a 2xx answer."""
        conn, sock = self._connect(target, addresses, deadline)
        watchdog = _Watchdog(sock, deadline - time.monotonic())
        try:
            conn.putrequest("GET", target.request_target, skip_accept_encoding=True)
            conn.putheader("Accept", accept)
            conn.putheader("Accept-Encoding", "identity")
            conn.putheader("User-Agent", self._user_agent)
            conn.putheader("Connection", "close")
            conn.endheaders()
            response = conn.getresponse()
            headers: dict[str, str] = {}
            for name, value in response.getheaders():
                key = name.lower()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
            body = None
            if 200 <= response.status < 300:
                body = self._read_body(target, response, headers, sock, deadline)
            if watchdog.fired:
                raise TimeoutError("deadline reached")
            return response.status, response.reason, headers, body
        except FetchError:
            raise
        except (OSError, http.client.HTTPException) as e:
            if watchdog.fired or isinstance(e, TimeoutError):
                raise FetchError(self._timed_out(target)) from e
            raise FetchError(f"could not fetch {target.url}: {_describe(e)}") from e
        finally:
            watchdog.cancel()
            conn.close()
            sock.close()

    def _connect(
        self, target: _Target, addresses: list[str], deadline: float
    ) -> tuple[http.client.HTTPConnection, socket.socket]:
        last: OSError | None = None
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            conn: http.client.HTTPConnection
            if target.scheme == "https":
                conn = _PinnedHTTPSConnection(
                    target.host,
                    target.port,
                    address=address,
                    timeout=remaining,
                    context=self._ssl_context,
                )
            else:
                conn = _PinnedHTTPConnection(
                    target.host, target.port, address=address, timeout=remaining
                )
            try:
                conn.connect()
            except OSError as e:
                conn.close()
                last = e
                continue
            if conn.sock is None:  # pragma: no cover - connect() always sets it
                continue
            return conn, conn.sock
        if last is None or isinstance(last, TimeoutError):
            raise FetchError(self._timed_out(target))
        raise FetchError(f"could not fetch {target.url}: {_describe(last)}") from last

    def _read_body(
        self,
        target: _Target,
        response: http.client.HTTPResponse,
        headers: dict[str, str],
        sock: socket.socket,
        deadline: float,
    ) -> bytes:
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchError(
                f"refused to fetch {target.url}: the response is {encoding!r}-encoded "
                "(only the identity encoding is accepted)"
            )
        declared = _content_length(headers.get("content-length"))
        if declared is not None and declared > self._max_bytes:
            raise FetchError(self._too_large(target, f"{declared} bytes (Content-Length)"))
        chunks: list[bytes] = []
        total = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(self._timed_out(target))
            sock.settimeout(remaining)
            chunk = response.read1(min(_CHUNK_BYTES, self._max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > self._max_bytes:
                raise FetchError(self._too_large(target, f"at least {self._max_bytes + 1} bytes"))
        return b"".join(chunks)

    def _timed_out(self, target: _Target) -> str:
        return f"could not fetch {target.url}: timed out (limit {self._timeout:g}s)"

    def _too_large(self, target: _Target, size: str) -> str:
        return (
            f"refused to fetch {target.url}: the response is {size}, "
            f"more than the limit of {self._max_bytes} bytes"
        )


def _parse_url(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise FetchError(f"refused to fetch {url!r}: not a valid URL ({e})") from e
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        got = f"a {scheme}: URL" if scheme else "no scheme"
        raise FetchError(f"refused to fetch {url}: only http and https URLs are fetched ({got})")
    if "@" in parts.netloc:
        raise FetchError(f"refused to fetch {url}: URLs with user information are not fetched")
    host = parts.hostname
    if not host:
        raise FetchError(f"refused to fetch {url}: the URL has no host")
    try:
        host.encode("idna")
    except UnicodeError as e:
        raise FetchError(f"refused to fetch {url}: {host!r} is not a valid host name") from e
    request_target = parts.path or "/"
    if parts.query:
        request_target = f"{request_target}?{parts.query}"
    return _Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port if port is not None else (443 if scheme == "https" else 80),
        request_target=request_target,
    )


def _redirect_url(target: _Target, status: int, headers: dict[str, str]) -> str:
    location = headers.get("location", "").strip()
    if not location:
        raise FetchError(
            f"fetching {target.url} failed: HTTP {status} redirect without a Location header"
        )
    next_url = urljoin(target.url, location)
    if target.scheme == "https" and urlsplit(next_url).scheme.lower() == "http":
        raise FetchError(
            f"refused to fetch {target.url}: it redirects from https to http ({next_url})"
        )
    return next_url


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _content_length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.split(",")[0].strip())
    except ValueError:
        return None


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
