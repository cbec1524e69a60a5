"""The Ethereum anchor on an in-process chain (eth-tester / py-evm) and a real JSON-RPC node.

The real node is Hardhat Network from the npm registry (tests/chain: package.json and its
lock file; `make test` installs it), started by the test on 127.0.0.1 and stopped after.
Without node/npm or the installed package the Hardhat cases skip, saying why.
Failure cases: an RPC that refuses connections, one that never answers, one that fails a
few times then recovers; each ends in bounded time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account
from web3 import EthereumTesterProvider, Web3
from web3.types import RPCEndpoint, RPCResponse

from merito.anchors.ethereum import EthereumAnchor, RetryPolicy, blink_uri
from merito.domain.ports import Anchor
from merito.errors import AnchorError, InvalidInput, NotFound
from merito.proofs.merkle_proof_2019 import batch_proofs, decode_proof_value, encode_proof_value

DEAD = "0x000000000000000000000000000000000000dEaD"
ROOT = bytes(range(32))
FAST = RetryPolicy(retries=3, backoff=0.01, max_backoff=0.05)
CHAIN_DIR = Path(__file__).parents[1] / "chain"
# eth-tester funds the accounts of private keys 1, 2, ...; Hardhat those of its mnemonic
ETH_TESTER_KEY = "0x" + "00" * 31 + "01"
HARDHAT_MNEMONIC = "test test test test test test test test test test test junk"


def _hardhat_key() -> str:
    """Hardhat Network's account #0 (its documented development mnemonic, BIP-44 path)."""
    Account.enable_unaudited_hdwallet_features()
    account = Account.from_mnemonic(HARDHAT_MNEMONIC, account_path="m/44'/60'/0'/0/0")
    return "0x" + bytes(account.key).hex()


@pytest.fixture
def w3() -> Web3:
    return Web3(EthereumTesterProvider())


def _anchor(w3: Web3, **options: Any) -> EthereumAnchor:
    options.setdefault("from_address", w3.eth.accounts[0])
    options.setdefault("retry", FAST)
    return EthereumAnchor(w3, to_address=DEAD, **options)


# --- in-process chain ------------------------------------------------------------------------


def test_anchor_writes_the_root_in_one_transaction_and_finds_it_again(w3: Web3) -> None:
    anchor = _anchor(w3)
    assert isinstance(anchor, Anchor)
    receipt = anchor.anchor(ROOT)
    assert receipt.root == ROOT
    assert receipt.confirmations == 1
    tx = w3.eth.get_transaction(receipt.transaction_id)  # type: ignore[arg-type]
    assert bytes(tx["input"]) == ROOT  # Blockcerts: the tx input is the merkle root
    assert tx["to"] == DEAD
    assert tx["value"] == 0
    assert receipt.anchor_uri == blink_uri(w3.eth.chain_id, receipt.transaction_id)
    assert anchor.lookup(receipt.transaction_id) == receipt
    assert anchor.check(receipt.transaction_id, ROOT)
    assert not anchor.check(receipt.transaction_id, bytes(32))


def test_signing_locally_with_a_private_key(w3: Web3) -> None:
    anchor = EthereumAnchor(w3, to_address=DEAD, private_key=ETH_TESTER_KEY, retry=FAST)
    receipt = anchor.anchor(ROOT)
    tx = w3.eth.get_transaction(receipt.transaction_id)  # type: ignore[arg-type]
    assert tx["from"] == anchor.sender
    assert anchor.check(receipt.transaction_id, ROOT)


def test_one_transaction_per_batch_whatever_its_size(w3: Web3) -> None:
    anchor = _anchor(w3)
    targets = [i.to_bytes(32, "big") for i in range(2000)]
    batch_root = batch_proofs(targets, anchors=[])[0].merkle_root
    before = w3.eth.block_number
    receipt = anchor.anchor(batch_root)
    assert w3.eth.block_number == before + 1
    assert len(w3.eth.get_block("latest")["transactions"]) == 1
    receipts = batch_proofs(targets, anchors=[receipt.anchor_uri])
    sample = decode_proof_value(encode_proof_value(receipts[1234]))
    assert sample.anchors == (receipt.anchor_uri,)
    assert anchor.check(sample.anchors[0].rsplit(":", 1)[1], sample.merkle_root)


