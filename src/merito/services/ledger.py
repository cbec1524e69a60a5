"""The platform's transparency log: sealing pending leaves, the CT-style reads, chain anchors.

Issuing a credential writes an outbox message ``ledger.leaf`` in the issuance transaction.
The sealer (:func:`seal_pending`, run by ``merito worker`` / ``merito serve`` through
:func:`run_sealer`, and by ``merito log seal``) consumes those messages itself, in batches,
rather than through the outbox's one-message handlers: a batch is sealed when
``batch_size`` leaves wait or the oldest has waited ``batch_seconds``. **One seal is one
transaction**: it computes each credential's leaf (the Blockcerts target hash: SHA-256 of the
RDFC-1.0 N-Quads of the credential without proofs; for a VC-JWT, SHA-256 of the compact JWT),
appends the entries, signs the new Signed Tree Head with the log key, writes the batch with
its Blockcerts root, adds the merkle-proof-2019 anchoring proof (with its log receipt, see
``merito.ledger.anchoring``) to each embedded-proof credential's stored document, marks the
messages delivered and, when a chain is configured, enqueues ``anchor.ethereum``. A crash
anywhere before the commit leaves everything pending for the next seal; unique constraints
on the entry index, the leaf hash and the credential make a second copy impossible, and a
per-log lock (PostgreSQL advisory lock; SQLite's write lock taken up front) serialises
concurrent sealers. So every credential is anchored exactly once.

Sealing is not a user mutation: it is logged (logger ``merito.ledger``), not audited.
The log key (Ed25519) comes from ``platform.extras["log_key"]`` (bootstrap derives it from
the master key, see docs/decisions/0008-ledger.md); its id is the base64 SHA-256 of the raw
public key, as Certificate Transparency's LogID.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from merito.errors import Conflict, InvalidInput, InvalidKey, MeritoError, NotFound
from merito.formats.did_key import create_did_key
from merito.ledger.anchoring import RECEIPT_MEMBER, LogReceipt, anchoring_proofs, log_id_of
from merito.ledger.log import MAX_ENTRIES_PER_REQUEST
from merito.ledger.merkle import (
    HASH_SIZE,
    CompactRange,
    MerkleTree,
    inclusion_proofs_of_appended,
    leaf_hash,
)
from merito.ledger.sth import SignedTreeHead, sign_tree_head, timestamp_ms
from merito.proofs import merkle_proof_2019
from merito.proofs.keys import PrivateKey, PublicKey
from merito.services.platform import Platform, enqueue, new_id
from merito.storage.tables import Base, CredentialRow, OutboxRow
from merito.storage.tables_ledger import LogBatchRow, LogEntryRow, LogHeadRow

__all__ = [
    "ANCHOR_TOPIC",
    "LEAF_TOPIC",
    "CredentialReceipt",
    "LogInfo",
    "SealPolicy",
    "SealResult",
    "consistency_proof",
    "credential_receipt",
    "entries",
    "inclusion_proof",
    "latest_head",
    "log_info",
    "log_path",
    "record_batch_anchor",
    "run_sealer",
    "seal_pending",
    "sealer_thread",
    "tree_head",
]

log = logging.getLogger("merito.ledger")

LEAF_TOPIC: Final = "ledger.leaf"
ANCHOR_TOPIC: Final = "anchor.ethereum"
#: credentials whose document gains an embedded anchoring proof (a VC-JWT cannot)
_EMBEDDED_FORMATS: Final = frozenset({"eddsa-rdfc-2022", "eddsa-jcs-2022"})
#: pg_advisory_xact_lock key of the sealer ("merito-l" as a 64-bit integer)
_SEAL_LOCK: Final = int.from_bytes(b"merito-l", "big") & 0x7FFF_FFFF_FFFF_FFFF
#: the CT-style routes' base path
LOG_PATH: Final = "/log/v1"


# --- the log key ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogInfo:
    """The log's public identity: what a monitor pins and a verifier trusts."""

    log_id: str
    public_key: PublicKey
    #: the did:key verification method the anchoring proofs name
    verification_method: str
    url: str

    def to_json(self) -> dict[str, Any]:
        return {
            "log_id": self.log_id,
            "url": self.url,
            "key": {"algorithm": "Ed25519", "jwk": self.public_key.to_jwk()},
            "public_key_multibase": self.public_key.to_multibase(),
            "verification_method": self.verification_method,
            "hash_algorithm": "SHA-256",
            "tree": "RFC 9162",
        }


