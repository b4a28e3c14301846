"""The layers hold: read from the source files (ast), so a shortcut across a layer fails here, not in review."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.support.workers import flask_command

ROOT = Path(__file__).resolve().parent.parent


def _modules(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str]]:
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
    offenders = [_where(path, line) for path in _modules("app") for line, module in _imports(path)
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
                 for line, module in _imports(path) if module.split(".")[0] == "phonenumbers"]
    assert offenders == []
