"""Demo data: one user per role (password 'demo'), heads, partners, orders at every stage.

Orders are driven through the real process with the same inputs the tests use
(`STAGE_INPUT`), so the demo database looks exactly like a lived-in one.
"""
from __future__ import annotations

import functools
import random
from contextlib import contextmanager
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

from flask import has_app_context
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import Department, HumanTask, Order, Partner, PartnerCommission, User
from app.services import visits
from app.services.calendar import BusinessCalendar, business_calendar
from app.services.reference import create_user, ensure_reference_data
from app.usecases.messages import cancel_order
from app.usecases.orders import place_order
from app.usecases.tasks import complete_task
from app.usecases.uow import unit_of_work

DEMO_PASSWORD = "demo"
DEMO_USERS = [
    ("sales", "Анна Продажина", ["sales"], "sales"),
    ("dispatch", "Дмитрий Планов", ["dispatch"], "dispatch"),
    ("measurer", "Игорь Замеров", ["measurer"], "measurer"),
    ("measurer2", "Олег Рулеткин", ["measurer"], "measurer"),
    ("designer", "Ксения Эскизова", ["designer"], "designer"),
    ("accountant", "Татьяна Счётова", ["accountant"], "accountant"),
    ("procurement", "Павел Закупкин", ["procurement"], "procurement"),
    ("production", "Сергей Станков", ["production"], "production"),
    ("delivery_dispatch", "Наталья Маршрутова", ["delivery_dispatch"], "delivery_dispatch"),
    ("installer", "Бригада №1 (Виктор Монтажов)", ["installer"], "installer"),
    ("installer2", "Бригада №2 (Артём Сборкин)", ["installer"], "installer"),
    ("quality", "Елена Качествова", ["quality"], "quality"),
    ("director", "Андрей Директоров", ["director"], None),
    ("analyst", "Мария Процессова", ["analyst"], None),
    ("admin", "Администратор", ["admin"], None),
]
# Department heads (login head_<department>), each with a name of their own.
HEAD_NAMES = {"sales": "Светлана Руководова", "dispatch": "Григорий Графиков", "measurer": "Вадим Метров",
              "designer": "Алла Чертёжная", "accountant": "Нина Балансова", "procurement": "Роман Поставкин",
              "production": "Фёдор Цехов", "delivery_dispatch": "Лариса Маршрутная", "installer": "Юрий Бригадиров",
              "quality": "Инна Контрольная"}
HEADS = {code: f"head_{code}" for code in HEAD_NAMES}
PARTNERS = [
    ("mega", "ТЦ «МЕГА Тёплый Стан», салон «Шкафы-купе»", "point_of_sale", Decimal("10"), "partner_mega"),
    ("agent_ivanov", "Агент Иванов П. С.", "agent", Decimal("7.5"), "partner_agent"),
]
CUSTOMERS = [
    ("Иванова Мария Петровна", "+7 916 123-45-67"), ("Петров Сергей Иванович", "+7 903 765-43-21"),
    ("Смирнова Ольга Викторовна", "+7 925 111-22-33"), ("Кузнецов Алексей Николаевич", "+7 926 444-55-66"),
    ("Попова Екатерина Андреевна", "+7 915 777-88-99"), ("Соколов Дмитрий Олегович", "+7 905 222-33-44"),
    ("Лебедева Анна Сергеевна", "+7 977 555-66-77"), ("Новиков Павел Дмитриевич", "+7 999 888-77-66"),
]
STREETS = ["ул. Профсоюзная, д. 56, кв. 12", "Ленинский пр-т, д. 99, кв. 301", "ул. Тверская, д. 8, кв. 45",
           "ул. Академика Янгеля, д. 3, кв. 77", "Варшавское ш., д. 144, кв. 9", "ул. Миклухо-Маклая, д. 42, кв. 18"]
