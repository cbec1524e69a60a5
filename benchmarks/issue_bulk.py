"""Bulk issuance end to end (CSV -> signed credentials in the database), beside bare signing.

Run: .venv/bin/python benchmarks/issue_bulk.py [--rows N] [--workers W] [--batch B] [--db ...]

For each database (a SQLite file, and a temporary PostgreSQL database on 127.0.0.1:5432) it
generates a CSV of N rows, then issues them through ``merito.services.credentials.iter_bulk``,
the service `merito credentials issue-bulk` runs (credential, status position, audit entry,
claim link and three outbox messages per row, batches of B rows per transaction, signing in W
worker processes). Each run is a fresh process, so its peak memory (RSS of the parent and of
its largest signing worker) is its own. It prints credentials/s beside the bare
eddsa-rdfc-2022 signing rate of a ~3 KB OB 3.0 credential measured in the same run, on one
core and on every core, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import psycopg

from _common import NOW, typical_credential
from merito.domain.ports import SystemClock
from merito.net.mailer import MemoryMailer
from merito.proofs import data_integrity
from merito.services import credentials, keyfiles
from merito.services.platform import Platform, new_id
from merito.storage import KeyStore, create_engine_for, migrate, session_factory
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    OrganisationRow,
)

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
ACHIEVEMENT = {
    "id": "https://bench.merito.example/achievements/data-analysis",
    "type": ["Achievement"],
    "achievementType": "Certificate",
    "name": "Data Analysis with Python",
    "description": "Cleans, analyses and visualises tabular data with pandas.",
    "criteria": {"narrative": "Four graded labs and a capstone analysis scored at least 70%."},
}


# --- bare signing ------------------------------------------------------------------------------


def _sign_for(seconds: float) -> int:
    signer = keyfiles.new_signer("ed25519", seed=b"\x02" * 32)
    credential = typical_credential(signer.controller)
    data_integrity.sign(credential, signer=signer, created=NOW)  # warm up
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        data_integrity.sign(credential, signer=signer, cryptosuite="eddsa-rdfc-2022", created=NOW)
        count += 1
    return count


def _warm() -> None:
    _sign_for(0.0)  # imports and first-use caches before anything is timed


def bare_rates(seconds: float, cores: int) -> tuple[float, float]:
    """Sustained signing rates (the same loop on one core, then in one process per core)."""
    _sign_for(0.2)
    single = _sign_for(seconds) / seconds
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=cores, mp_context=context, initializer=_warm) as pool:
        list(pool.map(_sign_for, [0.2] * cores))  # start every worker
        start = time.perf_counter()
        counts = list(pool.map(_sign_for, [seconds] * cores))
        elapsed = time.perf_counter() - start
    return single, sum(counts) / elapsed


# --- one end-to-end run (in its own process) ----------------------------------------------------


def _seed(platform: Platform) -> tuple[str, str]:
    org_id, achievement_id, version_id = new_id(), new_id(), new_id()
    with platform.transaction() as session:
        session.add(OrganisationRow(id=org_id, slug="bench", name="Bench Academy", kind="issuer"))
        session.flush()
        session.add(
            AchievementRow(id=achievement_id, org_id=org_id, status="published", current_version=1)
        )
        session.flush()
        session.add(
            AchievementVersionRow(
                id=version_id,
                org_id=org_id,
                achievement_id=achievement_id,
                version=1,
                document=ACHIEVEMENT,
            )
        )
    return org_id, achievement_id


def _descendants_peak_mb() -> float:
    """The largest peak RSS (VmHWM) among this process's descendants (the signing workers
    are children of the forkserver, so RUSAGE_CHILDREN does not see them)."""
    parents: dict[int, int] = {}
    peaks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0").strip() or 0)
        peaks[int(entry.name)] = int(fields.get("VmHWM", "0 kB").split()[0] or 0)
    me, best = os.getpid(), 0
    for pid in parents:
        ancestor = parents.get(pid, 0)
        while ancestor not in (0, 1, me):
            ancestor = parents.get(ancestor, 0)
        if ancestor == me:
            best = max(best, peaks.get(pid, 0))
    return best / 1024


def run_case(url: str, *, rows: int, workers: int, batch: int) -> dict[str, Any]:
    engine = create_engine_for(url)
    migrate(engine)
    sessions = session_factory(engine)
    clock = SystemClock()
    platform = Platform(
        sessions=sessions,
        keystore=KeyStore(sessions, secrets.token_bytes(32), clock=clock),
        clock=clock,
        mailer=MemoryMailer(clock=clock),
        base_url="https://bench.merito.example",
    )
    org_id, achievement_id = _seed(platform)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "rows.csv"
        with csv_path.open("w", encoding="utf-8") as f:
            f.write("recipient,achievement_id\n")
            for n in range(rows):
                f.write(f"learner{n}@example.org,{achievement_id}\n")
        actor = credentials.operator_actor("benchmark")
        issued = 0
        worker_peak = 0.0

        def sample(_progress: credentials.BulkProgress) -> None:
            nonlocal worker_peak
            worker_peak = max(worker_peak, _descendants_peak_mb())

        start = time.perf_counter()
        with csv_path.open(encoding="utf-8", newline="") as source:
            for result in credentials.iter_bulk(
                platform,
                actor,
                org_id=org_id,
                lines=source,
                job_key="benchmark",
                batch_size=batch,
                workers=workers,
                progress=sample,
            ):
                if result.outcome != "issued":
                    raise SystemExit(f"row {result.row}: {result.outcome} {result.reason}")
                issued += 1
        elapsed = time.perf_counter() - start
    engine.dispose()
    return {
        "issued": issued,
        "seconds": elapsed,
        "rate": issued / elapsed,
        "parent_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_rss_mb": worker_peak,
    }


def _in_subprocess(url: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--case-url",
        url,
        "--rows",
        str(args.rows),
        "--workers",
        str(args.workers),
        "--batch",
        str(args.batch),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {url.split(':')[0]} run failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="credentials per database")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="signers")
    parser.add_argument("--batch", type=int, default=credentials.DEFAULT_BATCH_SIZE)
    parser.add_argument("--seconds", type=float, default=2.0, help="bare signing time")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--case-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case_url:
        result = run_case(args.case_url, rows=args.rows, workers=args.workers, batch=args.batch)
        print(json.dumps(result))
        return

    cores = os.cpu_count() or 1
    print(
        f"bulk issuance of {args.rows:,} credentials, {args.workers} signing worker(s), "
        f"batches of {args.batch}, {cores} core(s); {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    single, every = bare_rates(args.seconds, cores)
    print(
        f"bare eddsa-rdfc-2022 signing: {single:8.0f}/s on one core, "
        f"{every:8.0f}/s on {cores} cores"
    )
    cases: list[tuple[str, str]] = []
    pg_name: str | None = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.db in ("sqlite", "both"):
            cases.append(("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}"))
        admin = None
        if args.db in ("postgresql", "both"):
            pg_name = f"merito_bench_{secrets.token_hex(4)}"
            admin = psycopg.connect(PG_ADMIN, autocommit=True)
            admin.execute(f'CREATE DATABASE "{pg_name}"')
            cases.append(("PostgreSQL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"))
        try:
            print(
                f"{'database':<11} {'cred/s':>8} {'seconds':>8} {'vs 1 core':>10} "
                f"{'vs all':>7} {'parent MB':>10} {'worker MB':>10}"
            )
            for name, url in cases:
                r = _in_subprocess(url, args)
                print(
                    f"{name:<11} {r['rate']:8.0f} {r['seconds']:8.1f} "
                    f"{r['rate'] / single:9.0%} {r['rate'] / every:7.0%} "
                    f"{r['parent_rss_mb']:10.0f} {r['worker_rss_mb']:10.0f}"
                )
        finally:
            if admin is not None:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
                admin.close()
    print("goals: >= 50% of the bare signing rate, >= 1,000 credentials/s, peak < 500 MB")
    # other work on the machine shares the cores: the figures mean little when this is high
    print("load average (1, 5, 15 min): {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
