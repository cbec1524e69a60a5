"""`merito verify` on a Verifiable Presentation: --challenge and --domain, exit codes, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from merito.cli.main import app
from merito.proofs import data_integrity
from merito.services import keyfiles

runner = CliRunner()
ISSUER = keyfiles.new_signer("ed25519", seed=b"\x05" * 32)
HOLDER = keyfiles.new_signer("ed25519", seed=b"\x06" * 32)


@pytest.fixture
def vp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MERITO_DATA_DIR", str(tmp_path / "var"))
    now = datetime.now(UTC).replace(microsecond=0)
    credential = data_integrity.sign(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": ISSUER.controller,
            "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": HOLDER.controller},
        },
        signer=ISSUER,
        created=now,
    )
    vp = data_integrity.sign(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "holder": HOLDER.controller,
            "verifiableCredential": [credential],
        },
        signer=HOLDER,
        cryptosuite="eddsa-jcs-2022",
        created=now,
        proof_purpose="authentication",
        challenge="nonce-1",
        domain="hr.example.com",
    )
    path = tmp_path / "vp.json"
    path.write_text(json.dumps(vp), encoding="utf-8")
    return path


def test_a_presentation_verifies_with_its_challenge(vp_file: Path) -> None:
    result = runner.invoke(
        app,
        ["verify", str(vp_file), "--challenge", "nonce-1", "--domain", "hr.example.com", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["format"] == "vp"
    assert {c["id"]: c["outcome"] for c in report["checks"]}["challenge"] == "pass"


def test_a_replayed_presentation_exits_invalid(vp_file: Path) -> None:
    result = runner.invoke(
        app, ["verify", str(vp_file), "--challenge", "nonce-2"], catch_exceptions=False
    )
    assert result.exit_code != 0
    assert "challenge" in result.stdout
