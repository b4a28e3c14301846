"""Bindings: what the code needs to know about a diagram element, declared on the element itself.

A binding is a `spiffworkflow:property` whose name starts with `bespoke:` (see docs/PROCESS.md, "Bindings").
The code never names an element id: it asks a version's `Bindings` which elements carry `bespoke:records=
"payment"`, or what element `x` declares. Deploy checks them against the rules the app passes in, so a
version that loses a binding the app needs, or declares one wrongly, is refused with the binding named.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

PREFIX = "bespoke:"
MILESTONE = "bespoke:milestone"  # the customer's milestone this user task belongs to (status page)
CUSTOMER_TEXT = "bespoke:customerText"  # what the customer reads while the task is open
ENTRY = "bespoke:entry"  # "true": where a new order waits for the sales decision (bulk confirm)
RECORDS = "bespoke:records"  # what the task records: payment, installation, revisit
VISIT = "bespoke:visit"  # "measurement" | "delivery": the task works that visit (done with the task)
PLANS = "bespoke:plans"  # "measurement" | "delivery": the task books that visit (the dispatcher's queue)
RATING = "bespoke:rating"  # "true": the customer's rating of the finished order


@dataclass(frozen=True)
class BindingRule:
    """What a binding may say: its allowed values and the values some user task of every version must carry."""

    name: str
    meaning: str
    values: frozenset[str] | None = None  # None: any non-empty text
    required: frozenset[str] = frozenset()
    needs: str | None = None  # another binding the same element must carry


@dataclass(frozen=True)
class Bindings:
    """One version's bindings: element id → {binding name: value}."""

    by_element: dict[str, dict[str, str]] = field(default_factory=dict)

    def of(self, element_id: str) -> dict[str, str]:
        """What an element declares (nothing for an element without bindings)."""
        return self.by_element.get(element_id, {})

    def value(self, element_id: str, name: str) -> str | None:
        return self.of(element_id).get(name)

    def elements(self, name: str, value: str | None = None) -> list[str]:
        """The ids of the elements carrying the binding (with this value, when given), in a stable order."""
        return sorted(element for element, declared in self.by_element.items()
                      if name in declared and (value is None or declared[name] == value))


def read_bindings(properties: Iterable[tuple[str, dict[str, str]]]) -> Bindings:
    """The `bespoke:` properties of each (element id, its spiffworkflow:properties)."""
    found: dict[str, dict[str, str]] = {}
    for element, props in properties:
        declared = {name: (value or "").strip() for name, value in props.items() if name.startswith(PREFIX)}
        if declared:
            found[element] = declared
    return Bindings(found)


def binding_problems(bindings: Bindings, user_tasks: dict[str, str | None], rules: Iterable[BindingRule],
                     filename: str, names: dict[str, str | None] | None = None) -> list[dict]:
    """Every wrong or missing binding, each naming the binding (and the element, when one is at fault).

    `user_tasks` maps the version's user task ids to their names: bindings belong on user tasks only; `names`,
    every element's name (for a binding misplaced on another element).
    """
    names = {**(names or {}), **user_tasks}
    by_name = {rule.name: rule for rule in rules}
    problems: list[dict] = []

    def problem(element: str | None, binding: str, text: str) -> None:
        problems.append({"element_id": element, "name": names.get(element or ""), "message": text,
                         "severity": "error", "file": filename, "binding": binding})

    for element, declared in sorted(bindings.by_element.items()):
        for name, value in sorted(declared.items()):
            rule = by_name.get(name)
            if rule is None:
                problem(element, name, f"unknown binding '{name}' (known: {', '.join(sorted(by_name))})")
            elif element not in user_tasks:
                problem(element, name, f"binding '{name}' belongs on a user task")
            elif not value:
                problem(element, name, f"binding '{name}' has no value")
            elif rule.values is not None and value not in rule.values:
                problem(element, name, f"binding '{name}' has value '{value}', expected one of: "
                        f"{', '.join(sorted(rule.values))}")
            elif rule.needs and rule.needs not in declared:
                problem(element, name, f"binding '{name}' needs '{rule.needs}' on the same task")
    for rule in by_name.values():
        carried = {declared.get(rule.name) for element, declared in bindings.by_element.items()
                   if element in user_tasks}
        for value in sorted(rule.required - carried):
            problem(None, rule.name, f"no user task carries the binding {rule.name}=\"{value}\" ({rule.meaning})")
    return problems


def extract_messages(fileobj, keywords, comment_tags, options):
    """Babel extractor (babel.cfg): the customer wording declared in a diagram, so the catalogue keeps it."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    tree = etree.parse(fileobj, parser=parser)
    for node in tree.iter("{http://spiffworkflow.org/bpmn/schema/1.0/core}property"):
        if node.get("name") == CUSTOMER_TEXT and (node.get("value") or "").strip():
            yield node.sourceline, "_", node.get("value").strip(), [f"{CUSTOMER_TEXT} on a user task"]
