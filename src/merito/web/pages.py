"""The landing page, sign up, log in, log out and the signed-in home page.

Forms post back to their own page: on an error the page is shown again with what the person
typed (never the password) and the message beside the field it is about.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from merito.errors import Conflict, InvalidInput, MeritoError, RateLimited, Unauthenticated
from merito.services import accounts
from merito.web import session
from merito.web.i18n import Gettext
from merito.web.rendering import Page, finish, page_for, render

router = APIRouter(include_in_schema=False)

HOME_PATH: Final = "/home"
_MAX_FIELD: Final = 1024


def safe_next(value: str | None, default: str = HOME_PATH) -> str:
    """A local path to go to after login (never another site: no scheme, no //host)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 0x20 for c in value):
        return default
    return value[:2000]


def see_other(page: Page, url: str) -> Response:
    response = RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
    finish(page, response)
    return response


def csrf_error(_: Gettext) -> str:
    return _("This form has expired. Please try again.")


@router.get("/")
def landing(request: Request) -> Response:
    signed_out = request.query_params.get("signed_out") == "1"
    return render(page_for(request), "landing.html", {"signed_out": signed_out})


# --- log in --------------------------------------------------------------------------------


def _login_form(
    page: Page,
    *,
    email: str = "",
    next_url: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    values: dict[str, Any] = {"email": email, "next": next_url, "errors": errors or {}}
    return render(page, "login.html", values, status=status)


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    page = page_for(request)
    if page.viewer.signed_in:
        return see_other(page, safe_next(next))
    return _login_form(page, next_url=safe_next(next, default=""))


@router.post("/login")
def login_submit(
    request: Request,
    email: Annotated[str, Form(max_length=_MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    page = page_for(request)
    _ = page.gettext
    next_url = safe_next(next, default="")
    if not session.csrf_matches(request, csrf_token):
        return _login_form(
            page, email=email, next_url=next_url, errors={"form": csrf_error(_)}, status=403
        )
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = _("Enter your email address.")
    if not password:
        errors["password"] = _("Enter your password.")
    if errors:
        return _login_form(page, email=email, next_url=next_url, errors=errors, status=422)
    try:
        result = accounts.login(
            session.get_platform(request),
            email=email,
            password=password,
            ip=session.client_ip(request),
        )
    except RateLimited as e:
        minutes = max(1, round(e.retry_after / 60)) if e.retry_after else 1
        message = _(
            "Too many attempts to log in to this account. Wait %(minutes)s min and try again."
        ) % {"minutes": minutes}
        response = _login_form(
            page, email=email, next_url=next_url, errors={"form": message}, status=429
        )
        response.headers["Retry-After"] = str(max(1, round(e.retry_after or 60)))
        return response
    except Unauthenticated:
        return _login_form(
            page,
            email=email,
            next_url=next_url,
            errors={"password": _("The email or the password is wrong.")},
            status=401,
        )
    response = see_other(page, safe_next(next_url))
    session.set_session_cookie(response, request, token=result.token, max_age=result.max_age)
    return response


# --- sign up -------------------------------------------------------------------------------


def _signup_form(
    page: Page, *, email: str = "", errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    values = {
        "email": email,
        "errors": errors or {},
        "min_password": accounts.MIN_PASSWORD_LENGTH,
    }
    return render(page, "signup.html", values, status=status)


@router.get("/signup")
def signup_page(request: Request) -> Response:
    page = page_for(request)
    if page.viewer.signed_in:
        return see_other(page, HOME_PATH)
    return _signup_form(page)


def _signup_error(error: MeritoError, _: Gettext) -> dict[str, str]:
    if isinstance(error, Conflict):
        return {"email": _("An account with this email already exists. Log in instead.")}
    if error.property == "email":
        return {"email": _("Enter an email address like name@example.org.")}
    if error.property == "password":
        return {
            "password": _(
                "Choose a password of at least %(count)s characters (not one character repeated)."
            )
            % {"count": accounts.MIN_PASSWORD_LENGTH}
        }
    return {"form": _("Your account could not be created. Please try again.")}


@router.post("/signup")
def signup_submit(
    request: Request,
    email: Annotated[str, Form(max_length=_MAX_FIELD)] = "",
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)] = "",
    password_again: Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    page = page_for(request)
    _ = page.gettext
    if not session.csrf_matches(request, csrf_token):
        return _signup_form(page, email=email, errors={"form": csrf_error(_)}, status=403)
    if password != password_again:
        return _signup_form(
            page,
            email=email,
            errors={"password_again": _("The two passwords are not the same.")},
            status=422,
        )
    platform = session.get_platform(request)
    ip = session.client_ip(request)
    try:
        accounts.register(platform, email=email, password=password, ip=ip)
        result = accounts.login(platform, email=email, password=password, ip=ip)
    except (InvalidInput, Conflict) as e:
        return _signup_form(page, email=email, errors=_signup_error(e, _), status=422)
    except MeritoError as e:  # rate limited right after sign-up: the account exists
        return _signup_form(page, email=email, errors=_signup_error(e, _), status=422)
    response = see_other(page, HOME_PATH + "?welcome=1")
    session.set_session_cookie(response, request, token=result.token, max_age=result.max_age)
    return response


# --- log out -------------------------------------------------------------------------------


@router.post("/logout")
def logout_submit(
    request: Request, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    page = page_for(request)
    token = request.cookies.get(session.SESSION_COOKIE)
    if token and session.csrf_matches(request, csrf_token):
        accounts.logout(
            session.get_platform(request), session_token=token, ip=session.client_ip(request)
        )
    elif token and page.viewer.signed_in:
        # a cross-site post cannot log anybody out; a stale form of this site says so
        return render(
            page, "home.html", _home_values(page, error=csrf_error(page.gettext)), status=403
        )
    response = see_other(page, "/?signed_out=1")
    session.clear_session_cookie(response)
    return response


# --- home ----------------------------------------------------------------------------------


def _home_values(page: Page, *, error: str | None = None) -> dict[str, Any]:
    actor = page.viewer.actor
    organisations = (
        accounts.list_my_organisations(session.get_platform(page.request), actor)
        if actor is not None
        else []
    )
    return {
        "organisations": organisations,
        "welcome": page.request.query_params.get("welcome") == "1",
        "error": error,
    }


@router.get(HOME_PATH)
def home(request: Request) -> Response:
    page = page_for(request)
    if not page.viewer.signed_in:
        return see_other(page, "/login?next=" + HOME_PATH)
    return render(page, "home.html", _home_values(page))
