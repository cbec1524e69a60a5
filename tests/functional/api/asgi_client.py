"""A synchronous client for the API tests: the app in-process through httpx's ASGI transport."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from fastapi import FastAPI


class ApiClient:
    """A synchronous face on ``httpx.AsyncClient`` + ``ASGITransport`` (the app in-process).

    Starlette's own TestClient is deprecated with httpx; this is the transport httpx ships.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=True)
            async with httpx.AsyncClient(transport=transport, base_url="http://merito.test") as c:
                response = await c.request(method, url, **kwargs)
                await response.aread()
                return response

        return anyio.run(send)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)
