"""What the customer's status page says: the order in the customer's words, not the diagram's.

The process has a dozen staff steps; a customer follows seven milestones. Each user task of the
diagram declares its milestone and a sentence about what is happening now (bindings `bespoke:milestone`,
`bespoke:customerText`). A task an analyst adds later without them still shows: under the milestone of the
stage before it, with its own name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import defer

from app.engine.bindings import CUSTOMER_TEXT, MILESTONE, RATING, Bindings
from app.errors import Conflict, ValidationError
from app.extensions import db
from app.i18n import N_
from app.models import AuditEvent, Claim, Document, HumanTask, Note, Order, OrderStatus, User
from app.models.users import Department
from app.services.bindings import order_bindings
from app.services.notifications import notify

CUSTOMER_LANE = "customer"
CUSTOMER_LOGIN = "customer"

# (code, label) in the order a customer lives through them.
MILESTONES = (
    ("received", N_("Заказ принят")),
    ("measurement", N_("Замер")),
    ("contract", N_("Проект и договор")),
    ("payment", N_("Оплата")),
    ("production", N_("Изготовление")),
    ("delivery", N_("Доставка и монтаж")),
    ("done", N_("Заказ выполнен")),
)
MILESTONE_LABELS = dict(MILESTONES)
MILESTONE_CODES = [code for code, _label in MILESTONES]
# The customer's agreement to the contract matters until they pay: the payment accepts the contract, and from
# then on the order is made to it. Past this milestone the page neither offers nor takes an approval.
CONTRACT_APPROVAL_UNTIL = "payment"
# Milestones an order reaches through a user task of the diagram (`bespoke:milestone` on the task, with
# `bespoke:customerText` saying what the customer reads meanwhile); "received" and "done" are also reached
# by the order itself (placed, completed), so a version may do without a task for them.
MILESTONES_FROM_TASKS = frozenset(MILESTONE_CODES) - {"received", "done"}
DOCUMENT_LABELS = {"contract": N_("Договор"), "invoice": N_("Счёт на оплату"), "act": N_("Акт приёмки"),
                   "claim_report": N_("Акт рассмотрения претензии")}
CLAIM_RESOLUTIONS = {"revisit": N_("замечания устранены при повторном выезде"),
                     "discount": N_("предоставлена скидка"), "rejected": N_("претензия отклонена")}


@dataclass
class Milestone:
    code: str
    label: str
    state: str  # done, current, upcoming
    reached_at: datetime | None = None


@dataclass
class Appointment:
    label: str
    at: datetime
    person: str | None


@dataclass
class CustomerView:
    order: Order
    milestones: list[Milestone]
    now_text: str
    current_label: str
    expected_at: datetime | None  # when the current step should be done (its SLA deadline)
    next_label: str | None
    appointments: list[Appointment]
    documents: list[Document]
    paid: Decimal
    balance: Decimal | None
    manager: User | None
    claims: list[Claim]
    questions: list[Note] = field(default_factory=list)
    tasks: list[HumanTask] = field(default_factory=list)
    task_titles: dict[int, str] = field(default_factory=dict)  # what the customer's own tasks are called
    contract: Document | None = None
    contract_approval: AuditEvent | None = None  # the customer's approval of the newest edition
    milestone: str = "received"  # the code of the milestone the order is at
    # when the order should be ready: the predicted median date (never the pessimistic one), active orders only
    estimated_on: date | None = None

    @property
    def may_approve_contract(self) -> bool:
        return (self.contract is not None and self.contract_approval is None
                and contract_approval_matters(self.order, self.milestone))


def contract_approval_matters(order: Order, milestone: str) -> bool:
    """Whether the customer's approval still means something: an active order not yet past payment."""
    return (order.status == OrderStatus.ACTIVE
            and MILESTONE_CODES.index(milestone) <= MILESTONE_CODES.index(CONTRACT_APPROVAL_UNTIL))


def _milestone_of(task: HumanTask, bindings: Bindings, fallback: str) -> str:
    return bindings.value(task.bpmn_id, MILESTONE) or fallback


