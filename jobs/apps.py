from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = _("Background jobs")

    def ready(self) -> None:
        from django_tasks.signals import task_finished

        from . import audit_actions, services, worker  # noqa: F401  # audit_actions: /audit/

        task_finished.connect(services.task_finished, dispatch_uid="jobs.task_finished")
        worker.start_in_process_worker_if_asked()
