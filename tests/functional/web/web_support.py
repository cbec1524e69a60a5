"""What the in-process page tests share: a cookie-keeping browser on the composed app and a
demo-seeded site on a copy of the migrated SQLite template."""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx

from merito.asgi import create_app
from merito.config import Settings
from merito.domain.ports import SystemClock
from merito.net.mailer import MemoryMailer
from merito.services import demo
from merito.services.platform import Platform
from merito.storage import KeyStore, create_engine_for, session_factory

BASE = "https://merito.test"
PASSWORD = "correct horse battery staple"


class Browser:
    """A cookie-keeping client on the app (httpx's ASGI transport)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=True)
            async with httpx.AsyncClient(
                transport=transport, base_url=BASE, cookies=self.cookies
            ) as client:
                response = await client.request(method, url, **kwargs)
                await response.aread()
                self.cookies = client.cookies
                return response

        # in a thread of its own: Playwright's sync API (the browser tests, same session) keeps
        # an event loop running in the main thread, where anyio.run would refuse to start
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(anyio.run, send).result()

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def csrf(self, path: str = "/login") -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', self.get(path).text)
        assert match is not None, f"no form token on {path}"
        return match.group(1)

    def log_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = self.post(
            "/login", data={"email": email, "password": password, "csrf_token": self.csrf()}
        )
        assert response.status_code == 303, response.text
        return response


#: template database -> (a demo-seeded copy of it, what the seed made): seeded once per process
_SEEDED: dict[Path, tuple[Path, demo.DemoSeed]] = {}
_SEED_LOCK = threading.Lock()
MASTER_KEY = b"\x45" * 32


def _platform(database: Path) -> tuple[Platform, Any]:
    engine = create_engine_for(f"sqlite:///{database}")
    sessions = session_factory(engine)
    clock = SystemClock()
    platform = Platform(
        sessions=sessions,
        keystore=KeyStore(sessions, MASTER_KEY, clock=clock),
        clock=clock,
        mailer=MemoryMailer(clock=clock),
        base_url=BASE,
        status_list_size=1024,
    )
    return platform, engine


def _seeded(template: Path) -> tuple[Path, demo.DemoSeed]:
    """Seeding the demo takes seconds; every module gets a file copy of one seeded database."""
    with _SEED_LOCK:
        if template not in _SEEDED:
            folder = Path(tempfile.mkdtemp(prefix="merito-demo-seed-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            database = folder / "merito.db"
            shutil.copyfile(template, database)
            platform, engine = _platform(database)
            seed = demo.seed_demo(platform, password=PASSWORD)
            engine.dispose()  # the last connection checkpoints the WAL into the file
            _SEEDED[template] = (database, seed)
        return _SEEDED[template]


@contextmanager
def demo_site(folder: Path, template: Path) -> Iterator[tuple[Any, demo.DemoSeed, Platform]]:
    """The composed app over a demo-seeded copy of the template database (its own file)."""
    seeded, seed = _seeded(template)
    database = folder / "merito.db"
    shutil.copyfile(seeded, database)
    platform, engine = _platform(database)
    try:
        yield create_app(settings=Settings(base_url=BASE), platform=platform), seed, platform
    finally:
        engine.dispose()
