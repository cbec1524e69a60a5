"""The `merito` command end to end through its real entry point (a subprocess-free runner)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from merito.cli.main import app

ACHIEVEMENT = Path(__file__).parents[2] / "examples" / "achievement.json"
runner = CliRunner()


def merito(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def key_file(workdir: Path) -> Path:
    code, out, _ = merito("keys", "new", "--out", "issuer.key.json")
    assert code == 0, out
    return workdir / "issuer.key.json"


def test_keys_new_writes_a_private_file_with_a_did_key(key_file: Path) -> None:
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    doc = json.loads(key_file.read_text())
    assert doc["type"] == "MeritoKeyFile"
    assert doc["controller"].startswith("did:key:z6Mk")
    assert doc["verificationMethod"] == f"{doc['controller']}#{doc['controller'][8:]}"


def test_keys_new_refuses_to_overwrite(key_file: Path) -> None:
    from merito.cli import main as cli

    before = key_file.read_text()
    with pytest.raises(SystemExit) as exit_info:
        _run_entry_point(cli, ["keys", "new", "--out", str(key_file)])
    assert exit_info.value.code == 2
    assert "already exists (use --force to overwrite)" in _STDERR.pop()
    assert key_file.read_text() == before


def test_keys_show_never_prints_the_private_key(key_file: Path) -> None:
    code, out, _ = merito("keys", "show", str(key_file))
    assert code == 0
    private_d = json.loads(key_file.read_text())["privateKeyJwk"]["d"]
    assert private_d not in out
    assert json.loads(out)["publicKeyJwk"]["kty"] == "OKP"


@pytest.mark.parametrize("fmt", ["eddsa-rdfc-2022", "eddsa-jcs-2022", "vc-jwt"])
def test_issue_then_verify_each_proof_format(key_file: Path, workdir: Path, fmt: str) -> None:
    code, out, err = merito(
        "issue", str(ACHIEVEMENT), "-r", "ada@example.org", "-k", str(key_file), "-f", fmt
    )
    assert code == 0, err
    (workdir / "badge").write_text(out)
    if fmt == "vc-jwt":
        assert out.count(".") == 2
    else:
        doc = json.loads(out)
        assert doc["proof"]["cryptosuite"] == fmt
        identity = doc["credentialSubject"]["identifier"][0]
        assert identity["hashed"] is True
        assert "ada@example.org" not in out  # the email is only stored salted and hashed
    code, out, _ = merito("verify", "badge")
    assert code == 0, out
    assert "✓" in out
    assert "VALID" in out
    code, out, _ = merito("verify", "--json", "badge")
    report = json.loads(out)
    assert report["verified"] is True
    assert [c["id"] for c in report["checks"]][:5] == [
        "parse",
        "format",
        "context",
        "schema",
        "proof",
    ]


def test_verify_reports_a_tampered_credential_and_exits_1(key_file: Path, workdir: Path) -> None:
    _, out, _ = merito("issue", str(ACHIEVEMENT), "-r", "did:example:ada", "-k", str(key_file))
    doc = json.loads(out)
    doc["credentialSubject"]["achievement"]["name"] = "Something grander"
    (workdir / "forged.json").write_text(json.dumps(doc))
    code, out, _ = merito("verify", "forged.json")
    assert code == 1
    assert "✗" in out
    assert "NOT VALID" in out
    assert "changed after it was signed" in out


def test_verify_reads_stdin(key_file: Path) -> None:
    _, out, _ = merito("issue", str(ACHIEVEMENT), "-r", "did:example:ada", "-k", str(key_file))
    code, report, _ = merito("verify", "--json", "-", input=out)
    assert code == 0
    assert json.loads(report)["verified"] is True


def test_verify_jsonl_keeps_order_and_reports_each_line(key_file: Path, workdir: Path) -> None:
    lines = []
    for n in range(6):
        _, out, _ = merito("issue", str(ACHIEVEMENT), "-r", f"did:example:{n}", "-k", str(key_file))
        lines.append(json.dumps(json.loads(out)))
    lines[3] = lines[3].replace("Data Analysis", "Data Alchemy")  # forged
    lines.insert(2, "")  # blank lines are skipped but keep numbering
    lines.append("not json")
    (workdir / "batch.jsonl").write_text("\n".join(lines) + "\n")
    for workers in ("1", "2"):
        code, out, _ = merito("verify", "--jsonl", "--workers", workers, "batch.jsonl")
        results = [json.loads(line) for line in out.splitlines()]
        assert code == 1
        assert [r["line"] for r in results] == [1, 2, 4, 5, 6, 7, 8]
        assert [r["verified"] for r in results] == [True, True, True, False, True, True, False]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("verify", "missing.json"), "missing.json: no such file"),
        (("issue", "missing.json", "-r", "a@b.org", "-k", "k.json"), "no such file"),
        (("keys", "new", "--type", "dsa"), "unknown key type 'dsa'"),
        (("keys", "new", "--type", "rsa"), "RSA keys have no did:key form"),
    ],
)
def test_errors_are_one_clear_line(workdir: Path, args: tuple[str, ...], message: str) -> None:
    from merito.cli import main as cli

    with pytest.raises(SystemExit) as exit_info:
        _run_entry_point(cli, list(args))
    assert exit_info.value.code == 2
    assert message in _STDERR.pop()


def test_issue_rejects_bad_input_with_clear_errors(key_file: Path, workdir: Path) -> None:
    from merito.cli import main as cli

    (workdir / "bad.json").write_text('{"name": 3}')
    cases = [
        (
            ["issue", str(ACHIEVEMENT), "-r", "ada@nowhere", "-k", str(key_file)],
            "not a valid email",
        ),
        (["issue", "bad.json", "-r", "did:example:1", "-k", str(key_file)], "achievement"),
        (["issue", str(ACHIEVEMENT), "-r", "did:x:1", "-k", str(ACHIEVEMENT)], "not a Merito key"),
        (
            ["issue", str(ACHIEVEMENT), "-r", "did:x:1", "-k", str(key_file), "-f", "ldp"],
            "unknown proof format",
        ),
        (
            [
                "issue",
                str(ACHIEVEMENT),
                "-r",
                "did:x:1",
                "-k",
                str(key_file),
                "--valid-until",
                "2030-01-01T00:00:00",
            ],
            "needs a timezone",
        ),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            _run_entry_point(cli, args)
        assert exit_info.value.code == 2, args
        assert message in _STDERR.pop(), args


def test_demo_issues_verifies_and_writes_files(workdir: Path) -> None:
    code, out, _ = merito("demo", "--offline", "--out", "demo")
    assert code == 0, out
    assert out.count("NOT VALID") == 3  # tampered, expired, revoked
    assert "The issuer has revoked this credential" in out
    written = sorted(p.name for p in (workdir / "demo").iterdir())
    assert len(written) == 6
    code, _, _ = merito("verify", str(workdir / "demo" / "1-rdfc.json"))
    assert code == 0


_STDERR: list[str] = []


def _run_entry_point(cli: object, args: list[str]) -> None:
    """Runs `merito.cli.main.run` as the console script would, capturing stderr."""
    import io
    import sys

    from merito.cli import main

    buffer = io.StringIO()
    saved_argv, saved_err = sys.argv, main.err.file
    sys.argv = ["merito", *args]
    main.err.file = buffer
    try:
        main.run()
    finally:
        sys.argv = saved_argv
        main.err.file = saved_err
        _STDERR.append(buffer.getvalue())
