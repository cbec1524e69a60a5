"""Sign/verify rates of each proof format on a ~3 KB OB 3.0 credential, beside raw Ed25519.

Run: .venv/bin/python benchmarks/proofs.py [--seconds S] [--batch N]
Prints one row per operation: rate per CPU-second (one core), and the ratio to the raw
libsodium (PyNaCl) Ed25519 sign or verify rate, measured in rounds alternating with the row's
own. Then the batch verifier (`merito verify --jsonl`) over N credentials with one worker and
with every core, with the cores it kept busy and a check that answers come in input order.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from nacl.signing import SigningKey

from _common import NOW, paired_rate, rate, typical_credential
from merito import bootstrap
from merito.config import Settings
from merito.domain.ports import FixedClock
from merito.formats import rdf
from merito.proofs import data_integrity, vc_jwt
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import keyfiles, verifying
from merito.verification import VerifyOptions, verify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    parser.add_argument("--batch", type=int, default=10_000, help="credentials for --jsonl")
    args = parser.parse_args()

    message = b"x" * 64
    raw_key = SigningKey(b"\x01" * 32)
    raw_sig = raw_key.sign(message).signature
    raw_verify_key = raw_key.verify_key

    def raw_sign() -> object:
        return raw_key.sign(message)

    def raw_verify() -> object:
        return raw_verify_key.verify(message, raw_sig)

    raw_sign_rate = rate(raw_sign, seconds=args.seconds)
    raw_verify_rate = rate(raw_verify, seconds=args.seconds)
    rows: list[tuple[str, float, float]] = []

    def row(name: str, fn: Callable[[], object], floor: Callable[[], object]) -> None:
        value, floor_rate = paired_rate(fn, floor, seconds=args.seconds)
        rows.append((name, value, value / floor_rate))

    signer = keyfiles.new_signer("ed25519", seed=b"\x02" * 32)
    credential = typical_credential(signer.controller)
    size = len(json.dumps(credential, separators=(",", ":")))
    resolver = VerificationMethodResolver()
    options = VerifyOptions(clock=FixedClock(NOW), resolver=resolver)

    signed: dict[str, object] = {}
    for suite in ("eddsa-rdfc-2022", "eddsa-jcs-2022"):
        doc = data_integrity.sign(credential, signer=signer, cryptosuite=suite, created=NOW)
        assert all(r.verified for r in data_integrity.verify(doc, resolver=resolver))
        signed[suite] = doc
        row(
            f"{suite} sign",
            lambda s=suite: data_integrity.sign(
                credential, signer=signer, cryptosuite=s, created=NOW
            ),
            raw_sign,
        )
        row(
            f"{suite} verify (proof)",
            lambda d=doc: data_integrity.verify(d, resolver=resolver),
            raw_verify,
        )
    token = vc_jwt.sign_jwt(credential, signer=signer, now=NOW)
    assert vc_jwt.verify_jwt(token, resolver=resolver).verified
    signed["vc-jwt"] = token
    row("vc-jwt EdDSA sign", lambda: vc_jwt.sign_jwt(credential, signer=signer, now=NOW), raw_sign)
    row(
        "vc-jwt EdDSA verify (proof)",
        lambda: vc_jwt.verify_jwt(token, resolver=resolver),
        raw_verify,
    )
    for name, doc in signed.items():
        row(
            f"{name} full verifier, 9 checks",
            lambda d=doc: verify(d, options=options),
            raw_verify,
        )
    canon_rate = rate(lambda: rdf.canonize(credential), seconds=args.seconds)

    print(f"credential: {size} bytes of compact JSON (OB 3.0, 3 alignments, result, evidence)")
    print(
        f"floor: raw Ed25519 (libsodium via PyNaCl) sign {raw_sign_rate:,.0f}/s, "
        f"verify {raw_verify_rate:,.0f}/s on one core"
    )
    print(f"RDFC-1.0 canonicalization of the credential: {canon_rate:,.0f}/s")
    print(f"{'operation':<42}{'per second':>12}{'x raw Ed25519':>15}")
    for name, value, ratio in rows:
        print(f"{name:<42}{value:>12,.0f}{ratio:>14.1%}")
    goals = {
        "eddsa-rdfc-2022 verify (proof)": 0.10,
        "eddsa-jcs-2022 verify (proof)": 0.50,
        "vc-jwt EdDSA verify (proof)": 0.50,
    }
    for name, _, ratio in rows:
        if name in goals:
            verdict = "meets" if ratio >= goals[name] else "BELOW"
            print(f"goal {name}: >= {goals[name]:.0%} of raw verify: {verdict} ({ratio:.1%})")

    if args.batch > 0:
        _batch(signer, args.batch)


def _batch(signer: keyfiles.Signer, count: int) -> None:
    lines = [
        json.dumps(
            data_integrity.sign(
                typical_credential(signer.controller, n),
                signer=signer,
                cryptosuite="eddsa-jcs-2022" if n % 2 else "eddsa-rdfc-2022",
                created=NOW,
            )
        )
        for n in range(count)
    ]
    factory = bootstrap.verify_options_factory(Settings())
    cores = os.cpu_count() or 1
    results = {}
    for workers in sorted({1, cores}):
        before = os.times()
        start = time.perf_counter()
        in_order = valid = 0
        for n, (ok, line) in enumerate(
            verifying.verify_lines(
                lines, options_factory=factory, batch=verifying.BatchSettings(workers=workers)
            ),
            start=1,
        ):
            valid += ok
            in_order += json.loads(line)["line"] == n
        elapsed = time.perf_counter() - start
        after = os.times()
        # CPU seconds of this process and of its (joined) workers per wall second: how many
        # cores the batch kept busy, whatever else the machine was running.
        cpu = sum(after[i] - before[i] for i in range(4))
        results[workers] = count / elapsed
        print(
            f"merito verify --jsonl, {count:,} credentials (half rdfc, half jcs), "
            f"{workers} worker(s): {count / elapsed:,.0f}/s ({valid:,} valid, "
            f"{in_order:,} in input order), {cpu / elapsed:.2f} cores busy"
        )
    if cores > 1:
        print(f"speed-up with {cores} workers: {results[cores] / results[1]:.2f}x")


if __name__ == "__main__":
    main()
