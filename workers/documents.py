"""documents.render: the order's PDFs (contract, invoice, act …), each a new version."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Document, Order
from app.services.documents import DOCUMENT_KINDS, render_pdf
from workers.registry import JobContext, OperatorError

SUFFIX = {"contract": "Д", "invoice": "С", "act": "А", "claim_report": "П"}


def document_context(order: Order, kind: str, version: int, process_data: dict | None = None) -> dict:
    """The plain context the document templates expect, built from the order."""
    data = process_data or {}
    return {
        "company": dict(current_app.config["COMPANY"]),
        "order": {
            "number": order.number, "kind": order.kind, "kind_label": order.kind_label,
            "address": order.address, "description": order.description, "created_at": order.created_at,
            "promised_date": order.promised_date, "price": order.price, "prepayment": order.prepayment,
            "payment_type": order.payment_type,
        },
        "customer": {"name": order.customer.name, "phone": order.customer.phone, "email": order.customer.email},
        "components": [{"name": c.name, "quantity": c.quantity, "unit": c.unit} for c in order.components],
        "document": {"number": f"{order.number}-{SUFFIX.get(kind, 'X')}", "date": date.today(), "version": version},
        "vat_rate": Decimal(str(current_app.config["VAT_RATE"])),
        "installation": {"report": data.get("installation_report"), "accepted": data.get("customer_accepted")},
    }


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
            version = (db.session.execute(select(func.max(Document.version)).where(
                Document.order_id == order.id, Document.kind == kind)).scalar() or 0) + 1
            pdf = render_pdf(kind, document_context(order, kind, version, ctx.params.get("data")))
            with ctx.write():
                existing = _existing(ctx.job_id, kind)
                if existing is None:
                    # The version is counted again under the write lock: a parallel render took the number.
                    version = (db.session.execute(select(func.max(Document.version)).where(
                        Document.order_id == ctx.order_id, Document.kind == kind)).scalar() or 0) + 1
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
