"""Hole 1: schedules may run only the application's registered task functions.

Before the fix an Admin-group user could save a django-q2 ``Schedule`` with
``func=os.system`` and the worker ran it as the server user.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django_q.conf import Conf
from django_q.models import Failure, OrmQ, Schedule
from django_q.tasks import async_task

from backoffice.schedules import SCHEDULES
from backoffice.task_registry import (
    UNREGISTERED_TASK,
    is_schedulable,
    parse_schedule_args,
    parse_schedule_kwargs,
    refuse_unregistered_tasks,
    registered_tasks,
)

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:django_q_schedule_add")


def schedule_post(**overrides) -> dict:
    data = {
        "name": "Nightly check",
        "func": "inventory.tasks.check_stock_task",
        "hook": "",
        "args": "",
        "kwargs": "",
        "schedule_type": Schedule.DAILY,
        "minutes": "",
        "repeats": "-1",
        "next_run_0": "2030-01-01",
        "next_run_1": "02:15:00",
    }
    data.update(overrides)
    return data


@pytest.fixture
def admin_group_client(client, make_user):
    client.force_login(make_user("Admin", username="opsadmin"))
    return client


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


def test_admin_group_user_cannot_schedule_os_system(admin_group_client):
    response = admin_group_client.post(ADD_URL, schedule_post(func="os.system", args="'touch /tmp/pwned'"))

    assert response.status_code == 200
    assert "func" in form_errors(response)
    assert "Select a valid choice" in str(form_errors(response)["func"])
    assert not Schedule.objects.exists()


def test_superuser_cannot_schedule_an_unregistered_function_either(admin_client):
    response = admin_client.post(ADD_URL, schedule_post(func="subprocess.run"))

    assert "func" in form_errors(response)
    assert not Schedule.objects.exists()


def test_unregistered_hook_is_refused(admin_group_client):
    response = admin_group_client.post(ADD_URL, schedule_post(hook="os.system"))

    assert "hook" in form_errors(response)
    assert not Schedule.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("args", "__import__('os').system('id')"),
        ("args", "open('/etc/passwd').read()"),
        ("kwargs", "path=__import__('os').getcwd()"),
        ("kwargs", "q_options={'hook': 'os.system'}"),
        ("kwargs", "**{'a': 1}"),
    ],
)
def test_arguments_must_be_plain_literals(admin_group_client, field, value):
    response = admin_group_client.post(ADD_URL, schedule_post(**{field: value}))

    assert field in form_errors(response)
    assert not Schedule.objects.exists()


def test_registered_task_with_literal_arguments_is_saved(admin_group_client):
    page = admin_group_client.get(ADD_URL)
    assert "inventory.tasks.check_stock_task" in page.content.decode()
    assert "os.system" not in page.content.decode()

    response = admin_group_client.post(
        ADD_URL, schedule_post(func="backoffice.tasks.nightly_backup_task", args="", kwargs="")
    )

    assert response.status_code == 302, form_errors(response)
    schedule = Schedule.objects.get()
    assert schedule.func == "backoffice.tasks.nightly_backup_task"
    assert schedule.hook is None


def test_literal_argument_forms_parse_like_the_scheduler():
    assert parse_schedule_args("1, 'MAIN'") == (1, "MAIN")
    assert parse_schedule_args("42") == (42,)
    assert parse_schedule_kwargs("days=7, code='MAIN'") == {"days": 7, "code": "MAIN"}
    assert parse_schedule_kwargs("{'days': 7}") == {"days": 7}


def test_an_existing_malicious_schedule_cannot_be_saved_unchanged(admin_group_client):
    schedule = Schedule.objects.create(name="planted", func="os.system", args="'id'")
    url = reverse("admin:django_q_schedule_change", args=[schedule.pk])

    response = admin_group_client.post(url, schedule_post(func="os.system", name="planted"))

    assert "func" in form_errors(response)


def test_registry_holds_the_apps_tasks_and_every_schedule():
    tasks = registered_tasks()

    assert "inventory.tasks.check_stock_task" in tasks
    assert "backoffice.tasks.nightly_backup_task" in tasks
    assert {spec["func"] for spec in SCHEDULES} <= set(tasks)
    assert not any(path.startswith(("os.", "subprocess.", "builtins.", "django_q.")) for path in tasks)


def test_a_schedule_written_straight_into_the_database_is_refused_at_enqueue():
    task = {"name": "planted", "func": "os.system", "args": ("id",), "kwargs": {}, "hook": "os.system"}

    refuse_unregistered_tasks(sender="django_q", task=task)

    assert task["func"] == UNREGISTERED_TASK
    assert task["args"] == ("os.system",)
    assert "hook" not in task


def test_unregistered_function_never_runs_in_the_worker(tmp_path):
    marker = tmp_path / "ran"

    with pytest.raises(PermissionError, match="not one of the application's registered tasks"):
        async_task("os.system", f"touch {marker}", sync=True)

    assert not marker.exists()


def test_registered_task_still_runs(stocked_product):
    task_id = async_task("inventory.tasks.check_stock_task", sync=True)

    from django_q.models import Success

    assert Success.objects.get(id=task_id).result == 0


def test_queue_admin_is_for_superusers_only(make_user):
    if not admin.site.is_registered(OrmQ):
        # With Redis as the broker django-q2 has no queue table, so there is no queue page for anyone.
        assert not Conf.ORM
        with pytest.raises(NoReverseMatch):
            reverse("admin:django_q_ormq_changelist")
        return
    url = reverse("admin:django_q_ormq_changelist")
    admin_group, superuser = Client(), Client()
    admin_group.force_login(make_user("Admin", username="opsadmin"))
    superuser.force_login(make_user(superuser=True, username="root"))

    assert admin_group.get(url).status_code == 403
    assert b"django_q/ormq" not in admin_group.get(reverse("admin:index")).content
    assert superuser.get(url).status_code == 200
    assert not OrmQ.objects.exists()


def test_task_results_are_read_only(admin_group_client):
    failure = Failure.objects.create(
        id="f" * 32,
        name="boom",
        func="inventory.tasks.check_stock_task",
        started="2030-01-01T00:00Z",
        stopped="2030-01-01T00:00Z",
        success=False,
        result="Traceback",
    )
    change_url = reverse("admin:django_q_failure_change", args=[failure.pk])

    page = admin_group_client.get(change_url)
    assert page.status_code == 200
    assert admin_group_client.get(reverse("admin:django_q_failure_add")).status_code == 403
    admin_group_client.post(change_url, {"func": "os.system"})
    failure.refresh_from_db()
    assert failure.func == "inventory.tasks.check_stock_task"
    changelist = admin_group_client.get(reverse("admin:django_q_failure_changelist"))
    assert b"resubmit_task" not in changelist.content


def test_setup_schedules_is_idempotent_and_uses_registered_tasks(admin_group_client):
    call_command("setup_schedules", stdout=None)
    first = {(s.name, s.func, s.next_run) for s in Schedule.objects.all()}
    call_command("setup_schedules", stdout=None)

    assert {(s.name, s.func, s.next_run) for s in Schedule.objects.all()} == first
    assert Schedule.objects.count() == len(SCHEDULES)
    assert all(s.func in registered_tasks() for s in Schedule.objects.all())
    changelist = admin_group_client.get(reverse("admin:django_q_schedule_changelist"))
    assert changelist.status_code == 200
    assert b"Nightly backup" in changelist.content


# Internal tasks: registered (the engine queues them) but never schedulable by a person -----------


@pytest.mark.parametrize("func", ["backoffice.tasks.import_apply_task", "backoffice.tasks.import_validate_task"])
def test_internal_import_tasks_cannot_be_scheduled(admin_group_client, func):
    page = admin_group_client.get(ADD_URL).content.decode()
    assert func not in page
    assert "backoffice.tasks.nightly_backup_task" in page

    response = admin_group_client.post(ADD_URL, schedule_post(func=func, args="1"))
    assert "func" in form_errors(response)
    response = admin_group_client.post(ADD_URL, schedule_post(hook=func))
    assert "hook" in form_errors(response)
    assert not Schedule.objects.exists()


def test_internal_import_tasks_stay_runnable_when_queued_by_the_engine():
    task = {"name": "engine", "func": "backoffice.tasks.import_apply_task", "args": (1,), "kwargs": {}}

    refuse_unregistered_tasks(sender="django_q", task=task)

    assert task["func"] == "backoffice.tasks.import_apply_task"
    assert "backoffice.tasks.import_apply_task" in registered_tasks()
    assert not is_schedulable("backoffice.tasks.import_apply_task")
    assert all(is_schedulable(spec["func"]) for spec in SCHEDULES)
