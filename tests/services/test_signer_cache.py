"""The per-process cache of unsealed issuer signers (issuers.signer_for)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from services_support import SeededOrg
from sqlalchemy import event, update

from merito.proofs.keys import Signer
from merito.services import issuers
from merito.services.platform import Platform
from merito.storage.tables import IssuerKeyRow

Seed = Callable[..., SeededOrg]


@pytest.fixture
def unseals(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The verification methods the key store read and unsealed, in order."""
    calls: list[str] = []
    real = platform.keystore.signer

    def counting(org_id: str, verification_method: str, **kwargs: Any) -> Signer:
        calls.append(verification_method)
        return real(org_id, verification_method, **kwargs)

    monkeypatch.setattr(platform.keystore, "signer", counting)
    return calls


def _signs_with(signer: Signer, verification_method: str) -> bool:
    return signer.verification_method == verification_method


def test_the_unsealed_signer_is_reused(
    platform: Platform, seed_org: Seed, unseals: list[str]
) -> None:
    seeded = seed_org(slug="acme")
    first = issuers.signer_for(platform, seeded.org_id)
    with platform.reading() as session:
        again = issuers.signer_for(platform, seeded.org_id, session=session)
    assert again is first
    assert unseals == [first.verification_method]


def test_a_rotation_elsewhere_is_seen_on_the_next_call(
    platform: Platform, seed_org: Seed, unseals: list[str]
) -> None:
    seeded = seed_org(slug="acme")
    old = issuers.signer_for(platform, seeded.org_id)
    # another process rotates: this one's cache is not told (no forget_signers)
    new_vm = platform.keystore.rotate(seeded.org_id, did=old.controller, algorithm="EdDSA")
    new = issuers.signer_for(platform, seeded.org_id)
    assert new_vm != old.verification_method
    assert _signs_with(new, new_vm)
    assert new.key.sign(b"m") != old.key.sign(b"m")
    assert unseals == [old.verification_method, new_vm]


def test_a_retired_key_is_never_served_from_the_cache(
    platform: Platform, seed_org: Seed, unseals: list[str]
) -> None:
    seeded = seed_org(slug="acme")
    old = issuers.signer_for(platform, seeded.org_id)
    with platform.transaction() as session:
        session.execute(
            update(IssuerKeyRow)
            .where(IssuerKeyRow.verification_method == old.verification_method)
            .values(status="retired")
        )
    new = issuers.signer_for(platform, seeded.org_id)  # makes a successor on first use
    assert new.verification_method != old.verification_method
    assert unseals[-1] == new.verification_method


def test_rotate_key_drops_this_process_entries(
    platform: Platform, seed_org: Seed, unseals: list[str]
) -> None:
    seeded = seed_org(role="admin", slug="acme")
    old = issuers.signer_for(platform, seeded.org_id)
    rotated = issuers.rotate_key(platform, seeded.actor, org_id=seeded.org_id)
    cached: dict[Any, Signer] = issuers._SIGNERS.get(platform.keystore, {})
    assert (seeded.org_id, old.verification_method) not in cached
    assert issuers.signer_for(platform, seeded.org_id).verification_method == (
        rotated.verification_method
    )


def test_a_cold_signer_is_unsealed_on_the_callers_connection(
    platform: Platform, seed_org: Seed
) -> None:
    # under load every pooled connection can be held by a transaction waiting for a second
    # one; unsealing inside the caller's transaction must not need another
    seeded = seed_org(slug="acme")
    made = issuers.signer_for(platform, seeded.org_id)
    issuers.forget_signers(platform, seeded.org_id)
    engine = platform.sessions.kw["bind"]
    checkouts: list[object] = []

    def checked_out(*args: object) -> None:
        checkouts.append(args)

    event.listen(engine, "checkout", checked_out)
    try:
        with platform.transaction() as session:
            session.connection()  # the transaction's own connection
            checkouts.clear()
            signer = issuers.signer_for(platform, seeded.org_id, session=session)
    finally:
        event.remove(engine, "checkout", checked_out)
    assert checkouts == []
    assert signer.verification_method == made.verification_method
    assert signer is not made  # unsealed again, not the forgotten entry
