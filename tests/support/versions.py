"""A second version of the lifecycle, as an analyst would publish it: «Звонок заказчику» added after «Новый заказ»
(with a form of its own), and «Замер» re-created under a new id (so the old `measurement` task is gone)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import Order
from app.usecases.deploy import deploy, read_directory
from app.usecases.uow import unit_of_work

ROOT = Path(__file__).resolve().parent.parent.parent
CALL_FORM = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Звонок заказчику", "type": "object",
    "properties": {"call_result": {"type": "string", "title": "Итог звонка", "enum": ["reached", "no_answer"],
                                   "x-enumNames": ["Дозвонились", "Не ответил"]}},
    "required": ["call_result"],
}
CALL_TASK = """
    <bpmn:userTask id="call_customer" name="Звонок заказчику">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="call_customer.schema.json"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>flow_gw_new_order__gw_plan_merge</bpmn:incoming>
      <bpmn:outgoing>flow_call_customer__gw_plan_merge</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="flow_call_customer__gw_plan_merge" sourceRef="call_customer" targetRef="gw_plan_merge"/>
"""
CALL_SHAPES = """
      <bpmndi:BPMNShape id="call_customer_di" bpmnElement="call_customer">
        <dc:Bounds x="760" y="470" width="100" height="80"/>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_call_customer__gw_plan_merge_di" bpmnElement="flow_call_customer__gw_plan_merge">
        <di:waypoint x="810" y="550"/>
        <di:waypoint x="810" y="700"/>
        <di:waypoint x="865" y="700"/>
      </bpmndi:BPMNEdge>
"""


def lifecycle_v2(rename_measurement: bool = True) -> tuple[bytes, dict[str, bytes], dict[str, bytes]]:
    """(bpmn, dmn files, form files) of the second version (`rename_measurement=False`: only the task added)."""
    name, bpmn, dmn, forms = read_directory(ROOT / "processes", ROOT / "forms")[0]
    xml = bpmn.decode()
    # The default flow out of «Решение по заказу» now reaches «Звонок заказчику», which goes on to the planning.
    xml = re.sub(r'(id="flow_gw_new_order__gw_plan_merge"[^>]*targetRef=)"gw_plan_merge"', r'\1"call_customer"', xml)
    xml = xml.replace("<bpmn:incoming>flow_gw_new_order__gw_plan_merge</bpmn:incoming>",
                      "<bpmn:incoming>flow_call_customer__gw_plan_merge</bpmn:incoming>")
    xml = xml.replace('    <bpmn:exclusiveGateway id="gw_plan_merge">', CALL_TASK + '    <bpmn:exclusiveGateway '
                      'id="gw_plan_merge">', 1)
    xml = xml.replace("<bpmn:flowNodeRef>new_order</bpmn:flowNodeRef>",
                      "<bpmn:flowNodeRef>new_order</bpmn:flowNodeRef>\n        "
                      "<bpmn:flowNodeRef>call_customer</bpmn:flowNodeRef>", 1)
    xml = re.sub(r'(<di:waypoint x="775" y="400"/>\s*<di:waypoint x="810" y="400"/>\s*)'
                 r'<di:waypoint x="810" y="700"/>\s*<di:waypoint x="865" y="700"/>',
                 r'\1<di:waypoint x="810" y="470"/>', xml)
    xml = xml.replace("    </bpmndi:BPMNPlane>", CALL_SHAPES + "    </bpmndi:BPMNPlane>", 1)
    if not rename_measurement:
        return xml.encode(), dmn, {**forms, "call_customer.schema.json": json.dumps(CALL_FORM).encode()}
    # «Замер» under a new id: the task `measurement` no longer exists.
    xml = re.sub(r'(id|sourceRef|targetRef|attachedToRef|bpmnElement)="measurement"', r'\1="measurement_visit"', xml)
    xml = xml.replace("<bpmn:flowNodeRef>measurement</bpmn:flowNodeRef>",
                      "<bpmn:flowNodeRef>measurement_visit</bpmn:flowNodeRef>")
    assert "call_customer" in xml and 'id="measurement_visit"' in xml
    return xml.encode(), dmn, {**forms, "call_customer.schema.json": json.dumps(CALL_FORM).encode()}


def deploy_v2(app, actor=None, source: str = "studio", rename_measurement: bool = True) -> int:
    """Publish the second version (it becomes the active one); its number."""
    bpmn, dmn, forms = lifecycle_v2(rename_measurement)
    with app.app_context():
        with unit_of_work():
            definition, created = deploy(bpmn, "order_lifecycle.bpmn", dmn, forms, actor,
                                         comment="Звонок заказчику после нового заказа", source=source,
                                         replace=True)
            assert created
            return definition.version


def version_of_order(app, number: str) -> int:
    """The version of the lifecycle the order's process runs on."""
    with app.app_context():
        return db.session.execute(select(Order).where(Order.number == number)).scalar_one().instance.definition.version
