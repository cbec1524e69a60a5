"""Helpers for the per-role access matrix: schema-valid request bodies made from the app's
OpenAPI document, and one organisation with a member per role and a real resource for every
kind of path parameter (test_reliability_roles.py)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from fastapi.routing import iter_route_contexts
from reliability_support import ApiClient

from merito.services import accounts, trust
from merito.services.platform import Actor, Permission, Platform

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ROLES = ("owner", "admin", "issuer_staff", "assessor", "viewer")
PASSWORD = "a long passphrase for the matrix"
#: a small, valid badge image (an SVG without script)
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    b'<rect width="64" height="64" fill="#336699"/></svg>'
)

Route = tuple[str, str]


def org_routes(app: Any) -> list[Route]:
    """Every (method, path template) of the app with ``{org_id}`` in its path."""
    found = set()
    for route in iter_route_contexts(app.routes):
        path = route.path
        if not path or "{org_id}" not in path:
            continue
        for method in set(route.methods or ()) & set(METHODS):
            found.add((method, path))
    return sorted(found, key=lambda r: (r[1], r[0]))


# --- bodies from the OpenAPI document -------------------------------------------------------


class Schemas:
    """Minimal instances of the JSON schemas of one OpenAPI document: required properties
    only, each the smallest value its constraints allow (a property named in ``hints`` takes
    the hinted value)."""

    def __init__(self, openapi: Mapping[str, Any]) -> None:
        self.openapi = openapi

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            name = schema["$ref"].removeprefix("#/components/schemas/")
            schema = self.openapi["components"]["schemas"][name]
        return schema

    def request_schema(self, method: str, path: str) -> Mapping[str, Any] | None:
        operation = self.openapi["paths"][path][method.lower()]
        body = operation.get("requestBody")
        if body is None or "application/json" not in body["content"]:
            return None
        return self.resolve(body["content"]["application/json"]["schema"])

    def instance(self, schema: Mapping[str, Any], hints: Mapping[str, Any]) -> Any:
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                branches = [self.resolve(b) for b in schema[key]]
                workable = [b for b in branches if b.get("type") != "null"] or branches
                return self.instance(workable[0], hints)
        if "allOf" in schema:
            return self.instance(schema["allOf"][0], hints)
        kind = schema.get("type", "object")
        if kind == "object":
            out = {}
            for name in schema.get("required", ()):
                prop = schema.get("properties", {}).get(name, {})
                out[name] = hints[name] if name in hints else self.instance(prop, hints)
            return out
        if "default" in schema:
            return schema["default"]
        if kind == "string":
            return self._string(schema)
        if kind in ("integer", "number"):
            low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
            if "exclusiveMinimum" in schema and "minimum" not in schema:
                low = low + 1 if kind == "integer" else low + 0.5
            value = max(low, 1)
            if "maximum" in schema:
                value = min(value, schema["maximum"])
            return int(value) if kind == "integer" else value
        if kind == "boolean":
            return True
        if kind == "array":
            return [self.instance(schema.get("items", {}), hints)] * schema.get("minItems", 0)
        return None

    @staticmethod
    def _string(schema: Mapping[str, Any]) -> str:
        form = schema.get("format")
        if form == "email":
            return "someone@example.org"
        if form in ("uri", "url"):
            return "https://example.org/x"
        if form == "date-time":
            return "2030-01-01T00:00:00Z"
        if form == "date":
            return "2030-01-01"
        if form == "uuid":
            return str(uuid.uuid4())
        length = max(int(schema.get("minLength", 1)), 1)
        return ("x" * length)[: int(schema.get("maxLength", length))]


# --- the organisation under test ------------------------------------------------------------


@dataclass
class Tenant:
    """Organisation A (one member per role, real resources) and organisation B (the other
    party of endorsements)."""

    platform: Platform
    client: ApiClient
    org_id: str
    other_org_id: str
    #: role -> the member's request headers (session cookie, CSRF token)
    members: dict[str, dict[str, str]] = field(default_factory=dict)
    #: path parameter name -> a real id in A
    ids: dict[str, str] = field(default_factory=dict)
    #: body property name -> a value that makes sense in A; and other named resources
    hints: dict[str, Any] = field(default_factory=dict)
    owner_actor: Actor | None = None

    def url(self, route: Route) -> str:
        overrides = PATH_OVERRIDES.get(route, {})

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "org_id":
                return self.org_id
            if name in overrides:
                return str(self.hints[overrides[name]])
            return self.ids.get(name) or str(uuid.uuid4())

        return re.sub(r"{(\w+)(?::[^}]*)?}", fill, route[1])

    def call(self, route: Route, schemas: Schemas, headers: Mapping[str, str]) -> httpx.Response:
        """``route`` called on A's resources with a schema-valid body."""
        method, path = route
        kwargs: dict[str, Any] = {}
        headers = dict(headers)
        if path.endswith("/credentials/bulk"):
            rows = f"recipient,achievement_id\nbulk@example.org,{self.hints['achievement_id']}\n"
            kwargs["content"] = rows.encode()
            headers["Content-Type"] = "text/csv"
        elif path.endswith("/image") and method == "PUT":
            kwargs["content"] = SVG
            headers["Content-Type"] = "image/svg+xml"
        elif (schema := schemas.request_schema(method, path)) is not None:
            body = schemas.instance(schema, self.hints)
            make = BODY_OVERRIDES.get(route)
            kwargs["json"] = body | make(self.hints) if make is not None else body
        return self.client.request(method, self.url(route), headers=headers, **kwargs)

    def key(self, scopes: list[str], name: str) -> str:
        """A new API key of A carrying exactly ``scopes``; its bearer header value."""
        assert self.owner_actor is not None
        created = accounts.create_api_key(
            self.platform, self.owner_actor, org_id=self.org_id, name=name, scopes=scopes
        )
        return f"Bearer {created.secret}"


