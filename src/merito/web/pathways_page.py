"""Studio pathways editor and the learner's pathway progress.

The editor works without JavaScript: a pathway's requirement is a top-level group (all, any or
N of M, with optional minimum hours and time window) over achievements ticked directly and up
to ``GROUPS`` sub-groups, each with its own kind, N, hours and ticked achievements. Deeper trees
(made through the API) are shown and kept, and edited through the API. The pathway page shows
the completion funnel and the awards (flagged ones can be kept). ``/wallet/pathways`` shows a
learner what is done and what is left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from merito.errors import Conflict, InvalidInput, MeritoError, NotFound, PermissionDenied
from merito.services import catalog, pathways
from merito.web import session
from merito.web.i18n import Gettext
from merito.web.pages import csrf_error, see_other
from merito.web.rendering import page_for, render
from merito.web.studio import STUDIO, StudioContext, refused, studio_context

router = APIRouter(include_in_schema=False)

GROUPS: Final = 3
_KINDS: Final = ("all", "any", "n_of")
_MAX: Final = 200
SECTION: Final = "pathways"


# --- the form <-> the requirement tree -----------------------------------------------------------


def _empty_group() -> dict[str, Any]:
    return {
        "kind": "all",
        "n": "",
        "min_hours": "",
        "within_days": "",
        "earned_after": "",
        "ids": [],
    }


def _number_text(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _group_values(node: Mapping[str, Any]) -> dict[str, Any]:
    after = node.get("earned_after") or ""
    return {
        "kind": node.get("kind", "all"),
        "n": _number_text(node.get("n")),
        "min_hours": _number_text(node.get("min_hours")),
        "within_days": _number_text(node.get("within_days")),
        "earned_after": str(after)[:10],
        "ids": [],
    }


def _form_values(view: pathways.PathwayView | None) -> dict[str, Any]:
    """The form's values for a pathway; ``editable`` False for a tree the form cannot show."""
    if view is None:
        return {
            "achievement_id": "",
            "policy": "flag",
            "trusted": "",
            "root": _empty_group(),
            "groups": [_empty_group() for _ in range(GROUPS)],
            "editable": True,
        }
    tree = view.requirement
    root = _group_values(tree)
    groups: list[dict[str, Any]] = []
    editable = True
    for child in tree.get("children", []):
        if child.get("kind") == "achievement":
            root["ids"].append(child["achievement_id"])
            continue
        group = _group_values(child)
        for grandchild in child.get("children", []):
            if grandchild.get("kind") != "achievement":
                editable = False
            else:
                group["ids"].append(grandchild["achievement_id"])
        groups.append(group)
    if len(groups) > GROUPS:
        editable = False
    groups += [_empty_group() for _ in range(max(0, GROUPS - len(groups)))]
    return {
        "achievement_id": view.achievement_id,
        "policy": view.revocation_policy,
        "trusted": ", ".join(t["id"] for t in view.trusted_issuers),
        "root": root,
        "groups": groups,
        "editable": editable,
    }


def _read_group(form: FormData, prefix: str) -> dict[str, Any]:
    return {
        "kind": str(form.get(f"{prefix}_kind", "all"))[:_MAX],
        "n": str(form.get(f"{prefix}_n", "")).strip()[:_MAX],
        "min_hours": str(form.get(f"{prefix}_min_hours", "")).strip()[:_MAX],
        "within_days": str(form.get(f"{prefix}_within_days", "")).strip()[:_MAX],
        "earned_after": str(form.get(f"{prefix}_earned_after", "")).strip()[:_MAX],
        "ids": [str(v)[:_MAX] for v in form.getlist(f"{prefix}_ids")][:_MAX],
    }


