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

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'merito.db'}"


def load_settings() -> Settings:
    return Settings()
