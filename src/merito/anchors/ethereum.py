"""Ethereum anchor: a Merkle root in one transaction's data field, found again by its hash.

The transaction sends 0 wei to a configured address with the 32-byte root as its ``data``
(``input``): what Blockcerts' cert-issuer writes and cert-verifier-js reads back
(``lookForTx``: the transaction input must equal the merkle root), so a Blockcerts verifier
can check Merito's anchors. One transaction per sealed batch, whatever its size.

Signing: with ``private_key`` the transaction is signed here (eth-account) and sent raw,
so its hash is known before it is sent and a retry after a lost reply cannot pay twice;
without it, ``from_address`` must be an account the node unlocks (Hardhat, eth-tester).

Failure: every RPC call is retried with exponential back-off (``retries`` attempts,
``backoff`` doubling up to ``max_backoff``), then ``AnchorError(transient=True)`` names the
node and the call. Every wait is bounded (HTTP timeout per call, ``timeout`` for the
confirmations): a dead chain delays an anchor, it never hangs a worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import requests
from eth_account import Account
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    ProviderConnectionError,
    TransactionNotFound,
    Web3RPCError,
)

from merito.domain.ports import AnchorReceipt
from merito.errors import AnchorError, InvalidInput, NotFound

__all__ = [
    "NETWORK_NAMES",
    "EthereumAnchor",
    "PreparedTransaction",
    "RetryPolicy",
    "blink_uri",
    "network_chain_id",
    "node_name",
]

log = logging.getLogger("merito.anchors.ethereum")

#: chain id -> the network names Blockcerts' Keymap uses (other chains: the number itself)
NETWORK_NAMES: Final = {1: "mainnet", 3: "ropsten", 4: "rinkeby", 5: "goerli", 11155111: "sepolia"}
_ROOT_SIZE: Final = 32
_T = TypeVar("_T")

# What "the node could not be reached or did not answer" looks like through web3.py's
# HTTP provider: retry those; an RPC error reply (the node answered) is not retried.
_TRANSIENT: Final = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ProviderConnectionError,
    ConnectionError,
    TimeoutError,
)


def node_name(rpc_url: str) -> str:
    """``scheme://host[:port]`` of an RPC URL: hosted nodes carry API keys in the path/query,
    which must not reach logs, errors or the outbox's ``last_error``."""
    parts = urlsplit(rpc_url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def network_chain_id(network: str) -> int | None:
    """The chain id a Blink network names (``sepolia`` or ``31337``); None if unknown."""
    for chain_id, name in NETWORK_NAMES.items():
        if name == network:
            return chain_id
    return int(network) if network.isdigit() else None


@dataclass(frozen=True, kw_only=True)
class PreparedTransaction:
    """An anchor transaction made but maybe not sent: what a caller records *before* the
    broadcast, so that a crash after it finds the same transaction instead of paying twice.

    ``tx_hash`` and ``raw`` (0x hex) are known at once when signing locally; for an account
    the node unlocks they are None until the node accepts it (then ``start_block`` bounds
    the search for it by ``nonce``).
    """

    chain_id: int
    sender: str
    nonce: int
    gas: int
    gas_price: int
    start_block: int
    tx_hash: str | None = None
    raw: str | None = None


def blink_uri(chain_id: int, transaction_id: str) -> str:
    """``blink:eth:<network>:<0x tx>`` as Blockcerts' MerkleProof2019 anchors name it."""
    return f"blink:eth:{NETWORK_NAMES.get(chain_id, str(chain_id))}:{transaction_id}"


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential back-off: waits ``backoff * 2**i`` (capped) between ``retries`` attempts."""

    retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0

    def __post_init__(self) -> None:
        if self.retries < 1 or self.backoff < 0 or self.max_backoff < self.backoff:
            raise InvalidInput(
                "retries must be >= 1 and 0 <= backoff <= max_backoff", property="retries"
            )

    def delays(self) -> list[float]:
        """The waits between attempts (one fewer than ``retries``)."""
        return [min(self.backoff * 2**i, self.max_backoff) for i in range(self.retries - 1)]


class EthereumAnchor:
    """The Anchor port on an Ethereum-compatible JSON-RPC node (web3.py).

    Build it with :meth:`connect` for a URL, or hand it a ``Web3`` (tests: eth-tester's
    in-process chain). ``sleep`` and ``monotonic`` are injectable so tests neither wait
    nor depend on the wall clock.
    """

    def __init__(
        self,
        web3: Web3,
        *,
        to_address: str,
        private_key: str | None = None,
        from_address: str | None = None,
        confirmations: int = 1,
        gas_limit: int | None = None,
        timeout: float = 120.0,
        poll_interval: float = 1.0,
        retry: RetryPolicy | None = None,
        node: str = "the Ethereum node",
        read_only: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not Web3.is_address(to_address):
            raise InvalidInput(
                f"to_address {to_address!r} is not an address", property="to_address"
            )
        if confirmations < 1:
            raise InvalidInput("confirmations must be at least 1", property="confirmations")
        if gas_limit is not None and gas_limit < 21_000:
            raise InvalidInput("gas_limit must be at least 21000", property="gas_limit")
        if timeout <= 0 or poll_interval <= 0:
            raise InvalidInput("timeout and poll_interval must be positive", property="timeout")
        self._account: Any = None
        if private_key is not None:
            try:
                self._account = Account.from_key(private_key)
            except (ValueError, TypeError) as e:
                raise InvalidInput(
                    "private_key is not a secp256k1 private key", property="private_key"
                ) from e
            sender = self._account.address
        elif from_address is not None and Web3.is_address(from_address):
            sender = Web3.to_checksum_address(from_address)
        elif read_only:  # a verifier: looks transactions up, never sends one
            sender = "0x" + "00" * 20
        else:
            raise InvalidInput(
                "give private_key, or from_address of an account the node unlocks",
                property="from_address",
            )
        self._w3 = web3
        self.read_only = read_only and private_key is None and from_address is None
        self._to = Web3.to_checksum_address(to_address)
        self._sender: str = sender
        self.confirmations = confirmations
        self._gas_limit = gas_limit
        self._timeout = timeout
        self._poll = poll_interval
        self._retry = retry or RetryPolicy()
        self._node = node
        self._sleep = sleep
        self._monotonic = monotonic
        self._chain_id: int | None = None

    @classmethod
    def connect(
        cls, rpc_url: str, *, request_timeout: float = 10.0, **options: Any
    ) -> EthereumAnchor:
        """An anchor on the JSON-RPC node at ``rpc_url`` (HTTP), each call bounded in time."""
        provider = Web3.HTTPProvider(
            rpc_url,
            request_kwargs={"timeout": request_timeout},
            # our own back-off below; web3's retry middleware would multiply the attempts
            exception_retry_configuration=None,
        )
        options.setdefault("node", node_name(rpc_url))
        return cls(Web3(provider), **options)

    @property
    def sender(self) -> str:
        return self._sender

    @property
    def node(self) -> str:
        """The node as errors name it (``scheme://host:port``: no API key)."""
        return self._node

    @property
    def signs_locally(self) -> bool:
        return self._account is not None

    # --- RPC with retries ----------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], _T]) -> _T:
        delays = self._retry.delays()
        for attempt in range(len(delays) + 1):
            try:
                return fn()
            except _TRANSIENT as e:
                if attempt == len(delays):
                    raise AnchorError(
                        f"{self._node} is unreachable: {what} failed {attempt + 1} times "
                        f"({type(e).__name__})",
                        transient=True,
                        property="rpc_url",
                    ) from e
                log.warning("%s: %s failed (%s), retrying", self._node, what, e)
                self._sleep(delays[attempt])
        raise AssertionError("unreachable")  # pragma: no cover

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self._call("eth_chainId", lambda: self._w3.eth.chain_id))
        return self._chain_id

    # --- the Anchor port -----------------------------------------------------------------

    def submit(self, root: bytes) -> str:
        """Send the transaction carrying ``root``; return its hash (``0x`` hex) at once."""
        return self.broadcast(self.prepare(root), root)

    def _send_raw(self, raw: bytes, tx_hash: str) -> None:
        try:
            self._w3.eth.send_raw_transaction(raw)
        except Web3RPCError as e:
            text = str(e).lower()
            if "already known" not in text and "nonce too low" not in text:
                raise
            # A retry after a lost reply, if the node has this very transaction; otherwise
            # another transaction took the nonce: transient, the next attempt takes a new one.
            try:
                self._w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                raise AnchorError(
                    f"{self._node}: the nonce was taken by another transaction of "
                    f"{self._sender}; anchor again",
                    transient=True,
                    property="nonce",
                ) from e

    # --- step by step, for a caller that records each step (services.anchoring) ------------

    def _tx(self, root: bytes, chain_id: int) -> dict[str, Any]:
        if len(root) != _ROOT_SIZE:
            raise InvalidInput(f"a root is {_ROOT_SIZE} bytes", property="root")
        return {
            "from": self._sender,
            "to": self._to,
            "value": 0,
            "data": HexBytes(root),
            "chainId": chain_id,
        }

    def prepare(
        self,
        root: bytes,
        *,
        min_nonce: int = 0,
        nonce: int | None = None,
        min_gas_price: int = 0,
    ) -> PreparedTransaction:
        """Make (and, with a private key, sign) the transaction carrying ``root``; send nothing.

        The nonce is the node's pending count, or ``min_nonce`` if higher (the caller's own
        record of nonces it has handed out but maybe not yet broadcast), or exactly ``nonce``
        (a replacement of a stuck transaction, with at least ``min_gas_price`` wei per gas).
        """
        if self.read_only:
            raise InvalidInput(
                "this Ethereum anchor is read-only: configure a private key or from_address",
                property="private_key",
            )
        chain_id = self.chain_id()
        tx = self._tx(root, chain_id)
        try:
            gas = self._gas_limit or self._call(
                "eth_estimateGas",
                lambda: self._w3.eth.estimate_gas(tx),  # type: ignore[arg-type]
            )
            node_price = self._call("eth_gasPrice", lambda: self._w3.eth.gas_price)
            pending = self._call(
                "eth_getTransactionCount",
                lambda: self._w3.eth.get_transaction_count(self._sender, "pending"),  # type: ignore[arg-type]
            )
            head = self._call("eth_blockNumber", lambda: self._w3.eth.block_number)
        except Web3RPCError as e:
            raise AnchorError(
                f"{self._node} refused the anchor transaction: {e}", transient=False
            ) from e
        if nonce is None:
            nonce = max(int(pending), min_nonce)
        gas_price = max(int(node_price), min_gas_price)
        prepared = PreparedTransaction(
            chain_id=chain_id,
            sender=self._sender,
            nonce=nonce,
            gas=int(gas),
            gas_price=gas_price,
            start_block=int(head),
        )
        if self._account is None:
            return prepared
        signed = self._account.sign_transaction(
            {k: v for k, v in tx.items() if k != "from"}
            | {"gas": gas, "gasPrice": gas_price, "nonce": nonce}
        )
        return _with_signature(prepared, signed)

    def broadcast(self, prepared: PreparedTransaction, root: bytes) -> str:
        """Send ``prepared`` (again: a node that has it already is fine); return its hash.

        ``AnchorError(transient=True, property="nonce")`` when another transaction of the
        sender holds the nonce: prepare a new one.
        """
        try:
            if prepared.raw is not None and prepared.tx_hash is not None:
                raw, tx_hash = HexBytes(prepared.raw), prepared.tx_hash
                self._call("eth_sendRawTransaction", lambda: self._send_raw(raw, tx_hash))
                return tx_hash
            tx = self._tx(root, prepared.chain_id) | {
                "nonce": prepared.nonce,
                "gas": prepared.gas,
                "gasPrice": prepared.gas_price,
            }
            sent = self._call(
                "eth_sendTransaction",
                lambda: self._w3.eth.send_transaction(tx),  # type: ignore[arg-type]
            )
            return HexBytes(sent).to_0x_hex()
        except Web3RPCError as e:
            if _nonce_clash(e):
                raise AnchorError(
                    f"{self._node}: nonce {prepared.nonce} of {self._sender} is taken",
                    transient=True,
                    property="nonce",
                ) from e
            raise AnchorError(
                f"{self._node} refused the anchor transaction: {e}", transient=False
            ) from e

    def observe(self, transaction_id: str) -> AnchorReceipt | None:
        """The transaction as the node sees it now: None if unknown (never sent, dropped,
        or reorganised away), ``block_number`` None while pending. A reverted transaction
        is ``AnchorError(transient=False)``."""
        _check_tx_id(transaction_id)
        receipt = self._receipt(transaction_id)
        if receipt is not None:
            return receipt
        try:
            return self._read(transaction_id, None)
        except TransactionNotFound:
            return None

    def nonce_used(self, nonce: int) -> bool:
        """True when a mined transaction of the sender has used ``nonce``."""
        mined = self._call(
            "eth_getTransactionCount",
            lambda: self._w3.eth.get_transaction_count(self._sender, "latest"),  # type: ignore[arg-type]
        )
        return int(mined) > nonce

    def find_sent(
        self, prepared: PreparedTransaction, root: bytes, *, span: int = 256
    ) -> str | None:
        """The hash of the sender's mined transaction with ``prepared.nonce`` carrying
        ``root``, looked for from ``start_block`` (at most ``span`` blocks): how an unlocked
        send whose reply was lost is found again."""
        head = int(self._call("eth_blockNumber", lambda: self._w3.eth.block_number))
        last = min(head, prepared.start_block + span)
        for number in range(prepared.start_block, last + 1):
            block = self._call(
                "eth_getBlockByNumber",
                lambda n=number: self._w3.eth.get_block(n, full_transactions=True),  # type: ignore[misc]
            )
            for tx in block["transactions"]:
                if (
                    isinstance(tx, Mapping)
                    and tx.get("from") == self._sender
                    and int(tx["nonce"]) == prepared.nonce
                    # eth-tester names a block's transaction data "data", nodes "input"
                    and bytes(HexBytes(tx.get("input", tx.get("data", b"")))) == root
                ):
                    return HexBytes(tx["hash"]).to_0x_hex()
        return None

    def wait(self, transaction_id: str) -> AnchorReceipt:
        """Poll until the transaction has ``confirmations`` blocks; bounded by ``timeout``."""
        deadline = self._monotonic() + self._timeout
        while True:
            receipt = self._receipt(transaction_id)
            if receipt is not None and receipt.confirmations >= self.confirmations:
                return receipt
            if self._monotonic() >= deadline:
                got = "not mined" if receipt is None else f"{receipt.confirmations} confirmations"
                raise AnchorError(
                    f"transaction {transaction_id} has {got} after {self._timeout:g} s "
                    f"(want {self.confirmations})",
                    transient=True,
                    property="confirmations",
                )
            self._sleep(self._poll)

    def anchor(self, root: bytes) -> AnchorReceipt:
        """Write ``root`` and wait for the configured confirmations."""
        receipt = self.wait(self.submit(root))
        if receipt.root != root:  # the node mined something else under that hash
            raise AnchorError(
                f"transaction {receipt.transaction_id} does not carry the root", transient=False
            )
        return receipt

    def _receipt(self, transaction_id: str) -> AnchorReceipt | None:
        try:
            mined = self._call(
                "eth_getTransactionReceipt",
                lambda: self._w3.eth.get_transaction_receipt(transaction_id),  # type: ignore[arg-type]
            )
        except TransactionNotFound:
            return None
        if mined["status"] != 1:
            raise AnchorError(
                f"anchor transaction {transaction_id} failed on chain (status 0)",
                transient=False,
            )
        return self._read(transaction_id, int(mined["blockNumber"]))

    def _read(self, transaction_id: str, block_number: int | None) -> AnchorReceipt:
        tx = self._call(
            "eth_getTransactionByHash",
            lambda: self._w3.eth.get_transaction(transaction_id),  # type: ignore[arg-type]
        )
        head = self._call("eth_blockNumber", lambda: self._w3.eth.block_number)
        confirmations = 0 if block_number is None else max(0, head - block_number + 1)
        return AnchorReceipt(
            root=bytes(HexBytes(tx["input"])),
            transaction_id=HexBytes(tx["hash"]).to_0x_hex(),
            anchor_uri=blink_uri(self.chain_id(), HexBytes(tx["hash"]).to_0x_hex()),
            block_number=block_number,
            confirmations=confirmations,
        )

    def lookup(self, transaction_id: str) -> AnchorReceipt:
        """The root transaction ``transaction_id`` carries (NotFound if the chain lacks it)."""
        _check_tx_id(transaction_id)
        try:
            receipt = self._receipt(transaction_id)
        except AnchorError as e:
            if e.transient:
                raise
            raise NotFound(  # a failed transaction anchors nothing
                f"transaction {transaction_id} failed: it anchors nothing",
                property="transaction_id",
            ) from e
        if receipt is not None:
            return receipt
        try:
            return self._read(transaction_id, None)  # pending: known, not mined
        except TransactionNotFound:
            raise NotFound(
                f"no transaction {transaction_id} on this chain", property="transaction_id"
            ) from None

    def check(self, transaction_id: str, root: bytes) -> bool:
        """True when ``transaction_id`` carries ``root`` with enough confirmations."""
        try:
            receipt = self.lookup(transaction_id)
        except NotFound:
            return False
        return receipt.root == root and receipt.confirmations >= self.confirmations


def _with_signature(prepared: PreparedTransaction, signed: Any) -> PreparedTransaction:
    return PreparedTransaction(
        chain_id=prepared.chain_id,
        sender=prepared.sender,
        nonce=prepared.nonce,
        gas=prepared.gas,
        gas_price=prepared.gas_price,
        start_block=prepared.start_block,
        tx_hash=HexBytes(signed.hash).to_0x_hex(),
        raw=HexBytes(signed.raw_transaction).to_0x_hex(),
    )


_NONCE_CLASHES: Final = ("nonce too low", "replacement transaction underpriced", "already known")


def _nonce_clash(error: Exception) -> bool:
    text = str(error).lower()
    return any(clash in text for clash in _NONCE_CLASHES)


def _check_tx_id(transaction_id: str) -> None:
    text = transaction_id[2:] if transaction_id.startswith("0x") else ""
    if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise InvalidInput("transaction_id must be 0x and 64 hex digits", property="transaction_id")
