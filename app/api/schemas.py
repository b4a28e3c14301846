"""Model → JSON shapes shared by the API views."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import url_for
from sqlalchemy import Select, select

from app import clock
from app.extensions import db
from app.models import (
    CHANNELS,
    ORDER_KINDS,
    AuditEvent,
    Component,
    Customer,
    Document,
    HumanTask,
    Notification,
    Order,
    OrderStatus,
    OutboxJob,
    Partner,
    Payment,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
    User,
)
from app.services.forms import prepare_schema
from app.services.settlements import TOTALS
from app.services.status_links import status_url
from app.usecases.process import definition_forms


def _iso(value):
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _money(value: Decimal | None):
    return None if value is None else str(value)


def task_json(task: HumanTask) -> dict:
    definition = task.instance.definition
    return task_row_json(task, task.order.number if task.order else None, definition.process_id, definition.name,
                         task.assignee.login if task.assignee else None)


# The columns `task_row_json` reads of a task row, and what it reads beside them (`TASK_ROW` selects both).
TASK_ROW = (HumanTask.id, HumanTask.instance_id, HumanTask.name, HumanTask.bpmn_id, HumanTask.kind, HumanTask.stage,
            HumanTask.lane, HumanTask.lane_name, HumanTask.state, HumanTask.created_at, HumanTask.due_at,
            HumanTask.sla_level, Order.number.label("order_number"), ProcessDefinition.process_id,
            ProcessDefinition.name.label("process_name"), User.login.label("assignee_login"))


def task_rows(*where) -> Select:
    """`TASK_ROW` of the tasks `where` picks, with their order's number, process and assignee: plain rows for
    `task_row_json`, no ORM objects (the answer to a completion)."""
    return (select(*TASK_ROW).select_from(HumanTask)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .outerjoin(Order, Order.id == HumanTask.order_id).outerjoin(User, User.id == HumanTask.assignee_id)
            .where(*where))


def task_row_json(task, order_number: str | None, process_id: str, process_name: str | None,
                  assignee: str | None) -> dict:
    """A task as the API shows it: `task` is the ORM row or a `task_rows` row (the same attribute names)."""
    return {
        "id": task.id, "order_number": order_number, "instance_id": task.instance_id,
        "process_id": process_id, "process_name": process_name or process_id,
        "name": task.name, "bpmn_id": task.bpmn_id, "kind": task.kind,
        "stage": task.stage, "lane": task.lane, "lane_name": task.lane_name, "state": task.state,
        "assignee": assignee,
        "created_at": _iso(task.created_at), "due_at": _iso(task.due_at), "sla_level": task.sla_level,
        "overdue": bool(task.due_at and task.state == "open" and task.due_at < clock.now(task.due_at.tzinfo)),
    }


def task_detail_json(task: HumanTask) -> dict:
    forms = definition_forms(task.instance.definition)
    body = task_json(task)
    body.update({
        "documentation": task.documentation,
        "schema": prepare_schema(forms.get(task.form_schema or "", {})),
        "ui_schema": forms.get(task.form_ui_schema or "", {}),
        "data": task.data or {},
        "completed_at": _iso(task.completed_at),
        "completed_by": task.completed_by.login if task.completed_by else None,
        "candidates": sorted(db.session.execute(select(User.login).join(
            TaskCandidate, TaskCandidate.user_id == User.id).where(TaskCandidate.human_task_id == task.id)).scalars()),
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
        "promised_date": _iso(order.promised_date), "predicted_completion": predicted_completion(order),
        "at_risk": bool(order.at_risk) and order.status == OrderStatus.ACTIVE,
    }


def predicted_completion(order: Order) -> dict | None:
    """When the order should be done (app/services/prediction.py reckons it): none once finished or not yet known."""
    if order.status != OrderStatus.ACTIVE or order.predicted_on is None:
        return None
    return {"date": _iso(order.predicted_on), "p80_date": _iso(order.predicted_p80_on or order.predicted_on),
            "method": order.prediction_method}


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


# -- the same shapes as JSON Schema, for the OpenAPI document ------------------------------------------
# Lengths and nullability come from the columns, enumerations from the models: one place for each fact.

ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}  # the key columns are INTEGER on PostgreSQL
NO_NUL = "^[^\\x00]*$"  # a NUL in the address or query is refused with 400 (malformed) before anything else
TEXT_QUERY = {"type": "string", "maxLength": 200, "pattern": NO_NUL}
MONEY = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "a decimal amount in roubles"}
STAMP = {"type": "string", "description": "ISO 8601 date and time"}
DAY = {"type": "string", "format": "date"}
ANY_OBJECT = {"type": "object"}
PREDICTION_METHODS = ("history", "history-all-kinds", "sla")  # Order.prediction_method
ERROR_CODES = ("bad_request", "unauthorized", "forbidden", "not_found", "method_not_allowed", "conflict",
               "request_entity_too_large", "unsupported_media_type", "validation_failed", "deploy_rejected",
               "script_error", "too_many_requests")


def nullable(schema: dict) -> dict:
    if "$ref" in schema or "enum" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [schema["type"], "null"]}


def column_length(attribute) -> int | None:
    return getattr(attribute.property.columns[0].type, "length", None)


def column_text(attribute, *, allow_null: bool | None = None) -> dict:
    """A string as long as its column allows (TEXT: unbounded), null where the column is nullable."""
    schema: dict = {"type": "string"}
    if column_length(attribute):
        schema["maxLength"] = column_length(attribute)
    null = attribute.property.columns[0].nullable if allow_null is None else allow_null
    return nullable(schema) if null else schema


def obj(properties: dict) -> dict:
    """An object whose properties are all present (values may be null); others may be added later."""
    return {"type": "object", "required": list(properties), "properties": properties}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _extends(base: str, properties: dict) -> dict:
    return {"allOf": [ref(base), obj(properties)]}


def _responses() -> dict:
    login, text = nullable({"type": "string"}), {"type": "string"}
    customer = obj({"name": column_text(Customer.name), "phone": column_text(Customer.phone),
                    "email": column_text(Customer.email)})
    return {
        "Error": {"type": "object", "required": ["error", "message", "fields"], "properties": {
            "error": {"type": "string", "description": "a machine code: " + ", ".join(ERROR_CODES)},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": True,
                       "description": "per field (dotted path for nested ones): what is wrong with it"}},
            "description": "Every 4xx answer; some add details (a rejected deployment lists its `problems`)."},
        "Token": obj({"token": text, "user": obj({"login": text, "name": text,
                                                  "roles": {"type": "array", "items": text}})}),
        "Customer": customer,
        "OrderSummary": obj({
            "number": column_text(Order.number), "kind": {"enum": list(ORDER_KINDS)}, "kind_label": text,
            "channel": {"enum": list(CHANNELS)}, "status": {"enum": [s.value for s in OrderStatus]},
            "stage": text, "customer": ref("Customer"), "partner": column_text(Partner.code, allow_null=True),
            "address": text, "price": nullable(MONEY), "created_at": STAMP, "promised_date": nullable(DAY),
            "predicted_completion": nullable(obj({
                "date": {**DAY, "description": "the median date: half of similar orders were done by then"},
                "p80_date": {**DAY, "description": "four in five similar orders were done by then"},
                "method": {"enum": list(PREDICTION_METHODS),
                           "description": "history: finished orders of the same kind; history-all-kinds: of all "
                                          "kinds (too few of this one); sla: the remaining stages' SLA"}})),
            "at_risk": {"type": "boolean", "description": "the predicted date passed the promised one (the stage's "
                                                          "head was warned); false once the order is finished"}}),
        "OrderPage": obj({"items": {"type": "array", "items": ref("OrderSummary")},
                          "page": {"type": "integer", "minimum": 1}, "per_page": {"type": "integer", "minimum": 1},
                          "total": {"type": "integer", "minimum": 0}, "pages": {"type": "integer", "minimum": 0}}),
        "OrderCreated": obj({"number": text, "status": text, "stage": text, "status_url": nullable(text)}),
        "Order": _extends("OrderSummary", {
            "description": text, "prepayment": nullable(MONEY), "payment_type": nullable(text),
            "measurer": login, "visit_at": nullable(STAMP), "crew": login, "delivery_at": nullable(STAMP),
            "cancel_reason": nullable(text), "completed_at": nullable(STAMP), "status_url": nullable(text),
            "process": nullable(obj({"id": text, "version": {"type": "integer"}, "status": text})),
            "tasks": {"type": "array", "items": ref("Task")},
            "payments": {"type": "array", "items": obj({
                "number": column_text(Payment.number), "date": DAY, "amount": MONEY,
                "method": column_text(Payment.method), "received_by": text, "source": text})},
            "components": {"type": "array", "items": obj({
                "name": text, "quantity": {"type": "string"}, "unit": text,
                "supplier": column_text(Component.supplier), "status": text})},
            "documents": {"type": "array", "items": obj({
                "id": ID, "kind": text, "version": {"type": "integer"}, "filename": column_text(Document.filename),
                "created_at": STAMP, "url": text})}}),
        "History": obj({"number": text, "items": {"type": "array", "items": obj({
            "at": STAMP, "kind": text, "entity": text, "entity_id": column_text(AuditEvent.entity_id),
            "field": column_text(AuditEvent.field), "old": {}, "new": {}, "actor": text, "details": {}})}}),
        "Notifications": obj({"number": text, "items": {"type": "array", "items": obj({
            "id": ID, "event": text, "channel": text, "recipient": text, "subject": text, "body": text,
            "status": text, "error": column_text(Notification.error), "provider": column_text(Notification.provider),
            "provider_ref": column_text(Notification.provider_ref), "segments": nullable({"type": "integer"}),
            "locale": text, "attachments": {"type": "array"}, "created_at": STAMP,
            "sent_at": nullable(STAMP)})}}),
        "Task": obj({
            "id": ID, "order_number": nullable(text), "instance_id": ID, "process_id": text, "process_name": text,
            "name": text, "bpmn_id": text, "kind": {"enum": ["user", "manual", "task"]}, "stage": text,
            "lane": text, "lane_name": nullable(text),
            "state": {"enum": ["open", "completed", "cancelled"]}, "assignee": login, "created_at": STAMP,
            "due_at": nullable(STAMP), "sla_level": nullable(text), "overdue": {"type": "boolean"}}),
        "TaskDetail": _extends("Task", {"documentation": nullable(text),
                                        "schema": ANY_OBJECT, "ui_schema": ANY_OBJECT, "data": ANY_OBJECT,
                                        "completed_at": nullable(STAMP), "completed_by": login,
                                        "candidates": {"type": "array", "items": text, "description":
                                                       "the people the process named for it (lane owners)"}}),
        "TaskList": obj({"scope": text, "count": {"type": "integer", "minimum": 0},
                         "items": {"type": "array", "items": ref("Task")}}),
        "Completed": obj({"task": ref("Task"), "instance": obj({"id": ID, "status": text}),
                          "order": nullable(obj({"number": text, "stage": text, "status": text})),
                          "tasks": {"type": "array", "items": ref("Task"),
                                    "description": "the open tasks of the same order or instance"}}),
        "MessageAccepted": obj({"accepted": {"const": True}, "message": text, "instance_id": ID,
                                "instance_ids": {"type": "array", "items": ID,
                                                 "description": "every instance the message reached"},
                                "order_number": nullable(text), "stage": nullable(text),
                                "status": {"type": "string", "description": "the order's status, or the "
                                                                            "instance's when no order started it"}}),
        "Process": obj({
            "id": ID, "process_id": column_text(ProcessDefinition.process_id), "name": text,
            "version": {"type": "integer", "minimum": 1}, "checksum": text, "deployed_at": STAMP,
            "deployed_by": login, "comment": text, "forms": {"type": "array", "items": text},
            "dmn": {"type": "array", "items": text}, "running_instances": nullable({"type": "integer"})}),
        "ProcessList": obj({"items": {"type": "array", "items": ref("Process")}}),
        "ProcessDeployed": _extends("Process", {"created": {"type": "boolean"}, "warnings": {
            "type": "array", "items": ref("Problem"), "description": "what validation warned about (not refused)"},
            "processes": {"type": "array", "description": "every executable process of the bundle; the top-level "
                          "fields are the main one's (the process no other process of the bundle calls)",
                          "items": obj({"process_id": text, "version": {"type": "integer", "minimum": 1},
                                        "created": {"type": "boolean"}})}}),
        "Problem": {"type": "object", "required": ["element_id", "name", "message", "severity", "file"],
                    "additionalProperties": True, "properties": {
                        "element_id": nullable(text), "name": nullable(text), "message": text,
                        "severity": {"enum": ["error", "warning"]}, "file": nullable(text)},
                    "description": "one validation finding, on the BPMN element to fix (none: the whole bundle); "
                                   "some add `binding`, `variable`, `form`, `operator`, `missing`, `line`"},
        "ValidationReport": obj({"ok": {"type": "boolean", "description": "no errors (warnings do not count)"},
                                 "problems": {"type": "array", "items": ref("Problem")}}),
        "ProcessVersion": obj({
            "version": {"type": "integer", "minimum": 1}, "deployed_at": STAMP, "deployed_by": login,
            "comment": text, "checksum": text, "running_instances": {"type": "integer", "minimum": 0},
            "active": {"type": "boolean"}, "source": {"enum": ["repository", "studio", "api"]}}),
        "ProcessVersions": obj({"items": {"type": "array", "items": ref("ProcessVersion")}}),
        "MigrationCheck": obj({"order_number": text, "ok": {"type": "boolean"}, "reason": nullable(text)}),
        "MigrationDryRun": obj({"dry_run": {"const": True},
                                "items": {"type": "array", "items": ref("MigrationCheck")}}),
        "MigrationStarted": obj({"dry_run": {"const": False},
                                 "items": {"type": "array", "items": ref("MigrationCheck")},
                                 "migration_id": ID, "job_id": ID}),
        "Migration": obj({
            "id": ID, "process_id": text, "from_version": {"type": "integer"}, "to_version": {"type": "integer"},
            "selection": ANY_OBJECT, "status": {"enum": ["queued", "running", "done"]},
            "total": {"type": "integer"}, "moved": {"type": "integer"}, "failed": {"type": "integer"},
            "pending": {"type": "integer"}, "created_at": STAMP, "finished_at": nullable(STAMP),
            "items": {"type": "array", "items": obj({"order_number": text,
                                                     "state": {"enum": ["pending", "moved", "failed"]},
                                                     "reason": nullable(text)})}}),
        "Incident": obj({
            "id": ID, "order_number": nullable(text), "operator": column_text(OutboxJob.operator),
            "bpmn_id": column_text(OutboxJob.bpmn_id), "status": text, "attempts": {"type": "integer"},
            "max_attempts": {"type": "integer"}, "error": nullable(text), "params": {}, "result": {},
            "created_at": STAMP, "started_at": nullable(STAMP), "finished_at": nullable(STAMP),
            "updated_at": STAMP}),
        "IncidentList": obj({"count": {"type": "integer", "minimum": 0},
                             "items": {"type": "array", "items": ref("Incident")}}),
        "StatusLink": obj({"number": text, "status_url": nullable(text), "revoked": {"type": "boolean"}}),
        "Settlements": obj({
            "partner": obj({"code": text, "name": text}), "from": DAY, "to": DAY,
            "items": {"type": "array", "items": obj({
                "number": text, "kind": text, "status": text, "created_at": STAMP, "commission_pct": text,
                **{name: nullable(MONEY) for name in TOTALS}})},
            "totals": obj({name: nullable(MONEY) for name in TOTALS})}),
        "CustomerStatus": obj({
            "number": text, "kind": text, "kind_label": text, "stage": text, "status": text, "current": text,
            "now": text, "expected_at": nullable(STAMP), "next": nullable(text), "promised_date": nullable(DAY),
            "estimated_on": {**nullable(DAY), "description": "when the order should be ready (none once finished)"},
            "milestones": {"type": "array", "items": obj({"code": text, "label": text, "state": text,
                                                          "reached_at": nullable(STAMP)})},
            "appointments": {"type": "array", "items": obj({"label": text, "at": STAMP, "specialist": login})},
            "documents": {"type": "array", "items": obj({"kind": text, "version": {"type": "integer"},
                                                         "filename": text, "url": text})},
            "price": nullable(MONEY), "paid": nullable(MONEY), "balance": nullable(MONEY),
            "payments": {"type": "array", "items": obj({"date": DAY, "amount": MONEY})},
            "manager": nullable(obj({"name": text, "phone": nullable(text), "email": nullable(text)})),
            "claims": {"type": "array", "items": obj({"text": text, "status": text, "state": text,
                                                      "filed_at": STAMP, "resolved_at": nullable(STAMP)})},
            "tasks": {"type": "array", "items": ref("TaskDetail")}}),
        "CustomerCompleted": obj({"number": text, "stage": text}),
        "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"],
                            "properties": {"openapi": {"const": "3.1.0"}, "paths": ANY_OBJECT}},
    }


def _requests() -> dict:
    def required_text(attribute) -> dict:
        # Blank after trimming counts as missing: at least one visible character.
        return {**column_text(attribute), "minLength": 1, "pattern": r"\S"}

    return {
        "Login": {"type": "object", "required": ["login", "password"], "additionalProperties": True, "properties": {
            "login": {"type": "string", "maxLength": column_length(User.login)},
            "password": {"type": "string", "maxLength": 200}}},
        "OrderIntake": {
            "type": "object", "required": ["kind", "customer", "address"], "additionalProperties": True,
            "description": "Unknown properties are ignored. A partner's order is always its own (channel partner).",
            "properties": {
                "kind": {"enum": list(ORDER_KINDS)},
                "channel": {"enum": list(CHANNELS), "description": "default api"},
                "customer": {
                    "type": "object", "required": ["name"], "additionalProperties": True,
                    "description": "a phone or an e-mail is required (a customer with the same phone, else the same "
                                   "e-mail, is reused)",
                    "anyOf": [{"required": ["phone"]}, {"required": ["email"]}],
                    "properties": {
                        "name": required_text(Customer.name),
                        "phone": {"type": "string", "pattern": r"^\+?[0-9][0-9 ()-]{4,30}$",
                                  "maxLength": column_length(Customer.phone),
                                  "description": "any possible number (+7 916 123-45-67, 8 (916) 123-45-67 …); "
                                                 "without a country code a Russian one"},
                        "email": {"type": "string", "format": "email",
                                  "maxLength": column_length(Customer.email)}}},
                "address": required_text(Order.address),
                "description": {"type": "string"},
                "partner": {**column_text(Partner.code, allow_null=False),
                            "description": "a partner's code (staff only)"}}},
        "Cancel": {"type": "object", "required": ["reason"], "additionalProperties": True, "properties": {
            "reason": {"type": "string", "minLength": 3, "pattern": r"\S[\s\S]+\S",
                       "description": "at least three characters besides the spaces around them"}}},
        "Assign": {"type": "object", "required": ["user"], "additionalProperties": True, "properties": {
            "user": {"type": "string", "minLength": 1, "maxLength": column_length(User.login),
                     "description": "the assignee's login"}}},
        "Complete": {"type": "object", "required": ["data"], "additionalProperties": True, "properties": {
            "data": {"type": "object", "description": "the form's fields, validated against the task's form schema"}}},
        "Skip": {"type": "object", "required": ["reason"], "additionalProperties": True, "properties": {
            "reason": {"type": "string", "minLength": 1, "pattern": r"\S"}, "result": ANY_OBJECT}},
        "Message": {"type": "object", "additionalProperties": True, "properties": {
            "order_number": {"type": "string", "maxLength": column_length(Order.number),
                             "description": "to this order's process"},
            "instance_id": {**ID, "description": "to this instance (any process)"},
            "correlation": {"type": "object", "description": "correlation property → value: to the instance(s) "
                            "waiting for the message that hold these values"},
            "payload": ANY_OBJECT}},
        "Deploy": {"type": "object", "additionalProperties": True,
                   "description": "`bpmn` (with `bpmn_name`), `bpmn_files`, or both: the BPMN files of one bundle, "
                                  "whose call activities may call each other's processes and deployed ones",
                   "properties": {
                       "bpmn": {"type": "string", "description": "the BPMN XML"},
                       "bpmn_name": {"type": "string", "maxLength": 200},
                       "bpmn_files": {"type": "object", "additionalProperties": {"type": "string"},
                                      "description": "file name → BPMN XML (more files of the bundle)"},
                       "replace": {"type": "boolean", "description": "a process already deployed with other "
                                   "content gets this as its next version (else 409 naming the clash)"},
                       "dmn": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "file name → DMN XML"},
                       "forms": {"type": "object", "additionalProperties": {"type": ["object", "string"]},
                                 "description": "file name → JSON Schema of a form"},
                       "comment": {"type": "string", "maxLength": column_length(ProcessDefinition.comment)}}},
        "Activate": {"type": "object", "required": ["version"], "additionalProperties": True, "properties": {
            "version": {"type": "integer", "minimum": 1, "maximum": 10**6}}},
        "Migrate": {
            "type": "object", "required": ["from_version", "to_version"], "additionalProperties": True,
            "description": "Which orders: `orders` (numbers) or `stage` (the stage they wait at), not both (422 naming "
                           "`stage`); neither: every order running on from_version. `dry_run` defaults to true.",
            "properties": {
                "from_version": {"type": "integer", "minimum": 1, "maximum": 10**6},
                "to_version": {"type": "integer", "minimum": 1, "maximum": 10**6},
                "orders": {"type": "array", "minItems": 1, "maxItems": 5000,
                           "items": {"type": "string", "minLength": 1, "maxLength": column_length(Order.number),
                                     "pattern": r"\S"}},
                "stage": {"type": "string", "minLength": 1, "maxLength": 120, "pattern": r"\S"},
                "dry_run": {"type": "boolean"}}},
        "DeployFiles": {"type": "object", "required": ["bpmn"], "additionalProperties": True, "properties": {
            "bpmn": {"type": "array", "items": {"type": "string", "format": "binary"},
                     "description": "repeat the part for every BPMN file of the bundle"},
            "replace": {"type": "string", "enum": ["true", "false"]},
            "dmn": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "forms": {"type": "array", "items": {"type": "string", "format": "binary"}},
            "comment": {"type": "string", "maxLength": column_length(ProcessDefinition.comment)}}},
    }


COMPONENTS = {**_responses(), **_requests()}
