"""The studio's issuing pages: issue one credential, bulk CSV with live progress, the list of
issued credentials with revoke/suspend, and the organisation's API keys.

A bulk file is issued in a background thread of this process (the same service code as the
CLI and the API, idempotent by the file's SHA-256): the page polls the job (htmx every second,
or a refresh without JavaScript) for its progress and per-row results. A job lives in memory
only; if the server restarts mid-file, uploading the same file again resumes it without issuing
anything twice.
"""

from __future__ import annotations

import io
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

from merito.errors import Conflict, InvalidInput, MeritoError, NotFound, PermissionDenied
from merito.services import accounts, catalog, credentials
from merito.services.credentials import BulkProgress, BulkRowResult
from merito.services.platform import Actor, Permission, Platform
from merito.web import session
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import page_for, render
from merito.web.studio import STUDIO, StudioContext, refused, studio_context

__all__ = ["BulkJob", "router"]

router = APIRouter(include_in_schema=False)

MAX_BULK_UPLOAD: Final = 10 * 1024 * 1024  # as the API; bigger files go through the CLI
_PAGE_SIZE: Final = 25
#: the per-row results a job keeps for its page (every rejected row is kept)
_RECENT_ROWS: Final = 200
_MAX_JOBS: Final = 100
#: the scopes a key can be given from the studio (each a Permission the creator holds)
KEY_SCOPES: Final = tuple(p.value for p in Permission if p is not Permission.ORG_DELETE)


# --- issue one --------------------------------------------------------------------------------


def _published(ctx: StudioContext) -> list[catalog.AchievementView]:
    return catalog.list_achievements(
        ctx.platform, ctx.actor, org_id=ctx.org.id, status="published", limit=500
    )


def _issue_form(
    ctx: StudioContext,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    issued: credentials.CredentialRecord | None = None,
    status: int = 200,
) -> Response:
    try:
        published = _published(ctx)
    except PermissionDenied as e:
        return refused(ctx, e, section="issue")
    more = ctx.values("issue", form=values, errors=errors, published=published, issued=issued)
    return render(ctx.page, "studio/issue.html", more, status=status)


@router.get(STUDIO + "/{slug}/issue")
def issue_page(request: Request, slug: str, achievement_id: str = "") -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    values = {
        "achievement_id": achievement_id[:36],
        "recipient": "",
        "valid_until": "",
        "evidence_url": "",
        "evidence_narrative": "",
        "notify": "1",
    }
    return _issue_form(ctx, values=values, errors={})


def _valid_until(text: str) -> datetime | None:
    """A date (``YYYY-MM-DD``, the end of that day in UTC) or nothing."""
    if not text.strip():
        return None
    day = datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    return day + timedelta(hours=23, minutes=59, seconds=59)


