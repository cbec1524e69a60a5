"""The learner's skills side: verified skills, who may find them, the rankings they appeared
in (with the explanation the employer saw), the learning path to a role or an occupation; and
the attribution of the ESCO skills data the product uses.

Each page reads one service of ``merito.services.hiring`` (nothing is cached: a credential
issued or revoked a moment ago counts at once). The learning path is computed on demand from
the query string, so it changes as soon as a new credential arrives.
"""

from __future__ import annotations

from typing import Final, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from merito.errors import InvalidInput, MeritoError, NotFound
from merito.services import hiring
from merito.services import skills as skill_service
from merito.web import session
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import Page, page_for, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

ME: Final = "/me"
ATTRIBUTION_PATH: Final = "/attribution"
_CURRENCY_LENGTH: Final = 3


def _login_first(page: Page, path: str) -> Response:
    return see_other(page, "/login?next=" + quote(path, safe="/"))


@router.get(ME + "/skills")
def my_skills(request: Request) -> Response:
    """Verified skills, strongest first, each linked to the credentials proving it."""
    page = page_for(request)
    actor = page.viewer.actor
    if actor is None:
        return _login_first(page, ME + "/skills")
    skills = hiring.my_profile(session.get_platform(request), actor)
    return render(page, "learner/skills.html", {"skills": skills, "section": "skills"})


# --- discoverability -------------------------------------------------------------------------


def _discoverability_page(
    page: Page, *, error: str | None = None, saved: bool = False, status: int = 200
) -> Response:
    actor = page.viewer.actor
    assert actor is not None  # the routes send a signed-out visitor to log in first
    platform = session.get_platform(page.request)
    values = {
        "current": hiring.get_discoverability(platform, actor),
        "organisations": hiring.hiring_organisations(platform, actor),
        "error": error,
        "saved": saved or page.request.query_params.get("saved") == "1",
        "section": "discoverability",
    }
    return render(page, "learner/discoverability.html", values, status=status)


@router.get(ME + "/discoverability")
def discoverability(request: Request) -> Response:
    page = page_for(request)
    if page.viewer.actor is None:
        return _login_first(page, ME + "/discoverability")
    return _discoverability_page(page)


@router.post(ME + "/discoverability")
async def discoverability_save(request: Request) -> Response:
    """Replaces the learner's consents (publicly, and/or the organisations ticked)."""
    page = page_for(request)
    actor = page.viewer.actor
    if actor is None:
        return _login_first(page, ME + "/discoverability")
    async with request.form(max_fields=520, max_files=0) as form:
        token = str(form.get(session.CSRF_FIELD, ""))
        public = form.get("public") == "1"
        org_ids = [str(v)[:36] for v in form.getlist("org")[:500]]
    if not session.csrf_matches(request, token):
        return _discoverability_page(page, error=csrf_error(page.gettext), status=403)
    try:
        await run_in_threadpool(
            lambda: hiring.set_discoverability(
                session.get_platform(request), actor, public=public, org_ids=org_ids
            )
        )
    except (InvalidInput, NotFound):
        message = page.gettext("One of the organisations no longer exists. Please try again.")
        return _discoverability_page(page, error=message, status=422)
    return see_other(page, ME + "/discoverability?saved=1")


# --- rankings --------------------------------------------------------------------------------


@router.get(ME + "/rankings")
def my_rankings(request: Request) -> Response:
    page = page_for(request)
    actor = page.viewer.actor
    if actor is None:
        return _login_first(page, ME + "/rankings")
    records = hiring.my_rankings(session.get_platform(request), actor)
    return render(page, "learner/rankings.html", {"records": records, "section": "rankings"})


@router.get(ME + "/rankings/{role_id}")
def my_ranking(request: Request, role_id: str) -> Response:
    """The explanation the employer saw for this learner (recomputed now)."""
    page = page_for(request)
    actor = page.viewer.actor
    if actor is None:
        return _login_first(page, f"{ME}/rankings/{role_id[:36]}")
    platform = session.get_platform(request)
    try:
        why = hiring.my_explanation(platform, actor, role_id=role_id[:36])
    except NotFound:
        return render(page, "not_found.html", {}, status=404)
    record = next((r for r in hiring.my_rankings(platform, actor) if r.role_id == role_id), None)
    values = {"explanation": why, "record": record, "section": "rankings"}
    return render(page, "learner/ranking.html", values)


# --- the learning path -----------------------------------------------------------------------


@router.get(ME + "/learning-path")
def learning_path(
    request: Request,
    role: str = "",
    occupation: str = "",
    occupation_q: str = "",
    cost: str = "hours",
    currency: str = "",
) -> Response:
    """Choose a target (a role one was ranked for, or an ESCO occupation found by title) and
    a cost (hours or price); the path is computed from the query string on each visit."""
    page = page_for(request)
    _ = page.gettext
    actor = page.viewer.actor
    if actor is None:
        return _login_first(page, ME + "/learning-path")
    platform = session.get_platform(request)
    role, occupation = role.strip()[:36], occupation.strip()[:500]
    occupation_q = occupation_q.strip()[:200]
    cost_kind: Literal["hours", "price"] = "price" if cost == "price" else "hours"
    currency = currency.strip().upper()[:10]
    errors: dict[str, str] = {}
    occupations: list[skill_service.OccupationMatch] = []
    if occupation_q and not occupation:
        try:
            occupations = skill_service.search_occupations(platform, occupation_q, limit=8)
        except MeritoError as e:
            errors["occupation_q"] = e.message
    if currency and (len(currency) != _CURRENCY_LENGTH or not currency.isalpha()):
        errors["currency"] = _("Enter a three-letter currency code, like EUR.")
    path: hiring.LearningPathView | None = None
    if (role or occupation) and not errors:
        try:
            path = hiring.learning_path(
                platform,
                actor,
                role_id=role or None,
                occupation=None if role else occupation,
                cost=cost_kind,
                currency=currency or None,
            )
        except NotFound as e:
            errors["form"] = (
                _("This occupation is not in the skills taxonomy.")
                if e.property == "occupation"
                else _("You were not ranked for this role.")
            )
        except InvalidInput as e:
            errors["form"] = e.message
    values = {
        "records": hiring.my_rankings(platform, actor),
        "form": {
            "role": role,
            "occupation": occupation,
            "occupation_q": occupation_q,
            "cost": cost_kind,
            "currency": currency,
        },
        "occupations": occupations,
        "learning": path,
        "errors": errors,
        "section": "learning-path",
    }
    return render(page, "learner/learning_path.html", values, status=422 if errors else 200)


# --- the skills data's attribution -----------------------------------------------------------


@router.get(ATTRIBUTION_PATH)
def attribution(request: Request) -> Response:
    """The ESCO licence and attribution (CC BY 4.0 requires it be shown), and the other
    bundled data's sources."""
    values = {
        "attribution": skill_service.ESCO_ATTRIBUTION,
        "licence_url": skill_service.ESCO_LICENCE_URL,
        "framework": skill_service.ESCO_FRAMEWORK,
        "tier": skill_service.normalizer_tier(session.get_platform(request)),
    }
    return render(page_for(request), "learner/attribution.html", values)
