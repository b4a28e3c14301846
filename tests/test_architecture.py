"""The layers hold: read from the source files (ast), so a shortcut fails here before it tangles the code.

web views and the API → use cases (app/usecases) → engine adapter (app/engine) + services (app/services) → models.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.workers import flask_command

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
UNIT_OF_WORK = APP / "usecases" / "uow.py"
# Ending a transaction is the unit of work's alone.
TRANSACTION_CALLS = {"commit", "rollback", "begin_nested"}
BLUEPRINTS = sorted(path.parent.name for path in APP.glob("*/__init__.py") if "Blueprint(" in path.read_text())


def _sources(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module the file imports, at the top or inside a function (`from app import x` counts as app.x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_blueprints_are_found():
    assert {"api", "orders", "status", "tasks", "partner"} <= set(BLUEPRINTS)


def test_only_the_unit_of_work_ends_a_transaction():
    offenders = []
    for path in _sources(APP):
        if path == UNIT_OF_WORK:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in TRANSACTION_CALLS):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.func.attr}()")
    assert offenders == []


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_a_blueprint_imports_no_other_blueprint(blueprint):
    others = [f"app.{name}" for name in BLUEPRINTS if name != blueprint]
    offenders = sorted(f"{path.relative_to(ROOT)} → {module}" for path in _sources(APP / blueprint)
                       for module in _imports(path)
                       if any(_within(module, other) for other in others))
    assert offenders == []


@pytest.mark.parametrize("layer, forbidden", [
    ("services", ["app.usecases"] + [f"app.{name}" for name in BLUEPRINTS]),
    ("usecases", [f"app.{name}" for name in BLUEPRINTS]),
    # The engine adapter knows workflows: not orders, users, services or HTTP views.
    ("engine", ["app.usecases", "app.models", "app.services", "app.operators", "app.policy", "flask_login"]
     + [f"app.{name}" for name in BLUEPRINTS]),
    ("models", ["app.usecases", "app.services", "app.engine"] + [f"app.{name}" for name in BLUEPRINTS]),
])
def test_lower_layers_do_not_import_upper_ones(layer, forbidden):
    offenders = sorted(f"{path.relative_to(ROOT)} → {module}" for path in _sources(APP / layer)
                       for module in _imports(path)
                       if any(_within(module, upper) for upper in forbidden))
    assert offenders == []


def test_the_engine_steps_live_with_the_use_cases():
    """The engine adapter knows workflows, not orders: the process steps are a use-case module."""
    assert not (APP / "engine" / "steps.py").exists()
    assert all(not _within(module, "app.engine.steps") for path in _sources(ROOT / "app") + _sources(ROOT / "workers")
               for module in _imports(path))


def test_an_order_is_born_in_one_place():
    """The API, the order form, the partner portal, inbound mail and the demo all go through place_order."""
    births = {"create_order", "start_order_process", "create_orders"}
    callers = set()
    for path in _sources(APP):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in births:
                    callers.add(str(path.relative_to(ROOT)))
    assert callers == {"app/usecases/orders.py"}

def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _import_lines(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, also the ones inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_the_app_never_imports_workers_and_flask_still_lists_their_commands(app):
    """workers/ (the rq worker, the scheduler loop, the relay, the mail receiver) depend on app/, never the reverse;
    their commands reach `flask` through the entry points in pyproject.toml."""
    offenders = [_where(path, line) for path in _modules("app") for line, module in _import_lines(path)
                 if module == "workers" or module.startswith("workers.")]
    assert offenders == []
    listed = flask_command(app, "--help")
    assert listed.exit_code == 0
    assert {"worker", "scheduler", "mail-receiver", "wake-timers"} <= set(listed.output.split())


def _calls(path: Path, name: str) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and (getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name)]


def test_notifications_leave_only_through_the_notifications_service():
    """Who is told what is decided in app/services/notifications.py: nobody else writes a notify or delivery job."""
    service = ROOT / "app" / "services" / "notifications.py"
    offenders = [_where(path, call.lineno) for path in _modules("app", "workers") if path != service
                 for call in _calls(path, "add_job")
                 if call.args and isinstance(call.args[0], ast.Constant)
                 and call.args[0].value in ("notify", "sms.send", "email.send")]
    writers = [_where(path, call.lineno) for path in _modules("app", "workers") if path != service
               for call in _calls(path, "Notification")]
    assert offenders == [] and writers == []


def test_phone_numbers_are_read_in_one_place():
    phones = ROOT / "app" / "services" / "phones.py"
    offenders = [_where(path, line) for path in _modules("app", "workers") if path != phones
                 for line, module in _import_lines(path) if module.split(".")[0] == "phonenumbers"]
    assert offenders == []
