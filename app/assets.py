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
# Public folder -> a package's distribution folder, served whole (the stylesheets load their fonts relatively).
VENDOR_DIRS = {
    "bpmn-js": "bpmn-js/dist",  # the modeler and viewers (bpmn.io licence: the watermark stays visible)
    "dmn-js": "dmn-js/dist",  # the DMN decision-table editor
    "event-calendar": "@event-calendar/build/dist",  # the dispatcher's calendar: resource views, drag and drop
    "frappe-gantt": "frappe-gantt/dist",  # the Gantt of orders across their stages
    "echarts": "echarts/dist",  # charts: the load chart, boards, analytics
}


def init_app(app: Flask) -> None:
    @app.get("/vendor/<name>")
    @allowed("public")
    def vendor(name: str):
        path = VENDOR.get(name)
        if path is None:
            abort(404)
        return _send(ROOT / "node_modules" / path, name)

    @app.get("/vendor/<package>/<path:name>")
    @allowed("public")
    def vendor_dir(package: str, name: str):
        folder = VENDOR_DIRS.get(package)
        if folder is None:
            abort(404)
        return _send(ROOT / "node_modules" / folder / name, f"{package}/{name}", root=ROOT / "node_modules" / folder)


def _send(full: Path, name: str, root: Path | None = None):
    if root is not None and not full.resolve().is_relative_to(root.resolve()):
        abort(404)
    if not full.is_file():
        abort(404, description=f"{name} is missing: run `npm install` (make install does)")
    return send_from_directory(full.parent, full.name, max_age=86400)
