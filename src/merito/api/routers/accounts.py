"""Accounts API: sign-up, login sessions, organisations, members, API keys and the audit log.

A browser logs in with ``POST /auth/login``: the session is the HttpOnly, SameSite=Lax cookie
``merito_session`` and every later POST, PUT, PATCH or DELETE sends the returned
``csrf_token`` as ``X-CSRF-Token``. Programs use ``Authorization: Bearer mk_...`` API keys
(or OAuth access tokens), which need no CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from merito.api.auth import SESSION_COOKIE, CurrentActor, PlatformDep, client_ip
from merito.services import accounts
from merito.services.platform import Permission

router = APIRouter(tags=["accounts"])

RoleIn = Literal["owner", "admin", "issuer_staff", "viewer", "assessor"]
OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
UserId = Annotated[str, Path(max_length=36, description="The member's user id.")]
KeyId = Annotated[str, Path(max_length=36, description="The API key's id.")]


# --- schemas ---------------------------------------------------------------------------------


class CredentialsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, examples=["ada@example.org"])
    password: str = Field(
        min_length=1,
        max_length=accounts.MAX_PASSWORD_LENGTH,
        description=f"At least {accounts.MIN_PASSWORD_LENGTH} characters, not one repeated.",
    )


class UserOut(BaseModel):
    id: str
    email: str
    is_platform_admin: bool
    created_at: datetime


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(
        description="Send as the X-CSRF-Token header with every POST, PUT, PATCH and DELETE "
        "made with the session cookie."
    )
    expires_at: datetime = Field(description="The session ends then at the latest.")


class MeOut(BaseModel):
    kind: str = Field(description="user, api_key or oauth_token")
    user: UserOut | None
    org_id: str | None = Field(description="The organisation a machine credential acts in.")
    scopes: list[str] | None = Field(description="A machine credential's scopes.")


class OrgIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern="^[a-z0-9-]{2,64}$", examples=["acme-academy"])
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["issuer", "employer"] = "issuer"


class OrgPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class OrgOut(BaseModel):
    id: str
    slug: str
    name: str
    kind: str
    created_at: datetime
    role: str | None = Field(description="Your role in it.")


class OrgList(BaseModel):
    items: list[OrgOut]


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320, description="An existing account's email.")
    role: RoleIn


class MemberPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleIn


class MemberOut(BaseModel):
    user_id: str
    email: str
    role: str
    created_at: datetime


class MemberList(BaseModel):
    items: list[MemberOut]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Shown in lists and audit logs.")
    scopes: list[str] = Field(
        min_length=1,
        max_length=len(Permission),
        description="Permissions the key carries: " + ", ".join(p.value for p in Permission),
    )
    expires_at: AwareDatetime | None = None


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")


class CreatedApiKeyOut(ApiKeyOut):
    secret: str = Field(description="The key (mk_...): shown in this response only.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    ip: str | None
    details: dict[str, object]


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_after: int | None = Field(
        description="Pass as ?after= for the next page; null on the last page."
    )


def _user(user: accounts.User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        is_platform_admin=user.is_platform_admin,
        created_at=user.created_at,
    )


def _org(org: accounts.Organisation) -> OrgOut:
    return OrgOut(
        id=org.id,
        slug=org.slug,
        name=org.name,
        kind=org.kind,
        created_at=org.created_at,
        role=org.role,
    )


def _member(member: accounts.Member) -> MemberOut:
    return MemberOut(
        user_id=member.user_id, email=member.email, role=member.role, created_at=member.created_at
    )


def _key_fields(key: accounts.ApiKey) -> dict[str, object]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": list(key.scopes),
        "created_by": key.created_by,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "last_used_at": key.last_used_at,
    }


# --- users and sessions ----------------------------------------------------------------------


@router.post("/auth/register", status_code=201, response_model=UserOut, summary="Sign up")
def register(body: CredentialsIn, request: Request, platform: PlatformDep) -> UserOut:
    """Creates an account (409 when the email has one). Log in afterwards."""
    return _user(
        accounts.register(platform, email=body.email, password=body.password, ip=client_ip(request))
    )


@router.post("/auth/login", response_model=LoginOut, summary="Log in (web session)")
def login(body: CredentialsIn, request: Request, platform: PlatformDep) -> Response:
    """Sets the session cookie and returns the session's CSRF token. A wrong email and a
    wrong password answer the same 401; too many attempts for one email from one address
    answer 429 with Retry-After."""
    result = accounts.login(
        platform, email=body.email, password=body.password, ip=client_ip(request)
    )
    out = LoginOut(
        user=_user(result.user), csrf_token=result.csrf_token, expires_at=result.expires_at
    )
    response = JSONResponse(out.model_dump(mode="json"), headers={"Cache-Control": "no-store"})
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=result.max_age,
        httponly=True,
        samesite="lax",
        secure=platform.base_url.startswith("https://"),
        path="/",
    )
    return response


@router.post("/auth/logout", status_code=204, summary="Log out")
def logout(actor: CurrentActor, request: Request, platform: PlatformDep) -> Response:
    """Ends the web session of the cookie (it needs the CSRF token like any change)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token is not None and actor.kind == "user":
        accounts.logout(platform, session_token=token, ip=actor.ip)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/auth/me", response_model=MeOut, summary="Who am I")
