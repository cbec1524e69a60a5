"""Composition root: Settings -> adapters -> the options and services the adapters use.

The CLI, API, web app and tests build what they need here, so no adapter constructs
infrastructure itself.
"""

from __future__ import annotations

import base64
import binascii
import functools
import importlib.util
import logging
import os
import secrets
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from merito.config import Settings
from merito.domain.ports import BlobStore, Clock, Fetcher, Mailer, SystemClock
from merito.errors import Conflict, InvalidInput, InvalidKey
from merito.ledger.anchoring import LogAnchorChecker, log_id_of
from merito.net.mailer import ConsoleMailer, SmtpMailer
from merito.net.webhook_sender import GuardedPoster
from merito.proofs.keys import PrivateKey, PublicKey, generate_key
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import verify_cache
from merito.services.anchoring import ethereum_extras
from merito.services.ledger import SealPolicy
from merito.services.platform import Platform
from merito.storage import KeyStore, create_engine_for, migrate, session_factory
from merito.verification import VerifyOptions

if TYPE_CHECKING:
    from merito.anchors.ethereum import EthereumAnchor
    from merito.anchors.ethereum_checker import ChainOnlyAnchorChecker, EthereumChainChecker

_log = logging.getLogger(__name__)


def verify_options(
    settings: Settings,
    *,
    documents: Mapping[str, Mapping[str, Any]] | None = None,
    fetcher: Fetcher | None = None,
    clock: Clock | None = None,
) -> VerifyOptions:
    """Verifier options: offline by default (no fetcher: status lists are not fetched), with
    this process's cache of signature checks (``Settings.verify_cache_entries``)."""
    return VerifyOptions(
        clock=clock or SystemClock(),
        fetcher=fetcher,
        resolver=VerificationMethodResolver(fetcher=fetcher, documents=documents),
        max_bytes=settings.max_document_bytes,
        max_depth=settings.max_json_depth,
        anchor_checker=log_anchor_checker(settings) or chain_only_checker(settings),
        proof_cache=verify_cache.shared_proof_cache(settings.verify_cache_entries),
    )


def verify_options_factory(
    settings: Settings, *, documents: Mapping[str, Mapping[str, Any]] | None = None
) -> functools.partial[VerifyOptions]:
    """A picklable zero-argument factory, for worker processes that build their own options."""
    return functools.partial(verify_options, settings, documents=dict(documents or {}))


# --- the platform -------------------------------------------------------------------------

_MASTER_KEY_FILE = "master.key"


def master_key(settings: Settings) -> bytes:
    """The key-store master key: from MERITO_MASTER_KEY, else a 0600 file made in data_dir.

    Accepts hex or base64url (with or without padding); it must decode to >= 32 bytes.
    """
    if settings.master_key is not None:
        return _decode_master_key(settings.master_key.get_secret_value())
    path = settings.data_dir / _MASTER_KEY_FILE
    if path.exists():
        return _decode_master_key(path.read_text(encoding="ascii").strip())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    _log.warning("no MERITO_MASTER_KEY set: created %s (set the variable in production)", path)
    return key


def adopt_master_key(settings: Settings, key: bytes) -> bool:
    """Make ``key`` (a restored backup's) this instance's master key; True if its file was written.

    An instance already holding a different master key refuses (Conflict): the restored issuer
    keys are sealed with ``key`` and would not unseal.
    """
    path = settings.data_dir / _MASTER_KEY_FILE
    if settings.master_key is not None or path.exists():
        if not secrets.compare_digest(master_key(settings), key):
            raise Conflict(
                "this instance has another master key than the backup's: unset MERITO_MASTER_KEY "
                f"and remove {path}, or set MERITO_MASTER_KEY to the backup's key"
            )
        return False
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    return True


def log_key(master: bytes) -> PrivateKey:
    """The platform's transparency log key (Ed25519), derived from the master key with HKDF.

    Derived, not stored: every process (API, worker, CLI) has it without a database read,
    and it is exactly as secret as the key store (docs/decisions/0008-ledger.md).
    """
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"merito log", info=b"merito/log-key/ed25519/v1"
    ).derive(master)
    return generate_key("Ed25519", seed=seed)


@functools.lru_cache(maxsize=8)
def _log_identity(master: bytes) -> tuple[PublicKey, str]:
    """The log's public key and id: derived once per process (verifier options are built per
    request, and deriving the key pair is most of their cost)."""
    public = log_key(master).public_key
    return public, log_id_of(public)


