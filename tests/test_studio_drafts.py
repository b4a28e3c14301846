"""The studio's drafts through the pages' JSON views: opened from the active version, saved (even invalid) with the
validation's problems, stale saves refused, published as the next version with a comment, DMN tables edited."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ProcessDefinition, ProcessDraft
from tests.support.web import signed_in

PROCESS = "order_lifecycle"
META = re.compile(rb'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def web(make_app):
    return make_app()


class Studio:
    """A browser session in the studio: the page's CSRF token in the header, JSON in and out."""

    def __init__(self, app, login: str) -> None:
        self.client = signed_in(app, login)
        self.token = ""
        page = self.client.get(f"/studio/{PROCESS}")
        self.csrf = META.search(page.data).group(1).decode() if page.status_code == 200 else ""
        found = re.search(rb'data-token="([^"]*)"', page.data)
        self.token = found.group(1).decode() if found else ""

    def post(self, path: str, body: dict):
        return self.client.post(f"/studio/{PROCESS}{path}", json=body,
                                headers={"X-CSRFToken": self.csrf, "Accept": "application/json"})

    def save(self, bpmn: str, token: str | None = None):
        response = self.post("/draft", {"bpmn": bpmn, "token": self.token if token is None else token})
        if response.status_code == 200:
            self.token = response.get_json()["token"]
        return response

    def source(self) -> str:
        return self.client.get(f"/studio/{PROCESS}/draft.bpmn").get_data(as_text=True)


def versions(app) -> list[SimpleNamespace]:
    with app.app_context():
        rows = db.session.execute(select(ProcessDefinition).where(ProcessDefinition.process_id == PROCESS)
                                  .order_by(ProcessDefinition.version)).scalars().all()
        return [SimpleNamespace(version=v.version, active=v.active, source=v.source, comment=v.comment,
                                bpmn_xml=v.bpmn_xml, dmn_files=dict(v.dmn_files)) for v in rows]


def draft(app) -> SimpleNamespace | None:
    with app.app_context():
        row = db.session.execute(select(ProcessDraft)).scalar_one_or_none()
        return row and SimpleNamespace(bpmn_xml=row.bpmn_xml, dmn_files=dict(row.dmn_files),
                                       base_version=row.base_version, updated_by=row.updated_by.name)


def renamed(bpmn: str, old: str = 'name="Новый заказ"', new: str = 'name="Новый заказ (звонок)"') -> str:
    assert old in bpmn
    return bpmn.replace(old, new, 1)


def out_of_lanes(bpmn: str, element: str = "new_order") -> str:
    ref = f"<bpmn:flowNodeRef>{element}</bpmn:flowNodeRef>"
    assert ref in bpmn
    return bpmn.replace(ref, "", 1)


def test_the_studio_shows_the_active_version_and_the_first_save_starts_the_draft_from_it(web):
    analyst = Studio(web, "analyst")
    page = analyst.client.get(f"/studio/{PROCESS}").get_data(as_text=True)
    assert "Черновика нет: открыта действующая версия v1" in page and "bpmn-modeler.production.min.js" in page
    v1 = versions(web)[0]
    assert analyst.source() == v1.bpmn_xml and draft(web) is None  # looking is not editing

    saved = analyst.save(renamed(v1.bpmn_xml))
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["problems"] == [] and saved.get_json()["errors"] == 0
    row = draft(web)
    assert row.base_version == 1 and "Новый заказ (звонок)" in row.bpmn_xml
    page = analyst.client.get(f"/studio/{PROCESS}").get_data(as_text=True)
    assert "Черновик от версии v1" in page
    assert "Новый заказ (звонок)" in analyst.source()
    download = analyst.client.get(f"/studio/{PROCESS}/draft.bpmn?download=1")
    assert 'filename="order_lifecycle-draft.bpmn"' in download.headers["Content-Disposition"]
    assert "sandbox" in download.headers["Content-Security-Policy"]  # an analyst's XML never runs as our page


