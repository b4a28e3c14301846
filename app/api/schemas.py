"""Model → JSON shapes shared by the API views."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import url_for
from sqlalchemy import select

from app.engine.steps import definition_forms
from app.extensions import db
from app.models import HumanTask, Order, User
from app.services.forms import prepare_schema
from app.services.notifications import status_url


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _money(value: Decimal | None):
    return None if value is None else str(value)


def task_json(task: HumanTask) -> dict:
    return {
        "id": task.id, "order_number": task.order.number, "name": task.name, "bpmn_id": task.bpmn_id,
        "stage": task.stage, "lane": task.lane, "state": task.state,
        "assignee": task.assignee.login if task.assignee else None,
        "created_at": _iso(task.created_at), "due_at": _iso(task.due_at), "sla_level": task.sla_level,
        "overdue": bool(task.due_at and task.state == "open" and task.due_at < datetime.now(task.due_at.tzinfo)),
    }


def task_detail_json(task: HumanTask) -> dict:
    forms = definition_forms(task.order.instance.definition)
    body = task_json(task)
    body.update({
        "schema": prepare_schema(forms.get(task.form_schema or "", {})),
        "ui_schema": forms.get(task.form_ui_schema or "", {}),
        "data": task.data or {},
        "completed_at": _iso(task.completed_at),
        "completed_by": task.completed_by.login if task.completed_by else None,
    })
    return body


def _login(user: User | None):
    return user.login if user else None


def order_summary_json(order: Order) -> dict:
    return {
        "number": order.number, "kind": order.kind, "kind_label": order.kind_label, "channel": order.channel,
        "status": order.status, "stage": order.stage,
        "customer": {"name": order.customer.name, "phone": order.customer.phone, "email": order.customer.email},
        "partner": order.partner.code if order.partner else None, "address": order.address,
        "price": _money(order.price), "created_at": _iso(order.created_at),
        "promised_date": _iso(order.promised_date),
    }


def order_json(order: Order) -> dict:
    body = order_summary_json(order)
    open_tasks = db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id,
                                                            HumanTask.state == "open")
                                    .order_by(HumanTask.id)).scalars().all()
    body.update({
        "description": order.description, "prepayment": _money(order.prepayment),
        "payment_type": order.payment_type, "measurer": _login(order.measurer), "visit_at": _iso(order.visit_at),
        "crew": _login(order.crew), "delivery_at": _iso(order.delivery_at), "cancel_reason": order.cancel_reason,
        "completed_at": _iso(order.completed_at), "status_url": status_url(order),
        "process": {"id": order.instance.definition.process_id, "version": order.instance.definition.version,
                    "status": order.instance.status} if order.instance else None,
        "tasks": [task_json(t) for t in open_tasks],
        "payments": [{"number": p.number, "date": _iso(p.paid_on), "amount": _money(p.amount), "method": p.method,
                      "received_by": p.received_by, "source": p.source} for p in order.payments],
        "components": [{"name": c.name, "quantity": str(c.quantity.normalize()), "unit": c.unit,
                        "supplier": c.supplier, "status": c.status} for c in order.components],
        "documents": [{"id": d.id, "kind": d.kind, "version": d.version, "filename": d.filename,
                       "created_at": _iso(d.created_at),
                       "url": url_for("api.download_document", number=order.number, document_id=d.id)}
                      for d in order.documents],
    })
    return body