def test_waits_for_the_configured_confirmations(w3: Web3) -> None:
    tester = w3.provider.ethereum_tester  # type: ignore[attr-defined]
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # another miner extends the chain meanwhile
        waits.append(seconds)
        tester.mine_blocks(1)

    anchor = _anchor(w3, confirmations=3, poll_interval=0.25, sleep=sleep)
    receipt = anchor.anchor(ROOT)
    assert receipt.confirmations == 3
    assert waits == [0.25, 0.25]
    assert anchor.check(receipt.transaction_id, ROOT)


def test_confirmations_that_never_come_end_in_a_transient_error(w3: Web3) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    anchor = _anchor(
        w3, confirmations=5, timeout=10, poll_interval=2, sleep=sleep, monotonic=lambda: now[0]
    )
    with pytest.raises(AnchorError) as e:
        anchor.anchor(ROOT)
    assert e.value.transient
    assert e.value.property == "confirmations"
    assert "1 confirmations" in e.value.message
    assert now[0] == 10


def test_lookup_of_unknown_or_malformed_transactions(w3: Web3) -> None:
    anchor = _anchor(w3)
    unknown = "0x" + "12" * 32
    with pytest.raises(NotFound) as e:
        anchor.lookup(unknown)
    assert e.value.property == "transaction_id"
    assert not anchor.check(unknown, ROOT)
    with pytest.raises(InvalidInput):
        anchor.lookup("0x1234")
    with pytest.raises(InvalidInput):
        anchor.anchor(b"short")


def test_configuration_is_checked(w3: Web3) -> None:
    with pytest.raises(InvalidInput):
        EthereumAnchor(w3, to_address="nowhere", from_address=w3.eth.accounts[0])
    with pytest.raises(InvalidInput) as e:
        EthereumAnchor(w3, to_address=DEAD)
    assert e.value.property == "from_address"
    with pytest.raises(InvalidInput) as e:
        EthereumAnchor(w3, to_address=DEAD, private_key="0x1234")
    assert e.value.property == "private_key"
    with pytest.raises(InvalidInput):
        EthereumAnchor(w3, to_address=DEAD, from_address=DEAD, confirmations=0)
    with pytest.raises(InvalidInput):
        RetryPolicy(retries=0)


