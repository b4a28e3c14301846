"""What one task completion costs the database and Redis: the workflow state (tens to hundreds of KB a row) is read
once, the token's user once, the step's writes go out in few flushes, the answer after the commit is one query, and
the jobs it asked for (with the scheduler's wake-up) reach Redis in one round trip."""
from __future__ import annotations

import re
import socket
import threading
from contextlib import contextmanager
from urllib.parse import urlparse

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.demo import STAGE_INPUT
from app.extensions import db, plain
from app.models import HumanTask, OutboxJob
from app.queue import get_queue
from app.usecases.jobs import execute_job
from tests.support.api import HAPPY_CASH, Api
from tests.support.sql import COMMIT, statements


@contextmanager
def flushes():
    """How many times the session flushed inside the block."""
    seen: list[int] = []

    def record(_session, _context):
        seen.append(1)

    event.listen(Session, "after_flush", record)
    try:
        yield seen
    finally:
        event.remove(Session, "after_flush", record)


STATE_COLUMN = re.compile(r"\bprocess_instances(_\d+)?\.state\b")


def state_reads(seen: list[str]) -> int:
    """SELECTs that read the state column, the table's own name or an alias of it (a joined load)."""
    return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT") and STATE_COLUMN.search(s))


def run_jobs(app) -> None:
    """What the worker does between requests: the outbox's queued jobs, and the jobs they start."""
    with app.app_context():
        while ids := db.session.execute(select(OutboxJob.id).where(OutboxJob.status == "queued")
                                        .order_by(OutboxJob.id)).scalars().all():
            for job_id in ids:
                execute_job(job_id)
        db.session.remove()


def cash_path(app, api, number: str, **recording):
    """Walks the order down the cash path, the worker's jobs run between steps; yields each completed task, the
    answer, and the SQL statements and flushes its request ran."""
    for bpmn_id in HAPPY_CASH:
        task = api.open_task(number)
        assert task["bpmn_id"] == bpmn_id
        with app.app_context():
            data = STAGE_INPUT[bpmn_id](api.rng, {})
        token = api.token(api.doer(task))
        with statements(app, **recording) as seen, flushes() as flushed:
            response = api.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data},
                                       headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_json()
        yield task, response.get_json(), seen, flushed
        run_jobs(app)


def test_each_completion_reads_the_workflow_state_once(make_app):
    app = make_app(JOBS_INLINE=False)  # the jobs a step asks for run in the worker, not in the request
    api = Api(app, app.test_client())
    number = api.create_order()
    run_jobs(app)
    reads = {}
    for task, body, seen, _ in cash_path(app, api, number):
        assert body["task"]["state"] == "completed" and body["order"]["number"] == number
        reads[task["bpmn_id"]] = state_reads(seen)
    # Loading the step's workflow is the one read: neither the prediction (norms, typical path) nor the
    # answer built after the commit reads the state again.
    assert reads == {bpmn_id: 1 for bpmn_id in HAPPY_CASH}
    assert api.order(number)["status"] == "completed"


def _words(statement: str) -> str:
    return " ".join(statement.split())


