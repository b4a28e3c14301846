"""Benchmark, like for like with spiff-arena: its bench model (a start, N user tasks each asking one required text
field, an end) deployed in Bespoke and driven through `POST /api/v1/tasks/{id}/complete` over real HTTP.

    .venv/bin/python bench/seq_step.py [--tasks 10] [--instances 8] [--cpu]

The model is written here (`diagram`) as the anchor's `make_models.py` describes it: a sequence of userTasks whose
form is `form-schema.json` (`{"answer": string, required}`), no lanes, no scripts, no timers. It is deployed through
`POST /api/v1/processes`, each instance started through `POST /api/v1/processes/{id}/instances`, and each task
completed with `{"answer": "…"}` by the instance's starter (a lane-less task is the starter's), the next task's id
taken from the completion's own answer, as spiff-arena's bench takes it from its own. Only the completion request is
timed. gunicorn (one sync worker), SQLite (WAL), real Redis, one keep-alive client: as `bench/http_step.py`.

The floor is the same completions on an in-memory workflow of the same diagram (SpiffWorkflow only: complete the
task, run the engine). `--cpu` also times each completion's CPU in this process (the Flask test client).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.engine import engine  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import ProcessDefinition  # noqa: E402
from bench.http_step import HttpClient, bench_app, free_port, start_server, step_figures  # noqa: E402
from bench.report import write_section  # noqa: E402
from tests.support.api import Api  # noqa: E402

NS = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')
FORM = {"title": "Step", "type": "object", "required": ["answer"],
        "properties": {"answer": {"type": "string", "title": "Answer"}}}
STARTER = "admin"


def diagram(tasks: int, process_id: str) -> str:
    """start → task1 … taskN (each with the one-field form) → end."""
    flows, nodes = [], ['<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>']
    for i in range(1, tasks + 1):
        flows.append(f'<bpmn:sequenceFlow id="f{i - 1}" sourceRef="{"start" if i == 1 else f"task{i - 1}"}" '
                     f'targetRef="task{i}" />')
        nodes.append(f'<bpmn:userTask id="task{i}" name="Task {i}"><bpmn:extensionElements><spiffworkflow:properties>'
                     '<spiffworkflow:property name="formJsonSchemaFilename" value="form-schema.json" />'
                     '<spiffworkflow:property name="formUiSchemaFilename" value="form-uischema.json" />'
                     '</spiffworkflow:properties></bpmn:extensionElements>'
                     f'<bpmn:incoming>f{i - 1}</bpmn:incoming><bpmn:outgoing>f{i}</bpmn:outgoing></bpmn:userTask>')
    flows.append(f'<bpmn:sequenceFlow id="f{tasks}" sourceRef="task{tasks}" targetRef="end" />')
    nodes.append(f'<bpmn:endEvent id="end"><bpmn:incoming>f{tasks}</bpmn:incoming></bpmn:endEvent>')
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions {NS} id="Defs_{process_id}" '
            f'targetNamespace="http://bpmn.io/schema/bpmn"><bpmn:process id="{process_id}" isExecutable="true">'
            + "".join(nodes + flows) + "</bpmn:process></bpmn:definitions>\n")


def deploy(api: Api, tasks: int) -> str:
    process_id = f"Process_seq{tasks}"
    response = api.post("/processes", {
        "bpmn": diagram(tasks, process_id), "bpmn_name": f"seq{tasks}.bpmn", "replace": True,
        "forms": {"form-schema.json": FORM, "form-uischema.json": {"ui:order": ["answer"]}}}, as_=STARTER)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["process_id"]


def drive(api: Api, process_id: str, tasks: int, instances: int, clock=time.perf_counter) -> list[float]:
    """Start each instance and complete its tasks in order; the time of each completion request."""
    headers = {"Authorization": f"Bearer {api.token(STARTER)}"}
    timings = []
    for n in range(instances):
        started = api.post(f"/processes/{process_id}/instances", {"data": {}}, as_=STARTER)
        assert started.status_code == 201, started.get_json()
        open_tasks = started.get_json()["tasks"]
        for i in range(1, tasks + 1):
            (task,) = open_tasks
            assert task["bpmn_id"] == f"task{i}", task
            begun = clock()
            response = api.client.post(f"/api/v1/tasks/{task['id']}/complete",
                                       json={"data": {"answer": f"instance {n}, step {i}"}}, headers=headers)
            timings.append(clock() - begun)
            assert response.status_code == 200, response.get_json()
            open_tasks = response.get_json()["tasks"]
            response.close()  # as a server does once the answer is out (the workflow is loaded ahead then)
        assert open_tasks == []
    return timings


def floor(app, process_id: str, tasks: int, instances: int) -> list[float]:
    """The same completions on an in-memory workflow of the same diagram: complete + engine steps."""
    with app.app_context():
        definition = db.session.execute(db.select(ProcessDefinition).where(
            ProcessDefinition.process_id == process_id).order_by(ProcessDefinition.version.desc())).scalars().first()
        eng = engine()
        specs = eng.specs(definition.id, definition.checksum, lambda: definition.spec_json)
        timings = []
        for n in range(instances):
            workflow = eng.new_workflow(specs, {})
            eng.run(workflow)
            for i in range(1, tasks + 1):
                task = next(t for t in workflow.get_tasks(manual=True) if eng.state_of(t) == "READY")
                begun = time.perf_counter()
                eng.complete_user_task(task, {"answer": f"instance {n}, step {i}"})
                workflow.do_engine_steps()
                timings.append(time.perf_counter() - begun)
        return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--instances", type=int, default=8)
    parser.add_argument("--cpu", action="store_true", help="also time the CPU of each completion in this process")
    parser.add_argument("--out", default=str(ROOT / "docs" / "PERFORMANCE.md"))
    args = parser.parse_args()

    redis, config, app = bench_app("bespoke-seq-bench-")
    process_id = deploy(Api(app, app.test_client()), args.tasks)
    port = free_port()
    server = start_server({**os.environ, **config}, port)
    try:
        api = Api(app, HttpClient(f"http://127.0.0.1:{port}"))
        drive(api, process_id, args.tasks, 1)  # warm-up: imports, the version's specs
        latencies = drive(api, process_id, args.tasks, args.instances)
        floor_times = floor(app, process_id, args.tasks, args.instances)
        cpu_times = []
        if args.cpu:
            local = Api(app, app.test_client())
            drive(local, process_id, args.tasks, 1)
            cpu_times = drive(local, process_id, args.tasks, args.instances, clock=time.process_time)
    finally:
        server.terminate()
        server.wait(10)
        redis.stop()

    result = {"model": f"seq{args.tasks}", "instances": args.instances,
              **step_figures(latencies, floor_times, cpu_times)}
    print(json.dumps(result, indent=2))
    write_report(Path(args.out), result, args)


def write_report(path: Path, r: dict, args) -> None:
    command = f"bench/seq_step.py --tasks {args.tasks} --instances {args.instances}{' --cpu' if args.cpu else ''}"
    section = f"""## Task completion of spiff-arena's bench model over real HTTP (bench/seq_step.py)

Command: `.venv/bin/python {command}`
Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on this 2-core machine: the anchor's model (start, {args.tasks}
user tasks with a one-field form, end) deployed in Bespoke; gunicorn, one sync worker, SQLite (WAL), real Redis, one
sequential keep-alive client.

| measure | value |
|---|---|
| `POST /api/v1/tasks/{{id}}/complete` p50 / p95 | {r['p50_ms']} / {r['p95_ms']} ms ({r['completions']} completions) |
| in-memory SpiffWorkflow floor of the same model (complete + engine steps) p50 | {r['floor_p50_ms']} ms |
| API p50 / floor p50 | {r['ratio_p50']}× |
""" + (f"| CPU time of a completion p50 (`--cpu`: the same completions in-process) | {r['cpu_p50_ms']} ms |\n"
       if "cpu_p50_ms" in r else "") + "\n"
    write_section(path, "## Task completion of spiff-arena's bench model", section)


if __name__ == "__main__":
    main()
