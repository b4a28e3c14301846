"""Bearer tokens and the decorator every API view goes through."""
from __future__ import annotations

from contextlib import nullcontext
from functools import wraps

from flask import current_app, jsonify, request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from app import policy
from app.api import bp
from app.errors import BespokeError, Conflict, Unauthorized, ValidationError
from app.models import User
from app.models.users import signed_in_user
from app.services.inputs import parse_json
from app.usecases.signin import sign_in
from app.usecases.uow import discard, unit_of_work


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="api-token")


def issue_token(user: User) -> str:
    # The password hash's tail ties the token to the password: changing it revokes old tokens.
    return _serializer().dumps({"uid": user.id, "pw": user.password_hash[-12:]})


def _user_from_token(token: str) -> User:
    try:
        data = _serializer().loads(token, max_age=current_app.config["API_TOKEN_MAX_AGE"])
    except SignatureExpired as exc:
        raise Unauthorized("The token has expired; request a new one") from exc
    except BadSignature as exc:
        raise Unauthorized("Invalid token") from exc
    uid = data.get("uid")
    user = signed_in_user(uid) if type(uid) is int else None  # an id, never a bool or a string
    if user is None or not user.active or user.password_hash[-12:] != data.get("pw"):
        raise Unauthorized("Invalid token")
    return user


def bearer_token() -> str:
    """The request's bearer token, or 401. Never the browser's session cookie: the API is CSRF-exempt, so a cookie
    would let any other site's form act as the signed-in employee."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    raise Unauthorized("Authentication required: send 'Authorization: Bearer <token>'")


def authenticate() -> User:
    """The bearer token's user, read once a request (the document's checks ask first, then the view)."""
    token = bearer_token()
    known = request.environ.get("bespoke.api_user")  # this request's, never another's (a test's `g` may outlive one)
    if known is not None and known[0] == token:
        return known[1]
    user = _user_from_token(token)
    request.environ["bespoke.api_user"] = (token, user)
    return user


def json_body() -> dict:
    """The request's JSON object, read strictly: depth, NaN / Infinity and lone surrogates are refused."""
    if not request.is_json:
        raise ValidationError("Expected a JSON object body (Content-Type: application/json)",
                              fields={"_body": "invalid JSON"})
    body = parse_json(request.get_data(cache=True))
    if not isinstance(body, dict):
        raise ValidationError("Expected a JSON object body", fields={"_body": "invalid JSON"})
    return body


class AfterCommit:
    """A response to build once the unit of work has committed."""

    def __init__(self, respond) -> None:
        self.respond = respond


def created(body: dict, location: str):
    """201 Created with the new resource's address (relative to the API's mount point, as the other links)."""
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"{request.script_root}/api/v1{location}"
    return response


def endpoint(action: str, *, write: bool = False):
    """Authenticate, check the caller against the policy's `action`, and for writes run the view as one unit of
    work. The "public" action takes no token; the view checks its order or task itself.

    A write view may return `AfterCommit(fn)`: fn builds the response after the commit, so
    the answer shows the state after the step's inline jobs too.
    """

    public = policy.RULES[action].who == policy.PUBLIC

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            try:
                with unit_of_work() if write else nullcontext():
                    user = None if public else authenticate()
                    if user is not None:
                        policy.ensure(user, action)
                    result = view(user, *args, **kwargs)
                return result.respond() if isinstance(result, AfterCommit) else result
            except StaleDataError as exc:
                discard()
                raise Conflict("Someone else changed this order at the same moment; reload and try again") from exc
            except OperationalError as exc:
                discard()
                if "locked" in str(exc).lower():
                    raise Conflict("The database is busy; try again") from exc
                raise
            except BespokeError:
                discard()
                raise

        wrapper.policy_actions = (action, action)
        return wrapper

    return decorate


@bp.post("/auth/token")
@endpoint("public")
def create_token(_user):
    body = json_body()
    login, password = str(body.get("login") or ""), str(body.get("password") or "")
    user = sign_in(login, password, request.remote_addr or "")  # the web form's throttle: 429 with Retry-After
    return jsonify({"token": issue_token(user), "user": {"login": user.login, "name": user.name,
                                                          "roles": sorted(user.role_codes)}})
