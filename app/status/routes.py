"""The customer's status page: `/s/<token>`, no account; the order in plain words and the customer's own tasks.

Every way a token can be wrong (not signed by us, altered, revoked, for an order that is gone) answers the
same 404 page, and each address may miss only a few times before it gets 429 — so numbers cannot be
enumerated. Requests are rate-limited per address as well.
"""
from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.errors import Conflict, NotFound, ValidationError
from app.extensions import db
from app.forms_ui import FormExtras, parse_form, render_form
from app.i18n import LOCALES
from app.models import Attachment, Document, HumanTask, Order
from app.services import customer_view
from app.services.attachments import attachment_ids, file_path, send_attachment
from app.services.forms import prepare_schema
from app.services.inputs import clean_text
from app.services.status_links import order_for_token
from app.status import bp
from app.usecases import customer, process
from app.usecases import tasks as task_cases
from app.web import allowed, limited

QUESTION_MAX = 2000
CHANNEL_CHOICES = ("sms", "email")


@bp.before_request
def _customer_language():
    if request.args.get("lang") in LOCALES:
        session["locale"] = request.args["lang"]


@bp.after_request
def _private(response: Response) -> Response:
    # The token is the key to the order: keep it out of caches, search engines and other sites' logs.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.errorhandler(NotFound)
def _not_found(_exc):
    return render_template("status/missing.html"), 404


@bp.errorhandler(429)
def _too_many(_exc):
    return render_template("status/missing.html", too_many=True), 429