def test_an_invalid_diagram_is_kept_as_sent_and_answered_with_its_problems_on_the_elements(web):
    analyst = Studio(web, "analyst")
    invalid = out_of_lanes(versions(web)[0].bpmn_xml)
    saved = analyst.save(invalid)
    assert saved.status_code == 200
    body = saved.get_json()
    assert body["errors"] >= 1
    lane_problem = next(p for p in body["problems"] if p["element_id"] == "new_order")
    assert lane_problem["severity"] == "error" and "lane" in lane_problem["message"]
    assert lane_problem["name"] == "Новый заказ"
    assert analyst.source() == invalid  # nothing typed is lost
    page = analyst.client.get(f"/studio/{PROCESS}").get_data(as_text=True)
    assert re.search(r'id="open-publish"\s+disabled', page)  # deploy waits until the errors are fixed

    broken = analyst.save("<bpmn:definitions")
    assert broken.status_code == 200
    problem = broken.get_json()["problems"][0]
    assert problem["element_id"] is None and "malformed XML" in problem["message"]
    assert analyst.source() == "<bpmn:definitions"


def test_a_stale_draft_is_not_saved_over_and_the_refusal_says_who_saved_it(web):
    bpmn = versions(web)[0].bpmn_xml
    analyst, admin = Studio(web, "analyst"), Studio(web, "admin")  # both open the process: no draft yet
    assert analyst.save(renamed(bpmn)).status_code == 200
    # The admin's page showed no draft; the analyst has started one since.
    first = admin.save(renamed(bpmn, new='name="Заказ от администратора"'))
    assert first.status_code == 409 and "Мария Процессова" in first.get_json()["message"]

    admin = Studio(web, "admin")  # reloaded: the analyst's draft
    assert admin.save(renamed(bpmn, new='name="Заказ от администратора"')).status_code == 200
    stale = analyst.save(renamed(bpmn, new='name="Правка аналитика"'))
    assert stale.status_code == 409
    assert stale.get_json()["updated_by"] in stale.get_json()["message"] and "обновите страницу" in \
        stale.get_json()["message"]
    assert "Заказ от администратора" in draft(web).bpmn_xml  # the other person's work stays
    # The same person saving from another tab (the form editor beside the modeler) is no conflict.
    assert admin.save(bpmn, token="").status_code == 200


def test_publishing_makes_the_next_version_active_from_the_studio_with_the_comment(web):
    analyst = Studio(web, "analyst")
    assert analyst.save(renamed(versions(web)[0].bpmn_xml)).status_code == 200
    published = analyst.post("/publish", {"comment": "Уточнено название задачи", "token": analyst.token})
    assert published.status_code == 200, published.get_json()
    assert published.get_json() == {"version": 2, "created": True, "next": "/studio/"}
    v1, v2 = versions(web)
    assert (v2.version, v2.active, v2.source, v2.comment) == (2, True, "studio", "Уточнено название задачи")
    assert not v1.active and draft(web) is None
    listing = analyst.client.get("/studio/").get_data(as_text=True)
    assert "Опубликована версия v2" in listing
    row = re.search(r'<tr id="version-order_lifecycle-2">(.*?)</tr>', listing, re.S).group(1)
    assert "студия" in row and "эта версия" in row and "Уточнено название задачи" in row


def test_publishing_is_refused_without_a_comment_or_with_errors_and_the_draft_stays(web):
    analyst = Studio(web, "analyst")
    invalid = out_of_lanes(versions(web)[0].bpmn_xml)
    assert analyst.save(invalid).status_code == 200
    no_comment = analyst.post("/publish", {"comment": "  ", "token": analyst.token})
    assert no_comment.status_code == 422 and "comment" in no_comment.get_json()["fields"]
    refused = analyst.post("/publish", {"comment": "Попытка", "token": analyst.token})
    assert refused.status_code == 422
    assert "new_order" in [p["element_id"] for p in refused.get_json()["problems"]]
    assert [v.version for v in versions(web)] == [1]
    assert draft(web).bpmn_xml == invalid


