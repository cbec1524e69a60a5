"""Outbound HTTP: the guarded implementation of the ``Fetcher`` port (only bootstrap wires it)."""

from __future__ import annotations

from merito.net.fetcher import GuardedFetcher, Resolver, check_address, system_resolver

__all__ = ["GuardedFetcher", "Resolver", "check_address", "system_resolver"]
