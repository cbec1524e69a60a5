"""Browser tests: Merito served by uvicorn on 127.0.0.1, driven by Debian's Chromium (Playwright).

The server runs the composed app (``merito.asgi``) in a thread over a fresh SQLite copy of the
migrated template, seeded with the demo programme (an issuer, achievements, credentials, one
revoked). Playwright's Python package brings its driver but never a browser: the tests use
``/usr/bin/chromium`` (``apt-get install chromium``; ``make test`` installs it) and are skipped
only when it is missing outside CI.

Each page a test visits can be screenshotted at desktop and phone width into
``test-output/screenshots/`` and checked with axe-core (``tests/browser/js``, installed by
``make test``): a serious or critical violation fails the test.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from browser_support import DESKTOP, PASSWORD

from merito.asgi import create_app
from merito.config import Settings
from merito.domain.ports import SystemClock
from merito.net.mailer import MemoryMailer
from merito.services import demo
from merito.services.platform import Platform
from merito.storage import KeyStore, create_engine_for, session_factory

CHROMIUM = os.environ.get("MERITO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
MASTER_KEY = b"\x33" * 32
_EXPECTED_STATUS = "Failed to load resource: the server responded with a status of 4"

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    reason = f"Chromium not found at {CHROMIUM}: `apt-get install chromium` (make test does)"
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Site:
    """The running server, its platform and what the demo seeded."""

    url: str
    platform: Platform
    seed: demo.DemoSeed


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a thread cannot; pytest keeps Ctrl-C
        pass


@pytest.fixture(scope="session")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _chromium_or_skip()
    folder = tmp_path_factory.mktemp("browser-db")
    database = folder / "merito.db"
    shutil.copyfile(sqlite_template, database)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    engine = create_engine_for(f"sqlite:///{database}")
    sessions = session_factory(engine)
    clock = SystemClock()
    platform = Platform(
        sessions=sessions,
        keystore=KeyStore(sessions, MASTER_KEY, clock=clock),
        clock=clock,
        mailer=MemoryMailer(clock=clock),
        base_url=base_url,
        status_list_size=1024,
    )
    seed = demo.seed_demo(platform, password=PASSWORD)
    settings = Settings(base_url=base_url, database_url=f"sqlite:///{database}")
    app = create_app(settings=settings, platform=platform)
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="merito-browser-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield Site(url=base_url, platform=platform, seed=seed)
    finally:
        server.should_exit = True
        thread.join(15)
        engine.dispose()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Any]:
    # per module, not per session: while Playwright's sync API is open it runs an asyncio
    # loop in this thread, and every later test calling anyio.run / asyncio.run would fail
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=_chromium_or_skip(), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


class Pages:
    """Opens pages in a fresh context and records what the browser complained about."""

    def __init__(self, browser: Any, site: Site) -> None:
        self.browser = browser
        self.site = site
        self.contexts: list[Any] = []
        self.console_errors: list[str] = []

    def new(
        self, *, viewport: dict[str, int] = DESKTOP, locale: str = "en-GB", **options: Any
    ) -> Any:
        context = self.browser.new_context(
            viewport=viewport, locale=locale, base_url=self.site.url, **options
        )
        self.contexts.append(context)
        page = context.new_page()
        # CSP violations and script errors land here: a page must produce none
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        return page

    def _console(self, message: Any) -> None:
        # a form answered 401/422/429 on purpose; Chromium logs every such status
        if message.type == "error" and not message.text.startswith(_EXPECTED_STATUS):
            self.console_errors.append(message.text)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Any, site: Site) -> Iterator[Pages]:
    opened = Pages(browser, site)
    try:
        yield opened
        assert opened.console_errors == [], (
            f"the browser reported errors (CSP, scripts): {opened.console_errors}"
        )
    finally:
        opened.close()
