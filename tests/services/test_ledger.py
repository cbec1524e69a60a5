"""The transparency log service on SQLite and PostgreSQL: sealing by count and by time, the
anchoring proof every sealed credential gains (verified offline against the signed head),
the CT-style reads agreeing with the pure core, chain anchors, and tamper detection."""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from services_support import MovableClock, SeededOrg
from sqlalchemy import delete, select, update
from test_credentials import seed_achievement

from merito import bootstrap
from merito.config import Settings
from merito.domain.verification import Outcome
from merito.errors import InvalidInput, NotFound
from merito.ledger.anchoring import RECEIPT_MEMBER, LogAnchorChecker, anchoring_proofs
from merito.ledger.log import check_consistency, check_entries
from merito.ledger.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from merito.ledger.sth import sign_tree_head, verify_tree_head
from merito.proofs import merkle_proof_2019
from merito.proofs.keys import generate_key
from merito.services import credentials, issuers, ledger
from merito.services.credentials import CredentialRecord
from merito.services.platform import Platform
from merito.storage.tables import CredentialRow, OutboxRow
from merito.storage.tables_ledger import LogBatchRow, LogEntryRow, LogHeadRow
from merito.verification import VerifyOptions, verify

LOG_KEY = generate_key("Ed25519", seed=bytes(range(32)))


@pytest.fixture
def log_platform(platform: Platform) -> Platform:
    return dataclasses.replace(platform, extras={"log_key": LOG_KEY})


def issue(
    platform: Platform, org: SeededOrg, achievement_id: str, n: int, **kw: Any
) -> list[CredentialRecord]:
    return [
        credentials.issue_credential(
            platform,
            org.actor,
            org_id=org.org_id,
            achievement_id=achievement_id,
            recipient=f"did:example:learner-{i}",
            **kw,
        )
        for i in range(n)
    ]


def stored(platform: Platform, record: CredentialRecord) -> dict[str, Any]:
    with platform.reading() as session:
        row = session.get(CredentialRow, record.id)
        assert row is not None
        return row.document


def options(platform: Platform) -> VerifyOptions:
    info = ledger.log_info(platform)
    base = bootstrap.verify_options(
        Settings(), documents=issuers.did_documents(platform), clock=platform.clock
    )
    checker = LogAnchorChecker(
        log_key=info.public_key, log_id=info.log_id, local_prefix=platform.url("/")
    )
    return dataclasses.replace(base, anchor_checker=checker)


def anchored(platform: Platform, document: Any) -> tuple[Outcome, dict[str, Any], bool]:
    report = verify(document, options=options(platform))
    check = report.check("anchored")
    return check.outcome, dict(check.details), report.verified


@pytest.fixture
def org_and_achievement(
    log_platform: Platform, seed_org: Callable[..., SeededOrg]
) -> tuple[SeededOrg, str]:
    org = seed_org()
    return org, seed_achievement(log_platform, org.org_id)


def test_sealing_by_count_anchors_each_credential_once_and_it_verifies_offline(
    log_platform: Platform, org_and_achievement: tuple[SeededOrg, str]
) -> None:
    org, achievement_id = org_and_achievement
    records = issue(log_platform, org, achievement_id, 5)
    records += issue(log_platform, org, achievement_id, 1, proof_format="eddsa-jcs-2022")
    records += issue(log_platform, org, achievement_id, 1, proof_format="vc-jwt")
    policy = ledger.SealPolicy(batch_size=4, batch_seconds=3600)
    # before sealing: pending, never a failure
    outcome, details, verified = anchored(log_platform, records[0].document)
    assert (outcome, details["anchor_status"], verified) == (Outcome.WARNING, "pending", True)

    first = ledger.seal_pending(log_platform, policy=policy)
    assert first is not None
    assert (first.first_index, first.leaf_count) == (0, 4)
    assert first.proofs_attached == 4
    # 3 wait, fewer than the batch size and younger than batch_seconds: not due
    assert ledger.seal_pending(log_platform, policy=policy) is None
    second = ledger.seal_pending(log_platform, policy=policy, force=True)
    assert second is not None
    assert (second.first_index, second.head.tree_size) == (4, 7)
    assert second.proofs_attached == 2  # the VC-JWT gets a log entry, not an embedded proof
    assert ledger.seal_pending(log_platform, policy=policy, force=True) is None

    info = ledger.log_info(log_platform)
    assert verify_tree_head(second.head, info.public_key)
    for record in records[:6]:
        document = stored(log_platform, record)
        proofs = document["proof"]
        assert [p["cryptosuite"] for p in proofs] == ["merkle-proof-2019", record.proof_format]
        assert len(anchoring_proofs(document)) == 1
        outcome, details, verified = anchored(log_platform, document)
        assert (outcome, details["anchor_status"], verified) == (Outcome.PASS, "anchored", True)
        assert verify(document, options=options(log_platform)).check("proof").passed
    jwt_receipt = ledger.credential_receipt(log_platform, records[6].credential_id)
    assert jwt_receipt.status == "sealed"
    assert jwt_receipt.leaf_index == 6
    assert jwt_receipt.head is not None
    assert verify_inclusion(
        leaf_hash=leaf_hash(jwt_receipt.leaf_input or b""),
        leaf_index=6,
        tree_size=jwt_receipt.head.tree_size,
        proof=jwt_receipt.audit_path,
        root=jwt_receipt.head.root_hash,
    )
    with log_platform.reading() as session:
        logged = list(session.scalars(select(LogEntryRow.credential_row_id)))
        leaves = session.scalars(select(OutboxRow).where(OutboxRow.topic == "ledger.leaf")).all()
    assert sorted(logged) == sorted(r.id for r in records)
    assert all(m.delivered_at is not None for m in leaves)


