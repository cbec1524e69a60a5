"""The issuer studio: an organisation's dashboard, its achievements and their design.

Every studio page is under ``/studio/{slug}`` and needs a signed-in member of that
organisation; the services decide what each role may do (a viewer sees, an issuer designs and
issues, an admin manages keys), so a refused action is a message on the page, never a crash.
Forms post back to their page and keep what was typed when something is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from merito.errors import Conflict, InvalidInput, MeritoError, NotFound, PermissionDenied
from merito.formats.quality import (
    ASSESSMENT_METHODS,
    assessment_alignment,
    eqf_alignment,
    quality_of,
)
from merito.services import accounts, catalog, credentials
from merito.services import skills as skill_service
from merito.services.accounts import Organisation
from merito.services.catalog import AchievementView
from merito.services.platform import Actor, Platform
from merito.web import session
from merito.web.i18n import Gettext
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import Page, page_for, render

__all__ = ["StudioContext", "router", "studio_context"]

router = APIRouter(include_in_schema=False)

STUDIO: Final = "/studio"
ACHIEVEMENT_TYPES: Final = (
    "Badge",
    "Certificate",
    "Certification",
    "Course",
    "MicroCredential",
    "License",
    "Competency",
    "Assessment",
)
#: the assessment-method choices, in the order the form lists them (codes of
#: ``formats.quality.ASSESSMENT_METHODS``)
ASSESSMENT_CHOICES: Final = (
    "proctored",
    "portfolio",
    "peer-reviewed",
    "practical",
    "project",
    "unproctored",
    "self-assessed",
    "attendance",
)
_MAX_FIELD: Final = 10_000
_MAX_IMAGE_UPLOAD: Final = catalog.MAX_IMAGE_BYTES + 1


class StudioContext:
    """The page, the signed-in member and the organisation the studio page is about."""

    def __init__(self, page: Page, org: Organisation) -> None:
        self.page = page
        self.org = org

    @property
    def actor(self) -> Actor:
        actor = self.page.viewer.actor
        assert actor is not None  # studio_context only builds one for a signed-in member
        return actor

    @property
    def platform(self) -> Platform:
        return session.get_platform(self.page.request)

    def url(self, suffix: str = "") -> str:
        return f"{STUDIO}/{self.org.slug}{suffix}"

    def values(self, section: str, **more: Any) -> dict[str, Any]:
        return {"org": self.org, "section": section, "studio_url": self.url(), **more}


def studio_context(request: Request, slug: str) -> StudioContext | Response:
    """The studio of ``slug`` for the viewer, or the response to send instead (log in first,
    or a not-found page for an organisation the viewer is not a member of)."""
    page = page_for(request)
    actor = page.viewer.actor
    if actor is None:
        return see_other(page, "/login?next=" + request.url.path)
    mine = accounts.list_my_organisations(session.get_platform(request), actor)
    for org in mine:
        if org.slug == slug:
            return StudioContext(page, org)
    return render(page, "not_found.html", {}, status=404)


def refused(ctx: StudioContext, error: MeritoError, *, section: str) -> Response:
    """A page saying why the action was refused (permission, conflict, not found)."""
    _ = ctx.page.gettext
    if isinstance(error, PermissionDenied):
        status, message = 403, _("Your role in this organisation does not allow this.")
    elif isinstance(error, NotFound):
        status, message = 404, _("This item does not exist (or no longer exists).")
    else:
        status, message = 409, error.message
    values = ctx.values(section, message=message)
    return render(ctx.page, "studio/refused.html", values, status=status)


# --- studio home -----------------------------------------------------------------------------


@router.get(STUDIO)
def studio_index(request: Request) -> Response:
    """The studio of the viewer's only organisation, or a choice between them."""
    page = page_for(request)
    actor = page.viewer.actor
    if actor is None:
        return see_other(page, "/login?next=" + STUDIO)
    mine = accounts.list_my_organisations(session.get_platform(request), actor)
    if len(mine) == 1:
        return see_other(page, f"{STUDIO}/{mine[0].slug}")
    return render(page, "studio/index.html", {"organisations": mine})


