"""Sign-in and sign-out pages, and the administrator's account pages.

The account pages are thin: parse the form, call a service with the signed-in administrator,
render. A refused form is shown again with each reason beside its field, in the reader's
language, and nothing is written.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from retribusi.auth.access import authenticated, current_account, public, roles_required
from retribusi.auth.forms import (
    ActiveForm,
    EditUserForm,
    NewUserForm,
    SecretForm,
    StaffLoginForm,
    VendorLoginForm,
)
from retribusi.auth.models import Role, User
from retribusi.auth.services import (
    N_,
    AccountConflict,
    AccountInvalid,
    FieldProblem,
    authenticate,
    create_user,
    get_user,
    known_market_codes,
    list_users,
    reset_secret,
    set_active,
    update_user,
)
from retribusi.db import parse_id
from retribusi.errors import DomainError
from retribusi.extensions import limiter
from retribusi.web import FieldErrors, submit_form

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _safe_next(target: str | None) -> str:
    # Only a path on this site: an open redirect after login is a phishing tool.
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.home")


def _finish(form_ok: bool, login: str, secret: str, *, vendor: bool) -> ResponseReturnValue | None:
    if request.method != "POST":
        return None
    result = authenticate(login, secret, vendor=vendor) if form_ok else None
    if result is None or result.user is None:
        # One message for every failure: it must not tell which accounts exist.
        flash(_("Login failed: check the name or number and the password or PIN."), "error")
        return None
    login_user(result.user)
    return redirect(_safe_next(request.args.get("next")))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def login() -> ResponseReturnValue:
    form = StaffLoginForm()
    done = _finish(
        form.validate_on_submit(), form.username.data or "", form.password.data or "", vendor=False
    )
    if done is not None:
        return done
    status = 401 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, vendor=False), status


@bp.route("/login/pedagang", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def vendor_login() -> ResponseReturnValue:
    form = VendorLoginForm()
    done = _finish(
        form.validate_on_submit(), form.phone.data or "", form.pin.data or "", vendor=True
    )
    if done is not None:
        return done
    status = 401 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, vendor=True), status


@bp.route("/logout", methods=["POST"])
@authenticated
def logout() -> ResponseReturnValue:
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


# --- the administrator's account pages ---------------------------------------------------------

# The services name the secret after the role ("pin", "password"); the forms have one field.
_FIELD_OF = {"pin": "secret", "password": "secret"}


def _errors(error: DomainError) -> FieldErrors | None:
    if not isinstance(error, AccountInvalid | AccountConflict):
        return None
    found: FieldErrors = {}
    for problem in error.problems:
        found.setdefault(_FIELD_OF.get(problem.field, problem.field), []).append(
            problem.localized()
        )
    return found


def _submit(
    form: Any, work: Callable[[], ResponseReturnValue]
) -> tuple[ResponseReturnValue | None, FieldErrors, int]:
    return submit_form(form, work, _errors)


def _same_twice(secret: str, confirm: str) -> None:
    if not secrets.compare_digest(secret.encode(), confirm.encode()):
        raise AccountInvalid(FieldProblem("confirm", N_("the two entries differ")))


@bp.route("/admin/pengguna")
@roles_required(Role.ADMIN)
def users() -> ResponseReturnValue:
    number = parse_id(request.args.get("page"), maximum=99_999) or 1
    return render_template("auth/users.html", results=list_users(page=number))


@bp.route("/admin/pengguna/baru", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new_user() -> ResponseReturnValue:
    form = NewUserForm()
    markets = known_market_codes()

    def work() -> ResponseReturnValue:
        try:
            role = Role(form.role.data or "")
        except ValueError:
            raise AccountInvalid(FieldProblem("role", N_("choose a role"))) from None
        vendor = role is Role.VENDOR
        _same_twice(form.secret.data or "", form.confirm.data or "")
        user = create_user(
            role=role,
            full_name=form.full_name.data or "",
            username=None if vendor else (form.username.data or "").strip(),
            phone=(form.phone.data or "") if vendor else None,
            market_codes=(form.markets.data or []) if role is Role.OFFICER else [],
            known_markets=markets,
            secret=form.secret.data or "",
            actor=f"user:{current_account().id}",
        )
        flash(_("Account %(login)s created.", login=user.login_name), "info")
        return redirect(url_for("auth.user_page", user_id=user.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    return render_template("auth/user_new.html", form=form, errors=errors, markets=markets), status


def _account_page(
    user: User, form: EditUserForm, errors: FieldErrors, status: int, *, edited: bool = False
) -> ResponseReturnValue:
    markets = known_market_codes()
    chosen = set(form.markets.data or []) if edited else user.market_codes
    return render_template(
        "auth/user.html",
        account=user,
        form=form,
        errors=errors,
        markets=markets,
        chosen=chosen,
        active_form=ActiveForm(formdata=None),
        is_me=user.id == current_account().id,
    ), status


@bp.route("/admin/pengguna/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_page(user_id: int) -> ResponseReturnValue:
    user = get_user(user_id)
    form = EditUserForm(full_name=user.full_name)

    def work() -> ResponseReturnValue:
        update_user(
            user.id,
            full_name=form.full_name.data or "",
            market_codes=(form.markets.data or []) if user.role is Role.OFFICER else [],
            known_markets=known_market_codes(),
            by=current_account(),
        )
        flash(_("Changes saved."), "info")
        return redirect(url_for("auth.user_page", user_id=user.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    return _account_page(user, form, errors, status, edited=request.method == "POST")


@bp.route("/admin/pengguna/<int:user_id>/aktif", methods=["POST"])
@roles_required(Role.ADMIN)
def user_active(user_id: int) -> ResponseReturnValue:
    user = get_user(user_id)
    form = ActiveForm()
    activate = not user.active

    def work() -> ResponseReturnValue:
        set_active(user.id, active=activate, by=current_account())
        if activate:
            flash(_("Account %(login)s can sign in again.", login=user.login_name), "info")
        else:
            flash(_("Account %(login)s can no longer sign in.", login=user.login_name), "info")
        return redirect(url_for("auth.user_page", user_id=user.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    return _account_page(
        user, EditUserForm(formdata=None, full_name=user.full_name), errors, status
    )


@bp.route("/admin/pengguna/<int:user_id>/sandi", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_secret(user_id: int) -> ResponseReturnValue:
    user = get_user(user_id)
    form = SecretForm()

    def work() -> ResponseReturnValue:
        reset_secret(user.id, form.secret.data or "", form.confirm.data or "", by=current_account())
        if user.role is Role.VENDOR:
            flash(_("The PIN of %(login)s was reset.", login=user.login_name), "info")
        else:
            flash(_("The password of %(login)s was reset.", login=user.login_name), "info")
        return redirect(url_for("auth.user_page", user_id=user.id))

    done, errors, status = _submit(form, work)
    if done is not None:
        return done
    vendor = user.role is Role.VENDOR
    return render_template(
        "auth/user_secret.html", account=user, form=form, errors=errors, vendor=vendor
    ), status