def _log_key(platform: Platform) -> PrivateKey:
    key = platform.extras.get("log_key")
    if key is None:
        raise InvalidKey(
            "no transparency log key is configured (bootstrap derives it from the master key)",
            property="log_key",
        )
    return key  # type: ignore[no-any-return]


def log_path(platform: Platform) -> str:
    return platform.url(LOG_PATH)


def log_info(platform: Platform) -> LogInfo:
    """The log id, public key and URL (``GET /log/v1/key``)."""
    public = _log_key(platform).public_key
    multibase = public.to_multibase()
    return LogInfo(
        log_id=log_id_of(public),
        public_key=public,
        verification_method=f"{create_did_key(multibase)}#{multibase}",
        url=log_path(platform),
    )


# --- sealing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SealPolicy:
    """When to seal: ``batch_size`` leaves waiting, or the oldest waiting ``batch_seconds``.

    ``anchor_ethereum``: enqueue ``anchor.ethereum`` for each sealed batch (a chain is set).
    """

    batch_size: int = 256
    batch_seconds: float = 10.0
    anchor_ethereum: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 100_000:
            raise InvalidInput("batch_size must be between 1 and 100,000", property="batch_size")
        if self.batch_seconds <= 0:
            raise InvalidInput("batch_seconds must be positive", property="batch_seconds")


@dataclass(frozen=True, slots=True)
class SealResult:
    """One sealed batch."""

    batch_id: str
    first_index: int
    leaf_count: int
    head: SignedTreeHead
    merkle_root: bytes
    #: credentials whose stored document gained the anchoring proof
    proofs_attached: int
    skipped: int = 0


def _table(model: type[Base]) -> Table:
    return model.metadata.tables[model.__tablename__]


def _lock(session: Session) -> None:
    """Serialise sealers: only one may read the pending leaves and append at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_SEAL_LOCK)))
    else:
        # a write statement takes SQLite's write lock now (others wait busy_timeout), rather
        # than at the first INSERT, after this transaction read a snapshot another may change
        session.execute(text("UPDATE log_heads SET tree_size = tree_size WHERE tree_size < 0"))


def _compact(row: LogHeadRow | None) -> CompactRange:
    if row is None:
        return CompactRange()
    peaks = tuple(row.peaks[i : i + HASH_SIZE] for i in range(0, len(row.peaks), HASH_SIZE))
    return CompactRange(size=row.tree_size, peaks=peaks)


def _head(row: LogHeadRow) -> SignedTreeHead:
    return SignedTreeHead(
        log_id=row.log_id,
        tree_size=row.tree_size,
        timestamp=row.timestamp,
        root_hash=row.root_hash,
        signature=row.signature,
    )


def _latest_row(session: Session) -> LogHeadRow | None:
    return session.scalars(
        select(LogHeadRow).order_by(LogHeadRow.tree_size.desc()).limit(1)
    ).first()


class _Message(NamedTuple):
    id: int
    payload: dict[str, Any]
    created_at: datetime


class _Credential(NamedTuple):
    id: str
    jwt: str | None
    proof_format: str
    document: dict[str, Any]


def _pending(session: Session, limit: int) -> list[_Message]:
    # columns, not ORM objects: a batch may be 100k rows
    rows = session.execute(
        select(OutboxRow.id, OutboxRow.payload, OutboxRow.created_at)
        .where(
            OutboxRow.topic == LEAF_TOPIC,
            OutboxRow.delivered_at.is_(None),
            OutboxRow.dead_at.is_(None),
        )
        .order_by(OutboxRow.id)
        .limit(limit)
    )
    return [_Message(*row) for row in rows]


def _chunks(values: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _leaf_of(row: _Credential) -> bytes:
    """The credential's log entry: its Blockcerts target hash, or SHA-256 of its JWT."""
    if row.jwt is not None:
        return hashlib.sha256(row.jwt.encode("ascii")).digest()
    return merkle_proof_2019.target_hash(row.document)


