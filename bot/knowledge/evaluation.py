"""`make kb-eval`: the knowledge base measured on a handbook and its question set.

Prints retrieval hit@1 and hit@3 by question language, then, through the real support
flow and the model at BOT_LLM_BASE_URL: the share of answerable questions answered with
every expected fact and a citation, and the share of unanswerable ones declined with the
offer of a person. `python -m bot.knowledge.evaluation --help` for the options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from bot.config import Settings, load_settings
from bot.domain import Buttons, Platform, Sources, TextDone, UserRef
from bot.flows.base import TurnContext, UserInput
from bot.flows.support import HUMAN_ACTION, SupportFlow, SupportState
from bot.knowledge.answering import GroundedAnswerer
from bot.knowledge.indexer import index_paths
from bot.knowledge.prompt import load_grounded_prompt
from bot.knowledge.retrieval import HybridRetriever
from bot.knowledge.setup import knowledge_base
from bot.knowledge.types import AnswerRecord, Passage
from bot.llm.client import OpenAICompatibleLLM
from bot.prompts import PromptLibrary


class EvalQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    q: str
    lang: str
    source: str | None
    facts: list[str | list[str]] = []


class EvalSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    questions: list[EvalQuestion]


@dataclass
class Tally:
    total: int = 0
    hits: int = 0

    def share(self) -> str:
        return f"{self.hits / self.total:.2f} ({self.hits}/{self.total})" if self.total else "-"


@dataclass
class Collecting:
    """The retriever, with the answers' citations kept here instead of in conversations."""

    retriever: HybridRetriever
    records: list[AnswerRecord] = field(default_factory=list)

    async def search(self, query: str, k: int = 5) -> list[Passage]:
        return await self.retriever.search(query, k)

    async def record_answer(self, record: AnswerRecord) -> None:
        self.records.append(record)

    async def is_empty(self) -> bool:
        return await self.retriever.is_empty()


def has_fact(answer: str, fact: str | list[str]) -> bool:
    squash = re.sub(r"\s+", "", answer).lower()
    options = [fact] if isinstance(fact, str) else fact
    return any(re.sub(r"\s+", "", option).lower() in squash for option in options)


async def evaluate_retrieval(
    retriever: HybridRetriever, questions: Sequence[EvalQuestion], *, verbose: bool = False
) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for question in (q for q in questions if q.source):
        hits = await retriever.search(question.q, 5)
        names = list(dict.fromkeys(Path(hit.source).name for hit in hits))
        for key, k in ((f"hit@1 {question.lang}", 1), (f"hit@3 {question.lang}", 3)):
            tally = tallies.setdefault(key, Tally())
            tally.total += 1
            tally.hits += question.source in names[:k]
        if verbose and question.source not in names[:1]:
            print(f"  miss@1 {question.q!r}: want {question.source}, got {names[:3]}")
    return tallies


async def evaluate_answers(
    settings: Settings, retriever: HybridRetriever, questions: Sequence[EvalQuestion], verbose: bool
) -> tuple[Tally, Tally, float]:
    llm = OpenAICompatibleLLM(
        settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value(),
        model=settings.llm_model,
        timeout_s=max(settings.llm_timeout_s, 900.0),  # a loaded CPU model is slow
    )
    knowledge = Collecting(retriever)
    prompt = load_grounded_prompt(settings.prompts_dir)
    answerer = GroundedAnswerer(
        knowledge,
        prompt,
        company="Lumora Robotics",
        k=settings.kb_passages,
        check_answers=settings.kb_check_answers,
    )
    flow = SupportFlow(answerer)
    prompts = PromptLibrary(settings.prompts_dir)
    answered, declined = Tally(), Tally()
    started = time.perf_counter()
    try:
        for number, question in enumerate(questions):
            user = UserRef(Platform.CONSOLE, "kb-eval")
            ctx = TurnContext(number + 1, llm, prompts, [], user, temperature=0.0)
            state = SupportState(lang="zh" if question.lang == "zh" else "en")
            text, cited, offered = "", False, False
            async for event in flow.on_input(ctx, state, UserInput("text", question.q)):
                if isinstance(event, TextDone):
                    text = event.text
                elif isinstance(event, Sources):
                    cited = bool(event.items)
                elif isinstance(event, Buttons):
                    offered = any(b.action_id == HUMAN_ACTION for b in event.buttons)
            if question.source:
                answered.total += 1
                ok = cited and all(has_fact(text, fact) for fact in question.facts)
                answered.hits += ok
            else:
                declined.total += 1
                ok = offered and not text
                declined.hits += ok
            if verbose:
                shown = text.replace("\n", " ")[:160] or "(declined)"
                print(f"  {'ok ' if ok else 'BAD'} {question.q!r} -> {shown}")
    finally:
        await llm.close()
    return answered, declined, time.perf_counter() - started


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kb-eval", description=__doc__)
    parser.add_argument("--handbook", type=Path, default=Path("examples/handbook"))
    parser.add_argument("--questions", type=Path, default=Path("examples/handbook-eval.yaml"))
    parser.add_argument("--database", default="sqlite+aiosqlite:///./data/kb-eval/bot.db")
    parser.add_argument("--retrieval-only", action="store_true")
    parser.add_argument(
        "--every", type=int, default=1, help="answer only every Nth question (a slow model)"
    )
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--json", action="store_true", help="figures as one JSON object")
    args = parser.parse_args(argv)
    settings = load_settings(database_url=args.database)
    questions = EvalSet.model_validate(yaml.safe_load(args.questions.read_text())).questions
    figures: dict[str, str] = {}
    async with knowledge_base(settings) as retriever:
        started = time.perf_counter()
        report = await index_paths(retriever.store, retriever.embedder, [args.handbook])
        print(
            f"indexed {args.handbook}: {report.summary()} ({time.perf_counter() - started:.1f} s)"
        )
        for key, tally in sorted(
            (await evaluate_retrieval(retriever, questions, verbose=args.verbose)).items()
        ):
            figures[key] = tally.share()
        if not args.retrieval_only:
            asked = questions[:: max(args.every, 1)]
            answered, declined, seconds = await evaluate_answers(
                settings, retriever, asked, args.verbose
            )
            figures["answered with facts and citation"] = answered.share()
            figures["unanswerable declined with offer"] = declined.share()
            figures["model"] = settings.llm_model or settings.llm_base_url
            figures["answer seconds"] = f"{seconds:.0f}"
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        for key, value in figures.items():
            print(f"{key:36} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
