"""Load-test helpers: a seeded instance, `merito serve` as a real server, and a load driver.

The driver is wrk (Debian's `wrk` package) when it is installed, else a small asyncio HTTP/1.1
client (keep-alive, N connections) run in a separate process: either way the load comes from
another process than the server's, over TCP on 127.0.0.1. Latencies are per request, from the
driver's side.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from merito import bootstrap
from merito.config import Settings
from merito.net.mailer import MemoryMailer
from merito.services import accounts, catalog, credentials
from merito.services.platform import Actor, Permission, Platform

HOST = "127.0.0.1"
#: a busy machine imports the app slowly in each worker process
START_SECONDS = 300.0
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
MASTER_KEY = "5a" * 32
MERITO = str(Path(sys.executable).parent / "merito")
ACHIEVEMENT: dict[str, Any] = {
    "name": "Data Analysis with Python",
    "description": "Cleans, analyses and visualises tabular data with pandas and matplotlib.",
    "achievementType": "Competency",
    "criteria": {"narrative": "Passed a graded analysis project reviewed against the rubric."},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Instance:
    """A seeded Merito database and what the load needs from it."""

    env: dict[str, str]
    base_url: str
    port: int
    org_id: str
    achievement_id: str
    api_key: str
    credential_text: str  # a signed OB 3.0 credential, JSON
    status_path: str  # /status/... of its status list
    platform: Platform
    actor: Actor  # the organisation's owner


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL database (dropped afterwards): its URL."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="merito-load-") as d:
            yield f"sqlite:///{d}/merito.db"
        return
    name = f"merito_load_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(url: str, data_dir: Path) -> Instance:
    """An owner, an issuer organisation, a published achievement, an API key, one credential."""
    port = free_port()
    base_url = f"http://{HOST}:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERITO_")}
    env.update(
        MERITO_DATA_DIR=str(data_dir),
        MERITO_DATABASE_URL=url,
        MERITO_MASTER_KEY=MASTER_KEY,
        MERITO_BASE_URL=base_url,
        MERITO_DEV_MODE="1",
    )
    settings = Settings(
        data_dir=data_dir, database_url=url, master_key=MASTER_KEY, base_url=base_url
    )
    platform = bootstrap.platform(settings, mailer_=MemoryMailer())
    system = Actor.system("load")
    owner = accounts.create_user(
        platform, system, email="owner@load.test", password="correct horse battery"
    )
    actor = Actor(kind="user", id=owner.id, user_id=owner.id)
    org = accounts.create_organisation(platform, actor, slug="load", name="Load Academy")
    view = catalog.create_achievement(platform, actor, org_id=org.id, fields=ACHIEVEMENT)
    catalog.publish_achievement(platform, actor, org_id=org.id, achievement_id=view.id)
    key = accounts.create_api_key(
        platform,
        actor,
        org_id=org.id,
        name="load",
        scopes=[Permission.CREDENTIALS_ISSUE.value, Permission.CREDENTIALS_READ.value],
    ).secret
    record = credentials.issue_credential(
        platform, actor, org_id=org.id, achievement_id=view.id, recipient="learner@load.test"
    )
    status = record.document["credentialStatus"]
    status_url = status["statusListCredential"]
    return Instance(
        env=env,
        base_url=base_url,
        port=port,
        org_id=org.id,
        achievement_id=view.id,
        api_key=key,
        credential_text=json.dumps(record.document),
        status_path=status_url.removeprefix(base_url),
        platform=platform,
        actor=actor,
    )


@contextmanager
def server(instance: Instance, *, workers: int) -> Iterator[subprocess.Popen[str]]:
    """`merito serve --workers N` on the instance's port until the block ends (SIGTERM)."""
    process = subprocess.Popen(
        [
            MERITO,
            "serve",
            "--port",
            str(instance.port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-worker",
        ],
        env=instance.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"merito serve exited: {process.stderr.read() if process.stderr else ''}"
                )
            try:
                if httpx.get(instance.base_url + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    "merito serve did not start in time: "
                    + (process.stderr.read() if process.stderr else "")
                )
            time.sleep(0.2)
        # every worker process answers (uvicorn starts them one by one), and each has built
        # its platform (lazily, on the first request that needs the database)
        for _ in range(workers * 20):
            httpx.get(instance.base_url + "/api/v1/health", timeout=5)
            httpx.get(instance.base_url + instance.status_path, timeout=60)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the load driver ------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    name: str
    requests: int
    errors: int  # non-2xx answers, socket errors and timeouts
    seconds: float
    p50_ms: float
    p99_ms: float
    driver: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self, floor: float | None = None) -> str:
        ratio = f"  ({self.rate / floor:.2f}x the floor)" if floor else ""
        return (
            f"  {self.name:<34} {self.rate:8.0f} req/s  p50 {self.p50_ms:6.1f} ms  "
            f"p99 {self.p99_ms:6.1f} ms  errors {self.errors}/{self.requests}{ratio}"
        )


