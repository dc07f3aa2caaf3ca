"""Grounded answers through the engine: the scripted model answers from the passages it is
given; the bot shows the answer with its citations and sources, or declines and offers a
person. The model's answer is checked, never trusted."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import default_flows
from bot.domain import Buttons, Sources, TextDone
from bot.engine import Engine, EngineOptions
from bot.flows.small_talk import small_talk
from bot.flows.support import HUMAN_ACTION
from bot.knowledge.answering import GroundedAnswerer
from bot.knowledge.embedders import build_embedder
from bot.knowledge.indexer import index_paths
from bot.knowledge.prompt import load_grounded_prompt
from bot.knowledge.retrieval import HybridRetriever
from bot.llm.client import OpenAICompatibleLLM
from bot.prompts import PromptLibrary
from bot.store.knowledge import KnowledgeStore
from bot.store.sql import SqlStore
from bot.texts import text
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.harness import PROMPTS, Harness, Recorder
from tests.knowledge.fake_embeddings import FakeEmbeddingsServer

HANDBOOK = Path(__file__).resolve().parents[2] / "examples" / "handbook"
LISBON_Q = "How many working days of paid annual leave do Lisbon employees have?"


@pytest.fixture
async def desk(
    llm_server: FakeLLMServer, embeddings: FakeEmbeddingsServer, db_url: str
) -> AsyncIterator[tuple[Harness, KnowledgeStore]]:
    store = SqlStore(db_url)
    knowledge = KnowledgeStore(db_url)
    embedder = build_embedder(embeddings.base_url, embeddings.model)
    llm = OpenAICompatibleLLM(llm_server.base_url, max_retries=0, timeout_s=10)
    await store.upgrade()
    retriever = HybridRetriever(knowledge, embedder)
    await index_paths(knowledge, embedder, [HANDBOOK])
    answerer = GroundedAnswerer(retriever, load_grounded_prompt(PROMPTS), company="Lumora")
    engine = Engine(
        store, llm, PromptLibrary(PROMPTS), default_flows(answerer=answerer), EngineOptions()
    )
    seen = Recorder()
    engine.attach(Harness.user.platform, seen)
    await engine.start()
    try:
        yield Harness(engine, store, llm, seen), knowledge
    finally:
        await engine.stop()
        await llm.close()
        await embedder.close()
        await knowledge.close()
        await store.close()


def outputs(bot: Harness) -> list[object]:
    return [output for _, items in bot.seen.turns for output in items]


def prompt_of(request: dict[str, object]) -> str:
    messages = request["messages"]
    assert isinstance(messages, list)
    return str(messages[-1]["content"])


def schema_of(request: dict[str, object]) -> str:
    response_format = request["response_format"]
    assert isinstance(response_format, dict)
    return str(response_format["json_schema"]["name"])


def passage_titles(prompt: str) -> dict[int, str]:
    """The prompt's passages by number: `[n] title > heading` lines."""
    return {
        int(found.group(1)): line
        for line in prompt.splitlines()
        if (found := re.match(r"\[(\d+)\] ", line))
    }


def passage_number(prompt: str, title: str) -> int:
    for n, line in passage_titles(prompt).items():
        if title in line:
            return n
    raise AssertionError(f"no passage titled {title!r} in the prompt")