KINDS = ["wardrobe", "furniture", "kitchen", "home_theater", "air_conditioner", "windows"]
# The demo's own staff on top of DEMO_USERS (which the tests seed too): a third measurer and a third crew, so the
# dispatcher's calendar has columns to spread a week over.
DEMO_TEAM = [
    ("measurer3", "Руслан Уровнев", ["measurer"], "measurer"),
    ("installer3", "Бригада №3 (Николай Крепежов)", ["installer"], "installer"),
]
MEASURERS = ("measurer", "measurer2", "measurer3")
CREWS = ("installer", "installer2", "installer3")


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="minutes")


def _working_slot(days_ahead: int, pick: int, hours: float = 2, person: str | None = None) -> str:
    """A visit `days_ahead` days on (the next working day from there), starting on a whole hour that lets
    a visit of `hours` end by closing time: the planning forms refuse nights, weekends and holidays — and a
    person booked twice at once, so with `person` the first slot from there on they are free."""
    calendar = business_calendar() if has_app_context() else BusinessCalendar(tz=ZoneInfo("Europe/Moscow"))
    day = clock.now(calendar.tz).date() + timedelta(days=days_ahead)
    starts = range(calendar.start.hour + (calendar.start.minute > 0), int(calendar.end.hour - hours) + 1)
    for tried in range(len(starts) * 60):
        while not calendar.is_working_day(day):
            day += timedelta(days=1)
        moment = datetime.combine(day, time(starts[(pick + tried) % len(starts)]), calendar.tz)
        if person is None or not has_app_context() or not visits.busy(None, person, moment, hours):
            return _iso(moment)
        if (pick + tried + 1) % len(starts) == pick % len(starts):
            day += timedelta(days=1)  # every start of the day is taken: the next working day
    raise ValueError(f"{person} has no free {hours} h slot in two months")


def _components(status: str, states: tuple[str, ...] | None = None) -> list[dict]:
    """The specification, every line `status` — or, with `states`, each line its own (part ordered, part not)."""
    states = states or (status,) * 3
    return [{"name": "ЛДСП Egger W1000 ST9, 16 мм", "quantity": 6, "unit": "шт", "status": states[0]},
            {"name": "Фурнитура Blum Tandembox", "quantity": 1, "unit": "компл.", "status": states[1]},
            {"name": "Кромка ПВХ 2 мм", "quantity": 40, "unit": "м", "status": states[2]}]