def seal_pending(
    platform: Platform, *, policy: SealPolicy | None = None, force: bool = False
) -> SealResult | None:
    """Seal one batch of pending leaves if one is due (``force``: whatever is pending).

    Returns None when nothing was sealed. One transaction (see the module docstring).
    """
    policy = policy or SealPolicy()
    key = _log_key(platform)
    info = log_info(platform)
    now = platform.clock.now()
    with platform.transaction() as session:
        _lock(session)
        messages = _pending(session, policy.batch_size)
        if not messages:
            return None
        due = force or len(messages) >= policy.batch_size
        if not due and messages[0].created_at > now - timedelta(seconds=policy.batch_seconds):
            return None
        wanted = [str(m.payload.get("credential_row_id", "")) for m in messages]
        credentials: dict[str, _Credential] = {}
        already: set[str | None] = set()
        for chunk in _chunks(wanted):  # bounded IN lists (SQLite limits bound parameters)
            credentials.update(
                (row[0], _Credential(row[0], row[1], row[2], {}))
                for row in session.execute(
                    select(CredentialRow.id, CredentialRow.jwt, CredentialRow.proof_format).where(
                        CredentialRow.id.in_(chunk)
                    )
                )
            )
            # documents only where they are needed (a VC-JWT's leaf is its JWT)
            embedded = [
                c
                for c in chunk
                if c in credentials
                and credentials[c].jwt is None
                and credentials[c].proof_format in _EMBEDDED_FORMATS
            ]
            if embedded:
                for row_id, document in session.execute(
                    select(CredentialRow.id, CredentialRow.document).where(
                        CredentialRow.id.in_(embedded)
                    )
                ):
                    credentials[row_id] = credentials[row_id]._replace(document=document)
            already.update(
                session.scalars(
                    select(LogEntryRow.credential_row_id).where(
                        LogEntryRow.credential_row_id.in_(chunk)
                    )
                )
            )
        batch: list[tuple[_Credential, bytes]] = []
        seen: set[str] = set()
        for row_id in wanted:
            row = credentials.get(row_id)
            if row is None or row_id in already or row_id in seen:
                continue  # deleted since, or logged already: never twice
            seen.add(row_id)
            batch.append((row, _leaf_of(row)))
        delivered = [m.id for m in messages]
        outbox = _table(OutboxRow)
        session.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("message_id"))
            .values(delivered_at=now, claimed_by=None, claimed_until=None, last_error=None),
            [{"message_id": message_id} for message_id in delivered],
        )
        if not batch:
            return None
        result = _append_batch(session, platform, batch, key=key, info=info, now=now)
        if policy.anchor_ethereum:
            enqueue(
                session,
                topic=ANCHOR_TOPIC,
                payload={
                    "batch_id": result.batch_id,
                    "merkle_root": result.merkle_root.hex(),
                    "tree_size": result.head.tree_size,
                    "leaf_count": result.leaf_count,
                },
                idempotency_key=f"{ANCHOR_TOPIC}:{result.batch_id}",
                org_id=None,
            )
    skipped = len(messages) - len(batch)
    log.info(
        "ledger: sealed batch %s: %d entries [%d, %d), tree size %d, %d proofs attached%s",
        result.batch_id,
        result.leaf_count,
        result.first_index,
        result.head.tree_size,
        result.head.tree_size,
        result.proofs_attached,
        f", {skipped} skipped" if skipped else "",
        extra={"batch_id": result.batch_id, "tree_size": result.head.tree_size},
    )
    return SealResult(
        result.batch_id,
        result.first_index,
        result.leaf_count,
        result.head,
        result.merkle_root,
        result.proofs_attached,
        skipped,
    )


