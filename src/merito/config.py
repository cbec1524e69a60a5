"""Settings (environment variables prefixed MERITO_): the only reader of os.environ."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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


def load_settings() -> Settings:
    return Settings()
