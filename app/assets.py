"""Third-party front-end files, installed from npm at setup and served from node_modules."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, abort, send_from_directory

from app.web import allowed

ROOT = Path(__file__).resolve().parent.parent
# Public name -> file inside node_modules. Only these are served.
VENDOR = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
}


def init_app(app: Flask) -> None:
    @app.get("/vendor/<name>")
    @allowed("public")
    def vendor(name: str):
        path = VENDOR.get(name)
        if path is None:
            abort(404)
        full = ROOT / "node_modules" / path
        if not full.exists():
            abort(404, description=f"{name} is missing: run `npm install` (make install does)")
        return send_from_directory(full.parent, full.name, max_age=86400)
