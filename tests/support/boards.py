"""Building a department's history for the boards' tests: orders created and worked at known moments."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.extensions import db
from app.models import Order
from app.usecases.uow import unit_of_work
from tests.support.timers import wake_at

MSK = ZoneInfo("Europe/Moscow")


def msk(*args) -> datetime:
    return datetime(*args, tzinfo=MSK).astimezone(timezone.utc)


def at(clock, *moment) -> None:
    clock.set(msk(*moment))


def new_order(api, clock, *moment) -> str:
    at(clock, *moment)
    return api.create_order()


def confirm(api, clock, number: str, *moment) -> None:
    at(clock, *moment)
    api.step(number, "new_order")


def sales_history(app, api, clock) -> dict[str, str]:
    """New orders in December 2026 (Moscow; the new-order SLA is 4 working hours, 09:00–18:00): three confirmed
    on time and two late, one open and overdue, one past its 75 % warning, one at risk by its prediction."""
    orders = {}
    orders["a"] = new_order(api, clock, 2026, 12, 3, 10)  # Thursday 3 December, due 14:00
    orders["g"] = new_order(api, clock, 2026, 12, 3, 10, 5)
    orders["b"] = new_order(api, clock, 2026, 12, 3, 10, 10)
    confirm(api, clock, orders["a"], 2026, 12, 3, 11)  # on time
    confirm(api, clock, orders["g"], 2026, 12, 3, 12)  # on time
    confirm(api, clock, orders["b"], 2026, 12, 4, 10)  # late
    orders["c"] = new_order(api, clock, 2026, 12, 7, 10)  # Monday 7 December: this week
    orders["d"] = new_order(api, clock, 2026, 12, 7, 10, 1)  # due 14:01, never confirmed
    orders["f"] = new_order(api, clock, 2026, 12, 7, 10, 5)
    confirm(api, clock, orders["c"], 2026, 12, 7, 11)  # on time
    assert api.post(f"/tasks/{api.open_task(orders['d'])['id']}/claim", as_="sales").status_code == 200
    confirm(api, clock, orders["f"], 2026, 12, 8, 10)  # late
    orders["i"] = new_order(api, clock, 2026, 12, 8, 16)  # due Wednesday 11:00, its 75 % warning at 10:00
    assert api.post(f"/tasks/{api.open_task(orders['i'])['id']}/claim", as_="head_sales").status_code == 200
    orders["h"] = new_order(api, clock, 2026, 12, 8, 17)  # due Wednesday 12:00, in the queue, predicted late
    with app.app_context(), unit_of_work():
        order = db.session.execute(select(Order).where(Order.number == orders["h"])).scalar_one()
        order.at_risk, order.promised_date, order.predicted_on = True, date(2026, 12, 20), date(2026, 12, 24)
    assert wake_at(app, msk(2026, 12, 9, 10), seconds=1) >= 1  # Wednesday 10:00:01: the scheduler's round
    return orders


def workshop_order(api, clock, moment, *, ordered: bool = False, received: bool = False) -> str:
    """An order designed with three components (all «needed»), paid, now at procurement — or, `ordered` /
    `received`, handed on to production with its components ordered / received."""
    at(clock, *moment)
    number = api.create_order()
    api.walk(number, ["new_order", "plan_measurement", "measurement"])
    api.step(number, "prepare_contract", {"contract_outcome": "to_design"})
    api.walk(number, ["design", "prepare_contract", "payment"])
    if ordered or received:
        components = [{"name": name, "quantity": 2, "unit": "шт", "supplier": "ООО «Фурнитура»",
                       "status": "ordered" if ordered else "received"}
                      for name in ("Петли Blum", "Ручки", "Направляющие")]
        api.step(number, "procurement", components=components)
    return number
