"""The issuers API end to end: profiles (org API and public), the did:web document over HTTP
(cache headers, 304, retired keys kept), keys (list, create, rotate), and tenant isolation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_client import ApiClient

from merito import bootstrap
from merito.api.app import create_app
from merito.api.auth import current_actor
from merito.config import Settings
from merito.domain.ports import FetchResponse
from merito.errors import FetchError
from merito.formats.did_web import did_web_to_url
from merito.net.mailer import MemoryMailer
from merito.proofs.resolution import VerificationMethodResolver
from merito.services import issuers, issuing
from merito.services.platform import Actor, Platform
from merito.storage.tables import MembershipRow, OrganisationRow, UserRow
from merito.verification import VerifyOptions, verify

BASE = "https://merito.test"
PROBLEM = "application/problem+json"
ACHIEVEMENT: dict[str, Any] = {
    "id": f"{BASE}/achievements/x",
    "type": ["Achievement"],
    "name": "Key rotation",
    "description": "Survives one.",
    "criteria": {"narrative": "Signed before the rotation."},
}


@pytest.fixture
def platform(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, master_key="33" * 32, base_url=BASE
    )
    built = bootstrap.platform(settings, mailer_=MemoryMailer())
    yield built
    built.sessions.kw["bind"].dispose()


def seed(platform: Platform, role: str = "owner", slug: str | None = None) -> tuple[str, Actor]:
    org_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(
            OrganisationRow(id=org_id, slug=slug or org_id[:8], name="Academy", kind="issuer")
        )
        session.add(UserRow(id=user_id, email=f"{user_id}@example.org", password_hash="!"))
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=user_id, role=role))
    return org_id, Actor(kind="user", id=user_id, user_id=user_id, ip="10.0.0.2")


def client_as(platform: Platform, actor: Actor | None) -> ApiClient:
    app = create_app(settings=Settings(base_url=BASE), platform=platform)
    if actor is not None:
        app.dependency_overrides[current_actor] = lambda: actor
    return ApiClient(app)


def put(client: ApiClient, url: str, **kwargs: Any) -> httpx.Response:
    return client.request("PUT", url, **kwargs)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


class AppFetcher:
    """did:web resolution answered by this app (in-process HTTP)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.paths: list[str] = []

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        if not url.startswith(BASE + "/"):
            raise FetchError(f"refusing {url}")
        path = url.removeprefix(BASE)
        self.paths.append(path)
        response = self.client.get(path, headers={"Accept": accept})
        return FetchResponse(
            status=response.status_code,
            body=response.content,
            content_type=response.headers.get("content-type", ""),
            headers=dict(response.headers),
            url=url,
        )


def test_profile_put_get_and_public(platform: Platform) -> None:
    org_id, owner = seed(platform, slug="acme")
    api = client_as(platform, owner)
    written = put(
        api,
        f"/api/v1/orgs/{org_id}/profile",
        json={
            "name": "Acme Academy",
            "url": "https://acme.example.org",
            "email": "badges@acme.example.org",
            "description": "We teach.",
            "image": "https://acme.example.org/logo.png",
        },
    )
    assert written.status_code == 200, written.text
    profile = written.json()
    assert profile["id"] == "did:web:merito.test:orgs:acme"
    assert profile["type"] == ["Profile"]
    assert profile["image"] == {"id": "https://acme.example.org/logo.png", "type": "Image"}
    assert api.get(f"/api/v1/orgs/{org_id}/profile").json() == profile

    public = client_as(platform, None).get("/orgs/acme/profile")
    assert public.status_code == 200
    assert public.headers["content-type"] == "application/ld+json"
    assert public.json() == profile
    etag = public.headers["etag"]
    again = client_as(platform, None).get("/orgs/acme/profile", headers={"If-None-Match": etag})
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("body", "prop"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"image": "data:image/png;base64,AAAA"}, "image"),
    ],
)
def test_bad_profiles_are_422_naming_the_property(
    platform: Platform, body: dict[str, Any], prop: str
) -> None:
    org_id, owner = seed(platform)
    response = put(client_as(platform, owner), f"/api/v1/orgs/{org_id}/profile", json=body)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["property"] == prop


def test_unknown_profile_members_are_refused(platform: Platform) -> None:
    org_id, owner = seed(platform)
    response = put(client_as(platform, owner), f"/api/v1/orgs/{org_id}/profile", json={"id": "x"})
    assert_problem(response, 422)


