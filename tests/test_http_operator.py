"""The http operator: a diagram's service task calls an outside API (a local server here) and reads its answer."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import OutboxJob
from app.usecases.jobs import execute_job
from tests.support.api import Api
from tests.support.diagrams import DATA, deploy_diagram, instance, start

PARTNER_TOKEN = "Bearer partner-secret-0123"


class PartnerApi:
    """A partner's order API on 127.0.0.1: records each request, answers from a script of (status, body)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict]] = []  # next answers; then 201 {"ref": "P-1"}
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.partner = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        partner: PartnerApi = self.server.partner  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        partner.requests.append({"path": self.path, "headers": dict(self.headers),
                                 "json": json.loads(self.rfile.read(length) or b"null")})
        status, body = partner.answers.pop(0) if partner.answers else (201, {"ref": "P-1", "accepted": True})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def partner():
    server = PartnerApi()
    yield server
    server.close()


@pytest.fixture
def http_api(make_app):
    app = make_app(HTTP_OPERATOR_ALLOW_PRIVATE=True,
                   HTTP_OPERATOR_HEADERS=json.dumps({"partner": {"Authorization": PARTNER_TOKEN}}))
    return Api(app, app.test_client())


def _job(api) -> OutboxJob:
    with api.app.app_context():
        job = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "http")).scalar_one()
        db.session.expunge(job)
        return job


def test_the_answer_lands_in_the_data_and_the_secret_header_comes_from_settings(http_api, partner):
    deploy_diagram(http_api, "http_partner.bpmn")
    started = start(http_api, "http_partner", {"partner_url": partner.url, "item": "петля", "count": 12})
    done = instance(http_api, started["id"])
    assert done["status"] == "completed", done
    assert done["data"]["partner_ref"] == "P-1"
    assert done["data"]["partner_answer"]["status"] == 201
    assert done["data"]["partner_answer"]["json"] == {"ref": "P-1", "accepted": True}
    [request] = partner.requests
    assert request["path"] == "/orders" and request["json"] == {"item": "петля", "count": 12}
    assert request["headers"]["Authorization"] == PARTNER_TOKEN
    assert request["headers"]["Idempotency-Key"] == f"bespoke-job-{_job(http_api).id}"


def test_a_server_error_is_retried_and_the_next_attempt_finishes_the_task(http_api, partner):
    partner.answers.append((503, {"error": "maintenance"}))
    deploy_diagram(http_api, "http_partner.bpmn")
    started = start(http_api, "http_partner", {"partner_url": partner.url, "item": "петля", "count": 1})
    job = _job(http_api)
    assert (job.status, job.attempts) == ("pending", 1) and "503" in job.last_error
    assert instance(http_api, started["id"])["status"] == "running"
    with http_api.app.app_context():
        assert execute_job(job.id) == "done"
    assert len(partner.requests) == 2
    assert instance(http_api, started["id"])["data"]["partner_ref"] == "P-1"


def test_a_refusal_by_the_server_is_not_retried_and_says_why(http_api, partner):
    partner.answers.append((404, {"error": "no such item"}))
    deploy_diagram(http_api, "http_partner.bpmn")
    started = start(http_api, "http_partner", {"partner_url": partner.url, "item": "нет такой", "count": 1})
    job = _job(http_api)
    assert (job.status, job.attempts) == ("incident", 1)
    assert "HTTP 404" in job.last_error and "no such item" in job.last_error
    incidents = http_api.get("/incidents").get_json()["items"]
    assert [i["operator"] for i in incidents] == ["http"]
    assert instance(http_api, started["id"])["status"] == "running" and len(partner.requests) == 1


def test_an_address_inside_the_network_is_refused_unless_allowed(make_app, partner):
    app = make_app(HTTP_OPERATOR_HEADERS=json.dumps({"partner": {"Authorization": PARTNER_TOKEN}}))
    api = Api(app, app.test_client())
    deploy_diagram(api, "http_partner.bpmn")
    start(api, "http_partner", {"partner_url": partner.url, "item": "петля", "count": 1})
    job = _job(api)
    assert job.status == "incident" and "HTTP_OPERATOR_ALLOW_PRIVATE" in job.last_error
    assert partner.requests == []


def test_an_unknown_operator_is_refused_at_deploy_naming_the_known_ones_http_among_them(api):
    bpmn = (DATA / "http_partner.bpmn").read_text().replace('id="http"', 'id="rest"')
    refused = api.post("/processes", {"bpmn": bpmn, "bpmn_name": "http_partner.bpmn"}, as_="analyst")
    assert refused.status_code == 422
    [problem] = [p for p in refused.get_json()["problems"] if "rest" in p["message"]]
    assert problem["element_id"] == "call_partner" and "http" in problem["message"] and "sms.send" in problem["message"]
