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
from bot.engine import Engine, EngineOptions
from bot.export import export_user_data
from bot.flows.base import FlowRegistry
from bot.flows.interview import InterviewFlow
from bot.flows.support import SupportFlow
from bot.http import HttpServer
from bot.jobs import scheduler_from_settings
from bot.knowledge.answering import GroundedAnswerer
from bot.knowledge.prompt import load_grounded_prompt
from bot.knowledge.retrieval import HybridRetriever
from bot.knowledge.setup import build_retriever
from bot.llm.client import OpenAICompatibleLLM
from bot.ports import Adapter
from bot.prompts import PromptLibrary
from bot.store.sql import SqlStore

log = logging.getLogger(__name__)


def default_flows(answerer: GroundedAnswerer | None = None) -> FlowRegistry:
    """Built-in flows; support answers from the knowledge base when `answerer` is given."""
    registry = FlowRegistry()
    registry.register(SupportFlow(answerer))
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
    )


@dataclass
class Core:
    settings: Settings
    store: SqlStore
    llm: OpenAICompatibleLLM
    prompts: PromptLibrary
    engine: Engine
    adapters: list[Adapter] = field(default_factory=list)
    knowledge: HybridRetriever | None = None


@asynccontextmanager
async def core(settings: Settings, *, retry_interval_s: float = 5.0) -> AsyncIterator[Core]:
    """Store (migrated), LLM client, prompts and engine; everything closed on exit."""
    prompts = PromptLibrary(settings.prompts_dir)
    store = SqlStore(settings.database_url)
    llm = build_llm(settings)
    knowledge = build_retriever(settings)
    answerer = GroundedAnswerer(
        knowledge,
        load_grounded_prompt(settings.prompts_dir),
        company=settings.company_name,
        k=settings.kb_passages,
    )
    try:
        await store.upgrade()
        engine = Engine(
            store,
            llm,
            prompts,
            default_flows(answerer),
            EngineOptions(
                company_name=settings.company_name,
                max_input_chars=settings.max_input_chars,
                max_tokens=settings.llm_max_tokens,
                temperature=settings.llm_temperature,
                retry_interval_s=retry_interval_s,
                require_invitation=settings.telegram_require_invitation,
                evaluation_samples=settings.evaluation_samples,
                retention_days=settings.retention_days,
            ),
            exporter=lambda user_id: export_user_data(store, user_id),
        )
        yield Core(settings, store, llm, prompts, engine, knowledge=knowledge)
    finally:
        await llm.close()
        await knowledge.embedder.close()
        await knowledge.store.close()
        await store.close()


def platform_adapters(settings: Settings, built: Core) -> list[Adapter]:
    """Every adapter whose credentials are set."""
    adapters: list[Adapter] = []
    if settings.telegram_token is not None:
        from adapters.telegram import TelegramAdapter

        adapters.append(TelegramAdapter(settings, built.engine))
    if settings.slack_bot_token is not None:
        from adapters.slack import SlackAdapter
        from bot.hiring import HiringDesk

        hiring = HiringDesk(built.store, built.prompts)
        adapters.append(SlackAdapter(settings, built.engine, built.store, hiring=hiring))
    return adapters


async def serve(settings: Settings) -> None:
    """`chatbot run` with at least one platform: adapters, engine, HTTP server, until a
    signal asks us to stop."""
    async with core(settings) as built, AsyncExitStack() as stack:
        built.adapters = platform_adapters(settings, built)
        http = HttpServer(settings.http_host, settings.http_port, built.store, built.llm)
        for adapter in built.adapters:
            http.add_routes(adapter.http_routes())
        await http.start()
        stack.push_async_callback(http.stop)
        await built.engine.start()
        stack.push_async_callback(built.engine.stop)
        scheduler = scheduler_from_settings(
            settings, built.engine, built.store, knowledge=built.knowledge
        )
        await scheduler.start()
        stack.push_async_callback(scheduler.stop)
        for adapter in built.adapters:
            await adapter.start()
            stack.push_async_callback(adapter.stop)
            log.info("%s adapter started", adapter.platform.value)
        await _until_signalled()
        log.info("stopping")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
