"""The load chart: booked hours per measurer or crew per day against their working hours, as a chart and a table."""
from __future__ import annotations

from datetime import date, timedelta

from flask import render_template, request
from flask_babel import format_date
from flask_babel import gettext as _

from app.dispatch import bp
from app.i18n import N_
from app.services.calendar import business_calendar
from app.services.periods import local_today, parse_period
from app.services.workload import MAX_DAYS, Load, workload
from app.web import allowed

KIND_TITLES = {"measurement": N_("Замерщики"), "delivery": N_("Бригады доставки и монтажа")}


def default_period(today: date) -> tuple[date, date]:
    """This week and next, Monday to Sunday."""
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=13)


def chosen_period(args, default: tuple[date, date]) -> tuple[date, date, str | None]:
    """The period asked for (a bound left empty: the default's), or the default with what was wrong with it."""
    try:
        first, last = parse_period(args.get("from"), args.get("to"), default)
    except ValueError as exc:
        if str(exc) == "period":
            return *default, _("Начало периода позже его конца")
        return *default, _("Дата «%(value)s» не распознана: укажите её в виде ГГГГ-ММ-ДД", value=args.get(str(exc)))
    first, last = first or default[0], last or default[1]
    if first > last:
        return *default, _("Начало периода позже его конца")
    if (last - first).days + 1 > MAX_DAYS:
        return *default, _("Период длиннее %(days)d дней: выберите покороче", days=MAX_DAYS)
    return first, last, None


def chart_data(load: Load) -> dict:
    """What static/js/dispatch-load.js draws: a bar per person per day, the day's working hours as the line."""
    return {
        "days": [day.isoformat() for day in load.days],
        "day_labels": [f"{format_date(day, 'EEE')}\n{format_date(day, 'd.MM')}" for day in load.days],
        "capacity": [load.capacity[day] for day in load.days],
        "people": [{"name": person.name,
                    "booked": [load.cell(person.id, day).booked for day in load.days],
                    "over": [load.cell(person.id, day).over for day in load.days]} for person in load.people],
        "labels": {"booked": _("Занято, ч"), "capacity": _("Рабочий день, ч")},
    }


@bp.get("/dispatch/load")
@allowed("dispatch.view")
def load():
    kind = request.args.get("kind", "measurement")
    error = None
    if kind not in KIND_TITLES:
        kind, error = "measurement", _("Неизвестный вид работ: выберите замерщиков или бригады")
    first, last, period_error = chosen_period(request.args, default_period(local_today()))
    error = period_error or error
    figures = workload(kind, first, last, business_calendar())
    shown = {"from": first.isoformat(), "to": last.isoformat(), **request.args.to_dict(), "kind": kind}
    day_labels = {day: (format_date(day, "EEE"), format_date(day, "d.MM")) for day in figures.days}
    return render_template("dispatch/load.html", load=figures, kind=kind, kinds=KIND_TITLES, args=shown,
                           first=first, last=last, error=error, chart=chart_data(figures), day_labels=day_labels
                           ), (422 if error else 200)