def log_anchor_checker(settings: Settings) -> LogAnchorChecker | None:
    """The offline ``anchored`` check against this platform's log (None without a master key:
    a verifier-only install has no log, and verifying never creates a key file)."""
    if settings.master_key is None and not (settings.data_dir / _MASTER_KEY_FILE).exists():
        return None
    public, log_id = _log_identity(master_key(settings))
    return LogAnchorChecker(
        log_key=public,
        log_id=log_id,
        local_prefix=settings.base_url.rstrip("/") + "/",
        chain_checker=ethereum_chain_checker(settings),
    )


def seal_policy(settings: Settings) -> SealPolicy:
    """When the sealer seals, and whether a batch is anchored on a chain too."""
    return SealPolicy(
        batch_size=settings.log_batch_size,
        batch_seconds=settings.log_batch_seconds,
        anchor_ethereum=getattr(settings, "ethereum_rpc_url", None) is not None,
    )


def _decode_master_key(text: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        try:
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (ValueError, binascii.Error) as e:
            raise InvalidKey(
                "the master key is neither hex nor base64url", property="master_key"
            ) from e
    if len(key) < 32:
        raise InvalidKey("the master key must be at least 32 bytes", property="master_key")
    return key


def mailer(settings: Settings, *, clock: Clock | None = None) -> Mailer:
    """SMTP when MERITO_SMTP_HOST is set, else the console (development)."""
    if settings.smtp_host is None:
        return ConsoleMailer(sys.stderr, sender=settings.mail_from, clock=clock)
    starttls: bool | Literal["auto"] = (
        "auto" if settings.smtp_starttls == "auto" else settings.smtp_starttls == "always"
    )
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=starttls,
        use_ssl=settings.smtp_ssl,
        timeout=settings.smtp_timeout,
        clock=clock,
    )


def fetcher(settings: Settings) -> Fetcher:
    """The SSRF-guarded outbound fetcher (GET, and POST for outgoing webhooks), with the
    settings' size and time bounds."""
    return GuardedPoster(
        allow_private=settings.fetch_allow_private,
        max_bytes=settings.fetch_max_bytes,
        timeout=settings.fetch_timeout,
        max_redirects=settings.fetch_max_redirects,
        allowed_hosts=frozenset(
            h.strip() for h in settings.fetch_allowed_hosts.split(",") if h.strip()
        ),
    )


def platform(
    settings: Settings,
    *,
    clock: Clock | None = None,
    mailer_: Mailer | None = None,
    fetcher_: Fetcher | None = None,
    migrate_: bool | None = None,
) -> Platform:
    """Engine, migrations, key store, mailer and fetcher -> the services' ``Platform``."""
    clock = clock or SystemClock()
    url = settings.effective_database_url
    if url.startswith("sqlite:///") and settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(url)
    if settings.auto_migrate if migrate_ is None else migrate_:
        migrate(engine)
    sessions = session_factory(engine)
    master = master_key(settings)
    return Platform(
        sessions=sessions,
        keystore=KeyStore(sessions, master, clock=clock),
        clock=clock,
        mailer=mailer_ or mailer(settings, clock=clock),
        base_url=settings.base_url,
        fetcher=fetcher_ if fetcher_ is not None else fetcher(settings),
        status_list_size=settings.status_list_size,
        extras={
            **_ethereum_extras(settings),
            "log_key": log_key(master),
            "workforce_min_group_size": settings.workforce_min_group_size,
            **assessment_extras(settings),
            **skills_extras(settings),
        },
    )


def skills_extras(settings: Settings) -> dict[str, Any]:
    """The normaliser's tier (MERITO_SKILLS_TIER): ``skills_encoder`` is a factory of the
    heavier encoder, or absent for the shipped static embedding.

    The heavy tier needs the optional ``sentence-transformers`` package (it brings torch) and
    MERITO_SKILLS_HEAVY_MODEL; without the package Merito keeps the default tier and says so
    in the log (the model itself is loaded on the first search, not here).
    """
    if settings.skills_tier == "default":
        return {}
    if not settings.skills_heavy_model:
        raise InvalidInput(
            "MERITO_SKILLS_TIER=heavy needs MERITO_SKILLS_HEAVY_MODEL (a model folder or name)",
            property="skills_heavy_model",
        )
    if importlib.util.find_spec("sentence_transformers") is None:
        _log.warning(
            "MERITO_SKILLS_TIER=heavy but sentence-transformers is not installed "
            "(pip install sentence-transformers): using the default skills tier"
        )
        return {}
    from merito.skills.heavy import SentenceTransformerEncoder

    return {
        "skills_encoder": functools.partial(
            SentenceTransformerEncoder, settings.skills_heavy_model
        ),
        "skills_tier": f"heavy:{settings.skills_heavy_model}",
    }


