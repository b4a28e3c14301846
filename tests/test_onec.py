"""onec.sync against a local 1C OData server: the order goes to 1C, payments entered in 1C come back."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Customer, Order, OutboxJob, Payment
from app.operators.onec import pull_payments
from app.operators.onec_client import OneC, eq
from app.operators.registry import OperatorError
from app.usecases.jobs import execute_job
from app.usecases.uow import unit_of_work
from tests.support.api import HAPPY_CASH, Api
from tests.support.fake_onec import FakeOneC

USER, PASSWORD = "Обмен", "секрет"  # a Cyrillic 1C login: Basic credentials must go as UTF-8
COUNTERPARTIES, CONTRACTS, ORDERS = "Catalog_Контрагенты", "Catalog_ДоговорыКонтрагентов", "Document_ЗаказКлиента"
BANK, CASH = "Document_ПоступлениеБезналичныхДенежныхСредств", "Document_ПриходныйКассовыйОрдер"
ORGANISATION = "6f1c2b7e-3d4a-4c5b-9e8f-0a1b2c3d4e5f"


@pytest.fixture
def onec():
    server = FakeOneC(USER, PASSWORD)
    yield server
    server.stop()


def onec_app(make_app, onec: FakeOneC, **overrides):
    settings = {"ONEC_URL": onec.odata_url, "ONEC_USER": USER, "ONEC_PASSWORD": PASSWORD, **overrides}
    app = make_app(**settings)
    return app, Api(app, app.test_client())


def to_payment(api: Api, kind: str = "wardrobe", **variant) -> str:
    number = api.create_order(kind)
    api.walk(number, HAPPY_CASH[:4], {"payment_type": "cashless", "price": 120000.0, "prepayment": 36000.0,
                                      **variant})
    assert api.open_task(number)["bpmn_id"] == "payment"
    return number


def sync_jobs(app, number: str) -> list[OutboxJob]:
    with app.app_context():
        order_id = db.session.execute(select(Order.id).where(Order.number == number)).scalar_one()
        jobs = db.session.execute(select(OutboxJob).where(OutboxJob.order_id == order_id,
                                                          OutboxJob.operator == "onec.sync")
                                  .order_by(OutboxJob.id)).scalars().all()
        db.session.expunge_all()
        return jobs


def rerun_after_crash(app, job_id: int) -> str:
    """As if the worker died after the side effects: the lease ran out and the relay hands the job out again."""
    with app.app_context():
        with unit_of_work():
            job = db.session.get(OutboxJob, job_id)
            job.status, job.lease_until = "running", datetime.now(timezone.utc) - timedelta(minutes=1)
        return execute_job(job_id)


def pull(app, order_id: int | None = None) -> dict:
    with app.app_context():
        return pull_payments(order_id)


def payments(app, number: str) -> list[tuple]:
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        return [(p.number, str(p.amount), p.source, p.external_id, p.method, p.received_by) for p in order.payments]


def test_a_payment_entered_in_1c_moves_the_order_and_the_order_reaches_1c_once(make_app, onec):
    app, api = onec_app(make_app, onec)
    number = to_payment(api)
    assert pull(app) == {"status": "ok", "checked": 1, "recorded": [], "errors": {}}
    assert api.open_task(number)["bpmn_id"] == "payment"

    # The accountant enters the bank statement in 1C; a draft and another order's payment must not count.
    paid = onec.add(BANK, Number="0000-000117", Date=f"{date.today()}T10:15:00", СуммаДокумента=36000,
                    НазначениеПлатежа=f"Предоплата по заказу {number}, без НДС", Posted=True)
    onec.add(BANK, Number="0000-000118", Date=f"{date.today()}T11:00:00", СуммаДокумента=5000,
             НазначениеПлатежа=f"Оплата по заказу {number}", Posted=False)
    onec.add(BANK, Number="0000-000119", Date=f"{date.today()}T11:30:00", СуммаДокумента=7000,
             НазначениеПлатежа=f"Оплата по заказу {number}7", Posted=True)

    summary = pull(app)
    assert summary["recorded"] == ["0000-000117"] and summary["errors"] == {}
    order = api.order(number)
    assert order["stage"] == "Комплектация" and order["tasks"][0]["bpmn_id"] == "procurement"
    assert payments(app, number) == [("0000-000117", "36000.00", "1c", paid["Ref_Key"], "cashless", "company")]

    # The message completed the payment task; the sync_1c service task then put the order into 1C.
    [job] = sync_jobs(app, number)
    assert job.status == "done" and job.result["status"] == "synced"
    [counterparty] = onec.all(COUNTERPARTIES)
    [contract] = onec.all(CONTRACTS)
    [document] = onec.all(ORDERS)
    assert counterparty["Description"] == "Иванова Мария Петровна"
    assert counterparty["Комментарий"].startswith("[Bespoke клиент ")
    assert "+79161234567" in counterparty["Комментарий"] and "maria@example.com" in counterparty["Комментарий"]
    assert contract["Owner_Key"] == counterparty["Ref_Key"] and contract["Номер"] == number
    assert contract["Description"].startswith(f"Договор № {number} от ")
    assert document["Posted"] is True
    assert document["Контрагент_Key"] == counterparty["Ref_Key"] and document["Договор_Key"] == contract["Ref_Key"]
    assert document["СуммаДокумента"] == 120000
    assert document["Комментарий"].startswith(f"[Bespoke {number}] Встроенный шкаф")
    assert document["Товары"] == [{"LineNumber": 1, "Количество": 1, "Цена": 120000.0, "Сумма": 120000.0,
                                   "Содержание": f"Встроенный шкаф по заказу {number}: Шкаф-купе в нишу"}]
    with app.app_context():
        stored = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        assert stored.onec_refs == {"contract": contract["Ref_Key"], "order": document["Ref_Key"]}
        assert db.session.get(Customer, stored.customer_id).onec_ref == counterparty["Ref_Key"]

    # The same job again (a worker died after its side effects): nothing new in 1C, no second payment.
    writes = len(onec.requests("POST")) + len(onec.requests("PATCH"))
    assert rerun_after_crash(app, job.id) == "done"
    assert [len(onec.all(name)) for name in (COUNTERPARTIES, CONTRACTS, ORDERS)] == [1, 1, 1]
    assert len(onec.requests("POST")) + len(onec.requests("PATCH")) == writes
    assert pull(app)["recorded"] == []
    assert len(payments(app, number)) == 1
    assert api.order(number)["stage"] == "Комплектация"


def test_components_become_rows_and_the_mapping_file_is_merged_over_the_default(make_app, onec, tmp_path):
    mapping = tmp_path / "onec.json"
    mapping.write_text(json.dumps({"order": {"fields": {"number": "Number"},
                                             "defaults": {"Организация_Key": ORGANISATION}}}), encoding="utf-8")
    app, api = onec_app(make_app, onec, ONEC_MAPPING=str(mapping))
    number = api.create_order("kitchen")
    api.walk(number, HAPPY_CASH[:3])
    api.step(number, "prepare_contract", {"contract_outcome": "to_design"})
    api.step(number, "design")  # the designer's specification: three components
    api.step(number, "prepare_contract", {"payment_type": "cash", "price": 250000.0, "prepayment": 50000.0})
    assert api.open_task(number)["bpmn_id"] == "payment"

    paid = onec.add(CASH, Number="0000-000031", Date=f"{date.today()}T16:40:00", СуммаДокумента=50000,
                    Основание=f"Предоплата по заказу №{number}", Posted=True)
    with app.app_context():
        order_id = db.session.execute(select(Order.id).where(Order.number == number)).scalar_one()
    assert pull(app, order_id)["recorded"] == ["0000-000031"]
    assert payments(app, number) == [("0000-000031", "50000.00", "1c", paid["Ref_Key"], "cash", "company")]
    assert api.open_task(number)["bpmn_id"] == "procurement"

    [document] = onec.all(ORDERS)
    assert document["Number"] == number and document["Организация_Key"] == ORGANISATION
    assert document["СуммаДокумента"] == 250000 and document["Posted"] is True
    rows = document["Товары"]
    assert [r["LineNumber"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["Содержание"].startswith(f"Кухонный гарнитур по заказу {number}") and rows[0]["Сумма"] == 250000
    assert [(r["Содержание"], r["Количество"], r["Сумма"]) for r in rows[1:]] == [
        ("ЛДСП Egger W1000 ST9, 16 мм, шт", 6, 0), ("Фурнитура Blum Tandembox, компл.", 1, 0),
        ("Кромка ПВХ 2 мм, м", 40, 0)]
    assert sum(r["Сумма"] for r in rows) == document["СуммаДокумента"]


def test_a_payment_typed_in_by_hand_is_linked_to_its_1c_twin_not_doubled(make_app, onec):
    app, api = onec_app(make_app, onec)
    number = to_payment(api)
    twin = onec.add(BANK, Number="0000-000200", Date=f"{date.today()}T09:00:00", СуммаДокумента=36000,
                    НазначениеПлатежа=f"Оплата по счёту к заказу {number}", Posted=True)
    api.step(number, "payment", payment={"number": "ПП-1234", "date": date.today().isoformat(), "amount": 36000.0,
                                         "method": "cashless", "received_by": "company"})
    [job] = sync_jobs(app, number)
    assert job.status == "done" and job.result["payments"] == []
    assert payments(app, number) == [("ПП-1234", "36000.00", "manual", twin["Ref_Key"], "cashless", "company")]
    assert len(onec.all(ORDERS)) == 1 and onec.all(ORDERS)[0]["Posted"] is True


def test_a_changed_order_is_patched_not_created_again(make_app, onec):
    app, api = onec_app(make_app, onec)
    number = to_payment(api)
    api.step(number, "payment")
    [job] = sync_jobs(app, number)
    with app.app_context():
        with unit_of_work():
            order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
            order.description = "Шкаф-купе в нишу, три двери"
    assert rerun_after_crash(app, job.id) == "done"
    [document] = onec.all(ORDERS)
    assert document["Товары"][0]["Содержание"].endswith("три двери") and document["Posted"] is True
    assert len(onec.requests("PATCH")) == 1 and len(onec.all(COUNTERPARTIES)) == 1


def test_wrong_password_is_an_incident_in_russian(make_app, onec):
    app, api = onec_app(make_app, onec, ONEC_PASSWORD="не тот")
    number = to_payment(api)
    summary = pull(app)
    assert summary["status"] == "errors" and summary["errors"] == {number: "1С: неверный логин или пароль"}
    api.step(number, "payment")
    [job] = sync_jobs(app, number)
    assert job.status == "incident" and job.attempts == 1
    assert job.last_error == "1С: неверный логин или пароль"


def test_an_unknown_entity_set_is_a_permanent_mapping_error_naming_it(make_app, onec, tmp_path):
    mapping = tmp_path / "onec.json"
    mapping.write_text(json.dumps({"counterparty": {"entity": "Catalog_Клиенты"}}), encoding="utf-8")
    app, api = onec_app(make_app, onec, ONEC_MAPPING=str(mapping))
    number = to_payment(api)
    api.step(number, "payment")
    [job] = sync_jobs(app, number)
    assert job.status == "incident"
    assert "Catalog_Клиенты" in job.last_error and "Не найден сегмент ресурса" in job.last_error


def test_1c_down_leaves_the_job_pending_for_a_retry(make_app, onec):
    app, api = onec_app(make_app, onec)
    number = to_payment(api)
    onec.stop()
    api.step(number, "payment")
    [job] = sync_jobs(app, number)
    assert job.status == "pending" and job.attempts == 1 and job.run_after is not None
    assert job.last_error.startswith("1С недоступна")
    assert api.open_task(number) is None  # the process waits in the service task, not at a form


def test_a_1c_server_error_is_retried_with_its_message_and_the_retry_succeeds(make_app, onec):
    app, api = onec_app(make_app, onec)
    number = to_payment(api)
    onec.fail_next(500, "Конфликт блокировок при выполнении транзакции")
    api.step(number, "payment")
    [job] = sync_jobs(app, number)
    assert job.status == "pending"
    assert job.last_error == ("1С: ошибка 500 при обращении к «Catalog_Контрагенты»: "
                              "Конфликт блокировок при выполнении транзакции")
    with app.app_context():
        assert execute_job(job.id) == "done"
    assert [len(onec.all(name)) for name in (COUNTERPARTIES, CONTRACTS, ORDERS)] == [1, 1, 1]
    assert api.order(number)["stage"] == "Комплектация"


def test_client_encodes_cyrillic_names_and_quotes_literals(onec):
    with OneC(onec.odata_url, USER, PASSWORD) as client:
        created = client.create(COUNTERPARTIES, {"Description": "O'Brien & Сыновья"})
        found = client.query(COUNTERPARTIES, filter=eq("Description", "O'Brien & Сыновья"), select=["Ref_Key"])
        assert found == [{"Ref_Key": created["Ref_Key"]}]
        assert client.get(COUNTERPARTIES, "0f8fad5b-d9cb-469f-a165-70867728950e") is None
        with pytest.raises(OperatorError) as missing:
            client.query("Catalog_Нет")
    assert missing.value.permanent and "Catalog_Нет" in missing.value.message
    method, path = onec.requests("GET")[0]
    assert path.startswith("/base/odata/standard.odata/Catalog_%D0%9A%D0%BE%D0%BD%D1%82%D1%80%D0%B0%D0%B3%D0%B5")
    assert "?$format=json&$filter=Description%20eq%20'O''Brien%20%26%20" in path


def test_without_a_1c_url_nothing_is_sent(api, app):
    with app.app_context():
        assert pull_payments()["status"] == "not_configured"
    number = to_payment(api)
    api.step(number, "payment")
    [job] = sync_jobs(app, number)
    assert job.status == "done" and job.result == {"status": "not_configured", "what": "contract_payment"}
    with app.app_context():
        assert db.session.execute(select(Payment.source)).scalars().all() == ["manual"]
