"""The one shape of a validation problem, and how to find the BPMN element to blame for a piece of XML.

Every check (the raw diagram, the names, forms, operators, bindings, SpiffWorkflow's own parser) reports
`{"element_id", "name", "message", "severity": "error"|"warning", "file"}` plus keys of its own ("binding",
"line", "form"); an "error" refuses a deploy, a "warning" does not.
"""
from __future__ import annotations

ERROR, WARNING = "error", "warning"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
# The elements a sequence flow may connect (and an analyst can click in the modeler).
FLOW_NODES = frozenset({
    "task", "userTask", "manualTask", "serviceTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask",
    "callActivity", "subProcess", "transaction", "startEvent", "endEvent", "intermediateCatchEvent",
    "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
    "eventBasedGateway", "complexGateway",
})


def problem(message: str, *, element=None, file: str | None = None, severity: str = ERROR, **extra) -> dict:
    """A problem about `element` (an lxml element, or None for the whole bundle)."""
    return {"element_id": element.get("id") if element is not None else None,
            "name": element.get("name") if element is not None else None,
            "message": message, "severity": severity, "file": file, **extra}


def local(node) -> str:
    """An element's tag without its namespace ('' for comments and processing instructions)."""
    tag = node.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def owner(node):
    """The flow node or sequence flow a piece of XML belongs to (what the modeler shows a marker on)."""
    found = node
    while found is not None:
        if local(found) in FLOW_NODES or local(found) in ("sequenceFlow", "lane", "process"):
            return found
        found = found.getparent()
    while node is not None and node.get("id") is None:
        node = node.getparent()
    return node


def errors(problems: list[dict]) -> list[dict]:
    return [p for p in problems if p.get("severity", ERROR) == ERROR]


def summary(problems: list[dict]) -> str:
    """One line for the error message: the first error (or problem) and how many more."""
    first = (errors(problems) or problems)[0]
    where = first.get("element_id") or first.get("file")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"Deployment rejected: {where}: {first['message']}{more}"
