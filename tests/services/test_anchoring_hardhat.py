"""The whole anchoring path against a real JSON-RPC node: Hardhat Network on 127.0.0.1.

Everything is built by bootstrap from Settings (MERITO_ETHEREUM_*), as ``merito worker``
builds it: issue -> seal -> ``anchor.ethereum`` over HTTP -> confirmations (a block mined per
poll, as a live chain would) -> the Blink anchor in the proofs -> the verifier's chain check
through ``bootstrap.verify_options``. Skips, saying why, without node/npx or the installed
package (``make test`` installs it: npm ci in tests/chain).
"""

from __future__ import annotations

import functools
import random
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from services_support import MovableClock, SeededOrg
from sqlalchemy import select
from test_anchoring import Recorder, _seal
from test_credentials import seed_achievement
from test_ledger import issue, stored

from merito import bootstrap
from merito.config import Settings
from merito.domain.verification import Outcome
from merito.ledger.anchoring import anchoring_proofs
from merito.proofs import merkle_proof_2019
from merito.services import anchoring, issuers, ledger
from merito.services.outbox import DEFAULT_HANDLERS, HandlerRegistry, deliver_due
from merito.services.platform import Actor, Platform
from merito.storage.tables import MembershipRow, OrganisationRow, UserRow
from merito.storage.tables_anchoring import ChainAnchorRow
from merito.verification import verify

sys.path.insert(0, str(Path(__file__).parents[1] / "contract"))
from test_ethereum_anchor import _hardhat_key, _rpc, hardhat  # noqa: F401 - the node fixture

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(hardhat: str, database_url: str, tmp_path: Path) -> Settings:  # noqa: F811
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        master_key="66" * 32,
        base_url="https://merito.test",
        ethereum_rpc_url=hardhat,
        ethereum_chain_id=31337,
        ethereum_private_key=_hardhat_key(),
        ethereum_confirmations=2,
        ethereum_poll_interval=1,
        log_batch_size=3,
    )


@pytest.fixture
def platform(settings: Settings, clock: MovableClock) -> Iterator[Platform]:
    built = bootstrap.platform(settings, clock=clock)
    try:
        yield built
    finally:
        built.sessions.kw["bind"].dispose()


def test_the_whole_path_on_a_hardhat_node(
    platform: Platform,
    settings: Settings,
    clock: MovableClock,
    hardhat: str,  # noqa: F811
) -> None:
    assert anchoring.anchoring_for(platform) is not None  # bootstrap wired the anchor
    org_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(OrganisationRow(id=org_id, slug=f"o-{org_id[:8]}", name="Org", kind="issuer"))
        session.add(UserRow(id=user_id, email=f"{user_id}@example.org", password_hash="!"))
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=user_id, role="owner"))
    actor = Actor(kind="user", id=user_id, user_id=user_id)
    org = SeededOrg(org_id=org_id, slug=f"o-{org_id[:8]}", user_id=user_id, actor=actor)
    records = issue(platform, org, seed_achievement(platform, org_id), 3)
    sealed = ledger.seal_pending(platform, policy=bootstrap.seal_policy(settings))
    assert sealed is not None

    sender = platform.extras["ethereum_anchoring"].anchor.sender
    nonce_before = int(_rpc(hardhat, "eth_getTransactionCount", [sender, "latest"]), 16)
    clock.instant = clock.now().replace(year=2100)  # past enqueue's wall-clock default
    row = None
    for _ in range(6):  # submit, then a poll per mined block
        deliver_due(platform, worker_id="w", handlers=DEFAULT_HANDLERS, rng=random.Random(3))
        [row] = anchoring.list_anchors(platform, batch_id=sealed.batch_id)
        if row.status == "confirmed":
            break
        _rpc(hardhat, "evm_mine")
        clock.advance(seconds=2)
    assert row is not None
    assert row.status == "confirmed", row
    assert row.confirmations >= 2
    nonce_after = int(_rpc(hardhat, "eth_getTransactionCount", [sender, "latest"]), 16)
    assert nonce_after == nonce_before + 1  # one transaction for the batch
    tx = _rpc(hardhat, "eth_getTransactionByHash", [row.tx_hash])
    assert tx["input"] == "0x" + sealed.merkle_root.hex()
    assert row.anchor_uri == f"blink:eth:31337:{row.tx_hash}"

    options = bootstrap.verify_options(
        settings, documents=issuers.did_documents(platform), clock=platform.clock
    )
    for record in records:
        document = stored(platform, record)
        receipt = merkle_proof_2019.decode_proof_value(anchoring_proofs(document)[0]["proofValue"])
        assert receipt.anchors == (row.anchor_uri,)
        report = verify(document, options=options)
        check = report.check("anchored")
        assert report.verified
        assert check.outcome is Outcome.PASS, check.message
        assert check.details["chain"]["outcome"] == "pass", check.details


