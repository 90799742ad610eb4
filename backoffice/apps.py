"""The project app: connects the cross-cutting signal handlers once per process."""

from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Backoffice"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_q.signals import post_execute, pre_enqueue

        from backoffice import alerts, scoping, task_admin, task_registry  # noqa: F401 (scoping: its system check)

        # django.contrib.admin (earlier in INSTALLED_APPS) has autodiscovered django-q2's admins: replace them.
        task_admin.register()
        pre_enqueue.connect(task_registry.refuse_unregistered_tasks, dispatch_uid="backoffice.refuse_unregistered")
        post_execute.connect(alerts.task_finished, dispatch_uid="backoffice.task_finished")

        from backoffice import dashboard_cache

        # The start page's cached figures are dropped when orders or stock documents change.
        dashboard_cache.connect_signals()

        from django.contrib.auth.signals import user_logged_in

        from backoffice import signin

        # Whether the user has two-factor on is read once per sign-in (no query per page).
        user_logged_in.connect(signin.remember_enrolment, dispatch_uid="backoffice.two_factor_enrolment")
