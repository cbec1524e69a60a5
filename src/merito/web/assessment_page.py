"""Applications with evidence (learner), the assessors' review queue, claim codes (studio) and
claiming by code.

Learner: ``/wallet/applications`` (apply, my applications) and ``/wallet/applications/{id}``
(narrative, evidence files, URLs and texts, submit, withdraw). Studio: ``/studio/{slug}/
assessment`` (the queue with filters and SLA ageing), ``.../applications/{id}`` (the review
form with the rubric), ``.../achievements/{id}`` (the rubric editor and decision rule) and
``/studio/{slug}/claim-codes`` (codes with their QR). Public: ``/claim-code/{code}``.
A GET never changes anything; every form posts back with its CSRF token.
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.responses import Response

from merito.domain.assessment import RULES, STATES
from merito.errors import InvalidInput, MeritoError, NotFound, RateLimited
from merito.services import assessment, catalog, claim_codes
from merito.web import session
from merito.web.i18n import Gettext
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import Page, page_for, render
from merito.web.studio import STUDIO, StudioContext, refused, studio_context

router = APIRouter(include_in_schema=False)

APPLICATIONS: Final = "/wallet/applications"
#: the web form's upload bound (each achievement's own limit is checked by the service)
_MAX_UPLOAD: Final = 50_000_000
_LEVEL_LINE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*\|\s*([^|]+?)\s*(?:\|\s*(.*?))?\s*$")
_DECISIONS: Final = ("award", "return", "reject")


def _login_first(page: Page, path: str) -> Response:
    return see_other(page, "/login?next=" + quote(path, safe="/"))


def _message(error: MeritoError, _: Gettext) -> str:
    if isinstance(error, NotFound):
        return _("This item does not exist (or no longer exists).")
    return error.message


async def _form(request: Request, *, files: int = 0) -> dict[str, Any] | None:
    """The posted fields (an upload under "file"), None when the CSRF token does not match."""
    try:
        async with request.form(max_files=files, max_fields=60, max_part_size=_MAX_UPLOAD) as form:
            fields: dict[str, Any] = {}
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    if value.filename:
                        fields[key] = (value.filename, value.content_type, await value.read())
                else:
                    fields.setdefault(key, str(value))
    except HTTPException:
        return {}
    if not session.csrf_matches(request, fields.get("csrf_token")):
        return None
    return fields


# --- learner: apply, my applications ----------------------------------------------------------


def _applications(page: Page, *, error: str | None = None, status: int = 200) -> Response:
    platform = session.get_platform(page.request)
    actor = page.viewer.actor
    mine = assessment.my_applications(platform, actor) if actor is not None else []
    values = {
        "applications": mine,
        "open": assessment.open_achievements(platform),
        "error": error,
    }
    return render(page, "assessment/applications.html", values, status=status)


@router.get(APPLICATIONS)
def applications_page(request: Request) -> Response:
    page = page_for(request)
    if not page.viewer.signed_in:
        return _login_first(page, APPLICATIONS)
    return _applications(page)


@router.post(APPLICATIONS)
async def apply(request: Request) -> Response:
    page = page_for(request)
    actor = page.viewer.actor
    if actor is None:
        return _login_first(page, APPLICATIONS)
    fields = await _form(request)
    if fields is None:
        return _applications(page, error=csrf_error(page.gettext), status=403)
    try:
        made = await run_in_threadpool(
            lambda: assessment.create_application(
                session.get_platform(request),
                actor,
                achievement_id=str(fields.get("achievement_id", ""))[:36],
            )
        )
    except MeritoError as e:
        return _applications(page, error=_message(e, page.gettext), status=422)
    return see_other(page, f"{APPLICATIONS}/{made.id}")


def _application(
    page: Page, application_id: str, *, error: str | None = None, status: int = 200
) -> Response:
    platform = session.get_platform(page.request)
    actor = page.viewer.actor
    try:
        found = assessment.my_application(platform, actor, application_id=application_id)  # type: ignore[arg-type]
    except MeritoError:
        return render(page, "not_found.html", {}, status=404)
    config = next(
        (
            a
            for a in assessment.open_achievements(platform)
            if a.achievement_id == found.achievement_id
        ),
        None,
    )
    values = {
        "application": found,
        "open": config,
        "editable": found.state in ("draft", "returned"),
        "error": error,
        "notice": page.request.query_params.get("notice"),
    }
    return render(page, "assessment/application.html", values, status=status)


@router.get(APPLICATIONS + "/{application_id}")
def application_page(request: Request, application_id: str) -> Response:
    page = page_for(request)
    if not page.viewer.signed_in:
        return _login_first(page, f"{APPLICATIONS}/{application_id[:36]}")
    return _application(page, application_id[:36])


@router.get(APPLICATIONS + "/{application_id}/evidence/{evidence_id}")
def my_evidence(request: Request, application_id: str, evidence_id: str) -> Response:
    page = page_for(request)
    if page.viewer.actor is None:
        return _login_first(page, f"{APPLICATIONS}/{application_id[:36]}")
    try:
        found = assessment.evidence_file(
            session.get_platform(request),
            page.viewer.actor,
            application_id=application_id[:36],
            evidence_id=evidence_id[:36],
        )
    except MeritoError:
        return render(page, "not_found.html", {}, status=404)
    return _download(found)


def _download(found: assessment.EvidenceFile) -> Response:
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in found.name)[:100] or "evidence"
    return Response(
        found.data,
        media_type=found.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


@router.post(APPLICATIONS + "/{application_id}")
async def application_action(request: Request, application_id: str) -> Response:
    """One form per action: ``action`` is narrative, file, url, text, remove, submit or
    withdraw."""
    page = page_for(request)
    _ = page.gettext
    actor = page.viewer.actor
    application_id = application_id[:36]
    if actor is None:
        return _login_first(page, f"{APPLICATIONS}/{application_id}")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_UPLOAD:
        return _application(page, application_id, error=_("That file is too large."), status=413)
    fields = await _form(request, files=1)
    if fields is None:
        return _application(page, application_id, error=csrf_error(_), status=403)
    platform = session.get_platform(request)
    action = fields.get("action", "")

    def run() -> str:
        if action == "narrative":
            assessment.update_application(
                platform,
                actor,
                application_id=application_id,
                narrative=fields.get("narrative", ""),
            )
            return "saved"
        if action == "file":
            upload = fields.get("file")
            if not isinstance(upload, tuple):
                raise InvalidInput(_("Choose a file to upload."), property="file")
            filename, media_type, data = upload
            assessment.add_evidence(
                platform,
                actor,
                application_id=application_id,
                kind="file",
                name=fields.get("name") or filename,
                narrative=fields.get("narrative", ""),
                data=data,
                media_type=media_type,
            )
            return "added"
        if action in ("url", "text"):
            assessment.add_evidence(
                platform,
                actor,
                application_id=application_id,
                kind=action,
                name=fields.get("name", ""),
                narrative=fields.get("narrative", ""),
                url=fields.get("url"),
            )
            return "added"
        if action == "remove":
            assessment.remove_evidence(
                platform,
                actor,
                application_id=application_id,
                evidence_id=fields.get("evidence_id", "")[:36],
            )
            return "removed"
        if action == "submit":
            assessment.submit(platform, actor, application_id=application_id)
            return "submitted"
        if action == "withdraw":
            assessment.withdraw(platform, actor, application_id=application_id)
            return "withdrawn"
        raise InvalidInput(_("Unknown action."), property="action")

    try:
        notice = await run_in_threadpool(run)
    except MeritoError as e:
        return _application(page, application_id, error=_message(e, _), status=422)
    return see_other(page, f"{APPLICATIONS}/{application_id}?notice={notice}")


# --- studio: the review queue and the review form -----------------------------------------------


def _queue(ctx: StudioContext, *, error: str | None = None, status: int = 200) -> Response:
    query = ctx.page.request.query_params
    state = query.get("state") or None
    assignee = query.get("assignee") or None
    achievement_id = (query.get("achievement") or None) and query.get("achievement", "")[:36]
    overdue = {"yes": True, "no": False}.get(query.get("overdue", ""))
    try:
        items = assessment.queue(
            ctx.platform,
            ctx.actor,
            org_id=ctx.org.id,
            achievement_id=achievement_id,
            state=state if state in STATES else None,
            assignee=assignee if assignee in ("me", "none") else None,
            overdue=overdue,
        )
        achievements = catalog.list_achievements(
            ctx.platform, ctx.actor, org_id=ctx.org.id, limit=500
        )
    except MeritoError as e:
        return refused(ctx, e, section="assessment")
    values = ctx.values(
        "assessment",
        items=items,
        achievements=achievements,
        filters={
            "state": state or "",
            "assignee": assignee or "",
            "achievement": achievement_id or "",
            "overdue": query.get("overdue", ""),
        },
        states=("submitted", "in_review", "returned", "awarded", "rejected", "withdrawn"),
        error=error,
    )
    return render(ctx.page, "assessment/queue.html", values, status=status)


@router.get(STUDIO + "/{slug}/assessment")
def queue_page(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _queue(ctx)


def _review_page(
    ctx: StudioContext,
    application_id: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    try:
        found = assessment.application_for_assessor(
            ctx.platform, ctx.actor, org_id=ctx.org.id, application_id=application_id
        )
    except MeritoError as e:
        return refused(ctx, e, section="assessment")
    me = ctx.actor.user_id
    values = ctx.values(
        "assessment",
        application=found,
        reviewed=any(r.reviewer_user_id == me and r.round == found.round for r in found.reviews),
        own=found.applicant_user_id == me,
        errors=errors or {},
        form=form or {},
        decisions=_DECISIONS,
        notice=ctx.page.request.query_params.get("notice"),
    )
    return render(ctx.page, "assessment/review.html", values, status=status)


@router.get(STUDIO + "/{slug}/assessment/applications/{application_id}")
def review_page(request: Request, slug: str, application_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _review_page(ctx, application_id[:36])


@router.get(STUDIO + "/{slug}/assessment/applications/{application_id}/evidence/{evidence_id}")
def assessor_evidence(
    request: Request, slug: str, application_id: str, evidence_id: str
) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    try:
        found = assessment.evidence_file(
            ctx.platform,
            ctx.actor,
            application_id=application_id[:36],
            evidence_id=evidence_id[:36],
            org_id=ctx.org.id,
        )
    except MeritoError as e:
        return refused(ctx, e, section="assessment")
    return _download(found)


@router.post(STUDIO + "/{slug}/assessment/applications/{application_id}")
async def review_submit(request: Request, slug: str, application_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    application_id = application_id[:36]
    fields = await _form(request)
    if fields is None:
        return _review_page(ctx, application_id, errors={"form": csrf_error(_)}, status=403)
    if fields.get("action") == "assign_me":
        try:
            await run_in_threadpool(
                lambda: assessment.assign(
                    ctx.platform,
                    ctx.actor,
                    org_id=ctx.org.id,
                    application_id=application_id,
                    assessor_user_id=ctx.actor.user_id or "",
                )
            )
        except MeritoError as e:
            return _review_page(ctx, application_id, errors={"form": _message(e, _)}, status=422)
        return see_other(
            ctx.page, ctx.url(f"/assessment/applications/{application_id}?notice=assigned")
        )
    scores = {k[len("score-") :]: v for k, v in fields.items() if k.startswith("score-")}
    decision = fields.get("decision", "")
    if decision not in _DECISIONS:
        return _review_page(
            ctx,
            application_id,
            errors={"decision": _("Choose award, return for revision or reject.")},
            form=fields,
            status=422,
        )
    try:
        await run_in_threadpool(
            lambda: assessment.review(
                ctx.platform,
                ctx.actor,
                org_id=ctx.org.id,
                application_id=application_id,
                fields=assessment.ReviewFields(
                    decision=decision,
                    scores=scores,
                    comment=fields.get("comment", ""),
                    reason=fields.get("reason", ""),
                ),
            )
        )
    except MeritoError as e:
        where = (e.property or "form").split(".")[0]
        key = where if where in ("reason", "scores", "decision") else "form"
        return _review_page(
            ctx, application_id, errors={key: _message(e, _)}, form=fields, status=422
        )
    return see_other(
        ctx.page, ctx.url(f"/assessment/applications/{application_id}?notice=reviewed")
    )


# --- studio: the rubric editor and the decision rule --------------------------------------------


def parse_rubric_text(text: str) -> dict[str, Any]:
    """The rubric editor's text: a ``# Criterion`` line, then one ``points | level | descriptor``
    line per level. InvalidInput names the line."""
    criteria: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            name = line.lstrip("#").strip()
            criteria.append({"name": name, "levels": []})
            continue
        match = _LEVEL_LINE.match(line)
        if match is None or not criteria:
            raise InvalidInput(
                f"line {number}: write '# Criterion' first, then 'points | level | descriptor'",
                property="rubric",
            )
        level: dict[str, Any] = {"name": match.group(2), "points": float(match.group(1))}
        if match.group(3):
            level["description"] = match.group(3)
        criteria[-1]["levels"].append(level)
    return {"criteria": criteria}


def rubric_text(rubric: dict[str, Any] | None) -> str:
    if not rubric:
        return ""
    lines: list[str] = []
    for criterion in rubric.get("criteria", []):
        lines.append(f"# {criterion['name']}")
        for level in criterion["levels"]:
            points = f"{level['points']:g}"
            tail = f" | {level['description']}" if level.get("description") else ""
            lines.append(f"{points} | {level['name']}{tail}")
        lines.append("")
    return "\n".join(lines).strip() + "\n"


def _setup_page(
    ctx: StudioContext,
    achievement_id: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    try:
        config = assessment.get_config(
            ctx.platform, ctx.actor, org_id=ctx.org.id, achievement_id=achievement_id
        )
    except MeritoError as e:
        return refused(ctx, e, section="assessment")
    shown = form or {
        "open": "on" if config.open else "",
        "rubric": rubric_text(config.rubric),
        "rule": config.decision_rule["rule"],
        "reviews_required": str(config.decision_rule["reviews_required"]),
        "min_score": f"{config.decision_rule['min_score'] * 100:g}",
        "peer_review": "on" if config.peer_review else "",
        "sla_hours": str(config.sla_hours),
        "max_file_mb": f"{config.max_file_bytes / 1_000_000:g}",
        "allowed_types": ", ".join(config.allowed_types),
    }
    values = ctx.values(
        "assessment",
        config=config,
        form=shown,
        errors=errors or {},
        rules=RULES,
        notice=ctx.page.request.query_params.get("notice"),
    )
    return render(ctx.page, "assessment/setup.html", values, status=status)


@router.get(STUDIO + "/{slug}/assessment/achievements/{achievement_id}")
def setup_page(request: Request, slug: str, achievement_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _setup_page(ctx, achievement_id[:36])


def _number(fields: dict[str, Any], name: str, _: Gettext) -> float:
    try:
        return float(str(fields.get(name, "")).replace(",", "."))
    except ValueError:
        raise InvalidInput(_("Enter a number."), property=name) from None


@router.post(STUDIO + "/{slug}/assessment/achievements/{achievement_id}")
async def setup_submit(request: Request, slug: str, achievement_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    achievement_id = achievement_id[:36]
    fields = await _form(request)
    if fields is None:
        return _setup_page(ctx, achievement_id, errors={"form": csrf_error(_)}, status=403)
    try:
        text = fields.get("rubric", "").strip()
        rubric = parse_rubric_text(text) if text else None
        current = assessment.get_config(
            ctx.platform, ctx.actor, org_id=ctx.org.id, achievement_id=achievement_id
        )
        changed_rubric = rubric is not None and rubric_text(rubric) != rubric_text(current.rubric)
        config = assessment.ConfigFields(
            open=fields.get("open") == "on",
            rubric=rubric if changed_rubric else None,
            decision_rule={
                "rule": fields.get("rule", "all_agree"),
                "reviews_required": int(_number(fields, "reviews_required", _)),
                "min_score": _number(fields, "min_score", _) / 100,
            },
            peer_review=fields.get("peer_review") == "on",
            sla_hours=int(_number(fields, "sla_hours", _)),
            max_file_bytes=int(_number(fields, "max_file_mb", _) * 1_000_000),
            allowed_types=[
                t for t in fields.get("allowed_types", "").replace(" ", "").split(",") if t
            ],
        )
        await run_in_threadpool(
            lambda: assessment.configure(
                ctx.platform,
                ctx.actor,
                org_id=ctx.org.id,
                achievement_id=achievement_id,
                fields=config,
            )
        )
    except MeritoError as e:
        prop = (e.property or "form").split(".")[0].split("[")[0]
        names = {
            "rubric": "rubric",
            "decision_rule": "rule",
            "sla_hours": "sla_hours",
            "max_file_bytes": "max_file_mb",
            "allowed_types": "allowed_types",
            "reviews_required": "reviews_required",
            "min_score": "min_score",
            "max_file_mb": "max_file_mb",
        }
        key = names.get(prop, "form")
        return _setup_page(
            ctx, achievement_id, errors={key: _message(e, _)}, form=fields, status=422
        )
    return see_other(ctx.page, ctx.url(f"/assessment/achievements/{achievement_id}?notice=saved"))


# --- studio: claim codes ------------------------------------------------------------------------


def _codes(
    ctx: StudioContext,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    try:
        codes = claim_codes.list_claim_codes(ctx.platform, ctx.actor, org_id=ctx.org.id)
        achievements = [
            a
            for a in catalog.list_achievements(
                ctx.platform, ctx.actor, org_id=ctx.org.id, limit=500
            )
            if a.status == "published"
        ]
    except MeritoError as e:
        return refused(ctx, e, section="claim-codes")
    values = ctx.values(
        "claim-codes",
        codes=codes,
        achievements=achievements,
        errors=errors or {},
        form=form or {},
        created=ctx.page.request.query_params.get("created"),
    )
    return render(ctx.page, "assessment/claim_codes.html", values, status=status)


@router.get(STUDIO + "/{slug}/claim-codes")
def codes_page(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _codes(ctx)


def _moment(value: str, name: str, _: Gettext) -> Any:
    from datetime import UTC, datetime

    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(_("Enter a date and time."), property=name) from None


@router.post(STUDIO + "/{slug}/claim-codes")
async def codes_create(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    fields = await _form(request)
    if fields is None:
        return _codes(ctx, errors={"form": csrf_error(_)}, status=403)
    try:
        uses = fields.get("max_uses", "").strip()
        made = await run_in_threadpool(
            lambda: claim_codes.create_claim_code(
                ctx.platform,
                ctx.actor,
                org_id=ctx.org.id,
                achievement_id=fields.get("achievement_id", "")[:36],
                label=fields.get("label", ""),
                starts_at=_moment(fields.get("starts_at", ""), "starts_at", _),
                ends_at=_moment(fields.get("ends_at", ""), "ends_at", _),
                max_uses=int(uses) if uses.isdigit() else None,
                allowed_domain=fields.get("allowed_domain", "").strip() or None,
            )
        )
    except MeritoError as e:
        key = (
            e.property
            if e.property
            in ("label", "starts_at", "ends_at", "max_uses", "allowed_domain", "achievement_id")
            else "form"
        )
        return _codes(ctx, errors={key: _message(e, _)}, form=fields, status=422)
    return see_other(ctx.page, ctx.url(f"/claim-codes?created={made.id}"))


@router.post(STUDIO + "/{slug}/claim-codes/{code_id}/deactivate")
async def codes_deactivate(request: Request, slug: str, code_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    fields = await _form(request)
    if fields is None:
        return _codes(ctx, errors={"form": csrf_error(ctx.page.gettext)}, status=403)
    try:
        claim_codes.deactivate_claim_code(
            ctx.platform, ctx.actor, org_id=ctx.org.id, code_id=code_id[:36]
        )
    except MeritoError as e:
        return refused(ctx, e, section="claim-codes")
    return see_other(ctx.page, ctx.url("/claim-codes"))


@router.get(STUDIO + "/{slug}/claim-codes/{code_id}/qr.{kind}")
def codes_qr(request: Request, slug: str, code_id: str, kind: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    if kind not in ("svg", "png"):
        return render(ctx.page, "not_found.html", {}, status=404)
    try:
        media_type, data = claim_codes.claim_code_qr(
            ctx.platform,
            ctx.actor,
            org_id=ctx.org.id,
            code_id=code_id[:36],
            kind="svg" if kind == "svg" else "png",
        )
    except MeritoError as e:
        return refused(ctx, e, section="claim-codes")
    return Response(data, media_type=media_type, headers={"Cache-Control": "private"})


# --- public: claim by code ----------------------------------------------------------------------


def _claim_page(
    page: Page,
    code: str,
    *,
    error: str | None = None,
    sent: bool = False,
    email: str = "",
    status: int = 200,
) -> Response:
    try:
        info = claim_codes.public_claim_code(
            session.get_platform(page.request), code, ip=session.client_ip(page.request)
        )
    except RateLimited as e:
        return _claim_limited(page, e)
    except MeritoError:
        return render(page, "not_found.html", {}, status=404)
    values = {"info": info, "error": error, "sent": sent, "email": email}
    return render(page, "assessment/claim_code.html", values, status=status)


def _claim_limited(page: Page, error: RateLimited) -> Response:
    """Too many unknown codes or links from this address: nothing about the code is shown."""
    _ = page.gettext
    wait = max(1, round(error.retry_after or 60))
    message = _(
        "Too many unknown claim codes or links were tried from your connection. "
        "Wait %(minutes)s min and try again."
    ) % {"minutes": max(1, round(wait / 60))}
    response = render(page, "assessment/claim_limited.html", {"message": message}, status=429)
    response.headers["Retry-After"] = str(wait)
    return response


@router.get("/claim-code/{code}")
def claim_code_page(request: Request, code: str) -> Response:
    return _claim_page(page_for(request), code[:40])


@router.post("/claim-code/{code}")
async def claim_code_request(request: Request, code: str) -> Response:
    page = page_for(request)
    _ = page.gettext
    code = code[:40]
    fields = await _form(request)
    if fields is None:
        return _claim_page(page, code, error=csrf_error(_), status=403)
    email = fields.get("email", "")[:320]
    try:
        await run_in_threadpool(
            lambda: claim_codes.request_claim(
                session.get_platform(request),
                code=code,
                email=email,
                ip=request.client.host if request.client else None,
            )
        )
    except claim_codes.TooManyFailures as e:
        return _claim_limited(page, e)
    except RateLimited as e:
        response = _claim_page(
            page,
            code,
            error=_("Too many attempts. Please try again later."),
            email=email,
            status=429,
        )
        response.headers["Retry-After"] = str(max(1, round(e.retry_after or 60)))
        return response
    except NotFound as e:
        if e.property == "code":  # counted once already: no second lookup
            return render(page, "not_found.html", {}, status=404)
        return _claim_page(page, code, error=_message(e, _), email=email, status=422)
    except MeritoError as e:
        return _claim_page(page, code, error=_message(e, _), email=email, status=422)
    return _claim_page(page, code, sent=True, email=email)


@router.get("/claim-code/{code}/confirm")
def claim_code_confirm_page(request: Request, code: str) -> Response:
    """The link in the email: a GET only shows the button (mail scanners open links)."""
    page = page_for(request)
    values = {"code": code[:40], "token": request.query_params.get("token", "")[:200]}
    return render(page, "assessment/claim_confirm.html", {**values, "record": None, "error": None})


@router.post("/claim-code/{code}/confirm")
async def claim_code_confirm(request: Request, code: str) -> Response:
    page = page_for(request)
    _ = page.gettext
    fields = await _form(request)
    values: dict[str, Any] = {"code": code[:40], "token": "", "record": None, "error": None}
    if fields is None:
        return render(
            page, "assessment/claim_confirm.html", {**values, "error": csrf_error(_)}, status=403
        )
    token = fields.get("token", "")[:200]
    values["token"] = token
    try:
        record = await run_in_threadpool(
            lambda: claim_codes.confirm_claim(
                session.get_platform(request),
                code=code[:40],
                token=token,
                ip=request.client.host if request.client else None,
            )
        )
    except RateLimited as e:
        return _claim_limited(page, e)
    except MeritoError as e:
        return render(
            page, "assessment/claim_confirm.html", {**values, "error": e.message}, status=422
        )
    return render(page, "assessment/claim_confirm.html", {**values, "record": record})
