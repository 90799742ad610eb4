"""The functions django-q2 may run, and the fewer a person may schedule.

Two notions:

* **registered** ("may run"): every public function defined in an app's
  ``tasks.py`` plus every ``func`` of ``backoffice.schedules.SCHEDULES``. The
  worker's ``pre_enqueue`` guard lets only these through; the application's
  own code queues internal tasks (``backoffice.tasks.import_apply_task`` …)
  by dotted name, so they must stay registered.
* **schedulable** ("may be scheduled by a person"): the functions marked
  ``@schedulable`` plus the ``SCHEDULES`` functions. The schedule admin offers
  only these (as function and as hook). Internal tasks whose arguments name
  another user's data (an import preview id) are never schedulable.

A ``Schedule`` names its function as a dotted path that the worker imports and
calls, so a free-text ``func`` is code execution for whoever may edit
schedules. The registry is every public function defined in an app's
``tasks.py`` plus every ``func`` of ``backoffice.schedules.SCHEDULES``; the
schedule admin offers only these, and ``refuse_unregistered_tasks`` (connected
to django-q2's ``pre_enqueue``) replaces anything else with a task that fails
loudly, so a schedule written straight into the database cannot run either.

Schedule ``args``/``kwargs`` are Python literals (``ast.literal_eval``, never
``eval``); ``q_options`` (which could smuggle a hook) are refused.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import keyword
from functools import cache
from pathlib import Path

import structlog
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError

logger = structlog.get_logger(__name__)

UNREGISTERED_TASK = "backoffice.task_registry.unregistered_task"
SCHEDULABLE_ATTRIBUTE = "backoffice_schedulable"


def schedulable(func):
    """Mark a task of an app's ``tasks.py`` as one a person may pick in the schedule admin."""
    setattr(func, SCHEDULABLE_ATTRIBUTE, True)
    return func


@cache
def registered_tasks() -> dict[str, str]:
    """Dotted path -> label (first docstring line) of every task the worker may run."""
    return {path: label for path, (label, _) in _task_table().items()}


@cache
def schedulable_tasks() -> dict[str, str]:
    """Dotted path -> label of the tasks a person may schedule: ``@schedulable`` ones and ``SCHEDULES``' own."""
    return {path: label for path, (label, allowed) in _task_table().items() if allowed}


@cache
def _task_table() -> dict[str, tuple[str, bool]]:
    """Dotted path -> (label, schedulable) of every registered task."""
    from backoffice.schedules import SCHEDULES

    found: dict[str, tuple[str, bool]] = {}
    for config in apps.get_app_configs():
        if not _is_project_app(Path(config.path)):
            continue  # third-party apps contribute no tasks (django_q.tasks.async_task would run anything)
        module_name = f"{config.name}.tasks"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if func.__module__ == module_name and not name.startswith("_"):
                found[f"{module_name}.{name}"] = (_label(func), bool(getattr(func, SCHEDULABLE_ATTRIBUTE, False)))
    for spec in SCHEDULES:
        label, _ = found.get(spec["func"], (spec["func"], True))
        found[spec["func"]] = (label, True)
    return dict(sorted(found.items()))


def _is_project_app(path: Path) -> bool:
    """An app of this repository, not an installed package (the virtualenv may live inside the repository)."""
    return path.is_relative_to(settings.BASE_DIR) and not {"site-packages", "dist-packages"} & set(path.parts)


def _label(func) -> str:
    doc = inspect.getdoc(func) or func.__name__
    return doc.splitlines()[0].rstrip(".")


def task_choices() -> list[tuple[str, str]]:
    """What the schedule admin offers: the schedulable tasks only."""
    return [(path, f"{label} ({path})") for path, label in schedulable_tasks().items()]


def is_registered(func_path: str) -> bool:
    return func_path in registered_tasks()


def is_schedulable(func_path: str) -> bool:
    return func_path in schedulable_tasks()


def parse_schedule_args(text: str | None) -> tuple:
    """A schedule's positional arguments as the worker will see them; ValidationError if not literals."""
    if not text or not text.strip():
        return ()
    try:
        value = ast.literal_eval(text.strip())
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise ValidationError(
            "Arguments must be Python literals separated by commas, e.g. 1, 'MAIN' — no expressions or code.",
            code="invalid_args",
        ) from exc
    return value if type(value) is tuple else (value,)


def parse_schedule_kwargs(text: str | None) -> dict:
    """A schedule's keyword arguments (``a=1, b='x'`` or ``{'a': 1}``); ValidationError if not literals."""
    if not text or not text.strip():
        return {}
    text = text.strip()
    message = "Keyword arguments must look like name=1, other='text' (Python literals only) — no expressions or code."
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        value = None
    if value is None:
        try:
            call = ast.parse(f"f({text})", mode="eval").body
            if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
                raise ValueError
            value = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as exc:
            raise ValidationError(message, code="invalid_kwargs") from exc
    if not isinstance(value, dict) or not all(
        isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key) for key in value
    ):
        raise ValidationError(message, code="invalid_kwargs")
    if "q_options" in value:
        raise ValidationError("q_options cannot be set on a schedule.", code="invalid_kwargs")
    return value


def unregistered_task(func: str) -> None:
    """Stand-in for a task whose function is not registered: fails, so the failure is visible."""
    raise PermissionError(f"Refused to run {func!r}: not one of the application's registered tasks.")


def refuse_unregistered_tasks(sender, task: dict, **kwargs) -> None:
    """django-q2 ``pre_enqueue``: a named function or hook outside the registry never reaches the worker.

    Functions passed as Python callables come from the application's own code
    and are let through; dotted names (what a ``Schedule`` stores) are checked.
    """
    func = task.get("func")
    if isinstance(func, str) and func != UNREGISTERED_TASK and not is_registered(func):
        logger.error("task.refused", func=func, task_name=task.get("name"))
        task["func"], task["args"], task["kwargs"] = UNREGISTERED_TASK, (func,), {}
    hook = task.get("hook")
    if isinstance(hook, str) and not is_registered(hook):
        logger.error("task.hook_refused", hook=hook, task_name=task.get("name"))
        task.pop("hook")
