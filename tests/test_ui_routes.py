"""Every browser route checks on the server who may use it: signed-in only, then by role."""
from __future__ import annotations

import re

import pytest

from tests.support.api import HAPPY_CASH, Api
from tests.support.web import signed_in

PUBLIC = {"auth.login", "auth.language", "home", "static", "vendor", "vendor_dir"}


@pytest.fixture
def ui(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    return app, Api(app, app.test_client())


def ui_routes(app):
    for rule in app.url_map.iter_rules():
        # The customer's status pages (/s/<token>) are public by design: tests/test_status_page.py guards them.
        if rule.rule.startswith("/api/") or rule.endpoint in PUBLIC or rule.endpoint.startswith("status."):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def concrete(rule, number: str, task_id: int) -> str:
    values = {"number": number, "task_id": task_id, "attachment_id": 1, "filter_id": 1, "job_id": 1,
              "event": "order_received", "locale": "ru", "what": "revoke", "document_id": 1,
              "partner_id": 1, "user_id": 1, "held_id": 1, "process_id": "order_lifecycle", "version": 1,
              "migration_id": 1, "name": "call_customer.schema.json", "instance_id": 1,
              "department": "production", "visit_id": 1, "report_id": 1, "import_id": 1}
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


def test_every_ui_route_requires_sign_in(ui):
    app, api = ui
    number = api.create_order()
    task_id = api.open_task(number)["id"]
    client = app.test_client()
    checked = 0
    for rule, method in ui_routes(app):
        response = client.open(concrete(rule, number, task_id), method=method)
        assert response.status_code == 302 and "/login" in response.location, (rule.rule, method)
        checked += 1
    assert checked >= 15


def test_a_partner_cannot_use_staff_pages(ui):
    app, api = ui
    foreign = api.create_order()
    task_id = api.open_task(foreign)["id"]
    client = signed_in(app, "partner_mega")
    assert client.get("/orders/new").status_code == 403
    assert client.get("/orders/customers?phone=9161234567").status_code == 403
    assert client.get(f"/tasks/{task_id}").status_code == 403
    assert client.post(f"/tasks/{task_id}", data={"decision": "confirm"}).status_code == 403
    assert client.get(f"/orders/{foreign}", follow_redirects=True).status_code == 404  # via the partner portal
    assert client.post(f"/orders/{foreign}/cancel", data={"reason": "чужой"}).status_code == 403
    page = client.post("/orders/bulk", data={"bulk_action": "confirm", "orders": [foreign]}).data.decode()
    assert "заказ не найден" in page
    inbox = client.get("/inbox?tab=queue", follow_redirects=True).data.decode()  # a partner lands in its portal
    assert foreign not in inbox
    assert api.open_task(foreign)["bpmn_id"] == "new_order"


def test_staff_see_only_their_lanes_tasks(ui):
    app, api = ui
    number = api.create_order()
    api.walk(number, HAPPY_CASH[:4])
    accountant_task = api.open_task(number)
    assert accountant_task["lane"] == "accountant"
    measurer = signed_in(app, "measurer")
    assert measurer.get(f"/tasks/{accountant_task['id']}").status_code == 403
    assert measurer.post(f"/inbox/tasks/{accountant_task['id']}/claim").status_code == 302
    assert api.open_task(number)["assignee"] is None  # the claim was refused on the server
    assert number not in measurer.get("/inbox?tab=queue").data.decode()


def test_admin_routes_refuse_everyone_but_admins(ui):
    app, api = ui
    number = api.create_order()
    task_id = api.open_task(number)["id"]
    checked = 0
    for login in ("sales", "partner_mega", "head_sales"):
        client = signed_in(app, login)
        for rule, method in ui_routes(app):
            if not rule.rule.startswith("/admin/"):
                continue
            response = client.open(concrete(rule, number, task_id), method=method)
            assert response.status_code == 403, (login, rule.rule, method)
            checked += 1
    assert checked >= 3 * 7