def evidence_store(settings: Settings) -> BlobStore:
    """The content-addressed store of assessment evidence: a directory, or an S3 bucket."""
    from merito.storage.blobs import LocalBlobStore, S3BlobStore

    if settings.evidence_store == "local":
        return LocalBlobStore(settings.evidence_dir or settings.data_dir / "evidence")
    if not settings.evidence_s3_bucket:
        raise InvalidInput(
            "MERITO_EVIDENCE_STORE=s3 needs MERITO_EVIDENCE_S3_BUCKET",
            property="evidence_s3_bucket",
        )
    import boto3  # type: ignore[import-untyped]  # only when an S3 store is configured

    secret = settings.evidence_s3_secret_access_key
    client = boto3.client(
        "s3",
        endpoint_url=settings.evidence_s3_endpoint_url,
        region_name=settings.evidence_s3_region,
        aws_access_key_id=settings.evidence_s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
    )
    return S3BlobStore(
        client, bucket=settings.evidence_s3_bucket, prefix=settings.evidence_s3_prefix
    )


def assessment_extras(settings: Settings) -> dict[str, Any]:
    """The evidence store, the optional virus scanner and the default evidence limits."""
    from merito.net.scanner import CommandScanner
    from merito.services.assessment import EvidenceLimits

    scanner = (
        CommandScanner(settings.evidence_scan_command) if settings.evidence_scan_command else None
    )
    return {
        "evidence_store": evidence_store(settings),
        "virus_scanner": scanner,
        "evidence_limits": EvidenceLimits.parse(
            max_file_bytes=settings.evidence_max_file_bytes,
            allowed_types=settings.evidence_allowed_types,
        ),
    }


def ethereum_anchor(settings: Settings, *, read_only: bool = False) -> EthereumAnchor | None:
    """The Ethereum anchor (``merito.anchors.ethereum.EthereumAnchor``) when
    MERITO_ETHEREUM_RPC_URL is set, else None. Nothing is sent to the node here.

    Each RPC call is tried twice at most: the outbox's back-off (minutes) handles longer
    outages, so a dead node never holds a worker for long.
    """
    if settings.ethereum_rpc_url is None:
        return None
    from merito.anchors.ethereum import EthereumAnchor, RetryPolicy  # web3 only when used

    key = settings.ethereum_private_key
    return EthereumAnchor.connect(
        settings.ethereum_rpc_url,
        request_timeout=settings.ethereum_request_timeout,
        to_address=settings.ethereum_to_address,
        private_key=key.get_secret_value() if key is not None else None,
        from_address=settings.ethereum_from_address,
        confirmations=settings.ethereum_confirmations,
        gas_limit=settings.ethereum_gas_limit,
        timeout=settings.ethereum_request_timeout * 3,
        # a verifier tries once (a request waits for it), the outbox worker twice
        retry=RetryPolicy(retries=1 if read_only else 2, backoff=0.5, max_backoff=1.0),
        read_only=read_only,  # a verifier-only install needs no sender
    )


def ethereum_chain_checker(settings: Settings) -> EthereumChainChecker | None:
    """The verifier's on-chain check of blink:eth anchors, when MERITO_ETHEREUM_RPC_URL is set."""
    anchor = ethereum_anchor(settings, read_only=True)
    if anchor is None:
        return None
    from merito.anchors.ethereum_checker import EthereumChainChecker

    return EthereumChainChecker(anchor=anchor, chain_id=settings.ethereum_chain_id)


def chain_only_checker(settings: Settings) -> ChainOnlyAnchorChecker | None:
    """A verifier-only install (no log key) with an RPC URL still checks chain anchors."""
    chain = ethereum_chain_checker(settings)
    if chain is None:
        return None
    from merito.anchors.ethereum_checker import ChainOnlyAnchorChecker

    return ChainOnlyAnchorChecker(chain=chain)


def _ethereum_extras(settings: Settings) -> dict[str, Any]:
    return ethereum_extras(
        ethereum_anchor(settings),
        chain_id=settings.ethereum_chain_id,
        poll_interval=settings.ethereum_poll_interval,
        stuck_after=settings.ethereum_stuck_after,
    )