def _reached(tasks: list[HumanTask], order: Order, bindings: Bindings) -> dict[str, datetime]:
    """The first moment each milestone was reached, from the tasks the order has been through."""
    reached: dict[str, datetime] = {"received": order.created_at}
    current = "received"
    for task in tasks:
        current = _milestone_of(task, bindings, current)
        reached.setdefault(current, task.created_at)
    if order.status == OrderStatus.COMPLETED:
        reached.setdefault("done", order.completed_at or order.updated_at)
    return reached


def _order_tasks(order: Order) -> list[HumanTask]:
    return list(db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id)
                                   .order_by(HumanTask.created_at, HumanTask.id)).scalars())


def current_milestone(order: Order, tasks: list[HumanTask], bindings: Bindings | None = None) -> str:
    """The milestone of the newest task the order reached (`done` once completed)."""
    if order.status == OrderStatus.COMPLETED:
        return "done"
    if bindings is None:
        bindings = order_bindings(order)
    current = "received"
    for task in tasks:
        current = _milestone_of(task, bindings, current)
    return current


def _milestones(order: Order, tasks: list[HumanTask], current: str, bindings: Bindings) -> list[Milestone]:
    reached = _reached(tasks, order, bindings)
    position = MILESTONE_CODES.index(current)
    return [Milestone(code, _(label), "done" if i < position or (code == "done" and i == position)
                      else "current" if i == position else "upcoming", reached.get(code) if i <= position else None)
            for i, (code, label) in enumerate(MILESTONES)]


def manager_of(order: Order) -> User | None:
    """Who answers the customer: the sales manager who took the order, else the head of sales."""
    for person in (HumanTask.completed_by_id, HumanTask.assignee_id):  # who did the sales step, else who has it
        found = db.session.execute(
            select(User).join(HumanTask, person == User.id)
            .where(HumanTask.order_id == order.id, HumanTask.lane == "sales", User.active.is_(True))
            .order_by(HumanTask.id).limit(1)).scalar_one_or_none()
        if found is not None:
            return found
    creator = order.created_by
    if creator is not None and creator.active and creator.has_role("sales"):
        return creator
    return db.session.execute(select(User).join(Department, Department.head_id == User.id)
                              .where(Department.role_code == "sales", User.active.is_(True))).scalars().first()


def latest_documents(order: Order) -> list[Document]:
    """The newest version of each document the customer may download."""
    newest: dict[str, Document] = {}
    rows = db.session.execute(select(Document).options(defer(Document.content))  # the PDFs stay in the database
                              .where(Document.order_id == order.id, Document.kind.in_(DOCUMENT_LABELS))
                              .order_by(Document.version)).scalars()
    for document in rows:
        newest[document.kind] = document
    return [newest[kind] for kind in DOCUMENT_LABELS if kind in newest]


def customer_account() -> User:
    """The built-in account that signs what customers do (status page answers, questions, e-mailed requests)."""
    from app.services.reference import ensure_reference_data

    user = db.session.execute(select(User).where(User.login == CUSTOMER_LOGIN)).scalar_one_or_none()
    if user is None:
        ensure_reference_data()  # idempotent; an installation that skipped `flask deploy` still works
        user = db.session.execute(select(User).where(User.login == CUSTOMER_LOGIN)).scalar_one()
    return user


