"""Issuance through the API (POST /api/v1/orgs/{org}/credentials with an API key) under load
from another process, beside two floors from the same run.

Run: .venv/bin/python benchmarks/load_issue.py [--db postgresql,sqlite] [--workers 2]
     [--seconds 10] [--connections 16]

For each database it seeds an issuer, an achievement and an API key, starts `merito serve
--workers W --no-worker` on 127.0.0.1 and drives it with wrk (else an asyncio client): every
request issues a new eddsa-rdfc-2022 credential to a new recipient (signature, status-list
position, audit entry, outbox messages; one transaction each). The floors: GET /api/v1/health
through the same server (the HTTP stack alone), and the in-process rate of the same service call
(``credentials.issue_credential``) on one core. Goal (issue 9): >= 300 credentials/s through the
API on PostgreSQL with no errors on this 2-core machine. docs/reliability.md has the figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _load import Instance, database, rate_of, run_load, seed, server
from merito.services import credentials


def issue_rate(instance: Instance) -> float:
    """The same service call in this process, one credential at a time (one core)."""
    numbers = itertools.count()

    def issue_one() -> None:
        credentials.issue_credential(
            instance.platform,
            instance.actor,
            org_id=instance.org_id,
            achievement_id=instance.achievement_id,
            recipient=f"floor{next(numbers)}@load.test",
            notify=False,
        )

    return rate_of(issue_one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", default="postgresql,sqlite")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for kind in args.db.split(","):
        with tempfile.TemporaryDirectory(prefix="merito-load-") as d, database(kind) as url:
            instance = seed(url, Path(d))
            bare = issue_rate(instance)
            print(
                f"{kind}: merito serve --workers {args.workers}, {args.connections} connections, "
                f"{args.seconds:.0f} s per endpoint"
            )
            print(f"  {'floor: issue_credential, in process':<34} {bare:8.0f} /s")
            body = json.dumps(
                {
                    "achievement_id": instance.achievement_id,
                    "recipient": "learner-@N@@load.test",
                    "notify": False,
                }
            )
            with server(instance, workers=args.workers):
                common = {"seconds": args.seconds, "connections": args.connections}
                health = run_load(
                    "floor: GET /api/v1/health", instance.base_url + "/api/v1/health", **common
                )
                print(health.line())
                issued = run_load(
                    "POST .../credentials (issue)",
                    f"{instance.base_url}/api/v1/orgs/{instance.org_id}/credentials",
                    method="POST",
                    body=body,
                    headers={"Authorization": f"Bearer {instance.api_key}"},
                    **common,
                )
                print(issued.line(health.rate) + f"  [{issued.rate / bare:.2f}x in process]")
            goal = issued.rate >= 300 and issued.errors == 0
            print(
                f"  goal (>= 300 credentials/s, 0 errors): {'met' if goal else 'NOT met'}"
                f"  [driver: {issued.driver}]"
            )


if __name__ == "__main__":
    main()
