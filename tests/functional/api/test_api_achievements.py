"""The achievements API end to end: draft, edit, publish, archive, list; image upload and the
public image and achievement URLs (headers); a credential issued from a published version that
verifies through the app's own did:web document; problem JSON and tenant isolation."""

from __future__ import annotations

import hashlib
import struct
import uuid
import zlib
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
from merito.net.mailer import MemoryMailer
from merito.proofs.resolution import VerificationMethodResolver
from merito.services.platform import Actor, Platform
from merito.storage.tables import MembershipRow, OrganisationRow, UserRow
from merito.verification import VerifyOptions, verify

BASE = "https://merito.test"
PROBLEM = "application/problem+json"
BODY: dict[str, Any] = {
    "name": "Accessible Web",
    "description": "Builds pages that work with a screen reader.",
    "criteria": {"narrative": "Audited three pages.", "id": "https://academy.example.org/c"},
    "alignment": [
        {
            "targetName": "Web accessibility",
            "targetUrl": "https://www.w3.org/WAI/",
            "targetFramework": "WCAG",
            "targetCode": "2.2",
        }
    ],
    "resultDescription": [{"name": "Audit score", "resultType": "Percent"}],
    "achievementType": "Badge",
    "creditsAvailable": 2,
    "tag": ["a11y"],
    "evidenceRequirements": [{"name": "Audit report", "kind": "file"}],
    "hours": 8,
    "price": {"amount": "0", "currency": "GBP"},
}


@pytest.fixture
def platform(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, master_key="44" * 32, base_url=BASE
    )
    built = bootstrap.platform(settings, mailer_=MemoryMailer())
    yield built
    built.sessions.kw["bind"].dispose()


def seed(platform: Platform, role: str = "owner") -> tuple[str, Actor]:
    org_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(OrganisationRow(id=org_id, slug=org_id[:8], name="Academy", kind="issuer"))
        session.add(UserRow(id=user_id, email=f"{user_id}@example.org", password_hash="!"))
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=user_id, role=role))
    return org_id, Actor(kind="user", id=user_id, user_id=user_id, ip="10.0.0.3")


