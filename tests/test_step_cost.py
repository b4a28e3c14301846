"""What one task completion costs the database: the workflow state (tens to hundreds of KB a row) is read once."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select

from app.demo import STAGE_INPUT
from app.extensions import db
from app.models import OutboxJob
from app.usecases.jobs import execute_job
from tests.support.api import HAPPY_CASH, Api


@contextmanager
def statements(app):
    """The SQL statements run inside the block, as the database received them."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, _params, _context, _many):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def state_reads(seen: list[str]) -> int:
    return sum(1 for s in seen if s.lstrip().upper().startswith("SELECT") and "process_instances.state" in s)


def run_jobs(app) -> None:
    """What the worker does between requests: the outbox's queued jobs, and the jobs they start."""
    with app.app_context():
        while ids := db.session.execute(select(OutboxJob.id).where(OutboxJob.status == "queued")
                                        .order_by(OutboxJob.id)).scalars().all():
            for job_id in ids:
                execute_job(job_id)
        db.session.remove()


def test_each_completion_reads_the_workflow_state_once(make_app):
    app = make_app(JOBS_INLINE=False)  # the jobs a step asks for run in the worker, not in the request
    api = Api(app, app.test_client())
    number = api.create_order()
    run_jobs(app)
    reads = {}
    for bpmn_id in HAPPY_CASH:
        task = api.open_task(number)
        assert task["bpmn_id"] == bpmn_id
        with app.app_context():
            data = STAGE_INPUT[bpmn_id](api.rng, {})
        token = api.token(api.doer(task))
        with statements(app) as seen:
            response = api.client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data},
                                       headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["task"]["state"] == "completed" and body["order"]["number"] == number
        reads[bpmn_id] = state_reads(seen)
        run_jobs(app)
    # Loading the step's workflow is the one read: neither the prediction (norms, typical path) nor the
    # answer built after the commit reads the state again.
    assert reads == {bpmn_id: 1 for bpmn_id in HAPPY_CASH}
    assert api.order(number)["status"] == "completed"
