"""The OpenAPI document of /api/v1 (a test checks it against the real routes; schemathesis against the served app)."""
from __future__ import annotations

from typing import Any

from flask import jsonify

from app import policy
from app.api import bp
from app.api.auth import endpoint
from app.api.schemas import COMPONENTS, ERROR_CODES, ID, NO_NUL, TEXT_QUERY, column_text, ref
from app.models import HumanTask, Order, Partner, User


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _op(summary: str, responses: dict, *, body: str | None = None, files: str | None = None,
        params: list | None = None, public: bool = False, tag: str = "orders") -> dict:
    """One operation; a response is `(text, schema name)` for a success, a text for an error (the Error shape).

    Every operation may answer 400 (NUL in the address, JSON nested too deeply); every authenticated one 401 (no
    or bad token); one with a body or parameters 422 for an invalid field.
    """
    answers: dict[str, dict] = {}
    for code, answer in responses.items():
        if code >= 400:
            answers[str(code)] = {"description": answer, **_json(ref("Error"))}
        else:
            text, schema = answer
            answers[str(code)] = {"description": text, **(_json(ref(schema)) if isinstance(schema, str) else schema)}
    answers.setdefault("400", {"description": "malformed: a NUL character in the address or query, or a JSON body "
                                              "nested too deeply", **_json(ref("Error"))})
    if not public:
        answers.setdefault("401", {"description": "no token, or an invalid or expired one", **_json(ref("Error"))})
    if body or params:
        answers.setdefault("422", {"description": "a field or parameter is invalid (named in `fields`)",
                                   **_json(ref("Error"))})
    if body:
        answers.setdefault("413", {"description": "the request is larger than the server takes",
                                   **_json(ref("Error"))})
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": answers}
    if body:
        op["requestBody"] = {"required": True, **_json(ref(body))}
    if files:
        op["requestBody"]["content"]["multipart/form-data"] = {"schema": ref(files)}
    if params:
        op["parameters"] = params
    if public:
        op["security"] = []
    return op


def _path(name: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: dict, description: str = "") -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            **({"description": description} if description else {})}


def _filter(name: str, attribute) -> dict:
    """An exact-match filter on a column: as long as the column, without NUL (refused with 400 before any look-up)."""
    return _query(name, {**column_text(attribute, allow_null=False), "pattern": NO_NUL})


NUMBER = _path("number", {"type": "string", "maxLength": 20, "description": "order number, e.g. 2026-00042"})
TASK_ID, JOB_ID, DOCUMENT_ID = _path("task_id", ID), _path("job_id", ID), _path("document_id", ID)
TOKEN = _path("token", {"type": "string", "maxLength": 200})
DATE = {"type": "string", "format": "date"}
PERIOD_DAY = {**DATE, "pattern": "^(19|2[0-9])[0-9]{2}-", "description": "a day of the years 1900–2999"}
DAY_OR_STAMP = {"anyOf": [PERIOD_DAY, {"type": "string", "format": "date-time", "pattern": PERIOD_DAY["pattern"]}],
                "description": "a date (years 1900–2999) or date-time"}
PDF = {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}
BPMN_XML = {"content": {"application/xml": {"schema": {"type": "string"}}}}
PROCESS_ID = _path("process_id", {"type": "string", "maxLength": 100, "description": "e.g. order_lifecycle"})
VERSION = _path("version", {"type": "integer", "minimum": 0, "maximum": 10**6})
MIGRATION_ID = _path("migration_id", ID)
BPMN_TASK = {"type": "string", "maxLength": 100, "pattern": "^[A-Za-z_][A-Za-z0-9_.-]*$"}
ORDER_FILTERS = [
    _filter("stage", Order.stage), _filter("status", Order.status),
    _filter("kind", Order.kind), _filter("channel", Order.channel),
    _filter("partner", Partner.code), _filter("assignee", User.login),
    _query("customer", {"type": "string", "pattern": "^[0-9]{1,9}$"}, "one customer's orders (the customer's id)"),
    _query("q", TEXT_QUERY, "order number, customer name, address or (4+ digits) phone contains it"),
    _query("created_from", DAY_OR_STAMP), _query("created_to", DAY_OR_STAMP),
    _query("completed_from", DAY_OR_STAMP), _query("completed_to", DAY_OR_STAMP),
    _query("at_risk", {"type": "boolean"}, "true (or 1, yes): only active orders predicted to miss the promised date"),
    _query("task", BPMN_TASK, "orders that had a task at this BPMN task id"),
    _filter("task_stage", HumanTask.stage),
    _query("task_done", {"type": "boolean"}, "that task (any, without task or task_stage) was completed"),
    _query("task_late", {"type": "boolean"}, "that task (or any) was completed after its deadline"),
    _query("task_loop", {"type": "boolean"}, "the order reached that task (or any) more than once"),
    _query("task_next", BPMN_TASK, "the order's next task after that one (or any) was this BPMN task id"),
    _filter("stopped_at", HumanTask.stage),
    _query("page", {"type": "integer", "minimum": 1, "maximum": 10**6}),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 200}),
]
TASK_FILTERS = [
    _query("scope", {"enum": ["mine", "queue", "all"]}, "mine (default), the queue of my lanes, or all I may see"),
    _query("state", {"enum": ["open", "completed", "cancelled", "any"]}, "default open"),
    _filter("order", Order.number), _filter("stage", HumanTask.stage),
    _filter("lane", HumanTask.lane),
    _query("overdue", {"type": "boolean"}, "true (or 1, yes): only tasks past their due time"),
]
LINK_KEEPERS = ", ".join(sorted(policy.ORDER_DESK))