def _append_batch(
    session: Session,
    platform: Platform,
    batch: Sequence[tuple[_Credential, bytes]],
    *,
    key: PrivateKey,
    info: LogInfo,
    now: datetime,
) -> SealResult:
    latest = _latest_row(session)
    compact = _compact(latest)
    leaves = [leaf for _, leaf in batch]
    hashes = [leaf_hash(leaf) for leaf in leaves]
    grown = compact.extend(hashes)
    head = sign_tree_head(
        log_id=info.log_id,
        tree_size=grown.size,
        timestamp=timestamp_ms(now),
        root_hash=grown.root,
        key=key,
    )
    embedded = any(r.jwt is None and r.proof_format in _EMBEDDED_FORMATS for r, _ in batch)
    # receipts (a path per leaf) only when some credential embeds one; else just the root
    receipts = merkle_proof_2019.batch_proofs(leaves, anchors=()) if embedded else []
    merkle_root = receipts[0].merkle_root if receipts else merkle_proof_2019.blockcerts_root(leaves)
    batch_id = new_id()
    session.add(
        LogHeadRow(
            tree_size=head.tree_size,
            log_id=head.log_id,
            timestamp=head.timestamp,
            root_hash=head.root_hash,
            signature=head.signature,
            peaks=b"".join(grown.peaks),
            created_at=now,
        )
    )
    session.flush()
    session.add(
        LogBatchRow(
            id=batch_id,
            first_index=compact.size,
            leaf_count=len(batch),
            tree_size=head.tree_size,
            merkle_root=merkle_root,
            anchors=[],
            sealed_at=now,
        )
    )
    session.flush()
    session.execute(
        insert(_table(LogEntryRow)),
        [
            {
                "idx": compact.size + i,
                "leaf_input": leaf,
                "leaf_hash": hashes[i],
                "credential_row_id": row.id,
                "batch_id": batch_id,
            }
            for i, (row, leaf) in enumerate(batch)
        ],
    )
    paths = inclusion_proofs_of_appended(compact, hashes) if embedded else []
    documents = []
    for i, (row, _) in enumerate(batch):
        if row.jwt is not None or row.proof_format not in _EMBEDDED_FORMATS:
            continue
        receipt = LogReceipt(
            log=info.url, leaf_index=compact.size + i, audit_path=tuple(paths[i]), head=head
        )
        document = merkle_proof_2019.attach_proof(
            row.document, receipts[i], verification_method=info.verification_method, created=now
        )
        proofs = document["proof"]  # a list after the issuer's proof, else the proof alone
        (proofs[0] if isinstance(proofs, list) else proofs)[RECEIPT_MEMBER] = receipt.to_json()
        documents.append({"row_id": row.id, "doc": document})
    if documents:
        table = _table(CredentialRow)
        session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values(document=bindparam("doc")),
            documents,
        )
    return SealResult(batch_id, compact.size, len(batch), head, merkle_root, len(documents))


def run_sealer(
    platform: Platform,
    *,
    stop: threading.Event,
    policy: SealPolicy | None = None,
    poll_interval: float | None = None,
) -> None:
    """Seal until ``stop`` is set: a full batch goes on at once, otherwise it waits.

    A failed round (database outage, a concurrent sealer won the race) is logged and retried
    after a growing pause; the loop itself never dies of it.
    """
    policy = policy or SealPolicy()
    interval = poll_interval if poll_interval is not None else min(policy.batch_seconds, 1.0)
    failures = 0
    log.info("ledger: sealer started (batch %d, %.1fs)", policy.batch_size, policy.batch_seconds)
    while not stop.is_set():
        try:
            result = seal_pending(platform, policy=policy)
        except Exception:
            failures += 1
            pause = min(interval * 2**failures, 60.0)
            log.exception("ledger: sealing failed; next try in %.1fs", pause)
            stop.wait(pause)
            continue
        failures = 0
        if result is None or result.leaf_count + result.skipped < policy.batch_size:
            stop.wait(interval)
    log.info("ledger: sealer stopped")


def sealer_thread(
    platform: Platform, *, stop: threading.Event, policy: SealPolicy | None = None
) -> threading.Thread:
    """A daemon thread running :func:`run_sealer` (not started), for the worker commands."""
    return threading.Thread(
        target=run_sealer,
        args=(platform,),
        kwargs={"stop": stop, "policy": policy},
        name="merito-sealer",
        daemon=True,
    )


# --- chain anchors (the Ethereum back end calls this) ----------------------------------------


def record_batch_anchor(session: Session, *, batch_id: str, anchor: str) -> int:
    """Add the chain anchor ``anchor`` to every credential of batch ``batch_id``.

    ``anchor`` is a Blink URI naming the transaction that wrote the batch's Blockcerts root
    on chain, e.g. ``blink:eth:31337:0x<64 hex>`` (``merito.proofs.merkle_proof_2019``
    validates it: InvalidInput otherwise). Runs in the caller's ``session`` (the caller owns
    the transaction). For each credential of the batch with an embedded merkle-proof-2019
    proof, the URI is appended to the proof's ``anchors`` and ``proofValue`` is re-encoded;
    the target hash, path and root are unchanged, so the issuer's proof and the log receipt
    still verify. The batch row remembers the anchor too (``log_batches.anchors``), which is
    where VC-JWT credentials' receipts (``GET /log/v1/receipt``) read it.

    Idempotent: a credential that already lists ``anchor`` is left alone. Returns how many
    credentials were updated (0 when called again). NotFound for an unknown batch.
    """
    merkle_proof_2019.MerkleProof2019(  # validates the URI (raises InvalidInput)
        target_hash=bytes(32), merkle_root=bytes(32), anchors=(anchor,)
    )
    batch = session.get(LogBatchRow, batch_id, with_for_update=True)
    if batch is None:
        raise NotFound(f"no sealed batch {batch_id!r}", property="batch_id")
    if anchor not in batch.anchors:
        batch.anchors = [*batch.anchors, anchor]
    rows = session.scalars(
        select(CredentialRow)
        .join(LogEntryRow, LogEntryRow.credential_row_id == CredentialRow.id)
        .where(LogEntryRow.batch_id == batch_id)
        .order_by(LogEntryRow.idx)
    )
    updated = 0
    for row in rows:
        document = _with_anchor(row.document, anchor)
        if document is not None:
            row.document = document
            updated += 1
    session.flush()
    return updated


