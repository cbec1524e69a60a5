"""The ``merito`` command line: parses arguments, calls one service, prints the result.

Errors are one clear line on stderr and an exit code, never a traceback (set MERITO_DEBUG=1
to see one). Exit codes: 0 success / valid, 1 a credential did not verify, 2 bad input or
usage, 70 an internal error.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from merito import __version__, bootstrap
from merito.cli import admin as admin_cli
from merito.cli import anchoring as anchoring_cli
from merito.cli import backup as backup_cli
from merito.cli import demo as demo_cli
from merito.cli import issuing as issuing_cli
from merito.cli import log as log_cli
from merito.cli import serve, worker
from merito.cli import skills as skills_cli
from merito.cli import wallet as wallet_cli
from merito.config import Settings, load_settings
from merito.domain.verification import Outcome, VerificationReport
from merito.errors import InvalidInput, MeritoError
from merito.services import demo as demo_service
from merito.services import issuing, keyfiles, verifying
from merito.verification.presentations import is_presentation, verify_presentation
from merito.verification.trust import verify_registry, with_trust_checks

EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70

app = typer.Typer(
    name="merito",
    help="Merito: verifiable micro-credentials (Open Badges 3.0 / W3C VC 2.0).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
keys_app = typer.Typer(help="Create and inspect issuer keys.", no_args_is_help=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"merito {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Merito: verifiable micro-credentials (Open Badges 3.0 / W3C VC 2.0)."""


app.add_typer(keys_app, name="keys")
app.add_typer(issuing_cli.app, name="credentials")
app.add_typer(admin_cli.app, name="admin")
app.add_typer(log_cli.app, name="log")
log_cli.app.command("anchors")(anchoring_cli.anchors)
log_cli.app.command("resume-anchors")(anchoring_cli.resume_anchors)
app.add_typer(skills_cli.app, name="skills")
app.add_typer(wallet_cli.app, name="wallet")
app.command()(serve.serve)
app.command()(worker.worker)
app.command()(backup_cli.backup)
app.command()(backup_cli.restore)
app.command("migrate-db")(backup_cli.migrate_db)

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

_SYMBOLS = {
    Outcome.PASS: ("✓", "green"),
    Outcome.FAIL: ("✗", "red"),
    Outcome.WARNING: ("!", "yellow"),
    Outcome.SKIPPED: ("–", "dim"),
}


class CliError(Exception):
    """An error already phrased for the user, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# --- input and output helpers ------------------------------------------------------------------


def _read_text(source: str, *, limit: int | None = None) -> str:
    """The text of a file or of stdin ('-'); at most ``limit`` + 1 bytes are read."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read(limit + 1 if limit else -1)
        else:
            with Path(source).open("rb") as f:
                data = f.read(limit + 1 if limit else -1)
    except FileNotFoundError:
        raise CliError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{source}: is a directory, not a file") from None
    except PermissionError:
        raise CliError(f"{source}: permission denied") from None
    return data.decode("utf-8", errors="surrogateescape")


def _read_json(source: str, what: str) -> Any:
    text = _read_text(source)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CliError(f"{source}: {what} is not valid JSON ({e})") from None


def _write_secret(path: Path, text: str, *, force: bool) -> None:
    if path.exists() and not force:
        raise CliError(f"{path}: already exists (use --force to overwrite)")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        raise CliError(f"{path}: cannot write ({e.strerror})") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


def print_report(report: VerificationReport, *, title: str | None = None) -> None:
    """The human checklist: one line per check, then the verdict."""
    if title:
        out.print(f"[bold]{escape(title)}[/bold]")
    for check in report.checks:
        symbol, style = _SYMBOLS[check.outcome]
        out.print(
            f"  [{style}]{symbol}[/{style}] [bold]{escape(check.title)}[/bold]: "
            f"{escape(check.message)}"
        )
    verdict = "[bold green]VALID[/]" if report.verified else "[bold red]NOT VALID[/]"
    out.print(f"  {verdict} {escape(report.summary)}")


# --- commands ------------------------------------------------------------------------------------


