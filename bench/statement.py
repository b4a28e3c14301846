"""Benchmark: the partner statement — page and reconciliation PDF — for 300 bulk-inserted orders of one point of
sale, timed in-process with the code of the tree given, so that two revisions compare A/B/A in one sitting:

    git archive <rev> | tar -x -C /tmp/base    # and copy its compiled messages.mo
    .venv/bin/python bench/statement.py /tmp/base 15 2; .venv/bin/python bench/statement.py . 15 2; …

Arguments: the tree, page requests, PDF requests. Prints one JSON object: the median ms of the page (`html_ms`), of
the act's download once drawn (`pdf_ms`: what the partner waits for after opening the page, which has a worker
draw it; a tree without the PDF cache draws it on every download), and of a download with nothing drawn yet
(`pdf_cold_ms`: the first one after the statement changed, or before the worker finished).
"""
from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path


def main(root: str, pages: int, pdfs: int) -> dict:
    sys.path.insert(0, str(Path(root).resolve()))
    from sqlalchemy import insert, select

    from app import create_app
    from app.extensions import db
    from app.models import Customer, Order, Partner, Payment
    from tests.support.api import seed
    from tests.test_ui_auth_inbox import sign_in

    tmp = Path(tempfile.mkdtemp(prefix="bespoke-bench-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.sqlite3'}", "JOBS_INLINE": True,
                      "REDIS_URL": "redis://127.0.0.1:1", "SECRET_KEY": "bench", "RQ_QUEUE": "bench",
                      "UPLOADS_DIR": str(tmp / "uploads"), "WTF_CSRF_ENABLED": False})
    with app.app_context():
        db.create_all()
    seed(app)
    with app.app_context():
        partner = db.session.execute(select(Partner).where(Partner.code == "mega")).scalar_one()
        customer = db.session.execute(insert(Customer).values(name="Заказчик", phone=None)
                                      .returning(Customer.id)).scalar_one()
        now = datetime.now(timezone.utc)
        ids = db.session.execute(insert(Order).returning(Order.id), [
            {"number": f"2026-{n:05d}", "kind": "kitchen" if n % 3 else "wardrobe", "channel": "partner",
             "customer_id": customer, "partner_id": partner.id, "stage": "Замер",
             "status": "cancelled" if n % 17 == 0 else "active", "price": Decimal("123456.78") * (n % 5),
             "created_at": now} for n in range(1, 301)]).scalars().all()
        db.session.execute(insert(Payment), [
            {"order_id": oid, "number": "П-1", "paid_on": now.date(), "amount": Decimal("1000.50"),
             "received_by": "partner" if i % 2 else "company"} for i, oid in enumerate(ids)])
        db.session.commit()
    client = app.test_client()
    sign_in(client, "partner_mega")
    result = {}
    cache = tmp / "uploads" / "pdf-cache"
    for key, path, count in (("html_ms", "/partner/settlements", pages), ("pdf_ms", "/partner/settlements.pdf", pdfs),
                             ("pdf_cold_ms", "/partner/settlements.pdf", pdfs)):
        assert client.get(path).status_code == 200  # warm-up: templates, fonts (and the act drawn once)
        times = []
        for _ in range(count):
            if key == "pdf_cold_ms":
                shutil.rmtree(cache, ignore_errors=True)  # nothing drawn yet: the first download after a change
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        result[key] = round(statistics.median(times), 1)
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
