"""Reference data every installation needs: roles, departments, the customer stand-in account."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import LANE_ROLES, ROLES, Department, Role, User

DEPARTMENTS = {
    "sales": "Отдел продаж", "dispatch": "Служба планирования замеров", "measurer": "Служба замеров",
    "designer": "Конструкторский отдел", "accountant": "Бухгалтерия", "procurement": "Отдел закупок",
    "production": "Производство", "delivery_dispatch": "Служба доставки", "installer": "Монтажные бригады",
    "quality": "Отдел контроля качества",
}


def ensure_reference_data() -> None:
    """Create missing roles, departments and the 'customer' account (idempotent)."""
    existing = {r.code for r in db.session.execute(select(Role)).scalars()}
    for code, (name, name_en) in ROLES.items():
        if code not in existing:
            db.session.add(Role(code=code, name=name, name_en=name_en, is_lane=code in LANE_ROLES))
    db.session.flush()
    have = {d.code for d in db.session.execute(select(Department)).scalars()}
    for code, name in DEPARTMENTS.items():
        if code not in have:
            db.session.add(Department(code=code, name=name, role_code=code))
    if db.session.execute(select(User).where(User.login == "customer")).scalar_one_or_none() is None:
        # Customers act through their status link; this account signs those steps. It cannot log in.
        customer = User(login="customer", name="Заказчик (по ссылке)", password_hash="!", is_demo=False)
        customer.roles = [db.session.get(Role, "customer")]
        db.session.add(customer)
    db.session.flush()


def create_user(login: str, name: str, password: str, roles: list[str], *, email: str | None = None,
                phone: str | None = None, department: str | None = None, is_demo: bool = False,
                password_hash: str | None = None) -> User:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    user = User(login=login, name=name, email=email, phone=phone, is_demo=is_demo)
    if password_hash:
        user.password_hash = password_hash
    else:
        user.set_password(password)
    user.roles = [db.session.get(Role, code) for code in roles]
    if department:
        user.department = db.session.execute(select(Department).where(Department.code == department)).scalar_one()
    db.session.add(user)
    db.session.flush()
    return user
