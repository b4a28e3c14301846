"""documents.render: the order's PDFs (contract, invoice, act …), each a new version."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from app import clock
from app.engine.bindings import RECORDS
from app.errors import OperatorInputError
from app.extensions import db
from app.models import Claim, Document, HumanTask, Order
from app.operators.registry import JobContext, OperatorError
from app.services.bindings import order_tasks
from app.services.calendar import company_tz
from app.services.documents import DOCUMENT_KINDS, format_money, render_pdf
from app.services.money import exact_decimal

SUFFIX = {"contract": "Д", "invoice": "С", "act": "А", "claim_report": "П"}


def document_context(order: Order, kind: str, version: int, process_data: dict | None = None) -> dict:
    """The plain context the document templates expect, built from the order."""
    data = process_data or {}
    return {
        "company": dict(current_app.config["COMPANY"]),
        "order": {
            "number": order.number, "kind": order.kind, "kind_label": order.kind_label,
            "address": order.address, "description": order.description, "created_at": _local_date(order.created_at),
            "promised_date": order.promised_date, "price": order.price, "prepayment": order.prepayment,
            "payment_type": order.payment_type,
            "crew": order.crew.name if order.crew else None, "delivery_at": _local_date(order.delivery_at),
        },
        "customer": {"name": order.customer.name, "phone": order.customer.phone, "email": order.customer.email},
        "components": [{"name": c.name, "quantity": c.quantity, "unit": c.unit} for c in order.components],
        "payments": [{"number": p.number, "date": p.paid_on, "amount": p.amount, "method": p.method}
                     for p in order.payments],
        "document": {"number": f"{order.number}-{SUFFIX.get(kind, 'X')}", "date": _today(), "version": version},
        "contract": _contract(order, kind),
        "vat_rate": Decimal(str(current_app.config["VAT_RATE"])),
        "installation": _installation(order, data),
        "claim": _claim(order),
    }


def _today() -> date:
    """The document date is the company's calendar day, not the server's (UTC near midnight is yesterday)."""
    return clock.today()


def _local_date(moment: datetime | None) -> date | None:
    """A stored UTC moment as the company's calendar day: what a paper document prints."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(company_tz()).date()


def _contract(order: Order, kind: str) -> dict:
    """The contract the other documents refer to: its number, and the date of its latest edition."""
    latest = None if kind == "contract" else db.session.execute(
        select(Document.created_at).where(Document.order_id == order.id, Document.kind == "contract")
        .order_by(Document.version.desc()).limit(1)).scalar()
    return {"number": f"{order.number}-{SUFFIX['contract']}", "date": _local_date(latest) if latest else _today()}


def _last_task(order: Order, records: str) -> HumanTask | None:
    """The latest completed run of the user task that records this: loops (re-measure, re-visit) leave several."""
    return db.session.execute(select(HumanTask).where(
        order_tasks(order, RECORDS, records), HumanTask.state == "completed")
        .order_by(HumanTask.id.desc()).limit(1)).scalar()


def _installation(order: Order, data: dict) -> dict:
    """The installer's report and the customer's acceptance: from the job's data, else the installation form."""
    task = _last_task(order, "installation")
    source = data
    if "installation_report" not in data:
        source = (task.data or {}) if task is not None else {}
    return {"report": source.get("installation_report"), "accepted": source.get("customer_accepted"),
            "date": _local_date(task.completed_at) if task is not None else None}


def _claim(order: Order) -> dict:
    """The order's latest claim with its resolution, and the crew's report when the resolution was a revisit."""
    claim = db.session.execute(select(Claim).where(Claim.order_id == order.id)
                               .order_by(Claim.id.desc()).limit(1)).scalar()
    if claim is None:
        return {}
    revisit = _last_task(order, "revisit")
    if revisit is not None and claim.created_at and revisit.completed_at and revisit.completed_at < claim.created_at:
        revisit = None  # the crew's report of an earlier claim
    return {"text": claim.text, "resolution": claim.resolution, "resolution_comment": claim.resolution_comment,
            "discount_amount": claim.discount_amount, "filed_at": _local_date(claim.created_at),
            "resolved_at": _local_date(claim.resolved_at),
            "revisit_report": (revisit.data or {}).get("revisit_report") if revisit is not None else None}


