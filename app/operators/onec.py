"""onec.sync: the order goes to 1C:Enterprise as counterparty, contract and customer order; payments come back.

The accountant works in 1C, so 1C must know whom we sell to and what (a counterparty, a contract and a
posted customer order with its rows), and the money she enters there (a bank receipt or a cash order
naming the order) must reach the order's process without anyone retyping it: each new payment becomes a
Payment (source "1c", external_id = the 1C document's Ref_Key) and, while the order waits at the
payment task, the `payment_received` message the payment task's boundary event listens for.

Idempotent per job and across jobs: the keys 1C gave us are stored (Customer.onec_ref, Order.onec_refs
{"contract", "order"}) so a second run PATCHes — and only when something changed — instead of POSTing;
an object created by a run that died before storing its key is found again by its marker
("[Bespoke клиент 17]", "[Bespoke 2026-00042]"). A payment is recorded once per Ref_Key.

`what` (the service task's parameter) chooses the part: counterparty, contract, order (all three pushed),
payments (pulled), contract_payment or all (pushed, then pulled). `pull_payments()` is for the scheduler:
it pulls for every order waiting at the payment task. Without ONEC_URL nothing is sent.

The mapping (entity set and property names) differs between 1C configurations (БП, УТ, КА, УНФ), so it is
configuration: see `app.operators.onec_mapping`.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import InvalidOperation
from functools import partial
from typing import Any, Callable, ContextManager

from flask import current_app
from sqlalchemy import select

from app import clock
from app.engine.bindings import RECORDS
from app.extensions import db
from app.models import Customer, HumanTask, Order, OrderStatus
from app.models import Document as OrderDocument
from app.operators.onec_client import EMPTY_REF, OneC, all_of, contains, eq, guid
from app.operators.onec_mapping import load_mapping, mapped
from app.operators.registry import JobContext, OperatorError
from app.services import audit
from app.services.bindings import bound_tasks
from app.services.calendar import company_tz
from app.services.dates import to_date
from app.services.money import ZERO, exact_decimal, json_amount, to_money
from app.usecases.payments import take_payment_row
from app.usecases.uow import discard, unit_of_work

log = logging.getLogger(__name__)

STEPS = {
    "counterparty": ("counterparty",),
    "contract": ("counterparty", "contract"),
    "order": ("counterparty", "contract", "order"),
    "payments": ("payments",),
    "contract_payment": ("counterparty", "contract", "order", "payments"),
    "all": ("counterparty", "contract", "order", "payments"),
}


# -- entry points -------------------------------------------------------------------------------------

def sync(ctx: JobContext) -> dict:
    """The service task: push the order to 1C and/or pull its payments, as `what` says."""
    if not current_app.config.get("ONEC_URL"):
        with ctx.write():
            audit.record(ctx.order_id, "job", "worker", field="onec.sync", new="not configured", entity="job",
                         entity_id=ctx.job_id)
        return {"status": "not_configured", "what": ctx.params.get("what")}
    what = ctx.params.get("what") or "all"
    if what not in STEPS:
        raise OperatorError(f"onec.sync: неизвестный параметр what={what!r} (ожидается одно из: "
                            f"{', '.join(STEPS)})", permanent=True)
    if ctx.order_id is None:
        raise OperatorError("onec.sync: задание без заказа", permanent=True)
    steps = STEPS[what]
    with connect() as onec:
        exchange = Exchange(onec, load_mapping(), ctx.write, f"job:{ctx.operator}")
        result: dict[str, Any] = {"status": "synced", "what": what}
        if "counterparty" in steps:
            result.update(exchange.push(ctx.order_id, steps))
        if "payments" in steps:
            result["payments"] = exchange.pull(ctx.order_id)
    return result


def pull_payments(order_id: int | None = None) -> dict:
    """For the scheduler: record 1C payments of one order, or of every order waiting at the payment task.

    Runs outside any transaction, one unit of work per payment. A permanent error (credentials, mapping)
    stops the round, since every order would fail the same way; a passing one is reported and skipped.
    """
    if not current_app.config.get("ONEC_URL"):
        return {"status": "not_configured", "checked": 0, "recorded": [], "errors": {}}
    discard()
    order_ids = [order_id] if order_id is not None else orders_waiting_for_payment()
    summary: dict[str, Any] = {"status": "ok", "checked": 0, "recorded": [], "errors": {}}
    try:
        with connect() as onec:
            exchange = Exchange(onec, load_mapping(), partial(unit_of_work, fresh=True), "1c")
            for oid in order_ids:
                summary["checked"] += 1
                try:
                    summary["recorded"] += exchange.pull(oid)
                except OperatorError as exc:
                    summary["errors"][_order_number(oid)] = exc.message
                    if exc.permanent:
                        break
    except OperatorError as exc:  # the mapping file
        summary["errors"]["*"] = exc.message
    if summary["errors"]:
        summary["status"] = "errors"
        log.warning("1C payments pull: %s", summary["errors"])
    return summary


def orders_waiting_for_payment() -> list[int]:
    """Active orders whose open task is the payment task: the only ones a 1C payment can move on."""
    return [order_id for order_id in db.session.execute(
        select(HumanTask.order_id).join(Order, Order.id == HumanTask.order_id)
        .where(bound_tasks(RECORDS, "payment"), HumanTask.state == "open", Order.status == OrderStatus.ACTIVE)
        .distinct().order_by(HumanTask.order_id)).scalars() if order_id is not None]


def connect() -> OneC:
    config = current_app.config
    return OneC(config["ONEC_URL"], config.get("ONEC_USER") or "", config.get("ONEC_PASSWORD") or "")


# -- the exchange -------------------------------------------------------------------------------------

@dataclass
class Exchange:
    onec: OneC
    mapping: dict
    write: Callable[[], ContextManager]
    actor: str

    # -- push -----------------------------------------------------------------------------------------
    def push(self, order_id: int, steps: tuple) -> dict:
        result: dict[str, Any] = {}
        result["counterparty"], result["counterparty_action"] = self.counterparty(order_id)
        if "contract" in steps:
            result["contract"], result["contract_action"] = self.contract(order_id, result["counterparty"])
        if "order" in steps:
            result["order"], result["order_action"] = self.order_document(order_id, result["counterparty"],
                                                                          result["contract"])
        return result

    def counterparty(self, order_id: int) -> tuple[str, str]:
        customer = _order(order_id).customer
        section = self.mapping["counterparty"]
        fields, marker = section["fields"], f"[Bespoke клиент {customer.id}]"
        contacts = ", ".join(x for x in (customer.phone and f"тел. {customer.phone}", customer.email) if x)
        payload = {**section.get("defaults", {}), **mapped(fields, {
            "name": customer.name, "full_name": customer.name, "comment": f"{marker} {contacts}".strip(),
            "phone": customer.phone, "email": customer.email})}
        if section.get("match_by") == "name" and fields.get("name"):
            lookup: str | None = eq(fields["name"], customer.name)
        else:
            lookup = contains(fields["comment"], marker) if fields.get("comment") else None
        ref, action, _ = self._upsert("counterparty", customer.onec_ref, payload, lookup)
        if ref != customer.onec_ref:
            with self.write():
                customer = db.session.get(Customer, customer.id)
                audit.set_field(customer, "onec_ref", ref, self.actor, order_id, entity="customer")
        return ref, action

    def contract(self, order_id: int, owner: str) -> tuple[str, str]:
        order = _order(order_id)
        section = self.mapping["contract"]
        fields, signed = section["fields"], _contract_date(order)
        payload = {**section.get("defaults", {}), **mapped(fields, {
            "owner": owner, "name": f"Договор № {order.number} от {signed:%d.%m.%Y}", "number": order.number,
            "date": f"{signed.isoformat()}T00:00:00", "comment": f"[Bespoke {order.number}] {order.kind_label}"})}
        if fields.get("number"):
            lookup: str | None = all_of(eq(fields["owner"], guid(owner)) if fields.get("owner") else None,
                            eq(fields["number"], order.number))
        else:
            lookup = contains(fields["comment"], f"[Bespoke {order.number}]") if fields.get("comment") else None
        ref, action, _ = self._upsert("contract", (order.onec_refs or {}).get("contract"), payload, lookup)
        self._store_order_ref(order_id, "contract", ref)
        return ref, action

    def order_document(self, order_id: int, counterparty: str, contract: str) -> tuple[str, str]:
        order = _order(order_id)
        section = self.mapping["order"]
        fields, marker = section["fields"], f"[Bespoke {order.number}]"
        price = json_amount(order.price or ZERO)
        payload = {**section.get("defaults", {}), **mapped(fields, {
            "date": _local(order.created_at).strftime("%Y-%m-%dT%H:%M:%S"), "number": order.number,
            "counterparty": counterparty, "contract": contract, "amount": price,
            "comment": f"{marker} {_item_text(order)}"[:1000]})}
        rows = section.get("rows") or {}
        if rows.get("section"):
            payload[rows["section"]] = self._rows(order, price)
        lookup = contains(fields["comment"], marker) if fields.get("comment") else None
        ref, action, current = self._upsert("order", (order.onec_refs or {}).get("order"), payload, lookup)
        self._store_order_ref(order_id, "order", ref)
        if section.get("post") and (action != "unchanged" or not current.get("Posted")):
            self.onec.post_document(section["entity"], ref)
            action = action if action != "unchanged" else "posted"
        return ref, action

    def _rows(self, order: Order, price: int | float) -> list[dict]:
        section = self.mapping["order"]
        rows, defaults = section["rows"], section.get("row_defaults") or {}
        lines = [{"content": _item_text(order)[:1000], "quantity": 1, "price": price, "amount": price}]
        if section.get("component_rows"):
            lines += [{"content": f"{c.name}, {c.unit}", "quantity": float(c.quantity or 0), "price": 0,
                       "amount": 0} for c in order.components]
        return [{**defaults, **mapped(rows, {"line": n, **line})} for n, line in enumerate(lines, start=1)]

    def _upsert(self, kind: str, ref: str | None, payload: dict, lookup: str | None) -> tuple[str, str, dict]:
        """By stored key, else by lookup, else create; PATCH only what differs. Returns (key, action, object)."""
        entity = self.mapping[kind]["entity"]
        current = self.onec.get(entity, ref) if ref else None
        if current is not None and current.get("DeletionMark"):
            current = None  # marked for deletion in 1C: the accountant threw it away
        if current is None and lookup:
            found = self.onec.query(entity, filter=all_of(lookup, eq("DeletionMark", False)))
            current = found[0] if found else None
        if current is None:
            created = self.onec.create(entity, payload)
            return _ref_of(created, entity), "created", created
        key = _ref_of(current, entity)
        if not _differs(current, payload):
            return key, "unchanged", current
        updated = self.onec.update(entity, key, payload)
        return key, "updated", {**current, **(updated or payload)}

    def _store_order_ref(self, order_id: int, name: str, ref: str) -> None:
        if (_order(order_id).onec_refs or {}).get(name) == ref:
            return
        with self.write():
            order = db.session.get_one(Order, order_id)
            refs = {**(order.onec_refs or {}), name: ref}  # a new dict: JSON columns see assignment only
            audit.set_field(order, "onec_refs", refs, self.actor, order.id)

    # -- pull -----------------------------------------------------------------------------------------
    def pull(self, order_id: int) -> list[str]:
        """Record the order's new 1C payments, oldest first; returns their numbers."""
        order = _order(order_id)
        number, order_ref = order.number, (order.onec_refs or {}).get("order")
        section = self.mapping["payments"]
        found = [(source, doc) for source in section.get("sources") or []
                 for doc in self._payments_in(source, number, order_ref)]
        date_field = section["fields"]["date"]
        recorded = []
        for source, doc in sorted(found, key=lambda pair: str(pair[1].get(date_field) or "")):
            payment_number = self._record(order_id, source, doc)
            if payment_number:
                recorded.append(payment_number)
        return recorded

    def _payments_in(self, source: dict, number: str, order_ref: str | None) -> list[dict]:
        section = self.mapping["payments"]
        fields, field = section["fields"], source["field"]
        if source.get("match") == "order":
            if not order_ref:
                return []  # our document is not in 1C yet: nothing can refer to it
            condition = eq(field, guid(order_ref))
        else:
            condition = contains(field, number)
        posted = all_of(eq("Posted", True), eq("DeletionMark", False)) if section.get("posted_only", True) else None
        docs = self.onec.query(source["entity"], filter=all_of(condition, posted),
                               select=["Ref_Key", fields["number"], fields["date"], fields["amount"], field])
        if source.get("match") == "order":
            return docs
        # substringof finds 2026-00042 inside 2026-000421 too: keep whole numbers only
        whole = re.compile(rf"(?<![\w-]){re.escape(number)}(?![\w-])")
        return [doc for doc in docs if whole.search(str(doc.get(field) or ""))]

    def _record(self, order_id: int, source: dict, doc: dict) -> str | None:
        """One unit of work: the Payment, and the message if the order waits for it. None if already known."""
        fields = self.mapping["payments"]["fields"]
        ref = _ref_of(doc, source["entity"])
        number = str(doc.get(fields["number"]) or "").strip() or ref[:8]
        paid_on, amount = to_date(doc.get(fields["date"])) or clock.today(), to_money(doc.get(fields["amount"]))
        if amount is None or amount <= 0:
            return None
        return take_payment_row(order_id, ref=ref, number=number, paid_on=paid_on, amount=amount,
                                method=source.get("method"), source="1c", actor=self.actor, label="1С")


