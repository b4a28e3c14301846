"""The authorization policy: `can` on the interesting cases, and every route × every demo role against its table."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import policy
from app.api.auth import issue_token
from app.demo import DEMO_USERS
from app.extensions import db
from app.models import HumanTask, Order, ProcessInstance, User
from app.web import WRITE_METHODS
from tests.support.api import Api, seed, truncate_all

# One account per distinct set of roles; None is a visitor with no session and no token.
IDENTITIES = [login for login, *_ in DEMO_USERS if login not in ("measurer2", "installer2")] + [
    "head_sales", "partner_mega", "partner_agent", None]
VALUES = {"number": None, "task_id": None, "token": "not-a-token", "attachment_id": 1, "document_id": 1,
          "filter_id": 1, "job_id": 1, "held_id": 1, "partner_id": 1, "user_id": 1, "event": "order_received",
          "locale": "ru", "what": "revoke", "name": "cancel", "package": "bpmn-js", "process_id": "order_lifecycle",
          "version": 1, "migration_id": 1, "instance_id": 1, "department": "production", "visit_id": 1,
          "report_id": 1, "import_id": 1}
STATIC = {"static"}  # Flask's own file handler: no view of ours to declare an action on


def user(login: str) -> User:
    return db.session.execute(select(User).where(User.login == login)).scalar_one()


def open_task(number: str) -> HumanTask:
    return db.session.execute(select(HumanTask).join(HumanTask.order)
                              .where(Order.number == number, HumanTask.state == "open")).scalar_one()


# -- can: the interesting cases ----------------------------------------------------------------------------

def test_the_head_of_a_lane_may_assign_and_release_its_tasks_a_plain_member_may_not(api):
    number = api.create_order()
    assert api.post(f"/tasks/{api.open_task(number)['id']}/claim", as_="sales").status_code == 200
    with api.app.test_request_context():
        task = open_task(number)
        head, member, measurer = user("head_sales"), user("sales"), user("head_measurer")
        assert policy.can(head, "tasks.assign", task) and policy.can(user("admin"), "tasks.assign", task)
        assert not policy.can(member, "tasks.assign", task) and not policy.can(measurer, "tasks.assign", task)
        assert policy.can(head, "tasks.unclaim", task) and policy.can(member, "tasks.unclaim", task)
        assert not policy.can(user("head_dispatch"), "tasks.unclaim", task)
        # Claimed by sales: the head of the lane may not complete it under the assignee's feet.
        assert policy.can(member, "tasks.complete", task) and not policy.can(head, "tasks.complete", task)
        assert "sales" in policy.refusal(head, "tasks.complete", task.order, task)
        assert policy.headed_lanes(head) == {"sales"} and policy.headed_lanes(member) == set()


def test_a_partner_sees_and_acts_on_its_own_orders_only(api):
    own = api.create_order(as_="partner_mega")
    staff = api.create_order()
    with api.app.test_request_context():
        mega, agent = user("partner_mega"), user("partner_agent")
        own_order = db.session.execute(select(Order).where(Order.number == own)).scalar_one()
        assert policy.can(mega, "orders.view", own_order) and not policy.can(agent, "orders.view", own_order)
        assert policy.can(mega, "partner.portal", own_order) and not policy.can(agent, "partner.portal", own_order)
        assert not policy.can(mega, "orders.cancel", own_order)  # placing is theirs, cancelling is the desk's
        assert policy.can(user("measurer"), "orders.view", own_order)
        assert db.session.execute(policy.visible_orders(mega).with_only_columns(Order.number)).scalars().all() \
            == [own]
        assert db.session.execute(policy.visible_orders(agent)).first() is None
        assert {staff, own} <= set(db.session.execute(
            policy.visible_orders(user("installer")).with_only_columns(Order.number)).scalars())
        assert policy.is_partner(mega) and not policy.is_partner(user("sales"))


def test_the_customer_link_completes_only_the_customers_tasks(api):
    number = api.create_order()
    with api.app.test_request_context():
        customer, task = user("customer"), open_task(number)
        assert task.lane == "sales"
        assert not policy.can(customer, "tasks.complete", task)
        task.lane = "customer"  # the same task, as if the diagram gave it to the customer
        assert policy.can(customer, "tasks.complete", task)
        assert not policy.can(customer, "orders.view", task.order) and not policy.can(customer, "tasks.view", task)
        db.session.rollback()


def test_an_inactive_account_may_do_nothing_but_what_is_public(api):
    number = api.create_order()
    with api.app.test_request_context():
        sales, task = user("sales"), open_task(number)
        assert policy.can(sales, "orders.cancel", task.order) and policy.can(sales, "tasks.complete", task)
        sales.active = False
        assert not policy.can(sales, "orders.cancel", task.order) and not policy.can(sales, "tasks.complete", task)
        assert not policy.can(sales, "account.own") and policy.can(sales, "public")
        db.session.rollback()


def test_messages_from_outside_each_have_their_senders(api):
    with api.app.test_request_context():
        assert policy.can(user("accountant"), "messages.send", "payment_received")
        assert not policy.can(user("accountant"), "messages.send", "cancel")
        assert policy.can(user("dispatch"), "messages.send", "cancel")
        assert not policy.can(user("sales"), "messages.send", "anything_else")
        assert policy.can(user("admin"), "messages.send", "anything_else")
    number = api.create_order()
    refused = api.post("/messages/payment_received", {"order_number": number, "payload": {}}, as_="sales")
    assert refused.status_code == 403 and "payment_received" in refused.get_json()["message"]


def test_an_unknown_action_is_a_programming_error_not_a_refusal(api):
    with api.app.test_request_context(), pytest.raises(ValueError):
        policy.can(user("admin"), "orders.destroy")


# -- every route × every demo role, against the table ---------------------------------------------------------

@pytest.fixture(scope="module")
def walk_app(_schema, redis_server, tmp_path_factory):
    """One app and one seed for the whole walk (CSRF off: the walk asks the policy, not the form tokens)."""
    from app import create_app

    tmp = tmp_path_factory.mktemp("walk")
    app = create_app({"SQLALCHEMY_DATABASE_URI": _schema, "TESTING": True, "JOBS_INLINE": True,
                      "REDIS_URL": redis_server.url, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
                      "UPLOADS_DIR": str(tmp / "uploads"), "INSTANCE_PATH": str(tmp),
                      "STATUS_RATE_LIMIT": "100000 per minute", "STATUS_MISS_LIMIT": "100000 per hour"})
    with app.app_context():
        truncate_all(db)
    seed(app)
    api = Api(app, app.test_client())
    number = api.create_order(as_="partner_mega")
    values = {**VALUES, "number": number, "task_id": api.open_task(number)["id"]}
    yield app, values
    with app.app_context():
        truncate_all(db)
        db.session.remove()
        db.engine.dispose()


def routes(app):
    """(rule, method, action) for every route; the sign-out last, so each identity keeps its session."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in STATIC:
            continue
        view = app.view_functions[rule.endpoint]
        assert hasattr(view, "policy_actions"), f"{rule.rule} ({rule.endpoint}) declares no action"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule, method, view.policy_actions[method in WRITE_METHODS]))
    return sorted(found, key=lambda item: item[0].endpoint == "auth.logout")