def _node(
    values: Mapping[str, Any],
    children: list[dict[str, Any]],
    *,
    prop: str,
    errors: dict[str, str],
    _: Gettext,
) -> dict[str, Any]:
    kind = values["kind"] if values["kind"] in _KINDS else "all"
    node: dict[str, Any] = {"kind": kind, "children": children}
    if kind == "n_of":
        try:
            node["n"] = int(values["n"])
        except ValueError:
            errors[f"{prop}_n"] = _("Enter how many are needed, like 2.")
    if values["min_hours"]:
        try:
            node["min_hours"] = float(values["min_hours"].replace(",", "."))
        except ValueError:
            errors[f"{prop}_min_hours"] = _("Enter a number of hours, like 12 or 1.5.")
    if values["within_days"]:
        try:
            node["within_days"] = int(values["within_days"])
        except ValueError:
            errors[f"{prop}_within_days"] = _("Enter a whole number of days, like 365.")
    if values["earned_after"]:
        node["earned_after"] = values["earned_after"]
    return node


def _tree(form: Mapping[str, Any], _: Gettext) -> tuple[dict[str, Any], dict[str, str]]:
    """The requirement tree the form describes, and the form's own errors."""
    errors: dict[str, str] = {}
    children: list[dict[str, Any]] = [
        {"kind": "achievement", "achievement_id": a} for a in form["root"]["ids"]
    ]
    for i, group in enumerate(form["groups"]):
        if not group["ids"]:
            continue
        leaves = [{"kind": "achievement", "achievement_id": a} for a in group["ids"]]
        children.append(_node(group, leaves, prop=f"g{i}", errors=errors, _=_))
    if not children:
        errors["root_ids"] = _("Tick at least one achievement the pathway requires.")
    return _node(form["root"], children, prop="root", errors=errors, _=_), errors


def _service_error(error: MeritoError, form: Mapping[str, Any], _: Gettext) -> dict[str, str]:
    """A service refusal placed next to the field it is about (the property names the node)."""
    prop = error.property or ""
    if prop.startswith("requirement"):
        rest = prop[len("requirement") :]
        # requirement.children[k]... -> which part of the form made that child
        direct = len(form["root"]["ids"])
        field = "root_ids"
        if rest.startswith(".children["):
            index = int(rest[len(".children[") :].split("]", 1)[0])
            if index >= direct:
                used = [i for i, g in enumerate(form["groups"]) if g["ids"]]
                k = used[index - direct] if index - direct < len(used) else 0
                tail = rest.split("]", 1)[1]
                member = tail.lstrip(".").split(".")[0] if tail else ""
                field = (
                    f"g{k}_{member}"
                    if member in ("n", "min_hours", "within_days", "earned_after")
                    else f"g{k}_ids"
                )
        else:
            member = rest.lstrip(".")
            if member in ("n", "min_hours", "within_days", "earned_after"):
                field = f"root_{member}"
        return {
            field: error.message,
            "form": _("The pathway was not saved: see the highlighted parts."),
        }
    if prop.startswith("trusted_issuers"):
        return {"trusted": error.message}
    if prop == "achievement_id":
        return {"achievement_id": error.message}
    return {"form": error.message}


# --- rendering ------------------------------------------------------------------------------------


def _choices(
    ctx: StudioContext, view: pathways.PathwayView | None
) -> tuple[list[Any], list[Any], list[Any]]:
    """The organisation's achievements (the pathway's own choice), those it may require (not
    the pathway's own), and the constituents of trusted issuers already in the pathway."""
    mine = [
        a
        for a in catalog.list_achievements(ctx.platform, ctx.actor, org_id=ctx.org.id, limit=500)
        if a.status != "archived"
    ]
    own = [a for a in mine if view is None or a.id != view.achievement_id]
    foreign = [c for c in (view.constituents if view else []) if c.org_id != ctx.org.id]
    return mine, own, foreign


