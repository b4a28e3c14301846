"""The order aggregate: order, customer, partner and what hangs off an order."""
from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import JSONType, Model, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.process import ProcessInstance

Money = Numeric(14, 2)

ORDER_KINDS = {
    "wardrobe": ("Встроенный шкаф", "Built-in wardrobe"),
    "furniture": ("Корпусная мебель на заказ", "Custom furniture"),
    "kitchen": ("Кухонный гарнитур", "Kitchen"),
    "home_theater": ("Домашний кинотеатр", "Home theatre"),
    "air_conditioner": ("Кондиционер", "Air conditioner"),
    "windows": ("Пластиковые окна", "PVC windows"),
}
CHANNELS = {
    "web": ("Сайт", "Website"),
    "email": ("Электронная почта", "E-mail"),
    "phone": ("Телефон", "Phone"),
    "partner": ("Партнёр", "Partner"),
    "api": ("API", "API"),
    "import": ("Импорт из Excel", "Excel import"),
}
PAYMENT_TYPES = {"cash": "Наличные", "cashless": "Безналичный расчёт", "credit": "Кредит"}


def new_status_key() -> str:
    """The secret half of an order's status link; replacing it (or clearing it) kills every link given out."""
    return secrets.token_urlsafe(16)


class OrderStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Customer(Model):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32), index=True, nullable=True)
    email: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    # Channels the customer wants notifications on ("sms", "email"); None = every channel we have an address for.
    notify_channels = mapped_column(JSONType, nullable=True)
    locale: Mapped[str] = mapped_column(String(8), default="ru", server_default="ru")  # language of messages
    onec_ref: Mapped[str | None] = mapped_column(String(36), nullable=True)  # Catalog_Контрагенты Ref_Key
    # Set for the card of a partner's order: it holds only what was typed for that partner's orders, and our
    # own intake never reuses it, so the partner sees no customer data it did not give.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)


class Partner(Model):
    """A point of sale or a sales agent."""

    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="point_of_sale")  # or "agent"
    commission_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # read when asked (a statement, the partners page): every order's list row joins its partner, and loading the
    # overrides with each was one more statement on every list page
    commissions = relationship("PartnerCommission", cascade="all, delete-orphan")  # listed by kind_overrides()


