"""The integrations API on SQLite and PostgreSQL: management under /api/v1 with an API key,
and the protocol endpoints a learning platform calls (signed inbound webhook, xAPI with HTTP
Basic and the version header, LTI login redirect), each error a problem with its status."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from accounts_support import World, accounts_world

from merito.domain import integrations as rules_
from merito.services import catalog
from merito.services.platform import Actor


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    with accounts_world(database_url, tmp_path) as w:
        yield w


def test_integrations_over_http(world: World) -> None:
    user_id = world.register("owner@academy.example")
    session = world.login("owner@academy.example")
    org_id = world.create_org(session, "academy")
    owner = Actor(kind="user", id=user_id, user_id=user_id)
    made = catalog.create_achievement(
        world.platform,
        owner,
        org_id=org_id,
        fields={"name": "Quiz", "description": "Quiz.", "criteria": {"narrative": "Pass."}},
    )
    catalog.publish_achievement(world.platform, owner, org_id=org_id, achievement_id=made.id)
    key = world.api_key(session, org_id, ["integrations:manage"])
    base = f"/api/v1/orgs/{org_id}/integrations"

    endpoint = world.call("POST", f"{base}/webhook-endpoints", auth=key, json={"name": "LMS"})
    assert endpoint.status_code == 201, endpoint.text
    secret, endpoint_id = endpoint.json()["secret"], endpoint.json()["endpoint"]["id"]
    assert (
        endpoint.json()["endpoint"]["url"] == f"https://merito.test/webhooks/inbound/{endpoint_id}"
    )
    for rule in (
        {"source": "webhook", "trigger": "course.completed", "achievement_id": made.id},
        {
            "source": "xapi",
            "trigger": "passed",
            "activity_id": "https://lms.example/quiz",
            "min_score": 0.5,
            "achievement_id": made.id,
        },
    ):
        assert world.call("POST", f"{base}/rules", auth=key, json=rule).status_code == 201
    bad_rule = world.call("POST", f"{base}/rules", auth=key, json={"source": "lti"})
    assert bad_rule.status_code == 422

    body = json.dumps({"type": "course.completed", "data": {"email": "a@example.org"}}).encode()
    stamp = int(world.clock.now().timestamp())
    headers = {
        "webhook-id": "msg-1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": rules_.sign_webhook(
            rules_.decode_secret(secret), msg_id="msg-1", timestamp=stamp, body=body
        ),
        "Content-Type": "application/json",
    }
    url = f"/webhooks/inbound/{endpoint_id}"
    first = world.call("POST", url, content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "awarded"
    second = world.call("POST", url, content=body, headers=headers)
    assert second.json()["created"] is False
    assert second.json()["credential_ids"] == first.json()["credential_ids"]
    forged = world.call("POST", url, content=body + b" ", headers=headers)
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"

    client = world.call("POST", f"{base}/xapi-clients", auth=key, json={"name": "LRS"}).json()
    basic = base64.b64encode(f"{client['client']['key']}:{client['secret']}".encode()).decode()
    xapi = {"Authorization": f"Basic {basic}", "X-Experience-API-Version": "1.0.3"}
    statement = {
        "id": str(uuid.uuid4()),
        "actor": {"mbox": "mailto:b@example.org"},
        "verb": {"id": rules_.XAPI_VERBS["passed"]},
        "object": {"id": "https://lms.example/quiz"},
        "result": {"score": {"raw": 8, "min": 0, "max": 10}, "success": True},
    }
    stored = world.call("POST", "/xapi/statements", json=[statement], headers=xapi)
    assert stored.status_code == 200, stored.text
    assert stored.json() == [statement["id"]]
    assert stored.headers["x-experience-api-version"] == "1.0.3"
    again = world.call("POST", "/xapi/statements", json=statement, headers=xapi)
    assert again.status_code == 200
    changed = world.call("POST", "/xapi/statements", json={**statement, "result": {}}, headers=xapi)
    assert changed.status_code == 409
    no_version = world.call(
        "POST", "/xapi/statements", json=statement, headers={"Authorization": xapi["Authorization"]}
    )
    assert no_version.status_code == 400
    assert "X-Experience-API-Version" in no_version.json()["detail"]
    anonymous = world.call(
        "POST", "/xapi/statements", json=statement, headers={"X-Experience-API-Version": "1.0.3"}
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    invalid = world.call("POST", "/xapi/statements", json={"verb": {}}, headers=xapi)
    assert invalid.status_code == 400
    got = world.call(
        "GET", "/xapi/statements", params={"statementId": statement["id"]}, headers=xapi
    )
    assert got.status_code == 200
    assert got.json()["object"]["id"] == "https://lms.example/quiz"
    listed = world.call("GET", f"{base}/xapi-statements", auth=key).json()
    assert [s["status"] for s in listed] == ["awarded"]

    registered = world.call(
        "POST",
        f"{base}/lti-platforms",
        auth=key,
        json={
            "name": "Moodle",
            "issuer": "https://moodle.example",
            "client_id": "tool-1",
            "deployment_ids": ["1"],
            "auth_login_url": "https://moodle.example/auth",
            "jwks_url": "https://moodle.example/jwks",
        },
    )
    assert registered.status_code == 201, registered.text
    login = world.call(
        "GET",
        "/lti/login",
        params={
            "iss": "https://moodle.example",
            "login_hint": "7",
            "target_link_uri": "https://merito.test/",
        },
    )
    assert login.status_code == 302
    assert parse_qs(urlsplit(login.headers["location"]).query)["nonce"]
    unknown = world.call(
        "GET",
        "/lti/login",
        params={"iss": "https://x.example", "login_hint": "7", "target_link_uri": "x"},
    )
    assert unknown.status_code == 404

    hook = world.call(
        "POST",
        f"/api/v1/orgs/{org_id}/webhooks",
        auth=key,
        json={"url": "https://hooks.example.org/in", "events": ["pathway.awarded"]},
    )
    assert hook.status_code == 201
    assert hook.json()["secret"].startswith("whsec_")
    deliveries = world.call("GET", f"/api/v1/orgs/{org_id}/webhooks/deliveries", auth=key)
    assert deliveries.status_code == 200
    assert deliveries.json() == []
    staff_key = world.api_key(session, org_id, ["credentials:issue"])
    refused = world.call("GET", f"{base}/rules", auth=staff_key)
    assert refused.status_code == 403