@router.get(STUDIO + "/{slug}")
def dashboard(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    try:
        achievements = catalog.list_achievements(
            ctx.platform, ctx.actor, org_id=ctx.org.id, limit=500
        )
        counts = {
            state: credentials.list_credentials(
                ctx.platform, ctx.actor, org_id=ctx.org.id, state=state, limit=1
            ).total
            for state in credentials.CREDENTIAL_STATES
        }
        recent = credentials.list_credentials(ctx.platform, ctx.actor, org_id=ctx.org.id, limit=8)
    except PermissionDenied as e:
        return refused(ctx, e, section="dashboard")
    by_status = dict.fromkeys(("draft", "published", "archived"), 0)
    for achievement in achievements:
        by_status[achievement.status] += 1
    values = ctx.values(
        "dashboard",
        achievements_by_status=by_status,
        credential_counts=counts,
        issued_total=sum(counts.values()),
        recent=recent.items,
        names=_achievement_names(achievements),
    )
    return render(ctx.page, "studio/dashboard.html", values)


def _achievement_names(achievements: list[AchievementView]) -> dict[str, str]:
    return {a.id: a.name for a in achievements}


# --- achievements ----------------------------------------------------------------------------


@router.get(STUDIO + "/{slug}/achievements")
def achievements_list(request: Request, slug: str, status: str = "") -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    chosen = status if status in ("draft", "published", "archived") else None
    try:
        items = catalog.list_achievements(
            ctx.platform, ctx.actor, org_id=ctx.org.id, status=chosen, limit=500
        )
    except PermissionDenied as e:
        return refused(ctx, e, section="achievements")
    values = ctx.values(
        "achievements",
        achievements=items,
        status=chosen or "",
        notice=request.query_params.get("notice", ""),
    )
    return render(ctx.page, "studio/achievements.html", values)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _form_values(view: AchievementView | None) -> dict[str, Any]:
    """The form's fields from the achievement's draft (or published version)."""
    if view is None:
        return {
            "name": "",
            "description": "",
            "criteria": "",
            "criteria_url": "",
            "achievement_type": "Badge",
            "hours": "",
            "tags": "",
            "evidence": "",
            "alignments": [],
            "assessment": "",
            "eqf_level": "",
            "credits": "",
            "field_of_study": "",
            "specialization": "",
        }
    document: Mapping[str, Any] = view.draft or view.published or {}
    metadata: Mapping[str, Any] = view.draft_metadata or view.published_metadata or {}
    criteria = document.get("criteria") or {}
    hours = metadata.get("hours")
    quality = quality_of(document)
    credits = quality.credits
    return {
        "name": document.get("name", ""),
        "description": document.get("description", ""),
        "criteria": criteria.get("narrative", ""),
        "criteria_url": criteria.get("id", ""),
        "achievement_type": document.get("achievementType", "Badge"),
        "hours": "" if hours is None else f"{hours:g}",
        "tags": ", ".join(document.get("tag", [])),
        "evidence": "\n".join(r.get("name", "") for r in metadata.get("evidenceRequirements", [])),
        "alignments": [
            {
                "name": a.get("targetName", ""),
                "url": a.get("targetUrl", ""),
                "code": a.get("targetCode", ""),
                "framework": a.get("targetFramework", ""),
                "type": a.get("targetType", ""),
            }
            for a in document.get("alignment", [])
            if not _is_quality_alignment(a)
        ],
        "assessment": quality.assessment or "",
        "eqf_level": "" if quality.eqf_level is None else str(quality.eqf_level),
        "credits": ""
        if credits is None
        else (str(int(credits)) if credits.is_integer() else repr(credits)),
        "field_of_study": quality.field_of_study or "",
        "specialization": quality.specialization or "",
    }


def _is_quality_alignment(alignment: Any) -> bool:
    """An alignment stating the EQF level or the assessment method (the form's own fields,
    not a skill)."""
    found = quality_of({"alignment": [alignment]})
    return found.eqf_level is not None or found.assessment is not None


def _quality_fields(
    form: Mapping[str, Any], _: Gettext, *, base_url: str, errors: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The EQF-level and assessment-method alignments and the OB 3.0 quality members
    (``creditsAvailable``, ``fieldOfStudy``, ``specialization``) from the form; ``None``
    clears a member left empty. Bad values go to ``errors``."""
    alignments: list[dict[str, Any]] = []
    level = str(form["eqf_level"]).strip()
    if level:
        if level.isdigit() and 1 <= int(level) <= 8:
            alignments.append(eqf_alignment(int(level)))
        else:
            errors["eqf_level"] = _("Choose an EQF level from 1 to 8, or none.")
    method = str(form["assessment"]).strip()
    if method:
        if method in ASSESSMENT_METHODS:
            alignments.append(assessment_alignment(method, base_url=base_url))
        else:
            errors["assessment"] = _("Choose an assessment method from the list.")
    credits: float | None = None
    if str(form["credits"]).strip():
        try:
            credits = float(str(form["credits"]).strip().replace(",", "."))
        except ValueError:
            errors["credits"] = _("Enter a number of credits of 0 or more, like 5 or 2.5.")
        else:
            if not 0 <= credits <= 100_000:  # also refuses nan
                errors["credits"] = _("Enter a number of credits of 0 or more, like 5 or 2.5.")
                credits = None
    # the catalog's Alignment fields have no "type" member (it adds ["Alignment"] itself)
    checked = [{k: v for k, v in a.items() if k != "type"} for a in alignments]
    members = {
        "creditsAvailable": credits,
        "fieldOfStudy": str(form["field_of_study"]).strip()[:500] or None,
        "specialization": str(form["specialization"]).strip()[:500] or None,
    }
    return checked, members


def _fields(
    form: Mapping[str, Any], _: Gettext, *, base_url: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The service's AchievementFields (camelCase) from the form, and the form's own errors."""
    errors: dict[str, str] = {}
    name = str(form["name"]).strip()
    description = str(form["description"]).strip()
    narrative = str(form["criteria"]).strip()
    criteria_url = str(form["criteria_url"]).strip()
    if not name:
        errors["name"] = _("Give the achievement a name.")
    if not description:
        errors["description"] = _("Describe what earning it shows.")
    if not narrative and not criteria_url:
        errors["criteria"] = _("Say how it is earned (or give the address of a page that does).")
    if criteria_url and not criteria_url.startswith(("https://", "http://")):
        errors["criteria_url"] = _("Enter a web address starting with https://")
    hours: float | None = None
    if str(form["hours"]).strip():
        try:
            hours = float(str(form["hours"]).replace(",", "."))
        except ValueError:
            errors["hours"] = _("Enter a number of hours, like 12 or 1.5.")
        else:
            if not 0 <= hours <= 100_000:
                errors["hours"] = _("Enter a number of hours, like 12 or 1.5.")
    kind = str(form["achievement_type"])
    if kind not in ACHIEVEMENT_TYPES:
        errors["achievement_type"] = _("Choose a type from the list.")
    quality_alignments, quality_members = _quality_fields(form, _, base_url=base_url, errors=errors)
    criteria: dict[str, Any] = {}
    if narrative:
        criteria["narrative"] = narrative
    if criteria_url:
        criteria["id"] = criteria_url
    fields: dict[str, Any] = {
        "name": name,
        "description": description,
        "criteria": criteria,
        "achievementType": kind,
        "hours": hours,
        "tag": [t.strip() for t in str(form["tags"]).split(",") if t.strip()] or None,
        "evidenceRequirements": [{"name": line} for line in _lines(str(form["evidence"]))] or None,
        "alignment": [
            {
                "targetName": a["name"],
                "targetUrl": a["url"],
                **({"targetCode": a["code"]} if a["code"] else {}),
                **({"targetFramework": a["framework"]} if a["framework"] else {}),
                "targetType": a.get("type") or "ceasn:Competency",
            }
            for a in form["alignments"]
            # a skill never replaces the form's own EQF-level / assessment fields
            if not _is_quality_alignment(
                {
                    "targetType": a.get("type"),
                    "targetCode": a["code"],
                    "targetFramework": a["framework"],
                }
            )
        ]
        + quality_alignments
        or None,
        **quality_members,
    }
    return fields, errors


def _alignments_from(request_form: Any) -> list[dict[str, str]]:
    """The ticked skills: each checkbox ``alignment`` carries one skill as a small JSON object
    (url, name, code, framework), so the picker needs no script to add or remove one."""
    picked: list[dict[str, str]] = []
    seen: set[str] = set()
    for raw in request_form.getlist("alignment")[:100]:
        try:
            item = json.loads(str(raw)[:4000])
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        url, name = str(item.get("url", ""))[:500], str(item.get("name", "")).strip()[:500]
        if not url.startswith(("https://", "http://")) or not name or url in seen:
            continue
        seen.add(url)
        picked.append(
            {
                "url": url,
                "name": name,
                "code": str(item.get("code", ""))[:500],
                "framework": str(item.get("framework", ""))[:500],
                "type": str(item.get("type", ""))[:100],
            }
        )
    return picked


def alignment_value(item: Mapping[str, str]) -> str:
    """The checkbox value of one skill (see ``_alignments_from``)."""
    keys = ("url", "name", "code", "framework", "type")
    return json.dumps({k: item.get(k, "") for k in keys}, ensure_ascii=False)


def _service_error(error: MeritoError, _: Gettext) -> dict[str, str]:
    """A service refusal as a form error, next to its field when the service names one."""
    field_of = {
        "name": "name",
        "description": "description",
        "criteria": "criteria",
        "hours": "hours",
        "achievementType": "achievement_type",
        "alignment": "alignments",
        "tag": "tags",
        "evidenceRequirements": "evidence",
        "creditsAvailable": "credits",
        "fieldOfStudy": "field_of_study",
        "specialization": "specialization",
    }
    prop = (error.property or "").split(".", 1)[0].split("[", 1)[0]
    return {field_of.get(prop, "form"): error.message}


def _type_options(_: Gettext) -> list[tuple[str, str]]:
    labels = {
        "Badge": _("Badge"),
        "Certificate": _("Certificate"),
        "Certification": _("Certification"),
        "Course": _("Course"),
        "MicroCredential": _("Micro-credential"),
        "License": _("Licence"),
        "Competency": _("Competency"),
        "Assessment": _("Assessment"),
    }
    return [(kind, labels[kind]) for kind in ACHIEVEMENT_TYPES]


def _assessment_options(_: Gettext) -> list[tuple[str, str]]:
    labels = {
        "proctored": _("Supervised (proctored) exam"),
        "portfolio": _("Portfolio of work"),
        "peer-reviewed": _("Reviewed by peers"),
        "practical": _("Practical demonstration"),
        "project": _("Project"),
        "unproctored": _("Other: unsupervised online test"),
        "self-assessed": _("Other: self-assessment"),
        "attendance": _("Other: attendance only (no assessment)"),
    }
    return [("", _("Not stated"))] + [(code, labels[code]) for code in ASSESSMENT_CHOICES]


def _eqf_options(_: Gettext) -> list[tuple[str, str]]:
    return [("", _("Not stated"))] + [
        (str(n), _("EQF level %(level)s") % {"level": n}) for n in range(1, 9)
    ]


def _kept(options: list[tuple[str, str]], value: str) -> list[tuple[str, str]]:
    """The options, plus the value sent when it is not one of them (shown with its error, so
    the form keeps what was sent)."""
    if value and value not in {v for v, _ in options}:
        return [*options, (value, value)]
    return options


def _render_form(
    ctx: StudioContext,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    achievement: AchievementView | None,
    status: int = 200,
) -> Response:
    matches, search_error = (
        skill_items(ctx, str(values.get("skill_q", "")).strip())
        if values.get("searching")
        else ([], "")
    )
    more = ctx.values(
        "achievements",
        form=values,
        errors=errors,
        achievement=achievement,
        type_options=_type_options(ctx.page.gettext),
        assessment_options=_kept(_assessment_options(ctx.page.gettext), values["assessment"]),
        eqf_options=_kept(_eqf_options(ctx.page.gettext), values["eqf_level"]),
        skill_q=values.get("skill_q", ""),
        matches=matches,
        error=search_error,
        picked=[a["url"] for a in values["alignments"]],
        alignment_value=alignment_value,
        notice=ctx.page.request.query_params.get("notice", ""),
    )
    return render(ctx.page, "studio/achievement_form.html", more, status=status)


async def _read_form(request: Request) -> tuple[dict[str, Any], str]:
    form = await request.form()
    values: dict[str, Any] = {
        name: str(form.get(name, ""))[:_MAX_FIELD]
        for name in (
            "name",
            "description",
            "criteria",
            "criteria_url",
            "achievement_type",
            "hours",
            "tags",
            "evidence",
            "assessment",
            "eqf_level",
            "credits",
            "field_of_study",
            "specialization",
        )
    }
    values["alignments"] = _alignments_from(form)
    # the picker's "Search" button (used without JavaScript) shows results, saves nothing
    values["skill_q"] = str(form.get("skill_q", ""))[:200]
    values["searching"] = form.get("search_skills") is not None
    return values, str(form.get(session.CSRF_FIELD, ""))


@router.get(STUDIO + "/{slug}/achievements/new")
def achievement_new(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _render_form(ctx, values=_form_values(None), errors={}, achievement=None)


@router.post(STUDIO + "/{slug}/achievements/new")
async def achievement_create(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    values, token = await _read_form(request)
    if values["searching"]:
        return _render_form(ctx, values=values, errors={}, achievement=None)
    if not session.csrf_matches(request, token):
        errors = {"form": csrf_error(_)}
        return _render_form(ctx, values=values, errors=errors, achievement=None, status=403)
    fields, errors = _fields(values, _, base_url=ctx.platform.base_url)
    if errors:
        return _render_form(ctx, values=values, errors=errors, achievement=None, status=422)
    try:
        created = catalog.create_achievement(
            ctx.platform, ctx.actor, org_id=ctx.org.id, fields=fields
        )
    except PermissionDenied as e:
        return refused(ctx, e, section="achievements")
    except (InvalidInput, Conflict) as e:
        errors = _service_error(e, _)
        return _render_form(ctx, values=values, errors=errors, achievement=None, status=422)
    return see_other(ctx.page, ctx.url(f"/achievements/{created.id}?notice=created"))


def _load_achievement(ctx: StudioContext, achievement_id: str) -> AchievementView | Response:
    try:
        return catalog.get_achievement(
            ctx.platform, ctx.actor, org_id=ctx.org.id, achievement_id=achievement_id
        )
    except (NotFound, PermissionDenied) as e:
        return refused(ctx, e, section="achievements")


@router.get(STUDIO + "/{slug}/achievements/{achievement_id}")
def achievement_edit(request: Request, slug: str, achievement_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    found = _load_achievement(ctx, achievement_id)
    if isinstance(found, Response):
        return found
    return _render_form(ctx, values=_form_values(found), errors={}, achievement=found)


@router.post(STUDIO + "/{slug}/achievements/{achievement_id}")
async def achievement_update(request: Request, slug: str, achievement_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    found = _load_achievement(ctx, achievement_id)
    if isinstance(found, Response):
        return found
    values, token = await _read_form(request)
    if values["searching"]:
        return _render_form(ctx, values=values, errors={}, achievement=found)
    if not session.csrf_matches(request, token):
        errors = {"form": csrf_error(_)}
        return _render_form(ctx, values=values, errors=errors, achievement=found, status=403)
    fields, errors = _fields(values, _, base_url=ctx.platform.base_url)
    if errors:
        return _render_form(ctx, values=values, errors=errors, achievement=found, status=422)
    try:
        catalog.update_achievement(
            ctx.platform, ctx.actor, org_id=ctx.org.id, achievement_id=found.id, fields=fields
        )
    except PermissionDenied as e:
        return refused(ctx, e, section="achievements")
    except (InvalidInput, Conflict) as e:
        errors = _service_error(e, _)
        return _render_form(ctx, values=values, errors=errors, achievement=found, status=422)
    return see_other(ctx.page, ctx.url(f"/achievements/{found.id}?notice=saved"))


@router.post(STUDIO + "/{slug}/achievements/{achievement_id}/{action}")
def achievement_action(
    request: Request,
    slug: str,
    achievement_id: str,
    action: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Publish (freeze the draft as the next version) or archive (stop issuing)."""
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    operations = {"publish": catalog.publish_achievement, "archive": catalog.archive_achievement}
    operation = operations.get(action)
    if operation is None:
        return render(ctx.page, "not_found.html", {}, status=404)
    if not session.csrf_matches(request, csrf_token):
        return refused(ctx, Conflict(csrf_error(ctx.page.gettext)), section="achievements")
    try:
        operation(ctx.platform, ctx.actor, org_id=ctx.org.id, achievement_id=achievement_id)
    except (NotFound, PermissionDenied, Conflict, InvalidInput) as e:
        return refused(ctx, e, section="achievements")
    notice = "published" if action == "publish" else "archived"
    return see_other(ctx.page, ctx.url(f"/achievements/{achievement_id}?notice={notice}"))


@router.post(STUDIO + "/{slug}/achievements/{achievement_id}/image")
async def achievement_image(
    request: Request,
    slug: str,
    achievement_id: str,
    image: Annotated[UploadFile | None, File()] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A PNG or SVG for the badge (size- and type-checked by the catalogue)."""
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    found = _load_achievement(ctx, achievement_id)
    if isinstance(found, Response):
        return found
    values = _form_values(found)
    if not session.csrf_matches(request, csrf_token):
        errors = {"image": csrf_error(_)}
        return _render_form(ctx, values=values, errors=errors, achievement=found, status=403)
    data = await image.read(_MAX_IMAGE_UPLOAD) if image is not None else b""
    if not data:
        errors = {"image": _("Choose a PNG or SVG file.")}
        return _render_form(ctx, values=values, errors=errors, achievement=found, status=422)
    if len(data) > catalog.MAX_IMAGE_BYTES:
        errors = {
            "image": _("The image is too large: at most %(kb)s KB.")
            % {"kb": catalog.MAX_IMAGE_BYTES // 1024}
        }
        return _render_form(ctx, values=values, errors=errors, achievement=found, status=422)
    try:
        catalog.upload_image(
            ctx.platform, ctx.actor, org_id=ctx.org.id, achievement_id=found.id, data=data
        )
    except PermissionDenied as e:
        return refused(ctx, e, section="achievements")
    except (InvalidInput, Conflict) as e:
        errors = {"image": e.message}
        return _render_form(ctx, values=values, errors=errors, achievement=found, status=422)
    return see_other(ctx.page, ctx.url(f"/achievements/{found.id}?notice=image"))


# --- the skills picker (htmx) ----------------------------------------------------------------


def skill_items(ctx: StudioContext, text: str) -> tuple[list[dict[str, str]], str]:
    """Search results as picker items, or the reason the search failed."""
    if not text:
        return [], ""
    try:
        matches = skill_service.search_skills(
            ctx.platform, text, limit=8, org_id=ctx.org.id, actor=ctx.actor
        )
    except MeritoError as e:
        return [], e.message
    items = []
    for match in matches:
        esco = match.skill.uri.startswith("http://data.europa.eu/esco/")
        items.append(
            {
                "url": match.skill.uri,
                "name": match.skill.preferred_label,
                "code": match.skill.uri,
                "framework": skill_service.ESCO_FRAMEWORK if esco else "organisation skills",
                "type": "ext:ESCOSkill" if esco else "ext:Skill",
                "score": f"{match.score:.2f}",
            }
        )
    return items, ""


@router.get(STUDIO + "/{slug}/skills")
def skill_search(request: Request, slug: str, skill_q: str = "") -> Response:
    """Ranked skills for the alignment picker: ESCO and the organisation's own."""
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    text = skill_q.strip()[:200]
    matches, error = skill_items(ctx, text)
    values = ctx.values(
        "achievements",
        skill_q=text,
        matches=matches,
        error=error,
        picked=[a["url"] for a in _alignments_from(request.query_params)],
        alignment_value=alignment_value,
    )
    return render(ctx.page, "studio/_skill_results.html", values)
