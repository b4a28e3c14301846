"""Schemathesis over every operation of /api/v1 against the app served for real, with all checks.

The app runs in a werkzeug server thread on a free port, on the test database and the test Redis,
seeded with the demo people, the deployed lifecycle and a few orders, so that generated requests
also hit real order numbers, task ids, documents, an incident and a live status link.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from app.api.openapi import document
from app.extensions import db
from app.models import Document, HumanTask, Order, OutboxJob, SavedReport, User
from app.services import reports
from app.usecases import reports as saved_reports
from tests.support.api import HAPPY_CASH, Api, seed, truncate_all
from tests.support.fake_sms import FakeSmsGateway

# The contract is the same on both databases: the SQLite pass explores it widely, the PostgreSQL pass checks that
# the same operations keep it there (its own integer and text limits) with fewer examples each, to keep CI short.
MAX_EXAMPLES = 12 if os.environ.get("BESPOKE_TEST_DB", "sqlite") == "sqlite" else 5
PARTNER_EXAMPLES = 4 if MAX_EXAMPLES == 12 else 2
SEED = 20261201
# Operations that change the order they name run on an order of their own, so the others keep theirs.
DESTRUCTIVE = {("POST", "/orders/{number}/cancel"), ("POST", "/orders/{number}/status-link"),
               ("DELETE", "/orders/{number}/status-link"),
               *{("POST", f"/orders/{{number}}/process/{name}") for name in
                 ("suspend", "resume", "retry", "skip", "message")}}


@dataclass
class Live:
    """The served app: where it answers, how to sign in, and real ids per path parameter."""

    base_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    reading: dict[str, list] = field(default_factory=dict)
    destroying: dict[str, list] = field(default_factory=dict)
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


LIVE = Live()  # filled by the `live` fixture, read by the generation hooks below


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _real_ids(app, numbers: list[str]) -> dict[str, list]:
    with app.app_context():
        orders = db.session.execute(select(Order).where(Order.number.in_(numbers))).scalars().all()
        ids = [o.id for o in orders]
        tasks = db.session.execute(select(HumanTask.id).where(HumanTask.order_id.in_(ids))).scalars().all()
        documents = db.session.execute(select(Document.id).where(Document.order_id.in_(ids))).scalars().all()
        jobs = db.session.execute(select(OutboxJob.id).where(OutboxJob.status == "incident")).scalars().all()
        return {"number": [o.number for o in orders], "task_id": list(tasks), "document_id": list(documents),
                "job_id": list(jobs), "token": [o.status_key for o in orders if o.status_key],
                "process_id": ["order_lifecycle"], "version": [1],
                "report_id": list(db.session.execute(select(SavedReport.id)).scalars())}


@pytest.fixture(scope="module")
def live(_schema, redis_server, tmp_path_factory, request):
    tmp = tmp_path_factory.mktemp("conformance")
    with FakeSmsGateway() as gateway:
        # A gateway that refuses our key: the orders' SMS become incidents to retry or skip.
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": _schema, "TESTING": True, "JOBS_INLINE": True,
            "REDIS_URL": redis_server.url, "SECRET_KEY": "test-secret", "INSTANCE_PATH": str(tmp),
            "UPLOADS_DIR": str(tmp / "uploads"), **gateway.config("smsru", SMSRU_API_ID="not-the-key")})
        with app.app_context():  # a clean database: earlier modules leave their rows behind
            truncate_all(db)
        seed(app)
        api = Api(app, app.test_client())
        walked = api.create_order()
        api.walk(walked, HAPPY_CASH[:4])  # a contract PDF and a few completed tasks
        fresh = api.create_order(kind="kitchen")
        partners = api.create_order(as_="partner_mega")
        doomed = api.create_order(kind="windows")
        with app.app_context():  # a saved report, grouped by month, for /reports/{report_id}/rows
            director = db.session.execute(select(User).filter_by(login="director")).scalar_one()
            saved_reports.save(director, reports.parse({
                "source": "payments", "group_by": [{"field": "recorded_at", "bucket": "month"}], "aggregate": "sum",
                "measure": "amount"}), name="Платежи по месяцам", shared_roles=[], schedule="none", fmt="xlsx",
                recipients="")
        server, thread = _serve(app)
        LIVE.base_url = f"http://127.0.0.1:{server.server_port}/api/v1"
        LIVE.tokens = {login: api.token(login) for login in ("admin", "partner_mega")}
        LIVE.reading = _real_ids(app, [walked, fresh, partners])
        LIVE.destroying = _real_ids(app, [doomed])
        assert LIVE.reading["document_id"] and LIVE.reading["job_id"]
        started = time.monotonic()
        try:
            yield LIVE
        finally:
            server.shutdown()
            thread.join(timeout=10)
            server.server_close()
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
    statuses = ", ".join(f"{code}: {count}" for code, count in sorted(LIVE.statuses.items()))
    line = f"schemathesis: {LIVE.requests} requests in {time.monotonic() - started:.1f} s ({statuses})"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # the run's size belongs in the output of `make test`
        print(f"\n{line}")


# Valid by the document yet refused by what only the server knows: a partner code or a login that does not
# exist, a phone outside any numbering plan, form data the task's own form or the waiting process rejects, a BPMN
# the engine rejects, a lane the diagram does not draw. Every other operation must accept what the document calls valid.
SEMANTIC_422 = [("POST", "/orders"), ("POST", "/tasks/{task_id}/assign"), ("POST", "/tasks/{task_id}/complete"),
                ("POST", "/status/{token}/tasks/{task_id}/complete"), ("POST", "/messages/{name}"),
                ("POST", "/processes"), ("POST", "/processes/{process_id}/migrations"),
                ("PUT", "/processes/{process_id}/settings"),  # lanes: those the process's diagram draws
                ("POST", "/dispatch/plan"), ("POST", "/visits/{visit_id}/move")]  # the planning form's rules
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]

PARAMETERS = {(method.upper(), path, p["name"]): p["schema"]
              for path, item in document()["paths"].items() for method, op in item.items()
              for p in op.get("parameters", [])}


def _valid(schema: dict, value) -> bool:
    return Draft202012Validator(schema).is_valid(value)


def _schema_as(login: str, max_examples: int):
    """The document as schemathesis sees it, calling with `login`'s bearer token and real ids mixed in."""
    schema = schemathesis.openapi.from_dict(document(), config=schemathesis.Config.from_dict({
        "seed": SEED,
        "checks": {"enabled": True},
        "generation": {"max-examples": max_examples, "deterministic": True, "database": "none"},
        "operations": [{"include-method": method, "include-path": path,
                        "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}}}
                       for method, path in SEMANTIC_422],
    }))

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        """Valid generated ids stay as they are half of the time and become real ones the other half."""
        if not path_parameters:
            return st.just(path_parameters)
        method, path = context.operation.method.upper(), context.operation.path
        known = LIVE.destroying if (method, path) in DESTRUCTIVE else LIVE.reading
        real = {name: st.sampled_from(known[name]) for name, value in path_parameters.items()
                if known.get(name) and _valid(PARAMETERS[(method, path, name)], value)}
        if not real:
            return st.just(path_parameters)
        return st.one_of(st.just(path_parameters),
                         st.fixed_dictionaries(real).map(lambda ids: {**path_parameters, **ids}))

    @schema.auth(refresh_interval=None)  # no cache: the tokens exist only once the app is served
    class BearerToken:
        def get(self, case, context):
            return LIVE.tokens.get(login, "")

        def set(self, case, data, context):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    @schema.hook
    def after_call(context, case, response):
        LIVE.requests += 1
        LIVE.statuses[response.status_code] = LIVE.statuses.get(response.status_code, 0) + 1

    return schema


HYPOTHESIS = settings(derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
admin = _schema_as("admin", MAX_EXAMPLES)
partner = _schema_as("partner_mega", PARTNER_EXAMPLES)  # its own orders; 403 or 404 for everything else


@admin.parametrize()
@settings(HYPOTHESIS, max_examples=MAX_EXAMPLES)
def test_every_operation_conforms_to_the_openapi_document(case, live):
    case.call_and_validate(base_url=live.base_url)


@partner.parametrize()
@settings(HYPOTHESIS, max_examples=PARTNER_EXAMPLES)
def test_every_operation_conforms_for_a_partner_too(case, live):
    case.call_and_validate(base_url=live.base_url)


def test_what_breaks_the_document_is_refused_naming_the_field_before_anything_runs(api):
    def refused(response) -> dict:
        assert response.status_code == 422, response.get_json()
        return response.get_json()["fields"]

    assert set(refused(api.get("/orders?per_page=500&page=0"))) == {"per_page", "page"}  # was clamped silently
    assert api.get("/orders?per_page=500", as_=None).status_code == 401  # who is asking comes first
    assert set(refused(api.get("/tasks?overdue=maybe&state=lost"))) == {"overdue", "state"}
    assert api.get(f"/tasks/{2**31}").status_code == 404  # beyond INTEGER names nothing: PostgreSQL answered 500
    intake = {"kind": "kitchen", "customer": {"name": "Иванова"}, "address": "Москва"}
    assert "e-mail" in refused(api.post("/orders", intake, as_="sales"))["customer"]
    surrogate = {**intake, "customer": {"name": "\ud800", "phone": "+7 916 123-45-67"}}
    assert set(refused(api.post("/orders", surrogate, as_="sales"))) == {"customer.name"}
    listed = api.get("/orders", as_="sales").get_json()
    assert listed["total"] == 0  # nothing was created by the refused requests
