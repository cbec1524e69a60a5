"""OAuth 2.0 server and the OB 3.0 API host: clients, codes, tokens, hosted credentials (0005)."""

from __future__ import annotations

from merito.storage.tables import Base

__all__ = ["Base"]
