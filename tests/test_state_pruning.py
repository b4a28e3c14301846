"""A saved workflow stays small however often it loops (app/engine/pruning.py), and behaves as if nothing was
dropped: the same tasks, timers, messages, data and diagram picture as the same workflow saved whole.

The diagram loops: a plan, a measurement with a deadline (a non-interrupting boundary timer), a side branch
that logs the round and ends on its own (the process's end merges every such branch's data), and a choice
to go round again or wait for a payment message.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from app.clock import clock
from app.engine.bundles import parse_definition
from app.engine.inspect import picture
from app.engine.runtime import ProcessEngine

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="loop_definitions" targetNamespace="http://bespoke.local/bpmn/loop">
  <bpmn:message id="msg_paid" name="paid"/>
  <bpmn:process id="looping" name="Замер по кругу" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_sales" name="sales">
      <bpmn:flowNodeRef>plan</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>measure</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="again_merge"><bpmn:incoming>f1</bpmn:incoming><bpmn:incoming>f_again</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:scriptTask id="count" name="Счёт кругов"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>rounds = rounds + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:userTask id="plan" name="План">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="measure" name="Замер">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:boundaryEvent id="measure_late" name="Просрочка" attachedToRef="measure" cancelActivity="false">
      <bpmn:outgoing>f_late</bpmn:outgoing>
      <bpmn:timerEventDefinition id="measure_late_def">
        <bpmn:timeDate xsi:type="bpmn:tFormalExpression">due_at</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="escalate" name="Эскалация">
      <bpmn:incoming>f_late</bpmn:incoming><bpmn:outgoing>f_late2</bpmn:outgoing>
      <bpmn:script>escalations = escalations + [rounds]</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="late" name="Просрочено"><bpmn:incoming>f_late2</bpmn:incoming></bpmn:endEvent>
    <bpmn:parallelGateway id="side"><bpmn:incoming>f5</bpmn:incoming>
      <bpmn:outgoing>f_log</bpmn:outgoing><bpmn:outgoing>f6</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:scriptTask id="log" name="Журнал"><bpmn:incoming>f_log</bpmn:incoming><bpmn:outgoing>f_log2</bpmn:outgoing>
      <bpmn:script>logged_round = rounds
if rounds == 1:
    first_note = "первый круг"</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="logged" name="Записано"><bpmn:incoming>f_log2</bpmn:incoming></bpmn:endEvent>
    <bpmn:exclusiveGateway id="choice" default="f_on"><bpmn:incoming>f6</bpmn:incoming>
      <bpmn:outgoing>f_again</bpmn:outgoing><bpmn:outgoing>f_on</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:intermediateCatchEvent id="wait_paid" name="Ждём оплату">
      <bpmn:incoming>f_on</bpmn:incoming><bpmn:outgoing>f7</bpmn:outgoing>
      <bpmn:messageEventDefinition id="wait_paid_def" messageRef="msg_paid">
        <bpmn:extensionElements><spiffworkflow:messageVariable>payment</spiffworkflow:messageVariable>
        </bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done" name="Готово"><bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="again_merge"/>
    <bpmn:sequenceFlow id="f2" sourceRef="again_merge" targetRef="count"/>
    <bpmn:sequenceFlow id="f3" sourceRef="count" targetRef="plan"/>
    <bpmn:sequenceFlow id="f4" sourceRef="plan" targetRef="measure"/>
    <bpmn:sequenceFlow id="f5" sourceRef="measure" targetRef="side"/>
    <bpmn:sequenceFlow id="f_late" sourceRef="measure_late" targetRef="escalate"/>
    <bpmn:sequenceFlow id="f_late2" sourceRef="escalate" targetRef="late"/>
    <bpmn:sequenceFlow id="f_log" sourceRef="side" targetRef="log"/>
    <bpmn:sequenceFlow id="f_log2" sourceRef="log" targetRef="logged"/>
    <bpmn:sequenceFlow id="f6" sourceRef="side" targetRef="choice"/>
    <bpmn:sequenceFlow id="f_again" sourceRef="choice" targetRef="again_merge">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">again</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_on" sourceRef="choice" targetRef="wait_paid"/>
    <bpmn:sequenceFlow id="f7" sourceRef="wait_paid" targetRef="done"/>
  </bpmn:process>
</bpmn:definitions>
"""
FUTURE = "2030-01-01T09:00:00+00:00"
START = {"rounds": 0, "escalations": [], "due_at": FUTURE, "again": True}
FIXTURE = Path(__file__).parent / "data" / "state" / "looping-3-rounds-unpruned.json"


@pytest.fixture(scope="module")
def adapter():
    engine = ProcessEngine({})
    parsed = parse_definition(BPMN.encode(), "looping.bpmn", {}, {}, roles={"sales"}, operators=set(),
                              serializer=engine.serializer)
    stored = engine.spec_json(parsed.spec_dict)
    return engine, engine.specs(1, parsed.checksum, lambda: stored)


