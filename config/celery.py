"""The Celery application. Its settings come from Django's (the CELERY_ prefix)."""

import contextlib
import os
import signal

from celery import Celery
from celery.signals import worker_shutting_down

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("basketry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Tasks whose pool process is told about a warm shutdown, so that they can finish within their
# grace period or give their work back (recommendations/services/training_runs.py).
SHUTDOWN_AWARE_TASKS = frozenset({"recommendations.training_run_execute"})


@worker_shutting_down.connect
def _tell_long_tasks_about_the_shutdown(sig=None, how=None, **kwargs) -> None:
    """A warm shutdown (SIGTERM to the worker) waits for running tasks as long as the service
    manager lets it; a training can outlast that and be killed half-way. Its pool process is
    signalled too, so it can finish in its grace period or give the run back. Pool processes of
    other tasks are left alone: they finish before the worker exits."""
    if how != "Warm":
        return
    from celery.worker import state

    for request in list(state.active_requests):
        pid = request.worker_pid
        if request.name in SHUTDOWN_AWARE_TASKS and pid and pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
