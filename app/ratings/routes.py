"""Employee ratings: the table per role for a period (what the viewer may see of it) and the weights' form."""
from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_login import current_user

from app import policy
from app.i18n import N_
from app.ratings import bp
from app.services import ratings
from app.services.periods import parse_period, this_month
from app.usecases.ratings import save_weights
from app.web import allowed

# The KPIs' column titles, in the order of ratings.KPIS.
KPI_TITLES = {"on_time": N_("В срок"), "throughput": N_("Выработка"), "rework": N_("Без возвратов"),
              "claims": N_("Без рекламаций"), "ratings": N_("Оценки заказчиков")}


@bp.app_template_filter("score")
def score(value: float | None, digits: str = "0.0") -> str:
    """A score or component with one decimal in the user's language ('79,6'); None as a dash."""
    return "—" if value is None else format_decimal(value, digits)


def _period(args) -> tuple[date | None, date | None, str | None]:
    """The period asked for (this month by default) and, when it cannot be read, the message saying why."""
    default = this_month()
    try:
        first, last = parse_period(args.get("from"), args.get("to"), default)
    except ValueError as exc:
        if str(exc) == "period":
            return *default, _("Начало периода позже его конца")
        field = _("Начало периода") if str(exc) == "from" else _("Конец периода")
        return *default, _("%(field)s: дата «%(value)s» не распознана — укажите её в виде ГГГГ-ММ-ДД", field=field,
                           value=args.get(str(exc)))
    return first, last, None


@bp.get("/")
@allowed("ratings.view")
def index():
    first, last, error = _period(request.args)
    viewer = current_user._get_current_object()
    tables = ratings.visible(ratings.rating(first, last), viewer)
    typed = {name: request.args.get(name, value.isoformat() if value else "")
             for name, value in (("from", first), ("to", last))}
    return render_template("ratings/index.html", tables=tables, kpis=ratings.KPIS, titles=KPI_TITLES,
                           first=first, last=last, typed=typed, error=error, viewer=viewer,
                           sees_all=bool(viewer.role_codes & policy.MANAGEMENT),
                           can_edit=policy.can(viewer, "ratings.edit")), 400 if error else 200


@bp.route("/weights", methods=["GET", "POST"])
@allowed("ratings.edit")
def weights():
    roles = ratings.rated_roles()
    codes = [role.code for role in roles]
    errors: dict[str, str] = {}
    if request.method == "POST":
        parsed, problems = ratings.parse_weights(request.form, codes)
        if not problems:
            save_weights(parsed)
            flash(_("Веса рейтинга сохранены"), "success")
            return redirect(url_for("ratings.weights"))
        messages = {"number": _("Введите число, например 20 или 12,5"),
                    "range": _("Вес — число от 0 до 1000"),
                    "zero": _("Хотя бы один вес роли должен быть больше нуля")}
        errors = {name: messages[problem] for name, problem in problems.items()}
        form = {name: request.form.get(name, "") for role in codes for name in
                (f"{role}.{kpi}" for kpi in ratings.KPIS)}
    else:
        stored = ratings.weights()
        form = {f"{role}.{kpi}": f"{weight:g}" for role in codes
                for kpi, weight in ratings.weights_of(role, stored).items()}
    return render_template("ratings/weights.html", roles=roles, kpis=ratings.KPIS, titles=KPI_TITLES, form=form,
                           errors=errors, defaults=ratings.DEFAULT_WEIGHTS), 422 if errors else 200