class Pair:
    """The same instance twice: one saved as every step saves it (pruned), one saved whole (as before pruning)."""

    def __init__(self, engine: ProcessEngine, specs) -> None:
        self.engine, self.specs = engine, specs
        self.pruned = engine.new_workflow(specs, START)
        self.whole = engine.new_workflow(specs, START)
        self.sizes: list[int] = []
        self.run()

    def save(self) -> None:
        state = self.engine.dump(self.pruned)
        self.sizes.append(len(state))
        self.pruned = self.engine.load(self.specs, state)
        self.whole = self.engine.load(self.specs, self.engine.serializer.serialize_json(self.whole))

    def run(self, **kwargs) -> None:
        views = [self.engine.run(wf, **kwargs) for wf in (self.pruned, self.whole)]
        assert _seen(views[0]) == _seen(views[1])
        self.save()
        self.same()

    def same(self) -> None:
        assert _ready(self.pruned) == _ready(self.whole)
        assert picture(self.pruned) == picture(self.whole)
        assert self.engine.workflow_data(self.pruned) == self.engine.workflow_data(self.whole)
        assert self.engine.describe(self.pruned).next_timer_at == self.engine.describe(self.whole).next_timer_at

    def complete(self, bpmn_id: str, data: dict | None = None) -> None:
        for wf in (self.pruned, self.whole):
            [task] = [t for t in self.engine.describe(wf).ready if t.bpmn_id == bpmn_id]
            self.engine.complete_user_task(self.engine.user_task(wf, task.guid), data or {})
        self.run()

    def round(self, again: bool = True) -> None:
        self.complete("plan")
        self.complete("measure", {"again": again})


def _ready(wf) -> list[tuple[str, dict]]:
    return sorted((t.bpmn_id, t.data) for t in ProcessEngine({}).describe(wf).ready)


def _seen(view) -> tuple:
    return (sorted(t.bpmn_id for t in view.ready), view.finished, view.next_timer_at, view.waiting_messages,
            view.milestones, view.message_data)


def test_twenty_rounds_keep_the_state_flat_and_the_process_unchanged_to_its_end(adapter):
    pair = Pair(*adapter)
    pair.round()
    after_one = pair.sizes[-1]
    for _ in range(19):
        pair.round()
    after_twenty = pair.sizes[-1]
    whole = len(pair.engine.serializer.serialize_json(pair.whole))
    assert after_twenty <= 1.5 * after_one, (after_one, after_twenty)
    assert after_twenty * 4 < whole  # saved whole, the same instance is many times bigger
    assert picture(pair.pruned).flows == picture(pair.whole).flows  # every flow ever taken still drawn

    pair.round(again=False)  # the last round: on to wait for the payment
    assert pair.engine.waiting_messages(pair.pruned) == {"paid"}
    for wf in (pair.pruned, pair.whole):
        assert pair.engine.send_message(wf, "paid", {"amount": 50})
    pair.run()
    assert pair.pruned.completed and pair.whole.completed
    data = pair.engine.workflow_data(pair.pruned)
    # The end merged in what every round's side branch ended with, the first round's (long dropped) too.
    assert (data["logged_round"], data["first_note"], data["payment"]) == (21, "первый круг", {"amount": 50})
    assert data == pair.engine.workflow_data(pair.whole)


def test_a_deadline_still_fires_after_twenty_pruned_rounds(adapter):
    pair = Pair(*adapter)
    for _ in range(20):
        pair.round()
    pair.complete("plan")  # the 21st measurement waits, its deadline saved in the pruned state
    assert pair.sizes[-1] * 4 < len(pair.engine.serializer.serialize_json(pair.whole))
    assert pair.engine.describe(pair.pruned).next_timer_at == datetime(2030, 1, 1, 9, tzinfo=timezone.utc)
    clock.set(datetime(2030, 1, 1, 10, tzinfo=timezone.utc))
    try:
        pair.run(refresh_timers=True)
    finally:
        clock.reset()
    data = pair.engine.workflow_data(pair.pruned)
    assert data["escalations"] == [21]  # the timer fired, its path ran; the measurement still waits
    assert [t.bpmn_id for t in pair.engine.describe(pair.pruned).ready] == ["measure"]
    assert picture(pair.pruned).elements["late"] == "done"
    pair.complete("measure", {"again": False})
    assert pair.engine.waiting_messages(pair.pruned) == {"paid"}


def test_a_state_saved_before_pruning_loads_and_is_pruned_on_its_next_save(adapter):
    """The fixture is what the engine saved before pruning existed (`serializer.serialize_json`, no summary)."""
    engine, specs = adapter
    saved = FIXTURE.read_text()
    assert "bespoke_history" not in saved
    old = engine.load(specs, saved)
    before = picture(old)
    assert [t.bpmn_id for t in engine.describe(old).ready] == ["plan"]
    assert engine.workflow_data(old)["rounds"] == 4

    resaved = engine.load(specs, engine.dump(old))
    assert len(engine.dump(resaved)) * 2 < len(saved)
    assert picture(resaved) == before
    for wf in (resaved, old):
        for bpmn_id, data in (("plan", {}), ("measure", {"again": False})):
            [task] = [t for t in engine.describe(wf).ready if t.bpmn_id == bpmn_id]
            engine.complete_user_task(engine.user_task(wf, task.guid), data)
            engine.run(wf)
        assert engine.send_message(wf, "paid", {"amount": 1})
        engine.run(wf)
        assert wf.completed
    assert engine.workflow_data(resaved)["first_note"] == "первый круг"
    assert engine.workflow_data(resaved) == engine.workflow_data(old)
