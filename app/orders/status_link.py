"""Staff manage the customer's status link from the order card: issue a new one, or revoke it."""
from __future__ import annotations

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import policy
from app.i18n import N_
from app.orders import bp
from app.services import status_links
from app.services.orders import visible_order
from app.web import action, allowed


def may_manage_link(user) -> bool:
    return policy.can(user, "orders.status_link")


DONE = {"reissue": N_("Выпущена новая ссылка; прежняя больше не открывается"),
        "revoke": N_("Ссылка заказчика отозвана")}


@bp.post("/orders/<number>/status-link/<any(reissue, revoke):what>")
@allowed("orders.status_link")
@action
def status_link(number: str, what: str):
    user = current_user._get_current_object()
    order = visible_order(user, number)
    (status_links.reissue if what == "reissue" else status_links.revoke)(order, user)
    flash(_(DONE[what]), "success")
    return redirect(url_for("orders.card", number=number) + "#status-link")


@bp.app_context_processor
def _link_helpers():
    from app.services.status_links import status_url

    return {"customer_link": status_url, "may_manage_link": may_manage_link}
