"""Driving the API as people would: tokens per role, intake, walking an order stage by stage."""
from __future__ import annotations

import random

from sqlalchemy import text

from app.api.auth import issue_token
from app.demo import STAGE_INPUT, create_demo_people
from app.extensions import db
from app.models import User
from app.usecases.deploy import deploy, read_directory
from app.usecases.uow import unit_of_work
from tests.support.snapshot import Snapshot

LANE_USER = {"customer": None}
SEEDED: dict[tuple, Snapshot] = {}  # (database, processes, forms) → the rows right after seeding


def truncate_all(db) -> None:
    """Every table emptied (ids restarted on PostgreSQL): each test starts from nothing."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("UPDATE departments SET head_id = NULL"))
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))


def deploy_processes(app) -> None:
    with app.app_context():
        with unit_of_work():
            for name, bpmn, dmn, forms in read_directory(app.config["PROCESSES_DIR"], app.config["FORMS_DIR"]):
                deploy(bpmn, name, dmn, forms, None)


def seed(app) -> None:
    """Demo people and the deployed lifecycle: what every API test starts from (into emptied tables).

    Seeded for real once per database and session, then put back from a snapshot of the rows.
    """
    key = (app.config["SQLALCHEMY_DATABASE_URI"], app.config["PROCESSES_DIR"], app.config["FORMS_DIR"])
    with app.app_context():
        if key in SEEDED:
            SEEDED[key].restore(db)
            return
    seed_for_real(app)
    with app.app_context():
        SEEDED[key] = Snapshot(db)
        db.session.remove()


def seed_for_real(app) -> None:
    with app.app_context():
        with unit_of_work():
            create_demo_people()
    deploy_processes(app)


def sent(response):
    """What a WSGI server does once the answer is out: close it, which runs its `call_on_close` work (the workflows
    a step saved are loaded ahead for their next step there: every API test then steps them as a server would)."""
    response.get_data()
    response.close()
    return response


class Api:
    def __init__(self, app, client) -> None:
        self.app, self.client = app, client
        self._tokens: dict[str, str] = {}
        self.rng = random.Random(7)

    def token(self, login: str) -> str:
        if login not in self._tokens:
            with self.app.app_context():
                user = db.session.query(User).filter_by(login=login).one()
                self._tokens[login] = issue_token(user)
        return self._tokens[login]

    def _headers(self, login: str | None) -> dict:
        return {"Authorization": f"Bearer {self.token(login)}"} if login else {}

    def get(self, path: str, as_: str | None = "admin", **kw):
        return sent(self.client.get(f"/api/v1{path}", headers=self._headers(as_), **kw))

    def post(self, path: str, json=None, as_: str | None = "admin", **kw):
        return sent(self.client.post(f"/api/v1{path}", json=json, headers=self._headers(as_), **kw))

    # -- orders ---------------------------------------------------------------------------------------
    def create_order(self, kind: str = "wardrobe", as_: str = "sales", **extra) -> str:
        body = {"kind": kind, "channel": "phone",
                "customer": {"name": "Иванова Мария Петровна", "phone": "+7 916 123-45-67",
                             "email": "maria@example.com"},
                "address": "г. Москва, ул. Профсоюзная, д. 56, кв. 12",
                "description": "Шкаф-купе в нишу", **extra}
        response = self.post("/orders", body, as_=as_)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["number"]

    def order(self, number: str) -> dict:
        response = self.get(f"/orders/{number}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def open_task(self, number: str) -> dict | None:
        tasks = self.order(number)["tasks"]
        return tasks[0] if tasks else None

    def doer(self, task: dict) -> str:
        return task["assignee"] or task["lane"]

    def complete(self, task: dict, data: dict, as_: str | None = None):
        if task["lane"] == "customer":
            token = self.order(task["order_number"])["status_url"].rsplit("/", 1)[1]
            return self.post(f"/status/{token}/tasks/{task['id']}/complete", {"data": data}, as_=None)
        return self.post(f"/tasks/{task['id']}/complete", {"data": data}, as_=as_ or self.doer(task))

    def step(self, number: str, expect: str, variant: dict | None = None, **overrides) -> dict:
        """Complete the open task, which must be `expect`, with the standard input; returns the response JSON."""
        task = self.open_task(number)
        assert task is not None and task["bpmn_id"] == expect, (expect, task)
        with self.app.app_context():  # the input picks a slot the person is free at: it reads the database
            data = {**STAGE_INPUT[expect](self.rng, variant or {}), **overrides}
        response = self.complete(task, data)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def walk(self, number: str, path: list[str], variant: dict | None = None) -> None:
        for bpmn_id in path:
            self.step(number, bpmn_id, variant)


HAPPY_CASH = ["new_order", "plan_measurement", "measurement", "prepare_contract", "payment", "procurement",
              "production", "plan_delivery", "installation"]