def test_sealing_by_time(
    log_platform: Platform, org_and_achievement: tuple[SeededOrg, str], clock: MovableClock
) -> None:
    org, achievement_id = org_and_achievement
    clock.instant = datetime.now(UTC)  # outbox rows are stamped with the wall clock
    issue(log_platform, org, achievement_id, 2)
    policy = ledger.SealPolicy(batch_size=100, batch_seconds=30)
    assert ledger.seal_pending(log_platform, policy=policy) is None
    clock.advance(seconds=31)
    sealed = ledger.seal_pending(log_platform, policy=policy)
    assert sealed is not None
    assert sealed.leaf_count == 2


def test_tampered_anchoring_proofs_fail(
    log_platform: Platform, org_and_achievement: tuple[SeededOrg, str]
) -> None:
    org, achievement_id = org_and_achievement
    (record,) = issue(log_platform, org, achievement_id, 1)
    issue(log_platform, org, achievement_id, 2)
    ledger.seal_pending(log_platform, force=True)
    document = stored(log_platform, record)

    def mutate(change: Callable[[dict[str, Any]], None]) -> tuple[Outcome, str | None]:
        copy_ = copy.deepcopy(document)
        change(copy_["proof"][0])
        outcome, details, _ = anchored(log_platform, copy_)
        return outcome, details.get("property")

    def path_swapped(proof: dict[str, Any]) -> None:
        receipt = merkle_proof_2019.decode_proof_value(proof["proofValue"])
        bad = dataclasses.replace(receipt, path=(("left", bytes(32)), *receipt.path[1:]))
        proof["proofValue"] = merkle_proof_2019.encode_proof_value(bad)

    def root_changed(proof: dict[str, Any]) -> None:
        receipt = merkle_proof_2019.decode_proof_value(proof["proofValue"])
        bad = dataclasses.replace(receipt, merkle_root=bytes(32))
        proof["proofValue"] = merkle_proof_2019.encode_proof_value(bad)

    def head_forged(proof: dict[str, Any]) -> None:
        proof[RECEIPT_MEMBER]["signedTreeHead"]["tree_size"] += 1

    def audit_path_changed(proof: dict[str, Any]) -> None:
        proof[RECEIPT_MEMBER]["auditPath"][0] = "A" * 43 + "="

    def other_index(proof: dict[str, Any]) -> None:
        proof[RECEIPT_MEMBER]["leafIndex"] = 1

    assert mutate(path_swapped) == (Outcome.FAIL, "path")
    assert mutate(root_changed) == (Outcome.FAIL, "path")
    assert mutate(head_forged) == (Outcome.FAIL, "tree_head_signature")
    assert mutate(audit_path_changed) == (Outcome.FAIL, "auditPath")
    assert mutate(other_index) == (Outcome.FAIL, "auditPath")
    changed = copy.deepcopy(document)
    changed["name"] = "Another name"
    outcome, details, verified = anchored(log_platform, changed)
    assert (outcome, details["property"], verified) == (Outcome.FAIL, "targetHash", False)
    # a head signed by another key is a forgery even when it is self-consistent
    stranger = dataclasses.replace(log_platform, extras={"log_key": generate_key("Ed25519")})
    outcome, details, _ = anchored(stranger, document)
    assert outcome is Outcome.FAIL


