"""Notes on an order; @login mentions notify those colleagues."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.errors import ValidationError
from app.extensions import db
from app.models import Note, Order, User
from app.services import audit
from app.services.inputs import FREE_TEXT_MAX, clean_text
from app.services.notifications import mention

MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_.-]+)")


def mentioned_users(text: str) -> list[User]:
    logins = sorted(set(MENTION.findall(text)))
    if not logins:
        return []
    return list(db.session.execute(select(User).where(User.login.in_(logins), User.active.is_(True))
                                   .order_by(User.login)).scalars())


def add_note(order: Order, text: str, author: User, *, internal: bool = True) -> Note:
    """Stage a note; every mentioned active colleague gets a notification."""
    try:
        text = clean_text(text, max_length=FREE_TEXT_MAX, multiline=True)
    except ValueError as exc:
        raise ValidationError(f"Примечание не добавлено: {exc}", fields={"text": str(exc)}) from None
    if not text:
        raise ValidationError("Пустое примечание", fields={"text": "Напишите текст примечания"})
    note = Note(order_id=order.id, author_id=author.id, text=text, internal=internal)
    db.session.add(note)
    for user in mentioned_users(text):
        if user.id == author.id:
            continue
        mention(order, user, author, text)
    audit.record(order.id, "field", author, field="note", new=text[:200], entity="note")
    return note
