"""The board's long lists — late tasks, orders held up by components, each component group — written row by row here
rather than in Jinja: a production board has ~260 rows, and Jinja's call of a macro, a filter or a link per cell
was most of its render (15–20 ms at 100,000 orders). Each row is its template text with the values put in,
escaped as Jinja escapes them; the template (boards/_figures.html) keeps the tables around them and hands over its
labels (`t`, translated once a page) and its links (`card_url`, `task_url`)."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from markupsafe import Markup, escape

from app.i18n import kind_label, number, when

Link = Callable[[Any], str]

_HELD = ('\n    <tr data-order="{number}">\n'
         '      <td data-label="{l_order}">{order}<div class="muted small">{kind}</div></td>\n'
         '      <td data-label="{l_stage}"><a href="{task_href}">{stage}</a></td>\n'
         '      <td data-label="{l_assignee}">{assignee}</td>\n'
         '      <td data-label="{l_missing}" data-waiting>{waiting}</td>\n'
         '      <td data-label="{l_since}" class="nowrap">{since}</td>\n'
         '      <td data-label="{l_waits}" class="nowrap" data-waited>{waited}</td>\n'
         '    </tr>\n    ')
_LATE = ('\n    \n    <tr data-order="{number}">\n'
         '      <td data-label="{l_order}">{order}{kind}</td>\n'
         '      <td data-label="{l_stage}"><a href="{task_href}">{stage}</a></td>\n'
         '      <td data-label="{l_assignee}">{assignee}</td>\n'
         '      <td data-label="{l_due}" class="nowrap" data-late>{due}\n'
         '        <div>{late}</div></td>\n'
         '      <td data-label="{l_why}">\n'
         '        {why}\n'
         '        {risk}\n'
         '      </td>\n'
         '    </tr>\n    ')
_COMPONENT = ('\n      <tr>\n'
              '        <td data-label="{l_order}"><a class="nowrap" href="{href}">{number}</a></td>\n'
              '        <td data-label="{l_position}">{name}</td>\n'
              '        <td data-label="{l_qty}" class="nowrap">{quantity} {unit}</td>\n'
              '        <td data-label="{l_supplier}">{supplier}</td>\n'
              '        <td data-label="{l_status}">{status}</td>\n'
              '      </tr>\n      ')


def _order_link(order, card_url: Link) -> str:
    """The order's number linking to its card, or a dash (the template's `order_link`)."""
    if not order:
        return "—"
    return f'<a class="nowrap" href="{escape(card_url(order.number))}">{escape(order.number)}</a>'


def _figure(value: float, unit: str) -> str:
    """A figure rounded to a tenth and its unit, as the template's `hours` and `days` print them."""
    return f"{escape(number(round(value, 1)))}&nbsp;{unit}"


def _labels(t: dict) -> dict:
    """The template's labels escaped as Jinja's autoescape would have put them (and their `%` formats escaping what
    they are given)."""
    return {key: escape(value) for key, value in t.items()}


def _assignee(task, t) -> Markup:
    return escape(task.assignee.name) if task.assignee else escape(t["queue"])


def held(rows: Iterable, t, card_url: Link, task_url: Link) -> Markup:
    """The held orders' rows (HeldOrder)."""
    t = _labels(t)
    return Markup("".join(_HELD.format(
        number=escape(row.task.order.number), order=_order_link(row.task.order, card_url),
        kind=escape(kind_label(row.task.order.kind)), task_href=escape(task_url(row.task.id)),
        stage=escape(row.task.stage), assignee=_assignee(row.task, t), waiting=t["items"] % {"count": row.waiting},
        since=escape(when(row.task.created_at)), waited=_figure(row.waited.total_seconds() / 86400, t["days"]),
        l_order=t["order"], l_stage=t["stage"], l_assignee=t["assignee"], l_missing=t["missing"],
        l_since=t["since"], l_waits=t["waits"]) for row in rows))


def late(rows: Iterable, t, card_url: Link, task_url: Link) -> Markup:
    """The late tasks' rows (LateTask)."""
    t = _labels(t)
    lines = []
    for row in rows:
        task, order = row.task, row.task.order
        if row.overdue:
            lateness = f'<strong class="late">+{_figure(row.late_hours, t["hours"])}</strong>\n        '
            why = f'<span class="badge overdue">{t["overdue_l"]}</span>\n        '
        else:
            lateness = "" if row.late_hours is None else \
                f'<span class="muted">{t["left"] % {"hours": Markup(_figure(-row.late_hours, t["hours"]))}}</span>'
            why = f'<span class="badge at-risk">{t["sla75"]}</span>' if task.sla_level else ""
        risk = ""
        if row.at_risk:
            risk = (f'<span class="badge at-risk" title="{t["risk_title"]}">{t["at_risk"]}</span>\n        '
                    f'<div class="muted small">'
                    f'{t["forecast"] % {"predicted": when(order.predicted_on), "promised": when(order.promised_date)}}'
                    '</div>')
        lines.append(_LATE.format(
            number=escape(order.number if order else ""), order=_order_link(order, card_url),
            kind=f'<div class="muted small">{escape(kind_label(order.kind))}</div>' if order else "",
            task_href=escape(task_url(task.id)), stage=escape(task.stage), assignee=_assignee(task, t),
            due=escape(when(task.due_at)), late=lateness, why=why, risk=risk, l_order=t["order"],
            l_stage=t["stage"], l_assignee=t["assignee"], l_due=t["due"], l_why=t["why"]))
    return Markup("".join(lines))


def components(rows: Iterable, t, card_url: Link, status_labels) -> Markup:
    """A component group's rows ((Component, order number))."""
    t = _labels(t)
    return Markup("".join(_COMPONENT.format(
        href=escape(card_url(order_number)), number=escape(order_number), name=escape(component.name),
        quantity=escape(number(component.quantity)), unit=escape(component.unit),
        supplier=escape(component.supplier or "—"),
        status=escape(status_labels.get(component.status, component.status)), l_order=t["order"],
        l_position=t["position"], l_qty=t["qty"], l_supplier=t["supplier"], l_status=t["status"])
        for component, order_number in rows))