def concrete(rule, values: dict) -> str:
    return re.sub(r"<(?:[^:>]+:)?(\w+)>", lambda m: str(values[m.group(1)]), rule.rule)


def session_of(app, login: str | None):
    """A browser signed in as `login` (the session set directly: argon2 costs a second per sign-in)."""
    client = app.test_client()
    if login is None:
        return client, {}
    with app.test_request_context(environ_base=client.environ_base):  # Flask-Login binds a session to the browser
        account = user(login)
        session = {"_user_id": account.get_id(), "_fresh": True,
                   "_id": app.login_manager._session_identifier_generator()}
        token = issue_token(account)
    with client.session_transaction() as stored:
        stored.update(session)
    return client, {"Authorization": f"Bearer {token}"}


def refused(response, api: bool, anonymous: bool, reason: str) -> bool:
    """Turned away at the door: no token (401) / to the sign-in page, or 403 with the table's reason."""
    if anonymous:
        if api:
            return response.status_code == 401 and "Bearer" in response.get_json()["message"]
        return response.status_code == 302 and "/login" in response.location
    if api:
        return response.status_code == 403 and response.get_json()["message"] == reason
    return response.status_code == 403 and reason in response.get_data(as_text=True)


def expectation(app, login: str | None, rule, action: str, values: dict) -> tuple[bool, bool, str]:
    """From the table alone: (the role may use the route, it may on this order / task / message, the reason)."""
    with app.test_request_context():
        account = user(login) if login else None
        target = None
        if "task_id" in rule.arguments:
            target = db.session.get(HumanTask, values["task_id"])
        elif "number" in rule.arguments:
            target = db.session.execute(select(Order).where(Order.number == values["number"])).scalar_one()
        elif "instance_id" in rule.arguments:
            target = db.session.get(ProcessInstance, values["instance_id"])
        elif rule.endpoint in ("api.send_message", "api.send_signal"):  # the message or signal named
            target = values["name"]
        elif action == "processes.start":  # the process's settings say which roles may start it
            target = values["process_id"]
        elif "department" in rule.arguments:  # a department's board: its head, the director and admins
            target = values["department"]
        return (policy.can(account, action), policy.can(account, action, target),
                policy.refusal(None, action) or "")


# Once, in the SQLite pass: the walk checks the routes against the table, which no database changes; what
# the list queries return on each database is checked by the unit tests above and the pages' own tests.
@pytest.mark.sqlite_only
@pytest.mark.parametrize("login", IDENTITIES, ids=lambda login: login or "anonymous")
def test_every_route_answers_each_role_as_the_policy_table_says(walk_app, login):
    app, values = walk_app
    client, headers = session_of(app, login)
    checked = []
    for rule, method, action in routes(app):
        allowed, allowed_here, reason = expectation(app, login, rule, action, values)
        api = rule.rule.startswith("/api/")
        if api:
            response = client.open(concrete(rule, values), method=method, headers=headers,
                                   json={} if method in WRITE_METHODS else None)
        else:
            response = client.open(concrete(rule, values), method=method,
                                   data={"active": "1"} if method in WRITE_METHODS else None)
        where = (login, method, rule.rule, action, response.status_code)
        was_refused = refused(response, api, login is None, reason)
        assert was_refused is not allowed, where
        if allowed and allowed_here:  # nothing else may turn the user away either (sign-in: 401 is a wrong password)
            turned_away = (403,) if action == "public" else (401, 403)
            assert response.status_code not in turned_away and "/login?" not in (response.location or ""), where
        elif allowed:  # the order, task or message refuses: never done
            assert response.status_code not in (200, 201, 202), where
        checked.append(allowed)
    assert len(checked) >= 80 and any(checked)
    if login in ("admin", None):  # both sides of the table are walked
        assert checked.count(False) >= (5 if login == "admin" else 60)