class PartnerCommission(Model):
    """A partner's commission for one order kind, overriding the partner's general percentage."""

    __tablename__ = "partner_commissions"
    __table_args__ = (UniqueConstraint("partner_id", "kind", name="uq_partner_commissions_kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    pct: Mapped[Decimal] = mapped_column(Numeric(5, 2))


class OrderCounter(Model):
    """Per-year sequence behind human order numbers like 2026-00042."""

    __tablename__ = "order_counters"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Order(Model):
    __tablename__ = "orders"
    # The analytics' cohort counts read this index alone, never the wide order rows. The orders list of one status
    # (the active ones, mostly) sorted by the promised or the predicted date reads its page from the index's first
    # entries, where it sorted every order of that status (13,000 active at 100,000 orders: 18–30 ms). A search
    # by a customer's name takes the orders' ids from the customer's index alone.
    __table_args__ = (Index("ix_orders_analytics", "created_at", "kind", "channel", "partner_id", "status",
                            "customer_id", "completed_at", "price"),
                      Index("ix_orders_status_promised", "status", "promised_date", "id"),
                      Index("ix_orders_status_predicted", "status", "predicted_on", "id"),
                      Index("ix_orders_customer_id", "customer_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True, index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True, nullable=True)
    address: Mapped[str] = mapped_column(String(400), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    promised_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    price: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    prepayment: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    payment_type: Mapped[str | None] = mapped_column(String(20), nullable=True)
    measurer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    crew_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    stage: Mapped[str] = mapped_column(String(120), index=True, default="")
    # The stage of the order's newest task row, set by the flush that inserts one (app/services/daily_stats.py): where
    # a cancelled order stopped, since cancelling renames `stage` — the analytics read it instead of every order's
    # tasks. Written by SQL after the flush, so a loaded order may hold an older value until it is read again.
    last_task_stage: Mapped[str | None] = mapped_column(String(120), nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default=OrderStatus.ACTIVE)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    completed_at = mapped_column(UTCDateTime, nullable=True)
    onec_refs = mapped_column(JSONType, nullable=True)  # 1C keys: {"contract": guid, "order": guid}
    status_key: Mapped[str | None] = mapped_column(String(32), nullable=True, default=new_status_key)  # None: revoked
    # The predicted completion (app/services/prediction.py): median and 80 % dates, how they were reckoned.
    predicted_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    predicted_p80_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    prediction_method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # The prediction passed the promised date: the stage's head was told (an Escalation of level "at_risk").
    at_risk: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)
    # The order's number in the system an Excel import came from: importing the same row again creates nothing.
    external_ref: Mapped[str | None] = mapped_column(String(60), unique=True, index=True, nullable=True)
    # The Excel import it came from (its process is started by that import's jobs).
    import_id: Mapped[int | None] = mapped_column(ForeignKey("order_imports.id"), index=True, nullable=True)

    customer = relationship(Customer, lazy="joined")
    partner = relationship(Partner, lazy="joined")
    measurer = relationship("User", foreign_keys=[measurer_id])
    crew = relationship("User", foreign_keys=[crew_id])
    created_by = relationship("User", foreign_keys=[created_by_id])
    components = relationship("Component", order_by="Component.position", cascade="all, delete-orphan")
    payments = relationship("Payment", order_by="Payment.id", cascade="all, delete-orphan")
    documents = relationship("Document", order_by="Document.id")
    if TYPE_CHECKING:  # made by the backref of ProcessInstance.order
        instance: ProcessInstance | None

    @property
    def paid(self) -> Decimal:
        """Every payment received, to the company or at the point of sale."""
        return sum((p.amount for p in self.payments), Decimal("0.00"))

    @property
    def balance(self) -> Decimal | None:
        """What the customer still owes: the price less every payment; None while there is no price."""
        return None if self.price is None else self.price - self.paid

    @property
    def kind_label(self) -> str:
        return ORDER_KINDS.get(self.kind, (self.kind,))[0]


class Component(Model):
    """A material or part the order needs; procurement tracks its status."""

    __tablename__ = "components"
    # The workshops' boards read the few components still needed or ordered from here, not all 200,000 of a year.
    __table_args__ = (Index("ix_components_status", "status", "order_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal("1"))
    unit: Mapped[str] = mapped_column(String(20), default="шт")
    supplier: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="needed")


class Payment(Model):
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("order_id", "number", name="uq_payments_order_number"),
                      UniqueConstraint("source", "external_id", name="uq_payments_external"))
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(60))
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    method: Mapped[str | None] = mapped_column(String(20), nullable=True)
    received_by: Mapped[str] = mapped_column(String(20), default="company")  # or "partner"
    source: Mapped[str] = mapped_column(String(20), default="manual")  # manual, api, 1c
    external_id: Mapped[str | None] = mapped_column(String(80), nullable=True)  # e.g. the 1C document's Ref_Key
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)


class Note(Model):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(default=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    author = relationship("User")


class Attachment(Model):
    """A file or a link attached to an order (photos, drawings, scans)."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(120), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer, default=0)
    storage_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)


class Feedback(Model):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # rating, praise, claim
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)


class Claim(Model):
    __tablename__ = "claims"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    photos = mapped_column(JSONType, nullable=True)  # attachment ids the customer sent with the claim
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, resolved
    resolution: Mapped[str | None] = mapped_column(String(20), nullable=True)
    resolution_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    discount_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    resolved_at = mapped_column(UTCDateTime, nullable=True)


class Document(Model):
    """A rendered PDF; re-rendering adds a version, earlier ones stay."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("order_id", "kind", "version", name="uq_documents_order_kind_version"),
        UniqueConstraint("job_id", "kind", name="uq_documents_job_kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    version: Mapped[int] = mapped_column(Integer, default=1)
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_jobs.id"), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)


class Notification(Model):
    """Every message sent (or attempted) about an order."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("job_id", "channel", "recipient", name="uq_notifications_job"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(20))  # log, sms, email
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text, nullable=True)  # e-mail only
    # queued → sending (handed to the provider) → sent | failed (with the reason in `error`)
    status: Mapped[str] = mapped_column(String(20), default="sent")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_jobs.id"), nullable=True)  # the job that wrote it
    delivery_job_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_jobs.id"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    locale: Mapped[str] = mapped_column(String(8), default="ru", server_default="ru")
    attachments = mapped_column(JSONType, nullable=True)  # document ids sent with an e-mail
    provider: Mapped[str | None] = mapped_column(String(20), nullable=True)
    provider_ref: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the gateway's message id
    segments: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)
    sent_at = mapped_column(UTCDateTime, nullable=True)
    extra = mapped_column(JSONType, nullable=True)


class NotificationTemplate(Model):
    """An admin's wording of one event's message in one language (overrides the built-in text)."""

    __tablename__ = "notification_templates"
    __table_args__ = (UniqueConstraint("event", "locale", name="uq_notification_templates_event"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event: Mapped[str] = mapped_column(String(60))
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)  # SMS and the plain-text part of e-mail
    html: Mapped[str | None] = mapped_column(Text, nullable=True)  # e-mail body; None = from the text
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    updated_at = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InboundMessage(Model):
    """An e-mail received at the orders address, kept once per Message-ID with what became of it."""

    __tablename__ = "inbound_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(300), unique=True)
    sender: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(500), default="")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))  # order_created, note_added, rejected, quarantined, dropped
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at = mapped_column(UTCDateTime, default=utcnow)