def test_a_stuck_transaction_is_replaced_at_a_higher_gas_price(
    settings: Settings,
    clock: MovableClock,
    hardhat: str,  # noqa: F811
) -> None:
    settings = settings.model_copy(
        update={"ethereum_confirmations": 1, "ethereum_stuck_after": 5.0}
    )
    platform = bootstrap.platform(settings, clock=clock)
    recorder = Recorder()
    handlers = HandlerRegistry()
    handlers.register(anchoring.ANCHOR_TOPIC, anchoring.anchor_batch)
    handlers.register(
        anchoring.CONFIRM_TOPIC, functools.partial(anchoring.confirm_anchor, record=recorder)
    )

    def run() -> None:
        deliver_due(platform, worker_id="w", handlers=handlers, rng=random.Random(5))

    sender = platform.extras["ethereum_anchoring"].anchor.sender
    nonce_before = int(_rpc(hardhat, "eth_getTransactionCount", [sender, "latest"]), 16)
    _rpc(hardhat, "evm_setAutomine", [False])  # nothing is mined unless we say so
    try:
        _seal(platform, "stuck")
        run()
        first = anchoring.list_anchors(platform, batch_id="stuck")[0]
        assert first.tx_hash is not None
        sent = _rpc(hardhat, "eth_getTransactionByHash", [first.tx_hash])
        assert sent["blockNumber"] is None  # pending
        clock.advance(seconds=2)
        run()  # pending, not yet stuck
        assert anchoring.list_anchors(platform, batch_id="stuck")[0].tx_hash == first.tx_hash
        clock.advance(seconds=6)
        run()  # stuck: replaced, same nonce, a higher price
        with platform.reading() as session:
            row = session.scalars(
                select(ChainAnchorRow).where(ChainAnchorRow.batch_id == "stuck")
            ).one()
        assert row.tx_hash != first.tx_hash
        assert row.replaced_tx_hashes == [first.tx_hash]
        replacement = _rpc(hardhat, "eth_getTransactionByHash", [row.tx_hash])
        assert int(replacement["gasPrice"], 16) > int(sent["gasPrice"], 16) * 9 // 8
        assert replacement["nonce"] == sent["nonce"]
        # the node dropped the stuck one for its replacement
        assert _rpc(hardhat, "eth_getTransactionByHash", [first.tx_hash]) is None
        _rpc(hardhat, "evm_mine")
    finally:
        _rpc(hardhat, "evm_setAutomine", [True])
    clock.advance(seconds=2)
    run()
    [done] = anchoring.list_anchors(platform, batch_id="stuck")
    assert (done.status, done.tx_hash) == ("confirmed", row.tx_hash)
    assert recorder.calls == [("stuck", f"blink:eth:31337:{row.tx_hash}")]
    nonce_after = int(_rpc(hardhat, "eth_getTransactionCount", [sender, "latest"]), 16)
    assert nonce_after == nonce_before + 1  # one transaction mined for the batch
    assert _rpc(hardhat, "eth_getTransactionReceipt", [first.tx_hash]) is None
    platform.sessions.kw["bind"].dispose()