# How each user task is completed in the demo and the tests: bpmn_id -> (random, variant) -> form data.
STAGE_INPUT: dict[str, Callable[[random.Random, dict], dict]] = {
    "new_order": lambda r, v: {"decision": "confirm"},
    "plan_measurement": lambda r, v: {
        "measurer": v.get("measurer", "measurer"),
        "visit_at": _working_slot(v.get("visit_day", r.randint(1, 5)), r.randint(0, 6), 2,
                                  v.get("measurer", "measurer")),
        "visit_duration_hours": 2},
    "measurement": lambda r, v: (
        {"measurement_result": "customer_absent", "absence_comment": "Заказчик не открыл дверь"}
        if v.get("absent") else
        {"measurement_result": "done", "dimensions": {"width_mm": r.randint(900, 3600),
                                                      "height_mm": r.randint(2000, 2800),
                                                      "depth_mm": r.randint(400, 700)},
         "composition": "Корпус ЛДСП, две раздвижные двери, зеркало", "mounting_notes": "Неровный пол, +10 мм"}),
    "prepare_contract": lambda r, v: (
        {"contract_outcome": v["contract_outcome"], "contract_comment": "Нужно уточнение"}
        if v.get("contract_outcome") in ("remeasure", "to_design") else
        {"price": v.get("price", float(r.randint(60, 400) * 1000)), "prepayment": v.get("prepayment", 30000.0),
         "payment_type": v.get("payment_type", "cash"),
         "promised_date": (clock.today() + timedelta(days=v.get("promised_in", 30))).isoformat(),
         "components_available": True, "customer_approved": True, "contract_outcome": "to_payment"}),
    "design": lambda r, v: {"design_outcome": "done", "layout_notes": "Раскрой по эскизу заказчика",
                            "components": _components("needed", v.get("component_states"))},
    "bank_decision": lambda r, v: (
        {"bank_decision": "declined", "bank_name": "ОТП Банк", "bank_comment": "Недостаточный доход"}
        if v.get("bank_declined") else {"bank_decision": "approved", "bank_name": "Тинькофф Банк"}),
    "payment": lambda r, v: {"payment": {"number": f"ПП-{r.randint(1000, 9999)}", "date": clock.today().isoformat(),
                                         "amount": v.get("prepayment", 30000.0), "method": "cash",
                                         "received_by": v.get("received_by", "company")}},
    "procurement": lambda r, v: {"components": _components("received"), "procurement_comment": "Всё на складе"},
    "production": lambda r, v: {"components": _components("in_workshop"), "production_comment": "Изготовлено"},
    "plan_delivery": lambda r, v: {
        "delivery_mode": v.get("delivery_mode", "assign"),
        **({"crew": v.get("crew", "installer")} if v.get("delivery_mode", "assign") == "assign" else {}),
        "delivery_at": _working_slot(v.get("delivery_day", r.randint(1, 4)), 1, 4, v.get("crew", "installer")
                                     if v.get("delivery_mode", "assign") == "assign" else None),
        **({"delivery_comment": v["delivery_comment"]} if v.get("delivery_comment") else {})},
    "installation": lambda r, v: {"installation_report": "Доставлено и смонтировано, мусор вывезен",
                                  "customer_accepted": True},
    "feedback": lambda r, v: (
        {"feedback_kind": "claim", "claim_text": "Дверь купе заедает при открывании, скол на кромке"}
        if v.get("claim") else {"feedback_kind": "rating", "rating": v.get("rating", 5),
                                "feedback_comment": "Всё отлично, спасибо!"}),
    "claim_review": lambda r, v: {"claim_resolution": v.get("claim_resolution", "revisit"),
                                  "resolution_comment": "Направить бригаду для регулировки",
                                  **({"discount_amount": 5000.0} if v.get("claim_resolution") == "discount" else {})},
    "claim_revisit": lambda r, v: {"revisit_report": "Двери отрегулированы, кромка заменена", "claim_closed": True},
}

# Demo orders stop here (a user task id), or run to the end ("done") / get cancelled ("cancel").
TARGETS = ["new_order", "plan_measurement", "measurement", "prepare_contract", "design", "bank_decision",
           "payment", "procurement", "production", "plan_delivery", "installation", "feedback", "claim_review",
           "done", "cancel"]


def actor_for(task: HumanTask) -> User:
    """Who does a task in the demo: its assignee, else the lane's demo user."""
    if task.assignee is not None:
        return task.assignee
    return db.session.execute(select(User).where(User.login == task.lane)).scalar_one()


def open_task(order: Order) -> HumanTask | None:
    return db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id, HumanTask.state == "open")
                              .order_by(HumanTask.id)).scalars().first()


def advance(order: Order, stop_at: str, rng: random.Random, variant: dict) -> None:
    """Complete the order's tasks one by one (one unit of work each) until `stop_at` is open."""
    for _ in range(40):
        task = open_task(order)
        if task is None or task.bpmn_id == stop_at:
            return
        if task.bpmn_id == "design":
            variant = {**variant, "contract_outcome": None}
        complete_task(task.id, STAGE_INPUT[task.bpmn_id](rng, variant), actor_for(task))
        order = db.session.get_one(Order, order.id)


def create_demo_people() -> None:
    """Demo users (one per role, the role code as login), department heads and partner accounts."""
    ensure_reference_data()
    password_hash = _demo_hash()
    for login, name, roles, dept in DEMO_USERS:
        create_user(login, name, DEMO_PASSWORD, roles, email=f"{login}@bespoke.example", department=dept,
                    is_demo=True, password_hash=password_hash)
    for dept_code, login in HEADS.items():
        head = create_user(login, HEAD_NAMES[dept_code], DEMO_PASSWORD, [dept_code],
                           email=f"{login}@bespoke.example", department=dept_code, is_demo=True,
                           password_hash=password_hash)
        db.session.execute(select(Department).where(Department.code == dept_code)).scalar_one().head = head
    for code, name, kind, pct, login in PARTNERS:
        partner = Partner(code=code, name=name, kind=kind, commission_pct=pct)
        db.session.add(partner)
        db.session.flush()
        user = create_user(login, name, DEMO_PASSWORD, ["partner"], is_demo=True, password_hash=password_hash)
        user.partner = partner
    db.session.flush()


