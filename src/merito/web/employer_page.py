"""Employer hiring in the studio: roles, ranked candidates with their explanations, one
candidate's gap analysis, saved searches.

Every page is under ``/studio/{slug}`` (see ``merito.web.studio``) and calls one service of
``merito.services.hiring``: the services decide who may do what (``roles:write`` to post a
role, ``candidates:read`` to rank), a refusal is a message on the page.

The role form works without JavaScript: its buttons search the skills taxonomy, search ESCO
occupations, prefill from an occupation or pasted job text, or save; whatever was typed or
ticked is kept across them. With htmx the skills search answers as one types (the achievement
form's picker, ``studio/_skill_results.html``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from merito.errors import Conflict, InvalidInput, MeritoError, NotFound, PermissionDenied
from merito.services import hiring
from merito.services import skills as skill_service
from merito.web import session
from merito.web.i18n import Gettext
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import render
from merito.web.studio import (
    STUDIO,
    StudioContext,
    alignment_value,
    refused,
    skill_items,
    studio_context,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

SECTION: Final = "roles"
_MAX_FIELD: Final = 20_000
_MAX_JOB_TEXT: Final = 50_000
_ROW_KEY: Final = re.compile(r"^req-(\d{1,3})-skill$")
#: the minimum levels offered (ESCO has no scale: Merito's four proficiency levels)
LEVELS: Final = (0, 25, 50, 75, 100)


# --- the role form ---------------------------------------------------------------------------


def _level_options(_: Gettext) -> list[tuple[str, str]]:
    names = {
        0: _("Any level"),
        25: _("Foundation (25%)"),
        50: _("Intermediate (50%)"),
        75: _("Advanced (75%)"),
        100: _("Expert (100%)"),
    }
    return [(str(level), names[level]) for level in LEVELS]


def _row(
    skill: str, label: str, *, required: bool = True, weight: float = 1.0, min_level: float = 0.0
) -> dict[str, str]:
    return {
        "skill": skill,
        "label": label,
        "required": "required" if required else "optional",
        "weight": f"{weight:g}",
        "min_level": str(min(LEVELS, key=lambda level: abs(level - min_level * 100))),
    }


def _role_values(role: hiring.RoleView | None) -> dict[str, Any]:
    if role is None:
        return {"title": "", "description": "", "status": "open", "rows": [], "job_text": ""}
    return {
        "title": role.title,
        "description": role.description,
        "status": role.status,
        "job_text": "",
        "rows": [
            _row(
                r.skill,
                r.label,
                required=r.required,
                weight=r.weight,
                min_level=r.min_level,
            )
            for r in role.requirements
        ],
    }


def _picked_skills(form: FormData) -> list[dict[str, str]]:
    """Skills ticked in the picker (each checkbox carries one skill as JSON: url, name)."""
    picked = []
    for raw in form.getlist("alignment")[: hiring.MAX_REQUIREMENTS]:
        try:
            item = json.loads(str(raw)[:4000])
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        url, name = str(item.get("url", "")).strip()[:500], str(item.get("name", "")).strip()
        if url.startswith(("http://", "https://", "urn:")) and name:
            picked.append({"url": url, "name": name[:500]})
    return picked


def _form_rows(form: FormData) -> list[dict[str, str]]:
    """The requirement rows as typed (in their order), less those ticked for removal, plus
    the skills just ticked in the picker."""
    indexes = sorted(int(m.group(1)) for key in form if (m := _ROW_KEY.match(key)) is not None)
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for i in indexes[: hiring.MAX_REQUIREMENTS]:
        skill = str(form.get(f"req-{i}-skill", "")).strip()[:500]
        if not skill or skill in seen or form.get(f"req-{i}-remove") is not None:
            continue
        seen.add(skill)
        rows.append(
            {
                "skill": skill,
                "label": str(form.get(f"req-{i}-label", ""))[:500],
                "required": "optional"
                if form.get(f"req-{i}-required") == "optional"
                else "required",
                "weight": str(form.get(f"req-{i}-weight", "1"))[:20],
                "min_level": str(form.get(f"req-{i}-min_level", "0"))[:5],
            }
        )
    for item in _picked_skills(form):
        if item["url"] not in seen and len(rows) < hiring.MAX_REQUIREMENTS:
            seen.add(item["url"])
            rows.append(_row(item["url"], item["name"]))
    return rows


def _requirements(
    rows: list[dict[str, str]], _: Gettext
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The service's requirements from the rows, and the rows' errors (by field name)."""
    out: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for i, row in enumerate(rows):
        try:
            weight = float(row["weight"].replace(",", "."))
        except ValueError:
            weight = -1.0
        if not 0 < weight <= 100:
            errors[f"req-{i}-weight"] = _("Enter a weight above 0 and at most 100, like 1 or 2.5.")
        try:
            level = int(row["min_level"])
        except ValueError:
            level = -1
        if level not in LEVELS:
            errors[f"req-{i}-min_level"] = _("Choose a level from the list.")
        out.append(
            {
                "skill": row["skill"],
                "required": row["required"] == "required",
                "weight": weight,
                "min_level": max(0, level) / 100,
            }
        )
    return out, errors


