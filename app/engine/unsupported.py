"""What SpiffWorkflow 3.2 cannot run, refused at deploy on its element instead of misbehaving in a running instance.

Read from its parser (`SpiffWorkflow/bpmn/parser/`): a complex gateway has no parser at all; compensation and link
events are not read, so the event silently becomes a plain one (a compensation never happens, a link throw ends its
path); a conditional event is evaluated once when reached and nothing evaluates it again, so it waits for ever; a
message or signal with no name matches any other nameless one; an event-based gateway only works as an exclusive
choice between catching events. Ad-hoc sub-processes parse, but someone must pick which activity runs next, and
nothing in Bespoke does.
"""
from __future__ import annotations

from app.engine.problems import NS, local, problem

_CANNOT = "SpiffWorkflow 3.2 cannot run"
ELEMENTS = {
    "complexGateway": f"{_CANNOT} a complex gateway: use an exclusive, inclusive or parallel gateway",
    "adHocSubProcess": "an ad-hoc sub-process needs someone to pick the activity that runs next, and Bespoke has no "
                       "way to do that: draw its activities with flows (or a plain sub-process)",
}
DEFINITIONS = {
    "compensateEventDefinition": f"{_CANNOT} compensation: the event would be ignored and nothing compensated — "
                                 "model the undo steps with an error or escalation and their own flow",
    "linkEventDefinition": f"{_CANNOT} link events: a link throw would end its path and the link catch would "
                           "never start — draw the flow itself",
    "conditionalEventDefinition": f"{_CANNOT} a conditional event: its condition is evaluated once when reached "
                                  "and never again, so it would wait for ever — use an exclusive gateway, a "
                                  "message or a timer",
}
# The event definitions Spiff's parser reads on each kind of event (event_parsers.py); any other is dropped and
# the event acts as a plain one: an error start would start its event sub-process at once, a signal end would
# throw nothing.
READ_ON = {
    "startEvent": {"message", "signal", "timer"},
    "endEvent": {"message", "cancel", "error", "escalation", "terminate"},
    "intermediateCatchEvent": {"message", "signal", "timer"},
    "intermediateThrowEvent": {"message", "signal", "escalation"},
    "boundaryEvent": {"message", "signal", "timer", "cancel", "error", "escalation"},
}
NAMED = {"messageEventDefinition": ("messageRef", "message"), "signalEventDefinition": ("signalRef", "signal")}
CATCHES = frozenset({"intermediateCatchEvent", "receiveTask"})


def unsupported_problems(tree, filename: str) -> list[dict]:
    """Elements SpiffWorkflow 3.2 ignores or cannot execute, each an error on its element."""
    problems: list[dict] = []
    for kind, message in ELEMENTS.items():
        for node in tree.xpath(f"//bpmn:{kind}", namespaces=NS):
            problems.append(problem(f"{node.get('id')}: {message}", element=node, file=filename, unsupported=kind))
    for event in tree.iter(*(f"{{{NS['bpmn']}}}{kind}" for kind in READ_ON)):
        problems += _event_problems(event, filename)
    for node in tree.xpath("//*[@isForCompensation='true']"):
        problems.append(problem(f"{node.get('id')} is a compensation handler: {_CANNOT} compensation, it would "
                                "never run", element=node, file=filename, unsupported="isForCompensation"))
    problems += _nameless(tree, filename)
    problems += _event_gateways(tree, filename)
    return problems


def _event_problems(event, filename: str) -> list[dict]:
    kind = local(event)
    problems: list[dict] = []
    for definition in event:
        what = local(definition)
        if not what.endswith("EventDefinition"):
            continue
        if what in DEFINITIONS:
            message = DEFINITIONS[what]
        elif what.removesuffix("EventDefinition") not in READ_ON[kind]:
            message = (f"{_CANNOT} a {what.removesuffix('EventDefinition')} {kind}: its parser drops the event "
                       f"and it would act as a plain {kind}" + (" (an event sub-process would start at once)"
                                                               if kind == "startEvent" else ""))
        elif kind == "startEvent" and what in NAMED and _nested_event_subprocess(event):
            message = (f"{_CANNOT} a {what.removesuffix('EventDefinition')} start of an event sub-process inside a "
                       "sub-process: only the process's own event sub-processes are started by messages and signals")
        else:
            continue
        problems.append(problem(f"{event.get('id')}: {message}", element=event, file=filename, unsupported=what))
    return problems


def _nested_event_subprocess(start) -> bool:
    holder = start.getparent()
    return (holder.get("triggeredByEvent") == "true" and holder.getparent() is not None
            and local(holder.getparent()) != "process")


def _nameless(tree, filename: str) -> list[dict]:
    """Messages and signals must have names: a nameless one is caught by any other nameless one."""
    problems: list[dict] = []
    for kind, (ref, what) in NAMED.items():
        named = {n.get("id"): (n.get("name") or "").strip() for n in tree.xpath(f"//bpmn:{what}", namespaces=NS)}
        for definition in tree.xpath(f"//bpmn:{kind}", namespaces=NS):
            event = definition.getparent()
            target = definition.get(ref)
            name = named.get(target) if target else (event.get("name") or "").strip()
            if not name:
                why = (f"refers to {what} {target}, which has no name" if target and target in named
                       else f"refers to {what} {target}, which does not exist" if target
                       else f"names no {what} ({ref}) and has no name itself")
                problems.append(problem(f"{event.get('id')} {why}: a {what} without a name would be caught by any "
                                        f"other nameless {what}", element=event, file=filename,
                                        unsupported=f"nameless_{what}"))
    return problems


def _event_gateways(tree, filename: str) -> list[dict]:
    """An event-based gateway: an exclusive choice, not instantiating, between catching events only."""
    problems: list[dict] = []
    nodes = {n.get("id"): n for n in tree.iter(f"{{{NS['bpmn']}}}*") if n.get("id")}
    for gateway in tree.xpath("//bpmn:eventBasedGateway", namespaces=NS):
        gateway_id = gateway.get("id")
        if gateway.get("instantiate") == "true" or gateway.get("eventGatewayType") == "Parallel":
            problems.append(problem(f"{gateway_id}: {_CANNOT} an instantiating or parallel event-based gateway: "
                                    "only the exclusive one (the first event wins) runs", element=gateway,
                                    file=filename, unsupported="eventBasedGateway"))
        for flow in (f for f in tree.xpath("//bpmn:sequenceFlow", namespaces=NS) if f.get("sourceRef") == gateway_id):
            target = nodes.get(flow.get("targetRef"))
            if target is not None and (local(target) not in CATCHES or _without_event(target)):
                problems.append(problem(f"{gateway_id} leads to {target.get('id')} ({local(target)}): after an "
                                        "event-based gateway only intermediate catch events with an event (a "
                                        "message, timer or signal) or receive tasks may follow", element=gateway,
                                        file=filename, unsupported="eventBasedGateway"))
    return problems


def _without_event(node) -> bool:
    return local(node) == "intermediateCatchEvent" and not any(
        local(child).endswith("EventDefinition") for child in node)