def _render(
    ctx: StudioContext,
    *,
    form: Mapping[str, Any],
    errors: Mapping[str, str],
    view: pathways.PathwayView | None,
    status: int = 200,
) -> Response:
    _ = ctx.page.gettext
    mine, own, foreign = _choices(ctx, view)
    values = ctx.values(
        SECTION,
        form=form,
        errors=errors,
        pathway=view,
        mine=mine,
        own=own,
        foreign=foreign,
        kinds=[("all", _("All of them")), ("any", _("Any one of them")), ("n_of", _("N of them"))],
        notice=ctx.page.request.query_params.get("notice"),
        funnel=None,
        awards=[],
    )
    if view is not None:
        try:
            values["funnel"] = pathways.funnel(
                ctx.platform, ctx.actor, org_id=ctx.org.id, pathway_id=view.id
            )
        except PermissionDenied:
            values["funnel"] = None
        values["awards"] = pathways.list_awards(
            ctx.platform, ctx.actor, org_id=ctx.org.id, pathway_id=view.id
        )
    return render(ctx.page, "studio/pathway_form.html", values, status=status)


async def _read(request: Request) -> tuple[dict[str, Any], str]:
    form = await request.form()
    values: dict[str, Any] = {
        "achievement_id": str(form.get("achievement_id", ""))[:_MAX],
        "policy": str(form.get("policy", "flag"))[:_MAX],
        "trusted": str(form.get("trusted", ""))[:2000],
        "root": _read_group(form, "root"),
        "groups": [_read_group(form, f"g{i}") for i in range(GROUPS)],
        "editable": True,
    }
    return values, str(form.get(session.CSRF_FIELD, ""))


def _trusted_list(text: str) -> list[str]:
    return [t.strip() for t in text.replace("\n", ",").split(",") if t.strip()]


# --- studio routes --------------------------------------------------------------------------------


