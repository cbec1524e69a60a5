"""The studio's Integrations page and the LTI launch page through the composed app (SQLite).

An owner creates an inbound endpoint (its secret shown once), an xAPI client, an award rule,
an outgoing webhook and an LTI platform; a simulated LMS then logs in (``/lti/login``), launches
a learner (awarded once, even launched twice) and an instructor (awards a named learner), and
a replayed or forged launch is refused with a page, not a crash.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher
from web_support import BASE, PASSWORD, Browser

from lti_simulator import SimulatedPlatform
from merito.asgi import create_app
from merito.config import Settings
from merito.domain import integrations as rules_
from merito.domain.ports import SystemClock
from merito.net.mailer import MemoryMailer
from merito.services import accounts, catalog, integrations, lti
from merito.services.platform import Actor, Platform
from merito.storage import KeyStore, create_engine_for, session_factory


@dataclass(frozen=True)
class Site:
    """An organisation with an owner and one published badge (lighter than the demo seed)."""

    org_id: str
    org_slug: str
    owner_email: str
    owner_user_id: str
    badge_id: str
    badge_name: str


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[Any, Site, Platform]]:
    folder = tmp_path_factory.mktemp("integrations")
    database = folder / "merito.db"
    shutil.copyfile(sqlite_template, database)
    engine = create_engine_for(f"sqlite:///{database}")
    sessions = session_factory(engine)
    clock = SystemClock()
    platform = Platform(
        sessions=sessions,
        keystore=KeyStore(sessions, b"\x45" * 32, clock=clock),
        clock=clock,
        mailer=MemoryMailer(clock=clock),
        base_url=BASE,
        status_list_size=1024,
        extras={"password_hasher": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)},
    )
    user = accounts.register(platform, email="owner@lms-school.example", password=PASSWORD, ip=None)
    owner = Actor(kind="user", id=user.id, user_id=user.id)
    org = accounts.create_organisation(platform, owner, slug="lms-school", name="LMS School")
    made = catalog.create_achievement(
        platform,
        owner,
        org_id=org.id,
        fields={
            "name": "Week 1 badge",
            "description": "Week 1.",
            "criteria": {"narrative": "Done."},
        },
    )
    catalog.publish_achievement(platform, owner, org_id=org.id, achievement_id=made.id)
    built = Site(
        org_id=org.id,
        org_slug=org.slug,
        owner_email="owner@lms-school.example",
        owner_user_id=user.id,
        badge_id=made.id,
        badge_name="Week 1 badge",
    )
    try:
        yield create_app(settings=Settings(base_url=BASE), platform=platform), built, platform
    finally:
        engine.dispose()


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_the_integrations_page_creates_and_lists_everything(
    site: tuple[Any, Site, Platform],
) -> None:
    app, seed, _ = site
    owner = Browser(app)
    owner.log_in(seed.owner_email)
    url = f"/studio/{seed.org_slug}/integrations"
    page = owner.get(url)
    assert page.status_code == 200
    assert 'aria-current="page">Integrations' in page.text
    token = _token(page.text)

    made = owner.post(url, data={"csrf_token": token, "action": "endpoint", "name": "Moodle"})
    assert made.status_code == 200
    assert re.search(r'value="whsec_[A-Za-z0-9+/=]+"', made.text)
    endpoint = re.search(
        r'name="id" value="([^"]+)"><input type="hidden" name="action" value="disable-endpoint"',
        made.text,
    )
    assert endpoint is not None
    disabled = owner.post(
        url, data={"csrf_token": token, "action": "disable-endpoint", "id": endpoint.group(1)}
    )
    assert disabled.status_code == 303
    assert 'value="enable-endpoint"' in owner.get(url).text
    client = owner.post(url, data={"csrf_token": token, "action": "xapi-client", "name": "LRS"})
    assert "xapi_" in client.text
    rule = owner.post(
        url,
        data={
            "csrf_token": token,
            "action": "rule",
            "source": "xapi",
            "trigger": "passed",
            "activity_id": "https://lms.example/quiz",
            "min_score": "0.7",
            "achievement_id": seed.badge_id,
        },
    )
    assert rule.status_code == 303
    hook = owner.post(
        url,
        data={
            "csrf_token": token,
            "action": "subscription",
            "url": "https://hooks.example.org/merito",
            "events": ["credential.issued"],
        },
    )
    assert hook.status_code == 200
    assert "whsec_" in hook.text
    bad = owner.post(url, data={"csrf_token": token, "action": "subscription", "url": "ftp://nope"})
    assert bad.status_code == 422
    assert "http(s) URL" in bad.text
    forged = owner.post(url, data={"csrf_token": "x", "action": "endpoint", "name": "x"})
    assert forged.status_code == 403

    listed = owner.get(url).text
    subscription = re.search(
        r'name="id" value="([^"]+)"><input type="hidden" name="action" value="rotate-subscription"',
        listed,
    )
    assert subscription is not None
    edited = owner.post(
        url,
        data={
            "csrf_token": token,
            "action": "edit-subscription",
            "id": subscription.group(1),
            "url": "https://hooks.example.org/merito",
            "events": ["credential.issued", "credential.revoked"],
        },
    )
    assert edited.status_code == 303
    rotated = owner.post(
        url,
        data={"csrf_token": token, "action": "rotate-subscription", "id": subscription.group(1)},
    )
    assert "whsec_" in rotated.text
    listed = owner.get(url).text
    assert "Moodle" in listed
    assert rules_.XAPI_VERBS["passed"] in listed
    assert "https://hooks.example.org/merito" in listed
    assert "credential.issued, credential.revoked" in listed


def test_an_lms_launches_a_learner_and_an_instructor(
    site: tuple[Any, Site, Platform],
) -> None:
    app, seed, platform = site
    owner = Actor(kind="user", id=seed.owner_user_id, user_id=seed.owner_user_id)
    sim = SimulatedPlatform()
    registered = lti.register_platform(
        platform,
        owner,
        org_id=seed.org_id,
        fields=lti.PlatformFields(
            name="Canvas",
            issuer=sim.issuer,
            client_id=sim.client_id,
            deployment_ids=["dep-1"],
            auth_login_url="https://lms.example/auth",
            jwks={"keys": [sim.jwk]},
        ),
    )
    integrations.create_rule(
        platform,
        owner,
        org_id=seed.org_id,
        fields=integrations.RuleFields(
            source="lti",
            source_id=registered.id,
            trigger="lti.launch",
            activity_id="course-9",
            achievement_id=seed.badge_id,
        ),
    )
    lms = Browser(app)

    def login() -> tuple[str, str]:
        answer = lms.get(
            "/lti/login",
            params={
                "iss": sim.issuer,
                "login_hint": "u",
                "target_link_uri": "https://merito.test/",
            },
        )
        assert answer.status_code == 302
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        return query["state"][0], query["nonce"][0]

    clock = SystemClock()
    state, nonce = login()
    learner = lms.post("/lti/launch", data={"id_token": sim.id_token(clock, nonce), "state": state})
    assert learner.status_code == 200
    assert seed.badge_name in learner.text
    assert "Awarded to you" in learner.text
    replay = lms.post("/lti/launch", data={"id_token": sim.id_token(clock, nonce), "state": state})
    assert replay.status_code == 401
    assert "launch again from the course" in replay.text

    state, nonce = login()
    teacher_token = sim.id_token(
        clock,
        nonce,
        sub="teacher",
        **{
            rules_.LTI_CLAIM + "roles": [
                "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
            ],
            rules_.LTI_CLAIM + "custom": {},
        },
    )
    teacher = lms.post("/lti/launch", data={"id_token": teacher_token, "state": state})
    assert teacher.status_code == 200
    match = re.search(r'name="token" value="([^"]+)"', teacher.text)
    assert match is not None
    awarded = lms.post(
        "/lti/award",
        data={
            "token": match.group(1),
            "achievement_id": seed.badge_id,
            "email": "pupil@example.org",
        },
    )
    assert awarded.status_code == 200
    assert "Badge awarded" in awarded.text
    refused = lms.post(
        "/lti/award",
        data={"token": "forged", "achievement_id": seed.badge_id, "email": "p@example.org"},
    )
    assert refused.status_code == 422
