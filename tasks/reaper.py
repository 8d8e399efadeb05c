"""The lease reaper (``start.sh beat``): finds tasks whose worker vanished and messages that
were lost, so that no task row is ever left that nothing will run."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from blobstore import get_store
from dao import blobs, model_queries, task_transitions, worker_queries
from dao.db import session_scope
from contracts.settings import Settings, get_settings
from dao.clock import as_utc
from dao.tables import Dataset, ServedModel, Task, TaskArtifact, Worker, utcnow
from contracts.statuses import DatasetStatus, TaskStatus
from tasks.dispatch import dispatch_waiting, message_queue
from tasks.publish import (PublishError, broker_lost_its_data, broker_queue_depth, imports_queue,
                           publish_export, publish_image_import, publish_task)

log = logging.getLogger(__name__)
S = TaskStatus


@dataclass
class ReapReport:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    exports: list[int] = field(default_factory=list)
    blobs_deleted: list[str] = field(default_factory=list)
    blobs_missing: list[str] = field(default_factory=list)
    freed: list[str] = field(default_factory=list)


def reap_once(settings: Settings | None = None, broker_lost: bool | None = None,
              now: dt.datetime | None = None, collect_garbage: bool | None = None) -> ReapReport:
    """One sweep. ``broker_lost``: whether the broker is known to have lost its data (None:
    look now). ``now``: the time the sweep judges leases and message ages by (None: utcnow());
    a test moves it forward instead of waiting. Placing (dispatch_waiting) reads the clock.
    ``collect_garbage``: compare the blob store with the rows now (None: when
    ``blob_gc_interval_seconds`` have passed since the last time)."""
    settings = settings or get_settings()
    now = now or utcnow()
    report = ReapReport()
    _reclaim_orphans(settings, report, now)
    _free_stale_reservations(report)
    _publish_unsent(settings, report, broker_lost_its_data() if broker_lost is None else broker_lost, now)
    if _gc_due(settings, now) if collect_garbage is None else collect_garbage:
        _collect_blob_garbage(settings, report, now)
    return report


_last_gc: dict[str, dt.datetime] = {}


def _gc_due(settings: Settings, now: dt.datetime) -> bool:
    last = _last_gc.get("at")
    return last is None or abs((now - last).total_seconds()) >= settings.blob_gc_interval_seconds


# What names objects in the blob store: (the key prefix its objects go under, the column naming them).
BLOB_OWNERS = (("tasks", TaskArtifact.blob_key), ("datasets", Dataset.blob_key), ("models", ServedModel.onnx_key))


def _collect_blob_garbage(settings: Settings, report: ReapReport, now: dt.datetime) -> None:
    """Objects no row names (a worker, an upload or an export killed between writing one and
    committing its row) are deleted once older than the grace period; rows whose object is gone
    are logged."""
    _last_gc["at"] = now
    store = get_store()
    written_before = now - dt.timedelta(seconds=settings.blob_gc_grace_seconds)
    for prefix, column in BLOB_OWNERS:
        with session_scope() as session:
            named = session.scalars(select(column).where(column.is_not(None))).all()
        try:
            found = blobs.garbage(store, prefix, named, written_before)
            for key in found.orphans:
                store.delete(key)
                report.blobs_deleted.append(key)
        except Exception as exc:  # noqa: BLE001 - a store that is away is tried again next interval
            log.warning("blob garbage collection under %s/ failed: %s", prefix, exc)
            continue
        if found.orphans:
            log.info("blob store: deleted %d objects under %s/ that no row names", len(found.orphans), prefix)
        if found.missing:
            report.blobs_missing += found.missing
            log.error("blob store: %d rows name an object under %s/ that is gone, e.g. %s",
                      len(found.missing), prefix, found.missing[0])


def _free_stale_reservations(report: ReapReport) -> None:
    """A worker marked as holding a task it does not hold (the task finished or went elsewhere,
    and the release was lost to a database blip) is freed, or it would never get work again."""
    with session_scope() as session:
        held = session.execute(select(Worker.name, Worker.current_task_id, Task.status, Task.worker)
                               .join(Task, Task.id == Worker.current_task_id, isouter=True)
                               .where(Worker.current_task_id.is_not(None))).all()
        for name, task_id, status, holder in held:
            if status not in (S.QUEUED.value, S.RUNNING.value, S.STOPPING.value) or holder != name:
                worker_queries.release_worker(session, name, task_id)
                report.freed.append(name)


def _reclaim_orphans(settings: Settings, report: ReapReport, now: dt.datetime) -> None:
    """RUNNING/STOPPING tasks whose lease expired: STOPPING ones stop; the others go back to
    the queue with attempt + 1 (resuming from their checkpoint) or fail after max_attempts."""
    cutoff = now - dt.timedelta(seconds=settings.lease_seconds)
    with session_scope() as session:
        orphans = session.scalars(select(Task).where(
            Task.status.in_([S.RUNNING.value, S.STOPPING.value]), Task.heartbeat_at < cutoff,
        ).with_for_update(skip_locked=True)).all()
        for task in orphans:
            _reclaim(session, task, settings, report)


def _reclaim(session, task: Task, settings: Settings, report: ReapReport) -> None:  # noqa: ANN001
    worker = task.worker
    if task.status == S.STOPPING.value:
        won, status, bucket = task_transitions.stop_orphan(session, task.id, task.heartbeat_at), \
            S.STOPPED.value, report.stopped
    elif task.attempt >= settings.max_attempts:
        message = f"worker lost {task.attempt} times (last: {worker}); giving up"
        won = task_transitions.fail_orphan(session, task.id, task.status, task.heartbeat_at, message)
        status, bucket = S.FAILED.value, report.failed
    else:
        won = task_transitions.requeue_orphan(session, task.id, task.status, task.heartbeat_at, task.attempt)
        status, bucket = S.QUEUED.value, report.requeued
    if won:
        bucket.append(task.id)
        log.warning("task %s: worker %s lost its lease; now %s", task.id, worker, status)


def _publish_unsent(settings: Settings, report: ReapReport, lost: bool, now: dt.datetime) -> None:
    _unplace_from_dead_workers(settings, now)
    _unplace_from_unconsumed_queues(settings, now)
    report.published += dispatch_waiting()
    # A broker that lost everything (Redis restarted empty): every message is gone, so re-send
    # all at once rather than waiting out requeue_after_seconds for each.
    if lost:
        log.warning("reaper: the broker lost its data; re-publishing every queued task and import")
    _republish_lost(settings, report, now, everything=lost)
    _republish_image_imports(settings, report, now, everything=lost)
    _resend_exports(settings, report, now, everything=lost)


def _republish_image_imports(settings: Settings, report: ReapReport, now: dt.datetime,
                             everything: bool = False) -> None:
    """Image uploads still VALIDATING long after upload (``everything``: at all), while the
    imports queue holds fewer messages than there are such uploads, lost their import message:
    send it again (a duplicate is harmless, the worker's READY/REJECTED update is a
    compare-and-set)."""
    stale = now - dt.timedelta(seconds=0 if everything else settings.requeue_after_seconds)
    with session_scope() as session:
        pending = session.execute(select(Dataset.name, Dataset.created_at).where(
            Dataset.status == DatasetStatus.VALIDATING.value)).all()
    if not pending:
        return
    depth = broker_queue_depth(imports_queue())
    if depth is None or depth >= len(pending):
        return
    for name, created_at in pending:
        if as_utc(created_at) < stale:
            try:
                publish_image_import(name)
            except PublishError:
                return
            report.imports.append(name)


def _resend_exports(settings: Settings, report: ReapReport, now: dt.datetime, everything: bool = False) -> None:
    """Exports whose worker stopped beating (killed mid-export) are sent again, then handed back
    (a worker that takes the new message first takes the stale hold over itself); ``everything``
    (the broker lost its data): those no worker has taken yet are sent again as well."""
    stale_before = now - dt.timedelta(seconds=settings.lease_seconds)
    with session_scope() as session:
        resend = model_queries.stale_exports(session, stale_before)
        if everything:
            resend += [(model_id, task_id, None) for model_id, task_id in model_queries.untaken_exports(session)]
        backends = dict(session.execute(select(Task.id, Task.backend).where(
            Task.id.in_([task_id for _, task_id, _ in resend if task_id]))).all()) if resend else {}
    for model_id, task_id, exporter in resend:
        try:
            publish_export(model_id, backends.get(task_id, "torch"))
        except PublishError:
            return
        if exporter is not None:
            with session_scope() as session:
                model_queries.release_export(session, model_id, exporter, stale_before)
        report.exports.append(model_id)
        log.warning("model %s: its export was lost; sent again", model_id)


def _unplace_from_dead_workers(settings: Settings, now: dt.datetime) -> None:
    """A task sent to a worker that died before taking it goes back to the dispatcher."""
    with session_scope() as session:
        live = {w.name for w in worker_queries.live_workers(session, settings.lease_seconds, now=now)}
        placed = session.execute(select(Task.id, Task.worker).where(
            Task.status == S.QUEUED.value, Task.worker.is_not(None))).all()
        for task_id, worker in placed:
            if worker not in live:
                task_transitions.unplace_from_worker(session, task_id, worker)
                log.warning("task %s: its worker %s vanished before taking it; re-dispatching",
                            task_id, worker)


def _unplace_from_unconsumed_queues(settings: Settings, now: dt.datetime) -> None:
    """A task sent to a backend's shared queue while no GPU worker was up, when now only GPU
    workers are (they consume only their own queues), goes back to the dispatcher."""
    stale = now - dt.timedelta(seconds=settings.requeue_after_seconds)
    with session_scope() as session:
        workers = worker_queries.live_workers(session, settings.lease_seconds, now=now)
        for backend in {w.backend for w in workers}:
            base = settings.mxnet_queue if backend == "mxnet" else settings.torch_queue
            if any(base in (w.queues or []) for w in workers if w.backend == backend):
                continue
            moved = task_transitions.unplace_from_queue(session, backend, base, stale)
            if moved:
                log.warning("%d %s task(s) waited in %s, which no live worker consumes; "
                            "re-dispatching", moved, backend, base)


def _republish_lost(settings: Settings, report: ReapReport, now: dt.datetime,
                    everything: bool = False) -> None:
    """Re-publish old messages (``everything``: all) of queues that hold fewer messages than
    queued tasks (the broker lost some, e.g. Redis restarted without persistence). Duplicates
    are harmless: the claim is a compare-and-set. They go to the head of their queue, newest
    first, so the oldest is taken first and none waits behind tasks submitted after it."""
    stale = now - dt.timedelta(seconds=0 if everything else settings.requeue_after_seconds)
    with session_scope() as session:
        published = session.scalars(select(Task).where(
            Task.status == S.QUEUED.value, Task.published_at.is_not(None))
            .order_by(Task.created_at.desc(), Task.id.desc())).all()
    by_queue: dict[str, list[Task]] = {}
    for task in published:
        by_queue.setdefault(message_queue(task), []).append(task)
    for queue, tasks in by_queue.items():
        depth = broker_queue_depth(queue)
        if depth is None or depth >= len(tasks):
            continue
        for task in tasks:
            if as_utc(task.published_at) < stale and _republish(task, queue):
                report.published.append(task.id)


def _republish(task: Task, queue: str) -> bool:
    try:
        publish_task(task.id, task.backend, queue, front=True)
    except PublishError:
        return False
    with session_scope() as session:
        task_transitions.mark_republished(session, task.id)
    return True


def run_forever(settings: Settings | None = None) -> None:
    from tasks import metrics_registry, reaper_metrics
    from tasks.fleet_metrics import FleetCollector

    settings = settings or get_settings()
    log.info("reaper: every %.1fs, lease %.0fs", settings.reaper_interval_seconds,
             settings.lease_seconds)
    metrics_registry.serve(settings.metrics_port, FleetCollector(), role="reaper")
    durations = reaper_metrics.DurationWatch()
    lost = None
    while True:
        # Known before the sweep and kept when it fails: the marker says so only once.
        lost = broker_lost_its_data() if lost is None else lost
        try:
            report = reap_once(settings, lost)
            lost = None
            reaper_metrics.count_report(report)
            durations.observe_new()
            if any(vars(report).values()):
                log.info("reaper: %s", report)
        except Exception as exc:  # noqa: BLE001 - a database or broker blip: try next round
            reaper_metrics.count_failed_sweep()
            log.warning("reaper: sweep failed: %s", exc)
        lost = _wait_for_next_sweep(settings.reaper_interval_seconds) or (True if lost else None)


# Between sweeps the reaper looks at the broker's marker this often (one Redis SET NX), so a
# broker that lost its queues is noticed within about a second, not a whole reaper interval.
BROKER_CHECK_SECONDS = 1.0


def _wait_for_next_sweep(interval: float) -> bool | None:
    """Sleep ``interval``, or less when the broker is seen to have lost its data meanwhile
    (returns True); None when the next sweep should look itself."""
    deadline = time.monotonic() + interval
    while (left := deadline - time.monotonic()) > BROKER_CHECK_SECONDS:
        time.sleep(BROKER_CHECK_SECONDS)
        if broker_lost_its_data():
            return True
    time.sleep(max(left, 0.0))
    return None


if __name__ == "__main__":
    from tasks.task_logging import configure_plain_process

    configure_plain_process()
    run_forever()