def _amount(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return exact_decimal(value)
    except ValueError:
        return None


def input_problem(kind: str, context: dict) -> str | None:
    """What in the data people typed would make this document wrong, worded for the one who must fix it."""
    order = context["order"]
    price, prepayment = _amount(order.get("price")), _amount(order.get("prepayment"))
    discount = _amount((context.get("claim") or {}).get("discount_amount"))
    for label, value in (("стоимость заказа", price), ("предоплата", prepayment), ("скидка по претензии", discount)):
        if value is not None and not value.is_finite():
            return f"{label} — не число ({value})"
        if value is not None and value < 0:
            return f"{label} не может быть отрицательной ({format_money(value)})"
    if kind != "claim_report" and price is not None and prepayment is not None and prepayment > price:
        return f"предоплата {format_money(prepayment)} больше стоимости заказа {format_money(price)}"
    if kind == "claim_report" and price is not None and discount is not None and discount > price:
        return f"скидка по претензии {format_money(discount)} больше стоимости заказа {format_money(price)}"
    return None


def _render_pdf(kind: str, context: dict) -> bytes:
    """The PDF, or OperatorInputError when the order's data cannot make a correct document of this kind."""
    problem = input_problem(kind, context)
    if problem:
        raise OperatorInputError(problem)
    try:
        return render_pdf(kind, context)
    except (ValueError, ArithmeticError) as exc:  # the templates' own refusals: a negative sum, not a number
        raise OperatorInputError(f"данные заказа не подходят для документа «{DOCUMENT_KINDS[kind]}»: {exc}") from exc


def render(ctx: JobContext) -> dict:
    """Render outside the write lock, then keep each PDF once per job (a re-run reuses it)."""
    kinds = ctx.params.get("kinds") or []
    if isinstance(kinds, str):
        kinds = [kinds]
    unknown = [kind for kind in kinds if kind not in DOCUMENT_KINDS]
    if unknown:
        raise OperatorError(f"unknown document kind '{unknown[0]}'", permanent=True)
    rendered = []
    for kind in kinds:
        existing = _existing(ctx.job_id, kind)
        if existing is None:
            order = ctx.order
            assert order is not None  # documents are always an order's
            version = (db.session.execute(select(func.max(Document.version)).where(
                Document.order_id == order.id, Document.kind == kind)).scalar() or 0) + 1
            pdf = _render_pdf(kind, document_context(order, kind, version, ctx.params.get("data")))
            with ctx.write():
                existing = _existing(ctx.job_id, kind)
                if existing is None:
                    # Counted again under the write lock: if a parallel render took the number, this one is
                    # rendered again so the edition printed on it is the one it is stored as (rare).
                    taken = (db.session.execute(select(func.max(Document.version)).where(
                        Document.order_id == ctx.order_id, Document.kind == kind)).scalar() or 0) + 1
                    if taken != version:
                        version = taken
                        pdf = _render_pdf(kind, document_context(order, kind, version, ctx.params.get("data")))
                    existing = Document(order_id=ctx.order_id, kind=kind, version=version, content=pdf,
                                        job_id=ctx.job_id, filename=f"{order.number}-{kind}-v{version}.pdf")
                    db.session.add(existing)
                    db.session.flush()
                rendered.append({"kind": kind, "version": existing.version, "id": existing.id})
        else:
            rendered.append({"kind": kind, "version": existing.version, "id": existing.id})
    return {"documents": rendered}


def _existing(job_id: int, kind: str) -> Document | None:
    return db.session.execute(select(Document).where(Document.job_id == job_id,
                                                     Document.kind == kind)).scalar_one_or_none()
