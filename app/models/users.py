"""People: users, their roles and departments."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_login import UserMixin
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, bindparam, select
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from app.extensions import db
from app.models.base import JSONType, Model, UTCDateTime, utcnow

_hasher = PasswordHasher()

# Role code = BPMN lane name, plus the roles that sit beside the lanes.
LANE_ROLES = {
    "sales": ("Менеджер по продажам", "Sales manager"),
    "dispatch": ("Диспетчер планирования", "Measurement dispatcher"),
    "measurer": ("Специалист-замерщик", "Measurer"),
    "designer": ("Дизайнер / технолог", "Designer"),
    "accountant": ("Бухгалтер / кассир", "Accountant"),
    "procurement": ("Закупки", "Procurement"),
    "production": ("Производство", "Production"),
    "delivery_dispatch": ("Диспетчер доставки", "Delivery dispatcher"),
    "installer": ("Бригада доставки и монтажа", "Installer crew"),
    "quality": ("Контроль качества", "Quality control"),
    "customer": ("Заказчик", "Customer"),
}
OTHER_ROLES = {
    "director": ("Директор", "Director"),
    "analyst": ("Бизнес-аналитик", "Business analyst"),
    "admin": ("Администратор", "Administrator"),
    "partner": ("Партнёр", "Partner"),
}
ROLES = {**LANE_ROLES, **OTHER_ROLES}

user_roles = Table(
    "user_roles",
    db.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_code", String(40), ForeignKey("roles.code", ondelete="CASCADE"), primary_key=True),
)


class Role(Model):
    __tablename__ = "roles"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120), default="")
    is_lane: Mapped[bool] = mapped_column(Boolean, default=False)


class Department(Model):
    """A department works one lane; its head gets the lane's escalations."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    role_code: Mapped[str | None] = mapped_column(ForeignKey("roles.code"), nullable=True)
    head_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_departments_head_id_users"), nullable=True
    )
    head = relationship("User", foreign_keys=[head_id], post_update=True)


class User(UserMixin, Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(160))
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str] = mapped_column(String(8), default="ru")
    notify_channels = mapped_column(JSONType, nullable=True)  # ["email", "sms"]; None = e-mail
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), nullable=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), nullable=True)
    created_at = mapped_column(UTCDateTime, default=utcnow)

    roles = relationship(Role, secondary=user_roles, lazy="selectin")
    department = relationship(Department, foreign_keys=[department_id])
    partner = relationship("Partner")

    @property
    def role_codes(self) -> set[str]:
        return {r.code for r in self.roles}

    def has_role(self, *codes: str) -> bool:
        return bool(self.role_codes.intersection(codes))

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    @property
    def session_stamp(self) -> str:
        return (self.password_hash or "")[-12:]

    def get_id(self) -> str:  # Flask-Login: bound to the password, see the user loader
        return f"{self.id}:{self.session_stamp}"

    def set_password(self, password: str) -> None:
        self.password_hash = _hasher.hash(password)

    def check_password(self, password: str) -> bool:
        try:
            return _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def __repr__(self) -> str:
        return f"<User {self.login}>"


_SIGNED_IN = select(User).where(User.id == bindparam("user_id")).options(joinedload(User.roles))


def signed_in_user(user_id: int) -> User | None:
    """The signed-in user of a request (a session's, a token's) with the roles every check asks for, in one query
    (their own `selectin` load was a second on every page and call), by a statement built once."""
    return db.session.execute(_SIGNED_IN, {"user_id": user_id}).unique().scalar_one_or_none()
