"""The app's clock drives BPMN timers: a diagram waits until the moved clock passes its moment, across a save."""
from __future__ import annotations

import json

from app.engine.specs import BespokeParser

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs" targetNamespace="http://bespoke.example/clock">
  <bpmn:process id="clocked" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="cooling" name="Five hours">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition>
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'PT5H'</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="check" name="Check"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="hourly" name="Every hour, twice" attachedToRef="check" cancelActivity="false">
      <bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:timerEventDefinition>
        <bpmn:timeCycle xsi:type="bpmn:tFormalExpression">'R2/PT1H'</bpmn:timeCycle>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="reminded"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="done"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="cooling"/>
    <bpmn:sequenceFlow id="f2" sourceRef="cooling" targetRef="check"/>
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="done"/>
    <bpmn:sequenceFlow id="f4" sourceRef="hourly" targetRef="reminded"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _specs(engine):
    parser = BespokeParser()
    parser.add_bpmn_str(BPMN.encode(), "clocked.bpmn")
    spec = parser.get_spec("clocked")
    stored = json.dumps({"spec": engine.serializer.to_dict(spec), "subprocess_specs": {}})  # as a deploy stores it
    return engine.specs(0, "clock-test", lambda: stored)


def _saved_and_run(engine, specs, workflow):
    """Save the workflow, load it back as the next request would, and fire whatever timers are due."""
    workflow = engine.load(specs, engine.dump(workflow))
    return workflow, engine.run(workflow, refresh_timers=True)


def _reminders(engine, workflow) -> int:
    return sum(1 for task in engine.tasks(workflow)
               if task.task_spec.bpmn_id == "reminded" and engine.state_of(task) == "COMPLETED")


def test_a_duration_and_a_cycle_timer_fire_by_the_apps_clock(app, clock):
    with app.app_context():
        engine = app.extensions["bespoke.engine"]
        specs = _specs(engine)
        workflow = engine.new_workflow(specs, {})
        started = clock.now()
        view = engine.run(workflow)
        assert view.ready == [] and abs((view.next_timer_at - started).total_seconds() - 5 * 3600) < 5

        clock.advance(hours=4, minutes=58)
        workflow, view = _saved_and_run(engine, specs, workflow)
        assert view.ready == []  # two minutes to go

        clock.advance(minutes=3)
        workflow, view = _saved_and_run(engine, specs, workflow)
        assert [task.bpmn_id for task in view.ready] == ["check"]
        assert _reminders(engine, workflow) == 0

        # The non-interrupting cycle: once an hour, twice, and the task stays open.
        for hour, expected in ((1, 1), (2, 2), (3, 2)):
            clock.advance(hours=1, minutes=1)
            workflow, view = _saved_and_run(engine, specs, workflow)
            assert _reminders(engine, workflow) == expected, hour
            assert [task.bpmn_id for task in view.ready] == ["check"]
