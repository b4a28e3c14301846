"""The diagrams written for these tests (`tests/data/generic/`), deployed through the API as an analyst would."""
from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "generic"


def bundle(*bpmn_names: str, dmn: tuple[str, ...] = ()) -> dict:
    """The JSON deploy body of a diagram (the first name) with every form of the folder."""
    name = bpmn_names[0]
    forms = {p.name: json.loads(p.read_text()) for p in sorted(DATA.glob("*.json"))}
    return {"bpmn": (DATA / name).read_text(), "bpmn_name": name, "forms": forms,
            "dmn": {d: (DATA / d).read_text() for d in dmn}}


def deploy_diagram(api, name: str, as_: str = "analyst", **extra) -> dict:
    response = api.post("/processes", {**bundle(name), **extra}, as_=as_)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def start(api, process_id: str, data: dict | None = None, as_: str = "analyst") -> dict:
    response = api.post(f"/processes/{process_id}/instances", {"data": data or {}}, as_=as_)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def instance(api, instance_id: int, as_: str = "admin") -> dict:
    response = api.get(f"/instances/{instance_id}", as_=as_)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def complete(api, task: dict, data: dict | None = None, as_: str | None = None) -> dict:
    """Complete an instance's task as its lane's role (or its assignee); the response JSON."""
    who = as_ or task["assignee"] or task["lane"]
    response = api.post(f"/tasks/{task['id']}/complete", {"data": data or {}}, as_=who)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