def test_reads_agree_with_the_pure_core(
    log_platform: Platform, org_and_achievement: tuple[SeededOrg, str]
) -> None:
    org, achievement_id = org_and_achievement
    sizes = []
    for n in (3, 1, 5):
        issue(log_platform, org, achievement_id, n, proof_format="vc-jwt")
        result = ledger.seal_pending(log_platform, force=True)
        assert result is not None
        sizes.append(result.head.tree_size)
    assert sizes == [3, 4, 9]
    leaves = ledger.entries(log_platform, 0, 100)
    assert len(leaves) == 9
    tree = MerkleTree.from_leaves(leaves)
    head = ledger.latest_head(log_platform)
    assert head.root_hash == tree.root
    assert ledger.tree_head(log_platform, 4).root_hash == tree.root_at(4)
    for size in sizes:
        for index in range(size):
            answer = ledger.inclusion_proof(log_platform, leaf_hash(leaves[index]), size)
            assert answer.leaf_index == index
            assert answer.audit_path == tree.inclusion_proof(index, size)
    for first in range(10):
        proof = ledger.consistency_proof(log_platform, first, 9)
        assert proof == tree.consistency_proof(first, 9)
        assert verify_consistency(
            first_size=first,
            second_size=9,
            first_root=tree.root_at(first),
            second_root=tree.root,
            proof=proof,
        )
    with pytest.raises(InvalidInput):
        ledger.consistency_proof(log_platform, 5, 10)
    with pytest.raises(NotFound):
        ledger.inclusion_proof(log_platform, bytes(32))
    with pytest.raises(NotFound):
        ledger.entries(log_platform, 9, 10)
    with pytest.raises(NotFound):
        ledger.tree_head(log_platform, 5)


def test_record_batch_anchor_adds_the_blink_uri_idempotently(
    log_platform: Platform, org_and_achievement: tuple[SeededOrg, str]
) -> None:
    org, achievement_id = org_and_achievement
    records = issue(log_platform, org, achievement_id, 3)
    records += issue(log_platform, org, achievement_id, 1, proof_format="vc-jwt")
    anchoring = dataclasses.replace(
        ledger.SealPolicy(batch_size=4, batch_seconds=60), anchor_ethereum=True
    )
    sealed = ledger.seal_pending(log_platform, policy=anchoring)
    assert sealed is not None
    with log_platform.reading() as session:
        message = session.scalars(
            select(OutboxRow).where(OutboxRow.topic == "anchor.ethereum")
        ).one()
    assert message.idempotency_key == f"anchor.ethereum:{sealed.batch_id}"
    assert message.payload == {
        "batch_id": sealed.batch_id,
        "merkle_root": sealed.merkle_root.hex(),
        "tree_size": 4,
        "leaf_count": 4,
    }
    anchor = "blink:eth:31337:0x" + "ab" * 32
    with log_platform.transaction() as session:
        assert ledger.record_batch_anchor(session, batch_id=sealed.batch_id, anchor=anchor) == 3
    with log_platform.transaction() as session:
        assert ledger.record_batch_anchor(session, batch_id=sealed.batch_id, anchor=anchor) == 0
        with pytest.raises(InvalidInput):
            ledger.record_batch_anchor(session, batch_id=sealed.batch_id, anchor="blink:nope")
        with pytest.raises(NotFound):
            ledger.record_batch_anchor(session, batch_id="nope", anchor=anchor)
    for record in records[:3]:
        document = stored(log_platform, record)
        (proof,) = anchoring_proofs(document)
        receipt = merkle_proof_2019.decode_proof_value(proof["proofValue"])
        assert receipt.anchors == (anchor,)
        assert receipt.merkle_root == sealed.merkle_root
        outcome, details, _ = anchored(log_platform, document)
        assert (outcome, details["anchors"]) == (Outcome.PASS, [anchor])
    assert ledger.credential_receipt(log_platform, records[3].credential_id).anchors == (anchor,)


# --- tamper detection: what `merito log monitor` checks ------------------------------------------


