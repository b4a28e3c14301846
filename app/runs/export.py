"""The instances list of «Процессы» as a workbook: every instance its filters keep, typed cells."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.i18n import N_
from app.models import HumanTask, ProcessInstance
from app.services.workbooks import DATETIME, Column, capped, list_workbook

# As templates/_status.html names them.
STATUS_LABELS = {"running": N_("Выполняется"), "completed": N_("Завершён"), "error": N_("Ошибка"),
                 "cancelled": N_("Отменён"), "suspended": N_("Приостановлен")}
CHUNK = 500  # instance ids per query (SQLite counts bound parameters)


def open_counts(ids: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        counts.update(db.session.execute(select(HumanTask.instance_id, func.count()).where(
            HumanTask.instance_id.in_(ids[start:start + CHUNK]), HumanTask.state == "open")
            .group_by(HumanTask.instance_id)).all())
    return counts


def instances_workbook(query: Select) -> bytes:
    found, cut = capped(query.options(selectinload(ProcessInstance.started_by)))
    counts = open_counts([instance.id for instance in found])
    columns = [Column("№", 8, "0"), Column(_("Процесс"), 32), Column(_("Код процесса"), 22),
               Column(_("Версия"), 8, "0"), Column(_("Статус"), 16), Column(_("Запустил"), 24),
               Column(_("Когда"), 17, DATETIME), Column(_("Завершён"), 17, DATETIME),
               Column(_("Открытых задач"), 10, "0")]
    rows = ([i.id, i.definition.name or i.definition.process_id, i.definition.process_id, i.definition.version,
             _(STATUS_LABELS.get(i.status, i.status)), i.started_by.name if i.started_by else None, i.created_at,
             i.finished_at, counts.get(i.id, 0)]
            for i in found)
    return list_workbook(_("Процессы"), columns, rows, cut=cut)
