"""Hiring pages through the composed app: an employer posts a role (skills picker, occupation
and job-text prefill), ranks candidates with their explanations, opens a gap analysis, saves
and runs searches; a learner sees their verified skills, chooses who may find them, sees the
explanation the employer saw and their learning path; the ESCO attribution page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from web_support import PASSWORD, Browser, demo_site

from merito.services import accounts, credentials, demo, hiring
from merito.services.platform import Actor, Platform
from merito.storage.tables_skills import OccupationRow

PYTHON = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"
SQL = "http://data.europa.eu/esco/skill/598de5b0-5b58-4ea7-8058-a4bc4d18c742"

Site = tuple[Any, demo.DemoSeed, Platform]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Site]:
    with demo_site(tmp_path_factory.mktemp("employer"), sqlite_template) as built:
        yield built


@pytest.fixture
def owner(site: Site) -> Browser:
    app, seed, _ = site
    browser = Browser(app)
    browser.log_in(seed.owner_email)
    return browser


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def _roles(seed: demo.DemoSeed, suffix: str = "") -> str:
    return f"/studio/{seed.org_slug}/roles{suffix}"


def _owner(seed: demo.DemoSeed) -> Actor:
    return Actor(kind="user", id=seed.owner_user_id, user_id=seed.owner_user_id)


def _demo_role(site: Site) -> hiring.RoleView:
    _, seed, platform = site
    roles = hiring.list_roles(platform, _owner(seed), org_id=seed.org_id)
    return next(r for r in roles if r.title == hiring.DEMO_ROLE_TITLE)


def _skill(url: str, name: str) -> str:
    return json.dumps({"url": url, "name": name, "code": url, "framework": "ESCO v1.1.1"})


def test_post_a_role_with_the_picker_then_edit_it(owner: Browser, site: Site) -> None:
    _, seed, platform = site
    listing = owner.get(_roles(seed))
    assert listing.status_code == 200
    assert hiring.DEMO_ROLE_TITLE in listing.text
    assert 'aria-current="page">Roles and candidates' in listing.text
    token = _token(owner.get(_roles(seed, "/new")).text)
    # no title, a bad weight: both said beside their field, what was ticked kept
    response = owner.post(
        _roles(seed, "/new"),
        data={
            "csrf_token": token,
            "title": " ",
            "req-0-skill": PYTHON,
            "req-0-label": "Python (computer programming)",
            "req-0-weight": "0",
            "req-0-min_level": "50",
            "alignment": [_skill(SQL, "SQL")],
        },
    )
    assert response.status_code == 422
    assert 'id="title-error"' in response.text
    assert 'id="req-0-weight-error"' in response.text
    assert 'name="req-1-skill" value="' + SQL + '"' in response.text  # the ticked skill, a row
    # a forged form changes nothing
    forged = owner.post(_roles(seed, "/new"), data={"title": "Forged", "csrf_token": "x"})
    assert forged.status_code == 403
    response = owner.post(
        _roles(seed, "/new"),
        data={
            "csrf_token": token,
            "action": "save",
            "title": "Data engineer",
            "description": "Builds pipelines.",
            "req-0-skill": PYTHON,
            "req-0-label": "Python (computer programming)",
            "req-0-weight": "2,5",
            "req-0-min_level": "50",
            "req-0-required": "required",
            "alignment": [_skill(SQL, "SQL")],
        },
    )
    assert response.status_code == 303, response.text
    role_id = response.headers["location"].split("/roles/")[1].split("?")[0]
    role = hiring.get_role(platform, _owner(seed), org_id=seed.org_id, role_id=role_id)
    assert [(r.skill, r.required, r.weight, r.min_level) for r in role.requirements] == [
        (PYTHON, True, 2.5, 0.5),
        (SQL, True, 1.0, 0.0),
    ]
    page = owner.get(response.headers["location"])
    assert "The role is saved." in page.text
    # make SQL optional, remove Python, close the role
    response = owner.post(
        _roles(seed, f"/{role_id}"),
        data={
            "csrf_token": token,
            "title": "Data engineer",
            "status": "closed",
            "req-0-skill": PYTHON,
            "req-0-remove": "1",
            "req-0-weight": "2.5",
            "req-0-min_level": "50",
            "req-1-skill": SQL,
            "req-1-required": "optional",
            "req-1-weight": "1",
            "req-1-min_level": "25",
        },
    )
    assert response.status_code == 303, response.text
    role = hiring.get_role(platform, _owner(seed), org_id=seed.org_id, role_id=role_id)
    assert role.status == "closed"
    assert [(r.skill, r.required, r.min_level) for r in role.requirements] == [(SQL, False, 0.25)]
    # prefilled from an occupation: its essential skills, required
    with platform.reading() as session:
        occupation = session.scalars(
            select(OccupationRow.uri).where(OccupationRow.preferred_label == "data analyst")
        ).one()
    response = owner.post(
        _roles(seed, f"/{role_id}"),
        data={
            "csrf_token": token,
            "title": "Data engineer",
            "action": "prefill_occupation",
            "occupation": occupation,
        },
    )
    assert response.status_code == 303, response.text
    assert "notice=prefilled" in response.headers["location"]
    role = hiring.get_role(platform, _owner(seed), org_id=seed.org_id, role_id=role_id)
    assert role.occupation == occupation
    assert sum(r.required for r in role.requirements) >= 3
    # an occupation the taxonomy does not have: a form error, not a crash
    response = owner.post(
        _roles(seed, f"/{role_id}"),
        data={
            "csrf_token": token,
            "title": "Data engineer",
            "action": "prefill_occupation",
            "occupation": "http://data.europa.eu/esco/occupation/no-such-occupation",
        },
    )
    assert response.status_code == 422
    assert 'id="occupation-error"' in response.text
    # nothing chosen: said on the page
    response = owner.post(
        _roles(seed, f"/{role_id}"),
        data={"csrf_token": token, "title": "Data engineer", "action": "prefill_occupation"},
    )
    assert response.status_code == 422
    assert 'id="occupation-error"' in response.text
    # deleted
    response = owner.post(_roles(seed, f"/{role_id}/delete"), data={"csrf_token": token})
    assert response.status_code == 303
    assert "The role is deleted." in owner.get(response.headers["location"]).text


def test_job_text_prefill_and_the_skill_search(owner: Browser, site: Site) -> None:
    _, seed, platform = site
    token = _token(owner.get(_roles(seed, "/new")).text)
    text = "Data analyst\n\nRequirements:\n- SQL\n- Python\n\nNice to have:\n- data visualisation"
    response = owner.post(
        _roles(seed, "/new"),
        data={"csrf_token": token, "title": "Analyst", "action": "prefill_text", "job_text": text},
    )
    assert response.status_code == 303, response.text
    assert "notice=prefilled" in response.headers["location"]
    role_id = response.headers["location"].split("/roles/")[1].split("?")[0]
    role = hiring.get_role(platform, _owner(seed), org_id=seed.org_id, role_id=role_id)
    assert SQL in {r.skill for r in role.requirements if r.required}
    edit = owner.get(response.headers["location"])
    assert "The skills are filled in" in edit.text
    # the picker (htmx fragment): ranked skills to tick, those already required left out
    fragment = owner.get(_roles(seed, f"/skills?skill_q=sql&req-0-skill={SQL}"))
    assert fragment.status_code == 200
    assert 'id="skill-results"' in fragment.text
    assert 'form="role-form"' in fragment.text
    assert f"&#34;url&#34;: &#34;{SQL}&#34;" not in fragment.text
    # without JavaScript: the Search button shows the same results in the form
    response = owner.post(
        _roles(seed, f"/{role_id}"),
        data={"csrf_token": token, "title": "Analyst", "action": "search_skills", "skill_q": "k8s"},
    )
    assert response.status_code == 200
    assert 'name="alignment"' in response.text


def test_rank_candidates_explain_and_save_the_search(owner: Browser, site: Site) -> None:
    _, seed, platform = site
    role = _demo_role(site)
    page = owner.get(_roles(seed, f"/{role.id}/candidates"))
    token = _token(page.text)
    bad = owner.post(
        _roles(seed, f"/{role.id}/candidates"),
        data={"csrf_token": token, "limit": "0", "min_score": "120"},
    )
    assert bad.status_code == 422
    assert 'id="limit-error"' in bad.text
    assert 'id="min_score-error"' in bad.text
    response = owner.post(
        _roles(seed, f"/{role.id}/candidates"),
        data={"csrf_token": token, "limit": "10", "min_score": "0"},
    )
    assert response.status_code == 200
    html = response.text
    ranking = hiring.rank_candidates(platform, _owner(seed), org_id=seed.org_id, role_id=role.id)
    assert f"of {ranking.pool} discoverable learners" in html
    emails = re.findall(r'<h3 class="h3">\d+\. ([^<]+)</h3>', html)
    assert emails == [c.email for c in ranking.results]
    assert "Why this score" in html
    assert "Data Analysis with Python" in html  # the credential proving a skill
    assert "Example Academy" in html  # its issuer
    first = ranking.results[0]
    detail = owner.get(_roles(seed, f"/{role.id}/candidates/{first.user_id}"))
    assert detail.status_code == 200
    assert "What is missing" in detail.text
    assert f"Score {round(first.score * 100)}%" in detail.text
    # someone who is not discoverable is not found
    assert owner.get(_roles(seed, f"/{role.id}/candidates/{seed.owner_user_id}")).status_code == 404
    # require every required skill: fewer or equal results
    strict = owner.post(
        _roles(seed, f"/{role.id}/candidates"),
        data={"csrf_token": token, "limit": "10", "min_score": "0", "require_all": "1"},
    )
    shown = re.findall(r'<h3 class="h3">\d+\. ([^<]+)</h3>', strict.text)
    assert len(shown) <= len(emails)
    # save the search, run it, delete it
    missing_name = owner.post(
        "/studio/" + seed.org_slug + "/searches",
        data={"csrf_token": token, "role_id": role.id, "limit": "5", "min_score": "10"},
    )
    assert missing_name.status_code == 422
    assert 'id="name-error"' in missing_name.text
    response = owner.post(
        "/studio/" + seed.org_slug + "/searches",
        data={
            "csrf_token": token,
            "role_id": role.id,
            "name": "Strong analysts",
            "limit": "5",
            "min_score": "10",
            "require_all": "1",
        },
    )
    assert response.status_code == 303
    listing = owner.get(response.headers["location"])
    assert "Strong analysts" in listing.text
    assert "top 5, score at least 10%" in listing.text
    search = hiring.list_saved_searches(platform, _owner(seed), org_id=seed.org_id)[0]
    assert (search.limit, search.min_score, search.require_all) == (5, 0.1, True)
    ran = owner.post(
        f"/studio/{seed.org_slug}/searches/{search.id}/run", data={"csrf_token": token}
    )
    assert ran.status_code == 200
    assert "Saved search “Strong analysts”" in ran.text
    gone = owner.post(
        f"/studio/{seed.org_slug}/searches/{search.id}/delete", data={"csrf_token": token}
    )
    assert gone.status_code == 303
    assert hiring.list_saved_searches(platform, _owner(seed), org_id=seed.org_id) == []


def test_a_viewer_may_not_post_or_rank(site: Site) -> None:
    app, seed, platform = site
    accounts.register(platform, email="viewer@example.org", password=PASSWORD, ip=None)
    accounts.add_member(
        platform, _owner(seed), org_id=seed.org_id, email="viewer@example.org", role="viewer"
    )
    viewer = Browser(app)
    viewer.log_in("viewer@example.org")
    token = _token(viewer.get(_roles(seed, "/new")).text)
    response = viewer.post(
        _roles(seed, "/new"), data={"csrf_token": token, "title": "Nope", "action": "save"}
    )
    assert response.status_code == 403
    assert "does not allow this" in response.text
    role = _demo_role(site)
    response = viewer.post(
        _roles(seed, f"/{role.id}/candidates"), data={"csrf_token": token, "limit": "5"}
    )
    assert response.status_code == 403


def test_learner_sees_skills_rankings_and_explanation(site: Site) -> None:
    app, seed, platform = site
    role = _demo_role(site)
    hiring.rank_candidates(platform, _owner(seed), org_id=seed.org_id, role_id=role.id)
    learner = Browser(app)
    learner.log_in(seed.learners[1])  # grace: Python analysis and SQL
    wallet = learner.get("/wallet")
    assert 'href="/me/skills"' in wallet.text
    skills = learner.get("/me/skills")
    assert skills.status_code == 200
    assert "Python (computer programming)" in skills.text
    assert "Data Analysis with Python" in skills.text  # the credential proving it
    rankings = learner.get("/me/rankings")
    assert hiring.DEMO_ROLE_TITLE in rankings.text
    detail = learner.get(f"/me/rankings/{role.id}")
    assert detail.status_code == 200
    assert "This is the explanation the employer sees" in detail.text
    assert "SQL Fundamentals" in detail.text
    assert learner.get("/me/rankings/not-a-role").status_code == 404
    assert Browser(app).get("/me/skills").status_code == 303  # signed out: log in first


def test_discoverability_is_the_learners_choice(site: Site) -> None:
    app, seed, platform = site
    role = _demo_role(site)
    hiring.rank_candidates(platform, _owner(seed), org_id=seed.org_id, role_id=role.id)
    learner = Browser(app)
    learner.log_in(seed.learners[0])
    page = learner.get("/me/discoverability")
    assert 'id="public" name="public" value="1" checked' in page.text
    assert "Example Academy" in page.text
    token = _token(page.text)
    assert learner.post("/me/discoverability", data={"public": "1"}).status_code == 403
    # withdrawn: no longer ranked, the ranking records gone
    response = learner.post("/me/discoverability", data={"csrf_token": token})
    assert response.status_code == 303
    assert "Your choice is saved." in learner.get(response.headers["location"]).text
    assert "No employer has ranked you yet." in learner.get("/me/rankings").text
    ranking = hiring.rank_candidates(platform, _owner(seed), org_id=seed.org_id, role_id=role.id)
    assert seed.learners[0] not in {c.email for c in ranking.results}
    # only Example Academy: ranked again
    response = learner.post("/me/discoverability", data={"csrf_token": token, "org": seed.org_id})
    assert response.status_code == 303
    again = learner.get("/me/discoverability")
    assert 'name="org" value="' + seed.org_id + '" checked' in again.text
    assert 'id="public" name="public" value="1" checked' not in again.text
    ranking = hiring.rank_candidates(platform, _owner(seed), org_id=seed.org_id, role_id=role.id)
    assert seed.learners[0] in {c.email for c in ranking.results}
    bad = learner.post("/me/discoverability", data={"csrf_token": token, "org": "no-such-org"})
    assert bad.status_code == 422


def test_learning_path_updates_when_a_credential_arrives(site: Site) -> None:
    app, seed, platform = site
    role = _demo_role(site)
    hiring.rank_candidates(platform, _owner(seed), org_id=seed.org_id, role_id=role.id)
    learner = Browser(app)
    learner.log_in(seed.learners[2])  # alan: analysis and WCAG, no SQL
    page = learner.get(f"/me/learning-path?role={role.id}&cost=hours")
    assert page.status_code == 200, page.text
    assert "Your path to Junior data analyst" in page.text
    assert "SQL Fundamentals" in page.text
    assert re.search(r'data-testid="path-total">12 h<', page.text)
    # alan earns SQL: the path is worked out again on the next visit
    sql = next(a for a in seed.achievements if a.name == "SQL Fundamentals")
    credentials.issue_credential(
        platform,
        _owner(seed),
        org_id=seed.org_id,
        achievement_id=sql.id,
        recipient=seed.learners[2],
        notify=False,
    )
    page = learner.get(f"/me/learning-path?role={role.id}&cost=hours")
    assert "SQL Fundamentals" not in page.text.split("Your path to")[1]
    # bad input: form errors, never a crash
    assert learner.get("/me/learning-path?role=nope").status_code == 422
    assert learner.get("/me/learning-path?role=" + role.id + "&currency=EURO").status_code == 422
    missing = learner.get("/me/learning-path?occupation=http://example.org/no-such-occupation")
    assert missing.status_code == 422
    assert "not in the skills taxonomy" in missing.text


def test_attribution_page_is_linked_from_every_page(site: Site) -> None:
    app, _, _ = site
    browser = Browser(app)
    landing = browser.get("/")
    assert 'href="/attribution"' in landing.text
    page = browser.get("/attribution")
    assert page.status_code == 200
    assert "© European Union" in page.text
    assert "https://creativecommons.org/licenses/by/4.0/" in page.text
    assert "2011/833/EU" in page.text
    french = browser.get("/attribution?lang=fr")
    assert "Données des compétences" in french.text