# -- helpers ------------------------------------------------------------------------------------------

def _order(order_id: int) -> Order:
    order = db.session.get(Order, order_id)
    if order is None:
        raise OperatorError(f"onec.sync: заказа {order_id} нет", permanent=True)
    return order


def _order_number(order_id: int) -> str:
    order = db.session.get(Order, order_id)
    return order.number if order is not None else str(order_id)


def _ref_of(entity: dict, name: str) -> str:
    ref = entity.get("Ref_Key") if isinstance(entity, dict) else None
    if not ref or ref == EMPTY_REF:
        raise OperatorError(f"1С: ответ «{name}» без Ref_Key", permanent=False)
    return str(ref)


def _item_text(order: Order) -> str:
    description = (order.description or "").strip()
    return f"{order.kind_label} по заказу {order.number}" + (f": {description}" if description else "")


def _local(moment: datetime | None) -> datetime:
    """1C stores local wall-clock time without a zone."""
    moment = moment or clock.now()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(company_tz()).replace(tzinfo=None)


def _contract_date(order: Order) -> date:
    """The day the contract was first rendered (stable across runs), else the day of the order."""
    rendered = db.session.execute(
        select(OrderDocument.created_at).where(OrderDocument.order_id == order.id, OrderDocument.kind == "contract")
        .order_by(OrderDocument.id).limit(1)).scalar_one_or_none()
    return _local(rendered or order.created_at).date()


def _differs(current: dict, payload: dict) -> bool:
    """Whether a PATCH would change anything: 1C adds its own properties, we compare only ours."""
    for name, wanted in payload.items():
        have = current.get(name)
        if isinstance(wanted, list):
            if not isinstance(have, list) or len(have) != len(wanted):
                return True
            if any(_differs(old, new) for old, new in zip(have, wanted, strict=True)):
                return True
        elif not _same(have, wanted):
            return True
    return False


def _same(have: Any, wanted: Any) -> bool:
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        try:
            return exact_decimal(have) == exact_decimal(wanted)  # exactly: 1C keeps kopecks as sent
        except (InvalidOperation, TypeError, ValueError):
            return False
    if isinstance(wanted, str) and isinstance(have, str):
        if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", wanted):
            return have[:19] == wanted
        if re.fullmatch(r"[0-9a-fA-F-]{36}", wanted):
            return have.lower() == wanted.lower()
    return have == wanted