_WRK_SCRIPT = """
local counter = 0
wrk.method = "{method}"
wrk.headers["Content-Type"] = "{content_type}"
{headers}
local body = [==[{body}]==]
request = function()
  counter = counter + 1
  local b = string.gsub(body, "@N@", tostring(counter) .. "-" .. tostring(math.random(1, 1e9)))
  return wrk.format(nil, nil, nil, b)
end
done = function(summary, latency, requests)
  io.write(string.format("MERITO %d %d %d %d %d %d %f %f\\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration, 0, 0,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def run_load(
    name: str,
    url: str,
    *,
    method: str = "GET",
    body: str = "",
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
    seconds: float = 10.0,
    connections: int = 32,
    threads: int = 2,
) -> LoadResult:
    """``seconds`` of load on ``url`` from another process (wrk, else the asyncio driver).
    ``@N@`` in ``body`` becomes a number unique to each request."""
    wrk = shutil.which("wrk")
    if wrk is not None:
        return _wrk(
            name, url, wrk, method, body, headers or {}, content_type, seconds, connections, threads
        )
    return _python_driver(
        name, url, method, body, headers or {}, content_type, seconds, connections
    )


def _wrk(
    name: str,
    url: str,
    wrk: str,
    method: str,
    body: str,
    headers: dict[str, str],
    content_type: str,
    seconds: float,
    connections: int,
    threads: int,
) -> LoadResult:
    header_lines = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    script = _WRK_SCRIPT.format(
        method=method, content_type=content_type, headers=header_lines, body=body
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                wrk,
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds:.0f}s",
                "--timeout",
                "5s",
                "-s",
                f.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(f.name)
    match = re.search(r"^MERITO (\d+) (\d+) (\d+) (\d+) \d+ \d+ ([\d.]+) ([\d.]+)$", out, re.M)
    if match is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    requests, socket_errors, status_errors, micros = (int(match.group(i)) for i in range(1, 5))
    return LoadResult(
        name=name,
        requests=requests,
        errors=socket_errors + status_errors,
        seconds=micros / 1e6,
        p50_ms=float(match.group(5)),
        p99_ms=float(match.group(6)),
        driver="wrk",
    )


def _python_driver(
    name: str,
    url: str,
    method: str,
    body: str,
    headers: dict[str, str],
    content_type: str,
    seconds: float,
    connections: int,
) -> LoadResult:
    spec = json.dumps(
        {
            "url": url,
            "method": method,
            "body": body,
            "headers": headers,
            "content_type": content_type,
            "seconds": seconds,
            "connections": connections,
        }
    )
    out = subprocess.run(
        [sys.executable, __file__, "--drive"],
        input=spec,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out)
    return LoadResult(name=name, driver="asyncio", **result)


async def _drive(spec: dict[str, Any]) -> dict[str, Any]:
    """The fallback driver: raw HTTP/1.1 keep-alive connections (httpx costs too much CPU)."""
    from urllib.parse import urlsplit

    parts = urlsplit(spec["url"])
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    latencies: list[float] = []
    errors = 0
    counter = 0
    deadline = time.perf_counter() + spec["seconds"]

    async def one_connection() -> None:
        nonlocal errors, counter
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        while time.perf_counter() < deadline:
            counter += 1
            payload = spec["body"].replace("@N@", f"{counter}-{secrets.token_hex(4)}").encode()
            head = [
                f"{spec['method']} {path} HTTP/1.1",
                f"Host: {parts.netloc}",
                f"Content-Type: {spec['content_type']}",
                f"Content-Length: {len(payload)}",
            ]
            head += [f"{k}: {v}" for k, v in spec["headers"].items()]
            started = time.perf_counter()
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not status_line.split(b" ")[1].startswith(b"2"):
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(spec["connections"])))
    elapsed = time.perf_counter() - started
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
    }


def rate_of(fn: Any, seconds: float = 3.0) -> float:
    """Calls per second of ``fn()`` in this process (a floor measured in the same run)."""
    fn()
    n = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - started)


if __name__ == "__main__" and sys.argv[1:] == ["--drive"]:
    print(json.dumps(asyncio.run(_drive(json.load(sys.stdin)))))