def test_did_document_over_http_keeps_old_credentials_verifying(platform: Platform) -> None:
    org_id, owner = seed(platform, slug="acme")
    api = client_as(platform, owner)
    public = client_as(platform, None)
    assert public.get("/orgs/acme/did.json").json()["verificationMethod"] == []

    old_signer = issuers.signer_for(platform, org_id)
    with platform.reading() as session:
        org = session.get(OrganisationRow, org_id)
        assert org is not None
        profile = issuers.profile_document(session, platform, org)
    old = issuing.issue_credential(
        achievement=issuing.parse_achievement(ACHIEVEMENT),
        recipient="did:example:learner",
        signer=old_signer,
        issued_at=platform.clock.now(),
        issuer=profile,
    ).document

    first = public.get("/orgs/acme/did.json")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/did+json"
    assert "max-age=" in first.headers["cache-control"]
    assert first.headers["access-control-allow-origin"] == "*"
    etag = first.headers["etag"]
    assert public.get("/orgs/acme/did.json", headers={"If-None-Match": etag}).status_code == 304
    assert did_web_to_url(old_signer.controller) == f"{BASE}/orgs/acme/did.json"

    rotated = api.post(f"/api/v1/orgs/{org_id}/keys/rotate", json={"algorithm": "Ed25519"})
    assert rotated.status_code == 200, rotated.text
    new_vm = rotated.json()["verification_method"]
    assert new_vm != old_signer.verification_method

    after = public.get("/orgs/acme/did.json", headers={"If-None-Match": etag})
    assert after.status_code == 200  # the document changed: a new ETag
    document = after.json()
    assert [m["id"] for m in document["verificationMethod"]] == [
        old_signer.verification_method,
        new_vm,
    ]
    assert document["assertionMethod"] == [old_signer.verification_method, new_vm]

    fetcher = AppFetcher(public)
    options = VerifyOptions(
        clock=platform.clock, fetcher=fetcher, resolver=VerificationMethodResolver(fetcher=fetcher)
    )
    report = verify(old, options=options)
    assert report.verified, report.summary
    assert "/orgs/acme/did.json" in fetcher.paths

    keys = api.get(f"/api/v1/orgs/{org_id}/keys").json()
    assert [(k["verification_method"], k["status"]) for k in keys] == [
        (old_signer.verification_method, "retired"),
        (new_vm, "active"),
    ]
    assert all("d" not in k["public_key_jwk"] for k in keys)


def test_unknown_did_document_is_a_404_problem(platform: Platform) -> None:
    assert_problem(client_as(platform, None).get("/orgs/nobody/did.json"), 404)
    assert_problem(client_as(platform, None).get("/orgs/nobody/profile"), 404)


def test_create_jwt_keys_and_conflicts(platform: Platform) -> None:
    org_id, owner = seed(platform, role="admin")
    api = client_as(platform, owner)
    made = api.post(f"/api/v1/orgs/{org_id}/keys", json={"algorithm": "P-256"})
    assert made.status_code == 201, made.text
    assert made.json()["algorithm"] == "ES256"
    assert made.json()["public_key_multibase"].startswith("z")
    problem = assert_problem(
        api.post(f"/api/v1/orgs/{org_id}/keys", json={"algorithm": "ES256"}), 409
    )
    assert problem["errors"][0]["property"] == "algorithm"
    assert_problem(api.post(f"/api/v1/orgs/{org_id}/keys", json={"algorithm": "DSA"}), 422)
    assert_problem(api.post(f"/api/v1/orgs/{org_id}/keys/rotate", json={"algorithm": "RSA"}), 404)
    rsa = api.post(f"/api/v1/orgs/{org_id}/keys", json={"algorithm": "RSA"})
    assert rsa.status_code == 201
    assert rsa.json()["public_key_multibase"] is None
    slug = client_as(platform, owner).get(f"/api/v1/orgs/{org_id}/profile").json()["id"]
    document = client_as(platform, None).get("/orgs/" + slug.rsplit(":", 1)[1] + "/did.json").json()
    types = sorted(m["type"] for m in document["verificationMethod"])
    assert types == ["JsonWebKey", "Multikey"]


def test_key_management_needs_the_role(platform: Platform) -> None:
    org_id, staff = seed(platform, role="issuer_staff")
    api = client_as(platform, staff)
    assert api.get(f"/api/v1/orgs/{org_id}/keys").status_code == 200
    assert_problem(api.post(f"/api/v1/orgs/{org_id}/keys", json={"algorithm": "P-256"}), 403)
    assert_problem(api.post(f"/api/v1/orgs/{org_id}/keys/rotate", json={}), 403)
    assert_problem(put(api, f"/api/v1/orgs/{org_id}/profile", json={"name": "X"}), 403)


def test_without_credentials_the_org_api_is_401(platform: Platform) -> None:
    org_id, _ = seed(platform)
    anonymous = client_as(platform, None)
    assert_problem(anonymous.get(f"/api/v1/orgs/{org_id}/keys"), 401)
    assert_problem(anonymous.get(f"/api/v1/orgs/{org_id}/profile"), 401)


def test_another_orgs_profile_and_keys_are_404(platform: Platform) -> None:
    _, a_owner = seed(platform)
    b_id, b_owner = seed(platform)
    issuers.signer_for(platform, b_id)
    api = client_as(platform, a_owner)
    for response in (
        api.get(f"/api/v1/orgs/{b_id}/profile"),
        put(api, f"/api/v1/orgs/{b_id}/profile", json={"name": "Taken over"}),
        api.get(f"/api/v1/orgs/{b_id}/keys"),
        api.post(f"/api/v1/orgs/{b_id}/keys", json={"algorithm": "P-256"}),
        api.post(f"/api/v1/orgs/{b_id}/keys/rotate", json={}),
    ):
        assert_problem(response, 404)
    b_profile = client_as(platform, b_owner).get(f"/api/v1/orgs/{b_id}/profile").json()
    assert b_profile["name"] == "Academy"
    assert len(platform.keystore.public_keys(b_id)) == 1