async def _read_role_form(request: Request) -> tuple[dict[str, Any], str, str]:
    form = await request.form(max_fields=4 * hiring.MAX_REQUIREMENTS + 400, max_files=0)
    values: dict[str, Any] = {
        "title": str(form.get("title", ""))[:300],
        "description": str(form.get("description", ""))[:_MAX_FIELD],
        "status": "closed" if form.get("status") == "closed" else "open",
        "job_text": str(form.get("job_text", ""))[:_MAX_JOB_TEXT],
        "rows": _form_rows(form),
        "skill_q": str(form.get("skill_q", ""))[:200],
        "occupation_q": str(form.get("occupation_q", ""))[:200],
        "occupation": str(form.get("occupation", ""))[:500],
    }
    return values, str(form.get("action", "save")), str(form.get(session.CSRF_FIELD, ""))


def _occupations(ctx: StudioContext, text: str) -> tuple[list[Any], str]:
    if not text.strip():
        return [], ""
    try:
        return skill_service.search_occupations(ctx.platform, text, limit=8), ""
    except MeritoError as e:
        return [], e.message


def _render_role_form(
    ctx: StudioContext,
    *,
    values: dict[str, Any],
    errors: Mapping[str, str],
    role: hiring.RoleView | None,
    action: str = "",
    status: int = 200,
) -> Response:
    skill_q = str(values.get("skill_q", "")).strip()
    occupation_q = str(values.get("occupation_q", "")).strip()
    matches, search_error = skill_items(ctx, skill_q) if action == "search_skills" else ([], "")
    occupations, occupation_error = (
        _occupations(ctx, occupation_q) if action == "search_occupations" else ([], "")
    )
    more = ctx.values(
        SECTION,
        form=values,
        errors=errors,
        role=role,
        level_options=_level_options(ctx.page.gettext),
        skill_q=skill_q,
        matches=matches,
        error=search_error,
        picked=[r["skill"] for r in values["rows"]],
        alignment_value=alignment_value,
        picker_form="role-form",
        occupation_q=occupation_q,
        occupations=occupations,
        occupation_error=occupation_error,
        occupation_searched=action == "search_occupations",
        notice=ctx.page.request.query_params.get("notice", ""),
    )
    return render(ctx.page, "employer/role_form.html", more, status=status)


def _service_errors(error: MeritoError, rows: list[dict[str, str]]) -> dict[str, str]:
    """A service refusal beside the field it names (``requirements.3.skill`` -> row 3)."""
    prop = error.property or ""
    if prop.startswith("requirements."):
        parts = prop.split(".")
        if len(parts) >= 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
            field = {"weight": "weight", "min_level": "min_level"}.get(parts[2], "skill")
            return {f"req-{parts[1]}-{field}": error.message}
    if prop in ("title", "description", "occupation", "job_text"):
        return {prop: error.message}
    return {"form": error.message}


