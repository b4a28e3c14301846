"""Importing orders from Excel: a dry run that lists every refused row, then a worker that places the rest.

`start_import` records an `OrderImport` with the rows the check accepted and hands it to a worker as one outbox
job (`imports.orders`). The job creates the orders 500 rows per unit of work (`place_batch`: a few statements per
batch, checked again by the same intake as the API), each stamped with its row's external number, so a second
import of the same file creates nothing; a row refused now (someone imported it meanwhile, a partner was removed)
is added to the import's errors, and a batch that collides on an external number is redone row by row. When every
row is done, `imports.start` jobs of 250 orders each are written: the workers share them out and start those orders'
processes, one order per unit of work — the engine run per order is what takes time (docs/PERFORMANCE.md).
"""
from __future__ import annotations

import hashlib
import logging

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import clock
from app.errors import ValidationError
from app.extensions import db
from app.models import Order, OrderImport, OrderStatus, ProcessInstance, User
from app.services import audit
from app.services import order_import as reader
from app.services import orders as order_service
from app.services.outbox import add_job
from app.usecases.orders import place_batch, start_placed
from app.usecases.uow import unit_of_work

log = logging.getLogger(__name__)
JOB_OPERATOR, START_OPERATOR = "imports.orders", "imports.start"


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


BATCH = 500  # rows created per unit of work
START_CHUNK = 250  # orders per `imports.start` job


def _refusals(row: int, exc: ValidationError) -> list[dict]:
    return [{"row": row, "column": _column(name), "message": message} for name, message in exc.fields.items()] or [
        {"row": row, "column": reader.REF, "message": exc.message}]


def _column(name: str) -> str:
    return reader.REF if name == "external_ref" else reader.FIELD_COLUMNS.get(name, name)


def _place(record: OrderImport, items: list[dict]) -> tuple[list[int], list[dict]]:
    """Create the batch's orders in the current unit of work: (their ids, the rows refused now — imported meanwhile
    by someone else, or a partner removed since the check)."""
    taken = set(db.session.execute(select(Order.external_ref).where(
        Order.external_ref.in_([item["ref"] for item in items]))).scalars())
    rows: list[tuple[dict, str]] = []
    refused: list[dict] = []
    partners: dict = {}
    for item in items:
        if item["ref"] in taken:
            refused.append({"row": item["row"], "column": reader.REF,
                            "message": f"Заказ с номером «{item['ref']}» уже импортирован"})
            continue
        try:
            rows.append((order_service.validate_intake(item["payload"], partners), item["ref"]))
        except ValidationError as exc:
            refused.extend(_refusals(item["row"], exc))
    actor = db.session.get(User, record.uploaded_by_id) if record.uploaded_by_id else None
    return place_batch(rows, actor, record.id), refused


def _batch(import_id: int, items: list[dict]) -> None:
    """One unit of work: the batch's orders with the import's counters and position — all or nothing, so a worker
    that dies mid-batch leaves the position where the batch began."""
    with unit_of_work(fresh=True):
        record = db.session.get_one(OrderImport, import_id, with_for_update=True)
        made, refused = _place(record, items)
        record.created += len(made)
        record.failed += len({error["row"] for error in refused})
        record.position += len(items)
        if refused:
            record.errors = [*(record.errors or ()), *refused]


def _unstarted(import_id: int) -> list[int]:
    """The import's orders whose process has not started."""
    return list(db.session.execute(select(Order.id).where(
        Order.import_id == import_id, Order.status == OrderStatus.ACTIVE,
        ~select(ProcessInstance.id).where(ProcessInstance.order_id == Order.id).exists()).order_by(Order.id)).scalars())


def run_import(import_id: int) -> dict:
    """Create the accepted rows' orders from where the job stopped, a batch per unit of work. A batch that hits
    an order someone else imported at the same moment (the unique external number) is redone row by row, so only
    that row is refused."""
    with unit_of_work(fresh=True):
        record = db.session.get_one(OrderImport, import_id)
        record.status = "running"
        items = list(record.payloads or ())[record.position:]
    for start in range(0, len(items), BATCH):
        batch = items[start:start + BATCH]
        try:
            _batch(import_id, batch)
        except IntegrityError:
            for item in batch:
                _batch(import_id, [item])
    with unit_of_work(fresh=True):
        record = db.session.get_one(OrderImport, import_id)
        record.status, record.finished_at = "done", clock.now()
        waiting = _unstarted(import_id)
        for start in range(0, len(waiting), START_CHUNK):  # the workers share them out
            add_job(START_OPERATOR, {"import_id": import_id, "orders": waiting[start:start + START_CHUNK]})
        return {"created": record.created, "failed": record.failed}


def start_processes(import_id: int, order_ids: list[int]) -> dict:
    """Start the lifecycle of each of the import's orders, each in its own unit of work; one that fails does not
    stop the others, and the job then fails, to be retried for those (the started ones are skipped)."""
    record = db.session.get(OrderImport, import_id)
    actor_id = record.uploaded_by_id if record is not None else None
    started, failed = 0, []
    for order_id in order_ids:
        try:
            with unit_of_work(fresh=True):
                if start_placed(order_id, db.session.get(User, actor_id) if actor_id else None):
                    started += 1
                    db.session.execute(update(OrderImport).where(OrderImport.id == import_id)
                                       .values(started=OrderImport.started + 1))
        except Exception as exc:  # noqa: BLE001 - one order's failure must not stop the others
            log.warning("import %s: the process of order %s did not start: %s", import_id, order_id, exc)
            failed.append(order_id)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(order_ids)} orders' processes did not start: {failed[:10]}")
    return {"started": started}


def run_job(ctx) -> dict:
    """The `imports.orders` operator: the worker's entry into `run_import`."""
    return run_import(int(ctx.params["import_id"]))


def start_job(ctx) -> dict:
    """The `imports.start` operator: a batch's processes, started by the workers beside the import."""
    return start_processes(int(ctx.params["import_id"]), [int(i) for i in ctx.params["orders"]])
