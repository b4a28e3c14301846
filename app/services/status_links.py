"""Customer status links: signing the token, finding the order behind it, revoking and re-issuing the link.

A link is `/s/<token>`, the token signing the order's id and its current `status_key`. Re-issuing
replaces the key (every earlier link stops working); revoking clears it (no link works until staff
issue a new one). Every failure looks the same to the caller, so a token tells nothing about which
orders exist.
"""
from __future__ import annotations

import hmac

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.errors import NotFound
from app.extensions import db
from app.models import Order, User
from app.models.orders import new_status_key
from app.services import audit


def _status_signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="order-status")


def status_token(order: Order) -> str | None:
    """The signed link token: the order's id and its current key. None while the link is revoked."""
    if not order.status_key:
        return None
    return _status_signer().dumps([order.id, order.status_key])


def order_id_for_token(token: str) -> tuple[int, str] | None:
    """(order id, key) from a token whose signature holds, else None; the caller compares the key."""
    try:
        loaded = _status_signer().loads(token)
    except BadSignature:
        return None
    if (not isinstance(loaded, list) or len(loaded) != 2 or not isinstance(loaded[0], int)
            or not isinstance(loaded[1], str)):
        return None
    return loaded[0], loaded[1]


def status_url(order: Order) -> str:
    """The customer's status page, or '' while staff have the link revoked."""
    token = status_token(order)
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/s/{token}" if token else ""



def order_for_token(token: str) -> Order:
    found = order_id_for_token(token)
    order = db.session.get(Order, found[0]) if found else None
    if found is None or order is None or not order.status_key or not hmac.compare_digest(order.status_key, found[1]):
        raise NotFound("Not found")
    return order


def reissue(order: Order, actor: User) -> None:
    """A new link for the customer; the old one answers 404 from now on."""
    was_revoked = not order.status_key
    order.status_key = new_status_key()
    audit.record(order.id, "field", actor, field="status_link", old="отозвана" if was_revoked else "действует",
                 new="новая ссылка")


def revoke(order: Order, actor: User) -> None:
    if order.status_key:
        order.status_key = None
        audit.record(order.id, "field", actor, field="status_link", old="действует", new="отозвана")