@router.post(STUDIO + "/{slug}/issue")
def issue_submit(
    request: Request,
    slug: str,
    achievement_id: Annotated[str, Form(max_length=36)] = "",
    recipient: Annotated[str, Form(max_length=500)] = "",
    valid_until: Annotated[str, Form(max_length=20)] = "",
    evidence_url: Annotated[str, Form(max_length=2000)] = "",
    evidence_narrative: Annotated[str, Form(max_length=10_000)] = "",
    notify: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    values = {
        "achievement_id": achievement_id,
        "recipient": recipient,
        "valid_until": valid_until,
        "evidence_url": evidence_url,
        "evidence_narrative": evidence_narrative,
        "notify": "1" if notify else "",
    }
    if not session.csrf_matches(request, csrf_token):
        return _issue_form(ctx, values=values, errors={"form": csrf_error(_)}, status=403)
    errors: dict[str, str] = {}
    if not achievement_id:
        errors["achievement_id"] = _("Choose the achievement to issue.")
    if not recipient.strip():
        errors["recipient"] = _("Enter the recipient's email address (or DID).")
    until: datetime | None = None
    try:
        until = _valid_until(valid_until)
    except ValueError:
        errors["valid_until"] = _("Enter a date like 2027-12-31.")
    if evidence_url and not evidence_url.startswith(("https://", "http://")):
        errors["evidence_url"] = _("Enter a web address starting with https://")
    if errors:
        return _issue_form(ctx, values=values, errors=errors, status=422)
    evidence: list[dict[str, Any]] = []
    if evidence_url or evidence_narrative.strip():
        item: dict[str, Any] = {}
        if evidence_url:
            item["id"] = evidence_url
        if evidence_narrative.strip():
            item["narrative"] = evidence_narrative.strip()
        evidence.append(item)
    try:
        record = credentials.issue_credential(
            ctx.platform,
            ctx.actor,
            org_id=ctx.org.id,
            achievement_id=achievement_id,
            recipient=recipient,
            valid_until=until,
            evidence=evidence,
            notify=bool(notify),
        )
    except PermissionDenied as e:
        return refused(ctx, e, section="issue")
    except (InvalidInput, Conflict, NotFound) as e:
        prop = e.property or ""
        target = {
            "recipient": "recipient",
            "achievement_id": "achievement_id",
            "valid_until": "valid_until",
            "validUntil": "valid_until",
        }.get(prop.split(".", 1)[0], "evidence_url" if prop.startswith("evidence") else "form")
        return _issue_form(ctx, values=values, errors={target: e.message}, status=422)
    return see_other(ctx.page, ctx.url(f"/credentials/{record.id}?notice=issued"))


# --- bulk -------------------------------------------------------------------------------------


@dataclass
class BulkJob:
    """One uploaded file being issued; read by the polling page, written by its thread."""

    id: str
    org_id: str
    user_id: str | None
    filename: str
    started_at: datetime
    progress: BulkProgress = field(default_factory=lambda: BulkProgress(0, 0, 0, 0))
    recent: deque[BulkRowResult] = field(default_factory=lambda: deque(maxlen=_RECENT_ROWS))
    rejected: list[BulkRowResult] = field(default_factory=list)
    finished_at: datetime | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    def record(self, result: BulkRowResult) -> None:
        with self.lock:
            self.recent.appendleft(result)
            if result.outcome == "rejected":
                self.rejected.append(result)
            issued, duplicates, rejected = (
                self.progress.issued,
                self.progress.duplicates,
                self.progress.rejected,
            )
            if result.outcome == "issued":
                issued += 1
            elif result.outcome == "duplicate":
                duplicates += 1
            else:
                rejected += 1
            self.progress = BulkProgress(
                issued + duplicates + rejected, issued, duplicates, rejected
            )

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "progress": self.progress,
                "recent": list(self.recent)[:50],
                "rejected": list(self.rejected),
                "done": self.done,
                "error": self.error,
            }


def _jobs(request: Request) -> dict[str, BulkJob]:
    state = request.app.state
    jobs: dict[str, BulkJob] | None = getattr(state, "studio_bulk_jobs", None)
    if jobs is None:
        jobs = {}
        state.studio_bulk_jobs = jobs
    return jobs


def _run(
    job: BulkJob, platform: Platform, actor: Actor, text: str, job_key: str, **options: Any
) -> None:
    try:
        for result in credentials.iter_bulk(
            platform,
            actor,
            org_id=job.org_id,
            lines=io.StringIO(text, newline=""),
            job_key=job_key,
            file_format="csv",
            **options,
        ):
            job.record(result)
    except MeritoError as e:
        job.error = e.message
    except Exception:
        job.error = "the bulk job stopped unexpectedly; upload the same file again to resume"
    finally:
        job.finished_at = datetime.now(UTC)


def _bulk_page(
    ctx: StudioContext, *, errors: dict[str, str], values: dict[str, str], status: int = 200
) -> Response:
    try:
        published = _published(ctx)
    except PermissionDenied as e:
        return refused(ctx, e, section="bulk")
    more = ctx.values(
        "bulk",
        errors=errors,
        form=values,
        published=published,
        columns=",".join(credentials.BULK_COLUMNS),
    )
    return render(ctx.page, "studio/bulk.html", more, status=status)