def login(client: ApiClient, email: str) -> dict[str, str]:
    """A user's web session: the cookie and the CSRF token every mutating request sends."""
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    if response.status_code != 200:
        raise RuntimeError(f"login of {email} failed: {response.status_code} {response.text}")
    return {
        "Cookie": f"merito_session={response.cookies['merito_session']}",
        "X-CSRF-Token": response.json()["csrf_token"],
    }


def _user(platform: Platform, email: str) -> Actor:
    user = accounts.create_user(platform, Actor.system("matrix"), email=email, password=PASSWORD)
    return Actor(kind="user", id=user.id, user_id=user.id)


def _made(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code not in range(200, 300):
        raise RuntimeError(f"setup: {what} -> {response.status_code} {response.text}")
    body: dict[str, Any] = response.json()
    return body


def build_tenant(platform: Platform, client: ApiClient) -> Tenant:
    """Organisation A with a member per role, B, and a resource of A for each path parameter
    the organisation API takes (made through the API as A's owner, as a customer would)."""
    owner = _user(platform, "owner@a.example.org")
    org = accounts.create_organisation(platform, owner, slug="org-a", name="A")
    owner_b = _user(platform, "owner@b.example.org")
    org_b = accounts.create_organisation(platform, owner_b, slug="org-b", name="B")
    tenant = Tenant(platform, client, org.id, org_b.id, owner_actor=owner)
    ids, hints = tenant.ids, tenant.hints
    for role in ROLES[1:]:
        member = _user(platform, f"{role}@a.example.org")
        accounts.add_member(
            platform, owner, org_id=org.id, email=f"{role}@a.example.org", role=role
        )
        hints[f"{role}_user_id"] = member.id
    for role in ROLES:
        tenant.members[role] = login(client, f"{role}@a.example.org")
    # the member and the key the member/key routes act on (never a test actor's), and
    # newcomer, an account not yet a member (the one POST /members adds)
    spare = _user(platform, "spare@a.example.org")
    accounts.add_member(platform, owner, org_id=org.id, email="spare@a.example.org", role="viewer")
    _user(platform, "newcomer@a.example.org")
    spare_key = accounts.create_api_key(
        platform, owner, org_id=org.id, name="spare", scopes=[Permission.ORG_READ.value]
    )
    ids.update(user_id=spare.id, key_id=spare_key.key.id)
    every = [p.value for p in Permission]
    auth = {"Authorization": tenant.key(every, "setup")}
    secret_b = accounts.create_api_key(
        platform, owner_b, org_id=org_b.id, name="b", scopes=every
    ).secret
    base = f"/api/v1/orgs/{org.id}"

    def post(path: str, body: Mapping[str, Any] | None = None, *, org_id: str = org.id) -> str:
        headers = auth if org_id == org.id else {"Authorization": f"Bearer {secret_b}"}
        response = client.post(f"/api/v1/orgs/{org_id}{path}", json=body or {}, headers=headers)
        made = _made(response, path)
        # a created resource, or a wrapper holding it next to a secret shown once
        nested = [v for v in made.values() if isinstance(v, dict) and "id" in v]
        return str(made["id"] if "id" in made else nested[0]["id"])

    def achievement(name: str, *, publish: bool) -> str:
        fields = {"name": name, "description": "For the matrix.", "criteria": {"narrative": "Ok"}}
        made = post("/achievements", fields)
        if publish:
            post(f"/achievements/{made}/publish")
        return made

    ids["achievement_id"] = achievement("Draft", publish=False)
    hints["archivable_id"] = achievement("To archive", publish=False)
    published = hints["achievement_id"] = achievement("Published", publish=True)
    required = achievement("Pathway step", publish=True)
    hints["pathway_award_id"] = achievement("Pathway award", publish=True)
    hints["second_award_id"] = achievement("Second pathway award", publish=True)
    hints["recipient"] = "learner@example.org"
    # subscribed before the credentials are issued, so their events make deliveries
    ids["subscription_id"] = post("/webhooks", {"url": "https://hooks.example.org/merito"})
    for name, purpose in (
        ("credential_id", "revocation"),
        ("suspendable_id", "suspension"),
        ("reissuable_id", "revocation"),
    ):
        issued = {"achievement_id": published, "recipient": hints["recipient"]}
        hints[name] = post("/credentials", issued | {"status_purpose": purpose, "notify": False})
    ids["credential_id"] = hints["credential_id"]
    ids["skill_id"] = post("/skills", {"preferred_label": "Matrix skill"})
    hints["requirement"] = {
        "kind": "all",
        "children": [{"kind": "achievement", "achievement_id": required}],
    }
    ids["pathway_id"] = post(
        "/pathways",
        {"achievement_id": hints["pathway_award_id"], "requirement": hints["requirement"]},
    )
    ids["role_id"] = hints["role_id"] = post("/roles", {"title": "Matrix role"})
    ids["search_id"] = post("/saved-searches", {"name": "Matrix search", "role_id": ids["role_id"]})
    ids["code_id"] = post("/claim-codes", {"achievement_id": published})
    ids["endpoint_id"] = post("/integrations/webhook-endpoints", {"name": "Matrix endpoint"})
    ids["xapi_client_id"] = post("/integrations/xapi-clients", {"name": "Matrix LRS"})
    ids["lti_platform_id"] = post("/integrations/lti-platforms", LTI_PLATFORM)
    ids["rule_id"] = post(
        "/integrations/rules", {"source": "webhook", "trigger": "done", "achievement_id": published}
    )
    hints["registry_url"] = trust.registry_url(platform)
    ids["registry_id"] = post("/trust-registries", {"url": hints["registry_url"]})
    hints["endorser_org_id"] = hints["subject_org_id"] = org_b.id
    ids["request_id"] = post("/endorsement-requests", {"endorser_org_id": org_b.id})
    ids["incoming_id"] = post("/endorsement-requests", {"endorser_org_id": org.id}, org_id=org_b.id)
    b_fields = {"name": "B's", "description": "Of B.", "criteria": {"narrative": "Ok"}}
    b_achievement = post("/achievements", b_fields, org_id=org_b.id)
    post(f"/achievements/{b_achievement}/publish", org_id=org_b.id)
    hints["declinable_id"] = post(
        "/endorsement-requests",
        {"endorser_org_id": org.id, "achievement_id": b_achievement},
        org_id=org_b.id,
    )
    ids["endorsement_id"] = post("/endorsements", {"subject_org_id": org_b.id, "comment": "Good."})
    ids["invitation_id"] = post("/workforce/invitations", {"email": "employee@example.org"})
    ids["sponsorship_id"] = post(
        "/workforce/sponsorships", {"achievement_id": published, "vouchers": 1}
    )
    for path, name in (
        ("/deliveries", "delivery_id"),
        ("/webhooks/deliveries", "webhook_delivery_id"),
    ):
        listed = client.get(base + path, headers=auth).json()
        items = (
            listed.get("items", listed.get("deliveries", []))
            if isinstance(listed, dict)
            else listed
        )
        if items:
            ids[name] = str(items[0]["id"])
    ids.setdefault("delivery_id", "1")
    return tenant


LTI_PLATFORM: Final = {
    "name": "Matrix LMS",
    "issuer": "https://lms.example.org",
    "client_id": "merito",
    "deployment_ids": ["1"],
    "auth_login_url": "https://lms.example.org/auth",
    "jwks_url": "https://lms.example.org/jwks",
}

_ORG = "/api/v1/orgs/{org_id}"
#: a path parameter of one route that must name another resource than the name-wide default
PATH_OVERRIDES: Final[Mapping[Route, Mapping[str, str]]] = {
    ("POST", _ORG + "/achievements/{achievement_id}/archive"): {"achievement_id": "archivable_id"},
    ("POST", _ORG + "/credentials/{credential_id}/suspend"): {"credential_id": "suspendable_id"},
    ("POST", _ORG + "/credentials/{credential_id}/unsuspend"): {"credential_id": "suspendable_id"},
    ("POST", _ORG + "/credentials/{credential_id}/reissue"): {"credential_id": "reissuable_id"},
    ("POST", _ORG + "/endorsement-requests/incoming/{incoming_id}/decline"): {
        "incoming_id": "declinable_id"
    },
}
#: what a route's body needs beyond the schema's minimal instance to get past validation (and
#: mostly to succeed)
BODY_OVERRIDES: Final[Mapping[Route, Any]] = {
    ("POST", _ORG + "/members"): lambda h: {"email": "newcomer@a.example.org", "role": "viewer"},
    ("PATCH", _ORG + "/members/{user_id}"): lambda h: {"role": "assessor"},
    # scopes the creating credential holds itself (a key only has the scope of the route)
    ("POST", _ORG + "/api-keys"): lambda h: {"scopes": [Permission.INTEGRATIONS_MANAGE.value]},
    ("POST", _ORG + "/oauth-clients"): lambda h: {"scopes": [Permission.INTEGRATIONS_MANAGE.value]},
    ("POST", _ORG + "/credentials"): lambda h: {"notify": False},
    ("POST", _ORG + "/keys"): lambda h: {"algorithm": "P-256"},
    ("POST", _ORG + "/pathways"): lambda h: {"achievement_id": h["second_award_id"]},
    ("POST", _ORG + "/roles"): lambda h: {"title": "Another role"},
    ("POST", _ORG + "/integrations/lti-platforms"): lambda h: (
        LTI_PLATFORM | {"issuer": "https://other-lms.example.org"}
    ),
    ("POST", _ORG + "/webhooks"): lambda h: {"url": "https://hooks.example.org/other"},
    ("POST", _ORG + "/trust-registries"): lambda h: {"url": h["registry_url"]},
    ("POST", _ORG + "/workforce/invitations"): lambda h: {"email": "another@example.org"},
}
