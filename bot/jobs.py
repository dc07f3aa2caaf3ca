"""Scheduled jobs: reminders and expiry of idle interviews, and the daily retention purge
(old conversations, expired invitations).

The interview's part of the idle check (when an interview is idle, the reminder and the
expiry notice) is in bot.interview.idle; this module schedules it.

APScheduler keeps the jobs in the bot's database (`bot.store.jobstore`), so a restart keeps
them. It stores a job as a reference to a module-level function, so the jobs below find the
running engine and store through `_runtime`, set by `Scheduler.start`.

What the jobs do is decided from the database alone (the candidate's last message, the
audit log), never from process memory: an interview that went idle while the bot was down
is reminded, then expired, when it is back. The work itself is in plain async functions
(`check_idle_interviews`, `purge_old_conversations`) that take `now`, so tests drive time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import Settings
from bot.domain import utcnow
from bot.engine import Engine
from bot.interview.idle import IdlePolicy, check_idle_interviews
from bot.knowledge.indexer import index_paths
from bot.knowledge.retrieval import HybridRetriever
from bot.store.jobstore import job_store
from bot.store.sql import SqlStore

log = logging.getLogger(__name__)

IDLE_CHECK_JOB = "idle_check"
RETENTION_PURGE_JOB = "retention_purge"
KB_REINDEX_JOB = "kb_reindex"
STOP_TIMEOUT_S = 10.0


async def purge_old_conversations(
    store: SqlStore, retention_days: int, now: datetime | None = None
) -> int:
    """Delete conversations untouched for `retention_days`, empty the invitations whose
    link expired unused (résumé and candidate name) and delete those expired longer than
    `retention_days` ago; the store audits it. How many conversations were deleted."""
    now = now or utcnow()
    return await store.purge_older_than(now - timedelta(days=retention_days), now=now)


# ---- what APScheduler runs ------------------------------------------------------------


@dataclass
class _Runtime:
    engine: Engine
    store: SqlStore
    policy: IdlePolicy
    retention_days: int
    running: set[asyncio.Task[Any]] = field(default_factory=set)
    knowledge: HybridRetriever | None = None
    kb_paths: tuple[Path, ...] = ()


_runtime: _Runtime | None = None


async def _as_job(name: str, work: Callable[[_Runtime], Awaitable[object]]) -> None:
    runtime = _runtime
    if runtime is None:
        log.warning("job %s ran with no scheduler started; skipped", name)
        return
    task = asyncio.current_task()
    if task is not None:
        runtime.running.add(task)
    try:
        outcome = await work(runtime)
        log.info("job %s done: %s", name, outcome)
    except Exception:
        log.exception("job %s failed; it runs again at its next time", name)
    finally:
        if task is not None:
            runtime.running.discard(task)


async def idle_check_job() -> None:
    await _as_job(IDLE_CHECK_JOB, lambda rt: check_idle_interviews(rt.engine, rt.store, rt.policy))


async def retention_purge_job() -> None:
    await _as_job(
        RETENTION_PURGE_JOB, lambda rt: purge_old_conversations(rt.store, rt.retention_days)
    )


async def reindex_knowledge(runtime: _Runtime) -> str:
    """BOT_KB_PATHS into the knowledge base; incremental, so an unchanged handbook costs a
    hash per file."""
    if runtime.knowledge is None or not runtime.kb_paths:
        return "no BOT_KB_PATHS"
    kb = runtime.knowledge
    report = await index_paths(kb.store, kb.embedder, runtime.kb_paths)
    return report.summary()


async def kb_reindex_job() -> None:
    await _as_job(KB_REINDEX_JOB, reindex_knowledge)


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    id: str
    next_run_at: datetime | None
    trigger: str


class Scheduler:
    """The jobs, persistent in the database at `database_url` (the store's own)."""

    def __init__(
        self,
        engine: Engine,
        store: SqlStore,
        database_url: str,
        *,
        schema: str | None = None,
        policy: IdlePolicy | None = None,
        retention_days: int = 180,
        idle_check_every: timedelta = timedelta(minutes=10),
        purge_hour_utc: int = 3,
        knowledge: HybridRetriever | None = None,
        kb_paths: tuple[Path, ...] = (),
        kb_reindex_every: timedelta = timedelta(hours=1),
    ) -> None:
        self._runtime = _Runtime(
            engine,
            store,
            policy or IdlePolicy(),
            retention_days,
            knowledge=knowledge,
            kb_paths=kb_paths,
        )
        self._kb_trigger = IntervalTrigger(seconds=kb_reindex_every.total_seconds(), timezone=UTC)
        self._database_url, self._schema = database_url, schema
        self._idle_trigger = IntervalTrigger(seconds=idle_check_every.total_seconds(), timezone=UTC)
        self._purge_trigger = CronTrigger(hour=purge_hour_utc, minute=0, timezone=UTC)
        self._scheduler: Any = None

    async def start(self) -> None:
        global _runtime
        _runtime = self._runtime
        self._scheduler = AsyncIOScheduler(
            jobstores={"default": job_store(self._database_url, self._schema)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )
        self._scheduler.start()
        self._ensure(IDLE_CHECK_JOB, idle_check_job, self._idle_trigger)
        self._ensure(RETENTION_PURGE_JOB, retention_purge_job, self._purge_trigger)
        if self._runtime.knowledge is not None and self._runtime.kb_paths:
            if self._scheduler.get_job(KB_REINDEX_JOB) is None:  # first start: index now
                self._scheduler.add_job(
                    kb_reindex_job,
                    self._kb_trigger,
                    id=KB_REINDEX_JOB,
                    name=KB_REINDEX_JOB,
                    next_run_time=datetime.now(UTC),
                )
            self._ensure(KB_REINDEX_JOB, kb_reindex_job, self._kb_trigger)
        log.info("scheduler started: %s", ", ".join(j.id for j in self.jobs()))

    def _ensure(self, job_id: str, func: Callable[[], Awaitable[None]], trigger: Any) -> None:
        existing = self._scheduler.get_job(job_id)
        if existing is not None and str(existing.trigger) == str(trigger):
            return  # keep its next run time: restarting must not postpone a job forever
        self._scheduler.add_job(func, trigger, id=job_id, name=job_id, replace_existing=True)

    def jobs(self) -> list[ScheduledJob]:
        if self._scheduler is None:
            return []
        return [
            ScheduledJob(job.id, job.next_run_time, str(job.trigger))
            for job in self._scheduler.get_jobs()
        ]

    async def stop(self) -> None:
        global _runtime
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        stopped = asyncio.Event()
        scheduler.add_listener(lambda _: stopped.set(), EVENT_SCHEDULER_SHUTDOWN)
        # AsyncIOScheduler shuts down in a loop callback (which also closes the job store's
        # engine); wait for it, so nothing of it outlives stop().
        scheduler.shutdown(wait=False)
        running = list(self._runtime.running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        async with asyncio.timeout(STOP_TIMEOUT_S):
            await stopped.wait()
        if _runtime is self._runtime:
            _runtime = None


def scheduler_from_settings(
    settings: Settings,
    engine: Engine,
    store: SqlStore,
    *,
    knowledge: HybridRetriever | None = None,
) -> Scheduler:
    return Scheduler(
        engine,
        store,
        settings.database_url,
        policy=IdlePolicy(
            reminder_after=timedelta(hours=settings.reminder_after_hours),
            expire_after=timedelta(hours=settings.expire_after_hours),
        ),
        retention_days=settings.retention_days,
        idle_check_every=timedelta(minutes=settings.idle_check_minutes),
        purge_hour_utc=settings.retention_purge_hour,
        knowledge=knowledge,
        kb_paths=settings.kb_paths,
        kb_reindex_every=timedelta(minutes=settings.kb_reindex_minutes),
    )
