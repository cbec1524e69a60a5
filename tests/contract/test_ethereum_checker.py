"""The verifier's on-chain check of blink:eth anchors, on an in-process chain (eth-tester)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from web3 import EthereumTesterProvider, Web3

from merito import bootstrap
from merito.anchors.ethereum import EthereumAnchor, RetryPolicy, blink_uri
from merito.anchors.ethereum_checker import (
    _FAILED_AT,
    ChainOnlyAnchorChecker,
    EthereumChainChecker,
    ethereum_anchors,
)
from merito.config import Settings
from merito.domain.verification import Outcome
from merito.errors import InvalidInput
from merito.ledger.anchoring import LogAnchorChecker
from merito.proofs import merkle_proof_2019
from merito.proofs.merkle_proof_2019 import MerkleProof2019Result, batch_proofs

DEAD = "0x000000000000000000000000000000000000dEaD"
KEY = "0x" + "00" * 31 + "01"
FAST = RetryPolicy(retries=1, backoff=0.0, max_backoff=0.0)
TARGETS = [i.to_bytes(32, "big") for i in range(7)]


@pytest.fixture(autouse=True)
def _fresh_breaker() -> Iterator[None]:
    _FAILED_AT.clear()
    yield
    _FAILED_AT.clear()


@pytest.fixture
def w3() -> Web3:
    return Web3(EthereumTesterProvider())


def _result(*anchors: str) -> MerkleProof2019Result:
    return MerkleProof2019Result(True, batch_proofs(TARGETS, anchors=list(anchors))[3])


def _anchored(w3: Web3, confirmations: int = 1) -> tuple[EthereumAnchor, str]:
    anchor = EthereumAnchor(
        w3, to_address=DEAD, private_key=KEY, confirmations=confirmations, retry=FAST
    )
    root = batch_proofs(TARGETS, anchors=[])[0].merkle_root
    receipt = anchor.anchor(root)
    return anchor, receipt.anchor_uri


def test_a_transaction_carrying_the_root_passes(w3: Web3) -> None:
    anchor, uri = _anchored(w3)
    check = EthereumChainChecker(anchor=anchor)({}, _result(uri))
    assert check is not None
    assert check.outcome is Outcome.PASS, check.message
    assert check.id == "anchored"
    assert check.details["confirmations"] == 1
    assert check.details["chain_id"] == w3.eth.chain_id


def test_too_few_confirmations_is_a_warning_until_the_chain_grows(w3: Web3) -> None:
    _anchor, uri = _anchored(w3)
    strict = EthereumAnchor(w3, to_address=DEAD, private_key=KEY, confirmations=3, retry=FAST)
    checker = EthereumChainChecker(anchor=strict)
    check = checker({}, _result(uri))
    assert check is not None
    assert (check.outcome, check.details["anchor_status"]) == (Outcome.WARNING, "shallow")
    w3.provider.ethereum_tester.mine_blocks(2)  # type: ignore[attr-defined]
    check = checker({}, _result(uri))
    assert check is not None
    assert check.outcome is Outcome.PASS


def test_a_transaction_with_another_root_fails(w3: Web3) -> None:
    anchor, _ = _anchored(w3)
    other = anchor.anchor(b"\x01" * 32)
    check = EthereumChainChecker(anchor=anchor)({}, _result(other.anchor_uri))
    assert check is not None
    assert check.outcome is Outcome.FAIL
    assert check.details["property"] == "merkleRoot"


def test_an_unknown_or_malformed_transaction_fails(w3: Web3) -> None:
    anchor, _ = _anchored(w3)
    checker = EthereumChainChecker(anchor=anchor)
    unknown = blink_uri(w3.eth.chain_id, "0x" + "ab" * 32)
    check = checker({}, _result(unknown))
    assert check is not None
    assert check.outcome is Outcome.FAIL
    assert "not real" in check.message
    malformed = checker({}, _result(f"blink:eth:{w3.eth.chain_id}:0x1234"))
    assert malformed is not None
    assert malformed.outcome is Outcome.FAIL
    assert malformed.details["property"] == "anchors"


def test_anchors_on_other_networks_or_none_at_all(w3: Web3) -> None:
    anchor, _ = _anchored(w3)
    checker = EthereumChainChecker(anchor=anchor)
    check = checker({}, _result("blink:eth:sepolia:0x" + "12" * 32))
    assert check is not None
    assert (check.outcome, check.details["anchor_status"]) == (Outcome.WARNING, "unchecked")
    assert checker({}, _result()) is None  # no Ethereum anchor: no opinion
    assert checker({}, _result("blink:btc:testnet:" + "12" * 32)) is None
    assert ethereum_anchors(["blink:eth:mainnet:0xab", "blink:eth:", "x"]) == [("mainnet", "0xab")]


def test_an_unreachable_node_is_a_warning_then_left_alone_for_a_while() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    anchor = EthereumAnchor.connect(
        f"http://127.0.0.1:{port}/v3/api-key",
        request_timeout=1,
        to_address=DEAD,
        private_key=KEY,
        retry=FAST,
    )
    now = [100.0]
    checker = EthereumChainChecker(anchor=anchor, chain_id=31337, monotonic=lambda: now[0])
    result = _result("blink:eth:31337:0x" + "12" * 32)
    check = checker({}, result)
    assert check is not None
    assert check.outcome is Outcome.WARNING
    assert "unreachable" in check.message
    assert "api-key" not in check.message
    # within the cooldown the node is not asked again (a bulk run does not wait per item)
    now[0] += 29
    check = checker({}, result)  # answered without a request: no timeout to wait
    assert check is not None
    assert check.outcome is Outcome.WARNING
    assert "failed 29 s ago" in check.message
    now[0] += 2  # past the cooldown: asked again
    check = checker({}, result)
    assert check is not None
    assert "unreachable" in check.message
    # a checker that asks the node for its chain id fails the same way
    _FAILED_AT.clear()
    check = EthereumChainChecker(anchor=anchor)({}, result)
    assert check is not None
    assert check.outcome is Outcome.WARNING
    assert "unreachable" in check.message


def test_a_read_only_anchor_looks_up_but_never_sends(w3: Web3) -> None:
    _, uri = _anchored(w3)
    reader = EthereumAnchor(w3, to_address=DEAD, read_only=True, retry=FAST)
    assert reader.read_only
    check = EthereumChainChecker(anchor=reader)({}, _result(uri))
    assert check is not None
    assert check.outcome is Outcome.PASS
    with pytest.raises(InvalidInput) as e:
        reader.submit(b"\x01" * 32)
    assert e.value.property == "private_key"
    # a key or an account still makes a sending anchor, read_only or not
    assert not EthereumAnchor(w3, to_address=DEAD, private_key=KEY, read_only=True).read_only


def test_bootstrap_adds_the_chain_check_only_with_an_rpc_url(tmp_path: Path) -> None:
    offline = Settings(data_dir=tmp_path, master_key="77" * 32)
    checker = bootstrap.verify_options(offline).anchor_checker
    assert isinstance(checker, LogAnchorChecker)
    assert checker.chain_checker is None
    online = Settings(
        data_dir=tmp_path,
        master_key="77" * 32,
        ethereum_rpc_url="http://127.0.0.1:1/v3/key",
        ethereum_chain_id=31337,
    )
    checker = bootstrap.verify_options(online).anchor_checker  # no sender key: a verifier
    assert isinstance(checker, LogAnchorChecker)
    chain = checker.chain_checker
    assert isinstance(chain, EthereumChainChecker)
    assert (chain.chain_id, chain.anchor.read_only) == (31337, True)
    with pytest.raises(InvalidInput):  # but an issuing platform must be able to send
        bootstrap.ethereum_anchor(online)


DOCUMENT = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "urn:uuid:6f1c1c1e-2a43-4b8f-9d0a-1c2b3c4d5e6f",
    "type": ["VerifiableCredential"],
    "issuer": "did:example:issuer",
    "validFrom": "2026-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:learner"},
}


def _anchored_document(uri: str | None, targets: list[bytes]) -> dict[str, object]:
    receipt = batch_proofs(targets, anchors=[uri] if uri else [])[0]
    return merkle_proof_2019.attach_proof(
        DOCUMENT,
        receipt,
        verification_method="did:example:issuer#log",
        created=datetime(2026, 1, 2, tzinfo=UTC),
    )


def test_a_verifier_without_a_log_key_checks_the_chain_alone(w3: Web3) -> None:
    anchor = EthereumAnchor(w3, to_address=DEAD, private_key=KEY, retry=FAST)
    targets = [merkle_proof_2019.target_hash(DOCUMENT), b"\x05" * 32, b"\x06" * 32]
    root = batch_proofs(targets, anchors=[])[0].merkle_root
    uri = anchor.anchor(root).anchor_uri
    checker = ChainOnlyAnchorChecker(chain=EthereumChainChecker(anchor=anchor))

    check = checker(_anchored_document(uri, targets))
    assert check.outcome is Outcome.PASS, check.message
    assert check.details["transaction"] == uri.rsplit(":", 1)[1]

    tampered = _anchored_document(uri, targets) | {"issuer": "did:example:mallory"}
    check = checker(tampered)
    assert (check.outcome, check.details["anchor_status"]) == (Outcome.FAIL, "failed")

    forged_root = [merkle_proof_2019.target_hash(DOCUMENT), b"\x07" * 32]  # another batch
    check = checker(_anchored_document(uri, forged_root))
    assert (check.outcome, check.details["property"]) == (Outcome.FAIL, "merkleRoot")

    assert checker(_anchored_document(None, targets)).outcome is Outcome.SKIPPED
    assert checker(DOCUMENT).outcome is Outcome.SKIPPED


def test_bootstrap_gives_a_verifier_only_install_the_chain_check(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, ethereum_rpc_url="http://127.0.0.1:1")
    assert not (tmp_path / "master.key").exists()
    checker = bootstrap.verify_options(settings).anchor_checker
    assert isinstance(checker, ChainOnlyAnchorChecker)
    assert not (tmp_path / "master.key").exists()  # verifying never creates a key file
    assert bootstrap.verify_options(Settings(data_dir=tmp_path)).anchor_checker is None
