"""``merito log ...``: seal pending credentials into the transparency log; monitor a log.

``merito log seal`` runs the sealer once on the configured database (an operator's tool: the
worker seals on its own). ``merito log monitor --url BASE`` is a Certificate Transparency
style monitor of any Merito log over HTTP: it pins the log key on first use (``--state``),
checks each new Signed Tree Head's signature and its consistency proof with the last head
it saw, and with ``--audit`` re-fetches every entry and recomputes the root. Any rewrite of
history (an entry changed, dropped or reordered, a fork, a forged head, another key) is a
``✗`` line and exit code 1; the state file only ever advances past heads that checked out.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

import httpx
import typer

from merito import bootstrap
from merito.config import load_settings
from merito.errors import InvalidInput, InvalidKey
from merito.ledger.anchoring import log_id_of
from merito.ledger.log import MAX_ENTRIES_PER_REQUEST, check_consistency, check_entries
from merito.ledger.sth import SignedTreeHead, verify_tree_head
from merito.proofs.keys import PublicKey, public_key_from_multibase
from merito.services import ledger

app = typer.Typer(help="The transparency log: seal pending credentials, monitor a log.")

EXIT_REWRITE: Final = 1
EXIT_UNREACHABLE: Final = 2


# --- seal ------------------------------------------------------------------------------------


@app.command("seal")
def seal(
    batch_size: Annotated[
        int | None, typer.Option(help="Leaves per batch (default MERITO_LOG_BATCH_SIZE).", min=1)
    ] = None,
) -> None:
    """Seal every pending credential now, batch by batch, and print each Signed Tree Head."""
    settings = load_settings()
    platform = bootstrap.platform(settings)
    policy = bootstrap.seal_policy(settings)
    if batch_size is not None:
        policy = ledger.SealPolicy(
            batch_size=batch_size,
            batch_seconds=policy.batch_seconds,
            anchor_ethereum=policy.anchor_ethereum,
        )
    sealed = 0
    try:
        while (result := ledger.seal_pending(platform, policy=policy, force=True)) is not None:
            sealed += result.leaf_count
            typer.echo(
                f"sealed batch {result.batch_id}: entries {result.first_index}.."
                f"{result.head.tree_size - 1}, tree size {result.head.tree_size}, "
                f"root {result.head.root_hash.hex()}"
            )
        if not sealed:
            head = ledger.latest_head(platform)
            typer.echo(f"nothing pending; tree size {head.tree_size}")
    finally:
        platform.sessions.kw["bind"].dispose()  # close the pool (the runner may be a test)


# --- monitor ---------------------------------------------------------------------------------


@dataclass
class MonitorState:
    """What a monitor remembers between runs: the pinned key and the last good head."""

    public_key_multibase: str | None = None
    log_id: str | None = None
    head: SignedTreeHead | None = None

    @classmethod
    def load(cls, path: Path | None) -> MonitorState:
        if path is None or not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            head = data.get("sth")
            return cls(
                public_key_multibase=data.get("public_key_multibase"),
                log_id=data.get("log_id"),
                head=SignedTreeHead.from_json(head) if head is not None else None,
            )
        except (OSError, ValueError, AttributeError, InvalidInput) as e:
            raise InvalidInput(f"{path}: not a monitor state file ({e})", property="state") from e

    def save(self, path: Path | None) -> None:
        if path is None:
            return
        data = {
            "public_key_multibase": self.public_key_multibase,
            "log_id": self.log_id,
            "sth": self.head.to_json() if self.head is not None else None,
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)  # a crash never leaves half a state file


@dataclass
class MonitorRound:
    ok: bool
    lines: list[str] = field(default_factory=list)

    def good(self, text: str) -> None:
        self.lines.append(f"✓ {text}")

    def bad(self, text: str) -> None:
        self.ok = False
        self.lines.append(f"✗ {text}")


class Unreachable(Exception):
    """The log could not be asked (network, HTTP error, not JSON)."""


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    try:
        response = client.get(path, params=params or None)
    except httpx.HTTPError as e:
        raise Unreachable(f"{path}: {e}") from e
    if response.status_code != 200:
        raise Unreachable(f"{path}: HTTP {response.status_code} {response.text[:200]}")
    try:
        return response.json()
    except ValueError as e:
        raise Unreachable(f"{path}: not JSON") from e


def _b64list(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidInput(f"{what} must be a list of base64 strings", property=what)
    try:
        return [base64.b64decode(v, validate=True) for v in values]
    except ValueError as e:
        raise InvalidInput(f"{what} is not base64", property=what) from e


def _fetch_entries(client: httpx.Client, size: int) -> list[bytes]:
    entries: list[bytes] = []
    while len(entries) < size:
        end = min(len(entries) + MAX_ENTRIES_PER_REQUEST, size) - 1
        page = _get(client, "/log/v1/entries", start=len(entries), end=end).get("entries")
        if not isinstance(page, list) or not page:
            break
        entries.extend(_b64list([e.get("leaf_input") for e in page], "leaf_input"))
    return entries


def monitor_once(client: httpx.Client, state: MonitorState, *, audit: bool = False) -> MonitorRound:
    """One look at the log: key, head signature, consistency with the last head, entries.

    ``state`` is updated (key pinned, head advanced) only when everything checked out.
    """
    result = MonitorRound(ok=True)
    key_info = _get(client, "/log/v1/key")
    multibase = key_info.get("public_key_multibase") if isinstance(key_info, dict) else None
    if not isinstance(multibase, str):
        result.bad("the log did not publish its key")
        return result
    if state.public_key_multibase is None:
        state.public_key_multibase = multibase
        result.good(f"pinned the log key {multibase} (first use)")
    elif multibase != state.public_key_multibase:
        result.bad(f"the log key changed from {state.public_key_multibase} to {multibase}")
        return result
    try:
        public: PublicKey = public_key_from_multibase(state.public_key_multibase)
    except (InvalidInput, InvalidKey) as e:
        result.bad(f"the pinned key is not a public key: {e}")
        return result
    log_id = state.log_id or log_id_of(public)
    try:
        head = SignedTreeHead.from_json(_get(client, "/log/v1/sth"))
    except InvalidInput as e:
        result.bad(f"the latest tree head is malformed: {e.message}")
        return result
    if head.log_id != log_id or not verify_tree_head(head, public):
        result.bad(f"the tree head of size {head.tree_size} is not signed by the pinned log key")
        return result
    result.good(f"tree head of size {head.tree_size} signed by the log key")
    previous = state.head
    if previous is not None:
        proof: list[bytes] = []
        if previous.tree_size <= head.tree_size and previous.tree_size not in (0, head.tree_size):
            try:
                body = _get(
                    client, "/log/v1/consistency", first=previous.tree_size, second=head.tree_size
                )
                proof = _b64list(body.get("consistency"), "consistency")
            except (Unreachable, InvalidInput) as e:
                result.bad(f"no consistency proof from {previous.tree_size}: {e}")
                return result
        verdict = check_consistency(previous=previous, current=head, proof=proof, public_key=public)
        if verdict.ok:
            result.good(verdict.detail)
        else:
            result.bad(f"history rewritten ({verdict.problem}): {verdict.detail}")
            return result
    if audit:
        entries = _fetch_entries(client, head.tree_size)
        verdict = check_entries(head=head, entries=entries, public_key=public)
        if verdict.ok:
            result.good(verdict.detail)
        else:
            result.bad(f"entries do not match ({verdict.problem}): {verdict.detail}")
            return result
    state.log_id = log_id
    state.head = head
    return result


def run_monitor(
    client: httpx.Client,
    *,
    state_file: Path | None,
    interval: float,
    once: bool,
    audit: bool,
    echo: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Monitor until a rewrite (exit code 1) or, with ``once``, after one look (0)."""
    state = MonitorState.load(state_file)
    while True:
        try:
            result = monitor_once(client, state, audit=audit)
        except Unreachable as e:
            echo(f"✗ the log is unreachable: {e}")
            if once:
                return EXIT_UNREACHABLE
            sleep(interval)
            continue
        for line in result.lines:
            echo(line)
        if not result.ok:
            return EXIT_REWRITE
        state.save(state_file)
        if once:
            return 0
        sleep(interval)


@app.command("monitor")
def monitor(
    url: Annotated[str, typer.Option(help="The log's base URL, e.g. https://merito.example.")],
    state: Annotated[
        Path | None,
        typer.Option(help="JSON file keeping the pinned key and the last good head."),
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between looks.", min=0.1)] = 60.0,
    once: Annotated[bool, typer.Option("--once", help="Look once, then exit.")] = False,
    audit: Annotated[
        bool, typer.Option("--audit", help="Re-fetch every entry and recompute the root.")
    ] = False,
) -> None:
    """Watch a Merito transparency log; exit 1 on any rewrite of history."""
    if not url.startswith(("http://", "https://")):
        raise InvalidInput("--url must be an http(s) URL", property="url")
    with httpx.Client(base_url=url.rstrip("/"), timeout=30.0, follow_redirects=False) as client:
        code = run_monitor(
            client, state_file=state, interval=interval, once=once, audit=audit, echo=typer.echo
        )
    raise typer.Exit(code)
