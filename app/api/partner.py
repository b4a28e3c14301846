"""The calling partner's settlements: the same figures as the portal's statement and its exports."""
from __future__ import annotations

from flask import jsonify, request

from app.api import bp
from app.api.auth import endpoint
from app.api.schemas import _iso, _money
from app.errors import ValidationError
from app.services.calendar import company_tz
from app.services.periods import parse_period, this_month
from app.services.settlements import TOTALS, statement

PROBLEMS = {"from": ("from", "'from' must be a date, YYYY-MM-DD"), "to": ("to", "'to' must be a date, YYYY-MM-DD"),
            "period": ("from", "'from' is after 'to'")}


@bp.get("/partner/settlements")
@endpoint("partner.portal")
def partner_settlements(user):
    """?from=&to= (inclusive days in the company's time zone); default: the current calendar month."""
    default = this_month()
    try:
        date_from, date_to = parse_period(request.args.get("from"), request.args.get("to"), default)
    except ValueError as exc:
        field, message = PROBLEMS[str(exc)]
        raise ValidationError(message, fields={field: message}) from None
    st = statement(user.partner, date_from or default[0], date_to or default[1], tz=company_tz())
    return jsonify({
        "partner": {"code": st.partner.code, "name": st.partner.name},
        "from": st.date_from.isoformat(), "to": st.date_to.isoformat(),
        "items": [{"number": row.number, "kind": row.kind, "status": row.status, "created_at": _iso(row.created_at),
                   "commission_pct": str(row.commission_pct),
                   **{name: _money(getattr(row, name)) for name in TOTALS}} for row in st.rows],
        "totals": {name: _money(st.total(name)) for name in TOTALS},
    })