def _customer_task(order: Order, task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None or task.order_id != order.id or task.lane != customer_view.CUSTOMER_LANE:
        raise NotFound("Not found")
    return task


def _form_html(token: str, task: HumanTask, data: dict, errors: dict) -> str:
    forms = process.definition_forms(task.order.instance.definition)
    schema = prepare_schema(forms.get(task.form_schema or "", {}))
    ids = attachment_ids(schema, data)
    names = {str(a.id): a.filename for a in db.session.execute(
        select(Attachment).where(Attachment.order_id == task.order_id, Attachment.id.in_(ids or [0]))).scalars()}
    extras = FormExtras(attachment_names=names,
                        attachment_url=lambda key: url_for("status.attachment", token=token, attachment_id=int(key)))
    return render_form(schema, forms.get(task.form_ui_schema or "", {}), data, errors, extras=extras,
                       use_defaults=not data)


def _page(token: str, order: Order, *, forms: dict | None = None, errors: dict | None = None,
          question: str = "", status: int = 200):
    view = customer_view.view(order)
    forms = forms or {}
    task_forms = {task.id: forms.get(task.id) or _form_html(token, task, {}, {}) for task in view.tasks}
    return render_template("status/page.html", v=view, token=token, task_forms=task_forms, errors=errors or {},
                           question=question, document_labels=customer_view.DOCUMENT_LABELS,
                           claim_state=customer_view.claim_state, channel_choices=CHANNEL_CHOICES,
                           channels=order.customer.notify_channels or list(CHANNEL_CHOICES)), status


@bp.get("/<token>")
@allowed("public")
@limited
def page(token: str):
    return _page(token, order_for_token(token))


@bp.post("/<token>/question")
@allowed("public")
@limited
def question(token: str):
    order = order_for_token(token)
    raw = request.form.get("text") or ""
    error = None
    try:
        text = clean_text(raw, max_length=QUESTION_MAX, multiline=True)
    except ValueError:
        text = raw
        error = (_("Вопрос слишком длинный: не больше %(n)d знаков", n=QUESTION_MAX) if len(raw) > QUESTION_MAX
                 else _("Уберите из вопроса управляющие символы"))
    if not error and len(text) < 3:
        error = _("Напишите вопрос — хотя бы несколько слов")
    if error:
        return _page(token, order, errors={"question": error}, question=text, status=422)
    customer.ask_question(order, text)
    flash(_("Вопрос отправлен менеджеру. Ответ придёт по SMS или e-mail и появится на этой странице."), "success")
    return redirect(url_for("status.page", token=token) + "#questions")


@bp.post("/<token>/tasks/<int:task_id>")
@allowed("public")
@limited
def complete(token: str, task_id: int):
    order = order_for_token(token)
    task = _customer_task(order, task_id)
    if task.state != "open":
        flash(_("Этот шаг уже выполнен — спасибо!"), "info")
        return redirect(url_for("status.page", token=token))
    assert order.instance is not None  # an open task belongs to a running process
    forms = process.definition_forms(order.instance.definition)
    schema = forms.get(task.form_schema or "", {})
    data, uploads = parse_form(schema, request.form, request.files)
    try:
        errors = task_cases.complete_task_with_files(task.id, data, uploads, customer_view.customer_account())
    except Conflict as exc:
        if exc.details.get("instance_status") == "suspended":  # an admin paused the order: keep the answer typed
            flash(_("Заказ временно приостановлен — отправьте ответ чуть позже, он сохранён в форме."), "error")
            order, task = db.session.get_one(Order, order.id), db.session.get_one(HumanTask, task_id)
            return _page(token, order, forms={task_id: _form_html(token, task, data, {})}, status=409)
        # sent twice (a double tap, two devices): the first one counted
        flash(_("Этот шаг уже выполнен — спасибо!"), "info")
        return redirect(url_for("status.page", token=token))
    if errors:
        order = db.session.get_one(Order, order.id)
        task = db.session.get_one(HumanTask, task_id)
        return _page(token, order, forms={task_id: _form_html(token, task, data, errors)}, status=422)
    flash(_("Спасибо! Ваш ответ получен."), "success")
    return redirect(url_for("status.page", token=token))


@bp.post("/<token>/contract")
@allowed("public")
@limited
def approve_contract(token: str):
    order = order_for_token(token)
    if not request.form.get("agree"):
        return _page(token, order, errors={"contract": _("Отметьте, что прочитали договор и согласны с ним")},
                     status=422)
    try:
        customer.approve_contract(order, request.form.get("version", type=int) or 0)
    except (ValidationError, Conflict) as exc:  # a stale edition (422), or approval no longer matters (409)
        return _page(token, db.session.get_one(Order, order.id), errors={"contract": exc.message}, status=exc.status)
    flash(_("Спасибо! Договор согласован, менеджер получил уведомление."), "success")
    return redirect(url_for("status.page", token=token) + "#documents")


@bp.post("/<token>/channels")
@allowed("public")
@limited
def channels(token: str):
    order = order_for_token(token)
    chosen = [c for c in request.form.getlist("channel") if c in CHANNEL_CHOICES]
    if not chosen:
        return _page(token, order, errors={"channels": _("Оставьте хотя бы один способ связи")}, status=422)
    customer.choose_channels(order, chosen, request.form.get("locale") if request.form.get("locale") in LOCALES
                             else None)
    flash(_("Настройки уведомлений сохранены"), "success")
    return redirect(url_for("status.page", token=token) + "#channels")


@bp.get("/<token>/documents/<int:document_id>")
@allowed("public")
@limited
def document(token: str, document_id: int):
    order = order_for_token(token)
    row = db.session.get(Document, document_id)
    if row is None or row.order_id != order.id or row.kind not in customer_view.DOCUMENT_LABELS:
        raise NotFound("Not found")
    return Response(row.content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{row.filename}"'})


@bp.get("/<token>/attachments/<int:attachment_id>")
@allowed("public")
@limited
def attachment(token: str, attachment_id: int):
    """Files the customer sent through this page (their claim photos), nothing staff attached."""
    order = order_for_token(token)
    row = db.session.get(Attachment, attachment_id)
    if (row is None or row.order_id != order.id or row.author_id != customer_view.customer_account().id
            or not row.storage_path or not file_path(row).is_file()):
        raise NotFound("Not found")
    return send_attachment(row)

