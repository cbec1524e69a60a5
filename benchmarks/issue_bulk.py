"""Bulk issuance end to end (CSV -> signed credentials in the database), beside bare signing.

Run: .venv/bin/python benchmarks/issue_bulk.py [--rows N] [--workers W] [--batch B] [--db ...]

For each database (a SQLite file, and a temporary PostgreSQL database on 127.0.0.1:5432) it
generates a CSV of N rows, then issues them through ``merito.services.credentials.iter_bulk``,
the service `merito credentials issue-bulk` runs (credential, status position, audit entry,
claim link and three outbox messages per row, batches of B rows per transaction, signing in W
worker processes). The achievement is a realistic one (criteria, image, skill alignments, a
result description) and every row has evidence, so a credential is about 3 KB. Each run is a
fresh process, so its peak memory (RSS of the parent and of its largest signing worker) is its
own. The floor is the bare eddsa-rdfc-2022 signing rate of a credential the run issued (its
proof removed), on one core and in one process per core, measured in the same run; the
figures are wall-clock rates, so other work on the machine lowers both. The CPU time per
credential of the parent, the signers and the PostgreSQL server shows where the time goes
whatever the load.
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
from sqlalchemy import select

from _common import NOW
from merito.domain.ports import SystemClock
from merito.net.mailer import MemoryMailer
from merito.proofs import data_integrity
from merito.services import credentials, keyfiles
from merito.services.platform import Platform, new_id
from merito.storage import KeyStore, create_engine_for, migrate, session_factory
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    CredentialRow,
    OrganisationRow,
)

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
ACHIEVEMENT = {
    "id": "https://bench.merito.example/achievements/data-analysis",
    "type": ["Achievement"],
    "achievementType": "Certificate",
    "name": "Data Analysis with Python",
    "description": "Cleans, analyses and visualises tabular data with pandas; "
    "communicates findings in a reproducible notebook.",
    "criteria": {
        "id": "https://bench.merito.example/achievements/data-analysis/criteria",
        "narrative": "Learners complete four graded labs and a capstone analysis, assessed "
        "against the published rubric with a score of at least 70%.",
    },
    "image": {
        "id": "https://bench.merito.example/achievements/data-analysis/image.png",
        "type": "Image",
        "caption": "Data Analysis with Python",
    },
    "alignment": [
        {
            "type": ["Alignment"],
            "targetName": name,
            "targetUrl": f"http://data.europa.eu/esco/skill/{uri}",
            "targetFramework": "ESCO",
            "targetType": "ext:ESCOSkill",
        }
        for name, uri in [
            ("Python (computer programming)", "ccd0a1d9-afda-43d9-b901-96344886e14d"),
            ("perform data analysis", "1a0c4f5c-6a2f-4e8e-b4e6-7d1e1b5f0c01"),
            ("visualise data", "9f1b7b36-54a6-4e5e-8f69-3a2e2d6f1c77"),
        ]
    ],
    "resultDescription": [
        {
            "id": "urn:uuid:2f1a5c3e-8b7d-4c1a-9e5f-0a6b7c8d9e01",
            "type": ["ResultDescription"],
            "name": "Capstone score",
            "resultType": "Percent",
            "valueMin": "0",
            "valueMax": "100",
        }
    ],
    "creditsAvailable": 2.5,
    "tag": ["python", "pandas", "data analysis"],
    "inLanguage": "en",
}


# --- bare signing ------------------------------------------------------------------------------

_sample: dict[str, Any] = {}


def _sign_for(seconds: float) -> int:
    signer = _sample["signer"]
    documents = _sample["documents"]
    data_integrity.sign(documents[0], signer=signer, created=NOW)  # warm up
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        document = documents[count % len(documents)]
        data_integrity.sign(document, signer=signer, cryptosuite="eddsa-rdfc-2022", created=NOW)
        count += 1
    return count


def _load_sample(document: dict[str, Any]) -> None:
    """Variants of an issued credential, as bulk issuance signs distinct ones (signing the
    same document again and again is some 10% faster: the canonicalizer's caches hit)."""
    signer = keyfiles.new_signer("ed25519", seed=b"\x02" * 32)
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    unsigned["issuer"] = {**unsigned["issuer"], "id": signer.controller}
    variants = []
    for n in range(64):
        status = {**unsigned["credentialStatus"], "statusListIndex": str(n)}
        variants.append({**unsigned, "id": f"{unsigned['id']}-{n}", "credentialStatus": status})
    _sample.update(signer=signer, documents=variants)
    _sign_for(0.0)  # imports and first-use caches before anything is timed


def bare_rates(document: dict[str, Any], seconds: float, cores: int) -> tuple[float, float, float]:
    """Sustained signing rates of ``document`` (one core, then one process per core), and the
    CPU microseconds one signature takes."""
    _load_sample(document)
    _sign_for(0.2)
    cpu = time.process_time()
    count = _sign_for(seconds)
    cpu_us = (time.process_time() - cpu) / count * 1e6
    single = count / seconds
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=cores, mp_context=context, initializer=_load_sample, initargs=(document,)
    ) as pool:
        list(pool.map(_sign_for, [0.2] * cores))  # start every worker
        start = time.perf_counter()
        counts = list(pool.map(_sign_for, [seconds] * cores))
        elapsed = time.perf_counter() - start
    return single, sum(counts) / elapsed, cpu_us


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