def me(actor: CurrentActor, platform: PlatformDep) -> MeOut:
    user = accounts.get_user(platform, actor) if actor.user_id is not None else None
    return MeOut(
        kind=actor.kind,
        user=_user(user) if user is not None else None,
        org_id=actor.org_id,
        scopes=sorted(actor.scopes) if actor.scopes is not None else None,
    )


# --- organisations ---------------------------------------------------------------------------


@router.post("/orgs", status_code=201, response_model=OrgOut, summary="Create an organisation")
def create_org(body: OrgIn, actor: CurrentActor, platform: PlatformDep) -> OrgOut:
    """You become its owner. 409 when the slug is taken."""
    return _org(
        accounts.create_organisation(
            platform, actor, slug=body.slug, name=body.name, kind=body.kind
        )
    )


@router.get("/orgs", response_model=OrgList, summary="List my organisations")
def list_orgs(actor: CurrentActor, platform: PlatformDep) -> OrgList:
    return OrgList(items=[_org(o) for o in accounts.list_my_organisations(platform, actor)])


@router.get("/orgs/{org_id}", response_model=OrgOut, summary="Get an organisation")
def get_org(org_id: OrgId, actor: CurrentActor, platform: PlatformDep) -> OrgOut:
    return _org(accounts.get_organisation(platform, actor, org_id))


@router.patch("/orgs/{org_id}", response_model=OrgOut, summary="Rename an organisation")
def rename_org(org_id: OrgId, body: OrgPatch, actor: CurrentActor, platform: PlatformDep) -> OrgOut:
    return _org(accounts.rename_organisation(platform, actor, org_id=org_id, name=body.name))


# --- members ---------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/members", response_model=MemberList, summary="List members")
def list_members(org_id: OrgId, actor: CurrentActor, platform: PlatformDep) -> MemberList:
    return MemberList(items=[_member(m) for m in accounts.list_members(platform, actor, org_id)])


@router.post(
    "/orgs/{org_id}/members", status_code=201, response_model=MemberOut, summary="Add a member"
)
def add_member(
    org_id: OrgId, body: MemberIn, actor: CurrentActor, platform: PlatformDep
) -> MemberOut:
    """Adds an existing account (needs ``members:manage``; only an owner grants owner)."""
    return _member(
        accounts.add_member(platform, actor, org_id=org_id, email=body.email, role=body.role)
    )


@router.patch("/orgs/{org_id}/members/{user_id}", response_model=MemberOut, summary="Change a role")
def change_member(
    org_id: OrgId, user_id: UserId, body: MemberPatch, actor: CurrentActor, platform: PlatformDep
) -> MemberOut:
    """409 when it would leave the organisation without an owner."""
    return _member(
        accounts.change_member_role(platform, actor, org_id=org_id, user_id=user_id, role=body.role)
    )


@router.delete("/orgs/{org_id}/members/{user_id}", status_code=204, summary="Remove a member")
def remove_member(
    org_id: OrgId, user_id: UserId, actor: CurrentActor, platform: PlatformDep
) -> Response:
    """409 for the last owner."""
    accounts.remove_member(platform, actor, org_id=org_id, user_id=user_id)
    return Response(status_code=204)


# --- API keys --------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/api-keys", response_model=ApiKeyList, summary="List API keys")
def list_api_keys(org_id: OrgId, actor: CurrentActor, platform: PlatformDep) -> ApiKeyList:
    """Revoked keys included; never a secret (needs ``integrations:manage``)."""
    keys = accounts.list_api_keys(platform, actor, org_id)
    return ApiKeyList(items=[ApiKeyOut.model_validate(_key_fields(k)) for k in keys])


@router.post(
    "/orgs/{org_id}/api-keys",
    status_code=201,
    response_model=CreatedApiKeyOut,
    summary="Create an API key",
)
def create_api_key(
    org_id: OrgId, body: ApiKeyIn, actor: CurrentActor, platform: PlatformDep
) -> Response:
    """The response holds the key (``secret``) once: store it now. Scopes are limited to
    what you may do yourself."""
    created = accounts.create_api_key(
        platform,
        actor,
        org_id=org_id,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
    )
    out = CreatedApiKeyOut.model_validate({**_key_fields(created.key), "secret": created.secret})
    return JSONResponse(
        out.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"}
    )


@router.delete(
    "/orgs/{org_id}/api-keys/{key_id}", response_model=ApiKeyOut, summary="Revoke an API key"
)
def revoke_api_key(
    org_id: OrgId, key_id: KeyId, actor: CurrentActor, platform: PlatformDep
) -> ApiKeyOut:
    """The key stops working at once; it stays listed, marked revoked."""
    key = accounts.revoke_api_key(platform, actor, org_id=org_id, key_id=key_id)
    return ApiKeyOut.model_validate(_key_fields(key))


# --- audit -----------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/audit", response_model=AuditPage, summary="Read the audit log")
def list_audit(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> AuditPage:
    """Oldest first (needs ``audit:read``); page on with ``?after=<next_after>``."""
    entries = accounts.list_audit(platform, actor, org_id=org_id, limit=limit, after_id=after)
    return AuditPage(
        items=[
            AuditEntryOut(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                target=e.target,
                ip=e.ip,
                details=e.details,
            )
            for e in entries
        ],
        next_after=entries[-1].id if len(entries) == limit else None,
    )