PATHS = {
    "/auth/token": {"post": _op("Exchange login and password for a bearer token",
                                {200: ("token", "Token"), 401: "wrong credentials",
                                 429: "too many attempts for this login or address; retry later"},
                                body="Login", public=True, tag="auth")},
    "/orders": {
        "get": _op("List orders", {200: ("page of orders", "OrderPage")}, params=ORDER_FILTERS),
        "post": _op("Create an order (website, partner, staff)",
                    {201: ("created", "OrderCreated"), 403: "neither staff nor a partner"}, body="OrderIntake"),
    },
    "/orders/{number}": {"get": _op("The order with its open tasks, payments, components and documents",
                                    {200: ("order", "Order"), 404: "no such order"}, params=[NUMBER])},
    "/orders/{number}/history": {"get": _op("Audit history of the order (for partners: stages, status and field "
                                            "changes only)", {200: ("events", "History"), 404: "no such order"},
                                            params=[NUMBER])},
    "/orders/{number}/notifications": {"get": _op(
        "Notifications sent about the order (staff only)",
        {200: ("notifications", "Notifications"), 403: "staff only", 404: "no such order"}, params=[NUMBER])},
    "/orders/{number}/documents/{document_id}": {"get": _op(
        "Download a document (PDF)", {200: ("PDF", PDF), 404: "no such order or document"},
        params=[NUMBER, DOCUMENT_ID])},
    "/orders/{number}/cancel": {"post": _op(
        "Cancel the order with a reason",
        {200: ("cancelled", "Order"), 403: LINK_KEEPERS, 404: "no such order",
         409: "not cancellable at this stage"}, body="Cancel", params=[NUMBER])},
    "/tasks": {"get": _op("List tasks", {200: ("tasks", "TaskList")}, params=TASK_FILTERS, tag="tasks")},
    "/tasks/{task_id}": {"get": _op("A task with its form schema and data",
                                    {200: ("task", "TaskDetail"), 403: "not your lane", 404: "no such task"},
                                    params=[TASK_ID], tag="tasks")},
    "/tasks/{task_id}/claim": {"post": _op("Take a task from the queue",
                                           {200: ("claimed", "Task"), 403: "not allowed", 404: "no such task",
                                            409: "no longer open"}, params=[TASK_ID], tag="tasks")},
    "/tasks/{task_id}/unclaim": {"post": _op("Return a task to the queue",
                                             {200: ("released", "Task"), 403: "not allowed", 404: "no such task",
                                              409: "no longer open"}, params=[TASK_ID], tag="tasks")},
    "/tasks/{task_id}/assign": {"post": _op("Assign a task (department heads)",
                                            {200: ("assigned", "Task"), 403: "not a head", 404: "no such task",
                                             409: "no longer open"}, body="Assign", params=[TASK_ID], tag="tasks")},
    "/tasks/{task_id}/complete": {"post": _op(
        "Submit the task's form", {200: ("completed; the order's open tasks", "Completed"),
                                   403: "not your lane or task", 404: "no such task", 409: "no longer open"},
        body="Complete", params=[TASK_ID], tag="tasks")},
    "/messages/{name}": {"post": _op(
        "Deliver a message to a process: an order's (`order_number`), one instance (`instance_id`), the instance(s) "
        "waiting for it whose correlation values match (`correlation`; the payload's correlation properties must "
        "match too), or else the one instance waiting for it. Senders: payment_received and bank_decision "
        "accountants and admins, cancel the order desk; any other message admins and, to a process no order "
        "started, its starter and the roles that may start that process",
        {202: ("accepted", "MessageAccepted"), 403: "your roles may not send this message",
         404: "no such order or instance, or no instance waits for the message (with these correlation values)",
         409: "the instance is not running or not waiting for it, or several wait: name an instance_id or "
              "correlation",
         422: "a field is invalid, or the payload lacks a key the message's correlation reads (named in `fields`)"},
        body="Message", params=[_path("name", {"type": "string", "maxLength": 100})], tag="messages")},
    "/processes": {
        "get": _op("Deployed process versions (staff; not partners)",
                   {200: ("versions", "ProcessList"), 403: "partners may not read process versions"},
                   tag="processes"),
        "post": _op("Deploy one or more BPMN files (a bundle) with their DMN and forms",
                    {200: ("unchanged: the same files are already deployed", "ProcessDeployed"),
                     201: ("a new version of at least one process", "ProcessDeployed"), 403: "analyst/admin only",
                     409: "a process of the bundle is deployed with other content and `replace` is not true: "
                          "`clashes` names each (process_id, version, deployed_by, deployed_at)",
                     422: "refused: `problems` lists each on its element"},
                    body="Deploy", files="DeployFiles", tag="processes"),
    },
    "/processes/{process_id}/validate": {"post": _op(
        "Validate a BPMN with its DMN and forms as deploy would, deploying nothing: every error and warning, each on "
        "its element",
        {200: ("the problems found; `ok` when none is an error", "ValidationReport"), 403: "analyst/admin only",
         422: "not a diagram at all (no bpmn, malformed XML, a DOCTYPE): `problems` says why, or a field is "
              "invalid"},
        body="Deploy", files="DeployFiles", params=[PROCESS_ID], tag="processes")},
    "/processes/{process_id}/versions": {"get": _op(
        "Every version of a process: who deployed it, when, from where, how many instances run on it, the active one",
        {200: ("versions, newest first", "ProcessVersions"), 403: "analyst/admin only", 404: "no such process"},
        params=[PROCESS_ID], tag="processes")},
    "/processes/{process_id}/versions/{version}/bpmn": {"get": _op(
        "Download a version's BPMN", {200: ("the BPMN XML", BPMN_XML), 403: "analyst/admin only",
                                      404: "no such process or version"},
        params=[PROCESS_ID, VERSION], tag="processes")},
    "/processes/{process_id}/activate": {"post": _op(
        "Make a version the one new instances get (rollback or forward; no new version; audited)",
        {200: ("the active version", "ProcessVersion"), 403: "admin only", 404: "no such process or version"},
        body="Activate", params=[PROCESS_ID], tag="processes")},
    "/processes/{process_id}/migrations": {"post": _op(
        "Move running orders from one version to another: a dry run per order, or the move as a background job",
        {200: ("dry run: per order whether it can move and why not", "MigrationDryRun"),
         202: ("started: the dry run's answer, the migration and its job", "MigrationStarted"),
         403: "admin only", 404: "no such process or version"},
        body="Migrate", params=[PROCESS_ID], tag="processes")},
    "/processes/{process_id}/migrations/{migration_id}": {"get": _op(
        "A migration's progress and each order's result", {200: ("progress", "Migration"), 403: "analyst/admin only",
                                                            404: "no such migration"},
        params=[PROCESS_ID, MIGRATION_ID], tag="processes")},
    "/incidents": {"get": _op("Background jobs out of attempts, with the error, the order and the task",
                              {200: ("incidents", "IncidentList"), 403: "admin/director only"}, tag="incidents")},
    "/incidents/{job_id}/retry": {"post": _op(
        "Retry an incident with a fresh set of attempts",
        {200: ("queued again", "Incident"), 403: "admin only", 404: "no such job", 409: "not an incident"},
        params=[JOB_ID], tag="incidents")},
    "/incidents/{job_id}/skip": {"post": _op(
        "Finish an incident by hand with a result; the order moves on",
        {200: ("skipped", "Incident"), 403: "admin only", 404: "no such job", 409: "not an incident"},
        body="Skip", params=[JOB_ID], tag="incidents")},
    "/orders/{number}/status-link": {
        "post": _op("Issue a new customer status link; every earlier one stops working",
                    {200: ("the new link", "StatusLink"), 403: LINK_KEEPERS, 404: "no such order"},
                    params=[NUMBER], tag="customer"),
        "delete": _op("Revoke the customer status link (no link works until a new one is issued)",
                      {200: ("revoked", "StatusLink"), 403: LINK_KEEPERS, 404: "no such order"},
                      params=[NUMBER], tag="customer"),
    },
    "/partner/settlements": {"get": _op(
        "The calling partner's settlements for a period (orders created from..to, default this month): per order "
        "price, payments to the company and to the partner, commission, balances; totals",
        {200: ("statement", "Settlements"), 403: "partners only"},
        params=[_query("from", PERIOD_DAY), _query("to", PERIOD_DAY)], tag="partner")},
    "/status/{token}": {"get": _op("The customer's view of an order: milestones, next step, visits, documents, "
                                   "payments, manager, claims, open customer tasks",
                                   {200: ("status", "CustomerStatus"),
                                    404: "not found (any bad, altered or revoked token)",
                                    429: "too many requests or misses from this address"},
                                   params=[TOKEN], public=True, tag="customer")},
    "/status/{token}/tasks/{task_id}/complete": {"post": _op(
        "The customer completes their task (rating, claim)",
        {200: ("done", "CustomerCompleted"), 404: "not found", 409: "no longer open",
         429: "too many requests or misses from this address"},
        body="Complete", params=[TOKEN, TASK_ID], public=True, tag="customer")},
    "/openapi.json": {"get": _op("This document", {200: ("OpenAPI 3.1", "OpenApiDocument")}, public=True,
                                 tag="meta")},
}


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bespoke API", "version": "1.0.0",
                 "description": "Orders, tasks, messages and process versions of Bespoke. Errors share one shape, "
                                "`Error`; its `error` is one of: " + ", ".join(ERROR_CODES) + "."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {"schemas": COMPONENTS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@bp.get("/openapi.json")
@endpoint("public")
def openapi_json(_user):
    return jsonify(document())