class FlakyProvider(EthereumTesterProvider):
    """eth-tester behind a link that drops the first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.calls: list[str] = []

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        self.calls.append(method)
        if self.failures > 0:
            self.failures -= 1
            raise requests.exceptions.ConnectionError("connection reset by peer")
        return super().make_request(method, params)


def test_transient_rpc_failures_are_retried_with_exponential_back_off() -> None:
    provider = FlakyProvider(failures=2)
    w3 = Web3(provider)
    accounts = provider.ethereum_tester.get_accounts()
    waits: list[float] = []
    anchor = EthereumAnchor(
        w3,
        to_address=DEAD,
        from_address=accounts[0],
        retry=RetryPolicy(retries=4, backoff=0.5, max_backoff=8),
        sleep=waits.append,
    )
    receipt = anchor.anchor(ROOT)
    assert receipt.root == ROOT
    assert waits[:2] == [0.5, 1.0]
    assert provider.calls[:3] == ["eth_chainId"] * 3


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_an_unreachable_rpc_ends_in_a_typed_error_after_its_retries() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    waits: list[float] = []
    anchor = EthereumAnchor.connect(
        url,
        request_timeout=1,
        to_address=DEAD,
        private_key=ETH_TESTER_KEY,
        retry=RetryPolicy(retries=4, backoff=0.01, max_backoff=0.02),
        sleep=waits.append,
    )
    started = time.monotonic()
    with pytest.raises(AnchorError) as e:
        anchor.anchor(ROOT)
    assert time.monotonic() - started < 5
    assert e.value.transient
    assert e.value.property == "rpc_url"
    assert url in e.value.message
    assert "4 times" in e.value.message
    assert waits == [0.01, 0.02, 0.02]
    with pytest.raises(AnchorError):
        anchor.lookup("0x" + "12" * 32)


def test_an_rpc_that_never_answers_cannot_hang_the_caller() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # takes connections, reads nothing, answers nothing
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        anchor = EthereumAnchor.connect(
            f"http://127.0.0.1:{server.getsockname()[1]}",
            request_timeout=0.3,
            to_address=DEAD,
            private_key=ETH_TESTER_KEY,
            retry=RetryPolicy(retries=2, backoff=0.01, max_backoff=0.01),
        )
        started = time.monotonic()
        with pytest.raises(AnchorError) as e:
            anchor.anchor(ROOT)
        assert time.monotonic() - started < 3
        assert e.value.transient
        assert "Timeout" in e.value.message
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        server.close()


# --- a real JSON-RPC node: Hardhat Network ---------------------------------------------------


def _rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=2) as response:
        return json.loads(response.read())["result"]


@pytest.fixture(scope="module")
def hardhat() -> Iterator[str]:
    npx = shutil.which("npx")
    if npx is None:
        pytest.skip("node/npx is not installed: the Hardhat node cannot run")
    if not (CHAIN_DIR / "node_modules/hardhat/package.json").exists():
        pytest.skip("Hardhat is not installed: run `make test` (npm ci in tests/chain)")
    port = _closed_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    process = subprocess.Popen(
        [npx, "hardhat", "node", "--hostname", "127.0.0.1", "--port", str(port)],
        cwd=CHAIN_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # npx starts node as a child: stop the whole group
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _rpc(url, "eth_blockNumber")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Hardhat node did not answer on {url}")
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.slow
def test_hardhat_node_with_a_locally_signed_transaction(hardhat: str) -> None:
    mined: list[float] = []

    def sleep(seconds: float) -> None:  # mine a block per poll, as a live chain would
        mined.append(seconds)
        _rpc(hardhat, "evm_mine")

    anchor = EthereumAnchor.connect(
        hardhat,
        to_address=DEAD,
        private_key=_hardhat_key(),
        confirmations=2,
        poll_interval=0.1,
        retry=FAST,
        sleep=sleep,
    )
    receipt = anchor.anchor(ROOT)
    assert receipt.confirmations == 2
    assert receipt.anchor_uri == f"blink:eth:31337:{receipt.transaction_id}"
    tx = _rpc(hardhat, "eth_getTransactionByHash", [receipt.transaction_id])
    assert tx["input"] == "0x" + ROOT.hex()
    assert anchor.check(receipt.transaction_id, ROOT)
    assert not anchor.check(receipt.transaction_id, bytes(32))
    assert mined == [0.1]


@pytest.mark.slow
def test_hardhat_node_with_an_unlocked_account(hardhat: str) -> None:
    accounts = _rpc(hardhat, "eth_accounts")
    anchor = EthereumAnchor.connect(hardhat, to_address=DEAD, from_address=accounts[1], retry=FAST)
    receipt = anchor.anchor(b"\x42" * 32)
    found = anchor.lookup(receipt.transaction_id)
    assert found.root == b"\x42" * 32
    assert found.block_number == receipt.block_number
    with pytest.raises(NotFound):
        anchor.lookup("0x" + "34" * 32)


class LostReplyProvider(Web3.HTTPProvider):
    """The node gets the first raw transaction, but its reply is lost on the way back."""

    lost = 1

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        response = super().make_request(method, params)
        if method == "eth_sendRawTransaction" and self.lost:
            self.lost -= 1
            raise requests.exceptions.ConnectionError("connection reset: reply lost")
        return response


@pytest.mark.slow
def test_hardhat_retry_after_a_lost_reply_pays_once(hardhat: str) -> None:
    key = _hardhat_key()
    provider = LostReplyProvider(hardhat, exception_retry_configuration=None)
    anchor = EthereumAnchor(Web3(provider), to_address=DEAD, private_key=key, retry=FAST)
    nonce_before = int(_rpc(hardhat, "eth_getTransactionCount", [anchor.sender, "latest"]), 16)
    receipt = anchor.anchor(b"\x07" * 32)
    assert provider.lost == 0
    nonce_after = int(_rpc(hardhat, "eth_getTransactionCount", [anchor.sender, "latest"]), 16)
    assert nonce_after == nonce_before + 1  # one transaction, though it was sent twice
    assert anchor.check(receipt.transaction_id, b"\x07" * 32)
