"""Accounts service on SQLite and PostgreSQL: users, sessions, CSRF, orgs, members, API keys."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from services_support import MovableClock
from sqlalchemy import select

from merito.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)
from merito.services import accounts
from merito.services.platform import Actor, Permission, Platform
from merito.storage.tables import AuditLogRow, UserRow
from merito.storage.tables_accounts import ApiKeyRow, WebSessionRow

PASSWORD = "correct horse battery"
#: argon2id with small parameters: the production default costs ~1 s on the CI machine
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def accounts_platform(platform: Platform) -> Platform:
    return dataclasses.replace(platform, extras={**platform.extras, "password_hasher": FAST})


def _user(platform: Platform, email: str = "ada@example.org") -> accounts.User:
    return accounts.register(platform, email=email, password=PASSWORD, ip="192.0.2.1")


def _actor(user: accounts.User) -> Actor:
    return Actor(kind="user", id=user.id, user_id=user.id, ip="192.0.2.1")


def _session_actor(platform: Platform, token: str, **kw: str | None) -> Actor | None:
    return accounts.resolve_actor(
        platform,
        authorization=None,
        session_token=token,
        method=kw.get("method") or "GET",
        csrf_token=kw.get("csrf"),
        ip="192.0.2.1",
    )


def _bearer(platform: Platform, token: str) -> Actor | None:
    return accounts.resolve_actor(
        platform,
        authorization=f"Bearer {token}",
        session_token=None,
        method="POST",
        csrf_token=None,
        ip="192.0.2.9",
    )


def _actions(platform: Platform, org_id: str | None = None) -> list[str]:
    with platform.reading() as s:
        query = select(AuditLogRow.action).order_by(AuditLogRow.id)
        if org_id is not None:
            query = query.where(AuditLogRow.org_id == org_id)
        return list(s.scalars(query))


# --- users -------------------------------------------------------------------------------


def test_register_normalises_email_and_hashes_with_argon2id(accounts_platform: Platform) -> None:
    user = accounts.register(
        accounts_platform, email="  Ada@Example.ORG ", password=PASSWORD, ip="192.0.2.1"
    )
    assert user.email == "ada@example.org"
    assert not user.is_platform_admin
    with accounts_platform.reading() as s:
        row = s.get(UserRow, user.id)
        assert row is not None
        assert row.password_hash.startswith("$argon2id$")
        assert PASSWORD not in row.password_hash
        audit = s.scalars(select(AuditLogRow)).one()
    assert (audit.action, audit.target, audit.ip) == ("user.register", user.id, "192.0.2.1")
    with pytest.raises(Conflict) as e:
        _user(accounts_platform, "ADA@example.org")
    assert e.value.property == "email"


@pytest.mark.parametrize(
    "password",
    ["short pass", "a" * 12, "x" * 1025, "ab"],
)
def test_password_policy(accounts_platform: Platform, password: str) -> None:
    with pytest.raises(InvalidInput) as e:
        accounts.register(accounts_platform, email="p@example.org", password=password, ip=None)
    assert e.value.property == "password"


@pytest.mark.parametrize("email", ["", "no-at-sign", "two@@example.org", "a b@example.org"])
def test_email_must_look_like_one(accounts_platform: Platform, email: str) -> None:
    with pytest.raises(InvalidInput) as e:
        accounts.register(accounts_platform, email=email, password=PASSWORD, ip=None)
    assert e.value.property == "email"


def test_policy_edges_are_accepted(accounts_platform: Platform) -> None:
    accounts.register(accounts_platform, email="a@example.org", password="ab" * 6, ip=None)
    accounts.register(accounts_platform, email="b@example.org", password="é" * 1023 + "x", ip=None)


def test_create_user_needs_system_or_platform_admin(accounts_platform: Platform) -> None:
    admin = accounts.create_user(
        accounts_platform,
        Actor.system("cli"),
        email="root@example.org",
        password=PASSWORD,
        is_platform_admin=True,
    )
    assert admin.is_platform_admin
    plain = _user(accounts_platform)
    with pytest.raises(PermissionDenied):
        accounts.create_user(
            accounts_platform, _actor(plain), email="x@example.org", password=PASSWORD
        )
    admin_actor = dataclasses.replace(_actor(admin), is_platform_admin=True)
    made = accounts.create_user(
        accounts_platform, admin_actor, email="x@example.org", password=PASSWORD
    )
    assert not made.is_platform_admin
    assert _actions(accounts_platform).count("user.create") == 2


# --- login, sessions, CSRF ---------------------------------------------------------------


def test_login_opens_a_session_that_resolves_to_the_user(accounts_platform: Platform) -> None:
    user = _user(accounts_platform)
    result = accounts.login(
        accounts_platform, email="ADA@example.org", password=PASSWORD, ip="192.0.2.1"
    )
    assert result.user == user
    assert result.csrf_token == accounts.csrf_token_for(result.token)
    assert result.max_age == 30 * 24 * 3600
    with accounts_platform.reading() as s:
        row = s.scalars(select(WebSessionRow)).one()
        assert len(row.token_hash) == 64
        assert result.token not in row.token_hash
    actor = _session_actor(accounts_platform, result.token)
    assert actor is not None
    assert (actor.kind, actor.user_id, actor.ip) == ("user", user.id, "192.0.2.1")
    assert _actions(accounts_platform) == ["user.register", "user.login"]


def test_wrong_password_and_unknown_email_look_the_same(accounts_platform: Platform) -> None:
    _user(accounts_platform)
    errors = []
    for email, password in (("ada@example.org", "wrong password!!"), ("who@example.org", PASSWORD)):
        with pytest.raises(Unauthenticated) as e:
            accounts.login(accounts_platform, email=email, password=password, ip="192.0.2.2")
        errors.append((e.value.message, e.value.property))
    assert errors[0] == errors[1]
    assert _actions(accounts_platform)[-2:] == ["user.login_failed", "user.login_failed"]


class CountingHasher(PasswordHasher):
    """Records the parameters of every hash it verifies."""

    def __init__(self) -> None:
        super().__init__(time_cost=2, memory_cost=4 * 1024, parallelism=1)
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        text = hash if isinstance(hash, str) else hash.decode()
        self.verified.append(text.split("$")[3])  # "m=...,t=...,p=..."
        return super().verify(hash, password)


def test_unknown_email_does_the_same_work_as_a_wrong_password(platform: Platform) -> None:
    hasher = CountingHasher()
    counted = dataclasses.replace(platform, extras={"password_hasher": hasher})
    accounts.register(counted, email="ada@example.org", password=PASSWORD, ip=None)
    for email in ("ada@example.org", "who@example.org"):
        with pytest.raises(Unauthenticated):
            accounts.login(counted, email=email, password="wrong password!!", ip=None)
    assert hasher.verified == ["m=4096,t=2,p=1"] * 2


def test_unknown_email_takes_about_as_long(platform: Platform) -> None:
    """Timing, measured interleaved (the machine is shared): medians within a factor of 3."""
    hasher = PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1)
    slow = dataclasses.replace(platform, extras={"password_hasher": hasher})
    accounts.register(slow, email="ada@example.org", password=PASSWORD, ip=None)
    samples: dict[str, list[float]] = {"ada@example.org": [], "who@example.org": []}
    for i in range(9):
        for email, times in samples.items():
            start = time.perf_counter()
            with pytest.raises(Unauthenticated):
                accounts.login(slow, email=email, password="wrong password!!", ip=f"10.0.0.{i}")
            times.append(time.perf_counter() - start)
    known = statistics.median(samples["ada@example.org"][1:])
    unknown = statistics.median(samples["who@example.org"][1:])  # [0] made the dummy hash
    assert 1 / 3 < unknown / known < 3, (known, unknown)


def test_login_rehashes_when_parameters_change(platform: Platform) -> None:
    old = dataclasses.replace(platform, extras={"password_hasher": FAST})
    user = accounts.register(old, email="ada@example.org", password=PASSWORD, ip=None)
    with platform.reading() as s:
        before = s.get(UserRow, user.id)
        assert before is not None
        assert "t=1," in before.password_hash
        before_hash = before.password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    new = dataclasses.replace(platform, extras={"password_hasher": stronger})
    accounts.login(new, email="ada@example.org", password=PASSWORD, ip=None)
    with platform.reading() as s:
        after = s.get(UserRow, user.id)
        assert after is not None
    assert after.password_hash != before_hash
    assert not stronger.check_needs_rehash(after.password_hash)
    accounts.login(new, email="ada@example.org", password=PASSWORD, ip=None)  # still valid


def test_mutating_requests_need_the_csrf_token(accounts_platform: Platform) -> None:
    _user(accounts_platform)
    result = accounts.login(accounts_platform, email="ada@example.org", password=PASSWORD, ip=None)
    for method in ("GET", "HEAD", "OPTIONS"):
        assert _session_actor(accounts_platform, result.token, method=method) is not None
    for method in ("POST", "PUT", "PATCH", "DELETE", "post"):
        with pytest.raises(PermissionDenied) as e:
            _session_actor(accounts_platform, result.token, method=method)
        assert e.value.property == "X-CSRF-Token"
        with pytest.raises(PermissionDenied):
            _session_actor(accounts_platform, result.token, method=method, csrf="0" * 64)
        assert (
            _session_actor(accounts_platform, result.token, method=method, csrf=result.csrf_token)
            is not None
        )
    other = accounts.login(accounts_platform, email="ada@example.org", password=PASSWORD, ip=None)
    with pytest.raises(PermissionDenied):  # another session's token is not this one's
        _session_actor(accounts_platform, result.token, method="POST", csrf=other.csrf_token)


def test_sessions_expire_idle_and_absolute(
    accounts_platform: Platform, clock: MovableClock
) -> None:
    _user(accounts_platform)
    idle = accounts.login(accounts_platform, email="ada@example.org", password=PASSWORD, ip=None)
    busy = accounts.login(accounts_platform, email="ada@example.org", password=PASSWORD, ip=None)
    for _ in range(4):  # busy keeps being used every 6 days: the idle limit never hits it
        clock.advance(days=6)
        assert _session_actor(accounts_platform, busy.token) is not None
    with pytest.raises(Unauthenticated) as e:
        _session_actor(accounts_platform, idle.token)
    assert "expired" in e.value.message
    clock.advance(days=5, hours=23)  # 30 days minus an hour since login
    assert _session_actor(accounts_platform, busy.token) is not None
    clock.advance(hours=1)
    with pytest.raises(Unauthenticated):
        _session_actor(accounts_platform, busy.token)


def test_session_touch_is_written_at_most_once_a_minute(
    accounts_platform: Platform, clock: MovableClock
) -> None:
    _user(accounts_platform)
    result = accounts.login(accounts_platform, email="ada@example.org", password=PASSWORD, ip=None)
    start = clock.now()

    def last_seen() -> object:
        with accounts_platform.reading() as s:
            return s.scalars(select(WebSessionRow.last_seen_at)).one()

    clock.advance(seconds=30)
    _session_actor(accounts_platform, result.token)
    assert last_seen() == start
    clock.advance(seconds=31)
    _session_actor(accounts_platform, result.token)
    assert last_seen() == clock.now()


def test_logout_revokes_the_session(accounts_platform: Platform) -> None:
    _user(accounts_platform)
    result = accounts.login(accounts_platform, email="ada@example.org", password=PASSWORD, ip=None)
    accounts.logout(accounts_platform, session_token=result.token, ip="192.0.2.3")
    with pytest.raises(Unauthenticated) as e:
        _session_actor(accounts_platform, result.token)
    assert "closed" in e.value.message
    accounts.logout(accounts_platform, session_token=result.token, ip=None)  # idempotent
    accounts.logout(accounts_platform, session_token="never issued", ip=None)
    assert _actions(accounts_platform).count("user.logout") == 1
    with pytest.raises(Unauthenticated):
        _session_actor(accounts_platform, "never issued")


def test_login_attempts_are_throttled_per_email_and_ip(
    accounts_platform: Platform, clock: MovableClock
) -> None:
    _user(accounts_platform)
    for _ in range(accounts.LOGIN_ATTEMPTS_BURST):
        with pytest.raises(Unauthenticated):
            accounts.login(
                accounts_platform, email="ada@example.org", password="x" * 13, ip="203.0.113.5"
            )
    with pytest.raises(RateLimited) as e:  # even the right password waits now
        accounts.login(
            accounts_platform, email="ada@example.org", password=PASSWORD, ip="203.0.113.5"
        )
    assert 0 < e.value.retry_after <= 60
    # another address, or another email, has its own bucket
    accounts.login(accounts_platform, email="ada@example.org", password=PASSWORD, ip="203.0.113.6")
    with pytest.raises(Unauthenticated):
        accounts.login(
            accounts_platform, email="bob@example.org", password=PASSWORD, ip="203.0.113.5"
        )
    clock.advance(seconds=61)
    accounts.login(accounts_platform, email="ada@example.org", password=PASSWORD, ip="203.0.113.5")


# --- organisations and members -----------------------------------------------------------


def test_create_get_list_rename_organisation(accounts_platform: Platform) -> None:
    owner = _actor(_user(accounts_platform))
    org = accounts.create_organisation(accounts_platform, owner, slug="acme", name=" Acme ")
    assert (org.slug, org.name, org.kind, org.role) == ("acme", "Acme", "issuer", "owner")
    assert accounts.get_organisation(accounts_platform, owner, org.id) == org
    other = accounts.create_organisation(
        accounts_platform, owner, slug="beta-co", name="Beta", kind="employer"
    )
    assert [o.id for o in accounts.list_my_organisations(accounts_platform, owner)] == [
        org.id,
        other.id,
    ]
    renamed = accounts.rename_organisation(accounts_platform, owner, org_id=org.id, name="Acme 2")
    assert renamed.name == "Acme 2"
    assert _actions(accounts_platform, org.id) == ["org.create", "org.rename"]
    with pytest.raises(Conflict) as e:
        accounts.create_organisation(accounts_platform, owner, slug="acme", name="Again")
    assert e.value.property == "slug"


@pytest.mark.parametrize("slug", ["a", "UPPER", "with space", "x" * 65, "under_score", "é-t"])
def test_slug_is_validated(accounts_platform: Platform, slug: str) -> None:
    owner = _actor(_user(accounts_platform))
    with pytest.raises(InvalidInput) as e:
        accounts.create_organisation(accounts_platform, owner, slug=slug, name="X")
    assert e.value.property == "slug"


def test_other_organisations_answer_not_found(accounts_platform: Platform) -> None:
    alice = _actor(_user(accounts_platform, "alice@example.org"))
    mallory = _actor(_user(accounts_platform, "mallory@example.org"))
    org = accounts.create_organisation(accounts_platform, alice, slug="acme", name="Acme")
    calls: list[Callable[[], object]] = [
        lambda: accounts.get_organisation(accounts_platform, mallory, org.id),
        lambda: accounts.rename_organisation(accounts_platform, mallory, org_id=org.id, name="x"),
        lambda: accounts.list_members(accounts_platform, mallory, org.id),
        lambda: accounts.add_member(
            accounts_platform, mallory, org_id=org.id, email="mallory@example.org", role="owner"
        ),
        lambda: accounts.change_member_role(
            accounts_platform, mallory, org_id=org.id, user_id=alice.id, role="viewer"
        ),
        lambda: accounts.remove_member(accounts_platform, mallory, org_id=org.id, user_id=alice.id),
        lambda: accounts.list_api_keys(accounts_platform, mallory, org.id),
        lambda: accounts.create_api_key(
            accounts_platform, mallory, org_id=org.id, name="k", scopes=["org:read"]
        ),
        lambda: accounts.list_audit(accounts_platform, mallory, org_id=org.id),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            call()
    assert accounts.list_my_organisations(accounts_platform, mallory) == []
    assert _actions(accounts_platform, org.id) == ["org.create"]


def test_members_add_change_remove(accounts_platform: Platform) -> None:
    owner = _actor(_user(accounts_platform, "owner@example.org"))
    bob = _user(accounts_platform, "bob@example.org")
    org = accounts.create_organisation(accounts_platform, owner, slug="acme", name="Acme")
    added = accounts.add_member(
        accounts_platform, owner, org_id=org.id, email="BOB@example.org", role="viewer"
    )
    assert (added.user_id, added.role) == (bob.id, "viewer")
    with pytest.raises(Conflict):
        accounts.add_member(
            accounts_platform, owner, org_id=org.id, email="bob@example.org", role="admin"
        )
    with pytest.raises(NotFound) as e:
        accounts.add_member(
            accounts_platform, owner, org_id=org.id, email="nobody@example.org", role="admin"
        )
    assert e.value.property == "email"
    with pytest.raises(InvalidInput):
        accounts.add_member(
            accounts_platform, owner, org_id=org.id, email="bob@example.org", role="god"
        )
    changed = accounts.change_member_role(
        accounts_platform, owner, org_id=org.id, user_id=bob.id, role="issuer_staff"
    )
    assert changed.role == "issuer_staff"
    assert {m.email: m.role for m in accounts.list_members(accounts_platform, owner, org.id)} == {
        "bob@example.org": "issuer_staff",
        "owner@example.org": "owner",
    }
    accounts.remove_member(accounts_platform, owner, org_id=org.id, user_id=bob.id)
    with pytest.raises(NotFound):
        accounts.remove_member(accounts_platform, owner, org_id=org.id, user_id=bob.id)
    assert _actions(accounts_platform, org.id) == [
        "org.create",
        "member.add",
        "member.change_role",
        "member.remove",
    ]


def test_only_members_manage_and_only_owners_grant_owner(accounts_platform: Platform) -> None:
    owner = _actor(_user(accounts_platform, "owner@example.org"))
    admin = _actor(_user(accounts_platform, "admin@example.org"))
    viewer = _actor(_user(accounts_platform, "viewer@example.org"))
    _user(accounts_platform, "new@example.org")
    org = accounts.create_organisation(accounts_platform, owner, slug="acme", name="Acme")
    for email, role in (("admin@example.org", "admin"), ("viewer@example.org", "viewer")):
        accounts.add_member(accounts_platform, owner, org_id=org.id, email=email, role=role)
    with pytest.raises(PermissionDenied):
        accounts.add_member(
            accounts_platform, viewer, org_id=org.id, email="new@example.org", role="viewer"
        )
    with pytest.raises(PermissionDenied):
        accounts.add_member(
            accounts_platform, admin, org_id=org.id, email="new@example.org", role="owner"
        )
    with pytest.raises(PermissionDenied):
        accounts.change_member_role(
            accounts_platform, admin, org_id=org.id, user_id=viewer.id, role="owner"
        )
    with pytest.raises(PermissionDenied):  # an admin cannot demote or remove an owner
        accounts.change_member_role(
            accounts_platform, admin, org_id=org.id, user_id=owner.id, role="viewer"
        )
    with pytest.raises(PermissionDenied):
        accounts.remove_member(accounts_platform, admin, org_id=org.id, user_id=owner.id)
    accounts.add_member(
        accounts_platform, admin, org_id=org.id, email="new@example.org", role="issuer_staff"
    )
    accounts.change_member_role(
        accounts_platform, owner, org_id=org.id, user_id=admin.id, role="owner"
    )


def test_the_last_owner_is_never_removed_or_demoted(accounts_platform: Platform) -> None:
    owner = _actor(_user(accounts_platform, "owner@example.org"))
    second = _actor(_user(accounts_platform, "second@example.org"))
    org = accounts.create_organisation(accounts_platform, owner, slug="acme", name="Acme")
    with pytest.raises(Conflict):
        accounts.change_member_role(
            accounts_platform, owner, org_id=org.id, user_id=owner.id, role="admin"
        )
    with pytest.raises(Conflict):
        accounts.remove_member(accounts_platform, owner, org_id=org.id, user_id=owner.id)
    accounts.add_member(
        accounts_platform, owner, org_id=org.id, email="second@example.org", role="owner"
    )
    accounts.change_member_role(
        accounts_platform, second, org_id=org.id, user_id=owner.id, role="admin"
    )
    with pytest.raises(Conflict):  # second is now the last owner
        accounts.remove_member(accounts_platform, second, org_id=org.id, user_id=second.id)
    roles = {m.email: m.role for m in accounts.list_members(accounts_platform, second, org.id)}
    assert roles == {"owner@example.org": "admin", "second@example.org": "owner"}


# --- API keys ----------------------------------------------------------------------------


def _org_with_owner(platform: Platform) -> tuple[Actor, accounts.Organisation]:
    owner = _actor(_user(platform, "owner@example.org"))
    return owner, accounts.create_organisation(platform, owner, slug="acme", name="Acme")


def test_api_key_round_trip(accounts_platform: Platform, clock: MovableClock) -> None:
    owner, org = _org_with_owner(accounts_platform)
    created = accounts.create_api_key(
        accounts_platform,
        owner,
        org_id=org.id,
        name="CI",
        scopes=["credentials:issue", "org:read", "org:read"],
    )
    assert created.secret.startswith(f"mk_{created.key.prefix}_")
    assert created.key.scopes == ("credentials:issue", "org:read")
    with accounts_platform.reading() as s:
        row = s.get(ApiKeyRow, created.key.id)
        assert row is not None
        assert created.secret.split("_", 2)[2] not in (row.secret_hash, row.prefix)
    actor = _bearer(accounts_platform, created.secret)
    assert actor is not None
    assert (actor.kind, actor.org_id, actor.user_id, actor.ip) == (
        "api_key",
        org.id,
        None,
        "192.0.2.9",
    )
    assert actor.scopes == frozenset({"credentials:issue", "org:read"})
    assert accounts.get_organisation(accounts_platform, actor, org.id).id == org.id
    with pytest.raises(PermissionDenied) as e:  # scope refusal
        accounts.list_members(
            accounts_platform, dataclasses.replace(actor, scopes=frozenset()), org.id
        )
    assert e.value.property == "scope"
    with pytest.raises(PermissionDenied):
        accounts.list_audit(accounts_platform, actor, org_id=org.id)
    listed = accounts.list_api_keys(accounts_platform, owner, org.id)
    assert [k.id for k in listed] == [created.key.id]
    assert listed[0].last_used_at == clock.now()
    revoked = accounts.revoke_api_key(
        accounts_platform, owner, org_id=org.id, key_id=created.key.id
    )
    assert revoked.revoked_at == clock.now()
    with pytest.raises(Unauthenticated) as e2:
        _bearer(accounts_platform, created.secret)
    assert "revoked" in e2.value.message
    accounts.revoke_api_key(accounts_platform, owner, org_id=org.id, key_id=created.key.id)
    assert _actions(accounts_platform, org.id) == ["org.create", "api_key.create", "api_key.revoke"]


def test_api_key_last_used_is_written_at_most_once_a_minute(
    accounts_platform: Platform, clock: MovableClock
) -> None:
    owner, org = _org_with_owner(accounts_platform)
    created = accounts.create_api_key(
        accounts_platform, owner, org_id=org.id, name="CI", scopes=["org:read"]
    )
    _bearer(accounts_platform, created.secret)
    first = clock.now()
    clock.advance(seconds=59)
    _bearer(accounts_platform, created.secret)
    assert accounts.list_api_keys(accounts_platform, owner, org.id)[0].last_used_at == first
    clock.advance(seconds=1)
    _bearer(accounts_platform, created.secret)
    assert accounts.list_api_keys(accounts_platform, owner, org.id)[0].last_used_at == clock.now()


def test_api_key_expiry_and_bad_keys(accounts_platform: Platform, clock: MovableClock) -> None:
    owner, org = _org_with_owner(accounts_platform)
    created = accounts.create_api_key(
        accounts_platform,
        owner,
        org_id=org.id,
        name="short",
        scopes=["org:read"],
        expires_at=clock.now() + timedelta(hours=1),
    )
    assert _bearer(accounts_platform, created.secret) is not None
    clock.advance(hours=1)
    with pytest.raises(Unauthenticated) as e:
        _bearer(accounts_platform, created.secret)
    assert "expired" in e.value.message
    tampered = created.secret[:-1] + ("A" if created.secret[-1] != "A" else "B")
    for token in (tampered, "mk_nope", "mk_" + "a" * 12 + "_" + "b" * 43, "mat_unknown", "x"):
        with pytest.raises(Unauthenticated):
            _bearer(accounts_platform, token)
    for header in ("Basic YWRhOnB3", "Bearer", "Bearer   "):
        with pytest.raises(Unauthenticated):
            accounts.resolve_actor(
                accounts_platform,
                authorization=header,
                session_token=None,
                method="GET",
                csrf_token=None,
                ip=None,
            )
    with pytest.raises(InvalidInput):
        accounts.create_api_key(
            accounts_platform,
            owner,
            org_id=org.id,
            name="past",
            scopes=["org:read"],
            expires_at=clock.now(),
        )


def test_api_key_scopes_are_checked(accounts_platform: Platform) -> None:
    owner, org = _org_with_owner(accounts_platform)
    for scopes in (["org:read", "root"], []):
        with pytest.raises(InvalidInput) as e:
            accounts.create_api_key(
                accounts_platform, owner, org_id=org.id, name="k", scopes=scopes
            )
        assert e.value.property == "scopes"
    admin = _actor(_user(accounts_platform, "admin@example.org"))
    accounts.add_member(
        accounts_platform, owner, org_id=org.id, email="admin@example.org", role="admin"
    )
    with pytest.raises(PermissionDenied):  # an admin may not mint org:delete
        accounts.create_api_key(
            accounts_platform, admin, org_id=org.id, name="k", scopes=["org:delete"]
        )
    limited = accounts.create_api_key(
        accounts_platform,
        owner,
        org_id=org.id,
        name="integrations",
        scopes=["integrations:manage", "org:read"],
    )
    key_actor = _bearer(accounts_platform, limited.secret)
    assert key_actor is not None
    with pytest.raises(PermissionDenied):  # a key cannot mint a key wider than itself
        accounts.create_api_key(
            accounts_platform,
            key_actor,
            org_id=org.id,
            name="wider",
            scopes=["credentials:issue"],
        )
    narrower = accounts.create_api_key(
        accounts_platform, key_actor, org_id=org.id, name="narrow", scopes=["org:read"]
    )
    assert narrower.key.created_by is None
    with pytest.raises(PermissionDenied):  # machine credentials never create organisations
        accounts.create_organisation(accounts_platform, key_actor, slug="spawn", name="Spawn")


def test_api_key_cannot_grant_owner_even_with_members_manage(accounts_platform: Platform) -> None:
    owner, org = _org_with_owner(accounts_platform)
    _user(accounts_platform, "eve@example.org")
    created = accounts.create_api_key(
        accounts_platform,
        owner,
        org_id=org.id,
        name="hr",
        scopes=[Permission.MEMBERS_MANAGE.value],
    )
    key_actor = _bearer(accounts_platform, created.secret)
    assert key_actor is not None
    with pytest.raises(PermissionDenied):
        accounts.add_member(
            accounts_platform, key_actor, org_id=org.id, email="eve@example.org", role="owner"
        )
    accounts.add_member(
        accounts_platform, key_actor, org_id=org.id, email="eve@example.org", role="viewer"
    )


def test_revoking_another_orgs_key_is_not_found(accounts_platform: Platform) -> None:
    owner, org = _org_with_owner(accounts_platform)
    other = accounts.create_organisation(accounts_platform, owner, slug="other", name="Other")
    created = accounts.create_api_key(
        accounts_platform, owner, org_id=other.id, name="k", scopes=["org:read"]
    )
    with pytest.raises(NotFound):  # the key exists, but not in this organisation
        accounts.revoke_api_key(accounts_platform, owner, org_id=org.id, key_id=created.key.id)
    key_actor = _bearer(accounts_platform, created.secret)
    assert key_actor is not None
    with pytest.raises(NotFound):
        accounts.get_organisation(accounts_platform, key_actor, org.id)
    assert [o.id for o in accounts.list_my_organisations(accounts_platform, key_actor)] == [
        other.id
    ]


# --- audit -------------------------------------------------------------------------------


def test_audit_pages_with_a_cursor(accounts_platform: Platform) -> None:
    owner, org = _org_with_owner(accounts_platform)
    for i in range(5):
        accounts.rename_organisation(accounts_platform, owner, org_id=org.id, name=f"Acme {i}")
    first = accounts.list_audit(accounts_platform, owner, org_id=org.id, limit=4)
    assert [e.action for e in first] == ["org.create"] + ["org.rename"] * 3
    assert all(e.ip == "192.0.2.1" and e.actor == f"user:{owner.id}" for e in first)
    rest = accounts.list_audit(accounts_platform, owner, org_id=org.id, after_id=first[-1].id)
    assert [e.details["to"] for e in rest] == ["Acme 3", "Acme 4"]
    with pytest.raises(InvalidInput):
        accounts.list_audit(accounts_platform, owner, org_id=org.id, limit=0)
    viewer = _actor(_user(accounts_platform, "viewer@example.org"))
    accounts.add_member(
        accounts_platform, owner, org_id=org.id, email="viewer@example.org", role="viewer"
    )
    with pytest.raises(PermissionDenied):
        accounts.list_audit(accounts_platform, viewer, org_id=org.id)


def test_oauth_access_tokens_go_to_the_oauth_service(accounts_platform: Platform) -> None:
    with pytest.raises(Unauthenticated):  # the OAuth module knows the prefix, not the token
        _bearer(accounts_platform, "mat_" + "x" * 43)
    with pytest.raises(Unauthenticated):  # neither an API key nor an access token
        _bearer(accounts_platform, "something-else")


def test_no_credentials_is_no_actor(accounts_platform: Platform) -> None:
    assert (
        accounts.resolve_actor(
            accounts_platform,
            authorization=None,
            session_token=None,
            method="POST",
            csrf_token=None,
            ip=None,
        )
        is None
    )


def test_listing_organisations_respects_a_credentials_scopes(accounts_platform: Platform) -> None:
    owner = _actor(_user(accounts_platform))
    accounts.create_organisation(accounts_platform, owner, slug="acme", name="Acme")
    # an OAuth user token carries OB 3.0 scopes only: it may not enumerate the user's orgs
    token = dataclasses.replace(owner, kind="oauth_token", scopes=frozenset({"offline_access"}))
    with pytest.raises(PermissionDenied):
        accounts.list_my_organisations(accounts_platform, token)
    with_scope = dataclasses.replace(token, scopes=frozenset({"org:read"}))
    assert len(accounts.list_my_organisations(accounts_platform, with_scope)) == 1