def _monitor_sees(platform: Platform) -> tuple[bool, bool]:
    """(consistency with the first head of size 4 holds, the entries hash to the latest root)."""
    info = ledger.log_info(platform)
    with platform.reading() as session:
        first = session.get(LogHeadRow, 4)
        assert first is not None
    first_head = ledger.tree_head(platform, 4)
    latest = ledger.latest_head(platform)
    # a fresh process: no cached tree
    ledger._TREES.clear()
    try:
        proof = ledger.consistency_proof(platform, 4, latest.tree_size)
    except Exception:
        proof = []
    consistent = check_consistency(
        previous=first_head, current=latest, proof=proof, public_key=info.public_key
    ).ok
    entries = ledger.entries(platform, 0, latest.tree_size)
    audit = check_entries(head=latest, entries=entries, public_key=info.public_key).ok
    return consistent, audit


@pytest.mark.parametrize("tamper", ["change", "drop", "reorder", "swap-head"])
def test_rewriting_history_is_detected(
    log_platform: Platform, org_and_achievement: tuple[SeededOrg, str], tamper: str
) -> None:
    org, achievement_id = org_and_achievement
    issue(log_platform, org, achievement_id, 4, proof_format="vc-jwt")
    ledger.seal_pending(log_platform, force=True)
    issue(log_platform, org, achievement_id, 3, proof_format="vc-jwt")
    ledger.seal_pending(log_platform, force=True)
    assert _monitor_sees(log_platform) == (True, True)
    with log_platform.transaction() as session:
        if tamper == "change":
            session.execute(
                update(LogEntryRow).where(LogEntryRow.idx == 1).values(leaf_input=b"\x01" * 32)
            )
        elif tamper == "drop":
            session.execute(delete(LogEntryRow).where(LogEntryRow.idx == 2))
            session.execute(
                update(LogEntryRow).where(LogEntryRow.idx > 2).values(idx=LogEntryRow.idx - 1)
            )
        elif tamper == "reorder":
            rows = {r.idx: r.leaf_input for r in session.scalars(select(LogEntryRow))}
            session.execute(update(LogEntryRow).where(LogEntryRow.idx == 0).values(idx=100))
            session.execute(update(LogEntryRow).where(LogEntryRow.idx == 3).values(idx=0))
            session.execute(update(LogEntryRow).where(LogEntryRow.idx == 100).values(idx=3))
            assert rows[0] != rows[3]
        else:  # the latest head replaced by one signed by another key
            other = generate_key("Ed25519")
            head = ledger.latest_head(log_platform)
            forged = sign_tree_head(
                log_id=head.log_id,
                tree_size=head.tree_size,
                timestamp=head.timestamp,
                root_hash=bytes(32),
                key=other,
            )
            session.execute(
                update(LogHeadRow)
                .where(LogHeadRow.tree_size == head.tree_size)
                .values(root_hash=forged.root_hash, signature=forged.signature)
            )
    consistent, audit = _monitor_sees(log_platform)
    # the served entries no longer hash to the signed root (an audit sees every rewrite);
    # the signed heads themselves still link unless one of them was replaced
    assert not audit
    assert consistent is (tamper in ("change", "reorder"))
    with log_platform.reading() as session:
        assert session.scalar(select(LogBatchRow.id).limit(1)) is not None


def test_concurrent_sealers_log_each_credential_once(
    log_platform: Platform, org_and_achievement: tuple[SeededOrg, str]
) -> None:
    org, achievement_id = org_and_achievement
    records = issue(log_platform, org, achievement_id, 24, proof_format="vc-jwt")
    policy = ledger.SealPolicy(batch_size=3, batch_seconds=3600)
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def seal_all() -> None:
        try:
            start.wait()
            while ledger.seal_pending(log_platform, policy=policy, force=True) is not None:
                pass
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=seal_all) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    with log_platform.reading() as session:
        entries = list(session.scalars(select(LogEntryRow).order_by(LogEntryRow.idx)))
        heads = list(session.scalars(select(LogHeadRow.tree_size).order_by(LogHeadRow.tree_size)))
    assert [e.idx for e in entries] == list(range(24))
    assert sorted(e.credential_row_id for e in entries) == sorted(r.id for r in records)
    assert heads == list(range(3, 25, 3))
    assert check_entries(
        head=ledger.latest_head(log_platform),
        entries=[e.leaf_input for e in entries],
        public_key=LOG_KEY.public_key,
    ).ok
