"""Password sign-in under one throttle, shared by the web form and the API's token endpoint."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from app import clock
from app.errors import TooManyRequests, Unauthorized
from app.extensions import db
from app.models import LoginAttempt, User
from app.usecases.uow import unit_of_work

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOGIN_LENGTH: int = LoginAttempt.__table__.c.login.type.length  # type: ignore[attr-defined]  # a String(n)


def locked_for(login: str, now: datetime | None = None) -> int:
    """Seconds until the login may try again (0: it may now): MAX_FAILURES failures within WINDOW lock it until
    the oldest of those ages out of the window."""
    now = now or clock.now()
    failures = db.session.execute(
        select(LoginAttempt.at).where(LoginAttempt.login == login[:LOGIN_LENGTH], LoginAttempt.success.is_(False),
                                      LoginAttempt.at >= now - WINDOW)
        .order_by(LoginAttempt.at.desc()).limit(MAX_FAILURES)).scalars().all()
    if len(failures) < MAX_FAILURES:
        return 0
    return max(1, math.ceil((failures[-1] + WINDOW - now).total_seconds()))


def sign_in(login: str, password: str, ip: str) -> User:
    """The user whose password this is; TooManyRequests while the login is locked (the password is not even
    checked), Unauthorized for a wrong one.

    The attempt is its own unit of work: a refused one must count although the caller goes on to answer with an
    error.
    """
    wait = locked_for(login)
    if wait:
        raise TooManyRequests(_("Слишком много неудачных попыток входа. Попробуйте через %(minutes)d мин.",
                                minutes=math.ceil(wait / 60)), retry_after=wait)
    with unit_of_work():
        user = db.session.execute(select(User).where(User.login == login)).scalar_one_or_none()
        ok = user is not None and user.active and user.check_password(password)
        db.session.add(LoginAttempt(login=login[:LOGIN_LENGTH], ip=(ip or "")[:64], success=ok))
    if not ok or user is None:
        raise Unauthorized(_("Неверный логин или пароль"))
    return user