@router.get(STUDIO + "/{slug}/bulk")
def bulk_page(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _bulk_page(ctx, errors={}, values={"achievement_id": "", "notify": "1"})


@router.post(STUDIO + "/{slug}/bulk")
async def bulk_submit(
    request: Request,
    slug: str,
    file: Annotated[UploadFile | None, File()] = None,
    achievement_id: Annotated[str, Form(max_length=36)] = "",
    notify: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    values = {"achievement_id": achievement_id, "notify": "1" if notify else ""}
    if not session.csrf_matches(request, csrf_token):
        return _bulk_page(ctx, errors={"form": csrf_error(_)}, values=values, status=403)
    data = await file.read(MAX_BULK_UPLOAD + 1) if file is not None else b""
    if not data:
        return _bulk_page(ctx, errors={"file": _("Choose a CSV file.")}, values=values, status=422)
    if len(data) > MAX_BULK_UPLOAD:
        message = _("The file is over 10 MB: use the command line (merito credentials issue-bulk).")
        return _bulk_page(ctx, errors={"file": message}, values=values, status=413)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        message = _("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")
        return _bulk_page(ctx, errors={"file": message}, values=values, status=422)
    actor = ctx.actor
    jobs = _jobs(request)
    if len(jobs) >= _MAX_JOBS:  # forget the oldest finished jobs
        for key in sorted((k for k, j in jobs.items() if j.done), key=lambda k: jobs[k].started_at)[
            : len(jobs) - _MAX_JOBS + 1
        ]:
            jobs.pop(key, None)
    job = BulkJob(
        id=secrets.token_urlsafe(12),
        org_id=ctx.org.id,
        user_id=actor.user_id,
        filename=(file.filename or "upload.csv")[:200] if file is not None else "upload.csv",
        started_at=datetime.now(UTC),
    )
    jobs[job.id] = job
    thread = threading.Thread(
        target=_run,
        args=(job, ctx.platform, actor, text, credentials.job_key_of(data)),
        kwargs={
            "default_achievement_id": achievement_id or None,
            "notify": bool(notify),
        },
        name=f"merito-bulk-{job.id}",
        daemon=True,
    )
    thread.start()
    return see_other(ctx.page, ctx.url(f"/bulk/{job.id}"))


@router.get(STUDIO + "/{slug}/bulk/{job_id}")
def bulk_job(request: Request, slug: str, job_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    job = _jobs(request).get(job_id)
    if job is None or job.org_id != ctx.org.id or job.user_id != ctx.actor.user_id:
        return render(ctx.page, "not_found.html", {}, status=404)
    more = ctx.values("bulk", job=job, **job.snapshot())
    template = "studio/_bulk_progress.html" if ctx.page.htmx else "studio/bulk_job.html"
    return render(ctx.page, template, more)


# --- credentials ------------------------------------------------------------------------------


@router.get(STUDIO + "/{slug}/credentials")
def credentials_list(
    request: Request,
    slug: str,
    state: str = "",
    recipient: str = "",
    achievement_id: str = "",
    page: int = 1,
) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    chosen = state if state in credentials.CREDENTIAL_STATES else None
    number = max(1, min(page, 100_000))
    try:
        achievements = catalog.list_achievements(
            ctx.platform, ctx.actor, org_id=ctx.org.id, limit=500
        )
        found = credentials.list_credentials(
            ctx.platform,
            ctx.actor,
            org_id=ctx.org.id,
            state=chosen,
            recipient=recipient.strip()[:500] or None,
            achievement_id=achievement_id[:36] or None,
            limit=_PAGE_SIZE,
            offset=(number - 1) * _PAGE_SIZE,
        )
    except PermissionDenied as e:
        return refused(ctx, e, section="credentials")
    pages = max(1, -(-found.total // _PAGE_SIZE))
    query = {"state": chosen or "", "recipient": recipient, "achievement_id": achievement_id}
    more = ctx.values(
        "credentials",
        recent=found.items,
        total=found.total,
        page_number=number,
        pages=pages,
        filters=query,
        achievements=achievements,
        names={a.id: a.name for a in achievements},
        states=credentials.CREDENTIAL_STATES,
    )
    return render(ctx.page, "studio/credentials.html", more)


def _credential_page(
    ctx: StudioContext, credential_id: str, *, errors: dict[str, str], status: int = 200
) -> Response:
    try:
        record = credentials.get_credential(
            ctx.platform, ctx.actor, org_id=ctx.org.id, credential_id=credential_id
        )
        achievement = catalog.get_achievement(
            ctx.platform, ctx.actor, org_id=ctx.org.id, achievement_id=record.achievement_id
        )
    except (NotFound, PermissionDenied) as e:
        return refused(ctx, e, section="credentials")
    more = ctx.values(
        "credentials",
        credential=record,
        achievement=achievement,
        errors=errors,
        notice=ctx.page.request.query_params.get("notice", ""),
    )
    return render(ctx.page, "studio/credential.html", more, status=status)


@router.get(STUDIO + "/{slug}/credentials/{credential_id}")
def credential_detail(request: Request, slug: str, credential_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _credential_page(ctx, credential_id[:36], errors={})


@router.post(STUDIO + "/{slug}/credentials/{credential_id}/{action}")
def credential_action(
    request: Request,
    slug: str,
    credential_id: str,
    action: str,
    reason: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Revoke (for good, a reason required), suspend or lift a suspension."""
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    if action not in ("revoke", "suspend", "unsuspend"):
        return render(ctx.page, "not_found.html", {}, status=404)
    if not session.csrf_matches(request, csrf_token):
        return _credential_page(ctx, credential_id, errors={"form": csrf_error(_)}, status=403)
    if action == "revoke" and not reason.strip():
        errors = {"reason": _("Say why it is revoked: the reason is kept in the audit log.")}
        return _credential_page(ctx, credential_id, errors=errors, status=422)
    target = {"org_id": ctx.org.id, "credential_id": credential_id}
    try:
        if action == "revoke":
            credentials.revoke(ctx.platform, ctx.actor, **target, reason=reason)
        else:
            change = credentials.suspend if action == "suspend" else credentials.unsuspend
            change(ctx.platform, ctx.actor, **target, reason=reason or None)
    except PermissionDenied as e:
        return refused(ctx, e, section="credentials")
    except (InvalidInput, Conflict, NotFound) as e:
        return _credential_page(ctx, credential_id, errors={"form": e.message}, status=409)
    notice = {"revoke": "revoked", "suspend": "suspended", "unsuspend": "unsuspended"}[action]
    return see_other(ctx.page, ctx.url(f"/credentials/{credential_id}?notice={notice}"))


# --- API keys ---------------------------------------------------------------------------------


def _keys_page(
    ctx: StudioContext,
    *,
    errors: dict[str, str],
    values: dict[str, Any],
    created: accounts.CreatedApiKey | None = None,
    status: int = 200,
) -> Response:
    try:
        keys = accounts.list_api_keys(ctx.platform, ctx.actor, ctx.org.id)
    except PermissionDenied as e:
        return refused(ctx, e, section="api-keys")
    more = ctx.values(
        "api-keys",
        keys=keys,
        errors=errors,
        form=values,
        created=created,
        scopes=KEY_SCOPES,
        notice=ctx.page.request.query_params.get("notice", ""),
    )
    return render(ctx.page, "studio/api_keys.html", more, status=status)


@router.get(STUDIO + "/{slug}/api-keys")
def keys_page(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _keys_page(ctx, errors={}, values={"name": "", "scopes": [], "expires": ""})


@router.post(STUDIO + "/{slug}/api-keys")
async def keys_create(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    form = await request.form()
    name = str(form.get("name", ""))[:200]
    scopes = [s for s in form.getlist("scope") if isinstance(s, str)][:50]
    expires = str(form.get("expires", ""))[:20]
    values = {"name": name, "scopes": scopes, "expires": expires}
    if not session.csrf_matches(request, str(form.get(session.CSRF_FIELD, ""))):
        return _keys_page(ctx, errors={"form": csrf_error(_)}, values=values, status=403)
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = _("Name the key after what uses it, e.g. “LMS connector”.")
    if not scopes:
        errors["scopes"] = _("Give the key at least one permission.")
    expires_at: datetime | None = None
    if expires.strip():
        try:
            expires_at = _valid_until(expires)
        except ValueError:
            errors["expires"] = _("Enter a date like 2027-12-31.")
    if errors:
        return _keys_page(ctx, errors=errors, values=values, status=422)
    try:
        created = accounts.create_api_key(
            ctx.platform,
            ctx.actor,
            org_id=ctx.org.id,
            name=name,
            scopes=scopes,
            expires_at=expires_at,
        )
    except PermissionDenied as e:
        return refused(ctx, e, section="api-keys")
    except (InvalidInput, Conflict) as e:
        target = {"scopes": "scopes", "name": "name", "expires_at": "expires"}.get(
            e.property or "", "form"
        )
        return _keys_page(ctx, errors={target: e.message}, values=values, status=422)
    # the secret is shown on this response only: never in a URL, never stored
    return _keys_page(
        ctx, errors={}, values={"name": "", "scopes": [], "expires": ""}, created=created
    )


@router.post(STUDIO + "/{slug}/api-keys/{key_id}/revoke")
def keys_revoke(
    request: Request,
    slug: str,
    key_id: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    if not session.csrf_matches(request, csrf_token):
        return refused(ctx, Conflict(csrf_error(ctx.page.gettext)), section="api-keys")
    try:
        accounts.revoke_api_key(ctx.platform, ctx.actor, org_id=ctx.org.id, key_id=key_id[:64])
    except (NotFound, PermissionDenied, Conflict) as e:
        return refused(ctx, e, section="api-keys")
    return see_other(page_for(request), ctx.url("/api-keys?notice=revoked"))