_TICK = os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (the forkserver, and the signing workers it forked)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _usage(pid: int) -> tuple[float, float]:
    """(peak RSS in MB, CPU seconds) of a process, zeros once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0.0
    peak = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")), 0)
    return int(peak) / 1024, (int(stat[11]) + int(stat[12])) / _TICK


def _sample_processes(backends: list[int]) -> tuple[float, float, float, float]:
    """(peak RSS MB of the largest descendant, CPU s of this process, of its descendants,
    of the PostgreSQL ``backends``). Reads a few /proc files: cheap beside a batch."""
    peak = signers = server = 0.0
    for pid in _descendants(os.getpid()):
        rss, cpu = _usage(pid)
        peak, signers = max(peak, rss), signers + cpu
    for pid in backends:
        server += _usage(pid)[1]
    own = resource.getrusage(resource.RUSAGE_SELF)
    return peak, own.ru_utime + own.ru_stime, signers, server


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
    backends: list[int] = []
    if engine.dialect.name == "postgresql":
        # the server processes serving this database (the pool keeps its connections)
        with engine.connect() as connection:
            backends = list(
                connection.exec_driver_sql(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                ).scalars()
            )
    org_id, achievement_id = _seed(platform)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "rows.csv"
        with csv_path.open("w", encoding="utf-8") as f:
            f.write("recipient,achievement_id,evidence_url,evidence_narrative\n")
            for n in range(rows):
                f.write(
                    f"learner{n}@example.org,{achievement_id},"
                    f"https://bench.merito.example/evidence/{n},"
                    "Capstone: analysis of city bike-share usage reviewed by two assessors\n"
                )
        actor = credentials.operator_actor("benchmark")
        issued = 0
        worker_peak = 0.0
        # CPU from the second batch on: the steady state, without the workers' start-up
        marks: list[tuple[int, float, float, float]] = []

        def sample(progress: credentials.BulkProgress) -> None:
            nonlocal worker_peak
            peak, own, signers, server = _sample_processes(backends)
            worker_peak = max(worker_peak, peak)
            marks.append((progress.issued, own, signers, server))

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
    with platform.reading() as session:
        document = session.scalars(select(CredentialRow.document).limit(1)).one()
    engine.dispose()
    cpu_us: dict[str, float] = {}
    if len(marks) >= 3:
        first, last = marks[1], marks[-1]
        n = max(1, last[0] - first[0])
        for i, name in enumerate(("parent", "signers", "database"), start=1):
            cpu_us[name] = (last[i] - first[i]) / n * 1e6
    return {
        "issued": issued,
        "seconds": elapsed,
        "rate": issued / elapsed,
        "parent_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_rss_mb": worker_peak,
        "cpu_us": cpu_us,
        "document": document,
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


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


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
    load_before = os.getloadavg()
    print(
        f"bulk issuance of {args.rows:,} credentials per database, {args.workers} signing "
        f"worker(s), batches of {args.batch}, {cores} core(s); "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    cases: list[tuple[str, str]] = []
    results: list[tuple[str, dict[str, Any]]] = []
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
            for name, url in cases:
                results.append((name, _in_subprocess(url, args)))
        finally:
            if admin is not None:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
                admin.close()
    document = results[0][1]["document"]
    single, every, sign_us = bare_rates(document, args.seconds, cores)
    size = len(json.dumps(document, separators=(",", ":")))
    print(
        f"bare eddsa-rdfc-2022 signing of an issued credential ({size:,} bytes of JSON): "
        f"{single:,.0f}/s on 1 core, {every:,.0f}/s on {cores} cores"
    )
    print(
        f"{'database':<11} {'rows':>8} {'seconds':>8} {'cred/s':>7} {'vs 1 core':>10} "
        f"{'vs ' + str(cores) + ' cores':>11} {'parent MB':>10} {'worker MB':>10}   "
        "CPU us/credential"
    )
    for name, r in results:
        spent = ", ".join(f"{k} {v:,.0f}" for k, v in r["cpu_us"].items() if v)
        print(
            f"{name:<11} {r['issued']:>8,} {r['seconds']:8.1f} {r['rate']:7,.0f} "
            f"{r['rate'] / single:10.0%} {r['rate'] / every:11.0%} "
            f"{r['parent_rss_mb']:10.0f} {r['worker_rss_mb']:10.0f}   {spent}"
        )
    for name, r in results:
        if r["cpu_us"]:
            # CPU-bound, the wall-clock ratio tends to this when the machine is ours alone
            # (and the parent, one process, keeps up)
            spent = sum(r["cpu_us"].values())
            print(
                f"{name}: {spent:,.0f} us of CPU per credential end to end, {sign_us:,.0f} us "
                f"per bare signature: CPU ratio {sign_us / spent:.0%}"
            )
    for name, r in results:
        # all of it at once: the parent and every worker at its peak
        total = r["parent_rss_mb"] + args.workers * r["worker_rss_mb"]
        print(
            f"goals, {name}: >= 50% of the {cores}-core signing rate "
            f"{_met(r['rate'] >= every / 2)}; >= 1,000 credentials/s "
            f"{_met(r['rate'] >= 1000)}; peak < 500 MB {_met(total < 500)} ({total:.0f} MB "
            f"for the parent and {args.workers} workers)"
        )
    # other work on the machine shares the cores: the rates mean little when this is high
    before = " ".join(f"{x:.1f}" for x in load_before)
    after = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min) before: {before}; after: {after}")


if __name__ == "__main__":
    main()
