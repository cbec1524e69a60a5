"""Public verification and status-list fetches through `merito serve`, under load from another
process, beside floors from the same run.

Run: .venv/bin/python benchmarks/load_verify.py [--db sqlite,postgresql] [--workers 2]
     [--seconds 10] [--connections 32]

For each database it seeds an issuer and its credential (OB 3.0, eddsa-rdfc-2022, did:web of
this platform, with a status list) and a did:key credential, starts `merito serve --workers W`
on 127.0.0.1 and drives it with wrk (else an asyncio client) for ``--seconds`` per endpoint:
GET /api/v1/health (the trivial-endpoint floor: what the HTTP stack alone allows), POST
/api/v1/verify with each credential (anyone may call it: the platform's own one resolves its
did:web and reads its status list from the database on every request), GET the credential's
status list (/status/...), and the platform credential again on a server whose cache of
signature checks is off (MERITO_VERIFY_CACHE_ENTRIES=0). The other floors are the in-process
verification rates of the credentials on one core, without and with that cache. Goal (issue
9): verification >= 1,000 req/s with p99 < 50 ms and no errors on this 2-core machine.
docs/reliability.md has the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _load import MASTER_KEY, LoadResult, database, rate_of, run_load, seed, server
from merito import bootstrap
from merito.config import Settings
from merito.services import issuing, keyfiles, verifying
from merito.services.platform_verification import claimed_issuer, options_for
from merito.verification import VerifyOptions


def offline_credential() -> str:
    """An OB 3.0 credential (eddsa-rdfc-2022) whose did:key issuer verifies offline."""
    signer = keyfiles.new_signer("ed25519")
    achievement = issuing.parse_achievement(
        {
            "id": "https://load.example.org/achievements/1",
            "type": ["Achievement"],
            "name": "Data Analysis with Python",
            "description": "Cleans, analyses and visualises tabular data with pandas.",
            "criteria": {"narrative": "Passed a graded analysis project."},
        }
    )
    issued = issuing.issue_credential(
        achievement=achievement,
        recipient="learner@load.example.org",
        signer=signer,
        issued_at=datetime.now(UTC).replace(microsecond=0),
        issuer_name="Load Academy",
    )
    return json.dumps(issued.document)


def _after_pause(name: str, url: str, **kwargs: Any) -> LoadResult:
    """``run_load`` after a pause: the workers finish the previous run's requests first, or the
    idle one accepts every new keep-alive connection and the other serves none."""
    time.sleep(2)
    return run_load(name, url, **kwargs)


def _verify_rate(text: str, options: VerifyOptions) -> float:
    report = verifying.verify_document(text, options)
    if not report.verified:
        raise SystemExit(f"the seeded credential does not verify: {report.summary}")
    return rate_of(functools.partial(verifying.verify_document, text, options))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for kind in args.db.split(","):
        with tempfile.TemporaryDirectory(prefix="merito-load-") as d, database(kind) as url:
            instance = seed(url, Path(d))
            settings = Settings(
                data_dir=Path(d),
                database_url=url,
                master_key=MASTER_KEY,
                base_url=instance.base_url,
            )
            own = instance.credential_text
            cached = options_for(
                instance.platform, bootstrap.verify_options(settings), issuer=claimed_issuer(own)
            )
            uncached = dataclasses.replace(cached, proof_cache=None)
            offline = offline_credential()
            bare = _verify_rate(own, uncached)
            bare_cached = _verify_rate(own, cached)
            bare_key = _verify_rate(offline, uncached)
            print(
                f"{kind}: merito serve --workers {args.workers}, {args.connections} connections, "
                f"{args.seconds:.0f} s per endpoint"
            )
            print(f"  {'floor: verify in process, 1 core':<34} {bare:8.0f} /s  (platform did:web)")
            print(f"  {'  the same, signature cache on':<34} {bare_cached:8.0f} /s")
            print(f"  {'  did:key credential, no cache':<34} {bare_key:8.0f} /s")
            common = {"seconds": args.seconds, "connections": args.connections}
            verify_url = instance.base_url + "/api/v1/verify"
            with server(instance, workers=args.workers):
                health = _after_pause(
                    "floor: GET /api/v1/health", instance.base_url + "/api/v1/health", **common
                )
                print(health.line())
                verify = _after_pause(
                    "POST /api/v1/verify (platform)", verify_url, method="POST", body=own, **common
                )
                print(verify.line(health.rate) + f"  [{verify.rate / bare:.2f}x bare verify]")
                key = _after_pause(
                    "POST /api/v1/verify (did:key)",
                    verify_url,
                    method="POST",
                    body=offline,
                    **common,
                )
                print(key.line(health.rate) + f"  [{key.rate / bare_key:.2f}x bare verify]")
                status = _after_pause(
                    "GET status list", instance.base_url + instance.status_path, **common
                )
                print(status.line(health.rate))
            off = dataclasses.replace(
                instance, env={**instance.env, "MERITO_VERIFY_CACHE_ENTRIES": "0"}
            )
            with server(off, workers=args.workers):
                nocache = _after_pause(
                    "POST /api/v1/verify, cache off", verify_url, method="POST", body=own, **common
                )
                print(nocache.line(health.rate) + f"  [{nocache.rate / bare:.2f}x bare verify]")
            print(f"  load average after: {os.getloadavg()[0]:.1f}")
            for result in (verify, key, status):
                goal = result.rate >= 1000 and result.p99_ms < 50 and result.errors == 0
                print(
                    f"  goal for {result.name} (>= 1,000 req/s, p99 < 50 ms, 0 errors): "
                    f"{'met' if goal else 'NOT met'}  [driver: {result.driver}]"
                )


if __name__ == "__main__":
    main()
