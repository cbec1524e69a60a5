"""The credentials API end to end: issue, list, revoke, suspend, re-issue, bulk; the public
credential URL (JSON, JWT, HTML) and the status list endpoint (ETag, 304), and the verifier's
status check over HTTP against this app; problem JSON for outsiders and bad input."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgi_client import ApiClient

from merito import bootstrap
from merito.api.app import create_app
from merito.api.auth import current_actor
from merito.config import Settings
from merito.domain.ports import FetchResponse
from merito.errors import FetchError
from merito.net.mailer import MemoryMailer
from merito.services import issuers
from merito.services.platform import Actor, Platform
from merito.storage.tables import (
    AchievementRow,
    AchievementVersionRow,
    MembershipRow,
    OrganisationRow,
    UserRow,
)
from merito.verification import verify

ACHIEVEMENT: dict[str, Any] = {
    "id": "https://academy.example.org/achievements/web",
    "type": ["Achievement"],
    "name": "Web <Accessibility> & You",
    "description": "Builds pages that work with a screen reader.",
    "criteria": {"narrative": "Audited three pages."},
}
BASE = "http://127.0.0.1:8000"


@pytest.fixture
def platform(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, master_key="22" * 32, base_url=BASE
    )
    built = bootstrap.platform(settings, mailer_=MemoryMailer())
    yield built
    built.sessions.kw["bind"].dispose()


def seed(platform: Platform, role: str = "owner") -> tuple[str, str, Actor]:
    org_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    achievement_id = str(uuid.uuid4())
    with platform.transaction() as session:
        session.add(OrganisationRow(id=org_id, slug=org_id[:8], name="Academy", kind="issuer"))
        session.add(UserRow(id=user_id, email=f"{user_id}@example.org", password_hash="!"))
        session.flush()
        session.add(MembershipRow(org_id=org_id, user_id=user_id, role=role))
        session.add(
            AchievementRow(id=achievement_id, org_id=org_id, status="published", current_version=1)
        )
        session.flush()
        session.add(
            AchievementVersionRow(
                id=str(uuid.uuid4()),
                org_id=org_id,
                achievement_id=achievement_id,
                version=1,
                document=ACHIEVEMENT,
            )
        )
    return org_id, achievement_id, Actor(kind="user", id=user_id, user_id=user_id, ip="10.0.0.1")


def client_as(platform: Platform, actor: Actor | None) -> ApiClient:
    app = create_app(settings=Settings(base_url=BASE), platform=platform)
    if actor is not None:
        app.dependency_overrides[current_actor] = lambda: actor
    return ApiClient(app)


class HttpFetcher:
    """The verifier's fetcher, answered by this app over (in-process) HTTP."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.requests: list[str] = []

    def fetch(self, url: str, *, accept: str = "application/json") -> FetchResponse:
        if not url.startswith(BASE + "/"):
            raise FetchError(f"refusing {url}")
        path = url.removeprefix(BASE)
        self.requests.append(path)
        response = self.client.get(path, headers={"Accept": accept})
        return FetchResponse(
            status=response.status_code,
            body=response.content,
            content_type=response.headers.get("content-type", ""),
            headers=dict(response.headers),
            url=url,
        )


def check(platform: Platform, org_id: str, client: ApiClient, credential: Any) -> Any:
    options = bootstrap.verify_options(
        Settings(),
        documents=issuers.did_documents(platform),
        fetcher=HttpFetcher(client),
        clock=platform.clock,
    )
    return verify(credential, options=options)


