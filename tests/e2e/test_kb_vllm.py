"""A help-desk question answered from the sample handbook by the real vLLM (CPU, SmolLM2).

The tiny model answers well or not at all; what is checked is the real path: structured
output through vLLM's JSON schema, the grounding check on a real model's answer, and that
the user sees either a cited answer with its sources or a plain decline offering a person,
consistent with what was stored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.app import default_flows
from bot.domain import Buttons, Sources, TextDone
from bot.engine import Engine, EngineOptions
from bot.flows.support import HUMAN_ACTION
from bot.knowledge.answering import GroundedAnswerer
from bot.knowledge.embedders import build_embedder
from bot.knowledge.indexer import index_paths
from bot.knowledge.prompt import load_grounded_prompt
from bot.knowledge.retrieval import HybridRetriever
from bot.llm.client import OpenAICompatibleLLM
from bot.prompts import PromptLibrary
from bot.store.api import Role
from bot.store.knowledge import KnowledgeStore
from bot.store.sql import SqlStore
from tests.harness import PROMPTS, Harness, Recorder
from tests.knowledge.fake_embeddings import FakeEmbeddingsServer
from tests.vllm_server import VLLMServer

pytestmark = pytest.mark.vllm
HANDBOOK = Path(__file__).resolve().parents[2] / "examples" / "handbook"


async def test_a_support_question_is_answered_with_citations_or_declined_with_an_offer(
    vllm: VLLMServer, db_url: str
) -> None:
    store, knowledge = SqlStore(db_url), KnowledgeStore(db_url)
    try:
        llm = OpenAICompatibleLLM(vllm.base_url, timeout_s=180, max_retries=1)
        async with FakeEmbeddingsServer() as embeddings:
            embedder = build_embedder(embeddings.base_url, embeddings.model)
            await store.upgrade()
            await index_paths(knowledge, embedder, [HANDBOOK])
            answerer = GroundedAnswerer(
                HybridRetriever(knowledge, embedder),
                load_grounded_prompt(PROMPTS),
                company="Lumora",
            )
            engine = Engine(
                store,
                llm,
                PromptLibrary(PROMPTS),
                default_flows(answerer=answerer),
                EngineOptions(max_tokens=200),
            )
            seen = Recorder()
            engine.attach(Harness.user.platform, seen)
            await engine.start()
            try:
                bot = Harness(engine, store, llm, seen)
                receipt = await bot.send(
                    "How many working days of paid annual leave do Lisbon employees have?"
                )
            finally:
                await engine.stop()
                await llm.close()
                await embedder.close()

        shown = [output for _, items in seen.turns for output in items]
        [record] = await knowledge.answers()
        assert receipt.conversation_id is not None
        replies = [
            m.text for m in await store.history(receipt.conversation_id) if m.role == Role.ASSISTANT
        ]
        if record.answered:
            done = next(o for o in shown if isinstance(o, TextDone))
            sources = next(o for o in shown if isinstance(o, Sources))
            numbers = {int(n) for n in re.findall(r"\[(\d+)\]", done.text)}
            assert numbers and numbers <= {s.number for s in sources.items}
            assert record.cited_ids and set(record.cited_ids) <= set(record.passage_ids)
            assert replies == [done.text]
        else:
            offer = next(o for o in shown if isinstance(o, Buttons))
            assert [b.action_id for b in offer.buttons] == [HUMAN_ACTION]
            assert not any(isinstance(o, TextDone | Sources) for o in shown)
            assert replies == [offer.text]
    finally:  # closed even when an assertion fails, so nothing leaks into later tests
        await knowledge.close()
        await store.close()