async def test_an_answer_cites_its_passages_and_lists_the_sources(
    desk: tuple[Harness, KnowledgeStore], llm_server: FakeLLMServer
) -> None:
    bot, knowledge = desk

    def grounded(body: dict[str, object]) -> Answer:
        if schema_of(body) == "SupportCheck":
            return Answer(json={"supported": True})
        n = passage_number(prompt_of(body), "Annual leave: Lisbon office")
        return Answer(
            json={"answerable": True, "answer": f"You have 25 working days [{n}].", "cited": [n]}
        )

    llm_server.default = grounded
    await bot.send(LISBON_Q)

    request, second = llm_server.requests
    assert request["response_format"]["type"] == "json_schema"
    assert schema_of(second) == "SupportCheck"
    assert "Annual leave: Lisbon office" in prompt_of(request) and LISBON_Q in prompt_of(request)
    shown = outputs(bot)
    done = next(o for o in shown if isinstance(o, TextDone))
    n = passage_number(prompt_of(request), "Annual leave: Lisbon office")
    assert done.text == f"You have 25 working days [{n}]."
    sources = next(o for o in shown if isinstance(o, Sources))
    assert [(s.number, s.location.rsplit("/", 1)[-1]) for s in sources.items] == [
        (n, "leave-lisbon.md")
    ]
    assert sources.items[0].title.startswith("Annual leave: Lisbon office")
    assert not any(isinstance(o, Buttons) for o in shown)
    [record] = await knowledge.answers()
    assert record.answered and record.question == LISBON_Q
    assert len(record.cited_ids) == 1 and record.cited_ids[0] in record.passage_ids


async def test_the_second_reading_finding_no_support_declines_and_offers_a_person(
    desk: tuple[Harness, KnowledgeStore], llm_server: FakeLLMServer
) -> None:
    """A small model answers from a passage on a neighbouring topic; the narrower second
    question ("do these passages state the answer?") is where it says no."""
    bot, knowledge = desk

    def neighbouring(body: dict[str, object]) -> Answer:
        if schema_of(body) == "SupportCheck":
            return Answer(json={"supported": False})
        n = passage_number(prompt_of(body), "Annual leave: Lisbon office")
        return Answer(json={"answerable": True, "answer": f"25 working days [{n}].", "cited": [n]})

    llm_server.default = neighbouring
    await bot.send(LISBON_Q)

    first, second = llm_server.requests
    check = prompt_of(second)
    assert "Answer: 25 working days.\n" in check  # the answer without its marker
    assert "[1] Annual leave: Lisbon office" in check and "[2]" not in check  # the cited only
    assert LISBON_Q in check and schema_of(first) == "GroundedAnswer"
    shown = outputs(bot)
    offer = next(o for o in shown if isinstance(o, Buttons))
    assert text("kb_decline") in offer.text
    assert not any(isinstance(o, Sources | TextDone) for o in shown)
    [record] = await knowledge.answers()
    assert not record.answered and not record.cited_ids


async def test_a_citation_moves_to_the_passage_holding_the_answers_number(
    desk: tuple[Harness, KnowledgeStore], llm_server: FakeLLMServer
) -> None:
    """The model read one passage and cited the one beside it: the source shown is the
    passage that holds the number, and the second reading is asked about that one."""
    bot, _ = desk

    def miscited(body: dict[str, object]) -> Answer:
        if schema_of(body) == "SupportCheck":
            return Answer(json={"supported": True})
        prompt = prompt_of(body)
        right = passage_number(prompt, "Annual leave: Lisbon office > Entitlement")
        wrong = next(
            n
            for n, line in passage_titles(prompt).items()
            if "Lisbon office > Entitlement" not in line
        )
        assert wrong != right
        return Answer(json={"answerable": True, "answer": f"25 days [{wrong}].", "cited": [wrong]})

    llm_server.default = miscited
    await bot.send(LISBON_Q)

    right = passage_number(prompt_of(llm_server.requests[0]), "Lisbon office > Entitlement")
    done = next(o for o in outputs(bot) if isinstance(o, TextDone))
    assert done.text == f"25 days [{right}]."
    sources = next(o for o in outputs(bot) if isinstance(o, Sources))
    assert [s.number for s in sources.items] == [right]
    assert sources.items[0].location.endswith("leave-lisbon.md")
    assert "Lisbon office > Entitlement" in prompt_of(llm_server.requests[1])


async def test_the_model_finding_no_answer_declines_and_offers_a_person(
    desk: tuple[Harness, KnowledgeStore], llm_server: FakeLLMServer
) -> None:
    bot, knowledge = desk
    llm_server.enqueue(Answer(json={"answerable": False, "answer": "", "cited": []}))

    await bot.send("How many weeks of parental leave do I get in Lisbon?")

    shown = outputs(bot)
    offer = next(o for o in shown if isinstance(o, Buttons))
    assert text("kb_decline") in offer.text and text("kb_offer_person") in offer.text
    assert [b.action_id for b in offer.buttons] == [HUMAN_ACTION]
    assert not any(isinstance(o, Sources | TextDone) for o in shown)
    [record] = await knowledge.answers(answered=False)
    assert record.passage_ids and not record.cited_ids


