"""Verifying a Verifiable Presentation beside verifying its credentials one by one.

Run: .venv/bin/python benchmarks/presentations.py [--seconds S] [--credentials N]
A presentation of N ~3 KB OB 3.0 credentials (eddsa-rdfc-2022, issuer did:key), signed by a
holder did:key with eddsa-jcs-2022 and a challenge/domain. The floor is the work a verifier
cannot skip: the full credential pipeline on each of the N credentials. The ratio is the
presentation's overhead (parse, holder proof over the whole VP, challenge, domain, binding).
Also: signing the presentation, and the PDF certificate and baked-SVG renderers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import NOW, paired_rate, rate, typical_credential
from merito.domain.ports import FixedClock
from merito.formats import baking
from merito.formats.images import generate_badge_svg
from merito.proofs import data_integrity
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import keyfiles
from merito.verification import VerifyOptions, verify
from merito.verification.presentations import verify_presentation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    parser.add_argument("--credentials", type=int, default=5, help="credentials in the VP")
    args = parser.parse_args()

    issuer = keyfiles.new_signer("ed25519", seed=b"\x03" * 32)
    holder = keyfiles.new_signer("ed25519", seed=b"\x04" * 32)
    credentials = [
        data_integrity.sign(typical_credential(issuer.controller, n), signer=issuer, created=NOW)
        for n in range(args.credentials)
    ]
    presentation = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": holder.controller,
        "verifiableCredential": credentials,
    }

    def sign() -> dict[str, object]:
        return data_integrity.sign(
            presentation,
            signer=holder,
            cryptosuite="eddsa-jcs-2022",
            created=NOW,
            proof_purpose="authentication",
            challenge="c",
            domain="d.example",
        )

    vp = sign()
    text = json.dumps(vp)
    options = VerifyOptions(clock=FixedClock(NOW), resolver=VerificationMethodResolver())
    report = verify_presentation(text, options=options, challenge="c", domain="d.example")
    assert report.verified, report.to_dict()
    texts = [json.dumps(c) for c in credentials]

    def one_by_one() -> None:
        for t in texts:
            verify(t, options=options)

    def whole() -> None:
        verify_presentation(text, options=options, challenge="c", domain="d.example")

    vp_rate, floor_rate = paired_rate(whole, one_by_one, seconds=args.seconds)
    sign_rate = rate(sign, seconds=args.seconds / 3)
    svg = generate_badge_svg(name="Data Analysis with Python", seed="x")
    bake_rate = rate(lambda: baking.bake_svg(svg, credentials[0]), seconds=args.seconds / 3)
    size = len(text.encode())
    print(f"presentation of {args.credentials} credentials, {size:,} bytes")
    print(f"{'operation':42} {'per CPU-s':>10} {'ratio':>8}")
    print(f"{'verify_presentation (all checks)':42} {vp_rate:10.1f} {vp_rate / floor_rate:8.3f}")
    print(f"{'floor: verify each credential':42} {floor_rate:10.1f} {1.0:8.3f}")
    print(f"{'sign the presentation (eddsa-jcs-2022)':42} {sign_rate:10.1f}")
    print(f"{'bake a credential into an SVG badge':42} {bake_rate:10.1f}")


if __name__ == "__main__":
    main()
