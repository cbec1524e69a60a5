"""The guarded ``WebhookPoster``: HTTP(S) POST with the fetcher's SSRF guard and hard bounds.

It is the ``GuardedFetcher`` (same address vetting and pinning, same allow settings
``MERITO_FETCH_ALLOW_PRIVATE`` / ``MERITO_FETCH_ALLOWED_HOSTS``, same total ``timeout``) with
one POST method: redirects are not followed (a webhook receiver answers, it does not send the
event elsewhere) and at most ``max_response_bytes`` of the answer are read (the delivery log
keeps a short excerpt; a receiver cannot make Merito read a large body).
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Mapping

from merito.domain.integrations import PostResponse
from merito.errors import FetchError
from merito.net.fetcher import GuardedFetcher, _parse_url, _Watchdog

__all__ = ["GuardedPoster"]


class GuardedPoster(GuardedFetcher):
    """``GuardedFetcher`` + ``post`` (see the module docstring)."""

    max_response_bytes = 16_384

    def post(self, url: str, *, body: bytes, headers: Mapping[str, str]) -> PostResponse:
        """POST ``body`` to ``url``; any HTTP answer is returned (the caller judges its status);
        a refused, unreachable or too slow target raises FetchError."""
        deadline = time.monotonic() + self._timeout
        target = _parse_url(url)
        addresses = self._vet(target, deadline)
        conn, sock = self._connect(target, addresses, deadline)
        watchdog = _Watchdog(sock, deadline - time.monotonic())
        try:
            conn.putrequest("POST", target.request_target, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Accept-Encoding", "identity")
            conn.putheader("User-Agent", self._user_agent)
            conn.putheader("Connection", "close")
            conn.endheaders(body)
            response = conn.getresponse()
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            excerpt = response.read(self.max_response_bytes)
            if watchdog.fired:
                raise TimeoutError("deadline reached")
            return PostResponse(status=response.status, body=excerpt)
        except FetchError:
            raise
        except (OSError, http.client.HTTPException) as e:
            if watchdog.fired or isinstance(e, TimeoutError):
                raise FetchError(self._timed_out(target)) from e
            raise FetchError(f"could not post to {target.url}: {type(e).__name__}: {e}") from e
        finally:
            watchdog.cancel()
            conn.close()
            sock.close()
