"""The issuer studio through the composed app: design, publish, issue one, bulk CSV with its
per-row report, list/filter, revoke and suspend, API keys — and what each role may not do."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import Browser, demo_site

from merito.formats import quality
from merito.services import accounts, catalog, credentials, demo
from merito.services.platform import Actor, Platform
from merito.web import studio


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[Any, demo.DemoSeed, Platform]]:
    with demo_site(tmp_path_factory.mktemp("studio"), sqlite_template) as built:
        yield built


@pytest.fixture
def owner(site: tuple[Any, demo.DemoSeed, Platform]) -> Browser:
    app, seed, _ = site
    browser = Browser(app)
    assert browser.log_in(seed.owner_email).status_code == 303
    return browser


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def _owner_actor(seed: demo.DemoSeed) -> Actor:
    return Actor(kind="user", id=seed.owner_user_id, user_id=seed.owner_user_id)


def _studio(seed: demo.DemoSeed, suffix: str = "") -> str:
    return f"/studio/{seed.org_slug}{suffix}"


def test_the_studio_needs_a_member(site: tuple[Any, demo.DemoSeed, Platform]) -> None:
    app, seed, platform = site
    anonymous = Browser(app)
    response = anonymous.get(_studio(seed), headers={"accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={_studio(seed)}"
    # a signed-in stranger sees no trace of the organisation
    accounts.register(
        platform, email="stranger@example.org", password="a long passphrase!", ip=None
    )
    stranger = Browser(app)
    stranger.log_in("stranger@example.org", "a long passphrase!")
    response = stranger.get(_studio(seed, "/credentials"))
    assert response.status_code == 404
    assert seed.learners[0] not in response.text


def test_dashboard_counts_what_was_issued(owner: Browser, seed_counts: dict[str, int]) -> None:
    page = owner.get("/studio")  # the owner's only organisation
    assert page.status_code == 303
    response = owner.get(page.headers["location"])
    assert response.status_code == 200
    figures = [int(v) for v in re.findall(r'class="stat-value">(\d+)<', response.text)]
    assert figures[:3] == [seed_counts["total"], seed_counts["active"], seed_counts["revoked"]]


@pytest.fixture
def seed_counts(site: tuple[Any, demo.DemoSeed, Platform]) -> dict[str, int]:
    _, seed, platform = site
    actor = _owner_actor(seed)
    counts = {
        state: credentials.list_credentials(
            platform, actor, org_id=seed.org_id, state=state, limit=1
        ).total
        for state in credentials.CREDENTIAL_STATES
    }
    return {"total": sum(counts.values()), **counts}


def test_design_publish_and_issue_an_achievement(
    owner: Browser, site: tuple[Any, demo.DemoSeed, Platform]
) -> None:
    _, seed, platform = site
    form_page = owner.get(_studio(seed, "/achievements/new"))
    token = _token(form_page.text)
    # missing fields come back as errors beside them, with what was typed kept
    response = owner.post(
        _studio(seed, "/achievements/new"),
        data={"csrf_token": token, "name": "Data storytelling", "description": "", "criteria": ""},
    )
    assert response.status_code == 422
    assert 'value="Data storytelling"' in response.text
    assert 'id="description-error"' in response.text
    assert 'id="criteria-error"' in response.text
    skill = (
        '{"url": "http://data.europa.eu/esco/skill/test-visualise", "name": "visualise data", '
        '"code": "http://data.europa.eu/esco/skill/test-visualise", "framework": "ESCO v1.1.1", '
        '"type": "ext:ESCOSkill"}'
    )
    response = owner.post(
        _studio(seed, "/achievements/new"),
        data={
            "csrf_token": token,
            "name": "Data storytelling",
            "description": "Tells a story with charts.",
            "criteria": "Publish a dashboard reviewed by an assessor.",
            "achievement_type": "Badge",
            "hours": "12,5",
            "tags": "data, charts",
            "evidence": "Link to the dashboard\nA short write-up",
            "alignment": [skill],
        },
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    achievement_id = location.split("/achievements/")[1].split("?")[0]
    edit = owner.get(location)
    assert "The draft is saved" in edit.text
    assert "visualise data" in edit.text
    assert 'value="12.5"' in edit.text
    view = catalog.get_achievement(
        platform, _owner_actor(seed), org_id=seed.org_id, achievement_id=achievement_id
    )
    assert view.draft is not None
    assert view.draft["alignment"][0]["targetUrl"].endswith("test-visualise")
    assert view.draft_metadata is not None
    assert [r["name"] for r in view.draft_metadata["evidenceRequirements"]] == [
        "Link to the dashboard",
        "A short write-up",
    ]
    # not published yet: it cannot be issued
    issue_page = owner.get(_studio(seed, f"/issue?achievement_id={achievement_id}"))
    assert f'value="{achievement_id}"' not in issue_page.text
    response = owner.post(
        _studio(seed, f"/achievements/{achievement_id}/publish"), data={"csrf_token": token}
    )
    assert response.status_code == 303
    assert "Published" in owner.get(response.headers["location"]).text
    # issue one: a bad recipient is a form error, a good one a signed credential
    response = owner.post(
        _studio(seed, "/issue"),
        data={"csrf_token": token, "achievement_id": achievement_id, "recipient": "not an email"},
    )
    assert response.status_code == 422
    assert 'id="recipient-error"' in response.text
    response = owner.post(
        _studio(seed, "/issue"),
        data={
            "csrf_token": token,
            "achievement_id": achievement_id,
            "recipient": "Grace@Example.org",
            "valid_until": "2031-01-31",
            "evidence_url": "https://example.org/dashboard",
        },
    )
    assert response.status_code == 303, response.text
    detail = owner.get(response.headers["location"])
    assert "Issued and signed" in detail.text
    assert "grace@example.org" in detail.text
    listed = owner.get(_studio(seed, "/credentials?recipient=grace@example.org"))
    assert "1 credential" in listed.text


def test_design_states_quality_facts_the_verify_page_shows(
    owner: Browser, site: tuple[Any, demo.DemoSeed, Platform]
) -> None:
    _, seed, platform = site
    assert set(studio.ASSESSMENT_CHOICES) == set(quality.ASSESSMENT_METHODS)
    token = _token(owner.get(_studio(seed, "/achievements/new")).text)
    skill = (
        '{"url": "http://data.europa.eu/esco/skill/test-sql", "name": "query databases", '
        '"code": "http://data.europa.eu/esco/skill/test-sql", "framework": "ESCO v1.1.1", '
        '"type": "ext:ESCOSkill"}'
    )
    typed = {
        "csrf_token": token,
        "name": "Relational modelling",
        "description": "Designs normalised schemas.",
        "criteria": "A reviewed schema for a real case.",
        "achievement_type": "Course",
        "hours": "40",
        "alignment": [skill],
        "assessment": "portfolio",
        "eqf_level": "9",
        "credits": "-2",
        "field_of_study": "Computer science",
        "specialization": "Data engineering",
    }
    # bad values are errors beside their fields; everything typed is kept
    response = owner.post(_studio(seed, "/achievements/new"), data=typed)
    assert response.status_code == 422
    assert 'id="eqf_level-error"' in response.text
    assert 'id="credits-error"' in response.text
    assert '<option value="9" selected>' in response.text
    assert 'value="-2"' in response.text
    assert '<option value="portfolio" selected>' in response.text
    assert 'value="Computer science"' in response.text
    assert 'value="Data engineering"' in response.text
    assert "query databases" in response.text
    response = owner.post(
        _studio(seed, "/achievements/new"), data=typed | {"eqf_level": "4", "credits": "7,5"}
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    achievement_id = location.split("/achievements/")[1].split("?")[0]
    # editing shows the saved values; the quality alignments are not listed as skills
    edit = owner.get(location).text
    assert '<option value="4" selected>' in edit
    assert '<option value="portfolio" selected>' in edit
    assert 'value="7.5"' in edit
    assert edit.count('name="alignment"') == 1
    # saving again (the skill untouched) keeps one of each alignment
    response = owner.post(
        location.split("?")[0],
        data=typed | {"eqf_level": "4", "credits": "7.5", "specialization": ""},
    )
    assert response.status_code == 303, response.text
    response = owner.post(
        _studio(seed, f"/achievements/{achievement_id}/publish"), data={"csrf_token": token}
    )
    assert response.status_code == 303
    view = catalog.get_achievement(
        platform, _owner_actor(seed), org_id=seed.org_id, achievement_id=achievement_id
    )
    document = view.published
    assert document is not None
    assert document["creditsAvailable"] == 7.5
    assert document["fieldOfStudy"] == "Computer science"
    assert "specialization" not in document  # cleared on the second save
    assert sorted(a.get("targetType") for a in document["alignment"]) == [
        "ext:AssessmentMethod",
        "ext:EQFLevel",
        "ext:ESCOSkill",
    ]
    facts = quality.quality_of(document, hours=40)
    assert (facts.eqf_level, facts.assessment, facts.credits) == (4, "portfolio", 7.5)
    assert facts.field_of_study == "Computer science"
    assert facts.frameworks == ("ESCO v1.1.1",)
    # issued, its public page states them in plain words
    response = owner.post(
        _studio(seed, "/issue"),
        data={
            "csrf_token": token,
            "achievement_id": achievement_id,
            "recipient": "ada@example.org",
        },
    )
    assert response.status_code == 303, response.text
    credential_id = response.headers["location"].rsplit("/", 1)[1].split("?")[0]
    public = owner.get(f"/c/{credential_id}").text
    assert "EQF level 4 of 8" in public
    assert "a portfolio of work" in public
    assert "Computer science" in public


def test_revoke_needs_a_reason_and_is_final(
    owner: Browser, site: tuple[Any, demo.DemoSeed, Platform]
) -> None:
    _, seed, platform = site
    target = next(c for c in seed.credentials if c.id != seed.revoked.id)
    path = _studio(seed, f"/credentials/{target.id}")
    token = _token(owner.get(path).text)
    response = owner.post(path + "/revoke", data={"csrf_token": token, "reason": " "})
    assert response.status_code == 422
    assert 'id="reason-error"' in response.text
    assert owner.post(path + "/revoke", data={"reason": "no token"}).status_code == 403
    response = owner.post(path + "/revoke", data={"csrf_token": token, "reason": "Cheating"})
    assert response.status_code == 303
    page = owner.get(response.headers["location"])
    assert "Revoked: verifiers now see it as revoked." in page.text
    assert "Cheating" in page.text
    record = credentials.get_credential(
        platform, _owner_actor(seed), org_id=seed.org_id, credential_id=target.id
    )
    assert record.state == "revoked"
    again = owner.post(path + "/revoke", data={"csrf_token": token, "reason": "twice"})
    assert again.status_code == 409  # already revoked: said on the page, nothing changes
    filtered = owner.get(_studio(seed, "/credentials?state=revoked"))
    assert target.recipient in filtered.text


def test_bulk_csv_reports_every_row_and_never_issues_twice(
    owner: Browser, site: tuple[Any, demo.DemoSeed, Platform]
) -> None:
    _, seed, _ = site
    achievement = seed.achievements[0].id
    csv = (
        "recipient,achievement_id\n"
        f"bulk1@example.org,{achievement}\n"
        f"not-an-email,{achievement}\n"
        "bulk2@example.org,no-such-achievement\n"
        f"bulk3@example.org,{achievement}\n"
    ).encode()
    token = _token(owner.get(_studio(seed, "/bulk")).text)

    def run() -> str:
        response = owner.post(
            _studio(seed, "/bulk"),
            data={"csrf_token": token},
            files={"file": ("cohort.csv", csv, "text/csv")},
        )
        assert response.status_code == 303, response.text
        job = response.headers["location"]
        deadline = time.monotonic() + 60
        while True:
            page = owner.get(job, headers={"hx-request": "true"})
            assert page.status_code == 200
            if "Finished" in page.text or time.monotonic() > deadline:
                return page.text
            time.sleep(0.2)

    first = run()
    assert re.search(r'data-testid="bulk-issued">2<', first)
    assert re.search(r'data-testid="bulk-rejected">2<', first)
    # the rejected rows, by line number
    assert "<td>3</td>" in first
    assert "<td>4</td>" in first
    second = run()
    assert re.search(r'data-testid="bulk-issued">0<', second)
    assert re.search(r'data-testid="bulk-duplicates">2<', second)
    # a job is only visible to the member who started it
    other = Browser(owner.app)
    other.log_in(seed.learners[0])
    job_id = re.search(r"/bulk/([\w-]+)", first)
    if job_id is not None:
        assert other.get(_studio(seed, f"/bulk/{job_id.group(1)}")).status_code == 404


def test_bulk_refuses_a_file_that_is_not_text(
    owner: Browser, site: tuple[Any, demo.DemoSeed, Platform]
) -> None:
    _, seed, _ = site
    token = _token(owner.get(_studio(seed, "/bulk")).text)
    response = owner.post(
        _studio(seed, "/bulk"),
        data={"csrf_token": token},
        files={"file": ("cohort.csv", b"\xff\xfe\x00bad", "text/csv")},
    )
    assert response.status_code == 422
    assert "not UTF-8 text" in response.text


def test_api_keys_are_shown_once_and_work_then_revoke(
    owner: Browser, site: tuple[Any, demo.DemoSeed, Platform]
) -> None:
    _, seed, _ = site
    path = _studio(seed, "/api-keys")
    token = _token(owner.get(path).text)
    response = owner.post(path, data={"csrf_token": token, "name": "LMS"})
    assert response.status_code == 422
    assert 'id="scopes-error"' in response.text
    response = owner.post(
        path, data={"csrf_token": token, "name": "LMS", "scope": ["credentials:read"]}
    )
    assert response.status_code == 200
    secret = re.search(r'id="new-key" class="secret" value="(mk_[^"]+)"', response.text)
    assert secret is not None
    api = Browser(owner.app)
    listed = api.get(
        f"/api/v1/orgs/{seed.org_id}/credentials",
        headers={"authorization": f"Bearer {secret.group(1)}"},
    )
    assert listed.status_code == 200
    assert secret.group(1) not in owner.get(path).text  # never shown again
    key_id = re.search(r'/api-keys/([\w-]+)/revoke"', owner.get(path).text)
    assert key_id is not None
    response = owner.post(f"{path}/{key_id.group(1)}/revoke", data={"csrf_token": token})
    assert response.status_code == 303
    refused = api.get(
        f"/api/v1/orgs/{seed.org_id}/credentials",
        headers={"authorization": f"Bearer {secret.group(1)}"},
    )
    assert refused.status_code == 401


def test_a_viewer_sees_but_cannot_change(site: tuple[Any, demo.DemoSeed, Platform]) -> None:
    app, seed, platform = site
    owner_actor = _owner_actor(seed)
    accounts.register(platform, email="viewer@example.org", password="a long passphrase!", ip=None)
    accounts.add_member(
        platform, owner_actor, org_id=seed.org_id, email="viewer@example.org", role="viewer"
    )
    viewer = Browser(app)
    viewer.log_in("viewer@example.org", "a long passphrase!")
    assert viewer.get(_studio(seed, "/achievements")).status_code == 200
    token = _token(viewer.get(_studio(seed, "/achievements/new")).text)
    response = viewer.post(
        _studio(seed, "/achievements/new"),
        data={
            "csrf_token": token,
            "name": "Sneaky",
            "description": "d",
            "criteria": "c",
            "achievement_type": "Badge",
        },
    )
    assert response.status_code == 403
    assert "does not allow this" in response.text
    target = seed.credentials[1]
    response = viewer.post(
        _studio(seed, f"/credentials/{target.id}/revoke"),
        data={"csrf_token": token, "reason": "x"},
    )
    assert response.status_code == 403