@functools.cache
def _demo_hash() -> str:
    # One argon2 hash for every demo account, once per process: hashing is deliberately slow (about a second
    # on this box) and the password never changes.
    probe = User(login="-", name="-")
    probe.set_password(DEMO_PASSWORD)
    return probe.password_hash


# How many days ago the orders of TARGETS came in: the further along, the older, so their measurements and
# deliveries are done in the past (a visit is booked a day or so after the order came in).
TARGET_AGES = {"prepare_contract": 3, "design": 5, "bank_decision": 6, "payment": 6, "procurement": 8,
               "production": 10, "plan_delivery": 12, "installation": 12, "feedback": 16, "claim_review": 20,
               "done": 25}
# After one order at every stage (TARGETS), the rest fill the dispatcher's fortnight, each entry
# (stop at, came in so many days ago, variant): measurements and deliveries booked on the days ahead (`day`: that many
# days from today, for the measurer or crew in turn; some deliveries left in the crews' queue), orders that came in
# days ago and wait past their deadline, orders whose promised date is days away with stages still to go, and
# components ordered, missing, received and in the workshop. The first dozen give a week its shape on their own.
BUSY_WEEK: list[tuple[str, int, dict]] = [
    ("measurement", 0, {"day": 1}), ("measurement", 0, {"day": 2}), ("installation", 5, {"day": 3, "queue": True}),
    ("measurement", 0, {"day": 3}), ("procurement", 7, {"component_states": ("ordered", "needed", "ordered"),
                                                        "promised_in": 5}),
    ("measurement", 0, {"day": 4}), ("plan_measurement", 3, {}), ("measurement", 0, {"day": 5}),
    ("production", 9, {"promised_in": 4}), ("measurement", 0, {"day": 6}), ("prepare_contract", 6, {}),
    ("measurement", 0, {"day": 7}),
    ("installation", 6, {"day": 1}), ("installation", 7, {"day": 2}), ("measurement", 0, {"day": 8}),
    ("installation", 4, {"day": 4, "queue": True}), ("installation", 6, {"day": 5}), ("plan_delivery", 7, {}),
    ("procurement", 8, {"component_states": ("received", "ordered", "needed")}), ("measurement", 0, {"day": 9}),
    ("production", 10, {"promised_in": 6}), ("installation", 8, {"day": 6}), ("plan_measurement", 0, {}),
    ("design", 2, {}), ("installation", 5, {"day": 7, "queue": True}), ("measurement", 0, {"day": 10}),
    ("new_order", 2, {}), ("installation", 6, {"day": 8}), ("plan_measurement", 0, {}), ("measurement", 0, {"day": 4}),
    ("procurement", 6, {"component_states": ("ordered",) * 3}), ("production", 8, {}), ("measurement", 0, {"day": 2}),
    ("plan_delivery", 6, {}), ("measurement", 0, {"day": 1}),
]
DONE_VISITS = {"feedback", "claim_review", "done"}  # their delivery took place too


@contextmanager
def _days_ago(days: int) -> Iterator[None]:
    """Run the block as if it were `days` days ago: the order's tasks, deadlines and visits date from then."""
    saved = clock.clock.offset
    clock.clock.offset = saved - timedelta(days=days)
    try:
        yield
    finally:
        clock.clock.offset = saved


