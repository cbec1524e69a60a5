"""Public verification and status-list fetches through `merito serve`, under load from another
process, beside two floors from the same run.

Run: .venv/bin/python benchmarks/load_verify.py [--db sqlite,postgresql] [--workers 2]
     [--seconds 10] [--connections 32]

For each database it seeds an issuer and one OB 3.0 credential (eddsa-rdfc-2022), starts
`merito serve --workers W` on 127.0.0.1 and drives it with wrk (else an asyncio client) for
``--seconds`` per endpoint: GET /api/v1/health (the trivial-endpoint floor: what the HTTP stack
alone allows), POST /api/v1/verify with the credential (anyone may call it), and GET the
credential's status list (/status/...). The other floor is the bare in-process verification
rate of the same credential on one core. Goal (issue 9): verification >= 1,000 req/s with p99
< 50 ms and no errors on this 2-core machine. docs/reliability.md has the figures.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _load import database, rate_of, run_load, seed, server
from merito import bootstrap
from merito.config import Settings
from merito.services import issuing, keyfiles, verifying


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
            options = bootstrap.verify_options(Settings())
            # a did:key credential: POST /api/v1/verify is offline (a did:web issuer of this
            # platform does not resolve there; docs/reliability.md)
            text = offline_credential()
            report = verifying.verify_document(text, options)
            if not report.verified:
                raise SystemExit(f"the seeded credential does not verify: {report.summary}")
            bare = rate_of(functools.partial(verifying.verify_document, text, options))
            print(
                f"{kind}: merito serve --workers {args.workers}, {args.connections} connections, "
                f"{args.seconds:.0f} s per endpoint"
            )
            print(f"  {'floor: bare verify, in process, 1 core':<34} {bare:8.0f} /s")
            with server(instance, workers=args.workers):
                common = {"seconds": args.seconds, "connections": args.connections}
                health = run_load(
                    "floor: GET /api/v1/health", instance.base_url + "/api/v1/health", **common
                )
                print(health.line())
                verify = run_load(
                    "POST /api/v1/verify",
                    instance.base_url + "/api/v1/verify",
                    method="POST",
                    body=text,
                    **common,
                )
                print(verify.line(health.rate) + f"  [{verify.rate / bare:.2f}x bare verify]")
                status = run_load(
                    "GET status list", instance.base_url + instance.status_path, **common
                )
                print(status.line(health.rate))
            goal = verify.rate >= 1000 and verify.p99_ms < 50 and verify.errors == 0
            print(
                f"  goal (>= 1,000 req/s, p99 < 50 ms, 0 errors): {'met' if goal else 'NOT met'}"
                f"  [driver: {verify.driver}]"
            )


if __name__ == "__main__":
    main()