@keys_app.command("new")
def keys_new(
    out_path: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the key file (mode 0600).")
    ] = Path("issuer.key.json"),
    key_type: Annotated[
        str, typer.Option("--type", "-t", help="ed25519 (default), p-256 or rsa.")
    ] = "ed25519",
    did: Annotated[
        str | None,
        typer.Option(help="A DID you control (e.g. did:web:example.org); default: did:key."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Create an issuer key and write it to a key file."""
    signer = keyfiles.new_signer(key_type, did=did)
    document = keyfiles.key_file_document(signer)
    _write_secret(out_path, json.dumps(document, indent=2) + "\n", force=force)
    out.print(f"Wrote {escape(str(out_path))} (keep it secret)")
    out.print(f"  issuer DID:          {escape(signer.controller)}")
    out.print(f"  verification method: {escape(signer.verification_method)}")


@keys_app.command("show")
def keys_show(key_file: Annotated[str, typer.Argument(help="A key file from `keys new`.")]) -> None:
    """Print a key file's public part (never the private key)."""
    signer = keyfiles.signer_from_key_file(_read_json(key_file, "the key file"))
    public = {
        "controller": signer.controller,
        "verificationMethod": signer.verification_method,
        "algorithm": signer.key.public_key.key_type,
        "publicKeyJwk": signer.key.public_key.to_jwk(),
    }
    out.print_json(json.dumps(public))


@keys_app.command("did-document")
def keys_did_document(
    key_file: Annotated[str, typer.Argument(help="A key file from `keys new`.")],
) -> None:
    """Print the DID document that publishes the key (serve it for did:web)."""
    signer = keyfiles.signer_from_key_file(_read_json(key_file, "the key file"))
    sys.stdout.write(json.dumps(keyfiles.did_document(signer), indent=2) + "\n")


@app.command()
def issue(
    achievement_file: Annotated[str, typer.Argument(help="OB 3.0 Achievement JSON file, or -.")],
    recipient: Annotated[
        str,
        typer.Option("--recipient", "-r", help="Recipient email (stored salted-hashed) or DID."),
    ],
    key: Annotated[str, typer.Option("--key", "-k", help="Key file from `merito keys new`.")],
    proof_format: Annotated[
        str,
        typer.Option("--format", "-f", help="eddsa-rdfc-2022 (default), eddsa-jcs-2022 or vc-jwt."),
    ] = issuing.DEFAULT_PROOF_FORMAT,
    issuer_name: Annotated[
        str, typer.Option(help="The issuer's display name in the credential.")
    ] = "Merito Issuer",
    valid_until: Annotated[
        str | None, typer.Option(help="Expiry as an ISO 8601 date-time with a timezone.")
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Issue a signed Open Badges 3.0 credential."""
    if achievement_file == "-" and key == "-":
        raise CliError("only one of the achievement and the key can come from stdin")
    achievement = issuing.parse_achievement(_read_json(achievement_file, "the achievement"))
    signer = keyfiles.signer_from_key_file(_read_json(key, "the key file"))
    now = datetime.now(UTC).replace(microsecond=0)
    issued = issuing.issue_credential(
        achievement=achievement,
        recipient=recipient,
        signer=signer,
        issued_at=now,
        issuer_name=issuer_name,
        proof_format=proof_format,
        valid_until=_parse_datetime(valid_until, "--valid-until") if valid_until else None,
    )
    text = issued.jwt if issued.jwt is not None else json.dumps(issued.document, indent=2)
    if out_path is None:
        sys.stdout.write(text + "\n")
    else:
        try:
            out_path.write_text(text + "\n", encoding="utf-8")
        except OSError as e:
            raise CliError(f"{out_path}: cannot write ({e.strerror})") from None
        err.print(f"Wrote {escape(str(out_path))} ({issued.credential_id})")


@app.command()
def verify(
    source: Annotated[str, typer.Argument(help="Credential file (JSON or JWT), or - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    jsonl: Annotated[
        bool,
        typer.Option("--jsonl", help="One credential per line in; one JSON result per line out."),
    ] = False,
    workers: Annotated[
        int, typer.Option(help="--jsonl worker processes (0: one per core).", min=0)
    ] = 0,
    did_documents: Annotated[
        list[str] | None,
        typer.Option(
            "--did-document",
            help="A DID/controller document to trust for key resolution (repeatable).",
        ),
    ] = None,
    challenge: Annotated[
        str | None,
        typer.Option(help="A presentation's expected challenge (the nonce you sent)."),
    ] = None,
    domain: Annotated[
        str | None, typer.Option(help="A presentation's expected domain (yours).")
    ] = None,
    registries: Annotated[
        list[str] | None,
        typer.Option(
            "--registry",
            help="A trust registry file (JSON, docs/trust.md) to check the issuer against "
            "(repeatable); its signature is checked first.",
        ),
    ] = None,
) -> None:
    """Verify a credential or a presentation and print a checklist (exit 0 only when valid)."""
    settings = load_settings()
    documents = _load_did_documents(did_documents or [])
    if jsonl:
        if registries:
            raise CliError("--registry checks one credential at a time; it does not take --jsonl")
        raise typer.Exit(_verify_jsonl(source, settings, documents, workers))
    options = bootstrap.verify_options(settings, documents=documents)
    if registries:
        options = with_trust_checks(options, _load_registries(registries, options))
    text = _read_text(source, limit=settings.max_document_bytes)
    report = verifying.verify_document(text, options)
    if is_presentation(report):
        report = verify_presentation(text, options=options, challenge=challenge, domain=domain)
    if as_json:
        sys.stdout.write(report.to_json(indent=2) + "\n")
    else:
        print_report(report)
    raise typer.Exit(0 if report.verified else EXIT_INVALID)


def _verify_jsonl(source: str, settings: Settings, documents: dict[str, Any], workers: int) -> int:
    factory = bootstrap.verify_options_factory(settings, documents=documents)
    stream = sys.stdin if source == "-" else _open_lines(source)
    all_valid = True
    write = sys.stdout.write
    try:
        for verified, line in verifying.verify_lines(
            stream, options_factory=factory, batch=verifying.BatchSettings(workers=workers)
        ):
            all_valid = all_valid and verified
            write(line + "\n")
    finally:
        if stream is not sys.stdin:
            stream.close()
    sys.stdout.flush()
    return 0 if all_valid else EXIT_INVALID


def _open_lines(path: str) -> Any:
    try:
        return Path(path).open(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except OSError as e:
        raise CliError(f"{path}: cannot read ({e.strerror})") from None


def _load_registries(paths: list[str], options: Any) -> list[Any]:
    """Each registry file, parsed and its signature checked (with the verifier's resolver)."""
    loaded = []
    for path in paths:
        text = _read_text(path, limit=5_000_000)
        try:
            document = json.loads(text)
        except ValueError as e:
            raise CliError(f"{path}: not a JSON trust registry ({e})") from None
        try:
            loaded.append(verify_registry(document, resolver=options.resolver))
        except MeritoError as e:
            raise CliError(f"{path}: {e.message}") from None
    return loaded


def _load_did_documents(paths: list[str]) -> dict[str, Any]:
    documents: dict[str, Any] = {}
    for path in paths:
        doc = _read_json(path, "the DID document")
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
            raise CliError(f"{path}: a DID document must be a JSON object with an 'id'")
        documents[doc["id"]] = doc
    return documents


def _parse_datetime(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option}: {value!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise CliError(f"{option}: {value!r} needs a timezone, e.g. {value}Z or {value}+00:00")
    return moment


@app.command()
def demo(
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="No database, no server: issue sample credentials in every proof format, "
            "verify them (and a forged copy) and write them to --out.",
        ),
    ] = False,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="--offline: where to write the credentials.")
    ] = Path("merito-demo"),
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Run the server once seeded.")
    ] = True,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
) -> None:
    """Seed a demo issuer (achievements, learners, credentials) into the local database and
    serve it; --offline: a tour of signing and verification without a database."""
    if not offline:
        demo_cli.run(out, serve_after=serve_after, host=host, port=port)
        return
    run = demo_service.run_demo(now=datetime.now(UTC).replace(microsecond=0))
    out.print(f"[bold]Merito demo[/bold] — issuer {escape(run.issuer_did)}\n")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"{out_dir}: cannot create ({e.strerror})") from None
    for n, case in enumerate(run.cases, start=1):
        print_report(case.report, title=f"{n}. {case.title}")
        suffix = "jwt" if isinstance(case.presented, str) else "json"
        name = out_dir / f"{n}-{case.slug}.{suffix}"
        body = (
            case.presented
            if isinstance(case.presented, str)
            else json.dumps(case.presented, indent=2)
        )
        name.write_text(body + "\n", encoding="utf-8")
        out.print()
    out.print(
        f"The credentials are in {escape(str(out_dir))}/; try "
        f"[bold]merito verify {escape(str(out_dir))}/1-{run.cases[0].slug}.json[/bold]. "
        "(Status lists are served in memory by the demo; `merito verify` runs offline "
        "and reports status as not checked.)"
    )


# --- entry point ---------------------------------------------------------------------------------


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[red]merito: error:[/red] {escape(message)}")
    raise SystemExit(code)


def run() -> None:
    """Console entry point: maps every error to one line and an exit code."""
    debug = os.environ.get("MERITO_DEBUG", "").lower() in {"1", "true", "yes"}
    try:
        app()
    except CliError as e:
        _fail(str(e), e.code)
    except InvalidInput as e:
        _fail(e.message, EXIT_USAGE)
    except MeritoError as e:
        _fail(e.message, EXIT_USAGE)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except BrokenPipeError:
        os._exit(0)  # the reader went away (e.g. `| head`): not an error
    except Exception as e:
        if debug:
            raise
        _fail(
            f"internal error ({type(e).__name__}: {e}); rerun with MERITO_DEBUG=1 for details",
            EXIT_INTERNAL,
        )
