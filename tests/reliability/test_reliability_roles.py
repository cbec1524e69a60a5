"""The per-role access matrix of the organisation API: every route with ``{org_id}`` in its
path x every member role (owner, admin, issuer_staff, assessor, viewer, each logged in with a
session cookie) x scoped API keys (one with exactly the route's scopes, one with every scope
but one of them), on organisation A's real resources with schema-valid bodies.

``EXPECTED`` is the spec: the permissions each route requires. It was first recorded from
``authorize`` calls and then reviewed by hand; a new route fails ``test_every_route_has_its_
permissions`` until it is given its line. Denied means exactly 403 problem JSON; allowed means
the call got past authorization (not 401/403; 404/409/422 are answers about the resource).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from reliability_support import ApiClient, platform_for, settings_for
from roles_support import ROLES, Route, Schemas, build_tenant, org_routes

from merito.api.app import create_app
from merito.services.platform import ROLE_PERMISSIONS, Permission, Platform

#: route -> every permission it requires (all of them)
EXPECTED: Final[dict[Route, tuple[Permission, ...]]] = {
    ("GET", "/api/v1/orgs/{org_id}"): (Permission.ORG_READ,),
    ("PATCH", "/api/v1/orgs/{org_id}"): (Permission.PROFILE_WRITE,),
    ("GET", "/api/v1/orgs/{org_id}/achievements"): (Permission.ORG_READ,),
    ("POST", "/api/v1/orgs/{org_id}/achievements"): (Permission.ACHIEVEMENTS_WRITE,),
    ("GET", "/api/v1/orgs/{org_id}/achievements/{achievement_id}"): (Permission.ORG_READ,),
    ("PATCH", "/api/v1/orgs/{org_id}/achievements/{achievement_id}"): (
        Permission.ACHIEVEMENTS_WRITE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/achievements/{achievement_id}/archive"): (
        Permission.ACHIEVEMENTS_WRITE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/achievements/{achievement_id}/assessment"): (
        Permission.ORG_READ,
    ),
    ("PUT", "/api/v1/orgs/{org_id}/achievements/{achievement_id}/assessment"): (
        Permission.ACHIEVEMENTS_WRITE,
    ),
    ("DELETE", "/api/v1/orgs/{org_id}/achievements/{achievement_id}/image"): (
        Permission.ACHIEVEMENTS_WRITE,
    ),
    ("PUT", "/api/v1/orgs/{org_id}/achievements/{achievement_id}/image"): (
        Permission.ACHIEVEMENTS_WRITE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/achievements/{achievement_id}/publish"): (
        Permission.ACHIEVEMENTS_WRITE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/analytics/activity"): (Permission.ANALYTICS_READ,),
    ("GET", "/api/v1/orgs/{org_id}/analytics/activity.csv"): (Permission.ANALYTICS_READ,),
    ("GET", "/api/v1/orgs/{org_id}/analytics/pathways/{pathway_id}/funnel"): (
        Permission.ANALYTICS_READ,
        Permission.ORG_READ,
    ),
    ("GET", "/api/v1/orgs/{org_id}/analytics/pathways/{pathway_id}/funnel.csv"): (
        Permission.ANALYTICS_READ,
        Permission.ORG_READ,
    ),
    ("GET", "/api/v1/orgs/{org_id}/analytics/skills"): (Permission.ANALYTICS_READ,),
    ("GET", "/api/v1/orgs/{org_id}/analytics/skills.csv"): (Permission.ANALYTICS_READ,),
    ("GET", "/api/v1/orgs/{org_id}/api-keys"): (Permission.INTEGRATIONS_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/api-keys"): (Permission.INTEGRATIONS_MANAGE,),
    ("DELETE", "/api/v1/orgs/{org_id}/api-keys/{key_id}"): (Permission.INTEGRATIONS_MANAGE,),
    ("GET", "/api/v1/orgs/{org_id}/applications"): (Permission.APPLICATIONS_ASSESS,),
    ("POST", "/api/v1/orgs/{org_id}/applications/reminders"): (Permission.APPLICATIONS_ASSESS,),
    ("GET", "/api/v1/orgs/{org_id}/applications/{application_id}"): (
        Permission.APPLICATIONS_ASSESS,
    ),
    ("POST", "/api/v1/orgs/{org_id}/applications/{application_id}/assignments"): (
        Permission.APPLICATIONS_ASSESS,
    ),
    ("GET", "/api/v1/orgs/{org_id}/applications/{application_id}/evidence/{evidence_id}"): (
        Permission.APPLICATIONS_ASSESS,
    ),
    ("POST", "/api/v1/orgs/{org_id}/applications/{application_id}/reviews"): (
        Permission.APPLICATIONS_ASSESS,
    ),
    ("GET", "/api/v1/orgs/{org_id}/audit"): (Permission.AUDIT_READ,),
    ("GET", "/api/v1/orgs/{org_id}/claim-codes"): (Permission.CREDENTIALS_ISSUE,),
    ("POST", "/api/v1/orgs/{org_id}/claim-codes"): (Permission.CREDENTIALS_ISSUE,),
    ("POST", "/api/v1/orgs/{org_id}/claim-codes/{code_id}/deactivate"): (
        Permission.CREDENTIALS_ISSUE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/claim-codes/{code_id}/qr"): (Permission.CREDENTIALS_ISSUE,),
    ("GET", "/api/v1/orgs/{org_id}/credentials"): (Permission.CREDENTIALS_READ,),
    ("POST", "/api/v1/orgs/{org_id}/credentials"): (Permission.CREDENTIALS_ISSUE,),
    ("POST", "/api/v1/orgs/{org_id}/credentials/bulk"): (Permission.CREDENTIALS_ISSUE,),
    ("GET", "/api/v1/orgs/{org_id}/credentials/{credential_id}"): (Permission.CREDENTIALS_READ,),
    ("POST", "/api/v1/orgs/{org_id}/credentials/{credential_id}/reissue"): (
        Permission.CREDENTIALS_ISSUE,
        Permission.CREDENTIALS_REVOKE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/credentials/{credential_id}/revoke"): (
        Permission.CREDENTIALS_REVOKE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/credentials/{credential_id}/suspend"): (
        Permission.CREDENTIALS_REVOKE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/credentials/{credential_id}/unsuspend"): (
        Permission.CREDENTIALS_REVOKE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/deliveries"): (Permission.INTEGRATIONS_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/deliveries/{delivery_id}/retry"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/endorsement-requests"): (Permission.ORG_READ,),
    ("POST", "/api/v1/orgs/{org_id}/endorsement-requests"): (Permission.ENDORSEMENTS_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/endorsement-requests/incoming/{incoming_id}/accept"): (
        Permission.ENDORSEMENTS_MANAGE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/endorsement-requests/incoming/{incoming_id}/decline"): (
        Permission.ENDORSEMENTS_MANAGE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/endorsement-requests/{request_id}/withdraw"): (
        Permission.ENDORSEMENTS_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/endorsements"): (Permission.ORG_READ,),
    ("POST", "/api/v1/orgs/{org_id}/endorsements"): (Permission.ENDORSEMENTS_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/endorsements/{endorsement_id}/revoke"): (
        Permission.ENDORSEMENTS_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/integrations/inbound-events"): (Permission.INTEGRATIONS_MANAGE,),
    ("GET", "/api/v1/orgs/{org_id}/integrations/lti-platforms"): (Permission.INTEGRATIONS_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/integrations/lti-platforms"): (Permission.INTEGRATIONS_MANAGE,),
    ("PATCH", "/api/v1/orgs/{org_id}/integrations/lti-platforms/{lti_platform_id}"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/integrations/rules"): (Permission.INTEGRATIONS_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/integrations/rules"): (Permission.INTEGRATIONS_MANAGE,),
    ("DELETE", "/api/v1/orgs/{org_id}/integrations/rules/{rule_id}"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/integrations/webhook-endpoints"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/integrations/webhook-endpoints"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("PATCH", "/api/v1/orgs/{org_id}/integrations/webhook-endpoints/{endpoint_id}"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/integrations/webhook-endpoints/{endpoint_id}/rotate-secret"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/integrations/xapi-clients"): (Permission.INTEGRATIONS_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/integrations/xapi-clients"): (Permission.INTEGRATIONS_MANAGE,),
    ("PATCH", "/api/v1/orgs/{org_id}/integrations/xapi-clients/{xapi_client_id}"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/integrations/xapi-statements"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/keys"): (Permission.ORG_READ,),
    ("POST", "/api/v1/orgs/{org_id}/keys"): (Permission.KEYS_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/keys/rotate"): (Permission.KEYS_MANAGE,),
    ("GET", "/api/v1/orgs/{org_id}/members"): (Permission.ORG_READ,),
    ("POST", "/api/v1/orgs/{org_id}/members"): (Permission.MEMBERS_MANAGE,),
    ("DELETE", "/api/v1/orgs/{org_id}/members/{user_id}"): (Permission.MEMBERS_MANAGE,),
    ("PATCH", "/api/v1/orgs/{org_id}/members/{user_id}"): (Permission.MEMBERS_MANAGE,),
    ("GET", "/api/v1/orgs/{org_id}/oauth-clients"): (Permission.INTEGRATIONS_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/oauth-clients"): (Permission.INTEGRATIONS_MANAGE,),
    ("GET", "/api/v1/orgs/{org_id}/pathway-awards"): (Permission.CREDENTIALS_READ,),
    ("POST", "/api/v1/orgs/{org_id}/pathway-awards/{award_id}/resolve"): (
        Permission.CREDENTIALS_REVOKE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/pathways"): (Permission.ORG_READ,),
    ("POST", "/api/v1/orgs/{org_id}/pathways"): (Permission.ACHIEVEMENTS_WRITE,),
    ("GET", "/api/v1/orgs/{org_id}/pathways/{pathway_id}"): (Permission.ORG_READ,),
    ("PATCH", "/api/v1/orgs/{org_id}/pathways/{pathway_id}"): (Permission.ACHIEVEMENTS_WRITE,),
    ("POST", "/api/v1/orgs/{org_id}/pathways/{pathway_id}/archive"): (
        Permission.ACHIEVEMENTS_WRITE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/pathways/{pathway_id}/award"): (Permission.CREDENTIALS_ISSUE,),
    ("GET", "/api/v1/orgs/{org_id}/pathways/{pathway_id}/funnel"): (Permission.ANALYTICS_READ,),
    ("GET", "/api/v1/orgs/{org_id}/pathways/{pathway_id}/learners/{learner_id}"): (
        Permission.CREDENTIALS_READ,
    ),
    ("POST", "/api/v1/orgs/{org_id}/pathways/{pathway_id}/publish"): (
        Permission.ACHIEVEMENTS_WRITE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/profile"): (Permission.ORG_READ,),
    ("PUT", "/api/v1/orgs/{org_id}/profile"): (Permission.PROFILE_WRITE,),
    ("GET", "/api/v1/orgs/{org_id}/roles"): (Permission.ORG_READ,),
    ("POST", "/api/v1/orgs/{org_id}/roles"): (Permission.ROLES_WRITE,),
    ("DELETE", "/api/v1/orgs/{org_id}/roles/{role_id}"): (Permission.ROLES_WRITE,),
    ("GET", "/api/v1/orgs/{org_id}/roles/{role_id}"): (Permission.ORG_READ,),
    ("PATCH", "/api/v1/orgs/{org_id}/roles/{role_id}"): (Permission.ROLES_WRITE,),
    ("GET", "/api/v1/orgs/{org_id}/roles/{role_id}/candidates/{candidate_id}"): (
        Permission.CANDIDATES_READ,
    ),
    ("POST", "/api/v1/orgs/{org_id}/roles/{role_id}/ranking"): (Permission.CANDIDATES_READ,),
    ("GET", "/api/v1/orgs/{org_id}/saved-searches"): (Permission.CANDIDATES_READ,),
    ("POST", "/api/v1/orgs/{org_id}/saved-searches"): (Permission.CANDIDATES_READ,),
    ("DELETE", "/api/v1/orgs/{org_id}/saved-searches/{search_id}"): (Permission.CANDIDATES_READ,),
    ("POST", "/api/v1/orgs/{org_id}/saved-searches/{search_id}/run"): (Permission.CANDIDATES_READ,),
    ("GET", "/api/v1/orgs/{org_id}/skills"): (Permission.ORG_READ,),
    ("POST", "/api/v1/orgs/{org_id}/skills"): (Permission.ACHIEVEMENTS_WRITE,),
    ("DELETE", "/api/v1/orgs/{org_id}/skills/{skill_id}"): (Permission.ACHIEVEMENTS_WRITE,),
    ("GET", "/api/v1/orgs/{org_id}/skills/{skill_id}"): (Permission.ORG_READ,),
    ("PATCH", "/api/v1/orgs/{org_id}/skills/{skill_id}"): (Permission.ACHIEVEMENTS_WRITE,),
    ("PUT", "/api/v1/orgs/{org_id}/skills/{skill_id}/mappings"): (Permission.ACHIEVEMENTS_WRITE,),
    ("GET", "/api/v1/orgs/{org_id}/trust-registries"): (Permission.ORG_READ,),
    ("POST", "/api/v1/orgs/{org_id}/trust-registries"): (
        Permission.ENDORSEMENTS_MANAGE,
        Permission.ORG_READ,
    ),
    ("DELETE", "/api/v1/orgs/{org_id}/trust-registries/{registry_id}"): (
        Permission.ENDORSEMENTS_MANAGE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/trust-registries/{registry_id}/refresh"): (
        Permission.ENDORSEMENTS_MANAGE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/verify"): (Permission.ORG_READ,),
    ("GET", "/api/v1/orgs/{org_id}/webhooks"): (Permission.INTEGRATIONS_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/webhooks"): (Permission.INTEGRATIONS_MANAGE,),
    ("GET", "/api/v1/orgs/{org_id}/webhooks/deliveries"): (Permission.INTEGRATIONS_MANAGE,),
    ("GET", "/api/v1/orgs/{org_id}/webhooks/deliveries/{webhook_delivery_id}"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/webhooks/deliveries/{webhook_delivery_id}/redeliver"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("PATCH", "/api/v1/orgs/{org_id}/webhooks/{subscription_id}"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("POST", "/api/v1/orgs/{org_id}/webhooks/{subscription_id}/rotate-secret"): (
        Permission.INTEGRATIONS_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/workforce/achievements-in-demand"): (Permission.ANALYTICS_READ,),
    ("GET", "/api/v1/orgs/{org_id}/workforce/coverage"): (Permission.WORKFORCE_READ,),
    ("GET", "/api/v1/orgs/{org_id}/workforce/demand"): (Permission.ANALYTICS_READ,),
    ("GET", "/api/v1/orgs/{org_id}/workforce/demand.csv"): (Permission.ANALYTICS_READ,),
    ("GET", "/api/v1/orgs/{org_id}/workforce/employees"): (Permission.WORKFORCE_READ,),
    ("DELETE", "/api/v1/orgs/{org_id}/workforce/employees/{employee_id}"): (
        Permission.WORKFORCE_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/workforce/employees/{employee_id}"): (
        Permission.WORKFORCE_READ,
    ),
    ("PATCH", "/api/v1/orgs/{org_id}/workforce/employees/{employee_id}"): (
        Permission.WORKFORCE_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/workforce/gaps"): (Permission.WORKFORCE_READ,),
    ("GET", "/api/v1/orgs/{org_id}/workforce/inventory"): (Permission.WORKFORCE_READ,),
    ("GET", "/api/v1/orgs/{org_id}/workforce/inventory.csv"): (Permission.WORKFORCE_READ,),
    ("GET", "/api/v1/orgs/{org_id}/workforce/invitations"): (Permission.WORKFORCE_READ,),
    ("POST", "/api/v1/orgs/{org_id}/workforce/invitations"): (Permission.WORKFORCE_MANAGE,),
    ("POST", "/api/v1/orgs/{org_id}/workforce/invitations/{invitation_id}/revoke"): (
        Permission.WORKFORCE_MANAGE,
    ),
    ("GET", "/api/v1/orgs/{org_id}/workforce/sponsorships"): (Permission.WORKFORCE_READ,),
    ("POST", "/api/v1/orgs/{org_id}/workforce/sponsorships"): (Permission.WORKFORCE_MANAGE,),
    ("GET", "/api/v1/orgs/{org_id}/workforce/sponsorships/{sponsorship_id}"): (
        Permission.WORKFORCE_READ,
    ),
}

#: routes whose denial the matrix cannot see yet: the service finds the resource first (the
#: application row is locked as the transaction's first statement) and the setup has no
#: submitted application, so every caller gets 404 there
NOT_EXERCISED: Final = frozenset(
    {("POST", "/api/v1/orgs/{org_id}/applications/{application_id}/assignments")}
)

_ENDINGS: Final = ("/archive", "/revoke", "/rotate", "/retire")


def _app(tmp_path: Path) -> tuple[Platform, FastAPI]:
    url = f"sqlite:///{tmp_path / 'merito.db'}"
    platform = platform_for(url, tmp_path)
    app = create_app(settings=settings_for(url, tmp_path), platform=platform)
    return platform, app


def _sorted(routes: list[Route]) -> list[Route]:
    # reads first, then changes, then ends (archive, revoke, rotate), then deletions
    def rank(route: Route) -> tuple[int, str]:
        method, path = route
        if method == "DELETE":
            return 3, path
        if any(word in path for word in _ENDINGS):
            return 2, path
        return (0 if method == "GET" else 1), path

    return sorted(routes, key=rank)


def test_every_route_has_its_permissions(tmp_path: Path) -> None:
    _, app = _app(tmp_path)
    routes = set(org_routes(app))
    assert routes - EXPECTED.keys() == set(), "give these routes their permissions in EXPECTED"
    assert EXPECTED.keys() - routes == set(), "these routes are gone: drop them from EXPECTED"


def test_every_role_and_scoped_key_on_every_route(tmp_path: Path) -> None:
    platform, app = _app(tmp_path)
    client = ApiClient(app)
    tenant = build_tenant(platform, client)
    schemas = Schemas(app.openapi())
    every = {p.value for p in Permission}
    keys: dict[frozenset[Permission], tuple[str, str]] = {}
    problems: list[str] = []
    outcomes: Counter[str] = Counter()
    for route in _sorted(list(EXPECTED)):
        needed = frozenset(EXPECTED[route])
        if needed not in keys:
            exact = tenant.key(sorted(p.value for p in needed), f"only {len(keys)}")
            # every scope but the route's first one
            missing = sorted(needed, key=lambda p: p.value)[0]
            short = tenant.key(sorted(every - {missing.value}), f"short {len(keys)}")
            keys[needed] = (exact, short)
        exact, short = keys[needed]
        actors: list[tuple[str, dict[str, str], bool]] = [
            (role, tenant.members[role], needed <= ROLE_PERMISSIONS[role]) for role in ROLES
        ]
        actors += [
            ("key with the route's scopes", {"Authorization": exact}, True),
            ("key short of one scope", {"Authorization": short}, False),
        ]
        # the denied first: an allowed call may change or remove the resource
        for label, headers, allowed in sorted(actors, key=lambda a: a[2]):
            response = tenant.call(route, schemas, headers)
            status = response.status_code
            where = f"{label}: {route[0]} {route[1]} -> {status}"
            if allowed:
                outcomes["allowed"] += 1
                outcomes["allowed 2xx"] += status < 300
                if status in (401, 403):
                    problems.append(f"{where} (expected allowed) {response.text[:120]}")
            else:
                outcomes["denied"] += 1
                if route in NOT_EXERCISED and status == 404:
                    continue
                if status != 403:
                    problems.append(f"{where} (expected 403) {response.text[:120]}")
                elif not response.headers["content-type"].startswith("application/problem+json"):
                    problems.append(f"{where} without problem JSON")
    assert not problems, f"{len(problems)} wrong answers:\n" + "\n".join(problems)
    assert outcomes["denied"] > 300, outcomes
    assert outcomes["allowed"] > 500, outcomes
    # not vacuous: most allowed calls did what they asked
    assert outcomes["allowed 2xx"] > 0.6 * outcomes["allowed"], outcomes