def _with_anchor(document: Mapping[str, Any], anchor: str) -> dict[str, Any] | None:
    proofs = document.get("proof")
    if not isinstance(proofs, list):
        return None
    changed = False
    new_proofs: list[Any] = []
    for proof in proofs:
        if proof in anchoring_proofs({"proof": [proof]}) and isinstance(proof, Mapping):
            receipt = merkle_proof_2019.decode_proof_value(proof["proofValue"])
            if anchor not in receipt.anchors:
                receipt = merkle_proof_2019.MerkleProof2019(
                    target_hash=receipt.target_hash,
                    merkle_root=receipt.merkle_root,
                    path=receipt.path,
                    anchors=(*receipt.anchors, anchor),
                )
                proof = {**proof, "proofValue": merkle_proof_2019.encode_proof_value(receipt)}
                changed = True
        new_proofs.append(proof)
    if not changed:
        return None
    return {**document, "proof": new_proofs}


# --- reading the log (the CT-style routes, the monitor's source) ------------------------------


_TREES: weakref.WeakKeyDictionary[sessionmaker[Session], MerkleTree] = weakref.WeakKeyDictionary()
_TREES_LOCK = threading.Lock()


def _tree(session: Session, platform: Platform, size: int) -> MerkleTree:
    """The tree of at least ``size`` entries: one per process, extended as the log grows."""
    with _TREES_LOCK:
        tree = _TREES.get(platform.sessions)
        if tree is None:
            tree = _TREES[platform.sessions] = MerkleTree([])
        if tree.size < size:
            hashes = list(
                session.scalars(
                    select(LogEntryRow.leaf_hash)
                    .where(LogEntryRow.idx >= tree.size, LogEntryRow.idx < size)
                    .order_by(LogEntryRow.idx)
                )
            )
            if len(hashes) != size - tree.size:
                raise Conflict(
                    f"the log is missing entries below {size}: it was tampered with",
                    property="tree_size",
                )
            tree.extend(hashes)
        return tree


def latest_head(platform: Platform) -> SignedTreeHead:
    """The newest Signed Tree Head (``GET /log/v1/sth``); before any seal, the empty tree's.

    The empty tree's head is signed on the fly (timestamp: now), as a CT log's first STH.
    """
    with platform.reading() as session:
        row = _latest_row(session)
        if row is not None:
            return _head(row)
    info = log_info(platform)
    return sign_tree_head(
        log_id=info.log_id,
        tree_size=0,
        timestamp=timestamp_ms(platform.clock.now()),
        root_hash=CompactRange().root,
        key=_log_key(platform),
    )


def tree_head(platform: Platform, tree_size: int) -> SignedTreeHead:
    """The head signed for exactly ``tree_size`` (``GET /log/v1/sth/{tree_size}``)."""
    with platform.reading() as session:
        row = session.get(LogHeadRow, tree_size)
        if row is None:
            raise NotFound(f"no tree head was signed for size {tree_size}", property="tree_size")
        return _head(row)


def _sealed_size(session: Session, tree_size: int | None) -> int:
    row = _latest_row(session)
    sealed = 0 if row is None else row.tree_size
    if tree_size is None:
        return sealed
    if not 0 <= tree_size <= sealed:
        raise InvalidInput(
            f"tree_size {tree_size} is not a sealed size of this log (0..{sealed})",
            property="tree_size",
        )
    return tree_size


@dataclass(frozen=True, slots=True)
class InclusionAnswer:
    leaf_index: int
    tree_size: int
    audit_path: list[bytes]


