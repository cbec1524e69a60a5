"""Wallet import: time to sniff, verify and store one badge, beside the bare verification.

The floor is the same document's verification alone (the pipeline for OB 3.0 / VC-JWT, the
Blockcerts verifier for Blockcerts), measured in the same run; the ratio is what the wallet
adds (sniffing, the issuer's DID document from the database, storing the item and its audit
entry in one transaction). SQLite in a temporary directory; a few rounds: run it on a quiet
machine for figures to compare.

    .venv/bin/python benchmarks/wallet_import.py --rounds 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from merito import bootstrap
from merito.config import Settings
from merito.services import accounts, catalog, credentials, wallet
from merito.services.platform import Actor, Platform
from merito.verification.blockcerts import verify_blockcerts

BLOCKCERTS = (
    Path(__file__).parents[1]
    / "tests/fixtures/blockcerts/cert-verifier-js/fixtures/v2/testnet-valid-2.0.json"
)


def _median_ms(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), master_key="66" * 32)
        platform: Platform = bootstrap.platform(settings)
        owner = accounts.create_user(
            platform, Actor.system("bench"), email="owner@bench.test", password="bench pass 1"
        )
        actor = Actor(kind="user", id=owner.id, user_id=owner.id)
        org = accounts.create_organisation(platform, actor, slug="bench", name="Bench")
        fields = {"name": "Bench", "description": "A badge.", "criteria": {"narrative": "Ran."}}
        achievement = catalog.create_achievement(platform, actor, org_id=org.id, fields=fields)
        catalog.publish_achievement(platform, actor, org_id=org.id, achievement_id=achievement.id)
        options = wallet._options(platform, None)  # the floor: what verification alone needs
        print(f"{'format':<16} {'import ms':>10} {'verify ms':>10} {'ratio':>6}")
        for proof_format in ("eddsa-rdfc-2022", "vc-jwt", "blockcerts-v2"):
            if proof_format == "blockcerts-v2":
                documents = [BLOCKCERTS.read_bytes()] * args.rounds

                def floor(doc: bytes = documents[0]) -> object:
                    return verify_blockcerts(json.loads(doc), clock=platform.clock)
            else:
                records = [
                    credentials.issue_credential(
                        platform,
                        actor,
                        org_id=org.id,
                        achievement_id=achievement.id,
                        recipient=f"l{n}@bench.test",
                        proof_format=proof_format,
                        notify=False,
                    )
                    for n in range(args.rounds)
                ]
                documents = [(r.jwt or json.dumps(r.document)).encode() for r in records]
                issuer = records[0].document.get("issuer", {})
                local = replace(
                    options,
                    resolver=wallet._options(platform, issuer.get("id")).resolver,
                )

                def floor(doc: bytes = documents[0], o: object = local) -> object:
                    return wallet.verify(doc, options=o)  # type: ignore[arg-type]

            verify_ms = _median_ms(floor, args.rounds)
            queue = list(documents)
            users = iter(
                [
                    Actor(kind="user", id=u, user_id=u)
                    for u in (
                        accounts.create_user(
                            platform,
                            Actor.system("bench"),
                            email=f"{uuid.uuid4().hex[:8]}@bench.test",
                            password="bench pass 1",
                        ).id
                        for _ in range(args.rounds)
                    )
                ]
            )

            def work(users: Iterator[Actor] = users, queue: list[bytes] = queue) -> object:
                return wallet.import_credential(platform, next(users), data=queue.pop())

            import_ms = _median_ms(work, args.rounds)
            print(
                f"{proof_format:<16} {import_ms:>10.1f} {verify_ms:>10.1f} "
                f"{import_ms / verify_ms:>6.2f}"
            )


if __name__ == "__main__":
    main()