def _role_fields(
    values: Mapping[str, Any], action: str, _: Gettext
) -> tuple[dict[str, Any], dict[str, str]]:
    """The service's RoleFields from the form for ``action``, and the form's own errors."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {
        "title": values["title"].strip(),
        "description": values["description"].strip(),
        "status": values["status"],
    }
    if not fields["title"]:
        errors["title"] = _("Give the role a title.")
    if action == "prefill_occupation":
        if not values["occupation"].strip():
            errors["occupation"] = _("Search for an occupation and choose one first.")
        fields["occupation"] = values["occupation"].strip()
    elif action == "prefill_text":
        if not values["job_text"].strip():
            errors["job_text"] = _("Paste the job description first.")
        fields["job_text"] = values["job_text"]
    else:
        requirements, row_errors = _requirements(values["rows"], _)
        errors.update(row_errors)
        fields["requirements"] = requirements
    return fields, errors


async def _save_role(
    request: Request, ctx: StudioContext, role: hiring.RoleView | None
) -> Response:
    _ = ctx.page.gettext
    values, action, token = await _read_role_form(request)
    if action in ("search_skills", "search_occupations", "refresh"):
        return _render_role_form(ctx, values=values, errors={}, role=role, action=action)
    if not session.csrf_matches(request, token):
        errors = {"form": csrf_error(_)}
        return _render_role_form(ctx, values=values, errors=errors, role=role, status=403)
    fields, errors = _role_fields(values, action, _)
    if errors:
        return _render_role_form(ctx, values=values, errors=errors, role=role, status=422)
    try:
        if role is None:
            saved = await run_in_threadpool(
                lambda: hiring.create_role(
                    ctx.platform, ctx.actor, org_id=ctx.org.id, fields=fields
                )
            )
        else:
            saved = await run_in_threadpool(
                lambda: hiring.update_role(
                    ctx.platform, ctx.actor, org_id=ctx.org.id, role_id=role.id, fields=fields
                )
            )
    except PermissionDenied as e:
        return refused(ctx, e, section=SECTION)
    except (InvalidInput, NotFound, Conflict) as e:
        errors = _service_errors(e, values["rows"])
        return _render_role_form(ctx, values=values, errors=errors, role=role, status=422)
    notice = "prefilled" if action.startswith("prefill") else "saved"
    if action.startswith("prefill") and not saved.requirements:
        notice = "prefilled-empty"
    return see_other(ctx.page, ctx.url(f"/roles/{saved.id}?notice={notice}"))


def _load_role(ctx: StudioContext, role_id: str) -> hiring.RoleView | Response:
    try:
        return hiring.get_role(ctx.platform, ctx.actor, org_id=ctx.org.id, role_id=role_id[:36])
    except (NotFound, PermissionDenied) as e:
        return refused(ctx, e, section=SECTION)


# --- roles -----------------------------------------------------------------------------------


@router.get(STUDIO + "/{slug}/roles")
def roles_list(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    try:
        roles = hiring.list_roles(ctx.platform, ctx.actor, org_id=ctx.org.id)
        searches = hiring.list_saved_searches(ctx.platform, ctx.actor, org_id=ctx.org.id)
    except PermissionDenied as e:
        return refused(ctx, e, section=SECTION)
    values = ctx.values(
        SECTION,
        roles=roles,
        searches=searches,
        titles={r.id: r.title for r in roles},
        notice=request.query_params.get("notice", ""),
    )
    return render(ctx.page, "employer/roles.html", values)


@router.get(STUDIO + "/{slug}/roles/new")
def role_new(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _render_role_form(ctx, values=_role_values(None), errors={}, role=None)


@router.post(STUDIO + "/{slug}/roles/new")
async def role_create(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return await _save_role(request, ctx, None)


@router.get(STUDIO + "/{slug}/roles/skills")
def role_skill_search(request: Request, slug: str, skill_q: str = "") -> Response:
    """The skills picker's results for the role form (htmx, as one types)."""
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    text = skill_q.strip()[:200]
    matches, error = skill_items(ctx, text)
    held = [str(v) for k, v in request.query_params.multi_items() if _ROW_KEY.match(k)]
    values = ctx.values(
        SECTION,
        skill_q=text,
        matches=matches,
        error=error,
        picked=held,
        alignment_value=alignment_value,
        picker_form="role-form",
    )
    return render(ctx.page, "studio/_skill_results.html", values)