def parse_hash(value: str, prop: str = "hash") -> bytes:
    """A 32-byte hash given as 64 hex digits or base64 (standard or URL-safe)."""
    text_value = value.strip()
    if len(text_value) == 2 * HASH_SIZE:
        try:
            return bytes.fromhex(text_value)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(
            text_value.replace("-", "+").replace("_", "/") + "=" * (-len(text_value) % 4),
            validate=True,
        )
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != HASH_SIZE:
        raise InvalidInput(f"{prop} must be a 32-byte hash in hex or base64", property=prop)
    return raw


def inclusion_proof(
    platform: Platform, leaf_hash_: bytes, tree_size: int | None = None
) -> InclusionAnswer:
    """RFC 6962 §4.5 ``get-proof-by-hash`` (``GET /log/v1/proof-by-hash``)."""
    with platform.reading() as session:
        size = _sealed_size(session, tree_size)
        index = session.scalar(select(LogEntryRow.idx).where(LogEntryRow.leaf_hash == leaf_hash_))
        if index is None or index >= size:
            raise NotFound(
                f"no entry with this leaf hash in the tree of size {size}", property="hash"
            )
        tree = _tree(session, platform, size)
        return InclusionAnswer(index, size, tree.inclusion_proof(index, size))


def consistency_proof(platform: Platform, first: int, second: int | None = None) -> list[bytes]:
    """RFC 6962 §4.4 ``get-sth-consistency`` (``GET /log/v1/consistency``)."""
    with platform.reading() as session:
        size = _sealed_size(session, second)
        if not 0 <= first <= size:
            raise InvalidInput(f"first must be between 0 and {size}", property="first")
        return _tree(session, platform, size).consistency_proof(first, size)


def entries(platform: Platform, start: int, end: int) -> list[bytes]:
    """RFC 6962 §4.6 ``get-entries``: leaf inputs ``[start, end]`` inclusive, capped."""
    if start < 0 or end < start:
        raise InvalidInput("need 0 <= start <= end", property="start")
    with platform.reading() as session:
        sealed = _sealed_size(session, None)
        if start >= sealed:
            raise NotFound(
                f"no sealed entry at index {start} (the log has {sealed})", property="start"
            )
        stop = min(end + 1, sealed, start + MAX_ENTRIES_PER_REQUEST)
        return list(
            session.scalars(
                select(LogEntryRow.leaf_input)
                .where(LogEntryRow.idx >= start, LogEntryRow.idx < stop)
                .order_by(LogEntryRow.idx)
            )
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CredentialReceipt:
    """Where a credential is in the log (or that it is pending): the API-only receipt of VC-JWTs."""

    credential_id: str
    status: str  # "pending" or "sealed"
    leaf_input: bytes | None = None
    leaf_index: int | None = None
    batch_id: str | None = None
    merkle_root: bytes | None = None
    anchors: tuple[str, ...] = ()
    head: SignedTreeHead | None = None
    audit_path: list[bytes] = field(default_factory=list)


def credential_receipt(platform: Platform, credential_id: str) -> CredentialReceipt:
    """The log receipt of a credential (by its ``id`` URL), against the latest head."""
    with platform.reading() as session:
        row_id = session.scalar(
            select(CredentialRow.id).where(CredentialRow.credential_id == credential_id)
        )
        if row_id is None:
            raise NotFound(f"no credential {credential_id!r}", property="credential_id")
        found = session.execute(
            select(LogEntryRow, LogBatchRow)
            .join(LogBatchRow, LogBatchRow.id == LogEntryRow.batch_id)
            .where(LogEntryRow.credential_row_id == row_id)
        ).first()
        if found is None:
            return CredentialReceipt(credential_id=credential_id, status="pending")
        entry, batch = found
        latest = _latest_row(session)
        if latest is None:  # pragma: no cover - an entry implies a head
            raise MeritoError("the log has entries but no head")
        tree = _tree(session, platform, latest.tree_size)
        return CredentialReceipt(
            credential_id=credential_id,
            status="sealed",
            leaf_input=entry.leaf_input,
            leaf_index=entry.idx,
            batch_id=batch.id,
            merkle_root=batch.merkle_root,
            anchors=tuple(batch.anchors),
            head=_head(latest),
            audit_path=tree.inclusion_proof(entry.idx, latest.tree_size),
        )
