"""Diagram scripts and expressions, compiled and run by RestrictedPython."""
from __future__ import annotations

import ast
import threading
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from app.errors import ScriptError


class RefusedScript(ScriptError):
    """The sandbox refused to compile a script (imports, dunder access, exec …)."""


def _builtins() -> dict:
    allowed = dict(safe_builtins)
    allowed.update(limited_builtins)
    for name in ("all", "any", "sum", "min", "max", "enumerate", "sorted", "reversed", "map",
                 "filter", "list", "dict", "set", "tuple", "len", "round", "abs", "zip", "range",
                 "str", "int", "float", "bool", "isinstance"):
        allowed[name] = __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    allowed.pop("__import__", None)
    return allowed


BUILTINS = _builtins()
GUARDS = {
    "__builtins__": BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
    "_print_": PrintCollector,  # an expression's print goes nowhere; a script's is logged (`execute`)
    "_apply_": lambda f, *a, **kw: f(*a, **kw),
    "datetime": datetime, "date": date, "timedelta": timedelta, "timezone": timezone, "Decimal": Decimal,
}
_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": lambda x, y: x + y, "-=": lambda x, y: x - y, "*=": lambda x, y: x * y,
    "/=": lambda x, y: x / y, "//=": lambda x, y: x // y, "%=": lambda x, y: x % y,
}


def _refuse_imports(source: str) -> None:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise RefusedScript(f"imports are not allowed in diagram scripts (line {node.lineno})")


@lru_cache(maxsize=4096)
def compile_expression(expression: str):
    """Compile an expression under the sandbox; raise RefusedScript with the reason."""
    result = compile_restricted_eval(expression.strip())
    if result.errors:
        raise RefusedScript("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=1024)
def compile_script(script: str):
    """Compile a script under the sandbox; raise RefusedScript with the reason."""
    try:
        _refuse_imports(script)
    except SyntaxError as exc:
        raise RefusedScript(f"syntax error on line {exc.lineno}: {exc.msg}") from exc
    result = compile_restricted_exec(script)
    if result.errors:
        raise RefusedScript("; ".join(result.errors))
    return result.code


def evaluate(expression: str, names: dict[str, Any]) -> Any:
    """An expression run under the sandbox with only `names` (plus the guards) in scope: form rules use it."""
    return eval(compile_expression(expression), {**GUARDS, **names})  # noqa: S307 - restricted code object


def script_names(source: str, mode: str = "exec") -> tuple[set[str], set[str]]:
    """(names read but not bound by the code itself, names it binds): Store targets, for/with/comprehension
    targets, function and lambda arguments. Raises SyntaxError."""
    tree = ast.parse(source.strip(), mode=mode)
    read: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return read - bound, bound


def free_names(expression: str) -> set[str]:
    """The names an expression reads but does not bind itself (a comprehension's or a lambda's own names)."""
    return script_names(expression, "eval")[0]


# `print` and `printed` (what this script printed so far) are RestrictedPython's own, rewritten at compile time.
IN_SCOPE = frozenset({*(name for name in {**BUILTINS, **GUARDS} if not name.startswith("_")), "print", "printed"})


MAX_LOG_LINE = 2_000  # characters of one printed line that are kept
MAX_LOG_LINES = 200  # printed lines kept per engine step; the rest are counted in one last line


class ScriptLog(threading.local):
    """What the scripts of one engine step printed, as (bpmn id, line): per thread, as steps run per request."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.dropped = 0
        self.speaker = ""

    def add(self, text: str) -> None:
        for line in text.splitlines():
            if len(self.lines) >= MAX_LOG_LINES:
                self.dropped += 1
            else:
                self.lines.append((self.speaker, line[:MAX_LOG_LINE]))

    def take(self) -> list[tuple[str, str]]:
        """The lines printed since the last take, and forget them."""
        lines, dropped = self.lines, self.dropped
        if dropped:
            lines.append((self.speaker, f"… ещё {dropped} строк не записано"))
        self.lines, self.dropped = [], 0
        return lines


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Task data as the namespace; builtins limited; helpers injected, never kept in data; `print` logged."""

    def __init__(self, helpers: dict[str, Callable[..., Any]]) -> None:
        super().__init__({**GUARDS, **helpers})
        self.log = ScriptLog()

    def evaluate(self, expression, context, external_context=None):
        namespace = dict(self.globals)
        namespace.update(external_context or {})
        namespace.update(context)
        return eval(compile_expression(expression), namespace)  # noqa: S307 - restricted code object

    def execute(self, script, context, external_context=None):
        clash = set(self.globals).intersection(context)
        if clash:
            raise ScriptError(f"task data overwrites helper names: {sorted(clash)}")
        namespace = dict(self.globals)
        namespace.update(external_context or {})
        namespace.update(context)
        printers: list[PrintCollector] = []

        def printer(_getattr_=None) -> PrintCollector:
            printers.append(PrintCollector(_getattr_))
            return printers[-1]

        namespace["_print_"] = printer
        try:
            exec(compile_script(script), namespace)  # noqa: S102 - restricted code object
        finally:  # what a failing script printed before it failed helps most
            self.log.add("".join(p() for p in printers))
        for key, value in namespace.items():
            if key in self.globals or (external_context and key in external_context):
                continue
            if key.startswith("_") or callable(value):
                continue
            context[key] = value
        for key in [k for k in context if k not in namespace]:
            del context[key]
        return True

    def call_service(self, context, **kwargs):  # our service tasks never call in-process
        raise ScriptError("service tasks run in workers, not in the script engine")


class ScriptEngine(PythonScriptEngine):
    """Spiff's script engine that tells the environment whose script runs, so printed lines carry the task."""

    environment: RestrictedEnvironment

    def execute(self, task, script, external_context=None):
        self.environment.log.speaker = task.task_spec.bpmn_id or task.task_spec.name
        return super().execute(task, script, external_context)
