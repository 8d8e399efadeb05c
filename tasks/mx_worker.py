"""The MXNet worker's Celery entry point: ``celery -A tasks.mx_worker worker --pool solo -Q mxnet``
(``start.sh worker --backend mxnet``), run in the MXNet environment (.venv-mxnet).

Same transport, claim, lease, shutdown and inventory as the torch worker (tasks/worker.py); only
the jobs differ. Nothing here imports torch, torch_geometric or scikit-learn.
"""

from tasks.celery_app import get_celery

celery = get_celery()

from tasks import mx_export, mx_jobs, shutdown, task_logging, worker_identity  # noqa: E402,F401 - registers jobs and signal handlers
