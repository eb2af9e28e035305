"""Reconciliation API under /api/v1/reconcile: runs and exceptions, and the resolve actions
(finance and admin; OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from reconcile import actions, queries, schemas
from reconcile.models import EventAction, ReconException, Run
from retribusi import clock
from retribusi.auth.access import current_account, roles_required
from retribusi.auth.models import Role
from retribusi.extensions import db
from retribusi.levy.errors import invalid

blp = Blueprint(
    "reconcile_api",
    __name__,
    url_prefix="/api/v1/reconcile",
    description="Reconciliation runs and exceptions",
)

FINANCE = (Role.FINANCE, Role.ADMIN)


def run_dict(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "actor": run.actor,
        "as_of": run.as_of,
        "rules_version": run.rules_version,
        "rules": run.rules,
        "input_files": run.input_files,
        "result_hash": run.result_hash,
        "matched_count": run.matched_count,
        "matched_idr": run.matched_idr,
        "summary": run.summary,
    }


def exception_dict(exc: ReconException) -> dict[str, Any]:
    return {
        "id": exc.id,
        "type": exc.type.value,
        "status": exc.status.value,
        "subject": exc.subject.value,
        "line_id": exc.line_id,
        "payment_id": exc.payment_id,
        "deposit_id": exc.deposit_id,
        "batch_id": exc.batch_id,
        "amount_idr": exc.amount_idr,
        "difference_idr": exc.difference_idr,
        "subject_date": exc.subject_date,
        "age_days": (clock.today_wib() - exc.subject_date).days,
        "market_id": exc.market_id,
        "assignee_id": exc.assignee_id,
        "opened_at": exc.opened_at,
        "resolved_at": exc.resolved_at,
        "detail": exc.detail,
    }


@blp.route("/runs")
@roles_required(*FINANCE)
class Runs(MethodView):
    @blp.arguments(schemas.PageArgs, location="query")
    @blp.response(200, schemas.RunPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Committed runs, newest first."""
        page = queries.runs_page(db.session, args["page"], args["page_size"])
        return {
            "items": [run_dict(r) for r in page.items],
            "page": page.page,
            "page_size": page.page_size,
            "total": page.total,
        }


@blp.route("/runs/<int:run_id>")
@roles_required(*FINANCE)
class RunDetail(MethodView):
    @blp.response(200, schemas.RunSchema)
    def get(self, run_id: int) -> dict[str, Any]:
        """One run: inputs (files, rules), counts and result hash."""
        return run_dict(queries.get_run(db.session, run_id))


@blp.route("/exceptions")
@roles_required(*FINANCE)
class Exceptions(MethodView):
    @blp.arguments(schemas.ExceptionQuery, location="query")
    @blp.response(200, schemas.ExceptionPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The exception queue, oldest first, by type, status, age bucket and assignee."""
        page = queries.exceptions_page(
            db.session,
            type=args.get("type"),
            status=args.get("status", "open") if args.get("status") != "all" else None,
            age=args.get("age"),
            assignee_id=args.get("assignee_id"),
            unassigned=args.get("unassigned", False),
            page=args["page"],
            size=args["page_size"],
        )
        return {
            "items": [exception_dict(e) for e in page.items],
            "page": page.page,
            "page_size": page.page_size,
            "total": page.total,
        }


@blp.route("/exceptions/<exc_id>")
@roles_required(*FINANCE)
class ExceptionDetail(MethodView):
    @blp.response(200, schemas.ExceptionSchema)
    def get(self, exc_id: str) -> dict[str, Any]:
        """One exception, with what the run found."""
        return exception_dict(queries.get_exception(db.session, exc_id[:24]))


@blp.route("/exceptions/<exc_id>/actions")
@roles_required(*FINANCE)
class ExceptionActions(MethodView):
    @blp.arguments(schemas.ActionSchema)
    @blp.response(200, schemas.ActionResultSchema)
    def post(self, body: dict[str, Any], exc_id: str) -> dict[str, Any]:
        """Match, ignore, accept, reopen, assign, or turn the line into a payment."""
        session = db.session
        exc = queries.get_exception(session, exc_id[:24])
        actor = f"user:{current_account().id}"
        action = body["action"]
        reason = body.get("reason", "")
        result: dict[str, Any] = {"exception_id": exc.id, "action": action}
        if action == "match":
            if exc.line_id is None:
                raise invalid("line", "not_credit", "match from a line's exception")
            done = actions.match_line(
                line_id=exc.line_id,
                actor=actor,
                reason=reason,
                payment_id=body.get("payment_id"),
                deposit_id=body.get("deposit_id"),
                batch_id=body.get("batch_id"),
            )
            result["match_id"] = done.match_id
        elif action == "create_payment":
            if exc.line_id is None or "vendor_id" not in body:
                raise invalid("vendor_id", "required", "give the vendor of a line's money")
            created = actions.create_payment(
                line_id=exc.line_id,
                vendor_id=body["vendor_id"],
                actor=actor,
                reason=reason,
                bill_ids=tuple(body.get("bill_ids", ())),
            )
            result["match_id"] = created.match_id
            result["payment_id"] = created.payment_id
        elif action == "assign":
            actions.assign(exception_id=exc.id, assignee_id=body.get("assignee_id"), actor=actor)
        else:
            actions.decide(
                exception_id=exc.id, action=EventAction(action), actor=actor, reason=reason
            )
        session.expire_all()
        result["status"] = queries.get_exception(session, exc.id).status.value
        return result