async def test_a_chinese_question_is_declined_in_chinese(
    desk: tuple[Harness, KnowledgeStore], llm_server: FakeLLMServer
) -> None:
    bot, _ = desk
    llm_server.enqueue(Answer(json={"answerable": False, "answer": "", "cited": []}))
    await bot.send("深圳员工的育儿假有多少周？")
    offer = next(o for o in outputs(bot) if isinstance(o, Buttons))
    assert text("kb_decline", "zh") in offer.text
    assert offer.buttons[0].label == text("kb_talk_to_person", "zh")
    assert "Answer in Simplified Chinese" in prompt_of(llm_server.requests[-1])


async def test_nothing_relevant_declines_without_asking_the_model(
    desk: tuple[Harness, KnowledgeStore], llm_server: FakeLLMServer
) -> None:
    bot, _ = desk
    await bot.send("xylophone zebra quartz")
    assert llm_server.requests == []
    assert any(isinstance(o, Buttons) for o in outputs(bot))


@pytest.mark.parametrize(
    ("answer", "cited"),
    [
        ("You have 30 working days [1].", [1]),  # a number no passage contains
        ("You have 25 working days [9].", [9]),  # a passage it was not given
        ("You have 25 working days.", []),  # no citation at all
    ],
)
async def test_an_ungrounded_answer_is_a_decline(
    desk: tuple[Harness, KnowledgeStore], llm_server: FakeLLMServer, answer: str, cited: list[int]
) -> None:
    bot, knowledge = desk
    llm_server.enqueue(Answer(json={"answerable": True, "answer": answer, "cited": cited}))
    await bot.send(LISBON_Q)
    shown = outputs(bot)
    assert any(isinstance(o, Buttons) for o in shown)
    assert not any(isinstance(o, TextDone) for o in shown)
    [record] = await knowledge.answers()
    assert not record.answered


async def test_a_follow_up_is_searched_with_the_question_before_it(
    desk: tuple[Harness, KnowledgeStore], llm_server: FakeLLMServer
) -> None:
    bot, knowledge = desk
    llm_server.default = Answer(json={"answerable": False, "answer": "", "cited": []})
    await bot.send("How many leave days can I carry over in Lisbon?")
    await bot.send("and in Shenzhen?")

    second = prompt_of(llm_server.requests[-1])
    assert "carry over in Lisbon" in second and "and in Shenzhen?" in second
    assert "Annual leave: Shenzhen office" in second
    records = await knowledge.answers()
    assert [r.question for r in records] == [
        "How many leave days can I carry over in Lisbon?",
        "and in Shenzhen?",
    ]
    assert "Lisbon" in records[1].query


@pytest.mark.parametrize(
    ("said", "reply"),
    [
        ("hi", "support_small_talk_greeting"),
        ("Hello bot! 👋", "support_small_talk_greeting"),
        ("谢谢！", "support_small_talk_thanks"),
        ("thanks a lot", "support_small_talk_thanks"),
    ],
)
async def test_greetings_and_thanks_are_answered_not_searched(
    desk: tuple[Harness, KnowledgeStore], llm_server: FakeLLMServer, said: str, reply: str
) -> None:
    bot, _ = desk
    await bot.send(said)
    lang = "zh" if said == "谢谢！" else "en"
    assert bot.seen.texts()[-1] == text(reply, lang)
    assert llm_server.requests == []  # neither the handbook nor the model was asked
    assert not any(isinstance(o, Buttons) for o in outputs(bot))


def test_a_question_is_never_small_talk() -> None:
    for question in (
        "hi, how many leave days do I get?",
        "thanks, and in Shenzhen?",
        "你好，班车几点？",
    ):
        assert small_talk(question) is None
