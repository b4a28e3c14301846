"""The analytics' tables as one workbook: a sheet per table, the same figures as the page for the same filters
(a head's stage tables keep to the head's departments), with a first sheet saying which orders were counted."""
from __future__ import annotations

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from app.services import analytics
from app.services.workbooks import DATE, MONEY, Column, to_bytes, write_table

PERCENT = "0.0"
NAME, NUMBER, WIDE = 30, 12, 60


def analytics_workbook(filters: analytics.Filters, figures: dict, names: dict[str, dict[str, str]]) -> bytes:
    """`figures` as the page computes them; `names`: the kinds', partners' and channels' names by code."""
    book = Workbook()
    cohort = book.active
    cohort.title = _("Отбор")
    cohort.cell(row=1, column=1, value=_("Все цифры — по заказам, созданным в периоде.")).font = Font(bold=True)
    write_table(cohort, [Column(_("Фильтр"), NAME), Column(_("Значение"), NAME)], [
        [_("Созданы с"), filters.start], [_("по"), filters.end],
        [_("Вид заказа"), names["kind"].get(filters.kind, _("Все"))],
        [_("Партнёр"), names["partner"].get(filters.partner, _("Все"))],
        [_("Канал"), names["channel"].get(filters.channel, _("Все"))]], first_row=3, autofilter=False)
    for row in (4, 5):
        cohort.cell(row=row, column=2).number_format = DATE
    counts = [Column(_("Создано"), NUMBER), Column(_("Выполнено"), NUMBER), Column(_("Отменено"), NUMBER)]
    for dimension, title in (("kind", _("Заказы по видам")), ("channel", _("Заказы по каналам")),
                             ("partner", _("Заказы по партнёрам")), ("customer", _("Заказы по заказчикам"))):
        write_table(_sheet(book, title), [Column(title, NAME), *counts],
                    [[row.label or _("без партнёра"), row.created, row.completed, row.cancelled]
                     for row in figures["by"][dimension]])
    on_time = [Column(_("В срок"), NUMBER), Column(_("Задач со сроком"), NUMBER), Column(_("Доля"), NUMBER, PERCENT)]
    write_table(_sheet(book, _("В срок по этапам")),
                [Column(_("Этап"), NAME), *on_time, Column(_("Опоздали"), NUMBER)],
                [[row.stage, row.on_time, row.total, row.percent, row.late_orders] for row in figures["on_time"]])
    write_table(_sheet(book, _("В срок по месяцам")), [Column(_("Месяц"), NUMBER, "MM.YYYY"), *on_time],
                [[month, row.on_time, row.total, row.percent] for month, row in figures["on_time_months"]])
    write_table(_sheet(book, _("Время на этапе")), [
        Column(_("Этап"), NAME), Column(_("Вид заказа"), NAME), Column(_("Задач"), NUMBER),
        Column(_("Заказов"), NUMBER), Column(_("Медиана, раб. ч"), NUMBER, "0.00"),
        Column(_("90-й процентиль, раб. ч"), NUMBER, "0.00")],
        [[row.stage, names["kind"].get(row.kind, row.kind), row.count, row.orders, row.median_hours, row.p90_hours]
         for row in figures["timing"]])
    if figures["money"] is not None:  # not a head's of production, say
        write_table(_sheet(book, _("Выручка и платежи")), [
            Column(_("Месяц"), NUMBER, "MM.YYYY"), Column(_("Выполнено заказов"), NUMBER),
            Column(_("Выручка"), 16, MONEY), Column(_("Платежей"), NUMBER), Column(_("Сумма платежей"), 16, MONEY)],
            [[row.month, row.completed, float(row.revenue), row.paid, float(row.payments)]
             for row in figures["money"]])
    flow: analytics.Flow = figures["flow"]
    write_table(_sheet(book, _("Движение между этапами")), [
        Column(_("Из задачи"), NAME), Column(_("В задачу"), NAME), Column(_("Раз"), NUMBER),
        Column(_("Заказов"), NUMBER)],
        [[flow.names.get(a, a), flow.names.get(b, b), count, flow.transition_orders.get((a, b), 0)]
         for (a, b), count in flow.transitions.items()])
    write_table(_sheet(book, _("Возвраты")), [Column(_("Задача"), NAME), Column(_("Раз"), NUMBER),
                                               Column(_("Заказов"), NUMBER)],
                [[flow.names.get(task, task), count, flow.loop_orders.get(task, 0)]
                 for task, count in flow.loops.items()])
    write_table(_sheet(book, _("Отмены по этапам")), [Column(_("Этап"), NAME), Column(_("Отменено"), NUMBER),
                                                       Column(_("Причины"), WIDE)],
                [[stage or "—", count, _reasons(reasons)] for stage, count, reasons in flow.cancelled])
    return to_bytes(book)


def _reasons(reasons: list[tuple[str, int]]) -> str:
    return "; ".join(f"{reason or _('без причины')} ({times})" for reason, times in reasons)


def _sheet(book: Workbook, title: str):
    return book.create_sheet(title[:31])