@router.get(STUDIO + "/{slug}/roles/{role_id}")
def role_edit(request: Request, slug: str, role_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    found = _load_role(ctx, role_id)
    if isinstance(found, Response):
        return found
    return _render_role_form(ctx, values=_role_values(found), errors={}, role=found)


@router.post(STUDIO + "/{slug}/roles/{role_id}")
async def role_update(request: Request, slug: str, role_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    found = _load_role(ctx, role_id)
    if isinstance(found, Response):
        return found
    return await _save_role(request, ctx, found)


async def _checked(request: Request, ctx: StudioContext) -> dict[str, str] | Response:
    """The posted fields, or the refusal when the form's token is not this browser's."""
    async with request.form(max_fields=10, max_files=0) as form:
        fields = {k: str(v)[:500] for k, v in form.items() if isinstance(v, str)}
    if not session.csrf_matches(request, fields.get(session.CSRF_FIELD)):
        return refused(ctx, Conflict(csrf_error(ctx.page.gettext)), section=SECTION)
    return fields


@router.post(STUDIO + "/{slug}/roles/{role_id}/delete")
async def role_delete(request: Request, slug: str, role_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    fields = await _checked(request, ctx)
    if isinstance(fields, Response):
        return fields
    try:
        hiring.delete_role(ctx.platform, ctx.actor, org_id=ctx.org.id, role_id=role_id[:36])
    except (NotFound, PermissionDenied) as e:
        return refused(ctx, e, section=SECTION)
    return see_other(ctx.page, ctx.url("/roles?notice=deleted"))


# --- ranking ---------------------------------------------------------------------------------


def _filters(fields: Mapping[str, str], _: Gettext) -> tuple[dict[str, Any], dict[str, str]]:
    """limit, require_all and min_score (a percentage on the page) from the form."""
    errors: dict[str, str] = {}
    raw_limit = fields.get("limit", "20").strip() or "20"
    raw_score = fields.get("min_score", "0").strip().rstrip("%") or "0"
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= hiring.MAX_RESULTS:
        errors["limit"] = _("Enter a number of candidates from 1 to %(max)s.") % {
            "max": hiring.MAX_RESULTS
        }
    try:
        min_score = float(raw_score.replace(",", "."))
    except ValueError:
        min_score = -1.0
    if not 0 <= min_score <= 100:
        errors["min_score"] = _("Enter a score from 0 to 100.")
    return {
        "limit": limit,
        "require_all": fields.get("require_all") == "1",
        "min_score": max(0.0, min(100.0, min_score)) / 100,
    }, errors


def _filter_values(filters: Mapping[str, Any]) -> dict[str, str]:
    return {
        "limit": str(filters["limit"]),
        "require_all": "1" if filters["require_all"] else "",
        "min_score": f"{filters['min_score'] * 100:g}",
    }


def _render_candidates(
    ctx: StudioContext,
    *,
    role: hiring.RoleView,
    form: Mapping[str, str],
    errors: Mapping[str, str],
    ranking: hiring.Ranking | None,
    search: hiring.SavedSearch | None = None,
    status: int = 200,
) -> Response:
    values = ctx.values(
        SECTION,
        role=role,
        form=form,
        errors=errors,
        ranking=ranking,
        search=search,
        notice=ctx.page.request.query_params.get("notice", ""),
    )
    return render(ctx.page, "employer/candidates.html", values, status=status)


_DEFAULT_FILTERS: Final = {"limit": "20", "require_all": "", "min_score": "0", "name": ""}


@router.get(STUDIO + "/{slug}/roles/{role_id}/candidates")
def candidates_page(request: Request, slug: str, role_id: str) -> Response:
    """The role and the ranking form (ranking is a POST: each run is recorded)."""
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    found = _load_role(ctx, role_id)
    if isinstance(found, Response):
        return found
    return _render_candidates(ctx, role=found, form=_DEFAULT_FILTERS, errors={}, ranking=None)


@router.post(STUDIO + "/{slug}/roles/{role_id}/candidates")
async def candidates_rank(request: Request, slug: str, role_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    found = _load_role(ctx, role_id)
    if isinstance(found, Response):
        return found
    async with request.form(max_fields=10, max_files=0) as form:
        fields = {k: str(v)[:200] for k, v in form.items() if isinstance(v, str)}
    typed = {**_DEFAULT_FILTERS, **fields}
    if not session.csrf_matches(request, fields.get(session.CSRF_FIELD)):
        errors = {"form": csrf_error(_)}
        return _render_candidates(
            ctx, role=found, form=typed, errors=errors, ranking=None, status=403
        )
    filters, errors = _filters(fields, _)
    if errors:
        return _render_candidates(
            ctx, role=found, form=typed, errors=errors, ranking=None, status=422
        )
    try:
        ranking = await run_in_threadpool(
            lambda: hiring.rank_candidates(
                ctx.platform, ctx.actor, org_id=ctx.org.id, role_id=found.id, **filters
            )
        )
    except (NotFound, PermissionDenied) as e:
        return refused(ctx, e, section=SECTION)
    except InvalidInput as e:
        return _render_candidates(
            ctx, role=found, form=typed, errors={"form": e.message}, ranking=None, status=422
        )
    shown = {**typed, **_filter_values(filters)}
    return _render_candidates(ctx, role=found, form=shown, errors={}, ranking=ranking)


@router.get(STUDIO + "/{slug}/roles/{role_id}/candidates/{user_id}")
def candidate_detail(request: Request, slug: str, role_id: str, user_id: str) -> Response:
    """One candidate's match and gap for the role: what meets each requirement, what is
    missing."""
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    found = _load_role(ctx, role_id)
    if isinstance(found, Response):
        return found
    try:
        why = hiring.explain_candidate(
            ctx.platform, ctx.actor, org_id=ctx.org.id, role_id=found.id, user_id=user_id[:36]
        )
    except (NotFound, PermissionDenied) as e:
        return refused(ctx, e, section=SECTION)
    email = request.query_params.get("email", "")[:320]
    values = ctx.values(SECTION, role=found, explanation=why, email=email)
    return render(ctx.page, "employer/candidate.html", values)


# --- saved searches --------------------------------------------------------------------------


@router.post(STUDIO + "/{slug}/searches")
async def search_save(request: Request, slug: str) -> Response:
    """Keeps a role's ranking filters under a name (from the candidates page)."""
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    async with request.form(max_fields=10, max_files=0) as form:
        fields = {k: str(v)[:300] for k, v in form.items() if isinstance(v, str)}
    found = _load_role(ctx, fields.get("role_id", ""))
    if isinstance(found, Response):
        return found
    typed = {**_DEFAULT_FILTERS, **fields}
    if not session.csrf_matches(request, fields.get(session.CSRF_FIELD)):
        errors = {"form": csrf_error(_)}
        return _render_candidates(
            ctx, role=found, form=typed, errors=errors, ranking=None, status=403
        )
    filters, errors = _filters(fields, _)
    name = fields.get("name", "").strip()
    if not name:
        errors["name"] = _("Give the search a name.")
    if errors:
        return _render_candidates(
            ctx, role=found, form=typed, errors=errors, ranking=None, status=422
        )
    try:
        hiring.create_saved_search(
            ctx.platform,
            ctx.actor,
            org_id=ctx.org.id,
            fields={"name": name, "role_id": found.id, **filters},
        )
    except PermissionDenied as e:
        return refused(ctx, e, section=SECTION)
    except InvalidInput as e:
        return _render_candidates(
            ctx, role=found, form=typed, errors={"name": e.message}, ranking=None, status=422
        )
    return see_other(ctx.page, ctx.url("/roles?notice=search-saved"))


@router.post(STUDIO + "/{slug}/searches/{search_id}/run")
async def search_run(request: Request, slug: str, search_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    fields = await _checked(request, ctx)
    if isinstance(fields, Response):
        return fields
    try:
        searches = hiring.list_saved_searches(ctx.platform, ctx.actor, org_id=ctx.org.id)
        search = next((s for s in searches if s.id == search_id[:36]), None)
        if search is None:
            raise NotFound(f"saved search {search_id!r} not found", property="search_id")
        ranking = await run_in_threadpool(
            lambda: hiring.run_saved_search(
                ctx.platform, ctx.actor, org_id=ctx.org.id, search_id=search.id
            )
        )
    except (NotFound, PermissionDenied) as e:
        return refused(ctx, e, section=SECTION)
    form = {**_filter_values(_search_filters(search)), "name": ""}
    return _render_candidates(
        ctx, role=ranking.role, form=form, errors={}, ranking=ranking, search=search
    )


def _search_filters(search: hiring.SavedSearch) -> dict[str, Any]:
    return {"limit": search.limit, "require_all": search.require_all, "min_score": search.min_score}


@router.post(STUDIO + "/{slug}/searches/{search_id}/delete")
async def search_delete(request: Request, slug: str, search_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    fields = await _checked(request, ctx)
    if isinstance(fields, Response):
        return fields
    try:
        hiring.delete_saved_search(
            ctx.platform, ctx.actor, org_id=ctx.org.id, search_id=search_id[:36]
        )
    except (NotFound, PermissionDenied) as e:
        return refused(ctx, e, section=SECTION)
    return see_other(ctx.page, ctx.url("/roles?notice=search-deleted"))
