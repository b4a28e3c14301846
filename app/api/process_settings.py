"""A process's settings through the API: which role works each lane of its diagram, and who may start it.

Analysts and admins read and change them (`processes.view`, `processes.settings`): the people who draw lanes
decide who works them. The rules live in `app.usecases.process_settings`.
"""
from __future__ import annotations

from flask import jsonify

from app.api import bp
from app.api.auth import AfterCommit, endpoint, json_body
from app.api.openapi import PATHS, PROCESS_ID, _op
from app.api.schemas import COMPONENTS, nullable, obj
from app.errors import ValidationError
from app.usecases import process_settings


def settings_json(settings: process_settings.Settings) -> dict:
    return {
        "process_id": settings.process_id, "version": settings.version,
        "lanes": [{"name": lane.name, "role": lane.role, "mapped": lane.mapped, "how": lane.how}
                  for lane in settings.lanes],
        "start_roles": settings.start_roles,
        "roles": process_settings.roles(),
    }


@bp.get("/processes/<process_id>/settings")
@endpoint("processes.view")
def get_settings(_user, process_id):
    return jsonify(settings_json(process_settings.settings_of(process_id)))


@bp.put("/processes/<process_id>/settings")
@endpoint("processes.settings", write=True)
def put_settings(user, process_id):
    body = json_body()
    unknown = sorted(set(body) - {"lane_roles", "start_roles"})
    if unknown:
        raise ValidationError(f"unknown field '{unknown[0]}'", fields={unknown[0]: "not a setting"})
    lane_roles = body.get("lane_roles")
    process_settings.update(process_id, {} if lane_roles is None else lane_roles, body.get("start_roles"), user)
    return AfterCommit(lambda: jsonify(settings_json(process_settings.settings_of(process_id))))


ROLE_CODE = {"type": "string", "enum": list(process_settings.ASSIGNABLE_ROLES)}
COMPONENTS.update({
    "ProcessSettings": obj({
        "process_id": {"type": "string"},
        "version": {"type": "integer", "description": "the active version, whose diagram the lanes come from"},
        "lanes": {"type": "array", "items": obj({
            "name": {"type": "string", "description": "the lane as drawn"},
            "role": nullable({"type": "string", "description": "the role that works it; null: the starter"}),
            "mapped": {"type": "boolean", "description": "the settings map it (not its own name)"},
            "how": {"enum": ["role code", "mapped", "starter"]}})},
        "start_roles": {"type": "array", "items": ROLE_CODE,
                        "description": "roles that may start it besides analysts and admins"},
        "roles": {"type": "array", "items": obj({"code": ROLE_CODE, "label": {"type": "string"}})}}),
    "ProcessSettingsChange": {"type": "object", "additionalProperties": False, "properties": {
        "lane_roles": {"type": "object", "description": "lane name → role code, or null to unmap; lanes not named "
                                                        "keep their role; open tasks of a remapped lane move",
                       "additionalProperties": nullable({"type": "string", "maxLength": 40})},
        # Role codes are checked by the use case, whose 422 names the unknown one.
        "start_roles": {"type": "array", "items": {"type": "string", "maxLength": 40},
                        "description": "role codes (those of `roles`); replaces who may start it"}}},
})
PATHS["/processes/{process_id}/settings"] = {
    "get": _op("A process's lanes (of its active version) with the role each goes to, and who may start it",
               {200: ("the settings", "ProcessSettings"), 403: "analysts and admins only",
                404: "no such process"}, params=[PROCESS_ID], tag="processes"),
    "put": _op("Map lanes to roles and choose who may start the process (audited)",
               {200: ("the settings now", "ProcessSettings"), 403: "analysts and admins only",
                404: "no such process"},
               body="ProcessSettingsChange", params=[PROCESS_ID], tag="processes"),
}