def test_a_completion_reads_the_user_once_flushes_little_and_answers_in_one_query(make_app):
    app = make_app(JOBS_INLINE=False)
    api = Api(app, app.test_client())
    number = api.create_order()
    run_jobs(app)
    cost = {}
    for task, body, seen, flushed in cash_path(app, api, number, commits=True):
        bpmn_id = task["bpmn_id"]
        assert body["task"]["state"] == "completed" and body["task"]["id"] == task["id"]
        assert all(t["state"] == "open" for t in body["tasks"]) and task["id"] not in {t["id"] for t in body["tasks"]}
        # BEGIN is a statement on SQLite only: left out, the counts are the same on PostgreSQL.
        words = [_words(s) for s in seen if not s.startswith("BEGIN")]
        first_write = next(i for i, s in enumerate(words) if s.startswith(("INSERT", "UPDATE")))
        commit = words.index(COMMIT, first_write)  # the step's; the answer is read after it
        answer = words[commit + 1:]
        answer = answer[:answer.index(COMMIT)] if COMMIT in answer else answer
        words = [s for s in words if s != COMMIT]
        cost[bpmn_id] = {
            "users": sum(1 for s in words if s.startswith("SELECT users.id") and "WHERE users.id = " in s),
            "after commit": len(answer),
            "order writes": sum(1 for s in words if s.startswith("UPDATE orders")),
            "flushes": len(flushed), "statements": len(words)}
    assert api.order(number)["status"] == "completed"
    # The API's document check and the view share the token's user; the answer is one SELECT after the commit.
    assert {k: (c["users"], c["after commit"]) for k, c in cost.items()} == {k: (1, 1) for k in HAPPY_CASH}
    # The step writes the order once (its stage and its prediction together, at the commit); a visit booked by
    # the form writes it once more. Before: the prediction's read and the job's own flush split the step's writes.
    assert sum(c["order writes"] for c in cost.values()) <= len(HAPPY_CASH) + 2, cost
    # was 50 (4-8 a completion), then 26: the step's open task rows are read without an autoflush, so a step's
    # writes go out in the commit's flush (a visit booked, or a form's check reading, flushes once more) — 17
    assert sum(c["flushes"] for c in cost.values()) <= 18, cost
    # was 262; two a completion (its earlier completions read, the day's row upserted) keep the analytics' daily rows,
    # one a step that opens tasks (an INSERT … SELECT) the flow rows; 206 before the rating's rows (the order's tasks
    # read, the person's day upserted: two a step) and the month rows (one more upsert a completion, one more
    # INSERT … SELECT a step that opens tasks) — 239; 230 once the task acted on is read without its order's
    # customer and partner and its assignee (whose roles took a statement of their own)
    assert sum(c["statements"] for c in cost.values()) <= 230, cost


class RoundTrips:
    """A TCP proxy in front of Redis counting round trips: each time a client sends after an answer (or first)."""

    def __init__(self, url: str) -> None:
        target = urlparse(url)
        self.target = (target.hostname, target.port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}{target.path}"
        self.count = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            turn = {"answered": True}
            threading.Thread(target=self._pump, args=(client, server, turn, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, turn, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, turn: dict, asks: bool) -> None:
        try:
            while chunk := source.recv(65536):
                with self.lock:
                    if asks and turn["answered"]:
                        self.count += 1
                    turn["answered"] = not asks
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            sink.close()

    def close(self) -> None:
        self.listener.close()


def test_the_jobs_and_the_wake_up_a_completion_asks_for_reach_redis_in_one_round_trip(make_app, redis_server):
    proxy = RoundTrips(redis_server.url)
    try:
        app = make_app(JOBS_INLINE=False, REDIS_URL=proxy.url)
        api = Api(app, app.test_client())
        number = api.create_order()
        run_jobs(app)
        trips, pushed = {}, {}
        for bpmn_id in HAPPY_CASH:
            task = api.open_task(number)
            with app.app_context():
                data = STAGE_INPUT[bpmn_id](api.rng, {})
                before = db.session.execute(select(OutboxJob.id)).scalars().all()
                db.session.remove()
            token = api.token(api.doer(task))
            proxy.count = 0
            response = api.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data},
                                       headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.get_json()
            trips[bpmn_id] = proxy.count
            with app.app_context():
                jobs = db.session.execute(select(OutboxJob.id).where(OutboxJob.id.not_in(before))).scalars().all()
                queued = get_queue().connection.lrange(f"rq:queue:{app.config['RQ_QUEUE']}", 0, -1)
                db.session.remove()
            pushed[bpmn_id] = len(jobs)
            assert {f"outbox-{job_id}-0".encode() for job_id in jobs} <= set(queued)  # each job is in rq's queue
            run_jobs(app)
        assert api.order(number)["status"] == "completed"
        assert sum(1 for count in pushed.values() if count) >= 5  # most steps ask for jobs (notifications, 1C...)
        # One round trip a completion that pushed something; before, two per job and one more for the wake-up.
        assert trips == {bpmn_id: 1 if pushed[bpmn_id] else trips[bpmn_id] for bpmn_id in HAPPY_CASH}
        assert all(count <= 1 for count in trips.values()), trips
    finally:
        proxy.close()


