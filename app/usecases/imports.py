"""Importing orders from Excel: a dry run that lists every refused row, then a worker that places the rest.

`start_import` records an `OrderImport` with the rows the check accepted and hands it to a worker as one outbox
job (`imports.orders`); the job places each row in its own unit of work through the same intake as the API, and
stamps the order with the row's external number, so a second import of the same file creates nothing. A row
refused when placed (someone imported it meanwhile, a partner was removed) is added to the import's errors.
"""
from __future__ import annotations

import hashlib
import logging

from sqlalchemy import select

from app import clock
from app.errors import ValidationError
from app.extensions import db
from app.models import Order, OrderImport, User
from app.services import audit
from app.services import order_import as reader
from app.services.outbox import add_job
from app.usecases.orders import place_order
from app.usecases.uow import unit_of_work

log = logging.getLogger(__name__)
JOB_OPERATOR = "imports.orders"


def dry_run(data: bytes) -> reader.Check:
    """What importing this file would do: its rows, the ones that would become orders, and why others would not."""
    return reader.check_rows(reader.read_rows(data))


@unit_of_work()
def start_import(data: bytes, file_name: str, actor: User) -> tuple[OrderImport, reader.Check, int]:
    """Check the file, record the import with its accepted rows and queue the worker: (import, check, job id)."""
    check = dry_run(data)
    record = OrderImport(file_name=(file_name or "orders.xlsx")[:255], sha256=hashlib.sha256(data).hexdigest(),
                         uploaded_by=actor, status="queued", rows=check.rows, valid=len(check.accepted),
                         failed=check.rows - len(check.accepted), errors=check.errors, payloads=check.accepted)
    db.session.add(record)
    db.session.flush()
    job = add_job(JOB_OPERATOR, {"import_id": record.id})
    audit.record(None, "import", actor, entity="import", entity_id=record.id, field="orders", old=None,
                 new=record.file_name, details={"rows": check.rows, "valid": record.valid, "job": job.id})
    return record, check, job.id


def _place(record: OrderImport, item: dict) -> None:
    """Place one accepted row in the current unit of work; ValidationError when it is refused now."""
    if db.session.execute(select(Order.id).where(Order.external_ref == item["ref"])).first() is not None:
        raise ValidationError("already imported", fields={"external_ref": f"Заказ с номером «{item['ref']}» "
                                                                         "уже импортирован"})
    actor = db.session.get(User, record.uploaded_by_id) if record.uploaded_by_id else None
    place_order(item["payload"], actor, external_ref=item["ref"])


def _column(name: str) -> str:
    return reader.REF if name == "external_ref" else reader.FIELD_COLUMNS.get(name, name)


def run_import(import_id: int) -> dict:
    """Place every accepted row from where the job stopped, each in its own unit of work; a refusal stays with its
    row. The position moves in the same commit as the row, so a job run again after a crash places nothing twice."""
    with unit_of_work(fresh=True):
        record = db.session.get_one(OrderImport, import_id)
        record.status = "running"
        items = list(record.payloads or ())[record.position:]
    for item in items:
        refusal: list[dict] = []
        try:
            with unit_of_work(fresh=True):
                record = db.session.get_one(OrderImport, import_id, with_for_update=True)
                _place(record, item)
                record.created, record.position = record.created + 1, record.position + 1
        except ValidationError as exc:
            refusal = [{"row": item["row"], "column": _column(name), "message": message}
                       for name, message in exc.fields.items()] or [
                {"row": item["row"], "column": reader.REF, "message": exc.message}]
        except Exception as exc:  # noqa: BLE001 - one row's failure must not stop the others
            log.warning("import %s: row %s failed: %s", import_id, item["row"], exc)
            refusal = [{"row": item["row"], "column": reader.REF, "message": f"Заказ не создан: {exc}"[:500]}]
        if refusal:
            with unit_of_work(fresh=True):
                record = db.session.get_one(OrderImport, import_id, with_for_update=True)
                record.errors = [*(record.errors or ()), *refusal]
                record.failed, record.position = record.failed + 1, record.position + 1
    with unit_of_work(fresh=True):
        record = db.session.get_one(OrderImport, import_id)
        record.status, record.finished_at = "done", clock.now()
        return {"created": record.created, "failed": record.failed}


def run_job(ctx) -> dict:
    """The `imports.orders` operator: the worker's entry into `run_import`."""
    return run_import(int(ctx.params["import_id"]))
