"""The batch verifier behind `merito verify --jsonl`: input order, verdicts, bounded streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from merito.domain.ports import FixedClock
from merito.formats.did_key import create_did_key
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key
from merito.services import verifying
from merito.verification import VerifyOptions

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
_KEY = generate_key("Ed25519", seed=bytes([5]) * 32)
_MULTIBASE = _KEY.public_key.to_multibase()
SIGNER = Signer(_KEY, f"{create_did_key(_MULTIBASE)}#{_MULTIBASE}")


def _options() -> VerifyOptions:  # module level: worker processes build their own
    return VerifyOptions(clock=FixedClock(NOW))


def _credential(n: int) -> dict[str, Any]:
    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": f"urn:uuid:9a2b7e5c-1111-4c4c-8d8d-{n:012d}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": SIGNER.controller, "type": ["Profile"], "name": "Merito Test"},
        "validFrom": "2024-01-01T00:00:00Z",
        "name": "Python Fundamentals",
        "credentialSubject": {
            "id": f"did:example:learner-{n}",
            "type": ["AchievementSubject"],
            "achievement": {
                "id": "https://issuer.example/achievements/python",
                "type": ["Achievement"],
                "name": "Python Fundamentals",
                "description": "Writes and tests small Python programs.",
                "criteria": {"narrative": "Passed the final project."},
            },
        },
    }


def _lines(count: int) -> tuple[list[str], list[bool]]:
    """``count`` JSON lines, every fifth forged after signing, every seventh not JSON."""
    lines, expected = [], []
    for n in range(count):
        signed = data_integrity.sign(
            _credential(n),
            signer=SIGNER,
            cryptosuite="eddsa-jcs-2022" if n % 2 else "eddsa-rdfc-2022",
            created=NOW,
        )
        if n % 5 == 4:
            signed["credentialSubject"]["id"] = "did:example:mallory"
        line = json.dumps(signed)
        if n % 7 == 6:
            line = line[: len(line) // 2]
        lines.append(line)
        expected.append(n % 5 != 4 and n % 7 != 6)
    return lines, expected


LINES, EXPECTED = _lines(40)


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_back_in_input_order_with_the_right_verdicts(workers: int) -> None:
    # small chunks, so that the two workers' chunks interleave and finish out of order
    batch = verifying.BatchSettings(workers=workers, chunk_lines=3, window_chunks_per_worker=2)
    results = list(verifying.verify_lines(LINES, options_factory=_options, batch=batch))
    assert [json.loads(line)["line"] for _, line in results] == list(range(1, len(LINES) + 1))
    assert [ok for ok, _ in results] == EXPECTED
    assert [json.loads(line)["verified"] for _, line in results] == EXPECTED


@pytest.mark.parametrize("workers", [1, 2])
def test_lines_stream_through_a_bounded_window(workers: int) -> None:
    consumed = 0

    def source() -> Iterator[str]:
        nonlocal consumed
        for line in LINES:
            consumed += 1
            yield line

    batch = verifying.BatchSettings(workers=workers, chunk_lines=2, window_chunks_per_worker=2)
    results = verifying.verify_lines(source(), options_factory=_options, batch=batch)
    first_ok, first = next(results)
    assert json.loads(first)["line"] == 1
    assert first_ok is EXPECTED[0]
    # the first answer arrives once a window of chunks (workers x 2 chunks x 2 lines) is
    # read, not after the whole input: a file of millions of lines streams
    assert consumed <= workers * 2 * 2 + 2 < len(LINES)
    assert len([first, *(line for _, line in results)]) == len(LINES)


def test_blank_lines_are_skipped_but_numbering_follows_the_input() -> None:
    lines = [LINES[0], "", "   ", LINES[1]]
    batch = verifying.BatchSettings(workers=1)
    results = list(verifying.verify_lines(lines, options_factory=_options, batch=batch))
    assert [json.loads(line)["line"] for _, line in results] == [1, 4]