@router.get(STUDIO + "/{slug}/pathways")
def pathways_list(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    try:
        found = pathways.list_pathways(ctx.platform, ctx.actor, org_id=ctx.org.id)
        awards = pathways.list_awards(ctx.platform, ctx.actor, org_id=ctx.org.id)
    except PermissionDenied as e:
        return refused(ctx, e, section=SECTION)
    counts: dict[str, dict[str, int]] = {}
    for award in awards:
        per = counts.setdefault(award.pathway_id, {"awarded": 0, "flagged": 0, "revoked": 0})
        per[award.status] += 1
    values = ctx.values(SECTION, pathways=found, counts=counts)
    return render(ctx.page, "studio/pathways.html", values)


@router.get(STUDIO + "/{slug}/pathways/new")
def pathway_new(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    return _render(ctx, form=_form_values(None), errors={}, view=None)


@router.post(STUDIO + "/{slug}/pathways/new")
async def pathway_create(request: Request, slug: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    form, token = await _read(request)
    if not session.csrf_matches(request, token):
        return _render(ctx, form=form, errors={"form": csrf_error(_)}, view=None, status=403)
    tree, errors = _tree(form, _)
    if not form["achievement_id"]:
        errors["achievement_id"] = _("Choose the achievement learners earn when they complete it.")
    if errors:
        errors.setdefault("form", _("The pathway was not saved: see the highlighted parts."))
        return _render(ctx, form=form, errors=errors, view=None, status=422)
    try:
        made = pathways.create_pathway(
            ctx.platform,
            ctx.actor,
            org_id=ctx.org.id,
            achievement_id=form["achievement_id"],
            requirement=tree,
            revocation_policy=form["policy"],
            trusted_issuers=_trusted_list(form["trusted"]),
        )
    except PermissionDenied as e:
        return refused(ctx, e, section=SECTION)
    except (InvalidInput, Conflict, NotFound) as e:
        return _render(ctx, form=form, errors=_service_error(e, form, _), view=None, status=422)
    return see_other(ctx.page, ctx.url(f"/pathways/{made.id}?notice=created"))


def _load(ctx: StudioContext, pathway_id: str) -> pathways.PathwayView | Response:
    try:
        return pathways.get_pathway(
            ctx.platform, ctx.actor, org_id=ctx.org.id, pathway_id=pathway_id
        )
    except (NotFound, PermissionDenied) as e:
        return refused(ctx, e, section=SECTION)


@router.get(STUDIO + "/{slug}/pathways/{pathway_id}")
def pathway_page(request: Request, slug: str, pathway_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    view = _load(ctx, pathway_id)
    if isinstance(view, Response):
        return view
    return _render(ctx, form=_form_values(view), errors={}, view=view)


@router.post(STUDIO + "/{slug}/pathways/{pathway_id}")
async def pathway_update(request: Request, slug: str, pathway_id: str) -> Response:
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    _ = ctx.page.gettext
    view = _load(ctx, pathway_id)
    if isinstance(view, Response):
        return view
    form, token = await _read(request)
    form["achievement_id"] = view.achievement_id
    if not session.csrf_matches(request, token):
        return _render(ctx, form=form, errors={"form": csrf_error(_)}, view=view, status=403)
    editable = _form_values(view)["editable"]
    tree, errors = _tree(form, _) if editable else (None, {})
    if errors:
        errors.setdefault("form", _("The pathway was not saved: see the highlighted parts."))
        return _render(ctx, form=form, errors=errors, view=view, status=422)
    try:
        pathways.update_pathway(
            ctx.platform,
            ctx.actor,
            org_id=ctx.org.id,
            pathway_id=view.id,
            requirement=tree,
            revocation_policy=form["policy"],
            trusted_issuers=_trusted_list(form["trusted"]),
        )
    except PermissionDenied as e:
        return refused(ctx, e, section=SECTION)
    except (InvalidInput, Conflict, NotFound) as e:
        return _render(ctx, form=form, errors=_service_error(e, form, _), view=view, status=422)
    return see_other(ctx.page, ctx.url(f"/pathways/{view.id}?notice=saved"))


@router.post(STUDIO + "/{slug}/pathways/{pathway_id}/{action}")
def pathway_action(
    request: Request,
    slug: str,
    pathway_id: str,
    action: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Publish, archive, or award every learner who already satisfies the pathway."""
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    operations = {
        "publish": pathways.publish_pathway,
        "archive": pathways.archive_pathway,
        "award": pathways.award_eligible,
    }
    operation = operations.get(action)
    if operation is None:
        return render(ctx.page, "not_found.html", {}, status=404)
    if not session.csrf_matches(request, csrf_token):
        return refused(ctx, Conflict(csrf_error(ctx.page.gettext)), section=SECTION)
    try:
        result = operation(ctx.platform, ctx.actor, org_id=ctx.org.id, pathway_id=pathway_id)
    except (NotFound, PermissionDenied, Conflict, InvalidInput) as e:
        return refused(ctx, e, section=SECTION)
    notice = {"publish": "published", "archive": "archived"}.get(action)
    if notice is None:
        notice = f"awarded-{len(result) if isinstance(result, list) else 0}"
    return see_other(ctx.page, ctx.url(f"/pathways/{pathway_id}?notice={notice}"))


@router.post(STUDIO + "/{slug}/pathway-awards/{award_id}/resolve")
def award_resolve(
    request: Request,
    slug: str,
    award_id: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Keep a flagged award (its credential stays valid)."""
    ctx = studio_context(request, slug)
    if isinstance(ctx, Response):
        return ctx
    if not session.csrf_matches(request, csrf_token):
        return refused(ctx, Conflict(csrf_error(ctx.page.gettext)), section=SECTION)
    try:
        award = pathways.resolve_award(
            ctx.platform, ctx.actor, org_id=ctx.org.id, award_id=award_id
        )
    except (NotFound, PermissionDenied, Conflict) as e:
        return refused(ctx, e, section=SECTION)
    return see_other(ctx.page, ctx.url(f"/pathways/{award.pathway_id}?notice=kept"))


# --- the learner ----------------------------------------------------------------------------------


@router.get("/wallet/pathways")
def my_pathways_page(request: Request) -> Response:
    page = page_for(request)
    actor = page.viewer.actor
    if actor is None:
        return see_other(page, "/login?next=/wallet/pathways")
    found = pathways.my_pathways(session.get_platform(request), actor)
    return render(page, "learner/pathways.html", {"progress": found, "section": "pathways"})
