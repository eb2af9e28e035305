"""Sign-in and sign-out pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from sqlalchemy import select

from retribusi.auth.access import authenticated, public, roles_required
from retribusi.auth.forms import StaffLoginForm, VendorLoginForm
from retribusi.auth.models import Role, User
from retribusi.auth.services import authenticate
from retribusi.extensions import db, limiter

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


@bp.route("/admin/pengguna")
@roles_required(Role.ADMIN)
def users() -> ResponseReturnValue:
    accounts = db.session.scalars(select(User).order_by(User.role, User.id).limit(500)).all()
    return render_template("auth/users.html", accounts=accounts)
