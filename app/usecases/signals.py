"""Signals from outside (an integration, an admin): thrown to every running instance that waits for the signal, or
to one named instance; one unit of work.

A signal, unlike a message, is a broadcast: each instance waiting for it now (an intermediate catch, a boundary
event, an event sub-process's start) catches it with the payload; the diagram's signal names the variable
(`spiffworkflow:variableName`) the payload lands in.
"""
from __future__ import annotations

from flask_babel import gettext as _

from app import policy
from app.engine import engine
from app.errors import Conflict
from app.models import ProcessInstance, User
from app.services import audit
from app.usecases import process
from app.usecases.messages import _short
from app.usecases.runs import get_instance
from app.usecases.uow import unit_of_work


@unit_of_work()
def throw_signal(name: str, payload: dict, actor: User, instance_id: int | None = None) -> list[ProcessInstance]:
    """Deliver the signal; the instances that caught it. Conflict (409) when none waits for it now."""
    policy.ensure(actor, "messages.send", name)
    eng = engine()
    if instance_id is not None:
        candidates = [get_instance(instance_id, actor)]
        process.ensure_moves(candidates[0])  # a suspended one says so instead of "not waiting"
    else:
        candidates = process.signal_waiters(name)
    caught = []
    for instance in candidates:
        if instance.status != "running":
            continue
        if process.step(instance, lambda wf: eng.send_signal(wf, name, payload), actor) is None:
            continue
        caught.append(instance)
        audit.record(instance.order_id, "signal", actor, field=name, new=_short(payload), entity="instance",
                     entity_id=instance.id, instance_id=instance.id)
    if not caught:
        where = (_("процесс №%(id)s", id=instance_id) if instance_id is not None
                 else _("ни один идущий процесс"))
        raise Conflict(_("Сигнал «%(name)s» сейчас не ждёт %(where)s", name=name, where=where),
                       signal=name)
    return caught
