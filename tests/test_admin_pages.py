"""Every GET page under /admin and /studio, opened as every role: the roles its action allows get the page (200, real
content, never an error page), every other role gets 403 with the policy's reason.

The pages are found in `app.url_map`, so a page added later is walked too; its URL parameters come from a database
filled with demo data (orders at every stage, an edited notification template). A parameter this file cannot fill
fails the walk by name: add its value to `parameters` below.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import policy
from app.demo import load_demo
from app.extensions import db
from app.models import (
    ROLES,
    NotificationTemplate,
    Order,
    OutboxJob,
    Partner,
    ProcessDefinition,
    ProcessMigration,
    User,
)
from app.usecases.migration import start_migration
from app.usecases.uow import unit_of_work
from tests.support.api import deploy_processes, truncate_all
from tests.support.versions import deploy_v2

AREAS = ("/admin", "/studio")
# Who signs in for a role: a demo account holding that role alone.
ACCOUNT = {**{code: code for code in ROLES}, "partner": "partner_mega"}
ERROR_TITLES = ("Нет доступа", "Не найдено", "Конфликт", "Ошибка")
H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)


@pytest.fixture(scope="module")
def demo_app(_schema, redis_server, tmp_path_factory):
    """One app on demo data (orders spread over every stage) for the whole walk."""
    from app import create_app

    folder = tmp_path_factory.mktemp("pages")
    app = create_app({"SQLALCHEMY_DATABASE_URI": _schema, "TESTING": True, "JOBS_INLINE": True,
                      "REDIS_URL": redis_server.url, "SECRET_KEY": "test-secret", "INSTANCE_PATH": str(folder),
                      "UPLOADS_DIR": str(folder / "uploads")})
    with app.app_context():
        truncate_all(db)
    deploy_processes(app)
    with app.test_request_context():
        load_demo(count=len(("new_order", "plan_measurement", "measurement", "prepare_contract", "design",
                             "bank_decision", "payment", "procurement", "production", "plan_delivery",
                             "installation", "feedback", "claim_review", "done", "cancel")))
        with unit_of_work():  # an admin's own wording, listed with its date on «Шаблоны»
            admin = db.session.execute(select(User).where(User.login == "admin")).scalar_one()
            db.session.add(NotificationTemplate(event="sla_warning", locale="ru", subject="Срок {{ order.number }}",
                                                text="Срок этапа по заказу {{ order.number }} подходит",
                                                updated_by_id=admin.id))
    deploy_v2(app, rename_measurement=False)  # a second version: a diff with changes, a migration that ran
    with app.test_request_context():
        with unit_of_work():
            admin = db.session.execute(select(User).where(User.login == "admin")).scalar_one()
            start_migration("order_lifecycle", 1, 2, {"stage": "Планирование выезда на замер"}, admin)
    yield app
    with app.app_context():
        truncate_all(db)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def parameters(demo_app) -> dict[str, object]:
    """A real value for every URL parameter the admin and studio pages take."""
    with demo_app.app_context():
        first = lambda query: db.session.execute(query.limit(1)).scalar_one()  # noqa: E731
        definition = first(select(ProcessDefinition).where(ProcessDefinition.process_id == "order_lifecycle",
                                                           ProcessDefinition.version == 1))
        form = sorted(definition.forms)[0]
        dmn = sorted(definition.dmn_files or {"sla.dmn": ""})[0]
        job = db.session.execute(select(OutboxJob.id).order_by(OutboxJob.id).limit(1)).scalar()
        return {
            "number": first(select(Order.number).where(Order.status == "active").order_by(Order.id)),
            "process_id": "order_lifecycle", "version": 1, "from_version": 1, "to_version": 2, "other": 2,
            "migration_id": first(select(ProcessMigration.id)),
            "user_id": first(select(User.id).where(User.login == "sales")),
            "partner_id": first(select(Partner.id).where(Partner.code == "mega")),
            "event": "sla_warning", "locale": "ru",
            # `name` is a form file in /forms/<name>, a decision table in /dmn/<name>
            "name": {"forms": form, "dmn": dmn}, "job_id": job or 1, "held_id": 1,
        }


def pages(app) -> list:
    """(rule, action) of every GET page under /admin and /studio."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(AREAS) and "GET" in rule.methods:
            view = app.view_functions[rule.endpoint]
            assert hasattr(view, "policy_actions"), f"{rule.rule} ({rule.endpoint}) declares no action"
            found.append((rule, view.policy_actions[0]))
    return sorted(found, key=lambda item: item[0].rule)


