"""``merito verify --registry``: the issuer checked against a signed registry file, offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from merito.cli.main import CliError, app
from merito.formats.did_key import create_did_key
from merito.formats.trust_registry import RegistryEntry, build_registry
from merito.proofs import data_integrity
from merito.proofs.keys import Signer, generate_key

runner = CliRunner()
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _signer(seed: int) -> Signer:
    key = generate_key("Ed25519", seed=bytes([seed]) * 32)
    multibase = key.public_key.to_multibase()
    return Signer(key=key, verification_method=f"{create_did_key(multibase)}#{multibase}")


def _write(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    monkeypatch.chdir(tmp_path)
    issuer, publisher = _signer(3), _signer(4)
    credential = data_integrity.sign(
        {
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": issuer.controller,
            "validFrom": "2026-01-02T00:00:00Z",
            "credentialSubject": {"id": "did:example:learner"},
        },
        signer=issuer,
        cryptosuite="eddsa-jcs-2022",
        created=NOW,
    )
    entry = RegistryEntry(id=issuer.controller, name="Issuer", status="active", since=NOW)
    registry = data_integrity.sign(
        build_registry(
            registry_id="https://registry.example.org/r.json",
            name="Accreditors",
            publisher=publisher.controller,
            publisher_name=None,
            version=1,
            issued=NOW,
            entries=[entry],
        ),
        signer=publisher,
        cryptosuite="eddsa-jcs-2022",
        created=NOW,
    )
    tampered = json.loads(json.dumps(registry))
    tampered["credentialSubject"]["issuers"] = []
    return (
        _write(tmp_path / "credential.json", credential),
        _write(tmp_path / "registry.json", registry),
        _write(tmp_path / "tampered.json", tampered),
    )


def test_verify_with_a_registry(files: tuple[str, str, str]) -> None:
    credential, registry, tampered = files
    result = runner.invoke(app, ["verify", credential, "--registry", registry, "--json"])
    assert result.exit_code == 0, result.output
    checks = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["trust"]["outcome"] == "pass"
    assert "known to the registry Accreditors since 2026-01-01" in checks["trust"]["message"]
    refused = runner.invoke(app, ["verify", credential, "--registry", tampered])
    # the entry point prints a CliError as one line on stderr, with exit code 2
    assert isinstance(refused.exception, CliError)
    assert "the registry's signature does not verify" in str(refused.exception)
