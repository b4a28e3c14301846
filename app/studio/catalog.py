"""What the modeler's properties panel offers for a draft: lane roles, operators, forms, bindings, SLA keys, decisions.

Every list comes from the code the engine runs with (the role table, the operator registry, the binding rules, the
draft's own DMN and form files), so the panel never offers what a deploy would refuse.
"""
from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _

from app.i18n import N_
from app.models import LANE_ROLES
from app.operators.registry import OPERATORS
from app.services.customer_view import MILESTONE_LABELS
from app.usecases.deploy import binding_rules
from app.usecases.drafts import DraftState, decision_outputs

# What each binding means to an analyst (the rules' own `meaning` is the developers' English).
BINDING_MEANINGS = {
    "bespoke:milestone": N_("Этап заказа, который видит заказчик на странице статуса, пока открыта эта задача"),
    "bespoke:customerText": N_("Что читает заказчик, пока открыта задача (нужен этап для заказчика)"),
    "bespoke:entry": N_("Здесь новый заказ ждёт решения продаж (массовое подтверждение)"),
    "bespoke:records": N_("Что записывает задача: оплату, монтаж или повторный выезд"),
    "bespoke:visit": N_("Задача — выезд замерщика (история выездов на странице задачи)"),
    "bespoke:rating": N_("Оценка заказчиком выполненного заказа"),
}
VALUE_LABELS = {
    "payment": N_("оплата"), "installation": N_("монтаж"), "revisit": N_("повторный выезд"),
    "measurement": N_("замер"), "true": N_("да"),
}
OPERATOR_LABELS = {
    "documents.render": N_("Сформировать документ"), "notify": N_("Уведомить (SMS / e-mail по шаблону)"),
    "sms.send": N_("Отправить SMS"), "email.send": N_("Отправить e-mail"), "onec.sync": N_("Обмен с 1С"),
    "sla.escalate": N_("Эскалация по SLA"), "http": N_("HTTP-запрос во внешнюю систему"),
}
# The standard SLA boundary timers of a user task: (level property, share of the SLA, name on the diagram).
SLA_TIMERS = (("warning", "0.75", "SLA 75 %"), ("head", "", "SLA 100 %"), ("director", "2", "SLA 200 %"))


def catalog(state: DraftState) -> dict:
    english = str(get_locale()) == "en"
    decisions, sla_keys = decision_outputs(state.dmn_files)
    forms = sorted(state.forms)
    return {
        "roles": [{"code": code, "label": labels[1] if english else labels[0]} for code, labels in LANE_ROLES.items()],
        "operators": [{"name": name, "label": _(OPERATOR_LABELS.get(name, name)), "retries": spec.max_attempts,
                       "backoff_base": spec.backoff_base} for name, spec in sorted(OPERATORS.items())],
        "forms": [name for name in forms if not name.endswith(".uischema.json")],
        "ui_forms": [name for name in forms if name.endswith(".uischema.json")],
        "bindings": [{"name": rule.name, "meaning": _(BINDING_MEANINGS.get(rule.name, rule.meaning)),
                      "values": [{"value": value, "label": _label(rule.name, value)}
                                 for value in _ordered(rule.values)] if rule.values is not None else None,
                      "needs": rule.needs} for rule in binding_rules()],
        "sla_keys": sla_keys,
        "sla_timers": [{"level": level, "factor": factor, "name": name} for level, factor, name in SLA_TIMERS],
        "decisions": decisions,
        "dmn_files": sorted(state.dmn_files),
    }


def _ordered(values) -> list[str]:
    milestones = list(MILESTONE_LABELS)
    return sorted(values, key=lambda v: (milestones.index(v) if v in milestones else len(milestones), v))


def _label(binding: str, value: str) -> str:
    if binding == "bespoke:milestone" and value in MILESTONE_LABELS:
        return _(MILESTONE_LABELS[value])
    return _(VALUE_LABELS[value]) if value in VALUE_LABELS else value