def test_two_steps_of_one_instance_in_one_unit_of_work_close_the_task_the_first_opened(api, app):
    """The open task rows are read without flushing: a second step in the same unit of work finds the row the first
    one added (written by the step's own statement) and closes it, and does not take the row the first one closed
    for open."""
    import random

    from app.engine import engine
    from app.models import HumanTask, Order
    from app.usecases import process
    from app.usecases.uow import unit_of_work

    number = api.create_order()
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        order_id, instance, actor, eng = order.id, order.instance, order.created_by, engine()
        first = db.session.execute(select(HumanTask).where(HumanTask.order_id == order_id)).scalar_one()
        rng = random.Random(3)
        inputs = {bpmn_id: STAGE_INPUT[bpmn_id](rng, {}) for bpmn_id in ("new_order", "plan_measurement")}

        def completing(guid: str, bpmn_id: str):  # nothing in between reads the database (which would flush)
            return lambda workflow: eng.complete_user_task(eng.user_task(workflow, guid), inputs[bpmn_id])

        with unit_of_work():
            view = process.step(instance, completing(first.task_guid, "new_order"), actor, acted=first.task_guid)
            opened = view.ready[0]
            assert opened.bpmn_id == "plan_measurement"
            process.step(instance, completing(opened.guid, "plan_measurement"), actor, acted=opened.guid)
        db.session.remove()
        rows = db.session.execute(select(HumanTask.bpmn_id, HumanTask.state).where(HumanTask.order_id == order_id)
                                  .order_by(HumanTask.id)).all()
    assert [tuple(row) for row in rows] == [("new_order", "completed"), ("plan_measurement", "completed"),
                                            ("measurement", "open")]


def test_a_plain_statement_sees_what_the_unit_of_work_added_unless_the_autoflush_is_held_off(api, app):
    """`plain` skips the ORM's handling of a statement, not its autoflush: a named candidate added in this unit of
    work counts (the task's check must see it), and inside `no_autoflush` (a step's projection) nothing is written
    before the commit's one flush."""
    from app.models import TaskCandidate, User
    from app.policy import candidates

    api.create_order()
    with app.test_request_context():
        task = db.session.execute(select(HumanTask).where(HumanTask.state == "open").limit(1)).scalar_one()
        user = db.session.execute(select(User).where(User.login == "director")).scalar_one()
        assert candidates(task) == set()
        with db.session.no_autoflush:
            db.session.add(TaskCandidate(human_task_id=task.id, user_id=user.id))
            assert plain(select(TaskCandidate.user_id).where(TaskCandidate.human_task_id == task.id)).all() == []
        assert candidates(task) == {user.id}  # the autoflush wrote it first
        db.session.rollback()


def test_a_task_row_changed_before_its_step_keeps_the_change_and_its_completion_counts_once(api, app):
    """A step closes its task rows by statements of its own and counts them into the rating's rows itself; a change
    the unit of work made to the row before (an SLA level, not yet flushed) is still written by the flush, and the
    flush's listener does not count the completion a second time: the rows equal their rebuild."""
    import random

    from app.engine import engine
    from app.models import HumanTask, Order
    from app.models.analytics import rating_days
    from app.services import rating_stats
    from app.usecases import process
    from app.usecases.uow import unit_of_work

    number = api.create_order()
    with app.app_context():
        order = db.session.execute(select(Order).where(Order.number == number)).scalar_one()
        instance, actor, eng = order.instance, order.created_by, engine()
        first = db.session.execute(select(HumanTask).where(HumanTask.order_id == order.id)).scalar_one()
        first_id, actor_id = first.id, actor.id
        data = STAGE_INPUT["new_order"](random.Random(5), {})
        with unit_of_work():
            first.sla_level = "warning"
            process.step(instance, lambda wf: eng.complete_user_task(eng.user_task(wf, first.task_guid), data),
                         actor, acted=first.task_guid, recorded={"data": data})
        db.session.remove()
        row = db.session.get_one(HumanTask, first_id)
        assert (row.state, row.completed_by_id, row.sla_level, row.data) == ("completed", actor_id, "warning", data)
        stored = db.session.execute(select(rating_days)).all()
        assert sum(r.tasks for r in stored) == 1
        with unit_of_work():
            db.session.execute(rating_days.delete())
            rating_stats.backfill(db.session.connection())
        assert db.session.execute(select(rating_days)).all() == stored
