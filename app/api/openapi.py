"""The OpenAPI document of /api/v1 (a test checks it against the real routes)."""
from __future__ import annotations

from flask import jsonify

from app.api import bp

ERROR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, responses: dict, *, body: str | None = None, params: list | None = None,
        public: bool = False, tag: str = "orders") -> dict:
    op = {"summary": summary, "tags": [tag],
          "responses": {str(code): {"description": text, **({"content": {"application/json": {"schema": ERROR}}}
                                                                if code >= 400 else {})}
                        for code, text in responses.items()}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": body}}}}
    if params:
        op["parameters"] = params
    if public:
        op["security"] = []
    return op


def _path(name: str, schema: str = "string") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": schema}}


def _query(*names: str) -> list:
    return [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in names]


NUMBER, TASK_ID, TOKEN = _path("number"), _path("task_id", "integer"), _path("token")
JOB_ID = _path("job_id", "integer")

PATHS = {
    "/auth/token": {"post": _op("Exchange login and password for a bearer token",
                                {200: "token", 401: "wrong credentials"}, body="#/components/schemas/Login",
                                public=True, tag="auth")},
    "/orders": {
        "get": _op("List orders", {200: "page of orders", 422: "bad filter"},
                   params=_query("stage", "status", "kind", "channel", "partner", "assignee", "q",
                                 "created_from", "created_to", "page", "per_page")),
        "post": _op("Create an order (website, partner, staff)", {201: "created", 422: "invalid fields"},
                    body="#/components/schemas/OrderIntake"),
    },
    "/orders/{number}": {"get": _op("The order with its open tasks, payments, components and documents",
                                    {200: "order", 404: "no such order"}, params=[NUMBER])},
    "/orders/{number}/history": {"get": _op("Audit history of the order (for partners: stages, status and field "
                                            "changes only)", {200: "events", 404: "no such order"}, params=[NUMBER])},
    "/orders/{number}/notifications": {"get": _op("Notifications sent about the order (staff only)",
                                                  {200: "notifications", 403: "staff only", 404: "no such order"},
                                                  params=[NUMBER])},
    "/orders/{number}/documents/{document_id}": {"get": _op(
        "Download a document (PDF)", {200: "PDF", 404: "no such document"},
        params=[NUMBER, _path("document_id", "integer")])},
    "/orders/{number}/cancel": {"post": _op(
        "Cancel the order with a reason", {200: "cancelled", 409: "not cancellable at this stage",
                                          422: "reason missing"}, body="#/components/schemas/Cancel", params=[NUMBER])},
    "/tasks": {"get": _op("List tasks", {200: "tasks", 422: "bad scope"},
                          params=_query("scope", "state", "order", "stage", "lane", "overdue"), tag="tasks")},
    "/tasks/{task_id}": {"get": _op("A task with its form schema and data", {200: "task", 403: "not your lane",
                                                                             404: "no such task"},
                                    params=[TASK_ID], tag="tasks")},
    "/tasks/{task_id}/claim": {"post": _op("Take a task from the queue", {200: "claimed", 403: "not allowed",
                                                                         409: "no longer open"},
                                           params=[TASK_ID], tag="tasks")},
    "/tasks/{task_id}/unclaim": {"post": _op("Return a task to the queue", {200: "released", 403: "not allowed",
                                                                           409: "no longer open"},
                                             params=[TASK_ID], tag="tasks")},
    "/tasks/{task_id}/assign": {"post": _op("Assign a task (department heads)", {200: "assigned", 403: "not a head",
                                                                                 422: "unknown user"},
                                            body="#/components/schemas/Assign", params=[TASK_ID], tag="tasks")},
    "/tasks/{task_id}/complete": {"post": _op(
        "Submit the task's form", {200: "completed; the order's open tasks", 403: "not your lane or task",
                                   409: "no longer open", 422: "invalid fields"},
        body="#/components/schemas/Complete", params=[TASK_ID], tag="tasks")},
    "/messages/{name}": {"post": _op(
        "Deliver a message (payment_received, bank_decision, cancel …) to an order",
        {202: "accepted", 404: "no such order", 409: "the order is not waiting for it"},
        body="#/components/schemas/Message", params=[_path("name")], tag="messages")},
    "/processes": {
        "get": _op("Deployed process versions", {200: "versions"}, tag="processes"),
        "post": _op("Deploy a BPMN with its DMN and forms", {200: "unchanged", 201: "new version",
                                                             403: "analyst/admin only", 422: "rejected"},
                    tag="processes"),
    },
    "/incidents": {"get": _op("Background jobs out of attempts, with the error, the order and the task",
                              {200: "incidents", 403: "admin/director only"}, tag="incidents")},
    "/incidents/{job_id}/retry": {"post": _op(
        "Retry an incident with a fresh set of attempts", {200: "queued again", 403: "admin only",
                                                           404: "no such job", 409: "not an incident"},
        params=[JOB_ID], tag="incidents")},
    "/incidents/{job_id}/skip": {"post": _op(
        "Finish an incident by hand with a result; the order moves on", {200: "skipped", 403: "admin only",
                                                                        404: "no such job", 409: "not an incident",
                                                                        422: "no reason"},
        body="#/components/schemas/Skip", params=[JOB_ID], tag="incidents")},
    "/orders/{number}/status-link": {
        "post": _op("Issue a new customer status link; every earlier one stops working",
                    {200: "the new link", 403: "sales, dispatch, director, admin", 404: "no such order"},
                    params=[NUMBER], tag="customer"),
        "delete": _op("Revoke the customer status link (no link works until a new one is issued)",
                      {200: "revoked", 403: "sales, dispatch, director, admin", 404: "no such order"},
                      params=[NUMBER], tag="customer"),
    },
    "/partner/settlements": {"get": _op(
        "The calling partner's settlements for a period (orders created from..to, default this month): per order "
        "price, payments to the company and to the partner, commission, balances; totals",
        {200: "statement", 403: "partners only", 422: "bad dates"}, params=_query("from", "to"), tag="partner")},
    "/status/{token}": {"get": _op("The customer's view of an order: milestones, next step, visits, documents, "
                                   "payments, manager, claims, open customer tasks",
                                   {200: "status", 404: "not found (any bad, altered or revoked token)",
                                    429: "too many requests or misses from this address"},
                                   params=[TOKEN], public=True, tag="customer")},
    "/status/{token}/tasks/{task_id}/complete": {"post": _op(
        "The customer completes their task (rating, claim)", {200: "done", 404: "not found", 422: "invalid"},
        body="#/components/schemas/Complete", params=[TOKEN, TASK_ID], public=True, tag="customer")},
    "/openapi.json": {"get": _op("This document", {200: "OpenAPI 3.1"}, public=True, tag="meta")},
}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string"}, "message": {"type": "string"}, "fields": {"type": "object"}}},
    "Login": {"type": "object", "required": ["login", "password"], "properties": {
        "login": {"type": "string"}, "password": {"type": "string"}}},
    "OrderIntake": {"type": "object", "required": ["kind", "customer", "address"], "properties": {
        "kind": {"enum": ["wardrobe", "furniture", "kitchen", "home_theater", "air_conditioner", "windows"]},
        "channel": {"enum": ["web", "email", "phone", "partner", "api", "import"]},
        "customer": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "phone": {"type": "string"}, "email": {"type": "string", "format": "email"}}},
        "address": {"type": "string"}, "description": {"type": "string"}, "partner": {"type": "string"}}},
    "Cancel": {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "minLength": 3}}},
    "Assign": {"type": "object", "required": ["user"], "properties": {"user": {"type": "string"}}},
    "Complete": {"type": "object", "required": ["data"], "properties": {"data": {"type": "object"}}},
    "Skip": {"type": "object", "required": ["reason"], "properties": {
        "reason": {"type": "string"}, "result": {"type": "object"}}},
    "Message": {"type": "object", "required": ["order_number"], "properties": {
        "order_number": {"type": "string"}, "payload": {"type": "object"}}},
}


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bespoke API", "version": "1.0.0",
                 "description": "Orders, tasks, messages and process versions of Bespoke."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())
