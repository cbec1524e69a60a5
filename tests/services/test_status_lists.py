"""Status lists: positions are unique and scrambled, bits flip with a version bump, and the
published list is signed, cached per version and read correctly by the verifier."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from services_support import SeededOrg

from merito.domain.ports import FetchResponse, FixedClock
from merito.errors import FetchError, InvalidInput, NotFound
from merito.formats import status_list
from merito.proofs import data_integrity
from merito.proofs.keys import Signer
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import keyfiles, status_lists
from merito.services.platform import Platform
from merito.storage.tables import StatusListRow


@pytest.fixture
def signer() -> Signer:
    return keyfiles.new_signer("ed25519", seed=b"\x07" * 32)


def test_positions_are_unique_scrambled_and_a_full_list_is_followed_by_a_new_one(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    size = platform.status_list_size
    with platform.transaction() as session:
        slots = status_lists.allocate(session, platform, org_id=org.org_id, count=size + 10)
    assert len(slots) == size + 10
    first, second = slots[:size], slots[size:]
    assert {s.list_id for s in first} != {s.list_id for s in second}
    assert len({s.list_id for s in first}) == 1
    assert sorted(s.index for s in first) == list(range(size))
    assert [s.index for s in first[:10]] != list(range(10))  # not handed out in order
    assert all(s.url == platform.url(f"/status/{s.list_id}") for s in slots)
    with platform.transaction() as session:
        more = status_lists.allocate(session, platform, org_id=org.org_id, count=3)
    assert {s.list_id for s in more} == {second[0].list_id}
    assert not {s.index for s in more} & {s.index for s in second}


def test_a_rolled_back_allocation_gives_its_positions_back(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    with platform.transaction() as session:
        status_lists.allocate(session, platform, org_id=org.org_id, count=1)
    taken: list[status_lists.StatusSlot] = []

    def allocate_then_fail() -> None:
        with platform.transaction() as session:
            taken.extend(status_lists.allocate(session, platform, org_id=org.org_id, count=5))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        allocate_then_fail()
    with platform.transaction() as session:
        again = status_lists.allocate(session, platform, org_id=org.org_id, count=5)
    assert len(taken) == 5
    assert again == taken


def test_lists_are_per_organisation_and_purpose(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    a, b = seed_org(), seed_org()
    with platform.transaction() as session:
        ra = status_lists.allocate(session, platform, org_id=a.org_id)[0]
        sa = status_lists.allocate(session, platform, org_id=a.org_id, purpose="suspension")[0]
        rb = status_lists.allocate(session, platform, org_id=b.org_id)[0]
    assert len({ra.list_id, sa.list_id, rb.list_id}) == 3
    assert sa.entry()["statusPurpose"] == "suspension"
    with pytest.raises(InvalidInput), platform.transaction() as session:
        status_lists.allocate(session, platform, org_id=a.org_id, purpose="refresh")


def test_set_status_flips_the_bit_and_bumps_the_version_only_on_change(
    platform: Platform, seed_org: Callable[..., SeededOrg]
) -> None:
    org = seed_org()
    with platform.transaction() as session:
        slot = status_lists.allocate(session, platform, org_id=org.org_id)[0]
    with platform.transaction() as session:
        assert (
            status_lists.set_status(session, list_id=slot.list_id, index=slot.index, value=1) == 2
        )
    with platform.transaction() as session:
        assert (
            status_lists.set_status(session, list_id=slot.list_id, index=slot.index, value=1) == 2
        )
        assert status_lists.status_of(session, list_id=slot.list_id, index=slot.index) == 1
    with platform.transaction() as session:
        assert (
            status_lists.set_status(session, list_id=slot.list_id, index=slot.index, value=0) == 3
        )
    with pytest.raises(NotFound), platform.transaction() as session:
        status_lists.set_status(session, list_id="nope", index=0, value=1)


class _Served:
    """A fetcher serving the published lists of one platform (what GET /status/{id} shows)."""

    def __init__(self, platform: Platform, signer: Signer) -> None:
        self.platform, self.signer = platform, signer

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        prefix = self.platform.url("/status/")
        if not url.startswith(prefix):
            raise FetchError(f"nothing served at {url}")
        published = status_lists.published(
            self.platform, url.removeprefix(prefix), signer_for=lambda _p, _o: self.signer
        )
        body = json.dumps(published.document).encode()
        return FetchResponse(status=200, body=body, content_type="application/vc+ld+json", url=url)


def test_published_list_is_signed_cached_per_version_and_read_by_the_verifier(
    platform: Platform, seed_org: Callable[..., SeededOrg], signer: Signer
) -> None:
    org = seed_org()
    with platform.transaction() as session:
        slot, other = status_lists.allocate(session, platform, org_id=org.org_id, count=2)
    lookup = lambda _p, _o: signer  # noqa: E731
    first = status_lists.published(platform, slot.list_id, signer_for=lookup)
    assert first.version == 1
    assert first.etag == '"1"'
    document = first.document
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["issuer"] == signer.controller
    assert document["id"] == slot.url
    resolver = VerificationMethodResolver()
    assert all(r.verified for r in data_integrity.verify(document, resolver=resolver))
    # the same version is served from the cache, byte for byte
    platform.clock.advance(minutes=5)  # type: ignore[attr-defined]
    assert status_lists.published(platform, slot.list_id, signer_for=lookup).document == document
    with platform.reading() as session:
        assert session.get(StatusListRow, slot.list_id).signed_version == 1  # type: ignore[union-attr]
    with platform.transaction() as session:
        status_lists.set_status(session, list_id=slot.list_id, index=slot.index, value=1)
    second = status_lists.published(platform, slot.list_id, signer_for=lookup)
    assert second.version == 2
    assert second.document != document
    bits = status_list.decode_status_list(second.document["credentialSubject"]["encodedList"])
    assert status_list.status_at(bits, slot.index) == 1
    assert status_list.status_at(bits, other.index) == 0
    with pytest.raises(NotFound):
        status_lists.published(platform, "no-such-list", signer_for=lookup)
    # the verifier's status check over the served list
    from merito.verification.pipeline import VerificationState, VerifyOptions, _check_list_entry

    options = VerifyOptions(
        clock=FixedClock(platform.clock.now()), fetcher=_Served(platform, signer)
    )
    state = VerificationState(options=options, raw={}, now=platform.clock.now(), resolver=resolver)
    revoked = _check_list_entry(state, slot.entry(), "BitstringStatusListEntry")
    fine = _check_list_entry(state, other.entry(), "BitstringStatusListEntry")
    assert revoked.outcome.value == "fail"
    assert "revoked" in revoked.message
    assert fine.outcome.value == "pass"
