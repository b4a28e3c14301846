"""The partner's reconciliation act is drawn ahead of its download and drawn again only when what it prints changes."""
from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import Order, OutboxJob
from app.usecases.uow import unit_of_work
from tests.support.api import Api
from tests.support.web import signed_in
from tests.test_partner_portal import make_order, today_args
from tests.test_step_cost import run_jobs


def prerender_jobs(app) -> list[OutboxJob]:
    with app.app_context():
        jobs = db.session.execute(select(OutboxJob).where(OutboxJob.operator == "statements.prerender")
                                  .order_by(OutboxJob.id)).scalars().all()
        db.session.expunge_all()
        return jobs


def drawn(app) -> list[Path]:
    return sorted((Path(app.config["UPLOADS_DIR"]) / "pdf-cache").glob("*.pdf"))


def pdf_text(content: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=content, capture_output=True,
                          check=True).stdout.decode().replace("\xa0", " ")


def test_opening_the_statement_has_a_worker_draw_the_act_the_download_then_serves(make_app):
    app = make_app(WTF_CSRF_ENABLED=False, JOBS_INLINE=False)  # jobs wait for a worker, as in production
    api = Api(app, app.test_client())
    make_order(api, "wardrobe", price="100000", payments=(("30000", "partner"),))
    run_jobs(app)
    client = signed_in(app, "partner_mega")

    for _ in range(2):  # a refresh while the first is still waiting asks for nothing more
        assert client.get("/partner/settlements?" + today_args()).status_code == 200
    jobs = prerender_jobs(app)
    assert len(jobs) == 1 and jobs[0].status == "queued" and drawn(app) == []
    run_jobs(app)
    assert prerender_jobs(app)[0].status == "done"
    [act] = drawn(app)
    assert "100 000,00" in pdf_text(act.read_bytes())

    download = client.get("/partner/settlements.pdf?" + today_args())
    assert download.status_code == 200 and download.data == act.read_bytes()
    assert drawn(app) == [act]  # served as drawn, not drawn again

    # A payment changes what the act prints: the next download is a new drawing with the new figures.
    with app.app_context(), unit_of_work():
        order = db.session.execute(select(Order)).scalars().first()
        order.price = Decimal("120000.50")
    fresh = client.get("/partner/settlements.pdf?" + today_args())
    assert "120 000,50" in pdf_text(fresh.data) and "100 000,00" not in pdf_text(fresh.data)
    assert len(drawn(app)) == 2


def test_with_jobs_run_in_the_request_nothing_is_drawn_ahead(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)  # JOBS_INLINE, as in tests and the demo: the page stays fast
    api = Api(app, app.test_client())
    make_order(api, "wardrobe", price="100000")
    client = signed_in(app, "partner_mega")
    assert client.get("/partner/settlements?" + today_args()).status_code == 200
    assert prerender_jobs(app) == [] and drawn(app) == []
