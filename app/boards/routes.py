"""Department boards: the list of boards a person may open, one department's board, and the nav link to them."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import policy
from app.boards import bp
from app.boards import rows as board_rows
from app.errors import NotFound
from app.services import boards
from app.web import allowed

REFRESH_SECONDS = 120  # the figures' fragment asks for itself again this often


@bp.app_context_processor
def _board_link():
    def board_link() -> dict | None:
        """Where «Доска отдела» / «Доски отделов» leads this person, or None (not a head, director or admin)."""
        user = current_user
        if not user.is_authenticated or not policy.is_staff(user):
            return None
        if user.role_codes & policy.MANAGEMENT:
            return {"url": url_for("boards.index"), "many": True}
        headed = [code for code, _lane in policy.headed_departments(user)]
        if not headed:
            return None
        if len(headed) == 1:
            return {"url": url_for("boards.board", department=headed[0]), "many": False}
        return {"url": url_for("boards.index"), "many": True}

    return {"board_link": board_link}


@bp.get("/")
@allowed("boards.view")
def index():
    user = current_user._get_current_object()
    mine = boards.boards_of(user)
    if len(mine) == 1 and not user.role_codes & policy.MANAGEMENT:
        return redirect(url_for("boards.board", department=mine[0].code))
    return render_template("boards/index.html", departments=mine, counts=boards.lane_counts() if mine else {})


@bp.get("/<department>")
@allowed("boards.view")
def board(department: str):
    found = boards.department(department)
    if found is None:
        raise NotFound(_("Отдел «%(code)s» не найден", code=department))
    user = current_user._get_current_object()
    policy.ensure(user, "boards.view", found.code)
    figures = boards.board(found)
    context = dict(board=figures, dept=found, others=boards.boards_of(user), refresh=REFRESH_SECONDS,
                   heads_lane=found.head_id == user.id, board_rows=board_rows)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "board":
        return render_template("boards/_figures.html", **context)
    return render_template("boards/board.html", **context)