def test_discarding_the_draft_brings_the_active_version_back(web):
    analyst = Studio(web, "analyst")
    assert analyst.save(renamed(versions(web)[0].bpmn_xml)).status_code == 200
    response = analyst.client.post(f"/studio/{PROCESS}/discard", data={"csrf_token": analyst.csrf},
                                   follow_redirects=True)
    assert "Черновик отменён" in response.get_data(as_text=True) and draft(web) is None
    assert analyst.source() == versions(web)[0].bpmn_xml


def test_people_outside_the_studio_are_turned_away(web):
    sales = Studio(web, "sales")
    assert sales.client.get(f"/studio/{PROCESS}").status_code == 403
    assert sales.client.get(f"/studio/{PROCESS}/draft.bpmn").status_code == 403
    refused = sales.client.post(f"/studio/{PROCESS}/draft", json={"bpmn": "<x/>"},
                                headers={"Accept": "application/json", "X-CSRFToken": "x"})
    assert refused.status_code in (400, 403) and draft(web) is None
    analyst = Studio(web, "analyst")
    assert analyst.client.get("/studio/no_such_process").status_code == 404


def test_the_properties_panel_is_offered_what_the_engine_knows(web):
    analyst = Studio(web, "analyst")
    catalog = analyst.client.get(f"/studio/{PROCESS}/catalog").get_json()
    assert {"code": "sales", "label": "Менеджер по продажам"} in catalog["roles"]
    notify = next(o for o in catalog["operators"] if o["name"] == "notify")
    assert (notify["retries"], notify["backoff_base"]) == (5, 2)
    assert "new_order.schema.json" in catalog["forms"] and "new_order.uischema.json" in catalog["ui_forms"]
    assert {"new_order", "plan_measurement", "installation"} <= set(catalog["sla_keys"])
    assert catalog["decisions"] == ["sla"] and catalog["dmn_files"] == ["sla.dmn"]
    milestone = next(b for b in catalog["bindings"] if b["name"] == "bespoke:milestone")
    assert {"value": "measurement", "label": "Замер"} in milestone["values"]


def test_a_dmn_table_is_edited_in_the_draft_validated_and_published_with_the_diagram(web):
    analyst = Studio(web, "analyst")
    page = analyst.client.get(f"/studio/{PROCESS}/dmn/sla.dmn")
    assert page.status_code == 200 and "dmn-modeler.production.min.js" in page.get_data(as_text=True)
    assert analyst.client.get(f"/studio/{PROCESS}/dmn/other.dmn").status_code == 404
    sla = analyst.client.get(f"/studio/{PROCESS}/dmn/sla.dmn/source").get_data(as_text=True)
    faster = sla.replace('<outputEntry id="sla_rule_wardrobe_new_order">\n          <text>4</text>',
                         '<outputEntry id="sla_rule_wardrobe_new_order">\n          <text>2</text>', 1)
    assert faster != sla

    refused = analyst.post("/dmn/sla.dmn", {"xml": faster.replace("<text>2</text>", "<text>__import__('os')</text>", 1),
                                            "token": analyst.token})
    assert refused.status_code == 200
    problem = next(p for p in refused.get_json()["problems"] if p["file"] == "sla.dmn")
    assert problem["element_id"] == "sla_rule_wardrobe_new_order" and problem["severity"] == "error"
    analyst.token = refused.get_json()["token"]

    saved = analyst.post("/dmn/sla.dmn", {"xml": faster, "token": analyst.token})
    assert saved.status_code == 200 and saved.get_json()["problems"] == []
    analyst.token = saved.get_json()["token"]
    assert draft(web).dmn_files["sla.dmn"] == faster
    published = analyst.post("/publish", {"comment": "Новый заказ на шкаф — за 2 часа", "token": analyst.token})
    assert published.status_code == 200
    assert versions(web)[1].dmn_files["sla.dmn"] == faster
