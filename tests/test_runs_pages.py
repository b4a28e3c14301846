"""«Процессы» pages: who may start what and see which instance, a refused start form keeps what was typed, generic
tasks in the inbox and on the task page, the admin cancels an instance."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import Order
from tests.support.diagrams import complete, deploy_diagram, start
from tests.support.web import csrf_of, signed_in


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_the_processes_page_offers_what_the_user_may_start_and_lists_what_they_may_see(api, app):
    deploy_diagram(api, "leave_request.bpmn")
    started = start(api, "leave_request", {"days": 2}, as_="admin")
    admin = signed_in(app, "admin")
    page = _text(admin.get("/processes"))
    assert 'href="/processes/leave_request/start"' in page and "Запустить" in page
    assert "order_lifecycle/start" not in page  # an order starts that one
    assert f'data-instance="{started["id"]}"' in page and "Выполняется" in page
    assert 'href="/processes"' in _text(admin.get("/inbox"))  # the nav link

    measurer = signed_in(app.test_client(), "measurer")
    page = _text(measurer.get("/processes"))
    assert "leave_request/start" not in page and f'data-instance="{started["id"]}"' not in page
    assert measurer.get("/processes/leave_request/start").status_code == 403
    assert measurer.get(f"/processes/instances/{started['id']}").status_code == 404
    sales = signed_in(app.test_client(), "sales")  # works its approval: sees it, may not start it
    assert f'data-instance="{started["id"]}"' in _text(sales.get("/processes"))
    assert sales.get(f"/processes/instances/{started['id']}").status_code == 200
    assert admin.get("/processes/no_such/start").status_code == 404
    assert admin.get("/processes/instances/999999").status_code == 404
    filtered = _text(admin.get("/processes?status=completed"))
    assert f'data-instance="{started["id"]}"' not in filtered


def test_a_refused_start_keeps_what_was_typed_and_names_the_field(api, app):
    deploy_diagram(api, "leave_request.bpmn")
    admin = signed_in(app, "admin")
    form = admin.get("/processes/leave_request/start")
    assert form.status_code == 200 and 'name="days"' in form.get_data(as_text=True)
    refused = admin.post("/processes/leave_request/start",
                         data={"csrf_token": csrf_of(form.data), "days": "40", "reason": "переезд на дачу"})
    assert refused.status_code == 422
    page = _text(refused)
    assert "Процесс не запущен" in page and "переезд на дачу" in page and 'value="40"' in page
    assert 'id="f-days-error"' in page  # the message beside the field
    assert api.get("/instances?process_id=leave_request").get_json()["count"] == 0

    done = admin.post("/processes/leave_request/start",
                      data={"csrf_token": csrf_of(form.data), "days": "3", "reason": "переезд"})
    assert done.status_code == 302
    [listed] = api.get("/instances?process_id=leave_request").get_json()["items"]
    assert done.headers["Location"].endswith(f"/processes/instances/{listed['id']}")
    page = _text(admin.get(done.headers["Location"]))
    assert "Заявка на отгул" in page and "Согласовать отгул" in page and "Выполняется" in page
    assert re.search(r"<th scope=\"row\">days</th> <td>\s*3", page)


def test_generic_tasks_show_in_the_inbox_and_a_manual_task_is_done_with_one_button(api, app):
    deploy_diagram(api, "leave_request.bpmn")
    started = start(api, "leave_request", {"days": 1}, as_="admin")
    [approve] = started["tasks"]
    sales = signed_in(app, "sales")
    inbox = _text(sales.get("/inbox?tab=queue"))
    assert f'data-task="{approve["id"]}"' in inbox and "Заявка на отгул" in inbox
    assert f'href="/processes/instances/{started["id"]}"' in inbox
    assert f'data-task="{approve["id"]}"' in _text(sales.get("/inbox?tab=queue&q=отгул"))
    assert f'data-task="{approve["id"]}"' not in _text(sales.get("/inbox?tab=queue&kind=kitchen"))
    task_page = _text(sales.get(f"/tasks/{approve['id']}"))
    assert "Заявка на отгул №" in task_page and 'id="instance-context"' in task_page

    after = complete(api, approve, {"approved": True})
    [hand_in] = after["tasks"]
    admin = signed_in(app.test_client(), "admin")
    page = admin.get(f"/tasks/{hand_in['id']}")
    text = _text(page)
    assert "Отнесите пропуск на вахту до конца дня." in text and "Готово" in text
    done = admin.post(f"/tasks/{hand_in['id']}", data={"csrf_token": csrf_of(page.data)})
    assert done.status_code == 302
    instance_page = _text(admin.get(f"/processes/instances/{started['id']}"))
    assert 'data-status="completed"' in instance_page and "Завершён" in instance_page
    assert "Задача «Сдать пропуск на вахту»: выполнена" in instance_page
    finished_task = _text(admin.get(f"/tasks/{hand_in['id']}"))
    assert 'id="task-instance-status"' in finished_task and "Завершён" in finished_task


def test_the_admin_cancels_an_instance_with_a_reason(api, app):
    deploy_diagram(api, "leave_request.bpmn")
    started = start(api, "leave_request", {"days": 1}, as_="analyst")
    analyst = signed_in(app, "analyst")
    page = analyst.get(f"/processes/instances/{started['id']}")
    assert "Отменить процесс" not in _text(page)
    refused = analyst.post(f"/processes/instances/{started['id']}/cancel",
                           data={"csrf_token": csrf_of(page.data), "reason": "не нужен"})
    assert refused.status_code == 403
    admin = signed_in(app.test_client(), "admin")
    page = admin.get(f"/processes/instances/{started['id']}")
    assert "Отменить процесс" in _text(page)
    cancelled = admin.post(f"/processes/instances/{started['id']}/cancel",
                           data={"csrf_token": csrf_of(page.data), "reason": "заявку отозвали"})
    assert cancelled.status_code == 302
    page = _text(admin.get(f"/processes/instances/{started['id']}"))
    assert 'data-status="cancelled"' in page and "заявку отозвали" in page and "Отменить процесс" not in page


def test_the_admin_suspends_and_resumes_an_instance_from_its_page(api, app):
    deploy_diagram(api, "leave_request.bpmn")
    started = start(api, "leave_request", {"days": 1}, as_="analyst")
    url = f"/processes/instances/{started['id']}"
    analyst = signed_in(app, "analyst")
    page = analyst.get(url)
    assert 'id="admin-suspend"' not in _text(page)
    assert analyst.post(f"{url}/suspend", data={"csrf_token": csrf_of(page.data), "reason": "x"}).status_code == 403
    admin = signed_in(app.test_client(), "admin")
    page = admin.get(url)
    assert 'id="admin-suspend"' in _text(page) and 'id="admin-resume"' not in _text(page)
    done = admin.post(f"{url}/suspend", data={"csrf_token": csrf_of(page.data), "reason": "аудит заявок"})
    assert done.status_code == 302
    page = admin.get(url)
    text = _text(page)
    assert 'data-status="suspended"' in text and "аудит заявок" in text and 'id="admin-resume"' in text
    admin.post(f"{url}/resume", data={"csrf_token": csrf_of(page.data), "reason": "проверено"})
    assert 'data-status="running"' in _text(admin.get(url))


def test_an_order_whose_process_failed_says_so_on_its_card_and_in_the_list(api, app):
    number = api.create_order()
    sales = signed_in(app, "sales")
    assert 'id="order-process-status"' not in _text(sales.get(f"/orders/{number}"))  # running: nothing extra
    with app.app_context():  # the state a step that could not run leaves behind (app.usecases.process)
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        order.instance.status, order.instance.error = "error", "Посчитать (count): division by zero"
        db.session.commit()
    card = _text(sales.get(f"/orders/{number}"))
    assert re.search(r'id="order-process-status">Процесс: <span class="badge overdue" data-status="error">Ошибка', card)
    assert 'data-status="error">Ошибка' in _text(sales.get("/orders"))
