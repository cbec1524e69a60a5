"""The transparency log over HTTP: /log/v1 agrees with the pure core, the verifier reports
anchored pending -> pass -> fail (tampered), and `merito log monitor` (run against this app)
detects a changed, dropped or reordered entry and a rewritten head."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_client import ApiClient
from sqlalchemy import delete, insert, select

from merito import bootstrap
from merito.api.app import create_app
from merito.cli.log import MonitorState, monitor_once, run_monitor
from merito.config import Settings
from merito.ledger.merkle import MerkleTree, leaf_hash, verify_inclusion
from merito.ledger.sth import SignedTreeHead, sign_tree_head
from merito.net.mailer import MemoryMailer
from merito.services import credentials, issuers, ledger
from merito.services.platform import Actor, Platform
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    MembershipRow,
    OrganisationRow,
    UserRow,
)
from merito.storage.tables_ledger import LogEntryRow, LogHeadRow

BASE = "http://127.0.0.1:8000"
PROBLEM = "application/problem+json"
ACHIEVEMENT: dict[str, Any] = {
    "id": "https://academy.example.org/achievements/logs",
    "type": ["Achievement"],
    "name": "Append-only logs",
    "description": "Explains Merkle trees.",
    "criteria": {"narrative": "Built a log."},
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, database_url=database_url, master_key="44" * 32, base_url=BASE
    )


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    built = bootstrap.platform(settings, mailer_=MemoryMailer())
    yield built
    ledger._TREES.pop(built.sessions, None)
    built.sessions.kw["bind"].dispose()


def seed(platform: Platform) -> tuple[str, str, Actor]:
    org_id, user_id, achievement_id = (str(uuid.uuid4()) for _ in range(3))
    with platform.transaction() as session:
        session.add(OrganisationRow(id=org_id, slug=org_id[:8], name="Academy", kind="issuer"))
        session.add(UserRow(id=user_id, email=f"{user_id}@example.org", password_hash="!"))
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=user_id, role="owner"))
        session.add(
            AchievementRow(id=achievement_id, org_id=org_id, status="published", current_version=1)
        )
        session.flush()
        session.add(
            AchievementVersionRow(
                id=str(uuid.uuid4()),
                org_id=org_id,
                achievement_id=achievement_id,
                version=1,
                document=ACHIEVEMENT,
            )
        )
    return org_id, achievement_id, Actor(kind="user", id=user_id, user_id=user_id)


def app_for(platform: Platform, settings: Settings) -> Any:
    factory = bootstrap.verify_options_factory(settings, documents=issuers.did_documents(platform))
    return create_app(settings=settings, platform=platform, verify_options_factory=factory)


def issue(platform: Platform, n: int, proof_format: str = "eddsa-rdfc-2022") -> list[Any]:
    org_id, achievement_id, actor = seed(platform)
    return [
        credentials.issue_credential(
            platform,
            actor,
            org_id=org_id,
            achievement_id=achievement_id,
            recipient=f"did:example:{i}",
            proof_format=proof_format,
        )
        for i in range(n)
    ]


def anchored_check(client: ApiClient, document: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/verify",
        content=json.dumps(document).encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    check = next(c for c in report["checks"] if c["id"] == "anchored")
    return {"outcome": check["outcome"], "verified": report["verified"], **check["details"]}


def test_the_verifier_reports_pending_then_anchored_then_tampered(
    platform: Platform, settings: Settings
) -> None:
    (record,) = issue(platform, 1)
    client = ApiClient(app_for(platform, settings))  # after issuing: the issuer's DID document
    public_url = record.credential_id.removeprefix(BASE)
    before = client.get(public_url, headers={"accept": "application/json"}).json()
    check = anchored_check(client, before)
    assert (check["outcome"], check["anchor_status"], check["verified"]) == (
        "warning",
        "pending",
        True,
    )
    assert ledger.seal_pending(platform, force=True) is not None
    after = client.get(public_url, headers={"accept": "application/json"}).json()
    assert [p["cryptosuite"] for p in after["proof"]] == ["merkle-proof-2019", "eddsa-rdfc-2022"]
    check = anchored_check(client, after)
    assert (check["outcome"], check["anchor_status"], check["verified"]) == (
        "pass",
        "anchored",
        True,
    )
    assert check["leaf_index"] == 0
    forged = copy.deepcopy(after)
    forged["proof"][0]["transparencyLog"]["signedTreeHead"]["timestamp"] += 1
    check = anchored_check(client, forged)
    assert (check["outcome"], check["verified"]) == ("fail", False)


def test_ct_endpoints_agree_with_the_pure_core(platform: Platform, settings: Settings) -> None:
    client = ApiClient(app_for(platform, settings))
    empty = client.get("/log/v1/sth").json()
    assert empty["tree_size"] == 0
    records = issue(platform, 3, "vc-jwt")
    ledger.seal_pending(platform, force=True)
    records += issue(platform, 2, "vc-jwt")
    ledger.seal_pending(platform, force=True)
    key = client.get("/log/v1/key").json()
    sth = SignedTreeHead.from_json(client.get("/log/v1/sth").json())
    assert (sth.tree_size, sth.log_id) == (5, key["log_id"])
    body = client.get("/log/v1/entries", params={"start": 0, "end": 99}).json()
    leaves = [base64.b64decode(e["leaf_input"]) for e in body["entries"]]
    tree = MerkleTree.from_leaves(leaves)
    assert tree.root == sth.root_hash
    assert SignedTreeHead.from_json(client.get("/log/v1/sth/3").json()).root_hash == tree.root_at(3)
    for index, leaf in enumerate(leaves):
        for encoding in (leaf_hash(leaf).hex(), base64.b64encode(leaf_hash(leaf)).decode()):
            answer = client.get("/log/v1/proof-by-hash", params={"hash": encoding}).json()
            path = [base64.b64decode(h) for h in answer["audit_path"]]
            assert answer["leaf_index"] == index
            assert path == tree.inclusion_proof(index)
    proof = client.get("/log/v1/consistency", params={"first": 3, "second": 5}).json()
    assert [base64.b64decode(h) for h in proof["consistency"]] == tree.consistency_proof(3, 5)
    receipt = client.get("/log/v1/receipt", params={"credential_id": records[4].credential_id})
    receipt_body = receipt.json()
    assert receipt_body["status"] == "sealed"
    assert verify_inclusion(
        leaf_hash=leaf_hash(base64.b64decode(receipt_body["leaf_input"])),
        leaf_index=receipt_body["leaf_index"],
        tree_size=5,
        proof=[base64.b64decode(h) for h in receipt_body["audit_path"]],
        root=sth.root_hash,
    )
    for path, params, status in [
        ("/log/v1/proof-by-hash", {"hash": "zz"}, 422),
        ("/log/v1/proof-by-hash", {"hash": "00" * 32}, 404),
        ("/log/v1/proof-by-hash", {"hash": leaf_hash(leaves[0]).hex(), "tree_size": 9}, 422),
        ("/log/v1/consistency", {"first": 6, "second": 5}, 422),
        ("/log/v1/consistency", {"first": -1}, 422),
        ("/log/v1/entries", {"start": 3, "end": 1}, 422),
        ("/log/v1/entries", {"start": 5, "end": 9}, 404),
        ("/log/v1/entries", {"start": "x", "end": 9}, 422),
        ("/log/v1/sth/4", {}, 404),
        ("/log/v1/sth/99999999999999999999", {}, 422),
        ("/log/v1/receipt", {"credential_id": "https://nope.example/1"}, 404),
    ]:
        response = client.get(path, params=params)
        assert response.status_code == status, (path, params, response.text)
        assert response.headers["content-type"] == PROBLEM


# --- the monitor ---------------------------------------------------------------------------------


class AppTransport(httpx.BaseTransport):
    """The monitor's synchronous httpx client, served by the app in-process."""

    def __init__(self, app: Any) -> None:
        self.client = ApiClient(app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.client.request(
            request.method, str(request.url), headers=dict(request.headers)
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )


def TestClient(app: Any, base_url: str) -> httpx.Client:
    return httpx.Client(transport=AppTransport(app), base_url=base_url)


def test_monitor_accepts_growth_and_detects_every_rewrite(
    platform: Platform, settings: Settings, tmp_path: Path
) -> None:
    http = TestClient(app_for(platform, settings), base_url="http://testserver")
    state_file = tmp_path / "monitor.json"
    lines: list[str] = []

    def monitor(*, audit: bool = True) -> int:
        return run_monitor(
            http, state_file=state_file, interval=0.1, once=True, audit=audit, echo=lines.append
        )

    issue(platform, 4, "vc-jwt")
    ledger.seal_pending(platform, force=True)
    assert monitor() == 0
    assert json.loads(state_file.read_text())["sth"]["tree_size"] == 4
    issue(platform, 3, "vc-jwt")
    ledger.seal_pending(platform, force=True)
    assert monitor() == 0, lines
    assert any("4 -> 7: consistent" in line for line in lines)

    def rewritten(change: str) -> list[str]:
        """A fresh monitor state at size 7, a DB change, then one monitored look."""
        state = MonitorState.load(state_file)
        saved = copy.deepcopy(state)
        with platform.transaction() as session:
            entries = {r.idx: r for r in session.scalars(select(LogEntryRow))}
            if change == "change":
                entries[2].leaf_input = b"\x09" * 32
            elif change == "drop":
                session.execute(delete(LogEntryRow).where(LogEntryRow.idx == 6))
            elif change == "reorder":
                entries[1].leaf_input, entries[2].leaf_input = (
                    entries[2].leaf_input,
                    entries[1].leaf_input,
                )
        ledger._TREES.pop(platform.sessions, None)
        result = monitor_once(http, state, audit=True)
        assert state.head == saved.head  # never advanced past a rewrite
        return result.lines

    with platform.reading() as session:
        snapshot = [
            {
                c: getattr(r, c)
                for c in ("idx", "leaf_input", "leaf_hash", "credential_row_id", "batch_id")
            }
            for r in session.scalars(select(LogEntryRow))
        ]
    for change in ("change", "drop", "reorder"):
        lines_now = rewritten(change)
        assert lines_now[-1].startswith("✗"), (change, lines_now)
        with platform.transaction() as session:  # restore the true history
            session.execute(delete(LogEntryRow))
            session.execute(insert(LogEntryRow), snapshot)
        ledger._TREES.pop(platform.sessions, None)
        assert monitor() == 0, (change, lines)

    # a malicious log re-signs a rewritten history with its real key: the monitor, which
    # pinned the head of size 7, sees a fork (same size, another root) without --audit
    log_key = platform.extras["log_key"]
    with platform.transaction() as session:
        head = session.get(LogHeadRow, 7)
        assert head is not None
        forged = sign_tree_head(
            log_id=head.log_id,
            tree_size=7,
            timestamp=head.timestamp + 1,
            root_hash=bytes(32),
            key=log_key,
        )
        head.root_hash, head.signature = forged.root_hash, forged.signature
        head.timestamp = forged.timestamp
    lines.clear()
    assert monitor(audit=False) == 1
    assert any("fork" in line for line in lines), lines
    # another key entirely: refused at the first look (the pinned key)
    other = dataclasses.replace(platform, extras={"log_key": bootstrap.log_key(b"\x01" * 32)})
    other_http = TestClient(app_for(other, settings), base_url="http://testserver")
    lines.clear()
    code = run_monitor(
        other_http, state_file=state_file, interval=0.1, once=True, audit=False, echo=lines.append
    )
    assert code == 1
    assert any("the log key changed" in line for line in lines), lines
