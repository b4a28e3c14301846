"""Compatibility sweep: diagrams written elsewhere, deployed and run unchanged through Bespoke's API.

    .venv/bin/python bench/compat.py DIR [DIR ...] [--out docs/COMPATIBILITY.md]

e.g. SpiffWorkflow's own test diagrams (`git clone https://github.com/sartography/SpiffWorkflow`, then
`bench/compat.py SpiffWorkflow/tests/SpiffWorkflow/bpmn/data SpiffWorkflow/tests/SpiffWorkflow/spiff/data`).
Nothing of them is kept in this repository: the sweep reads them where they are.

Each `.bpmn` file is deployed through `POST /api/v1/processes` (with the `.dmn` and `.json` files of its folder,
and the files defining the processes it calls), started through `POST /api/v1/processes/{id}/instances` with no
data, and driven as far as people can drive it: every open task is completed through the API with what its form
asks for (a default, the first choice, or a value of the field's type), due timers are fired by moving the app's
clock. The outcome of each file is one of: refused at deploy (the first error), start failed, completed, waits
for a message, stuck (a task or step that failed: the error), server error (a 500 — a bug of ours). Writes a
summary and the per-file table.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import clock, create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import LANE_ROLES  # noqa: E402
from app.services.reference import create_user, ensure_reference_data  # noqa: E402
from app.usecases.timers import wake_timers  # noqa: E402
from app.usecases.uow import unit_of_work  # noqa: E402
from tests.support.api import Api  # noqa: E402

MAX_STEPS = 60
CALLED = re.compile(r'calledElement="([^"]+)"')
PROCESS = re.compile(r'<(?:\w+:)?process [^>]*?id="([^"]+)"')


def value_for(name: str, schema: dict):
    """What a person would type into a field: its default, its first choice, or a value of its type."""
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("oneOf") and isinstance(schema["oneOf"][0], dict) and "const" in schema["oneOf"][0]:
        return schema["oneOf"][0]["const"]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "integer" or kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return fill(schema)
    return "test" if schema.get("format") not in ("date", "date-time") else "2026-12-01"


def fill(schema: dict) -> dict:
    properties = schema.get("properties") or {}
    return {name: value_for(name, field) for name, field in properties.items() if isinstance(field, dict)}


def bundle(path: Path, folder: list[Path]) -> dict:
    """The deploy body: the diagram, its folder's DMN and forms, and the files defining what it calls."""
    text = path.read_text(encoding="utf-8", errors="replace")
    called = set(CALLED.findall(text))
    others = {p.name: p.read_text(encoding="utf-8", errors="replace") for p in folder
              if p != path and called & set(PROCESS.findall(p.read_text(encoding="utf-8", errors="replace")))}
    forms = {}
    for form in path.parent.glob("*.json"):
        try:
            forms[form.name] = json.loads(form.read_text(encoding="utf-8"))
        except ValueError:
            continue
    body = {"bpmn": text, "bpmn_name": path.name, "replace": True, "forms": forms,
            "dmn": {p.name: p.read_text(encoding="utf-8") for p in path.parent.glob("*.dmn")}}
    if others:
        body["bpmn_files"] = others
    return body


def first_error(body: dict) -> str:
    problems = [p for p in body.get("problems") or [] if p.get("severity") == "error"]
    if problems:
        where = problems[0].get("element_id")
        return (f"{where}: " if where else "") + problems[0]["message"]
    return body.get("message") or json.dumps(body)[:200]


def drive(api: Api, app, instance_id: int) -> tuple[str, str]:
    for _ in range(MAX_STEPS):
        body = api.get(f"/instances/{instance_id}", as_="sweeper").get_json()
        if body["status"] != "running":
            return body["status"], body.get("error") or ""
        if body["tasks"]:
            task = body["tasks"][0]
            detail = api.get(f"/tasks/{task['id']}", as_="sweeper").get_json()
            answer = api.post(f"/tasks/{task['id']}/complete", {"data": fill(detail.get("schema") or {})},
                              as_="sweeper")
            if answer.status_code >= 500:
                return "server error", f"{task['bpmn_id']}: {answer.status_code}"
            if answer.status_code != 200:
                return "stuck", f"{task['bpmn_id']}: {answer.get_json().get('message')}"
            continue
        with app.app_context():
            clock.clock.advance(days=400)  # every timer of a test diagram is due by then
            woken = wake_timers()
            db.session.remove()
        if not woken:
            return "waits", "a message or signal (nothing else can move it)"
    return "stuck", f"still running after {MAX_STEPS} steps"


def sweep(dirs: list[Path]) -> list[tuple[str, str, str]]:
    tmp = Path(tempfile.mkdtemp(prefix="bespoke-compat-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'compat.sqlite3'}", "JOBS_INLINE": True,
                      "SECRET_KEY": "compat"})
    with app.app_context():
        db.create_all()
        with unit_of_work():
            ensure_reference_data()
            create_user("sweeper", "Compatibility sweep", "sweep-password-1", [*LANE_ROLES, "admin", "analyst"])
    api = Api(app, app.test_client())
    results = []
    for directory in dirs:
        folder = sorted(directory.rglob("*.bpmn"))
        for path in folder:
            label = str(path.relative_to(directory.parent.parent))
            print(label, file=sys.stderr, flush=True)
            deployed = api.post("/processes", bundle(path, folder), as_="sweeper")
            if deployed.status_code >= 500:
                results.append((label, "server error", f"deploy: {deployed.status_code}"))
                continue
            if deployed.status_code not in (200, 201):
                results.append((label, "refused", first_error(deployed.get_json() or {})))
                continue
            process_id = deployed.get_json()["process_id"]
            started = api.post(f"/processes/{process_id}/instances", {"data": {}}, as_="sweeper")
            if started.status_code >= 500:
                results.append((label, "server error", f"start: {started.status_code}"))
                continue
            if started.status_code != 201:
                results.append((label, "start failed", (started.get_json() or {}).get("message", "")[:200]))
                continue
            outcome, why = drive(api, app, started.get_json()["id"])
            results.append((label, outcome, why[:200]))
            with app.app_context():
                clock.clock.reset()
    return results


def report(results: list[tuple[str, str, str]], command: str, source: str = "") -> str:
    counts = Counter(outcome for _, outcome, _ in results)
    lines = ["# Compatibility: diagrams written elsewhere, run unchanged", "",
             f"Produced by `{command}`" + (f", the diagrams being {source}" if source else "")
             + " (see `bench/compat.py` for what each outcome means).", "",
             f"**{len(results)} diagrams**: " + ", ".join(f"{n} {o}" for o, n in counts.most_common()), "",
             "| Diagram | Outcome | Why |", "|---|---|---|"]
    lines += [f"| {label} | {outcome} | {why.replace('|', '/')} |" for label, outcome, why in results]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--out", default=str(ROOT / "docs" / "COMPATIBILITY.md"))
    parser.add_argument("--source", default="", help="where the diagrams come from, for the report")
    args = parser.parse_args()
    results = sweep(args.dirs)
    command = "bench/compat.py " + " ".join(str(d) for d in args.dirs)
    Path(args.out).write_text(report(results, command, args.source), encoding="utf-8")
    print(json.dumps(Counter(outcome for _, outcome, _ in results)))


if __name__ == "__main__":
    main()
