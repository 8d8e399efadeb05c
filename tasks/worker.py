"""The worker's Celery entry point: ``celery -A tasks.worker worker --pool solo -Q torch``.

The solo pool runs the job in the worker's main process, one at a time: a SIGTERM then reaches
the running job (see tasks/shutdown.py) and a SIGKILL takes the job with it, which the lease
reaper notices.
"""

from tasks.celery_app import get_celery

celery = get_celery()

from tasks import export_jobs, jobs, shutdown, task_logging, worker_identity  # noqa: E402,F401 - registers jobs and signal handlers
