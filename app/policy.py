"""Who may see and do what: the roles, the department-head rule and partner ownership, defined once.

`RULES` is the table (action → who, and what the target must allow); `can` / `ensure` / `refusal` ask it,
`visible_orders` / `visible_tasks` / `task_scope` are the list queries built from the same rules. Every web
view and API endpoint declares its action (`app.web.allowed`, `app.api.auth.endpoint`); a test walks every
route against this table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import g, has_app_context, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import and_, bindparam, exists, false, or_, select, union

from app.errors import Forbidden
from app.extensions import db, plain
from app.i18n import N_
from app.models import Department, HumanTask, Order, ProcessInstance, ProcessSettings, TaskCandidate, User

# -- who: the role groups ------------------------------------------------------------------------------------

STAFF = frozenset({"sales", "dispatch", "measurer", "designer", "accountant", "procurement", "production",
                   "delivery_dispatch", "installer", "quality", "director", "analyst", "admin"})
MANAGEMENT = frozenset({"director", "admin"})  # see every task, every incident, every partner
ADMINS = frozenset({"admin"})
ORDER_DESK = frozenset({"sales", "dispatch", "director", "admin"})  # take, cancel, keep the customer's link
PROCESS_READERS = frozenset({"analyst", "admin", "director"})  # an order's process drawn with its progress
PROCESS_DEPLOYERS = frozenset({"analyst", "admin"})  # the studio: drafts, validation, versions, deploy
DISPATCHERS = frozenset({"dispatch", "delivery_dispatch"})  # plan measurers' and crews' visits
CREWS = frozenset({"installer"})  # deliver and install; take free jobs from the queue
PARTNERS = frozenset({"partner"})
REPORT_BUILDERS = frozenset({"director", "admin", "analyst", "accountant"})  # the report builder: every order's figures
CUSTOMERS = frozenset({"customer"})  # the account behind every status link: it completes the customer's tasks
PUBLIC, SIGNED_IN = "public", "signed in"  # anyone at all; any active account, whatever its roles
# Messages from outside, by name; a message not listed here is for admins only.
MESSAGE_SENDERS = {"cancel": ORDER_DESK, "payment_received": frozenset({"accountant", "admin"}),
                   "bank_decision": frozenset({"accountant", "admin"})}

Check = Callable[[User, object], "str | None"]  # (user, order / task / message name or None) → refusal


# -- what the target must allow: lanes, heads, ownership -----------------------------------------------------

def heads_lane(user: User, lane: str) -> bool:
    """The user heads the department that works `lane`."""
    return any(role_code == lane for _code, role_code in headed_departments(user))


def headed_lanes(user: User) -> set[str | None]:
    """Lanes of the departments the user heads."""
    return {role_code for _code, role_code in headed_departments(user)}


_HEADED = select(Department.code, Department.role_code).where(Department.head_id == bindparam("user_id")) \
    .order_by(Department.code)


def headed_departments(user: User) -> list[tuple[str, str | None]]:
    """(code, lane) of the departments the user heads, read once a request: the menu's board link, the inbox's
    scope and its head's controls, the analytics' link and the checks on a task all ask (three to five queries a
    page before)."""
    known = request.environ.setdefault("bespoke.headed", {}) if has_request_context() else {}
    if user.id not in known:
        known[user.id] = [(code, role_code) for code, role_code in plain(_HEADED, {"user_id": user.id})]
    return known[user.id]


def sees_every_task(user: User) -> bool:
    return bool(user.role_codes & MANAGEMENT)


def _sees_order(user: User, order) -> str | None:
    if order is None or user.role_codes & STAFF or (user.has_role("partner") and user.partner_id
                                                    and order.partner_id == user.partner_id):
        return None
    return _("Заказ %(number)s не найден", number=order.number)


def _partner_account(user: User, order) -> str | None:
    """A partner's own account (with its partner); on an order, only that partner's."""
    if not user.partner_id:
        return _("Кабинет партнёра открыт только точкам продаж и агентам")
    if order is not None and order.partner_id != user.partner_id:
        return _("Заказ %(number)s не найден", number=order.number)
    return None


_CANDIDATES = select(TaskCandidate.user_id).where(TaskCandidate.human_task_id == bindparam("task_id"))


def candidates(task) -> set[int]:
    """The people the process named to work the task (spiff-arena's lane owners, `TaskCandidate`); empty: the
    task's role (or its starter) works it. Only a task in a lane can have them (`lane_owners.named_logins`): one
    outside any lane is not asked about."""
    if task is None or task.id is None or task.lane_name is None:
        return set()
    known = g.get("task_candidates") if has_app_context() else None
    if known is not None and task.id in known:
        return known[task.id]
    return set(plain(_CANDIDATES, {"task_id": task.id}).scalars())


def preload_candidates(task_ids) -> None:
    """Read the candidates of a list's tasks in one query, for this request's `can()` on each row (read-only
    pages: a list asks `can('tasks.claim', task)` per row)."""
    known: dict[int, set[int]] = {task_id: set() for task_id in task_ids}
    for task_id, user_id in db.session.execute(select(TaskCandidate.human_task_id, TaskCandidate.user_id)
                                               .where(TaskCandidate.human_task_id.in_(known or [0]))):
        known[task_id].add(user_id)
    g.task_candidates = {**g.get("task_candidates", {}), **known}


def _sees_task(user: User, task) -> str | None:
    if task is None or sees_every_task(user) or task.lane in user.role_codes or task.assignee_id == user.id:
        return None
    if user.id in candidates(task):
        return None
    if not task.lane:
        return _("Задача «%(name)s» — не ваша: её выполняет %(who)s", name=task.name,
                 who=task.assignee.login if task.assignee else _("администратор"))
    return _("Задача «%(name)s» относится к роли «%(lane)s», которой у вас нет", name=task.name, lane=task.lane)


def _works_lane(user: User, task) -> str | None:
    """Complete or claim: the task's lane is one of the user's roles, and nobody else holds it."""
    if task is None:
        return None
    named = candidates(task)
    if named:  # the process named its people: they (and admins) work it, not the rest of the role
        if task.assignee_id and task.assignee_id != user.id and not user.role_codes & ADMINS:
            return _("Задача «%(name)s» назначена: %(who)s", name=task.name, who=task.assignee.login)
        if user.id in named or user.role_codes & ADMINS:
            return None
        return _("Задача «%(name)s» — для сотрудников, которых назвал процесс; вас среди них нет", name=task.name)
    if not task.lane:  # nobody's role: the instance's starter (its assignee) or an admin
        if task.assignee_id == user.id or user.role_codes & ADMINS:
            return None
        return _("Задача «%(name)s» — не ваша: её выполняет %(who)s", name=task.name,
                 who=task.assignee.login if task.assignee else _("администратор"))
    if task.lane not in user.role_codes:
        return _("Задача «%(name)s» — для роли «%(lane)s», которой у вас нет", name=task.name, lane=task.lane)
    if task.assignee_id and task.assignee_id != user.id:
        return _("Задача «%(name)s» назначена: %(who)s", name=task.name, who=task.assignee.login)
    return None


def _holds_or_heads(user: User, task) -> str | None:
    """Release a task: its assignee, or the head of its lane's department."""
    if task is None or task.assignee_id == user.id or heads_lane(user, task.lane):
        return None
    return _("Вернуть задачу в очередь может её исполнитель или руководитель отдела")


def _heads_or_admin(user: User, task) -> str | None:
    if task is None or heads_lane(user, task.lane) or user.has_role("admin"):
        return None
    return _("Назначать задачи роли «%(lane)s» может руководитель её отдела или администратор", lane=task.lane)


def _heads_department(user: User, department) -> str | None:
    """A department's board: its head, the director and admins (`department` is its code)."""
    if department is None or user.role_codes & MANAGEMENT:
        return None
    if db.session.execute(select(Department.id).where(Department.head_id == user.id,
                                                      Department.code == str(department))).first() is not None:
        return None
    return _("Доску отдела видят его руководитель, директор и администратор")


ANALYTICS_READERS = frozenset({"director", "analyst", "admin"})  # every figure; heads see their departments' stages
ANALYTICS_REFUSED = N_("Аналитику видят директор, аналитики, администраторы и руководители отделов")


def _reads_analytics(user: User, _target) -> str | None:
    """The analytics: its readers, and the head of any department (for the stages of their lanes)."""
    if user.role_codes & ANALYTICS_READERS or headed_lanes(user):
        return None
    return _(ANALYTICS_REFUSED)


def _may_start(user: User, process_id) -> str | None:
    """Start an instance: analysts and admins any process, other roles those its settings allow them."""
    if process_id is None or user.role_codes & PROCESS_DEPLOYERS:
        return None
    allowed = db.session.execute(select(ProcessSettings.start_roles)
                                 .where(ProcessSettings.process_id == process_id)).scalar_one_or_none()
    if user.role_codes & set(allowed or ()):
        return None
    return _("Процесс «%(process)s» вашим ролям запускать нельзя", process=process_id)


def _sees_instance(user: User, instance) -> str | None:
    """A process instance: process readers see all, anyone else what they started or work a task of."""
    if instance is None or user.role_codes & PROCESS_READERS or instance.started_by_id == user.id:
        return None
    tasks = select(HumanTask.id).where(HumanTask.instance_id == instance.id)
    if db.session.execute(visible_tasks(user).where(HumanTask.id.in_(tasks)).limit(1)).first() is not None:
        return None
    return _("Процесс №%(id)s не найден", id=instance.id)


def _may_send(user: User, name) -> str | None:
    if name is None or user.role_codes & MESSAGE_SENDERS.get(name, ADMINS):
        return None
    return _("Сообщение «%(name)s» вашим ролям отправлять нельзя", name=name)


# -- the table ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    who: frozenset[str] | str  # role codes, PUBLIC or SIGNED_IN
    reason: str  # why someone outside `who` is refused (marked for the catalogue, translated when refused)
    target: Check | None = None  # what the order / task / message must allow, when there is one


RULES: dict[str, Rule] = {
    # orders
    "orders.view": Rule(STAFF | PARTNERS, N_("Заказы видят сотрудники и партнёры"), _sees_order),
    "orders.create": Rule(ORDER_DESK, N_("Заказы принимают продажи и диспетчеры")),
    "orders.intake": Rule(STAFF | PARTNERS, N_("Заказы принимают сотрудники и партнёры")),  # the API's intake
    "orders.note": Rule(STAFF, N_("Примечания и вложения добавляют сотрудники"), _sees_order),
    "orders.notifications": Rule(STAFF, N_("Уведомления заказа видят только сотрудники"), _sees_order),
    "orders.cancel": Rule(ORDER_DESK, N_("Отменять заказы могут продажи, диспетчеры и руководство"), _sees_order),
    "orders.status_link": Rule(ORDER_DESK, N_("Ссылкой заказчика управляют продажи, диспетчеры и руководство"),
                               _sees_order),
    "orders.filters": Rule(SIGNED_IN, N_("Войдите в систему")),
    "orders.bulk": Rule(SIGNED_IN, N_("Войдите в систему")),  # each order is then checked by its own action
    "messages.send": Rule(STAFF, N_("Сообщения в процесс отправляют сотрудники"), _may_send),
    # tasks
    "tasks.inbox": Rule(SIGNED_IN, N_("Войдите в систему")),
    "tasks.view": Rule(STAFF, N_("Задачи видят сотрудники"), _sees_task),
    "tasks.complete": Rule(STAFF | CUSTOMERS, N_("Задачи выполняют сотрудники"), _works_lane),
    "tasks.claim": Rule(STAFF, N_("Задачи берут в работу сотрудники"), _works_lane),
    "tasks.unclaim": Rule(STAFF, N_("Задачи возвращают в очередь сотрудники"), _holds_or_heads),
    "tasks.assign": Rule(STAFF, N_("Задачи назначают руководители отделов и администратор"), _heads_or_admin),
    # dispatch: the calendar of visits, crews taking work, department boards
    "dispatch.view": Rule(DISPATCHERS | MANAGEMENT, N_("Диспетчерскую видят диспетчеры и руководство")),
    # planning a visit completes its planning task: that task's own rule (tasks.complete) applies on top
    "dispatch.plan": Rule(DISPATCHERS | ADMINS, N_("Выезды планируют и переносят диспетчеры")),
    "jobs.take": Rule(CREWS, N_("Работы из очереди берут бригады доставки и монтажа")),
    "boards.view": Rule(STAFF, N_("Доски отделов видят руководители отделов и директор"), _heads_department),
    # the partner portal
    "partner.portal": Rule(PARTNERS, N_("Кабинет партнёра открыт только точкам продаж и агентам"),
                           _partner_account),
    # the process and administration
    "processes.view": Rule(PROCESS_DEPLOYERS, N_("Процессы и их версии видят аналитики и администраторы")),
    "processes.deploy": Rule(PROCESS_DEPLOYERS, N_("Процесс публикуют аналитики и администраторы")),
    # analysts map lanes and grant starting too: they draw the lanes (and may name them by role codes) anyway
    "processes.settings": Rule(PROCESS_DEPLOYERS, N_("Настройки процесса меняют аналитики и администраторы")),
    "processes.activate": Rule(ADMINS, N_("Версию для новых заказов выбирают администраторы")),
    "processes.migrate": Rule(ADMINS, N_("Переносят заказы между версиями администраторы")),
    "studio.view": Rule(PROCESS_DEPLOYERS, N_("Студия процессов открыта аналитикам и администраторам")),
    "studio.edit": Rule(PROCESS_DEPLOYERS, N_("Черновики процесса правят аналитики и администраторы")),
    "processes.start": Rule(STAFF, N_("Процессы запускают сотрудники"), _may_start),
    "instances.list": Rule(STAFF, N_("Процессы видят сотрудники")),  # each instance: its own rule below
    "instances.read": Rule(STAFF, N_("Процессы видят сотрудники"), _sees_instance),
    "instances.view": Rule(PROCESS_READERS, N_("Ход процесса на схеме видят аналитики, администраторы и директор")),
    "instances.admin": Rule(ADMINS, N_("Вмешиваться в ход процесса могут администраторы")),
    "users.admin": Rule(ADMINS, N_("Пользователей и роли ведут администраторы")),
    "incidents.view": Rule(MANAGEMENT, N_("Инциденты видят директор и администраторы")),
    "incidents.resolve": Rule(ADMINS, N_("Инциденты разбирают администраторы")),
    "partners.view": Rule(MANAGEMENT, N_("Партнёров видят директор и администраторы")),
    "partners.edit": Rule(ADMINS, N_("Партнёров меняют администраторы")),
    "notifications.edit": Rule(ADMINS, N_("Шаблоны уведомлений меняют администраторы")),
    "mail.quarantine": Rule(ADMINS, N_("Карантин почты разбирают администраторы")),
    # analytics (issue 15): the director's figures and the heatmap
    "analytics.view": Rule(STAFF, ANALYTICS_REFUSED, _reads_analytics),
    # ratings (issue 15): everyone on the staff sees their own place, heads their departments, the director all
    "ratings.view": Rule(STAFF, N_("Рейтинг видят сотрудники")),
    "ratings.edit": Rule(ADMINS, N_("Веса рейтинга меняют администраторы")),
    # the report builder: staff open their own reports and those shared with their roles; building and saving
    # is for management, analysts and accountants (the figures across every order)
    "reports.view": Rule(STAFF, N_("Отчёты видят сотрудники")),
    "reports.edit": Rule(REPORT_BUILDERS, N_("Отчёты составляют директор, аналитики, бухгалтерия и администраторы")),
    # issue 15, exports: the staff's lists as workbooks (orders, tasks); the accountants' list of payments
    "lists.export": Rule(STAFF, N_("Списки выгружают сотрудники")),
    "payments.list": Rule(frozenset({"accountant"}) | MANAGEMENT, N_("Платежи видят бухгалтерия и руководство")),
    # everyone
    "account.own": Rule(SIGNED_IN, N_("Войдите в систему")),  # one's own password, settings, sign-out
    "public": Rule(PUBLIC, ""),  # sign-in, the customer's status link, the API document
    # issue 15, Excel import of orders: sales and those over them
    "orders.import": Rule(frozenset({"sales", "director", "admin"}),
                          N_("Импорт заказов из Excel доступен продажам, руководству и администратору")),
}


def _rule(action: str) -> Rule:
    if action not in RULES:
        raise ValueError(f"unknown action {action!r}")
    return RULES[action]


def role_allows(user, action: str) -> bool:
    """The table's "who" column alone: the user's roles and account, before any order or task."""
    who = _rule(action).who
    if who == PUBLIC:
        return True
    if user is None or not user.is_authenticated or not user.active:
        return False
    return who == SIGNED_IN or bool(user.role_codes & who)


def refusal(user, action: str, order=None, task=None) -> str | None:
    """Why `user` may not do `action` (on the order, its task, or the message named by `order`); None if allowed."""
    rule = _rule(action)
    if not role_allows(user, action):
        return _(rule.reason)
    if rule.target is None or rule.who == PUBLIC:
        return None
    target = task if task is not None else order
    return rule.target(user, target)


def can(user, action: str, target=None) -> bool:
    """May `user` do `action` (on an order, a task, an instance, a process id or a message name)?"""
    if isinstance(target, HumanTask):
        return refusal(user, action, target.order, target) is None
    return refusal(user, action, target) is None


def ensure(user, action: str, order=None, task=None) -> None:
    """Raise Forbidden with the reason when the policy refuses."""
    reason = refusal(user, action, order, task)
    if reason:
        raise Forbidden(reason)


def is_staff(user) -> bool:
    """An employee (whatever else the account holds): sees every order and what is sent to whom."""
    return bool(user.role_codes & STAFF)


def is_partner(user) -> bool:
    """A partner's own account, not an employee who also holds the role: it lives in the partner portal."""
    return bool(user.is_authenticated and user.has_role("partner") and user.partner_id
                and not user.role_codes & STAFF)


# -- what a user may see ---------------------------------------------------------------------------------

def visible_orders(user: User):
    """Orders the user may see: staff see all, a partner only its own, anyone else none."""
    query = select(Order)
    if user.role_codes & STAFF:
        return query
    if user.has_role("partner") and user.partner_id:
        return query.where(Order.partner_id == user.partner_id)
    return query.where(false())


def visible_instances(user: User):
    """Process instances the user may see (`instances.read`): readers all, anyone else what they started or
    work a task of; order lifecycles are reached through their orders and not listed here."""
    query = select(ProcessInstance).where(ProcessInstance.order_id.is_(None))
    if user.role_codes & PROCESS_READERS:
        return query
    tasks = visible_tasks(user).with_only_columns(HumanTask.instance_id)
    return query.where(or_(ProcessInstance.started_by_id == user.id, ProcessInstance.id.in_(tasks)))


def visible_tasks(user: User):
    """Tasks in the user's lanes (or assigned to them); directors and admins see every task. A task of a process
    no order started has no order (the outer join keeps it)."""
    query = select(HumanTask).outerjoin(HumanTask.order)
    if sees_every_task(user):
        return query
    return query.where(or_(HumanTask.lane.in_(user.role_codes), HumanTask.assignee_id == user.id,
                           HumanTask.id.in_(_candidacies(user))))


def _candidacies(user: User):
    """Ids of the tasks the process named the user for (an index on `task_candidates.user_id`)."""
    return select(TaskCandidate.human_task_id).where(TaskCandidate.user_id == user.id)


TASK_SCOPES = ("mine", "queue", "team", "all")


def task_scope(user: User, scope: str, state: str | None = None):
    """The visible tasks of one scope: mine, the queue of my lanes, my departments' (team) or all I may see; with
    `state`, only the tasks in it (the inbox: open)."""
    query = visible_tasks(user)
    if state is not None:
        query = query.where(HumanTask.state == state)
    if scope == "mine":
        return query.where(HumanTask.assignee_id == user.id)
    if scope == "queue":  # free tasks of my roles nobody was named for, and those I was named for
        free = and_(HumanTask.lane.in_(user.role_codes), ~exists().where(TaskCandidate.human_task_id == HumanTask.id))
        if state is None:
            return query.where(HumanTask.assignee_id.is_(None), or_(free, HumanTask.id.in_(_candidacies(user))))
        # the same tasks, each half read from its own index — the lanes' free tasks in that state from (state,
        # lane, …), the candidacies by user: an OR of the two in one condition kept PostgreSQL reading every free
        # open task of every lane (51,000 at 100,000 orders) to keep a thousand
        lanes = select(HumanTask.id).where(HumanTask.state == state, HumanTask.assignee_id.is_(None), free)
        return select(HumanTask).outerjoin(HumanTask.order).where(
            HumanTask.state == state, HumanTask.assignee_id.is_(None),
            HumanTask.id.in_(union(lanes, _candidacies(user))))
    if scope == "team" and not sees_every_task(user):
        return query.where(HumanTask.lane.in_(headed_lanes(user) or {"-"}))
    if scope in TASK_SCOPES:
        return query
    raise ValueError(f"unknown task scope {scope!r}")
