"""flask create-user | demo | deploy on a real database."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import Order, User


def test_create_user_then_demo_refuses_a_real_database(app, runner):
    result = runner.invoke(args=["create-user", "ivanov", "--name", "Иванов И. И.", "--role", "sales",
                                 "--role", "quality", "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.execute(select(User).where(User.login == "ivanov")).scalar_one()
        assert user.role_codes == {"sales", "quality"} and user.check_password("s3cret-pass")
    again = runner.invoke(args=["create-user", "ivanov", "--name", "x", "--role", "sales", "--password", "x"])
    assert again.exit_code != 0 and "already exists" in again.output
    bad = runner.invoke(args=["create-user", "petrov", "--name", "x", "--role", "wizard", "--password", "x"])
    assert bad.exit_code != 0 and "unknown roles" in bad.output
    refused = runner.invoke(args=["demo", "--orders", "1"])
    assert refused.exit_code != 0 and "non-demo users" in refused.output
    with app.app_context():
        assert db.session.execute(select(func.count(Order.id))).scalar() == 0


def test_demo_spreads_orders_over_every_stage(app, runner):
    assert runner.invoke(args=["deploy"]).exit_code == 0
    result = runner.invoke(args=["demo", "--orders", "15"])
    assert result.exit_code == 0, result.output
    assert "sales" in result.output and "password 'demo'" in result.output
    with app.app_context():
        stages = set(db.session.execute(select(Order.stage)).scalars())
        statuses = set(db.session.execute(select(Order.status)).scalars())
        users = {u.login for u in db.session.execute(select(User)).scalars()}
    assert stages >= {"Новый заказ", "Планирование выезда на замер", "Замер", "Подготовка договора",
                      "Проектирование", "Ожидание решения банка", "Оплата", "Комплектация", "Производство",
                      "Планирование доставки и монтажа", "Доставка и монтаж", "Завершён",
                      "Рассмотрение претензии", "Отменён"}
    assert statuses == {"active", "completed", "cancelled"}
    assert {"sales", "dispatch", "measurer", "designer", "accountant", "procurement", "production",
            "delivery_dispatch", "installer", "quality", "director", "analyst", "admin", "head_sales"} <= users
