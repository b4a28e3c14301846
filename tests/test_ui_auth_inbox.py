"""Sign-in, sessions, CSRF, and the inbox as employees see it."""
from __future__ import annotations

import pytest

from tests.support.api import Api
from tests.support.web import csrf_of, sign_in


@pytest.fixture
def web(make_app):
    """A seeded app with CSRF on, as in production, and a helper to read tokens from pages."""
    app = make_app()
    return app, Api(app, app.test_client())


def test_sign_in_rotates_the_session_and_sign_out_ends_it(web):
    app, _ = web
    client = app.test_client()
    assert client.get("/inbox").status_code == 302  # to the login page
    client.get("/login")
    with client.session_transaction() as before:
        before["planted"] = "attacker"
    response = sign_in(client, "sales")
    assert response.status_code == 302 and response.location.endswith("/inbox")
    with client.session_transaction() as after:
        assert "planted" not in after and after.get("_user_id", "").split(":")[0].isdigit()
    page = client.get("/inbox")
    assert page.status_code == 200 and "Мои задачи".encode() in page.data
    logout = client.post("/logout", data={"csrf_token": csrf_of(page.data)})
    assert logout.status_code == 302
    assert client.get("/inbox").status_code == 302


def test_forms_without_csrf_token_are_refused(web):
    app, _ = web
    client = app.test_client()
    response = client.post("/login", data={"login": "sales", "password": "demo"})
    assert response.status_code == 400
    sign_in(client, "sales")
    assert client.post("/logout").status_code == 400


def test_wrong_passwords_are_throttled(web):
    app, _ = web
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, "sales", "wrong").status_code == 401
    response = sign_in(client, "sales", "demo")  # even the right password waits now
    assert response.status_code == 429 and "Слишком много".encode() in response.data


def test_remember_me_sets_a_lasting_cookie(web):
    app, _ = web
    client = app.test_client()
    sign_in(client, "sales", remember="1")
    assert client.get_cookie("remember_token") is not None
    other = app.test_client()
    sign_in(other, "dispatch")
    assert other.get_cookie("remember_token") is None


def test_changing_the_password_ends_other_sessions(web):
    app, _ = web
    first, second = app.test_client(), app.test_client()
    sign_in(first, "sales")
    sign_in(second, "sales")
    page = first.get("/password")
    short = first.post("/password", data={"current": "demo", "new": "short", "repeat": "short",
                                          "csrf_token": csrf_of(page.data)})
    assert short.status_code == 422 and "Не короче".encode() in short.data
    done = first.post("/password", data={"current": "demo", "new": "new-secret-1", "repeat": "new-secret-1",
                                         "csrf_token": csrf_of(page.data)})
    assert done.status_code == 302
    assert first.get("/inbox").status_code == 200
    assert second.get("/inbox").status_code == 302  # the old session no longer matches the password
    assert sign_in(app.test_client(), "sales", "new-secret-1").status_code == 302


def test_inbox_lists_mine_and_queue_with_counts_sla_marks_and_filters(web):
    app, api = web
    first = api.create_order("kitchen")
    second = api.create_order("wardrobe")
    client = app.test_client()
    sign_in(client, "sales")
    queue = client.get("/inbox?tab=queue").data.decode()
    assert first in queue and second in queue
    assert 'data-count="queue">2<' in queue and 'data-count="mine">0<' in queue
    page = client.get("/inbox?tab=queue")
    claimed = client.post(f"/inbox/tasks/{api.open_task(first)['id']}/claim",
                          data={"csrf_token": csrf_of(page.data)})
    assert claimed.status_code == 302
    mine = client.get("/inbox?tab=mine").data.decode()
    assert first in mine and second not in mine and 'data-count="mine">1<' in mine
    filtered = client.get("/inbox?tab=queue&kind=wardrobe").data.decode()
    assert second in filtered
    assert first not in client.get("/inbox?tab=queue&q=" + second).data.decode()
    partial = client.get("/inbox?tab=queue", headers={"HX-Request": "true", "HX-Target": "inbox-list"})
    assert partial.status_code == 200 and b"<html" not in partial.data and second.encode() in partial.data


def test_overdue_tasks_are_marked_with_text(make_app, clock):
    app = make_app(SLA_CALENDAR="continuous")
    api = Api(app, app.test_client())
    number = api.create_order()
    clock.advance(hours=4, minutes=1)  # the new order's 4 hours are up
    client = app.test_client()
    sign_in(client, "sales")
    page = client.get("/inbox?tab=queue").data.decode()
    assert number in page and "Просрочено" in page
    assert number in client.get("/inbox?tab=queue&overdue=1").data.decode()


def test_heads_assign_and_others_cannot(web):
    app, api = web
    number = api.create_order()
    task_id = api.open_task(number)["id"]
    head = app.test_client()
    sign_in(head, "head_sales")
    page = head.get("/inbox?tab=team")
    assert number in page.data.decode() and "Назначить".encode() in page.data
    response = head.post(f"/inbox/tasks/{task_id}/assign", data={"user": "sales", "csrf_token": csrf_of(page.data)})
    assert response.status_code == 302
    assert api.open_task(number)["assignee"] == "sales"
    clerk = app.test_client()
    sign_in(clerk, "dispatch")
    page = clerk.get("/inbox")
    clerk.post(f"/inbox/tasks/{task_id}/assign", data={"user": "dispatch", "csrf_token": csrf_of(page.data)})
    assert api.open_task(number)["assignee"] == "sales"  # refused on the server, not just hidden
    assert "Назначить".encode() not in clerk.get("/inbox?tab=queue").data


def test_next_task_is_offered(web):
    app, api = web
    api.create_order()
    client = app.test_client()
    sign_in(client, "sales")
    response = client.get("/inbox/next")
    assert response.status_code == 302 and "/tasks/" in response.location
    empty = app.test_client()
    sign_in(empty, "quality")
    response = empty.get("/inbox/next", follow_redirects=True)
    assert "Все задачи выполнены".encode() in response.data


def test_language_switch_to_english(web):
    app, _ = web
    client = app.test_client()
    sign_in(client, "sales")
    page = client.get("/inbox")
    client.post("/language", data={"locale": "en", "next": "/inbox", "csrf_token": csrf_of(page.data)})
    english = client.get("/inbox").data.decode()
    assert 'lang="en"' in english and "My tasks" in english and "Мои задачи" not in english
    orders = client.get("/orders").data.decode()
    assert "Orders" in orders and "Kitchen" in orders
