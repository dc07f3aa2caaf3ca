"""The composition root: the one place that builds concrete parts from Settings and wires
them together. Nothing else in `bot/` names an implementation or imports `adapters`."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

from bot.config import Settings
from bot.domain import Platform
from bot.engine import Engine, EngineOptions
from bot.errors import BotError, ConfigError
from bot.export import export_user_data
from bot.flows.base import FlowRegistry
from bot.flows.support import SupportFlow
from bot.http import HttpServer
from bot.interview.flow import InterviewFlow
from bot.jobs import scheduler_from_settings
from bot.knowledge.answering import GroundedAnswerer
from bot.knowledge.prompt import load_grounded_prompt
from bot.knowledge.retrieval import HybridRetriever
from bot.knowledge.setup import build_retriever
from bot.llm.client import OpenAICompatibleLLM
from bot.llm.queue import FairQueue, QueuedLLM
from bot.llm.transcription import TranscriptionClient
from bot.pinned_answers import PinnedAnswers
from bot.ports import Adapter
from bot.prompts import PromptLibrary
from bot.speech.audio import AudioLimits
from bot.speech.step import VoiceStep
from bot.speech.transcriber import VoiceTranscriber
from bot.store.api import HelpDeskStore
from bot.store.audio import SqlAudioArchive
from bot.store.checkpoints import SqlCheckpoints
from bot.store.feedback import SqlHelpDesk
from bot.store.sql import SqlStore
from bot.store.startup import redacted_url, upgrade_when_free
from bot.support_desk import SupportDesk

log = logging.getLogger(__name__)


def default_flows(
    help_desk: HelpDeskStore | None = None,
    pinned: PinnedAnswers | None = None,
    *,
    people: bool = False,
    answerer: GroundedAnswerer | None = None,
) -> FlowRegistry:
    """The flows; support answers from the knowledge base when `answerer` is given, and with
    the help desk's store its answers carry feedback, pinned answers and a hand-off to
    people (`people`: an escalation channel is set)."""
    registry = FlowRegistry()
    if help_desk is None:
        registry.register(SupportFlow(answerer))
    else:
        registry.register(
            SupportDesk(
                SupportFlow(answerer), help_desk, pinned or PinnedAnswers([]), people=people
            )
        )
    registry.register(InterviewFlow())
    return registry


def build_llm(settings: Settings) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(
        settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value(),
        model=settings.llm_model,
        timeout_s=settings.llm_timeout_s,
        connect_timeout_s=settings.llm_connect_timeout_s,
        max_retries=settings.llm_max_retries,
        default_max_tokens=settings.llm_max_tokens,
        default_temperature=settings.llm_temperature,
        context_tokens=settings.llm_context_tokens,
    )


@dataclass
class Core:
    settings: Settings
    store: SqlStore
    llm: OpenAICompatibleLLM
    prompts: PromptLibrary
    engine: Engine
    help_desk: SqlHelpDesk
    adapters: list[Adapter] = field(default_factory=list)
    knowledge: HybridRetriever | None = None


@asynccontextmanager
async def core(settings: Settings, *, retry_interval_s: float = 5.0) -> AsyncIterator[Core]:
    """Store (migrated), LLM client, prompts and engine; everything closed on exit."""
    prompts = PromptLibrary(settings.prompts_dir)
    store = SqlStore(settings.database_url, pool_size=settings.database_pool_size)
    llm = build_llm(settings)
    queue = FairQueue(settings.llm_max_concurrency, notice_after_s=settings.llm_queue_notice_s)
    help_desk = SqlHelpDesk(store)
    people = settings.slack_escalation_channel is not None and settings.slack_bot_token is not None
    asr = TranscriptionClient(settings.asr_base_url, model=settings.asr_model)
    voice = VoiceStep(
        VoiceTranscriber(asr, AudioLimits(max_seconds=settings.asr_max_seconds)),
        archive=SqlAudioArchive(store) if settings.keep_audio else None,
    )
    knowledge = build_retriever(settings)
    answerer = GroundedAnswerer(
        knowledge,
        load_grounded_prompt(settings.prompts_dir),
        company=settings.company_name,
        k=settings.kb_passages,
        check_answers=settings.kb_check_answers,
    )
    try:
        pinned = PinnedAnswers.load(settings.prompts_dir)
        await _open_database(store, settings.database_url)
        engine = Engine(
            store,
            QueuedLLM(llm, queue),
            prompts,
            default_flows(help_desk, pinned, people=people, answerer=answerer),
            EngineOptions(
                company_name=settings.company_name,
                max_input_chars=settings.max_input_chars,
                max_tokens=settings.llm_max_tokens,
                temperature=settings.llm_temperature,
                retry_interval_s=retry_interval_s,
                require_invitation=settings.telegram_require_invitation,
                retake_after_days=settings.retake_after_days,
                evaluation_samples=settings.evaluation_samples,
                retention_days=settings.retention_days,
                rate_limit_per_minute=settings.rate_limit_per_minute,
                support_idle_hours=settings.support_session_idle_hours,
            ),
            exporter=lambda user_id: export_user_data(store, user_id),
            voice=voice,
            checkpoints=SqlCheckpoints(store).of,
        )
        queue.on_wait(engine.queue_notice)
        yield Core(settings, store, llm, prompts, engine, help_desk, knowledge=knowledge)
    finally:
        await asr.close()
        await llm.close()
        await knowledge.embedder.close()
        await knowledge.store.close()
        await store.close()


async def _open_database(store: SqlStore, url: str) -> None:
    """Migrate, or fail in one sentence naming the variable (no password, no traceback)."""
    try:
        await upgrade_when_free(store)
    except Exception as error:
        log.debug("database start-up failed", exc_info=True)
        raise ConfigError(
            f"BOT_DATABASE_URL: could not open the database at {redacted_url(url)} "
            f"({type(error).__name__})"
        ) from None


# The variable to name when an adapter cannot start: its credentials and where it connects.
ADAPTER_VARIABLES = {
    Platform.TELEGRAM: "BOT_TELEGRAM_TOKEN or BOT_TELEGRAM_BASE_URL",
    Platform.SLACK: "BOT_SLACK_BOT_TOKEN, BOT_SLACK_APP_TOKEN or BOT_SLACK_API_URL",
}


async def _start_adapter(adapter: Adapter) -> None:
    """Start one adapter; a failure that is not already one sentence becomes one (the
    exception's own text may quote a token, so only its type is shown)."""
    try:
        await adapter.start()
    except BotError:
        raise
    except Exception as error:
        log.debug("%s adapter start-up failed", adapter.platform.value, exc_info=True)
        variables = ADAPTER_VARIABLES.get(adapter.platform, "its settings")
        raise ConfigError(
            f"{variables}: the {adapter.platform.value} adapter could not start "
            f"({type(error).__name__})"
        ) from None


def platform_adapters(settings: Settings, built: Core) -> list[Adapter]:
    """Every adapter whose credentials are set."""
    adapters: list[Adapter] = []
    if settings.telegram_token is not None:
        from adapters.telegram import TelegramAdapter, TelegramDocumentSource

        telegram = TelegramAdapter(settings, built.engine)
        documents = TelegramDocumentSource(telegram.application.bot)
        built.engine.documents.register(Platform.TELEGRAM, documents)
        if built.engine.voice is not None:
            from adapters.telegram import TelegramAudioSource

            source = TelegramAudioSource(telegram.application.bot)
            built.engine.voice.register(Platform.TELEGRAM, source)
        adapters.append(telegram)
    if settings.slack_bot_token is not None:
        from adapters.slack import SlackAdapter
        from bot.interview.desk import HiringDesk

        hiring = HiringDesk(built.store, built.prompts, settings.invitation_ttl_days)
        adapters.append(
            SlackAdapter(
                settings, built.engine, built.store, hiring=hiring, help_desk=built.help_desk
            )
        )
    return adapters


async def serve(settings: Settings) -> None:
    """`chatbot run` with at least one platform: adapters, engine, HTTP server, until a
    signal asks us to stop."""
    stop = _stop_on_signals()
    async with core(settings) as built, AsyncExitStack() as stack:
        built.adapters = platform_adapters(settings, built)
        # The database's own tables first (the scheduler creates its table on start), and
        # only then anything that lets the outside probe or write: on a fresh SQLite file
        # a /healthz probe must not race APScheduler's CREATE TABLE.
        scheduler = scheduler_from_settings(
            settings, built.engine, built.store, knowledge=built.knowledge
        )
        await scheduler.start()
        stack.push_async_callback(scheduler.stop)
        http = HttpServer(settings.http_host, settings.http_port, built.store, built.llm)
        for adapter in built.adapters:
            http.add_routes(adapter.http_routes())
        await http.start()
        stack.push_async_callback(http.stop)
        for adapter in built.adapters:
            # A failure unwinds everything started so far: the process never half-starts.
            await _start_adapter(adapter)
            stack.push_async_callback(adapter.stop)
            log.info("%s adapter started", adapter.platform.value)
        # Then what was left pending (messages, undelivered replies), through started adapters.
        await built.engine.start()
        stack.push_async_callback(built.engine.stop)
        await stop.wait()
        log.info("stopping")


def _stop_on_signals() -> asyncio.Event:
    """Set on SIGINT/SIGTERM; installed first, so a stop asked for during start-up is an
    orderly stop right after it, never a kill half-way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
