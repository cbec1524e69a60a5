"""Settings (environment variables prefixed MERITO_): the only reader of os.environ."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as MERITO_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="MERITO_", extra="ignore")

    #: where Merito keeps its files (database, keys, uploads) when run locally
    data_dir: Path = Path("var")
    #: verification limits: a larger document or deeper nesting is refused before parsing
    max_document_bytes: int = Field(default=1_000_000, gt=0)
    max_json_depth: int = Field(default=64, gt=0)
    #: signature-check outcomes each server process keeps (an LRU keyed by the document and
    #: the resolved key; status, validity and trust are checked on every request); 0: off
    verify_cache_entries: int = Field(default=10_000, ge=0)
    #: show tracebacks in the CLI (for developers only)
    debug: bool = False

    # --- the platform ---------------------------------------------------------------------
    #: SQLAlchemy URL; default: a SQLite file in data_dir (postgresql://... in production)
    database_url: str | None = None
    #: the public origin (scheme://host[:port]) credential ids, did:web and status URLs use
    base_url: str = "http://127.0.0.1:8000"
    #: the key that seals issuer private keys (>= 32 bytes, hex or base64url). Unset: a key
    #: file is made in data_dir on first run (fine on one machine; set it in production)
    master_key: SecretStr | None = None
    #: entries per Bitstring Status List (W3C §6.1 recommends >= 131,072 for herd privacy)
    status_list_size: int = Field(default=131_072, ge=8)
    #: apply migrations at start-up (serve/demo); production may run `merito db upgrade`
    auto_migrate: bool = True
    #: the OB 3.0 discovery document's x-imssf-privacyPolicyUrl / termsOfService
    #: (unset: <base_url>/privacy and <base_url>/terms)
    privacy_policy_url: str | None = None
    terms_of_service_url: str | None = None

    # --- the transparency log (ledger) ---------------------------------------------------
    #: seal a batch into a Signed Tree Head when this many credentials wait...
    log_batch_size: int = Field(default=256, ge=1, le=100_000)
    #: ...or when the oldest has waited this many seconds
    log_batch_seconds: float = Field(default=10.0, gt=0)

    # --- email ------------------------------------------------------------------------------
    #: SMTP server host; unset: emails are printed to the console (development)
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: Literal["auto", "always", "never"] = "auto"
    smtp_ssl: bool = False
    smtp_timeout: float = Field(default=10.0, gt=0)
    mail_from: str = "Merito <noreply@localhost>"

    # --- outbound fetches (status lists, did:web, hosted badges) ------------------------------
    #: allow fetching loopback/private addresses (SSRF guard off: development and tests only)
    fetch_allow_private: bool = False
    fetch_max_bytes: int = Field(default=2_000_000, gt=0)
    fetch_timeout: float = Field(default=5.0, gt=0)
    #: redirects followed per fetch (each hop re-checked by the SSRF guard)
    fetch_max_redirects: int = Field(default=3, ge=0, le=10)
    #: hosts fetched even when they resolve to private/loopback addresses (an intranet badge
    #: server; tests allow 127.0.0.1), comma-separated; the rest of the guard still applies
    fetch_allowed_hosts: str = ""

    # --- Ethereum anchoring (optional; docs/ledger.md) ------------------------------------------
    #: JSON-RPC URL of an Ethereum-compatible node; unset: sealed batches are not put on chain
    ethereum_rpc_url: str | None = None
    #: the chain the node must serve (1 mainnet, 11155111 sepolia, 31337 Hardhat); unset: any
    ethereum_chain_id: int | None = Field(default=None, gt=0)
    #: the sender's secp256k1 key (hex); unset: ethereum_from_address, unlocked on the node (dev)
    ethereum_private_key: SecretStr | None = None
    ethereum_from_address: str | None = None
    #: where the 0-value anchor transactions go (cert-issuer's burn address by default)
    ethereum_to_address: str = "0xdeaddeaddeaddeaddeaddeaddeaddeaddeaddead"
    #: blocks (the transaction's own included) before an anchor is written into the proofs
    ethereum_confirmations: int = Field(default=2, ge=1)
    #: gas per anchor transaction; unset: the node's estimate (21,000 + the root's 32 bytes)
    ethereum_gas_limit: int | None = Field(default=None, ge=21_000)
    #: seconds per JSON-RPC call, and between two confirmation polls
    ethereum_request_timeout: float = Field(default=10.0, gt=0)
    ethereum_poll_interval: float = Field(default=15.0, gt=0)
    #: seconds a transaction may stay unmined before it is replaced at a higher gas price
    ethereum_stuck_after: float = Field(default=600.0, gt=0)

    # --- workforce analytics (docs/workforce.md) -----------------------------------------------
    #: k-anonymity: an aggregate over fewer people than this is suppressed (API, pages, CSV)
    workforce_min_group_size: int = Field(default=5, ge=2, le=1000)

    # --- assessment evidence files (docs/assessment.md) ---------------------------------------
    #: where uploaded evidence is kept, by SHA-256: a directory, or an S3-compatible bucket
    evidence_store: Literal["local", "s3"] = "local"
    #: the local store's directory; unset: <data_dir>/evidence
    evidence_dir: Path | None = None
    evidence_s3_bucket: str | None = None
    #: e.g. http://127.0.0.1:9000 for MinIO; unset: AWS
    evidence_s3_endpoint_url: str | None = None
    evidence_s3_region: str = "us-east-1"
    evidence_s3_access_key_id: str | None = None
    evidence_s3_secret_access_key: SecretStr | None = None
    evidence_s3_prefix: str = "evidence/"
    #: the default limits of an achievement open for application (each may set its own)
    evidence_max_file_bytes: int = Field(default=10_000_000, gt=0, le=1_000_000_000)
    evidence_allowed_types: str = (
        "application/pdf,image/png,image/jpeg,text/plain,text/markdown,application/zip,video/mp4"
    )
    #: a command that reads a file on stdin and exits 0 clean / 1 infected (e.g. clamdscan -)
    evidence_scan_command: str | None = None

    # --- skills (docs/skills.md) ---------------------------------------------------------------
    #: the normaliser's semantic tier: "default" (the shipped static embedding, no dependency)
    #: or "heavy" (a sentence-transformers model; only when that package is installed, else the
    #: default tier is used and a warning is logged)
    skills_tier: Literal["default", "heavy"] = "default"
    #: the heavy tier's model: a local folder (offline) or a name sentence-transformers knows
    skills_heavy_model: str | None = None

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'merito.db'}"


def load_settings() -> Settings:
    return Settings()
