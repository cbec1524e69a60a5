"""Workforce: employees, skills inventory, gaps, demand analytics, sponsorships; an employee's
employers, consent, invitations and vouchers.

Every count of people is k-anonymous (``null``: suppressed; CSV: ``<k``); see docs/workforce.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from merito.api.auth import CurrentActor, PlatformDep
from merito.services import workforce

router = APIRouter(tags=["workforce"])
#: routes outside /api/v1 (public or protocol endpoints)
public_router = APIRouter(tags=["workforce"])

OrgId = Annotated[str, Path(max_length=36, description="The organisation's id.")]
InvitationId = Annotated[str, Path(max_length=36, description="The invitation's id.")]
EmployeeId = Annotated[str, Path(max_length=36, description="The employee link's id.")]
SponsorshipId = Annotated[str, Path(max_length=36, description="The sponsorship's id.")]
EmploymentId = Annotated[str, Path(max_length=36, description="Your employee link's id.")]
By = Annotated[Literal["team", "role"], Query(description="Slice by team or by job role.")]
CSV = "text/csv; charset=utf-8"


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    team: str = Field(default="", max_length=200)
    job_role_id: str | None = Field(
        default=None, max_length=36, description="One of the organisation's roles."
    )


class EmployeePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: str | None = Field(default=None, max_length=200)
    job_role_id: str | None = Field(
        default=None, max_length=36, description="A role id; an empty string clears it."
    )


class SponsorshipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    achievement_id: str = Field(max_length=36, description="A published achievement, any issuer.")
    vouchers: int = Field(ge=1, le=workforce.MAX_VOUCHERS)
    expires_at: datetime | None = None
    note: str = Field(default="", max_length=2000)


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share_all: bool = Field(description="Every credential of yours that verifies now.")
    credential_ids: list[Annotated[str, Field(max_length=500)]] = Field(
        default_factory=list, max_length=workforce.MAX_SHARED
    )
    show_individual: bool = Field(
        default=False,
        description="The employer may see the shared credentials by name (else aggregates only).",
    )


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=40)


# --- employees -------------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/workforce/invitations",
    summary="Invite an employee",
    status_code=201,
    response_model=workforce.InvitationView,
)
def invite(
    org_id: OrgId, body: InvitationIn, actor: CurrentActor, platform: PlatformDep
) -> workforce.InvitationView:
    """Emails an accept link; once accepted, the account is linked with the team and role."""
    return workforce.invite_employee(
        platform,
        actor,
        org_id=org_id,
        email=body.email,
        team=body.team,
        job_role_id=body.job_role_id,
    )


@router.get(
    "/orgs/{org_id}/workforce/invitations",
    summary="List invitations",
    response_model=list[workforce.InvitationView],
)
def list_invitations(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[workforce.InvitationView]:
    return workforce.list_invitations(platform, actor, org_id=org_id)


@router.post(
    "/orgs/{org_id}/workforce/invitations/{invitation_id}/revoke",
    summary="Revoke a pending invitation",
    response_model=workforce.InvitationView,
)
def revoke_invitation(
    org_id: OrgId, invitation_id: InvitationId, actor: CurrentActor, platform: PlatformDep
) -> workforce.InvitationView:
    return workforce.revoke_invitation(platform, actor, org_id=org_id, invitation_id=invitation_id)


@router.get(
    "/orgs/{org_id}/workforce/employees",
    summary="List employees and their consent",
    response_model=list[workforce.EmployeeView],
)
def list_employees(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[workforce.EmployeeView]:
    return workforce.list_employees(platform, actor, org_id=org_id)


@router.get(
    "/orgs/{org_id}/workforce/employees/{employee_id}",
    summary="One employee (shared credentials only if they allow it)",
    response_model=workforce.EmployeeDetail,
)
def get_employee(
    org_id: OrgId, employee_id: EmployeeId, actor: CurrentActor, platform: PlatformDep
) -> workforce.EmployeeDetail:
    return workforce.get_employee(platform, actor, org_id=org_id, employee_id=employee_id)


@router.patch(
    "/orgs/{org_id}/workforce/employees/{employee_id}",
    summary="Move an employee to a team or job role",
    response_model=workforce.EmployeeView,
)
def update_employee(
    org_id: OrgId,
    employee_id: EmployeeId,
    body: EmployeePatch,
    actor: CurrentActor,
    platform: PlatformDep,
) -> workforce.EmployeeView:
    return workforce.update_employee(
        platform,
        actor,
        org_id=org_id,
        employee_id=employee_id,
        team=body.team,
        job_role_id=body.job_role_id or None,
        clear_job_role=body.job_role_id == "",
    )


@router.delete(
    "/orgs/{org_id}/workforce/employees/{employee_id}",
    summary="Unlink an employee",
    status_code=204,
)
def remove_employee(
    org_id: OrgId, employee_id: EmployeeId, actor: CurrentActor, platform: PlatformDep
) -> Response:
    workforce.remove_employee(platform, actor, org_id=org_id, employee_id=employee_id)
    return Response(status_code=204)


# --- inventory, coverage, gaps ---------------------------------------------------------------


@router.get(
    "/orgs/{org_id}/workforce/inventory",
    summary="Verified skills of consenting employees, by team or job role",
    response_model=workforce.Inventory,
)
def inventory(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep, by: By = "team"
) -> workforce.Inventory:
    return workforce.inventory(platform, actor, org_id=org_id, by=by)


@router.get(
    "/orgs/{org_id}/workforce/inventory.csv",
    summary="The skills inventory as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def inventory_csv(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep, by: By = "team"
) -> Response:
    body = workforce.inventory_csv(platform, actor, org_id=org_id, by=by)
    return Response(
        body,
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="inventory-{by}.csv"'},
    )


@router.get(
    "/orgs/{org_id}/workforce/coverage",
    summary="Coverage of the organisation's roles by its consenting employees",
    response_model=list[workforce.RoleCoverage],
)
def coverage(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[workforce.RoleCoverage]:
    return workforce.coverage(platform, actor, org_id=org_id)


@router.get(
    "/orgs/{org_id}/workforce/gaps",
    summary="Skill gaps per team and the least-cost learning path closing them",
    response_model=list[workforce.TeamGap],
)
def gaps(
    org_id: OrgId,
    actor: CurrentActor,
    platform: PlatformDep,
    cost: Annotated[Literal["hours", "price"], Query()] = "hours",
    currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$")] = None,
) -> list[workforce.TeamGap]:
    return workforce.gaps(platform, actor, org_id=org_id, cost=cost, currency=currency)


# --- demand ------------------------------------------------------------------------------------

Months = Annotated[int, Query(ge=1, le=60, description="Months back, this one included.")]


@router.get(
    "/orgs/{org_id}/workforce/demand",
    summary="Skills open roles on Merito ask for, by month, against verified supply",
    response_model=workforce.Demand,
)
def demand(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep, months: Months = 12
) -> workforce.Demand:
    return workforce.demand(platform, actor, org_id=org_id, months=months)


@router.get(
    "/orgs/{org_id}/workforce/demand.csv",
    summary="Skill demand as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def demand_csv(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep, months: Months = 12
) -> Response:
    body = workforce.demand_csv(platform, actor, org_id=org_id, months=months)
    return Response(
        body,
        media_type=CSV,
        headers={"Content-Disposition": 'attachment; filename="skill-demand.csv"'},
    )


@router.get(
    "/orgs/{org_id}/workforce/achievements-in-demand",
    summary="Your achievements and the demand for the skills they align to",
    response_model=list[workforce.AchievementDemand],
)
def achievements_in_demand(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[workforce.AchievementDemand]:
    return workforce.achievements_in_demand(platform, actor, org_id=org_id)


# --- sponsorships ------------------------------------------------------------------------------


@router.post(
    "/orgs/{org_id}/workforce/sponsorships",
    summary="Sponsor an achievement with voucher codes",
    status_code=201,
    response_model=workforce.SponsorshipView,
)
def create_sponsorship(
    org_id: OrgId, body: SponsorshipIn, actor: CurrentActor, platform: PlatformDep
) -> workforce.SponsorshipView:
    return workforce.create_sponsorship(
        platform,
        actor,
        org_id=org_id,
        achievement_id=body.achievement_id,
        vouchers=body.vouchers,
        expires_at=body.expires_at,
        note=body.note,
    )


@router.get(
    "/orgs/{org_id}/workforce/sponsorships",
    summary="List sponsorships with completion",
    response_model=list[workforce.SponsorshipView],
)
def list_sponsorships(
    org_id: OrgId, actor: CurrentActor, platform: PlatformDep
) -> list[workforce.SponsorshipView]:
    return workforce.list_sponsorships(platform, actor, org_id=org_id)


@router.get(
    "/orgs/{org_id}/workforce/sponsorships/{sponsorship_id}",
    summary="A sponsorship with its voucher codes",
    response_model=workforce.SponsorshipView,
)
def get_sponsorship(
    org_id: OrgId, sponsorship_id: SponsorshipId, actor: CurrentActor, platform: PlatformDep
) -> workforce.SponsorshipView:
    return workforce.get_sponsorship(platform, actor, org_id=org_id, sponsorship_id=sponsorship_id)


# --- the employee --------------------------------------------------------------------------------


@router.post(
    "/me/workforce/invitations",
    summary="Accept an employer's invitation",
    status_code=201,
    response_model=workforce.EmploymentView,
)
def accept_invitation(
    body: TokenIn, actor: CurrentActor, platform: PlatformDep
) -> workforce.EmploymentView:
    """The token of the emailed link; your account must be the invited address."""
    return workforce.accept_invitation(platform, actor, token=body.token)


@router.get(
    "/me/employers",
    summary="My employers and what I share with each",
    response_model=list[workforce.EmploymentView],
)
def my_employers(actor: CurrentActor, platform: PlatformDep) -> list[workforce.EmploymentView]:
    return workforce.my_employments(platform, actor)


@router.get(
    "/me/employers/{employment_id}",
    summary="One employer and what I share",
    response_model=workforce.EmploymentView,
)
def my_employer(
    employment_id: EmploymentId, actor: CurrentActor, platform: PlatformDep
) -> workforce.EmploymentView:
    return workforce.get_employment(platform, actor, employment_id=employment_id)


@router.put(
    "/me/employers/{employment_id}/consent",
    summary="Set what this employer may see",
    response_model=workforce.EmploymentView,
)
def set_consent(
    employment_id: EmploymentId, body: ConsentIn, actor: CurrentActor, platform: PlatformDep
) -> workforce.EmploymentView:
    """Replaces your consent; it applies to the employer's next read (nothing is cached)."""
    return workforce.set_consent(
        platform,
        actor,
        employment_id=employment_id,
        share_all=body.share_all,
        credential_ids=body.credential_ids,
        show_individual=body.show_individual,
    )


@router.delete("/me/employers/{employment_id}", summary="Leave this employer", status_code=204)
def leave(employment_id: EmploymentId, actor: CurrentActor, platform: PlatformDep) -> Response:
    workforce.leave(platform, actor, employment_id=employment_id)
    return Response(status_code=204)


@router.post(
    "/me/vouchers",
    summary="Redeem a voucher code",
    status_code=201,
    response_model=workforce.RedemptionView,
)
def redeem(body: CodeIn, actor: CurrentActor, platform: PlatformDep) -> workforce.RedemptionView:
    return workforce.redeem_voucher(platform, actor, code=body.code)


@router.get(
    "/me/vouchers", summary="My redeemed vouchers", response_model=list[workforce.RedemptionView]
)
def my_vouchers(actor: CurrentActor, platform: PlatformDep) -> list[workforce.RedemptionView]:
    return workforce.my_vouchers(platform, actor)
