"""The engine adapter (app/engine/runtime.py) on a small inline diagram, with no app, database or order:
run to a person's task, complete it, a timer's due time, a service call described once and completed,
a message, the state dumped and loaded mid-walk, and a script error that names its task."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from app.engine.bundles import parse_definition
from app.engine.runtime import ProcessEngine
from app.engine.views import ServiceCall
from app.errors import ScriptError

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="adapter_definitions" targetNamespace="http://bespoke.local/bpmn/adapter">
  <bpmn:message id="msg_paid" name="paid"/>
  <bpmn:process id="adapter" name="Проверка адаптера" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_sales" name="sales">
        <bpmn:flowNodeRef>check</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="check" name="Проверка заказа">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="check.schema.json"/>
          <spiffworkflow:property name="stage" value="Проверка"/>
          <spiffworkflow:property name="assignee" value="owner"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="check_late" name="Просрочка" attachedToRef="check" cancelActivity="false">
      <bpmn:extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="sla_level" value="head"/></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:outgoing>f_late</bpmn:outgoing>
      <bpmn:timerEventDefinition id="check_late_def">
        <bpmn:timeDate xsi:type="bpmn:tFormalExpression">due_at</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="late" name="Просрочено">
      <bpmn:extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="stage" value="Просрочено"/></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f_late</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:serviceTask id="ask_price" name="Запрос цены">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="price.quote" resultVariable="quote">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="amount" type="int" value="amount * 2"/>
          </spiffworkflow:parameters>
          <spiffworkflow:retry retries="3" backoff_base="5"/>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:intermediateCatchEvent id="wait_paid" name="Ждём оплату">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:messageEventDefinition id="wait_paid_def" messageRef="msg_paid">
        <bpmn:extensionElements>
          <spiffworkflow:messageVariable>payment</spiffworkflow:messageVariable>
        </bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="tally" name="Подсчёт">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:script>share = quote['price'] / payment['amount']</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="done" name="Готово">
      <bpmn:extensionElements>
        <spiffworkflow:properties><spiffworkflow:property name="orderStatus" value="done"/></spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f5</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="ask_price"/>
    <bpmn:sequenceFlow id="f3" sourceRef="ask_price" targetRef="wait_paid"/>
    <bpmn:sequenceFlow id="f4" sourceRef="wait_paid" targetRef="tally"/>
    <bpmn:sequenceFlow id="f5" sourceRef="tally" targetRef="done"/>
    <bpmn:sequenceFlow id="f_late" sourceRef="check_late" targetRef="late"/>
  </bpmn:process>
</bpmn:definitions>
"""
FORM = {"type": "object", "properties": {"amount": {"type": "integer", "title": "Сумма"}}}
DUE = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)
START = {"owner": "ivanov", "amount": 100, "due_at": DUE.isoformat()}


@pytest.fixture(scope="module")
def adapter():
    """An engine with no helpers and the diagram's specs, as a deploy stores and a step loads them."""
    engine = ProcessEngine({})
    parsed = parse_definition(BPMN.encode(), "adapter.bpmn", {}, {"check.schema.json": json.dumps(FORM).encode()},
                              roles={"sales"}, operators={"price.quote"}, serializer=engine.serializer)
    stored = engine.spec_json(parsed.spec_dict)
    return engine, engine.specs(1, parsed.checksum, lambda: stored)


def save_restore(engine: ProcessEngine, specs, workflow):
    """Dump the state (the spec stays out of it) and load it back, as every step between requests does."""
    state = engine.dump(workflow)
    assert "spec" not in json.loads(state)
    return engine.load(specs, state)


def test_runs_to_the_persons_task_with_its_form_assignee_and_due_time(adapter):
    engine, specs = adapter
    view = engine.run(engine.new_workflow(specs, START))
    [task] = view.ready
    assert (task.bpmn_id, task.name, task.stage, task.lane) == ("check", "Проверка заказа", "Проверка", "sales")
    assert (task.form, task.ui_form, task.assignee) == ("check.schema.json", None, "ivanov")
    assert task.due_at == DUE and view.next_timer_at == DUE
    assert task.data["amount"] == 100 and task.input_error is None
    assert view.calls == [] and view.milestones == [] and not view.finished
    assert view.waiting_messages == set()


def test_a_walk_to_the_end_survives_a_save_between_every_step(adapter):
    engine, specs = adapter
    workflow = engine.new_workflow(specs, START)
    guid = engine.run(workflow).ready[0].guid

    workflow = save_restore(engine, specs, workflow)
    task = engine.user_task(workflow, guid)
    assert task is not None and engine.state_of(task) == "READY"
    assert engine.user_task(workflow, "not-a-guid") is None
    engine.complete_user_task(task, {"amount": 120})
    view = engine.run(workflow)
    # The service call is described once, with its parameters evaluated on the submitted data.
    [call] = view.calls
    assert call == ServiceCall(guid=call.guid, bpmn_id="ask_price", name="Запрос цены", operator="price.quote",
                               params={"amount": 240}, retries=3, backoff_base=5)
    assert view.ready == [] and view.next_timer_at is None  # the task is done: its timer is gone
    workflow = save_restore(engine, specs, workflow)
    assert engine.describe(workflow).calls == []  # handed to the outbox already: not described twice

    assert engine.complete_service_task(workflow, call.guid, {"price": 1000})
    assert not engine.complete_service_task(workflow, call.guid, {"price": 1})  # no longer waiting
    view = engine.run(workflow)
    assert view.waiting_messages == {"paid"} and not view.finished

    workflow = save_restore(engine, specs, workflow)
    assert not engine.send_message(workflow, "refund", {"amount": 1})  # nobody waits for it
    assert engine.send_message(workflow, "paid", {"amount": 50})
    view = engine.run(workflow)
    assert view.finished and view.message_data == {"payment": {"amount": 50}}
    assert view.milestones == [{"stage": None, "status": "done", "bpmn_id": "done"}]
    assert workflow.data["share"] == 20  # the script ran on the service's result and the message


def test_a_timer_waits_for_its_due_time_then_fires_beside_the_task(adapter):
    engine, specs = adapter
    workflow = save_restore(engine, specs, engine.new_workflow(specs, START))
    view = engine.run(workflow, refresh_timers=True)
    assert view.next_timer_at == DUE and view.milestones == []  # not due yet: it only waits

    overdue = engine.new_workflow(specs, {**START, "due_at": "2020-01-01T09:00:00+00:00"})
    view = engine.run(overdue)
    # Non-interrupting: the overdue path ran to its end; the person's task is still there, showing the
    # deadline it missed, and no timer is left to wait for.
    assert view.milestones == [{"stage": "Просрочено", "status": None, "bpmn_id": "late"}]
    assert [t.bpmn_id for t in view.ready] == ["check"]
    assert view.ready[0].due_at == datetime(2020, 1, 1, 9, 0, tzinfo=timezone.utc)
    assert view.next_timer_at is None


def test_a_script_error_names_the_task(adapter):
    engine, specs = adapter
    workflow = engine.new_workflow(specs, START)
    engine.complete_user_task(engine.user_task(workflow, engine.run(workflow).ready[0].guid), {})
    call = engine.run(workflow).calls[0]
    engine.complete_service_task(workflow, call.guid, {"price": 1000})
    engine.run(workflow)
    engine.send_message(workflow, "paid", {"amount": 0})
    with pytest.raises(ScriptError) as refused:
        engine.run(workflow)
    assert str(refused.value).startswith("Подсчёт (tally): ")
    assert "division by zero" in str(refused.value)