def url(rule, values: dict) -> str:
    def value(match) -> str:
        found = values[match.group(1)]
        if isinstance(found, dict):  # the same parameter in several pages: chosen by the folder it sits in
            found = found[rule.rule[:match.start()].rstrip("/").rsplit("/", 1)[-1]]
        return str(found)

    return re.sub(r"<(?:[^:>]+:)?(\w+)>", value, rule.rule)


def allowed_roles(action: str) -> set[str]:
    who = policy.RULES[action].who
    return set(ROLES) if who in (policy.PUBLIC, policy.SIGNED_IN) else set(who)


def session_for(app, login: str):
    """A browser signed in as `login` (the session set directly: argon2 costs a second per sign-in)."""
    client = app.test_client()
    with app.test_request_context(environ_base=client.environ_base):
        account = db.session.execute(select(User).where(User.login == login)).scalar_one()
        session = {"_user_id": account.get_id(), "_fresh": True,
                   "_id": app.login_manager._session_identifier_generator()}
    with client.session_transaction() as stored:
        stored.update(session)
    return client


def problem(response, allowed: bool, reason: str) -> str | None:
    """What is wrong with the answer, or None."""
    body = response.get_data(as_text=True)
    if not allowed:
        return None if response.status_code == 403 and reason in body else f"{response.status_code}, not 403"
    if response.status_code != 200:
        return f"{response.status_code} {response.location or ''}".strip()
    if response.mimetype != "text/html":
        return None if body.strip() else "an empty answer"
    heading = H1.search(body)
    title = re.sub(r"<[^>]+>|\s+", " ", heading.group(1)).strip() if heading else ""
    if not title or title.startswith(ERROR_TITLES):
        return f"no page of its own (h1: {title!r})"
    return None


def test_every_page_has_values_for_its_parameters(demo_app, parameters):
    missing = sorted(f"{rule.rule}: <{name}>" for rule, _action in pages(demo_app)
                     for name in rule.arguments if name not in parameters)
    assert missing == [], "add a value for these URL parameters to `parameters` in tests/test_admin_pages.py"
    assert {"/admin/notifications", "/admin/users", "/admin/users/<int:user_id>", "/studio/"} <= {
        rule.rule for rule, _action in pages(demo_app)}


@pytest.mark.parametrize("role", sorted(ROLES))
def test_every_admin_and_studio_page_renders_for_the_roles_it_allows_and_refuses_the_others(demo_app, parameters,
                                                                                            role):
    client = session_for(demo_app, ACCOUNT[role])
    wrong, opened = [], 0
    for rule, action in pages(demo_app):
        if any(name not in parameters for name in rule.arguments):
            wrong.append((rule.rule, "a URL parameter without a value (see the test above)"))
            continue
        allowed = role in allowed_roles(action)
        with demo_app.test_request_context():
            reason = policy.refusal(None, action) or ""
        target = url(rule, parameters)
        try:
            response = client.get(target)
        except Exception as exc:  # TESTING propagates what would be a 500
            wrong.append((target, f"500: {type(exc).__name__}: {exc}"))
            continue
        found = problem(response, allowed, reason)
        if found:
            wrong.append((target, found))
        opened += allowed
    assert wrong == [], f"as {role} ({ACCOUNT[role]})"
    if role == "admin":
        assert opened >= 10  # every admin page, and the studio


def test_the_templates_page_shows_the_admins_wording_beside_the_built_in_ones(demo_app, parameters):
    """«Шаблоны» on demo data: every event in both languages, the edited one with its date, labels with a «%»."""
    admin = session_for(demo_app, "admin")
    page = admin.get("/admin/notifications").get_data(as_text=True)
    assert "Срок этапа подходит (75 %)" in page and "изменён ·" in page
    assert page.count("/admin/notifications/") >= 2 * 18
    edit = admin.get("/admin/notifications/sla_warning/ru").get_data(as_text=True)
    assert "Срок этапа по заказу {{ order.number }} подходит" in edit
