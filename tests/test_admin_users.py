"""Admins: users and roles in the browser — create, edit, deactivate, reset a password, audited; never oneself."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.errors import Forbidden, ValidationError
from app.extensions import db
from app.models import AuditEvent, Department, Partner, User
from app.usecases.users import AccountForm, set_active, update_account
from tests.support.web import csrf_of, sign_in, signed_in

PASSWORD = re.compile(r'<code class="password">([^<]+)</code>')


@pytest.fixture
def web(make_app):
    """A seeded app with CSRF on, as in production."""
    return make_app()


def account(login: str):
    return db.session.execute(select(User).where(User.login == login)).scalar_one()


def user_id(app, login: str) -> int:
    with app.app_context():
        return account(login).id


def new_user_form(token: str, **fields) -> dict:
    return {"csrf_token": token, "login": "petrov", "name": "Пётр Петров", "email": "petrov@bespoke.example",
            "phone": "8 (916) 555-44-33", "roles": ["sales", "dispatch"], "heads": [], "partner_id": "",
            "password": "", **fields}


def edit_form(token: str, user: User, **fields) -> dict:
    """The edit form as the page shows it for `user`, with some fields changed."""
    heads = list(db.session.execute(select(Department.code).where(Department.head_id == user.id)).scalars())
    return {"csrf_token": token, "login": user.login, "name": user.name, "email": user.email or "",
            "phone": user.phone or "", "roles": sorted(user.role_codes), "heads": heads,
            "partner_id": str(user.partner_id or ""), **fields}


def shown_password(response) -> str:
    found = PASSWORD.search(response.data.decode())
    assert found, response.data.decode()
    return found.group(1)


def audit(app, entity: str = "user") -> list[tuple]:
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.entity == entity)
                                    .order_by(AuditEvent.id)).scalars().all()
        return [(e.field, e.old_value, e.new_value, e.actor_label) for e in events]


def test_a_user_created_with_two_roles_and_a_department_signs_in_with_the_password_shown_once(web):
    admin = signed_in(web, "admin")
    token = csrf_of(admin.get("/admin/users/new").data)
    created = admin.post("/admin/users/new", data=new_user_form(token, heads=["sales"]))
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    password = shown_password(created)
    assert len(password) >= 12
    assert "Пользователь petrov создан" in created.data.decode()

    assert sign_in(web.test_client(), "petrov", password).status_code == 302
    assert sign_in(web.test_client(), "petrov", "demo").status_code == 401
    with web.app_context():
        petrov = account("petrov")
        assert petrov.role_codes == {"sales", "dispatch"} and petrov.phone == "+79165554433" and petrov.active
        pid = petrov.id
        sales = db.session.execute(select(Department).where(Department.code == "sales")).scalar_one()
        assert sales.head_id == petrov.id  # head_sales no longer heads it
    listed = admin.get("/admin/users?q=петров").data.decode()
    row = re.search(rf'<tr id="user-{pid}">(.*?)</tr>', listed, re.S).group(1)
    assert "Менеджер по продажам" in row and "Диспетчер планирования" in row and "Отдел продаж" in row
    assert "+79165554433" in row and "разрешён" in row
    assert password not in admin.get(f"/admin/users/{pid}").data.decode()  # shown once, then never again

    logged = audit(web)
    assert ("account", None, "petrov", "admin") in logged
    assert ("roles", None, "dispatch, sales", "admin") in logged
    assert ("phone", None, "+79165554433", "admin") in logged and ("heads", None, "sales", "admin") in logged
    assert ("head", "head_sales", "petrov", "admin") in audit(web, "department")
    assert not any(password in str(value) for event in logged for value in event)


def test_a_login_taken_in_any_case_is_refused_beside_the_field_and_what_was_typed_stays(web):
    admin = signed_in(web, "admin")
    token = csrf_of(admin.get("/admin/users/new").data)
    refused = admin.post("/admin/users/new", data=new_user_form(token, login="SALES", phone="12", email="nope"))
    page = refused.data.decode()
    assert refused.status_code == 422 and "Пользователь не сохранён" in page
    assert "Логин SALES уже занят" in page and "Неверный номер телефона" in page and "Проверьте e-mail" in page
    for typed in ('value="SALES"', 'value="Пётр Петров"', 'value="12"', 'value="nope"'):
        assert typed in page
    assert re.search(r'value="dispatch" checked', page) and not re.search(r'value="director" checked', page)
    blank = admin.post("/admin/users/new", data=new_user_form(token, name="\u200b \u200b", partner_id="9" * 20))
    assert blank.status_code == 422 and "Укажите имя" in blank.data.decode()
    assert "Такого партнёра нет" in blank.data.decode()  # an id past int4 is no partner, on PostgreSQL too
    with web.app_context():
        assert db.session.execute(select(User).where(User.name == "Пётр Петров")).first() is None
    assert audit(web) == []


def test_a_partner_role_needs_its_partner_and_a_partner_needs_the_role(web):
    admin = signed_in(web, "admin")
    token = csrf_of(admin.get("/admin/users/new").data)
    with web.app_context():
        mega = db.session.execute(select(Partner.id).where(Partner.code == "mega")).scalar_one()
    no_partner = admin.post("/admin/users/new", data=new_user_form(token, roles=["partner"]))
    assert no_partner.status_code == 422 and "Для роли «Партнёр» выберите партнёра" in no_partner.data.decode()
    no_role = admin.post("/admin/users/new", data=new_user_form(token, partner_id=str(mega)))
    assert no_role.status_code == 422 and "только учётной записи с ролью «Партнёр»" in no_role.data.decode()
    assert f'value="{mega}" selected' in no_role.data.decode()

    both = admin.post("/admin/users/new", data=new_user_form(token, roles=["partner"], partner_id=str(mega),
                                                               password="salon-mega-2"))
    assert both.status_code == 201 and PASSWORD.search(both.data.decode()).group(1) == "salon-mega-2"
    portal = signed_in(web, "petrov", "salon-mega-2")
    assert portal.get("/partner").status_code == 200


def test_a_deactivated_user_can_neither_sign_in_nor_use_an_api_token_until_reactivated(web):
    admin, sales = signed_in(web, "admin"), user_id(web, "sales")
    api = web.test_client()
    token = api.post("/api/v1/auth/token", json={"login": "sales", "password": "demo"}).get_json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/orders", headers=bearer).status_code == 200
    session = signed_in(web, "sales")

    csrf = csrf_of(admin.get(f"/admin/users/{sales}").data)
    off = admin.post(f"/admin/users/{sales}/active", data={"csrf_token": csrf, "active": "0"}, follow_redirects=True)
    assert "Учётная запись sales отключена" in off.data.decode()
    assert sign_in(web.test_client(), "sales").status_code == 401
    assert api.get("/api/v1/orders", headers=bearer).status_code == 401
    signed_out = session.get("/orders")  # a session opened before is worth nothing either
    assert signed_out.status_code == 302 and "/login" in signed_out.location
    assert f'<tr id="user-{sales}">' not in admin.get("/admin/users").data.decode()  # active ones by default
    assert f'<tr id="user-{sales}">' in admin.get("/admin/users?state=inactive").data.decode()

    admin.post(f"/admin/users/{sales}/active", data={"csrf_token": csrf, "active": "1"})
    assert sign_in(web.test_client(), "sales").status_code == 302
    assert api.get("/api/v1/orders", headers=bearer).status_code == 200
    assert audit(web) == [("active", "True", "False", "admin"), ("active", "False", "True", "admin")]


def test_a_reset_password_replaces_the_old_one_its_sessions_and_tokens(web):
    admin, dispatch = signed_in(web, "admin"), user_id(web, "dispatch")
    api = web.test_client()
    token = api.post("/api/v1/auth/token", json={"login": "dispatch", "password": "demo"}).get_json()["token"]
    csrf = csrf_of(admin.get(f"/admin/users/{dispatch}").data)
    reset = admin.post(f"/admin/users/{dispatch}/password", data={"csrf_token": csrf})
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"
    assert "Пароль dispatch сброшен" in reset.data.decode()
    password = shown_password(reset)
    assert sign_in(web.test_client(), "dispatch", "demo").status_code == 401
    assert sign_in(web.test_client(), "dispatch", password).status_code == 302
    assert api.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert audit(web) == [("password", None, "reset", "admin")]  # that it happened, never the password


def test_an_edit_changes_roles_and_heads_and_logs_each_field_old_to_new(web):
    admin, measurer = signed_in(web, "admin"), user_id(web, "measurer")
    with web.app_context():
        form = edit_form(csrf_of(admin.get(f"/admin/users/{measurer}").data), account("measurer"),
                         name="Игорь Замеров-Старший", roles=["measurer", "quality"], heads=["measurer"])
    saved = admin.post(f"/admin/users/{measurer}", data=form, follow_redirects=True)
    assert "Пользователь measurer сохранён" in saved.data.decode()
    assert 'value="Игорь Замеров-Старший"' in saved.data.decode()
    with web.app_context():
        assert account("measurer").role_codes == {"measurer", "quality"}
    assert audit(web) == [("name", "Игорь Замеров", "Игорь Замеров-Старший", "admin"),
                          ("roles", "measurer", "measurer, quality", "admin"),
                          ("heads", None, "measurer", "admin")]
    assert audit(web, "department") == [("head", "head_measurer", "measurer", "admin")]
    history = re.search(r'<section class="card user-history">(.*?)</section>', saved.data.decode(), re.S).group(1)
    assert re.search(r"Роли</td>\s*<td[^>]*><span class=\"old\">measurer</span> → measurer, quality", history)
    # Filters: by role, and by a phone's digits or a name in any case
    assert f'<tr id="user-{measurer}">' in admin.get("/admin/users?role=quality").data.decode()
    assert f'<tr id="user-{measurer}">' not in admin.get("/admin/users?role=sales").data.decode()
    assert f'<tr id="user-{measurer}">' in admin.get("/admin/users?q=ЗАМЕРОВ-СТАРШИЙ").data.decode()


def test_nobody_takes_their_own_admin_role_or_deactivates_themselves(web):
    admin, me = signed_in(web, "admin"), user_id(web, "admin")
    with web.app_context():
        form = edit_form(csrf_of(admin.get(f"/admin/users/{me}").data), account("admin"), roles=["director"])
    demoted = admin.post(f"/admin/users/{me}", data=form)  # the page keeps the box ticked; a crafted form is refused
    assert demoted.status_code == 422 and "Свою роль администратора снять нельзя" in demoted.data.decode()
    off = admin.post(f"/admin/users/{me}/active", data={"csrf_token": form["csrf_token"], "active": "0"},
                     follow_redirects=True)
    assert "Себя отключить нельзя" in off.data.decode()
    with web.test_request_context():
        assert account("admin").role_codes == {"admin"} and account("admin").active
        me_user = account("admin")  # the use case refuses on its own, whichever page or script asks
        with pytest.raises(ValidationError) as refused:
            update_account(me, AccountForm(login="admin", name="Администратор", roles=["director"]), me_user)
        assert "roles" in refused.value.fields
        with pytest.raises(Forbidden):
            set_active(me, False, me_user)
        assert account("admin").role_codes == {"admin"} and account("admin").active
    assert audit(web) == []
    # Another admin may do it
    with web.app_context():
        other = edit_form("", account("director"), roles=["director", "admin"])
    admin.post(f"/admin/users/{user_id(web, 'director')}", data={**other, "csrf_token": form["csrf_token"]})
    director = signed_in(web, "director")
    token = csrf_of(director.get(f"/admin/users/{me}").data)
    assert director.post(f"/admin/users/{me}/active", data={"csrf_token": token, "active": "0"}).status_code == 302
    assert sign_in(web.test_client(), "admin").status_code == 401


def test_the_status_links_account_is_listed_but_never_changed(web):
    admin, customer = signed_in(web, "admin"), user_id(web, "customer")
    page = admin.get(f"/admin/users/{customer}")
    assert page.status_code == 200 and "Служебная учётная запись" in page.data.decode()
    token = csrf_of(page.data)
    refused = admin.post(f"/admin/users/{customer}/password", data={"csrf_token": token}, follow_redirects=True)
    assert "не меняется" in refused.data.decode() and not PASSWORD.search(refused.data.decode())
    assert audit(web) == []


def test_users_are_for_admins_only(web):
    for login in ("director", "sales", "analyst"):
        client = signed_in(web, login)
        assert client.get("/admin/users").status_code == 403
        assert "Пользователей и роли ведут администраторы" in client.get("/admin/users/new").data.decode()
        token = csrf_of(client.get("/password").data)
        assert client.post("/admin/users/new", data=new_user_form(token)).status_code == 403
    assert "Пользователи</a>" not in signed_in(web, "director").get("/orders").data.decode()
    assert "Пользователи</a>" in signed_in(web, "admin").get("/orders").data.decode()
    with web.app_context():
        assert db.session.execute(select(User).where(User.login == "petrov")).first() is None
