"""BPMN timers that read the app's clock (app.clock) instead of the system's.

SpiffWorkflow 3.2 decides that a timer is due inside the event definition itself: `has_fired`
(timeDate, timeDuration) and `cycle_complete` (timeCycle) compare the timer's moment with
`datetime.now(timezone.utc)`, and a duration starts from that same call. These subclasses do the
same against `app.clock.now()`. They keep Spiff's class names, so the serializer writes and reads
the same typenames as before and every stored version and instance loads with them.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions import timer

from app.clock import now


def _fired(my_task, due: datetime) -> bool:
    """Once the app's clock has passed `due`, the timer has fired (and stays fired)."""
    if due < now():
        my_task._set_internal_data(event_fired=True)
    return my_task._get_internal_data("event_fired", False)


class TimeDateEventDefinition(timer.TimeDateEventDefinition):
    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            my_task._set_internal_data(event_value=event_value)
        return _fired(my_task, self.parse_time_or_duration(event_value))


class DurationTimerEventDefinition(timer.DurationTimerEventDefinition):
    def has_fired(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            start = now()
            duration = self.get_timedelta_from_start(self.parse_iso_duration(expression), start)
            event_value = (start + duration).isoformat()
            my_task._set_internal_data(event_value=event_value)
        return _fired(my_task, self.get_datetime(event_value))


class CycleTimerEventDefinition(timer.CycleTimerEventDefinition):
    def cycle_complete(self, my_task):
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            cycles, start, duration = _recurring_interval(expression)
            event_value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
        ready = False
        if event_value["cycles"] != 0:
            next_event = datetime.fromisoformat(event_value["next"])
            if next_event < now():
                event_value["next"] = (next_event + timedelta(seconds=event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready


def _recurring_interval(expression: str) -> tuple[int, datetime, timedelta]:
    """Spiff's parse_iso_recurring_interval, with "a duration only" counted from the app's now."""
    components = expression.upper().replace("--", "/").strip("R").split("/")
    if len(components) == 2 and components[1].startswith("P"):
        cycles = int(components[0]) if components[0] else -1
        start = now()
        duration = timer.TimerEventDefinition.get_timedelta_from_start(
            timer.TimerEventDefinition.parse_iso_duration(components[1]), start)
        return cycles, start + duration, duration
    return timer.TimerEventDefinition.parse_iso_recurring_interval(expression)


CLOCKED_TIMERS = {timer.TimeDateEventDefinition: TimeDateEventDefinition,
                  timer.DurationTimerEventDefinition: DurationTimerEventDefinition,
                  timer.CycleTimerEventDefinition: CycleTimerEventDefinition}