def client_as(platform: Platform, actor: Actor | None) -> ApiClient:
    app = create_app(settings=Settings(base_url=BASE), platform=platform)
    if actor is not None:
        app.dependency_overrides[current_actor] = lambda: actor
    return ApiClient(app)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def png(width: int = 4, height: int = 4) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    raw = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_the_achievement_lifecycle(platform: Platform) -> None:
    org_id, owner = seed(platform, role="issuer_staff")
    api = client_as(platform, owner)
    public = client_as(platform, None)
    base = f"/api/v1/orgs/{org_id}/achievements"

    created = api.post(base, json=BODY)
    assert created.status_code == 201, created.text
    achievement = created.json()
    aid = achievement["id"]
    assert achievement["status"] == "draft"
    assert achievement["url"] == f"{BASE}/achievements/{aid}"
    assert achievement["draft"]["alignment"][0]["targetCode"] == "2.2"
    assert achievement["draft_metadata"]["price"] == {"amount": "0", "currency": "GBP"}
    assert_problem(public.get(f"/achievements/{aid}"), 404)  # drafts are not public

    edited = api.request("PATCH", f"{base}/{aid}", json={"hours": 10, "tag": None})
    assert edited.status_code == 200, edited.text
    assert edited.json()["draft_metadata"]["hours"] == 10
    assert "tag" not in edited.json()["draft"]

    published = api.post(f"{base}/{aid}/publish")
    assert published.status_code == 200, published.text
    v1 = published.json()
    assert (v1["status"], v1["current_version"], v1["draft"]) == ("published", 1, None)

    doc = public.get(f"/achievements/{aid}")
    assert doc.status_code == 200
    assert doc.headers["content-type"] == "application/ld+json"
    assert doc.json()["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert doc.json()["id"] == v1["url"]
    assert "evidenceRequirements" not in doc.json()

    # the generated badge
    badge_url = v1["published"]["image"]["id"]
    badge = public.get(badge_url.removeprefix(BASE))
    assert badge.status_code == 200
    assert badge.headers["content-type"] == "image/svg+xml"
    assert badge.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in badge.headers["cache-control"]
    assert "sandbox" in badge.headers["content-security-policy"]
    assert "script-src" not in badge.headers["content-security-policy"]
    assert hashlib.sha256(badge.content).hexdigest() == badge_url.rsplit("/", 1)[1]
    not_modified = public.get(
        badge_url.removeprefix(BASE), headers={"If-None-Match": badge.headers["etag"]}
    )
    assert not_modified.status_code == 304

    # a new draft beside the published version, published again explicitly
    api.request("PATCH", f"{base}/{aid}", json={"description": "Version two."})
    assert public.get(f"/achievements/{aid}").json()["description"] == BODY["description"]
    assert api.post(f"{base}/{aid}/publish").json()["current_version"] == 2
    assert public.get(f"/achievements/{aid}").json()["description"] == "Version two."
    old = public.get(f"/achievements/{aid}", params={"version": 1})
    assert old.json()["description"] == BODY["description"]
    assert "immutable" in old.headers["cache-control"]
    assert_problem(public.get(f"/achievements/{aid}", params={"version": 9}), 404)

    listed = api.get(base, params={"status": "published"}).json()
    assert [a["id"] for a in listed] == [aid]
    assert api.get(base, params={"status": "draft"}).json() == []
    assert_problem(api.get(base, params={"status": "gone"}), 422)

    archived = api.post(f"{base}/{aid}/archive")
    assert archived.json()["status"] == "archived"
    assert_problem(api.post(f"{base}/{aid}/archive"), 409)
    assert_problem(api.post(f"{base}/{aid}/publish"), 409)
    assert api.get(f"{base}/{aid}").json()["status"] == "archived"


def test_image_upload_and_serving(platform: Platform) -> None:
    org_id, owner = seed(platform)
    api = client_as(platform, owner)
    base = f"/api/v1/orgs/{org_id}/achievements"
    aid = api.post(base, json=BODY).json()["id"]
    data = png()
    uploaded = api.request(
        "PUT",
        f"{base}/{aid}/image",
        content=data,
        headers={"content-type": "image/png"},
        params={"caption": "The badge"},
    )
    assert uploaded.status_code == 200, uploaded.text
    sha = hashlib.sha256(data).hexdigest()
    assert uploaded.json()["draft"]["image"] == {
        "id": f"{BASE}/images/{sha}",
        "type": "Image",
        "caption": "The badge",
    }
    served = client_as(platform, None).get(f"/images/{sha}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.content == data
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    published = api.post(f"{base}/{aid}/publish").json()
    assert published["published"]["image"]["id"].endswith(sha)
    removed = api.request("DELETE", f"{base}/{aid}/image")
    assert "image" not in removed.json()["draft"]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GIF89a not an accepted format", 422),
        (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", 422),
        (b"", 422),
        (b"\x89PNG\r\n\x1a\n" + bytes(600_000), 413),
    ],
)
def test_bad_uploads_are_problems(platform: Platform, data: bytes, status: int) -> None:
    org_id, owner = seed(platform)
    api = client_as(platform, owner)
    base = f"/api/v1/orgs/{org_id}/achievements"
    aid = api.post(base, json=BODY).json()["id"]
    response = api.request(
        "PUT", f"{base}/{aid}/image", content=data, headers={"content-type": "image/svg+xml"}
    )
    assert_problem(response, status)


def test_unknown_images_are_404(platform: Platform) -> None:
    public = client_as(platform, None)
    assert_problem(public.get(f"/images/{'0' * 64}"), 404)
    assert_problem(public.get("/images/..%2F..%2Fetc%2Fpasswd"), 404)


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        ({"name": ""}, "name"),
        ({"criteria": {}}, "criteria"),
        ({"alignment": [{"targetName": "X", "targetUrl": "nope"}]}, "alignment.0.targetUrl"),
        ({"achievementType": "Trophy"}, "achievementType"),
        ({"price": {"amount": "-1", "currency": "EUR"}}, "price.amount"),
    ],
)
def test_invalid_documents_are_422_naming_the_property(
    platform: Platform, change: dict[str, Any], prop: str
) -> None:
    org_id, owner = seed(platform)
    response = client_as(platform, owner).post(
        f"/api/v1/orgs/{org_id}/achievements", json={**BODY, **change}
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["property"] == prop


def test_unknown_members_and_missing_required_ones_are_422(platform: Platform) -> None:
    org_id, owner = seed(platform)
    api = client_as(platform, owner)
    base = f"/api/v1/orgs/{org_id}/achievements"
    assert_problem(api.post(base, json={**BODY, "colour": "red"}), 422)
    missing = assert_problem(api.post(base, json={"name": "Only a name"}), 422)
    assert missing["errors"][0]["property"] in ("description", "criteria")


def test_viewers_cannot_write(platform: Platform) -> None:
    org_id, viewer = seed(platform, role="viewer")
    api = client_as(platform, viewer)
    assert_problem(api.post(f"/api/v1/orgs/{org_id}/achievements", json=BODY), 403)
    assert api.get(f"/api/v1/orgs/{org_id}/achievements").json() == []


def test_another_orgs_achievements_are_404(platform: Platform) -> None:
    a_id, a_owner = seed(platform)
    b_id, b_owner = seed(platform)
    theirs = client_as(platform, b_owner).post(f"/api/v1/orgs/{b_id}/achievements", json=BODY)
    tid = theirs.json()["id"]
    api = client_as(platform, a_owner)
    for org in (a_id, b_id):
        base = f"/api/v1/orgs/{org}/achievements"
        for response in (
            api.get(f"{base}/{tid}"),
            api.request("PATCH", f"{base}/{tid}", json={"name": "Mine"}),
            api.post(f"{base}/{tid}/publish"),
            api.post(f"{base}/{tid}/archive"),
            api.request("PUT", f"{base}/{tid}/image", content=png()),
            api.request("DELETE", f"{base}/{tid}/image"),
        ):
            assert_problem(response, 404)
    assert_problem(api.get(f"/api/v1/orgs/{b_id}/achievements"), 404)
    assert_problem(api.post(f"/api/v1/orgs/{b_id}/achievements", json=BODY), 404)
    assert api.get(f"/api/v1/orgs/{a_id}/achievements").json() == []
    mine = client_as(platform, b_owner).get(f"/api/v1/orgs/{b_id}/achievements/{tid}").json()
    assert (mine["name"], mine["status"]) == ("Accessible Web", "draft")


class AppFetcher:
    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        if not url.startswith(BASE + "/"):
            raise FetchError(f"refusing {url}")
        response = self.client.get(url.removeprefix(BASE), headers={"Accept": accept})
        return FetchResponse(
            status=response.status_code,
            body=response.content,
            content_type=response.headers.get("content-type", ""),
            headers=dict(response.headers),
            url=url,
        )


def test_a_credential_embeds_the_published_version_and_verifies_over_http(
    platform: Platform,
) -> None:
    org_id, owner = seed(platform)
    api = client_as(platform, owner)
    base = f"/api/v1/orgs/{org_id}/achievements"
    aid = api.post(base, json=BODY).json()["id"]
    v1 = api.post(f"{base}/{aid}/publish").json()["published"]
    api.request("PATCH", f"{base}/{aid}", json={"name": "Draft name, not issued"})
    issued = api.post(
        f"/api/v1/orgs/{org_id}/credentials",
        json={"achievement_id": aid, "recipient": "did:example:learner", "notify": False},
    )
    assert issued.status_code == 201, issued.text
    credential = issued.json()["credential"]
    assert credential["credentialSubject"]["achievement"] == v1
    assert issued.json()["achievement_version"] == 1
    fetcher = AppFetcher(client_as(platform, None))
    options = VerifyOptions(
        clock=platform.clock, fetcher=fetcher, resolver=VerificationMethodResolver(fetcher=fetcher)
    )
    report = verify(credential, options=options)
    assert report.verified, report.summary