def _plan(i: int) -> tuple[str, int, dict]:
    """The i-th demo order's stop, age and variant."""
    if i < len(TARGETS):
        target, days_ago = TARGETS[i], TARGET_AGES.get(TARGETS[i], 0)
        extra: dict = {"day": 2} if target == "installation" else {}
    else:
        target, days_ago, extra = BUSY_WEEK[(i - len(TARGETS)) % len(BUSY_WEEK)]
    variant: dict = {key: extra[key] for key in ("component_states",) if key in extra}
    if "day" in extra:  # a visit that many days from today: counted from the day the order came in
        variant["visit_day" if target == "measurement" else "delivery_day"] = days_ago + extra["day"]
    if target not in ("new_order", "plan_measurement", "measurement", "cancel"):
        variant["visit_day"] = 1  # measured the day after it came in: long done
    if target in DONE_VISITS:
        variant["delivery_day"] = 1
    if "promised_in" in extra:
        variant["promised_in"] = days_ago + extra["promised_in"]
    if extra.get("queue"):
        variant.update(delivery_mode="queue", delivery_comment="Позвонить заказчику за час, подъём на 5-й этаж без "
                                                               "лифта")
    if "component_states" in extra:
        variant["contract_outcome"] = "to_design"  # the designer writes the specification
    return target, days_ago, variant


def load_demo(count: int = 50, seed: int = 42) -> str:
    rng = random.Random(seed)
    with unit_of_work():
        create_demo_people()
        for login, name, roles, dept in DEMO_TEAM:
            create_user(login, name, DEMO_PASSWORD, roles, email=f"{login}@bespoke.example", department=dept,
                        is_demo=True, password_hash=_demo_hash())

    staff = db.session.execute(select(User).where(User.login == "sales")).scalar_one()
    partners = db.session.execute(select(Partner).order_by(Partner.id)).scalars().all()
    with unit_of_work():  # the point of sale earns more on kitchens: a per-kind override of its 10 %
        db.session.add(PartnerCommission(partner_id=partners[0].id, kind="kitchen", pct=Decimal("12")))
    for i in range(count):
        target, days_ago, plan = _plan(i)
        with _days_ago(days_ago):
            _demo_order(i, target, plan, rng, staff, partners)
    users = ", ".join(login for login, *_ in DEMO_USERS + DEMO_TEAM)
    return (f"Demo data loaded: {count} orders. Logins (password '{DEMO_PASSWORD}'): {users}; "
            f"heads: {', '.join(HEADS.values())}; partners: {', '.join(p[4] for p in PARTNERS)}")


def _demo_order(i: int, target: str, plan: dict, rng: random.Random, staff: User, partners) -> None:
    """Place the i-th demo order and drive it to `target` (see BUSY_WEEK for `plan`)."""
    name, phone = CUSTOMERS[i % len(CUSTOMERS)]
    partner = partners[i % 2] if i % 3 == 0 else None
    order = place_order({
        "kind": KINDS[i % len(KINDS)], "channel": "partner" if partner else rng.choice(["web", "phone", "email"]),
        "customer": {"name": name, "phone": phone, "email": f"client{i % len(CUSTOMERS)}@mail.example"},
        "address": f"г. Москва, {STREETS[i % len(STREETS)]}", "partner": partner.code if partner else None,
        "description": "Встроенный шкаф-купе в нишу прихожей, 2 двери, зеркало" if i % 2 else
        "Кухонный гарнитур, угловой, 3,2 м, столешница из кварца"}, staff)
    variant = {"payment_type": ["cash", "cashless", "credit"][i % 3], "claim": target == "claim_review",
               "measurer": MEASURERS[i % 3], "crew": CREWS[i // 2 % 3],  # every crew has deliveries booked
               # some customers pay the deposit at the point of sale: the partner owes it to the company
               "received_by": "partner" if partner and (i // 6) % 2 == 0 else "company", **plan}
    if target == "design":
        variant["contract_outcome"] = "to_design"
    if target == "bank_decision":
        variant["payment_type"] = "credit"
    stop = {"done": "__end__", "cancel": "measurement"}.get(target, target)
    advance(order, stop, rng, variant)
    if target == "cancel":
        cancel_order(db.session.get_one(Order, order.id), "Заказчик передумал", staff)