def view(order: Order) -> CustomerView:
    tasks = _order_tasks(order)
    bindings = order_bindings(order)
    open_tasks = [t for t in tasks if t.state == "open"]
    staff_open = [t for t in open_tasks if t.lane != CUSTOMER_LANE]
    now_task = open_tasks[0] if open_tasks else None
    current = current_milestone(order, tasks, bindings)
    customer_text = bindings.value(now_task.bpmn_id, CUSTOMER_TEXT) if now_task is not None else None
    if order.status == OrderStatus.CANCELLED:
        now_text = _("Заказ отменён.") + (f" {order.cancel_reason}" if order.cancel_reason else "")
        current_label = _("Заказ отменён")
    elif now_task is not None and customer_text:
        now_text, current_label = _(customer_text), _(MILESTONE_LABELS[current])
    elif now_task is not None:
        now_text, current_label = now_task.name, _(MILESTONE_LABELS[current])
    else:
        now_text = _("Заказ выполнен. Спасибо, что выбрали нас!") if current == "done" else ""
        current_label = _(MILESTONE_LABELS[current])
    following = MILESTONE_CODES.index(current) + 1
    next_label = (_(MILESTONE_LABELS[MILESTONE_CODES[following]])
                  if following < len(MILESTONE_CODES) and order.status == OrderStatus.ACTIVE else None)
    expected = min((t.due_at for t in staff_open if t.due_at), default=None)
    appointments = []
    if order.visit_at:
        appointments.append(Appointment(_("Замер"), order.visit_at, order.measurer.name if order.measurer else None))
    if order.delivery_at:
        appointments.append(Appointment(_("Доставка и монтаж"), order.delivery_at,
                                        order.crew.name if order.crew else None))
    # Notes meant for the customer: their own questions and the answers staff chose to show.
    questions = list(db.session.execute(select(Note).where(Note.order_id == order.id, Note.internal.is_(False))
                                        .order_by(Note.created_at, Note.id)).scalars())
    documents = latest_documents(order)
    contract = next((d for d in documents if d.kind == "contract"), None)
    claims = list(db.session.execute(select(Claim).where(Claim.order_id == order.id).order_by(Claim.id)).scalars())
    customer_tasks = [t for t in open_tasks if t.lane == CUSTOMER_LANE]
    return CustomerView(
        order=order,
        milestones=_milestones(order, tasks, current, bindings) if order.status != OrderStatus.CANCELLED else [],
        now_text=now_text, current_label=current_label, expected_at=expected, next_label=next_label,
        appointments=appointments, documents=documents, paid=order.paid,
        balance=order.balance, manager=manager_of(order),
        claims=claims, questions=questions, tasks=customer_tasks,
        task_titles={t.id: _("Ваш отзыв") if bindings.value(t.bpmn_id, RATING) else t.name for t in customer_tasks},
        contract=contract, contract_approval=contract_approval(order, contract) if contract else None,
        milestone=current,
        estimated_on=order.predicted_on if order.status == OrderStatus.ACTIVE else None)


def contract_approval(order: Order, contract: Document) -> AuditEvent | None:
    """The customer's approval of exactly this edition of the contract, if given."""
    return db.session.execute(select(AuditEvent).where(
        AuditEvent.order_id == order.id, AuditEvent.field == "contract_approved",
        AuditEvent.entity == "document", AuditEvent.entity_id == str(contract.id))).scalars().first()


def approve_contract(order: Order, version: int) -> None:
    """The customer agrees to the contract's newest edition from the status page: recorded, noted, told."""
    from app.services import audit
    from app.services.notes import add_note

    milestone = current_milestone(order, _order_tasks(order))
    if not contract_approval_matters(order, milestone):
        raise Conflict(_("Договор уже не нужно согласовывать: заказ на этапе «%(stage)s»",
                         stage=_(MILESTONE_LABELS[milestone])) if order.status == OrderStatus.ACTIVE
                       else _("Договор уже не нужно согласовывать: заказ закрыт"))
    contract = next((d for d in latest_documents(order) if d.kind == "contract"), None)
    if contract is None or contract.version != version:
        raise ValidationError(_("Договор обновился — прочитайте новую редакцию и согласуйте её"),
                              fields={"contract": "stale"})
    if contract_approval(order, contract) is not None:
        return
    customer = customer_account()
    audit.record(order.id, "field", customer, field="contract_approved", new=f"редакция {contract.version}",
                 entity="document", entity_id=contract.id)
    note = add_note(order, _("Заказчик согласовал договор (редакция %(n)d) на странице заказа", n=contract.version),
                    customer, internal=False)
    tell_manager(order, "contract_approved", text=note.text, version=contract.version)


def ask(order: Order, text: str) -> None:
    """A question from the status page: a note the customer and staff see, and a message to the manager."""
    from app.services.notes import add_note

    add_note(order, f"{_('Вопрос заказчика')}: {text}", customer_account(), internal=False)
    tell_manager(order, "customer_question", question=text)


def tell_manager(order: Order, event: str, **params) -> None:
    manager = manager_of(order)
    notify(order, event, f"user:{manager.id}" if manager else "sales", **params)


def claim_state(claim: Claim) -> str:
    if claim.status == "resolved":
        label = CLAIM_RESOLUTIONS.get(claim.resolution or "")
        return _("Рассмотрена") + (f": {_(label)}" if label else "")
    return _("На рассмотрении")
