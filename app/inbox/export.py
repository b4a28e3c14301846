"""A tab of the inbox as a workbook: every task its filters keep (the page shows the first 300), typed cells."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import Select
from sqlalchemy.orm import selectinload

from app import clock
from app.models import HumanTask, Order, ProcessInstance
from app.services.workbooks import DATETIME, Column, capped, list_workbook
from app.usecases.process import instance_label


def tasks_workbook(query: Select) -> bytes:
    tasks, cut = capped(query.options(
        selectinload(HumanTask.order).selectinload(Order.customer),
        selectinload(HumanTask.instance).selectinload(ProcessInstance.definition),
        selectinload(HumanTask.instance).selectinload(ProcessInstance.order)))
    now = clock.now()
    columns = [Column(_("Задача"), 36), Column(_("Заказ или процесс"), 22), Column(_("Заказчик"), 28),
               Column(_("Адрес"), 36), Column(_("Этап"), 26), Column(_("Исполнитель"), 24),
               Column(_("Создана"), 17, DATETIME), Column(_("Срок"), 17, DATETIME), Column(_("Просрочена"), 11)]
    rows = ([task.name, task.order.number if task.order else instance_label(task.instance),
             task.order.customer.name if task.order else None, task.order.address if task.order else None,
             task.stage, task.assignee.name if task.assignee else _("очередь"), task.created_at, task.due_at,
             _("да") if task.due_at and task.due_at < now else _("нет")] for task in tasks)
    return list_workbook(_("Задачи"), columns, rows, cut=cut)
