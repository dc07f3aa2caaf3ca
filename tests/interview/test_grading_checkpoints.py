"""Grading saved question by question (`TurnContext.checkpoints`): a re-run of the same
evaluation asks the model nothing it answered before, and a changed answer is graded anew."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain import JSON, Platform, UserRef
from bot.flows.base import TurnContext
from bot.interview import scoring
from bot.interview.judging import EXCERPT_CHARS, QUOTE_CHARS
from bot.interview.state import Answer
from bot.llm.client import OpenAICompatibleLLM
from bot.prompts import PromptLibrary
from tests.fakes.llm_server import FakeLLMServer
from tests.flows.test_interview import ANSWERS, QUESTIONS
from tests.harness import PROMPTS
from tests.interview.judge import Judge, schema_name


class Saved:
    """Checkpoints in a dict, counting what is asked of them."""

    def __init__(self) -> None:
        self.rows: dict[str, JSON] = {}
        self.found = 0

    async def load(self, key: str) -> JSON | None:
        found = self.rows.get(key)
        self.found += found is not None
        return found

    async def save(self, key: str, data: JSON) -> None:
        self.rows.setdefault(key, data)


@pytest.fixture
async def llm(llm_server: FakeLLMServer) -> AsyncIterator[OpenAICompatibleLLM]:
    client = OpenAICompatibleLLM(llm_server.base_url, max_retries=0, backoff_s=0.01)
    yield client
    await client.close()


def context(
    llm: OpenAICompatibleLLM, saved: Saved, prompts: PromptLibrary | None = None
) -> TurnContext:
    return TurnContext(
        conversation_id=1,
        llm=llm,
        prompts=prompts or PromptLibrary(PROMPTS),
        history=(),
        user=UserRef(Platform.CONSOLE, "ada"),
        checkpoints=saved,
    )


def answers(texts: list[str]) -> list[Answer]:
    return [Answer(question_id=q, text=t) for q, t in zip(QUESTIONS, texts, strict=True)]


def extracted_questions(llm_server: FakeLLMServer) -> list[str]:
    return [
        question
        for request in llm_server.requests
        for question in QUESTIONS
        if f"evidence extraction for question {question}." in str(request["messages"][-1])
    ]


async def test_a_rerun_takes_every_question_from_its_checkpoint(
    llm_server: FakeLLMServer, llm: OpenAICompatibleLLM
) -> None:
    llm_server.default = Judge()
    saved = Saved()
    role = PromptLibrary(PROMPTS).roles["python-backend"]
    first = await scoring.evaluate(context(llm, saved), role, answers(ANSWERS))
    asked = len(llm_server.requests)
    assert sorted(extracted_questions(llm_server)) == sorted(QUESTIONS)
    assert len(saved.rows) == len(QUESTIONS)

    llm_server.default = None  # a model that answers nothing: any call would fail the run
    again = await scoring.evaluate(context(llm, saved), role, answers(ANSWERS))
    assert len(llm_server.requests) == asked and saved.found == len(QUESTIONS)
    assert again.report.model_dump() == first.report.model_dump()


async def test_a_changed_answer_is_graded_again_and_only_it(
    llm_server: FakeLLMServer, llm: OpenAICompatibleLLM
) -> None:
    llm_server.default = Judge()
    saved = Saved()
    role = PromptLibrary(PROMPTS).roles["python-backend"]
    await scoring.evaluate(context(llm, saved), role, answers(ANSWERS))
    before = len(extracted_questions(llm_server))
    changed = [*ANSWERS[:-1], ANSWERS[-1] + " I would also add a dashboard for it."]
    await scoring.evaluate(context(llm, saved), role, answers(changed))
    assert extracted_questions(llm_server)[before:] == [QUESTIONS[-1]]


async def test_a_changed_task_text_is_a_new_prompt_version_and_grades_anew(
    llm_server: FakeLLMServer, llm: OpenAICompatibleLLM, tmp_path: Path
) -> None:
    """The evaluator's task texts live in prompts/interview/interview.yaml: a changed one
    changes the version stored with the evaluation (so a re-score says what it was made
    with) and the checkpoint key (so a re-run does not take the old grading)."""
    shutil.copytree(PROMPTS, tmp_path / "prompts")
    path = tmp_path / "prompts" / "interview" / "interview.yaml"
    original = path.read_text(encoding="utf-8")
    changed = original.replace("Never paraphrase;", "Never paraphrase or summarise;")
    assert changed != original
    path.write_text(changed, encoding="utf-8")
    llm_server.default = Judge()
    saved = Saved()
    role = PromptLibrary(PROMPTS).roles["python-backend"]
    before = await scoring.evaluate(context(llm, saved), role, answers(ANSWERS))
    asked = len(llm_server.requests)
    after = await scoring.evaluate(
        context(llm, saved, PromptLibrary(tmp_path / "prompts")), role, answers(ANSWERS)
    )
    assert before.report.prompt_version != after.report.prompt_version
    assert saved.found == 0  # nothing taken from the first grading's checkpoints
    sent = [str(r["messages"][-1]["content"]) for r in llm_server.requests[asked:]]
    assert sum("Never paraphrase or summarise;" in m for m in sent) == len(QUESTIONS)


async def test_a_chinese_answer_gets_room_to_be_copied_whole(
    llm_server: FakeLLMServer, llm: OpenAICompatibleLLM
) -> None:
    """max_tokens holds the longest quote and excerpt the schema allows even at three tokens
    a Chinese character (a tokenizer that falls back to UTF-8 bytes): a cut JSON fails
    validation, and the evaluation with it."""
    llm_server.default = Judge()
    role = PromptLibrary(PROMPTS).roles["python-backend"]
    chinese = "当服务大部分时间在等网络的时候我会用 asyncio，CPU 密集的工作放到进程池里。"
    await scoring.evaluate(
        context(llm, Saved()), role, [Answer(question_id="async-io", text=chinese)]
    )
    await scoring.evaluate(
        context(llm, Saved()), role, [Answer(question_id="async-io", text=ANSWERS[0])]
    )
    asked = {
        (schema_name(r), "asyncio，CPU" in str(r["messages"][-1])): r["max_tokens"]
        for r in llm_server.requests
    }
    points = len(role.questions[0].reference_points)
    assert asked[("GraderCheck", True)] >= 3 * EXCERPT_CHARS
    assert asked[("Extraction", True)] >= points * 3 * QUOTE_CHARS
    assert asked[("GraderCheck", False)] >= EXCERPT_CHARS
    assert asked[("Extraction", False)] < asked[("Extraction", True)]