def test_issue_list_revoke_and_the_status_list_over_http(platform: Platform) -> None:
    org_id, achievement_id, owner = seed(platform)
    api = client_as(platform, owner)
    base = f"/api/v1/orgs/{org_id}/credentials"
    created = api.post(
        base,
        json={"achievement_id": achievement_id, "recipient": "ada@example.org"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "active"
    assert body["url"] == f"{BASE}/credentials/{body['id']}"
    again = api.post(
        base,
        json={"achievement_id": achievement_id, "recipient": "ada@example.org"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]

    listed = api.get(base, params={"state": "active"}).json()
    assert listed["total"] == 1
    assert api.get(f"{base}/{body['id']}").json()["credential"] == body["credential"]

    report = check(platform, org_id, api, body["credential"])
    assert report.verified, report.summary

    status_path = body["status_list_credential"].removeprefix(BASE)
    first = api.get(status_path)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/vc+ld+json")
    etag = first.headers["etag"]
    assert "max-age=300" in first.headers["cache-control"]
    assert "must-revalidate" in first.headers["cache-control"]
    assert api.get(status_path, headers={"If-None-Match": etag}).status_code == 304
    assert api.get(status_path, headers={"If-None-Match": '"0", *'}).status_code == 304

    revoked = api.post(f"{base}/{body['id']}/revoke", json={"reason": "withdrawn"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["state"] == "revoked"
    after = api.get(status_path, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag
    report = check(platform, org_id, api, body["credential"])
    assert not report.verified
    status = next(c for c in report.checks if c.id == "status")
    assert "revoked" in status.message
    again_revoked = api.post(f"{base}/{body['id']}/revoke", json={"reason": "twice"})
    assert again_revoked.status_code == 409
    assert again_revoked.headers["content-type"] == "application/problem+json"


def test_suspend_unsuspend_and_reissue(platform: Platform) -> None:
    org_id, achievement_id, owner = seed(platform)
    api = client_as(platform, owner)
    base = f"/api/v1/orgs/{org_id}/credentials"
    body = api.post(
        base,
        json={
            "achievement_id": achievement_id,
            "recipient": "did:example:nurse",
            "proof_format": "vc-jwt",
            "status_purpose": "suspension",
        },
    ).json()
    assert isinstance(body["credential"], str)
    assert check(platform, org_id, api, body["credential"]).verified
    assert api.post(f"{base}/{body['id']}/suspend", json={}).json()["state"] == "suspended"
    assert not check(platform, org_id, api, body["credential"]).verified
    assert (
        api.post(f"{base}/{body['id']}/unsuspend", json={"reason": "ok"}).json()["state"]
        == "active"
    )
    assert check(platform, org_id, api, body["credential"]).verified
    renewed = api.post(f"{base}/{body['id']}/reissue", json={})
    assert renewed.status_code == 201, renewed.text
    new = renewed.json()
    old = api.get(f"{base}/{body['id']}").json()
    assert old["replaced_by_id"] == new["id"]
    assert old["revocation_reason"] == "superseded"
    assert check(platform, org_id, api, new["credential"]).verified


def test_public_credential_url_negotiates_json_jwt_and_html(platform: Platform) -> None:
    org_id, achievement_id, owner = seed(platform)
    api = client_as(platform, owner)
    base = f"/api/v1/orgs/{org_id}/credentials"
    ld = api.post(base, json={"achievement_id": achievement_id, "recipient": "ada@example.org"})
    jwt = api.post(
        base,
        json={
            "achievement_id": achievement_id,
            "recipient": "bob@example.org",
            "proof_format": "vc-jwt",
        },
    )
    public = client_as(platform, None)
    path = f"/credentials/{ld.json()['id']}"
    as_json = public.get(path, headers={"Accept": "application/ld+json"})
    assert as_json.status_code == 200
    assert as_json.headers["content-type"].startswith("application/ld+json")
    assert as_json.json() == ld.json()["credential"]
    assert public.get(path).json() == ld.json()["credential"]  # no Accept: JSON
    page = public.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.headers["content-type"].startswith("text/html")
    assert "Web &lt;Accessibility&gt; &amp; You" in page.text
    assert "<Accessibility>" not in page.text
    assert "ada@example.org" not in page.text
    assert page.headers["x-robots-tag"] == "noindex"
    token = public.get(f"/credentials/{jwt.json()['id']}", headers={"Accept": "*/*"})
    assert token.headers["content-type"].startswith("application/vc+jwt")
    assert token.text == jwt.json()["credential"]
    missing = public.get(f"/credentials/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert public.get("/status/" + "x" * 40).status_code == 422
    assert public.get(f"/status/{uuid.uuid4()}").status_code == 404


def test_bulk_upload_reports_rows(platform: Platform) -> None:
    org_id, achievement_id, owner = seed(platform)
    api = client_as(platform, owner)
    url = f"/api/v1/orgs/{org_id}/credentials/bulk"
    csv_body = (
        "recipient,achievement_id\n"
        f"ada@example.org,{achievement_id}\n"
        f"nope,{achievement_id}\n"
        f"bob@example.org,{uuid.uuid4()}\n"
    )
    report = api.post(url, content=csv_body, headers={"Content-Type": "text/csv"})
    assert report.status_code == 200, report.text
    data = report.json()
    assert data["issued"] == 1
    assert [r["row"] for r in data["rejected"]] == [3, 4]
    rerun = api.post(url, content=csv_body, headers={"Content-Type": "text/csv"}).json()
    assert rerun["issued"] == 0
    assert rerun["duplicates"] == 1
    jsonl = '{"recipient": "carol@example.org"}\n'
    lines = api.post(
        url,
        content=jsonl,
        params={"achievement_id": achievement_id},
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert lines.json()["issued"] == 1
    wrong = api.post(url, content="x", headers={"Content-Type": "application/pdf"})
    assert wrong.status_code == 415
    header = api.post(url, content="email\nx@y.org\n", headers={"Content-Type": "text/csv"})
    assert header.status_code == 422
    binary = api.post(url, content=b"\xff\xfe\x00", headers={"Content-Type": "text/csv"})
    assert binary.status_code == 422


def test_outsiders_and_bad_requests_get_problems(platform: Platform) -> None:
    org_id, achievement_id, owner = seed(platform)
    _, _, stranger = seed(platform)
    viewer_org, viewer_achievement, viewer = seed(platform, role="viewer")
    api = client_as(platform, owner)
    base = f"/api/v1/orgs/{org_id}/credentials"
    made = api.post(base, json={"achievement_id": achievement_id, "recipient": "a@example.org"})
    cid = made.json()["id"]
    outsider = client_as(platform, stranger)
    for method, path, payload in [
        ("GET", base, None),
        ("GET", f"{base}/{cid}", None),
        ("POST", f"{base}/{cid}/revoke", {"reason": "x"}),
        ("POST", base, {"achievement_id": achievement_id, "recipient": "a@example.org"}),
    ]:
        response = outsider.request(method, path, json=payload)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    anonymous = client_as(platform, None)
    assert anonymous.get(base).status_code == 401
    bad = api.post(base, json={"achievement_id": achievement_id, "recipient": "not an email"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["property"] == "recipient"
    extra = api.post(base, json={"achievement_id": achievement_id, "recipient": "a@b.org", "x": 1})
    assert extra.status_code == 422
    assert api.get(base, params={"state": "lost"}).status_code == 422
    assert api.get(base, params={"limit": 0}).status_code == 422
    assert api.post(f"{base}/{uuid.uuid4()}/revoke", json={"reason": "x"}).status_code == 404
    denied = client_as(platform, viewer).post(
        f"/api/v1/orgs/{viewer_org}/credentials",
        json={"achievement_id": viewer_achievement, "recipient": "a@example.org"},
    )
    assert denied.status_code == 403
